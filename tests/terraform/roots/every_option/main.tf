# The module with every optional resource switched on. Only planned, never applied: a plan of
# this root shows every diagnostic the provider has for the module's arguments and references.
module "runpod_webhook" {
  source = "../.."

  prefix                             = "all"
  tags                               = { Project = "provider-compatibility" }
  tracing_enabled                    = true
  webhook_reserved_concurrency       = 5
  logs_kms_key_arn                   = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  api_logging_level                  = "ERROR"
  create_api_gateway_cloudwatch_role = true
  waf_web_acl_arn                    = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/runpod/abc"
  runpod_api_key_secret_arn          = "arn:aws:secretsmanager:us-east-1:123456789012:secret:runpod-AbCdEf"
  runpod_api_key_kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

  table = {
    kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    deletion_protection = true
  }

  watchdog = {
    enabled             = true
    schedule_expression = "cron(0/5 * * * ? *)"
    stale_after_seconds = 120
    max_records_per_run = 100
    timeout             = 300
    memory_size         = 2048
  }

  large_outputs = {
    enabled         = true
    key_prefix      = "results/"
    expiration_days = 3
    kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  alarms = {
    enabled        = true
    sns_topic_arns = ["arn:aws:sns:us-east-1:123456789012:ops"]
  }
}

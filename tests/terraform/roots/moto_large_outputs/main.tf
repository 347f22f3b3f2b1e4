# The module with large outputs in the bucket it creates, encrypted with a customer-managed key,
# and the watchdog (both writers), applied to moto. No submit function: it never writes results.
resource "aws_kms_key" "results" {
  description             = "Encrypts big-runpod-results"
  deletion_window_in_days = 7
}

module "runpod_webhook" {
  source = "../.."

  prefix                    = "big"
  create_submit_function    = false
  runpod_api_key_secret_arn = "arn:aws:secretsmanager:us-east-1:017000801446:secret:big-runpod-api-key-AbCdEf"
  watchdog                  = { enabled = true }

  large_outputs = {
    enabled         = true
    key_prefix      = "results/"
    expiration_days = 3
    kms_key_arn     = aws_kms_key.results.arn
  }
}

output "kms_key_arn" {
  value = aws_kms_key.results.arn
}

output "table_name" {
  value = module.runpod_webhook.table_name
}

output "large_outputs_bucket_name" {
  value = module.runpod_webhook.large_outputs_bucket_name
}

output "large_outputs_bucket_arn" {
  value = module.runpod_webhook.large_outputs_bucket_arn
}

output "state_machine_policy_json" {
  value = module.runpod_webhook.state_machine_policy_json
}

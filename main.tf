data "aws_partition" "current" {}
data "aws_region" "current" {}

# The newest Powertools layer for the runtime and architecture, only when asked for ("latest"). A
# public String parameter: `insecure_value` reads it without marking the functions' layers sensitive.
data "aws_ssm_parameter" "powertools_layer" {
  count = local.powertools_latest ? 1 : 0

  name = "/aws/service/powertools/python/${var.lambda_architecture}/${var.lambda_runtime}/latest"
}

locals {
  table_name             = "${var.prefix}-runpod-callbacks"
  webhook_function_name  = "${var.prefix}-runpod-webhook"
  submit_function_name   = "${var.prefix}-runpod-submit"
  watchdog_function_name = "${var.prefix}-runpod-watchdog"
  api_name               = "${var.prefix}-runpod-webhook"
  # An ARN known at plan time is enough; a secret created in the same apply needs the flag.
  create_submit = coalesce(var.create_submit_function, var.runpod_api_key_secret_arn != null)
  # The watchdog asks RunPod about jobs with the same key: by default it comes with the submit function.
  create_watchdog = coalesce(var.watchdog.enabled, local.create_submit)

  # AWS publishes Powertools v3 layers per runtime and architecture from this account, and the
  # newest one's ARN in a public SSM parameter (Powertools docs, "Using SSM Parameter Store").
  powertools_layer_account = "017000801446"
  powertools_latest        = var.powertools_layer_arn == null && var.powertools_layer_version == "latest"
  # The region is aws_region's `id`: hashicorp/aws 6.x deprecates `name`, 5.x has no `region`.
  powertools_layer_arn = coalesce(
    var.powertools_layer_arn,
    local.powertools_latest ? one(data.aws_ssm_parameter.powertools_layer[*].insecure_value) : join(":", [
      "arn", data.aws_partition.current.partition, "lambda", data.aws_region.current.id,
      local.powertools_layer_account,
      "layer",
      "AWSLambdaPowertoolsPythonV3-${replace(var.lambda_runtime, ".", "")}-${var.lambda_architecture}",
      var.powertools_layer_version,
    ]),
  )

  # Settings every function of the module shares. Each adds its POWERTOOLS_SERVICE_NAME, the
  # `service` dimension of its metrics (the watchdog's alarms select its metrics by it).
  metrics_namespace = "RunPodWebhook"
  webhook_service   = "runpod-webhook"
  submit_service    = "runpod-submit"
  watchdog_service  = "runpod-watchdog"
  powertools_environment = {
    CALLBACK_TABLE_NAME          = aws_dynamodb_table.this.name
    LOG_LEVEL                    = var.log_level
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    POWERTOOLS_TRACE_DISABLED    = tostring(!var.tracing_enabled)
  }
  tracing_mode = var.tracing_enabled ? "Active" : "PassThrough"
  # The functions that settle jobs estimate their cost (none when no price is given: existing
  # states plan clean).
  pricing_environment = length(var.gpu_price_per_second) == 0 ? {} : {
    GPU_PRICE_PER_SECOND = jsonencode(var.gpu_price_per_second)
  }

  # The account id, read from the table's ARN (no STS call while planning).
  account_id = split(":", aws_dynamodb_table.this.arn)[4]

  tags = merge(var.tags, { "terraform-module" = "runpod-webhook" })
}

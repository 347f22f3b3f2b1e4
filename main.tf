data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  table_name    = "${var.prefix}-runpod-callbacks"
  function_name = "${var.prefix}-runpod-webhook"
  api_name      = "${var.prefix}-runpod-webhook"

  # AWS publishes Powertools v3 layers per runtime and architecture from this account.
  powertools_layer_account = "017000801446"
  powertools_layer_arn = coalesce(
    var.powertools_layer_arn,
    join(":", [
      "arn", data.aws_partition.current.partition, "lambda", data.aws_region.current.name,
      local.powertools_layer_account,
      "layer",
      "AWSLambdaPowertoolsPythonV3-${replace(var.lambda_runtime, ".", "")}-${var.lambda_architecture}",
      var.powertools_layer_version,
    ]),
  )

  tags = merge(var.tags, { "terraform-module" = "runpod-webhook" })
}

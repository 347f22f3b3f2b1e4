# The webhook function: API Gateway invokes it when RunPod POSTs a job's result, and it resumes
# the waiting Step Functions task (its role and policy are in iam.tf, its route in api_gateway.tf).

resource "aws_cloudwatch_log_group" "webhook" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs_retention_in_days); webhook logs carry no long-term value by default.
  name              = "/aws/lambda/${local.webhook_function_name}"
  retention_in_days = var.logs_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "webhook" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Calls only AWS public endpoints (DynamoDB, Step Functions, S3 with large outputs); a VPC would add NAT cost and cold start for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds names and switches only, no secrets; the default AWS-managed key encrypts it.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; the zip is built from this module's source.
  #checkov:skip=CKV_AWS_50:X-Ray is a switch (var.tracing_enabled), off by default for cold start and cost.
  function_name    = local.webhook_function_name
  description      = "Resumes Step Functions executions from RunPod webhooks"
  role             = aws_iam_role.webhook.arn
  handler          = "webhook.lambda_handler"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = var.webhook_timeout
  filename         = local.lambda_zip_path
  source_code_hash = local.lambda_zip_hash
  layers           = [local.powertools_layer_arn]

  reserved_concurrent_executions = coalesce(var.webhook_reserved_concurrency, -1)

  environment {
    variables = merge(
      local.powertools_environment,
      { POWERTOOLS_SERVICE_NAME = local.webhook_service },
      local.large_outputs_environment,
      local.pricing_environment,
    )
  }

  tracing_config {
    mode = local.tracing_mode
  }

  tags = local.tags

  # The bucket's encryption is set before the function may write to it.
  depends_on = [
    aws_iam_role_policy.webhook,
    aws_cloudwatch_log_group.webhook,
    aws_s3_bucket_server_side_encryption_configuration.this,
  ]
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowRunPodWebhookFromApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.webhook.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/POST/webhook/*"
}

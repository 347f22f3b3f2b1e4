# The optional submit function: stores the record, then submits the RunPod job, so a state
# machine runs a job as one `lambda:invoke.waitForTaskToken` task (see local.create_submit).
# Its role and policy are in iam.tf.

resource "aws_cloudwatch_log_group" "submit" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs_retention_in_days).
  count = local.create_submit ? 1 : 0

  name              = "/aws/lambda/${local.submit_function_name}"
  retention_in_days = var.logs_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "submit" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which handles its errors (Catch/Retry).
  #checkov:skip=CKV_AWS_117:Calls AWS public endpoints and RunPod's public API; a VPC would add NAT cost for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds names and URLs only; the API key stays in Secrets Manager.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; the zip is built from this module's source.
  #checkov:skip=CKV_AWS_50:X-Ray is a switch (var.tracing_enabled), off by default for cold start and cost.
  #checkov:skip=CKV_AWS_115:Concurrency follows the state machines that invoke it; RunPod's own queue absorbs bursts.
  count = local.create_submit ? 1 : 0

  function_name    = local.submit_function_name
  description      = "Stores a Step Functions task token, then submits the RunPod job that will call back"
  role             = aws_iam_role.submit[0].arn
  handler          = "submit.lambda_handler"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = var.submit_timeout
  filename         = local.lambda_zip_path
  source_code_hash = local.lambda_zip_hash
  layers           = [local.powertools_layer_arn]

  environment {
    variables = merge(local.powertools_environment, {
      POWERTOOLS_SERVICE_NAME   = local.submit_service
      WEBHOOK_BASE_URL          = "${aws_api_gateway_stage.this.invoke_url}/webhook"
      RUNPOD_API_KEY_SECRET_ARN = var.runpod_api_key_secret_arn
      RUNPOD_API_BASE_URL       = var.runpod_api_base_url
    })
  }

  tracing_config {
    mode = local.tracing_mode
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.submit, aws_cloudwatch_log_group.submit]
}

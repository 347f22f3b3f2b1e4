# The optional watchdog: on a schedule it finds stale PENDING records through the table's
# pending_shard-created_at index, delivers results whose webhooks were lost, heartbeats running
# jobs and cancels jobs nobody waits for (see local.create_watchdog). Its role and the schedule's
# role are in iam.tf.

resource "aws_cloudwatch_log_group" "watchdog" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs_retention_in_days).
  count = local.create_watchdog ? 1 : 0

  name              = "/aws/lambda/${local.watchdog_function_name}"
  retention_in_days = var.logs_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "watchdog" {
  #checkov:skip=CKV_AWS_116:A run that fails or is dropped is repeated by the next scheduled run; there is no event worth keeping in a dead-letter queue.
  #checkov:skip=CKV_AWS_117:Calls AWS public endpoints and RunPod's public API; a VPC would add NAT cost for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds names, numbers and URLs only; the API key stays in Secrets Manager.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; the zip is built from this module's source.
  #checkov:skip=CKV_AWS_50:X-Ray is a switch (var.tracing_enabled), off by default for cold start and cost.
  count = local.create_watchdog ? 1 : 0

  function_name    = local.watchdog_function_name
  description      = "Recovers RunPod results whose webhooks were lost, heartbeats running jobs, cancels orphaned jobs"
  role             = aws_iam_role.watchdog[0].arn
  handler          = "watchdog.lambda_handler"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.watchdog.memory_size
  timeout          = var.watchdog.timeout
  filename         = local.lambda_zip_path
  source_code_hash = local.lambda_zip_hash
  layers           = [local.powertools_layer_arn]

  # One run at a time: overlapping runs are safe (the claim decides) but would ask RunPod twice.
  reserved_concurrent_executions = 1

  environment {
    variables = merge(local.powertools_environment, {
      POWERTOOLS_SERVICE_NAME   = local.watchdog_service
      RUNPOD_API_KEY_SECRET_ARN = var.runpod_api_key_secret_arn
      RUNPOD_API_BASE_URL       = var.runpod_api_base_url
      STALE_AFTER_SECONDS       = tostring(var.watchdog.stale_after_seconds)
      MAX_RECORDS_PER_RUN       = tostring(var.watchdog.max_records_per_run)
    }, local.large_outputs_environment, local.pricing_environment)
  }

  tracing_config {
    mode = local.tracing_mode
  }

  tags = local.tags

  # The bucket's encryption is set before the function may write to it.
  depends_on = [
    aws_iam_role_policy.watchdog,
    aws_cloudwatch_log_group.watchdog,
    aws_s3_bucket_server_side_encryption_configuration.this,
  ]
}

# The schedule invokes the function asynchronously. Lambda would retry a failed run twice and keep
# a throttled one (a run still going: concurrency 1) for up to 6 hours; the next scheduled run
# does the same work, so both are dropped instead.
resource "aws_lambda_function_event_invoke_config" "watchdog" {
  count = local.create_watchdog ? 1 : 0

  function_name                = aws_lambda_function.watchdog[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_scheduler_schedule" "watchdog" {
  #checkov:skip=CKV_AWS_297:The schedule carries no input, only the function's ARN; there is nothing for a customer-managed key to protect.
  count = local.create_watchdog ? 1 : 0

  name                = local.watchdog_function_name
  description         = "Runs ${local.watchdog_function_name}"
  schedule_expression = var.watchdog.schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.watchdog[0].arn
    role_arn = aws_iam_role.watchdog_schedule[0].arn

    # A run that cannot start now is skipped: the next one comes within one period.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }

  depends_on = [aws_iam_role_policy.watchdog_schedule]
}

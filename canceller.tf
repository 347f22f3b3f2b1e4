# The optional canceller: when an execution of a watched state machine stops (ABORTED, TIMED_OUT,
# FAILED), EventBridge hands it Step Functions' status change event and it cancels the RunPod jobs
# the execution's tasks waited for, at once, instead of at the watchdog's next sweep (see
# local.create_canceller). It needs the RunPod API key, as the watchdog does.

locals {
  create_canceller = local.create_watchdog && length(concat(
    var.cancel_on_stop.state_machine_arns, var.cancel_on_stop.state_machine_name_prefixes,
  )) > 0
  canceller_function_name = "${var.prefix}-runpod-canceller"
  canceller_service       = "runpod-canceller"

  # A Distributed Map's child executions carry the parent state machine's ARN as a prefix of
  # their own; a name prefix matches the state machines of this account and region.
  watched_state_machines = concat(
    [for arn in var.cancel_on_stop.state_machine_arns : { prefix = arn }],
    [
      for name in var.cancel_on_stop.state_machine_name_prefixes :
      { prefix = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.id}:${local.account_id}:stateMachine:${name}" }
    ],
  )
}

resource "aws_cloudwatch_log_group" "canceller" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs_retention_in_days).
  count = local.create_canceller ? 1 : 0

  name              = "/aws/lambda/${local.canceller_function_name}"
  retention_in_days = var.logs_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "canceller" {
  #checkov:skip=CKV_AWS_116:Invoked asynchronously by EventBridge; Lambda retries a failed event twice and the watchdog's sweep is the backstop.
  #checkov:skip=CKV_AWS_117:Calls AWS public endpoints and RunPod's public API; a VPC would add NAT cost for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds names and URLs only; the API key stays in Secrets Manager.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; the zip is built from this module's source.
  #checkov:skip=CKV_AWS_50:X-Ray is a switch (var.tracing_enabled), off by default for cold start and cost.
  count = local.create_canceller ? 1 : 0

  function_name    = local.canceller_function_name
  description      = "Cancels the RunPod jobs of Step Functions executions that stopped"
  role             = aws_iam_role.canceller[0].arn
  handler          = "canceller.lambda_handler"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = 60
  filename         = local.lambda_zip_path
  source_code_hash = local.lambda_zip_hash
  layers           = [local.powertools_layer_arn]

  # One instance: its pacing under RunPod's /cancel limit holds across the events it takes.
  reserved_concurrent_executions = 1

  environment {
    variables = merge(local.powertools_environment, {
      POWERTOOLS_SERVICE_NAME   = local.canceller_service
      RUNPOD_API_KEY_SECRET_ARN = var.runpod_api_key_secret_arn
      RUNPOD_API_BASE_URL       = var.runpod_api_base_url
    })
  }

  tracing_config {
    mode = local.tracing_mode
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.canceller, aws_cloudwatch_log_group.canceller]
}

# A burst of stopped executions waits in Lambda's queue for the one instance; a failed event (RunPod
# unavailable) is tried twice more, then left to the watchdog.
resource "aws_lambda_function_event_invoke_config" "canceller" {
  count = local.create_canceller ? 1 : 0

  function_name                = aws_lambda_function.canceller[0].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

resource "aws_cloudwatch_event_rule" "stopped_executions" {
  count = local.create_canceller ? 1 : 0

  name        = "${var.prefix}-runpod-stopped-executions"
  description = "Executions that stopped, whose RunPod jobs ${local.canceller_function_name} cancels"
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["ABORTED", "TIMED_OUT", "FAILED"]
      stateMachineArn = local.watched_state_machines
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "canceller" {
  count = local.create_canceller ? 1 : 0

  rule = aws_cloudwatch_event_rule.stopped_executions[0].name
  arn  = aws_lambda_function.canceller[0].arn
}

resource "aws_lambda_permission" "canceller" {
  count = local.create_canceller ? 1 : 0

  statement_id  = "AllowStoppedExecutionsFromEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.canceller[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.stopped_executions[0].arn
}

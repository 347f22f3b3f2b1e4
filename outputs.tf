################################################################################
# API
################################################################################

output "webhook_base_url" {
  description = "Base URL of the webhook. Give RunPod `<webhook_base_url>/<callback_token>` as the job's `webhook`."
  value       = "${aws_api_gateway_stage.this.invoke_url}/webhook"
}

output "rest_api_id" {
  description = "ID of the REST API that receives RunPod's webhooks."
  value       = aws_api_gateway_rest_api.this.id
}

output "rest_api_execution_arn" {
  description = "Execution ARN of the REST API, for further Lambda permissions or IAM conditions."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the API stage serving the webhook."
  value       = aws_api_gateway_stage.this.stage_name
}

################################################################################
# Table
################################################################################

output "table_name" {
  description = "Name of the callback table: the state machine writes each job's record (with its task token) here."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the callback table, for IAM policies of other writers."
  value       = aws_dynamodb_table.this.arn
}

################################################################################
# State machines
################################################################################

output "state_machine_policy_json" {
  description = "IAM policy (JSON) a state machine's role needs, and no more: with the submit function, invoke it (the function writes the records); without it, put callback records in the table (and use the table's key). With large outputs, read the results in S3 (decrypting with their key). Attach it with aws_iam_role_policy."
  value       = data.aws_iam_policy_document.state_machine.json
}

################################################################################
# Webhook function
################################################################################

output "webhook_function_name" {
  description = "Name of the webhook function, for logs and dashboards."
  value       = aws_lambda_function.webhook.function_name
}

output "webhook_function_arn" {
  description = "ARN of the webhook function."
  value       = aws_lambda_function.webhook.arn
}

output "webhook_role_arn" {
  description = "ARN of the webhook function's IAM role."
  value       = aws_iam_role.webhook.arn
}

################################################################################
# Submit function
################################################################################

output "submit_function_name" {
  description = "Name of the submit function, for logs and dashboards; null when it is not created (see `create_submit_function`)."
  value       = try(aws_lambda_function.submit[0].function_name, null)
}

output "submit_function_arn" {
  description = "ARN of the submit function for a `lambda:invoke.waitForTaskToken` Task state; null when it is not created (see `create_submit_function`)."
  value       = try(aws_lambda_function.submit[0].arn, null)
}

output "submit_role_arn" {
  description = "ARN of the submit function's IAM role; null when the function is not created (see `create_submit_function`)."
  value       = try(aws_iam_role.submit[0].arn, null)
}

################################################################################
# Watchdog
################################################################################

output "watchdog_function_name" {
  description = "Name of the watchdog function, for logs and dashboards (its metrics carry `service = runpod-watchdog`); null when it is not created (see `watchdog.enabled`)."
  value       = try(aws_lambda_function.watchdog[0].function_name, null)
}

output "watchdog_function_arn" {
  description = "ARN of the watchdog function, to run it on demand (`aws lambda invoke`) besides its schedule; null when it is not created (see `watchdog.enabled`)."
  value       = try(aws_lambda_function.watchdog[0].arn, null)
}

output "watchdog_role_arn" {
  description = "ARN of the watchdog function's IAM role, e.g. for a KMS key policy; null when it is not created (see `watchdog.enabled`)."
  value       = try(aws_iam_role.watchdog[0].arn, null)
}

################################################################################
# Large outputs
################################################################################

output "large_outputs_bucket_name" {
  description = "Bucket that receives results over Step Functions' 256 KiB (a task's `output_s3.bucket`): the module's or the one named in `large_outputs.bucket_name`; null when large outputs are off."
  value       = local.large_outputs_bucket
}

output "large_outputs_bucket_arn" {
  description = "ARN of that bucket, e.g. for the policies of the steps that read the results; null when large outputs are off."
  value       = local.large_outputs_bucket_arn
}

################################################################################
# Operations
################################################################################

output "dashboard_url" {
  description = "The CloudWatch dashboard of deliveries, RunPod's times, the watchdog, the oldest wait, GPU spend, the API and the functions; null when `dashboard_enabled` is false."
  value       = var.dashboard_enabled ? "https://${data.aws_region.current.id}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.id}#dashboards/dashboard/${var.prefix}-runpod-webhook" : null
}

output "canceller_function_name" {
  description = "Name of the canceller function (it cancels the RunPod jobs of stopped executions); null when it is not created (see `cancel_on_stop`)."
  value       = try(aws_lambda_function.canceller[0].function_name, null)
}

output "state_machine_arn" {
  description = "Start an execution here with {\"input\": {...}, \"segment_filename\": \"...\"}."
  value       = aws_sfn_state_machine.upscale_segment.arn
}

output "webhook_base_url" {
  description = "Where RunPod calls back; the submit function appends the callback token."
  value       = module.runpod_webhook.webhook_base_url
}

output "submit_function_arn" {
  description = "The function the state machine's Task invokes."
  value       = module.runpod_webhook.submit_function_arn
}

output "table_name" {
  description = "The callback table: one record per job, keyed by its callback token."
  value       = module.runpod_webhook.table_name
}

output "large_outputs_bucket_name" {
  description = "The bucket that holds results too large for a task output (output_s3)."
  value       = module.runpod_webhook.large_outputs_bucket_name
}

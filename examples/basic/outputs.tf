output "webhook_base_url" {
  description = "Give RunPod <webhook_base_url>/<callback_token> as the job's webhook."
  value       = module.runpod_webhook.webhook_base_url
}

output "table_name" {
  description = "Table the state machine writes callback records to."
  value       = module.runpod_webhook.table_name
}

output "state_machine_policy_json" {
  description = "Attach to the state machine's role so it can write callback records."
  value       = module.runpod_webhook.state_machine_policy_json
}

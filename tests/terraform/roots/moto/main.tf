# The module with prefix = "dev" and every other input at its default, applied to moto.
module "runpod_webhook" {
  source = "../.."

  prefix = "dev"
}

output "webhook_base_url" {
  value = module.runpod_webhook.webhook_base_url
}

output "table_name" {
  value = module.runpod_webhook.table_name
}

output "table_arn" {
  value = module.runpod_webhook.table_arn
}

output "webhook_function_name" {
  value = module.runpod_webhook.webhook_function_name
}

output "webhook_function_arn" {
  value = module.runpod_webhook.webhook_function_arn
}

output "webhook_role_arn" {
  value = module.runpod_webhook.webhook_role_arn
}

output "rest_api_id" {
  value = module.runpod_webhook.rest_api_id
}

output "rest_api_execution_arn" {
  value = module.runpod_webhook.rest_api_execution_arn
}

output "stage_name" {
  value = module.runpod_webhook.stage_name
}

output "state_machine_policy_json" {
  value = module.runpod_webhook.state_machine_policy_json
}

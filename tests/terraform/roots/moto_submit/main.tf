# The module with the complete example's inputs (submit function on, so the watchdog too), applied to moto.
resource "aws_secretsmanager_secret" "runpod_api_key" {
  name = "sub-runpod-api-key"
}

resource "aws_secretsmanager_secret_version" "runpod_api_key" {
  secret_id     = aws_secretsmanager_secret.runpod_api_key.id
  secret_string = "rp_moto_test_key"
}

module "runpod_webhook" {
  source = "../.."

  prefix                    = "sub"
  create_submit_function    = true
  runpod_api_key_secret_arn = aws_secretsmanager_secret.runpod_api_key.arn
}

output "submit_function_name" {
  value = module.runpod_webhook.submit_function_name
}

output "submit_function_arn" {
  value = module.runpod_webhook.submit_function_arn
}

output "submit_role_arn" {
  value = module.runpod_webhook.submit_role_arn
}

output "webhook_base_url" {
  value = module.runpod_webhook.webhook_base_url
}

output "state_machine_policy_json" {
  value = module.runpod_webhook.state_machine_policy_json
}

output "secret_arn" {
  value = aws_secretsmanager_secret.runpod_api_key.arn
}

output "table_arn" {
  value = module.runpod_webhook.table_arn
}

output "watchdog_function_name" {
  value = module.runpod_webhook.watchdog_function_name
}

output "watchdog_function_arn" {
  value = module.runpod_webhook.watchdog_function_arn
}

output "watchdog_role_arn" {
  value = module.runpod_webhook.watchdog_role_arn
}

# examples/complete, as a user applies it, is copied beside this file by tests/terraform/tf_tools.py.
# The test also compares the state machine's role with the module's policy output.
output "state_machine_policy_json" {
  value = module.runpod_webhook.state_machine_policy_json
}

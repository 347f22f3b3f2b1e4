# Plan-time checks of the module against a mocked AWS provider. `terraform test` at the repository
# root finds this file (tests/ is its default test directory); tests/terraform/ runs it offline.
mock_provider "aws" {
  override_data {
    target = data.aws_region.current
    values = { id = "eu-west-1" }
  }

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/dev-runpod-webhook" }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-runpod-callbacks" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mocked" }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-webhook"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-webhook/invocations"
    }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/dev-runpod-stopped-executions" }
  }

  mock_resource "aws_api_gateway_rest_api" {
    defaults = { execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234" }
  }

  mock_resource "aws_api_gateway_stage" {
    defaults = {
      arn        = "arn:aws:apigateway:eu-west-1::/restapis/abcdef1234/stages/v1"
      invoke_url = "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/v1"
    }
  }
}

# The mock gives every policy document the same JSON; these two get their own, so a test can see
# which policies take them in.
override_data {
  target = data.aws_iam_policy_document.large_outputs_write
  values = { json = "{\"Sid\":\"large_outputs_write\"}" }
}

override_data {
  target = data.aws_iam_policy_document.large_outputs_read
  values = { json = "{\"Sid\":\"large_outputs_read\"}" }
}

# The mocks above give every role and function the webhook's ARN; the submit and watchdog ones get
# theirs, so a test can tell them apart.
override_resource {
  target = aws_iam_role.submit
  values = { arn = "arn:aws:iam::123456789012:role/dev-runpod-submit" }
}

override_resource {
  target = aws_lambda_function.submit
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-submit" }
}

override_resource {
  target = aws_iam_role.watchdog
  values = { arn = "arn:aws:iam::123456789012:role/dev-runpod-watchdog" }
}

override_resource {
  target = aws_iam_role.watchdog_schedule
  values = { arn = "arn:aws:iam::123456789012:role/dev-runpod-watchdog-schedule" }
}

override_resource {
  target = aws_lambda_function.watchdog
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-watchdog" }
}

variables {
  prefix = "dev"
}

run "names_follow_the_prefix" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.this.name == "dev-runpod-callbacks"
    error_message = "table must be <prefix>-runpod-callbacks"
  }

  assert {
    condition     = aws_lambda_function.webhook.function_name == "dev-runpod-webhook"
    error_message = "function must be <prefix>-runpod-webhook"
  }

  assert {
    condition     = aws_iam_role.webhook.name == "dev-runpod-webhook"
    error_message = "role must be named after the function"
  }

  assert {
    condition     = aws_cloudwatch_log_group.webhook.name == "/aws/lambda/dev-runpod-webhook"
    error_message = "the module must own the function's log group"
  }

  assert {
    condition     = output.webhook_function_name == "dev-runpod-webhook"
    error_message = "webhook_function_name must name the webhook function"
  }
}

run "table_has_the_record_schema" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.this.hash_key == "callback_token" && contains(aws_dynamodb_table.this.attribute, { name = "callback_token", type = "S" })
    error_message = "hash key must be callback_token (S)"
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
    error_message = "table must be on-demand"
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "ttl" && aws_dynamodb_table.this.ttl[0].enabled
    error_message = "TTL must be on the ttl attribute"
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "point-in-time recovery must be on by default"
  }
}

run "table_has_the_watchdog_index_whatever_the_switches" {
  command = plan

  assert {
    condition = aws_dynamodb_table.this.attribute == toset([
      { name = "callback_token", type = "S" },
      { name = "pending_shard", type = "S" },
      { name = "created_at", type = "S" },
      { name = "execution_arn", type = "S" },
    ])
    error_message = "the table declares its key and the index's keys, all strings"
  }

  assert {
    condition = toset([for index in aws_dynamodb_table.this.global_secondary_index : {
      name            = index.name, hash_key = index.hash_key, range_key = index.range_key,
      projection_type = index.projection_type, non_key_attributes = index.non_key_attributes
      }]) == toset([{
      name            = "pending_shard-created_at", hash_key = "pending_shard", range_key = "created_at",
      projection_type = "INCLUDE", non_key_attributes = toset(["job_id", "endpoint_id", "task_token", "runpod_forgets_at"])
      }, {
      name            = "execution_arn", hash_key = "execution_arn", range_key = null,
      projection_type = "INCLUDE", non_key_attributes = toset(["status", "job_id", "endpoint_id"])
    }])
    error_message = "two indexes: pending_shard-created_at, projecting what the watchdog reads; execution_arn, what the canceller reads"
  }

  assert {
    condition     = length(aws_lambda_function.watchdog) == 0
    error_message = "the index is part of the table contract: it exists without the watchdog too"
  }
}

run "function_runs_the_handler_with_its_environment" {
  command = plan

  assert {
    condition     = aws_lambda_function.webhook.handler == "webhook.lambda_handler"
    error_message = "the webhook's handler must be webhook.lambda_handler"
  }

  assert {
    condition     = aws_lambda_function.webhook.architectures == tolist(["arm64"]) && aws_lambda_function.webhook.runtime == "python3.13"
    error_message = "defaults must be arm64 and python3.13"
  }

  assert {
    condition     = aws_lambda_function.webhook.environment[0].variables["CALLBACK_TABLE_NAME"] == "dev-runpod-callbacks"
    error_message = "CALLBACK_TABLE_NAME must name the table"
  }

  assert {
    condition     = aws_lambda_function.webhook.environment[0].variables["POWERTOOLS_TRACE_DISABLED"] == "true"
    error_message = "tracing must be off by default, in the handler too"
  }

  assert {
    condition     = aws_lambda_function.webhook.layers == tolist(["arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"])
    error_message = "the AWS-managed Powertools v3 layer must match region, runtime and architecture"
  }
}

run "a_layer_version_number_pins_the_layer_of_each_runtime_and_architecture" {
  command = plan

  variables {
    lambda_runtime            = "python3.12"
    lambda_architecture       = "x86_64"
    powertools_layer_version  = 30
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  assert {
    condition = alltrue([
      for function in [aws_lambda_function.webhook, aws_lambda_function.submit[0], aws_lambda_function.watchdog[0]] :
      function.layers == tolist(["arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:30"])
    ])
    error_message = "every function takes the pinned layer version for its runtime and architecture"
  }

  assert {
    condition     = length(data.aws_ssm_parameter.powertools_layer) == 0
    error_message = "a pinned version reads no SSM parameter"
  }
}

run "latest_layer_is_read_from_the_public_ssm_parameter" {
  command = plan

  variables {
    powertools_layer_version  = "latest"
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  override_data {
    target = data.aws_ssm_parameter.powertools_layer
    values = { insecure_value = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:41" }
  }

  assert {
    condition     = data.aws_ssm_parameter.powertools_layer[0].name == "/aws/service/powertools/python/arm64/python3.13/latest"
    error_message = "the parameter AWS publishes for the runtime and architecture"
  }

  assert {
    condition = alltrue([
      for function in [aws_lambda_function.webhook, aws_lambda_function.submit[0], aws_lambda_function.watchdog[0]] :
      function.layers == tolist(["arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:41"])
    ])
    error_message = "every function takes the layer ARN the parameter holds"
  }
}

run "an_explicit_layer_arn_wins_over_latest" {
  command = plan

  variables {
    powertools_layer_arn     = "arn:aws:lambda:eu-west-1:123456789012:layer:my-powertools:3"
    powertools_layer_version = "latest"
  }

  assert {
    condition     = aws_lambda_function.webhook.layers == tolist(["arn:aws:lambda:eu-west-1:123456789012:layer:my-powertools:3"]) && length(data.aws_ssm_parameter.powertools_layer) == 0
    error_message = "powertools_layer_arn is used as given, and nothing is looked up"
  }
}

run "a_layer_version_that_is_neither_a_number_nor_latest_is_rejected" {
  command = plan

  variables {
    powertools_layer_version = "v27"
  }

  expect_failures = [var.powertools_layer_version]
}

run "a_runtime_without_a_powertools_layer_is_rejected" {
  command = plan

  variables {
    lambda_runtime = "python3.11"
  }

  expect_failures = [var.lambda_runtime]
}

run "route_is_a_lambda_proxy_post_with_a_required_token" {
  command = plan

  assert {
    condition     = aws_api_gateway_resource.webhook.path_part == "webhook" && aws_api_gateway_resource.callback_token.path_part == "{callback_token}"
    error_message = "route must be /webhook/{callback_token}"
  }

  assert {
    condition     = aws_api_gateway_method.post.http_method == "POST" && aws_api_gateway_method.post.request_parameters["method.request.path.callback_token"]
    error_message = "POST with a required callback_token path parameter"
  }

  assert {
    condition     = aws_api_gateway_integration.lambda.type == "AWS_PROXY" && aws_api_gateway_integration.lambda.integration_http_method == "POST"
    error_message = "integration must be AWS_PROXY"
  }

  assert {
    condition     = aws_api_gateway_stage.this.stage_name == "v1"
    error_message = "default stage must be v1"
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == 500 && aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit == 100
    error_message = "stage must be throttled by default: a bucket of 500 refilled at 100/s"
  }
}

# docs/scale.md: RunPod tries a webhook three times, 10 s apart, and its /run limit (1,000 per 10 s
# per endpoint) bounds how many jobs of one endpoint can finish together. The first try finds a
# full bucket, each retry what 10 s refilled (at most a full bucket).
run "default_throttling_lets_a_full_map_of_one_endpoint_through_within_runpods_retries" {
  command = plan

  assert {
    condition = (
      aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit
      + min(aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit, 10 * aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit)
    ) >= 1000
    error_message = "1,000 webhooks arriving together pass within two of RunPod's three tries"
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit >= 100
    error_message = "the stage sustains what one endpoint's /run limit lets finish: 100 jobs a second"
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit <= 500
    error_message = "a burst stays within half the account's default 1,000 concurrent Lambda executions, shared with every other function, and under the 1,500 SendTask* bucket of the smaller regions"
  }
}

run "permission_is_scoped_to_the_webhook_route" {
  command = apply

  assert {
    condition     = endswith(aws_lambda_permission.api_gateway.source_arn, "/*/POST/webhook/*")
    error_message = "API Gateway may invoke the function for POST /webhook/* only"
  }

  assert {
    condition     = startswith(aws_lambda_permission.api_gateway.source_arn, aws_api_gateway_rest_api.this.execution_arn)
    error_message = "permission must name this API"
  }

  assert {
    condition     = output.webhook_base_url == "${aws_api_gateway_stage.this.invoke_url}/webhook"
    error_message = "webhook_base_url must be the stage URL plus /webhook"
  }

  assert {
    condition     = output.table_name == "dev-runpod-callbacks" && output.stage_name == "v1"
    error_message = "outputs must describe what was created"
  }
}

run "iam_is_least_privilege" {
  command = apply

  assert {
    condition = toset(flatten([for statement in data.aws_iam_policy_document.webhook.statement : statement.actions])) == toset([
      "dynamodb:UpdateItem", "states:SendTaskSuccess", "states:SendTaskFailure",
      "logs:CreateLogStream", "logs:PutLogEvents",
    ])
    error_message = "the function may update records (every path is one conditional UpdateItem), resume tasks and write its own logs, nothing else"
  }

  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.webhook.statement :
      statement.resources == toset([aws_dynamodb_table.this.arn]) if anytrue([for action in statement.actions : startswith(action, "dynamodb:")])
    ])
    error_message = "DynamoDB actions must be on the table only"
  }

  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.webhook.statement :
      statement.resources == toset(["${aws_cloudwatch_log_group.webhook.arn}:*"]) if anytrue([for action in statement.actions : startswith(action, "logs:")])
    ])
    error_message = "logs only to the function's own log group"
  }

  assert {
    condition = [for statement in data.aws_iam_policy_document.state_machine.statement : {
      actions = statement.actions, resources = statement.resources
    }] == [{ actions = toset(["dynamodb:PutItem"]), resources = toset([aws_dynamodb_table.this.arn]) }]
    error_message = "without the submit function, a state machine stores each record itself: PutItem on the table, nothing more"
  }
}

run "tracing_switch_flips_function_stage_handler_and_iam" {
  command = plan

  variables {
    tracing_enabled = true
  }

  assert {
    condition     = aws_lambda_function.webhook.tracing_config[0].mode == "Active" && aws_api_gateway_stage.this.xray_tracing_enabled
    error_message = "tracing must turn on X-Ray for function and stage"
  }

  assert {
    condition     = aws_lambda_function.webhook.environment[0].variables["POWERTOOLS_TRACE_DISABLED"] == "false"
    error_message = "tracing must switch the handler's tracer on"
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.tracing.statement : statement.actions]), "xray:PutTraceSegments") && contains(data.aws_iam_policy_document.webhook.source_policy_documents, data.aws_iam_policy_document.tracing.json)
    error_message = "tracing needs X-Ray permissions"
  }
}

run "access_logs_go_to_the_module_log_group_and_the_account_setting_is_left_alone" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_log_group.api_access) == 1 && aws_cloudwatch_log_group.api_access[0].name == "/aws/apigateway/dev-runpod-webhook/v1/access"
    error_message = "access logs are on by default, in a log group of the module"
  }

  assert {
    condition = [for settings in aws_api_gateway_stage.this.access_log_settings : settings.destination_arn] == [aws_cloudwatch_log_group.api_access[0].arn] && alltrue([
      for settings in aws_api_gateway_stage.this.access_log_settings : jsondecode(settings.format).status == "$context.status"
    ])
    error_message = "the stage writes its JSON access log lines to that log group"
  }

  assert {
    condition = alltrue([
      for settings in aws_api_gateway_stage.this.access_log_settings :
      jsondecode(settings.format).resourcePath == "$context.resourcePath" && !strcontains(settings.format, "$context.path") && !strcontains(settings.format, "$context.requestOverride")
    ])
    error_message = "access logs record the route's template (/webhook/{callback_token}), never the request's path, which holds the callback token"
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].logging_level == "ERROR" && !aws_api_gateway_method_settings.all.settings[0].data_trace_enabled
    error_message = "execution logging is ERROR by default, without data tracing (which would log request bodies and paths)"
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.api_gateway_cloudwatch) == 0 && length(aws_iam_role_policy_attachment.api_gateway_cloudwatch) == 0
    error_message = "the region-wide API Gateway account setting is only touched on request"
  }
}

run "logging_off_needs_no_cloudwatch_role" {
  command = plan

  variables {
    api_access_logs_enabled = false
    api_logging_level       = "OFF"
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.api_access) == 0
    error_message = "no access log group without access logs"
  }

  assert {
    condition     = length(aws_api_gateway_stage.this.access_log_settings) == 0
    error_message = "the stage has no access log settings, so it needs no CloudWatch Logs role"
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].logging_level == "OFF" && aws_api_gateway_method_settings.all.settings[0].metrics_enabled
    error_message = "execution logging off; CloudWatch metrics (which need no role) stay on"
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0
    error_message = "the account setting is left alone"
  }
}

run "cloudwatch_role_opt_in_sets_the_region_account_setting" {
  command = apply

  variables {
    create_api_gateway_cloudwatch_role = true
  }

  override_resource {
    target = aws_iam_role.api_gateway_cloudwatch
    values = { arn = "arn:aws:iam::123456789012:role/dev-apigw-logs-eu-west-1" }
  }

  assert {
    condition     = aws_iam_role.api_gateway_cloudwatch[0].name == "dev-apigw-logs-eu-west-1"
    error_message = "one role per prefix and region: IAM names are account-wide, the setting is per region"
  }

  assert {
    condition = [
      for statement in data.aws_iam_policy_document.api_gateway_assume_role.statement : [
        for principal in statement.principals : principal.identifiers
      ]
    ] == [[toset(["apigateway.amazonaws.com"])]]
    error_message = "only API Gateway may assume the role"
  }

  assert {
    condition     = aws_iam_role_policy_attachment.api_gateway_cloudwatch[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "the role carries the AWS-managed policy for API Gateway logging"
  }

  assert {
    condition     = aws_api_gateway_account.this[0].cloudwatch_role_arn == "arn:aws:iam::123456789012:role/dev-apigw-logs-eu-west-1"
    error_message = "the region's API Gateway account setting names the role"
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.api_access) == 1
    error_message = "access logs stay on"
  }
}

run "optional_alarms_and_waf" {
  command = plan

  variables {
    alarms          = { enabled = true, sns_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:ops"] }
    waf_web_acl_arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/runpod/abc"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 3
    error_message = "alarms on function errors, throttles and API 5xx"
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"])])
    error_message = "alarms must notify the given topics"
  }

  assert {
    condition     = length(aws_wafv2_web_acl_association.this) == 1
    error_message = "the web ACL must be associated with the stage"
  }
}

run "no_alarms_or_waf_by_default" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0 && length(aws_wafv2_web_acl_association.this) == 0
    error_message = "alarms and WAF are opt-in"
  }
}

run "bad_prefix_is_rejected" {
  command = plan

  variables {
    prefix = "Dev_Stack"
  }

  expect_failures = [var.prefix]
}

run "too_long_prefix_is_rejected" {
  command = plan

  variables {
    prefix = "a-prefix-that-is-far-too-long-for-names"
  }

  expect_failures = [var.prefix]
}

run "bad_architecture_is_rejected" {
  command = plan

  variables {
    lambda_architecture = "sparc"
  }

  expect_failures = [var.lambda_architecture]
}

run "no_submit_function_without_an_api_key_secret" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.submit) == 0 && length(aws_iam_role.submit) == 0
    error_message = "the submit function is opt-in"
  }

  assert {
    condition     = output.submit_function_arn == null && output.submit_function_name == null && output.submit_role_arn == null
    error_message = "the submit function's outputs must be null when it is not created"
  }
}

run "create_submit_function_false_wins_over_a_secret" {
  command = plan

  variables {
    create_submit_function    = false
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  assert {
    condition     = length(aws_lambda_function.submit) == 0 && output.submit_function_arn == null && output.submit_role_arn == null
    error_message = "create_submit_function = false creates no submit function, and its outputs are null"
  }
}

run "settings_apply_to_the_function_they_name" {
  command = plan

  variables {
    create_submit_function       = true
    runpod_api_key_secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    webhook_timeout              = 20
    webhook_reserved_concurrency = 5
    submit_timeout               = 90
    lambda_memory_size           = 512
    logs_retention_in_days       = 7
  }

  assert {
    condition     = aws_lambda_function.webhook.timeout == 20 && aws_lambda_function.webhook.reserved_concurrent_executions == 5
    error_message = "webhook_* settings must reach the webhook function"
  }

  assert {
    condition     = aws_lambda_function.submit[0].timeout == 90 && coalesce(aws_lambda_function.submit[0].reserved_concurrent_executions, -1) == -1
    error_message = "the submit function takes submit_timeout and no webhook_* setting"
  }

  assert {
    condition     = aws_lambda_function.webhook.memory_size == 512 && aws_lambda_function.submit[0].memory_size == 512
    error_message = "lambda_memory_size applies to every function"
  }

  assert {
    condition = alltrue([
      for group in [aws_cloudwatch_log_group.webhook, aws_cloudwatch_log_group.submit[0], aws_cloudwatch_log_group.api_access[0]] :
      group.retention_in_days == 7
    ])
    error_message = "logs_retention_in_days applies to every log group of the module"
  }
}

run "webhook_timeout_must_fit_api_gateway" {
  command = plan

  variables {
    webhook_timeout = 30
  }

  expect_failures = [var.webhook_timeout]
}

run "submit_function_with_least_privilege_when_a_secret_is_given" {
  command = apply

  variables {
    runpod_api_key_secret_arn  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    runpod_api_key_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_lambda_function.submit[0].function_name == "dev-runpod-submit" && aws_lambda_function.submit[0].handler == "submit.lambda_handler"
    error_message = "submit function must be <prefix>-runpod-submit running submit.lambda_handler"
  }

  assert {
    condition = (
      aws_lambda_function.submit[0].environment[0].variables["CALLBACK_TABLE_NAME"] == "dev-runpod-callbacks" &&
      aws_lambda_function.submit[0].environment[0].variables["WEBHOOK_BASE_URL"] == output.webhook_base_url &&
      aws_lambda_function.submit[0].environment[0].variables["RUNPOD_API_KEY_SECRET_ARN"] == var.runpod_api_key_secret_arn &&
      aws_lambda_function.submit[0].environment[0].variables["RUNPOD_API_BASE_URL"] == "https://api.runpod.ai/v2"
    )
    error_message = "submit function needs the table, the webhook URL, the secret and RunPod's API"
  }

  assert {
    condition = toset(flatten([for statement in concat(data.aws_iam_policy_document.submit[0].statement, data.aws_iam_policy_document.runpod_api_key[0].statement) : statement.actions])) == toset([
      "dynamodb:PutItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue", "states:SendTaskFailure",
      "logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt",
    ])
    error_message = "submit role: write records, read the key (decrypt with its key), fail tasks, own logs"
  }

  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.runpod_api_key[0].statement :
      statement.resources == toset([var.runpod_api_key_secret_arn]) if contains(statement.actions, "secretsmanager:GetSecretValue")
    ])
    error_message = "the secret may be read, no other"
  }

  assert {
    condition     = toset(flatten([for statement in data.aws_iam_policy_document.state_machine.statement : statement.actions])) == toset(["lambda:InvokeFunction"])
    error_message = "with the submit function, a state machine only invokes it: the function writes the records"
  }

  assert {
    condition     = output.submit_function_arn == aws_lambda_function.submit[0].arn
    error_message = "submit_function_arn must name the submit function"
  }
}

run "outputs_name_each_function_and_role_by_role" {
  command = apply

  variables {
    create_submit_function    = true
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  assert {
    condition = (
      output.webhook_function_name == "dev-runpod-webhook" &&
      output.webhook_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-webhook" &&
      output.webhook_role_arn == "arn:aws:iam::123456789012:role/dev-runpod-webhook"
    )
    error_message = "webhook_* outputs must describe the webhook function and its role"
  }

  assert {
    condition = (
      output.submit_function_name == "dev-runpod-submit" &&
      output.submit_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-submit" &&
      output.submit_role_arn == "arn:aws:iam::123456789012:role/dev-runpod-submit"
    )
    error_message = "submit_* outputs must describe the submit function and its role"
  }
}

run "no_watchdog_without_an_api_key_secret" {
  command = plan

  assert {
    condition = alltrue([
      length(aws_lambda_function.watchdog) == 0, length(aws_iam_role.watchdog) == 0,
      length(aws_scheduler_schedule.watchdog) == 0, length(aws_iam_role.watchdog_schedule) == 0,
      length(aws_cloudwatch_log_group.watchdog) == 0, length(aws_lambda_function_event_invoke_config.watchdog) == 0,
    ])
    error_message = "the watchdog needs the RunPod key: without a secret nothing of it is created"
  }

  assert {
    condition     = output.watchdog_function_name == null && output.watchdog_function_arn == null && output.watchdog_role_arn == null
    error_message = "the watchdog's outputs must be null when it is not created"
  }
}

run "watchdog_with_least_privilege_when_a_secret_is_given" {
  command = apply

  variables {
    runpod_api_key_secret_arn  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    runpod_api_key_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = (
      aws_lambda_function.watchdog[0].function_name == "dev-runpod-watchdog" &&
      aws_lambda_function.watchdog[0].handler == "watchdog.lambda_handler" &&
      aws_lambda_function.watchdog[0].role == aws_iam_role.watchdog[0].arn &&
      aws_iam_role.watchdog[0].name == "dev-runpod-watchdog" &&
      aws_cloudwatch_log_group.watchdog[0].name == "/aws/lambda/dev-runpod-watchdog"
    )
    error_message = "watchdog: <prefix>-runpod-watchdog running watchdog.lambda_handler, with its own role and log group"
  }

  assert {
    condition = (
      aws_lambda_function.watchdog[0].runtime == aws_lambda_function.webhook.runtime &&
      aws_lambda_function.watchdog[0].architectures == aws_lambda_function.webhook.architectures &&
      aws_lambda_function.watchdog[0].layers == aws_lambda_function.webhook.layers &&
      aws_lambda_function.watchdog[0].tracing_config[0].mode == "PassThrough" &&
      aws_lambda_function.watchdog[0].timeout == 120 &&
      aws_lambda_function.watchdog[0].memory_size == 1024
    )
    error_message = "the watchdog shares runtime, architecture, layer and tracing with the other functions; 120 s timeout, 1024 MB (its CPU settles 10,000 records a run)"
  }

  assert {
    condition     = aws_lambda_function.watchdog[0].reserved_concurrent_executions == 1
    error_message = "one watchdog run at a time"
  }

  assert {
    condition = aws_lambda_function.watchdog[0].environment[0].variables == tomap({
      CALLBACK_TABLE_NAME          = "dev-runpod-callbacks"
      LOG_LEVEL                    = "INFO"
      POWERTOOLS_METRICS_NAMESPACE = "RunPodWebhook"
      POWERTOOLS_TRACE_DISABLED    = "true"
      POWERTOOLS_SERVICE_NAME      = "runpod-watchdog"
      RUNPOD_API_KEY_SECRET_ARN    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
      RUNPOD_API_BASE_URL          = "https://api.runpod.ai/v2"
      STALE_AFTER_SECONDS          = "60"
      MAX_RECORDS_PER_RUN          = "25000"
    })
    error_message = "the watchdog's environment: the shared settings, its service name, RunPod's key and API, its two limits"
  }

  assert {
    condition = tomap({
      for statement in concat(data.aws_iam_policy_document.watchdog[0].statement, data.aws_iam_policy_document.runpod_api_key[0].statement) :
      join(" ", sort(statement.actions)) => statement.resources
      }) == tomap({
      "dynamodb:Query"                                                         = toset(["arn:aws:dynamodb:eu-west-1:123456789012:table/dev-runpod-callbacks/index/pending_shard-created_at"])
      "dynamodb:GetItem dynamodb:UpdateItem"                                   = toset(["arn:aws:dynamodb:eu-west-1:123456789012:table/dev-runpod-callbacks"])
      "states:SendTaskFailure states:SendTaskHeartbeat states:SendTaskSuccess" = toset(["*"])
      "secretsmanager:GetSecretValue"                                          = toset([var.runpod_api_key_secret_arn])
      "logs:CreateLogStream logs:PutLogEvents"                                 = toset(["arn:aws:logs:eu-west-1:123456789012:log-group:mocked:*"])
      "kms:Decrypt"                                                            = toset([var.runpod_api_key_kms_key_arn])
    })
    error_message = "watchdog role: Query on the index only, Get/UpdateItem on the table, resume or beat tasks, read (decrypt) the key, own logs"
  }

  assert {
    condition = (
      aws_scheduler_schedule.watchdog[0].name == "dev-runpod-watchdog" &&
      aws_scheduler_schedule.watchdog[0].schedule_expression == "rate(2 minutes)" &&
      aws_scheduler_schedule.watchdog[0].flexible_time_window[0].mode == "OFF" &&
      aws_scheduler_schedule.watchdog[0].target[0].arn == aws_lambda_function.watchdog[0].arn &&
      aws_scheduler_schedule.watchdog[0].target[0].role_arn == aws_iam_role.watchdog_schedule[0].arn
    )
    error_message = "a schedule runs the watchdog every 2 minutes, on time, through its own role"
  }

  assert {
    condition = (
      aws_scheduler_schedule.watchdog[0].target[0].retry_policy[0].maximum_retry_attempts == 0 &&
      aws_scheduler_schedule.watchdog[0].target[0].retry_policy[0].maximum_event_age_in_seconds == 60 &&
      aws_lambda_function_event_invoke_config.watchdog[0].function_name == "dev-runpod-watchdog" &&
      aws_lambda_function_event_invoke_config.watchdog[0].maximum_retry_attempts == 0 &&
      aws_lambda_function_event_invoke_config.watchdog[0].maximum_event_age_in_seconds == 60
    )
    error_message = "a run that cannot start within a minute, or fails, is dropped: the next scheduled run does its work"
  }

  assert {
    condition = (
      aws_iam_role.watchdog_schedule[0].name == "dev-runpod-watchdog-schedule" &&
      [for statement in data.aws_iam_policy_document.watchdog_schedule[0].statement : [statement.actions, statement.resources]] == [
        [toset(["lambda:InvokeFunction"]), toset(["arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-watchdog"])]
      ]
    )
    error_message = "the schedule's role may invoke the watchdog function, nothing else"
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.watchdog_schedule_assume_role[0].statement) == 1 &&
      one(data.aws_iam_policy_document.watchdog_schedule_assume_role[0].statement).actions == toset(["sts:AssumeRole"]) &&
      one(data.aws_iam_policy_document.watchdog_schedule_assume_role[0].statement).principals == toset([
        { type = "Service", identifiers = toset(["scheduler.amazonaws.com"]) }
      ]) &&
      one(data.aws_iam_policy_document.watchdog_schedule_assume_role[0].statement).condition == toset([
        { test = "StringEquals", variable = "aws:SourceAccount", values = tolist(["123456789012"]) }
      ])
    )
    error_message = "only EventBridge Scheduler, for schedules of the function's own account, may assume the schedule's role"
  }

  assert {
    condition = (
      output.watchdog_function_name == "dev-runpod-watchdog" &&
      output.watchdog_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:dev-runpod-watchdog" &&
      output.watchdog_role_arn == "arn:aws:iam::123456789012:role/dev-runpod-watchdog"
    )
    error_message = "watchdog_* outputs must describe the watchdog function and its role"
  }
}

run "watchdog_settings_reach_the_function_and_its_schedule" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    tracing_enabled           = true
    logs_retention_in_days    = 7
    watchdog = {
      schedule_expression = "cron(0/5 * * * ? *)"
      stale_after_seconds = 300
      max_records_per_run = 50
      timeout             = 600
      memory_size         = 2048
    }
  }

  assert {
    condition = (
      aws_scheduler_schedule.watchdog[0].schedule_expression == "cron(0/5 * * * ? *)" &&
      aws_lambda_function.watchdog[0].environment[0].variables["STALE_AFTER_SECONDS"] == "300" &&
      aws_lambda_function.watchdog[0].environment[0].variables["MAX_RECORDS_PER_RUN"] == "50" &&
      aws_lambda_function.watchdog[0].timeout == 600 &&
      aws_lambda_function.watchdog[0].memory_size == 2048
    )
    error_message = "watchdog settings must reach the schedule and the function"
  }

  assert {
    condition = (
      aws_lambda_function.watchdog[0].tracing_config[0].mode == "Active" &&
      aws_lambda_function.watchdog[0].environment[0].variables["POWERTOOLS_TRACE_DISABLED"] == "false" &&
      aws_cloudwatch_log_group.watchdog[0].retention_in_days == 7
    )
    error_message = "tracing and log retention apply to the watchdog like to every function"
  }
}

run "watchdog_follows_the_submit_switch_unless_told" {
  command = plan

  variables {
    create_submit_function    = false
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  assert {
    condition     = length(aws_lambda_function.watchdog) == 0 && length(aws_scheduler_schedule.watchdog) == 0
    error_message = "watchdog.enabled = null follows the submit function: off when it is off"
  }
}

run "watchdog_enabled_runs_without_the_submit_function" {
  command = plan

  variables {
    create_submit_function    = false
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    watchdog                  = { enabled = true }
  }

  assert {
    condition     = length(aws_lambda_function.submit) == 0 && length(aws_lambda_function.watchdog) == 1 && length(aws_scheduler_schedule.watchdog) == 1
    error_message = "watchdog.enabled = true serves own submitters without the submit function"
  }
}

run "watchdog_disabled_wins_over_a_secret" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    watchdog                  = { enabled = false }
  }

  assert {
    condition     = length(aws_lambda_function.submit) == 1 && length(aws_lambda_function.watchdog) == 0 && output.watchdog_function_arn == null
    error_message = "watchdog.enabled = false creates no watchdog, and its outputs are null"
  }
}

run "watchdog_enabled_without_a_secret_is_rejected" {
  command = plan

  variables {
    watchdog = { enabled = true }
  }

  expect_failures = [data.aws_iam_policy_document.runpod_api_key]
}

run "schedule_slower_than_ten_minutes_is_rejected" {
  command = plan

  variables {
    watchdog = { schedule_expression = "rate(15 minutes)" }
  }

  expect_failures = [var.watchdog]
}

run "schedule_in_hours_is_rejected" {
  command = plan

  variables {
    watchdog = { schedule_expression = "rate(1 hour)" }
  }

  expect_failures = [var.watchdog]
}

run "schedule_with_a_wrong_unit_is_rejected" {
  command = plan

  variables {
    watchdog = { schedule_expression = "rate(1 minutes)" }
  }

  expect_failures = [var.watchdog]
}

run "stale_threshold_inside_runpods_retries_is_rejected" {
  command = plan

  variables {
    watchdog = { stale_after_seconds = 20 }
  }

  expect_failures = [var.watchdog]
}

run "records_per_run_out_of_range_is_rejected" {
  command = plan

  variables {
    watchdog = { max_records_per_run = 0 }
  }

  expect_failures = [var.watchdog]
}

run "watchdog_timeout_out_of_range_is_rejected" {
  command = plan

  variables {
    watchdog = { timeout = 901 }
  }

  expect_failures = [var.watchdog]
}

run "watchdog_timeout_that_leaves_no_time_to_take_records_is_rejected" {
  command = plan

  variables {
    watchdog = { timeout = 59 }
  }

  expect_failures = [var.watchdog]
}

run "submit_timeout_shorter_than_its_budget_is_rejected" {
  command = plan

  variables {
    submit_timeout = 47
  }

  expect_failures = [var.submit_timeout]
}

run "info_execution_logging_is_refused_as_it_would_log_the_token" {
  command = plan

  variables {
    api_logging_level = "INFO"
  }

  expect_failures = [var.api_logging_level]
}

run "alarms_cover_the_watchdog_when_it_exists" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    alarms                    = { enabled = true, sns_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:ops"] }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 10
    error_message = "the webhook's three alarms and the watchdog's seven"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["watchdog-errors"].namespace == "AWS/Lambda" &&
      aws_cloudwatch_metric_alarm.this["watchdog-errors"].metric_name == "Errors" &&
      aws_cloudwatch_metric_alarm.this["watchdog-errors"].dimensions == tomap({ FunctionName = "dev-runpod-watchdog" })
    )
    error_message = "an alarm on the watchdog function's errors"
  }

  assert {
    condition = alltrue([
      for key, metric in {
        watchdog-recovered-results = "RecoveredByWatchdog", watchdog-lost-jobs = "JobLost", watchdog-behind = "WatchdogBehind",
        watchdog-runpod-unanswered = "RunPodUnanswered",
        watchdog-run-errors        = "WatchdogErrors"
      } :
      aws_cloudwatch_metric_alarm.this[key].namespace == "RunPodWebhook" &&
      aws_cloudwatch_metric_alarm.this[key].metric_name == metric &&
      aws_cloudwatch_metric_alarm.this[key].dimensions == tomap({ service = "runpod-watchdog" }) &&
      aws_cloudwatch_metric_alarm.this[key].threshold == 0 &&
      aws_cloudwatch_metric_alarm.this[key].comparison_operator == "GreaterThanThreshold"
    ])
    error_message = "alarms when the watchdog recovers a result (webhooks are lost), finds a job lost, or cannot reach every stale record"
  }
}

run "large_outputs_are_off_by_default" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  assert {
    condition = alltrue([
      length(aws_s3_bucket.this) == 0, length(aws_s3_bucket_ownership_controls.this) == 0,
      length(aws_s3_bucket_public_access_block.this) == 0, length(aws_s3_bucket_server_side_encryption_configuration.this) == 0,
      length(aws_s3_bucket_lifecycle_configuration.this) == 0, length(aws_s3_bucket_policy.this) == 0,
    ])
    error_message = "without large_outputs.enabled no bucket is created"
  }

  assert {
    condition = (
      keys(aws_lambda_function.webhook.environment[0].variables) == tolist(["CALLBACK_TABLE_NAME", "LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_TRACE_DISABLED"]) &&
      length([for name in keys(aws_lambda_function.watchdog[0].environment[0].variables) : name if startswith(name, "LARGE_OUTPUT_")]) == 0
    )
    error_message = "off, the functions' environment stays as before large outputs (no LARGE_OUTPUT_* variable): existing states plan clean"
  }

  assert {
    condition = length(concat(
      data.aws_iam_policy_document.large_outputs_write.statement, data.aws_iam_policy_document.large_outputs_read.statement,
      [for document in [data.aws_iam_policy_document.webhook, data.aws_iam_policy_document.watchdog[0], data.aws_iam_policy_document.state_machine] :
      document.statement if anytrue([for statement in document.statement : anytrue([for action in statement.actions : startswith(action, "s3:")])])],
    )) == 0
    error_message = "off, no role and no state machine policy gets an S3 statement"
  }

  assert {
    condition     = output.large_outputs_bucket_name == null && output.large_outputs_bucket_arn == null
    error_message = "the large outputs' outputs are null when they are off"
  }
}

run "large_outputs_create_a_private_bucket" {
  command = apply

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    large_outputs             = { enabled = true }
  }

  assert {
    condition = (
      aws_s3_bucket.this[0].bucket == "dev-runpod-results-123456789012-eu-west-1" &&
      aws_s3_bucket.this[0].tags["terraform-module"] == "runpod-webhook"
    )
    error_message = "the module's bucket is <prefix>-runpod-results-<account id>-<region>, tagged like every resource"
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this[0].block_public_acls && aws_s3_bucket_public_access_block.this[0].block_public_policy &&
      aws_s3_bucket_public_access_block.this[0].ignore_public_acls && aws_s3_bucket_public_access_block.this[0].restrict_public_buckets &&
      aws_s3_bucket_ownership_controls.this[0].rule[0].object_ownership == "BucketOwnerEnforced"
    )
    error_message = "all public access blocked, ACLs off (the bucket owner owns every object)"
  }

  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).apply_server_side_encryption_by_default[0].kms_master_key_id == null &&
      one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).bucket_key_enabled == false
    )
    error_message = "without a key the bucket encrypts with SSE-S3"
  }

  assert {
    condition = (
      length(aws_s3_bucket_lifecycle_configuration.this[0].rule) == 2 &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].status == "Enabled" &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].filter[0].prefix == "runpod-results/" &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].expiration[0].days == 7 &&
      length(aws_s3_bucket_lifecycle_configuration.this[0].rule[0].abort_incomplete_multipart_upload) == 0 &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[1].status == "Enabled" &&
      length(aws_s3_bucket_lifecycle_configuration.this[0].rule[1].expiration) == 0 &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[1].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "objects under the prefix expire after 7 days; incomplete multipart uploads are aborted after 1 (anywhere: the mock fills in the empty filter's prefix, moto shows it empty)"
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.large_outputs_bucket[0].statement) == 1 &&
      one(data.aws_iam_policy_document.large_outputs_bucket[0].statement).effect == "Deny" &&
      one(data.aws_iam_policy_document.large_outputs_bucket[0].statement).actions == toset(["s3:*"]) &&
      one(data.aws_iam_policy_document.large_outputs_bucket[0].statement).resources == toset([aws_s3_bucket.this[0].arn, "${aws_s3_bucket.this[0].arn}/*"]) &&
      one(data.aws_iam_policy_document.large_outputs_bucket[0].statement).principals == toset([{ type = "*", identifiers = toset(["*"]) }]) &&
      one(data.aws_iam_policy_document.large_outputs_bucket[0].statement).condition == toset([
        { test = "Bool", variable = "aws:SecureTransport", values = tolist(["false"]) }
      ]) &&
      aws_s3_bucket_policy.this[0].bucket == aws_s3_bucket.this[0].id
    )
    error_message = "the bucket policy denies every request that does not use TLS, and nothing else"
  }

  assert {
    condition = alltrue([
      for variables in [aws_lambda_function.webhook.environment[0].variables, aws_lambda_function.watchdog[0].environment[0].variables] :
      variables["LARGE_OUTPUT_BUCKET"] == "dev-runpod-results-123456789012-eu-west-1" && variables["LARGE_OUTPUT_PREFIX"] == "runpod-results/"
    ])
    error_message = "the webhook and the watchdog find the bucket and the prefix in their environment"
  }

  assert {
    condition = [for statement in data.aws_iam_policy_document.large_outputs_write.statement : [statement.actions, statement.resources, statement.condition]] == [[
      toset(["s3:PutObject"]),
      toset(["arn:aws:s3:::dev-runpod-results-123456789012-eu-west-1/runpod-results/*"]),
      toset([{ test = "StringEquals", variable = "s3:ResourceAccount", values = tolist(["123456789012"]) }]),
    ]]
    error_message = "the writers may PutObject under the prefix of the module's bucket, in this account only, nothing else in S3 or KMS"
  }

  # The merged policies themselves are checked where moto holds them (test_moto_apply.py).
  assert {
    condition = (
      contains(data.aws_iam_policy_document.webhook.source_policy_documents, data.aws_iam_policy_document.large_outputs_write.json) &&
      contains(data.aws_iam_policy_document.watchdog[0].source_policy_documents, data.aws_iam_policy_document.large_outputs_write.json) &&
      !contains(data.aws_iam_policy_document.submit[0].source_policy_documents, data.aws_iam_policy_document.large_outputs_write.json) &&
      !contains(data.aws_iam_policy_document.submit[0].source_policy_documents, data.aws_iam_policy_document.large_outputs_read.json) &&
      length([for statement in data.aws_iam_policy_document.submit[0].statement : statement if anytrue([for action in statement.actions : startswith(action, "s3:")])]) == 0
    )
    error_message = "the webhook's and the watchdog's policies take the write statements; the submit function never writes results"
  }

  assert {
    condition = (
      [for statement in data.aws_iam_policy_document.large_outputs_read.statement : [statement.actions, statement.resources, statement.condition]] == [[
        toset(["s3:GetObject"]),
        toset(["arn:aws:s3:::dev-runpod-results-123456789012-eu-west-1/runpod-results/*"]),
        toset([{ test = "StringEquals", variable = "s3:ResourceAccount", values = tolist(["123456789012"]) }]),
      ]] &&
      contains(data.aws_iam_policy_document.state_machine.source_policy_documents, data.aws_iam_policy_document.large_outputs_read.json)
    )
    error_message = "a state machine may read the results (GetObject under the prefix), nothing more"
  }

  assert {
    condition = (
      output.large_outputs_bucket_name == "dev-runpod-results-123456789012-eu-west-1" &&
      output.large_outputs_bucket_arn == "arn:aws:s3:::dev-runpod-results-123456789012-eu-west-1"
    )
    error_message = "the outputs name the module's bucket"
  }
}

run "large_outputs_bucket_encrypted_with_a_customer_managed_key" {
  command = apply

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    large_outputs = {
      enabled         = true
      key_prefix      = "results/jobs/"
      expiration_days = 3
      kms_key_arn     = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    }
  }

  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.large_outputs.kms_key_arn &&
      one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).bucket_key_enabled
    )
    error_message = "with a key the bucket encrypts with SSE-KMS under it, with a bucket key"
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].filter[0].prefix == "results/jobs/" &&
      aws_s3_bucket_lifecycle_configuration.this[0].rule[0].expiration[0].days == 3 &&
      aws_lambda_function.webhook.environment[0].variables["LARGE_OUTPUT_PREFIX"] == "results/jobs/" &&
      aws_lambda_function.watchdog[0].environment[0].variables["LARGE_OUTPUT_PREFIX"] == "results/jobs/"
    )
    error_message = "key_prefix and expiration_days reach the lifecycle rule and the functions"
  }

  assert {
    condition = toset([for statement in data.aws_iam_policy_document.large_outputs_write.statement : [statement.actions, statement.resources]]) == toset([
      [toset(["s3:PutObject"]), toset(["arn:aws:s3:::dev-runpod-results-123456789012-eu-west-1/results/jobs/*"])],
      [toset(["kms:GenerateDataKey"]), toset([var.large_outputs.kms_key_arn])],
    ])
    error_message = "the writers get kms:GenerateDataKey on the bucket's key (all an SSE-KMS PutObject needs), no Encrypt or Decrypt"
  }

  assert {
    condition = toset([for statement in data.aws_iam_policy_document.large_outputs_read.statement : [statement.actions, statement.resources]]) == toset([
      [toset(["s3:GetObject"]), toset(["arn:aws:s3:::dev-runpod-results-123456789012-eu-west-1/results/jobs/*"])],
      [toset(["kms:Decrypt"]), toset([var.large_outputs.kms_key_arn])],
    ])
    error_message = "a state machine reads the results and decrypts them with the bucket's key"
  }
}

run "large_outputs_in_the_callers_bucket" {
  command = apply

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    large_outputs = {
      enabled     = true
      bucket_name = "team-results.example"
      key_prefix  = ""
      kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    }
  }

  assert {
    condition = alltrue([
      length(aws_s3_bucket.this) == 0, length(aws_s3_bucket_ownership_controls.this) == 0,
      length(aws_s3_bucket_public_access_block.this) == 0, length(aws_s3_bucket_server_side_encryption_configuration.this) == 0,
      length(aws_s3_bucket_lifecycle_configuration.this) == 0, length(aws_s3_bucket_policy.this) == 0,
    ])
    error_message = "with a bucket_name the module creates no bucket: the caller's bucket keeps its own settings"
  }

  assert {
    condition = alltrue([
      for variables in [aws_lambda_function.webhook.environment[0].variables, aws_lambda_function.watchdog[0].environment[0].variables] :
      variables["LARGE_OUTPUT_BUCKET"] == "team-results.example" && variables["LARGE_OUTPUT_PREFIX"] == ""
    ])
    error_message = "the functions write to the caller's bucket, at its root with an empty prefix"
  }

  assert {
    condition = (
      toset([for statement in data.aws_iam_policy_document.large_outputs_write.statement : [statement.actions, statement.resources]]) == toset([
        [toset(["s3:PutObject"]), toset(["arn:aws:s3:::team-results.example/*"])],
        [toset(["kms:GenerateDataKey"]), toset([var.large_outputs.kms_key_arn])],
      ]) &&
      alltrue([for statement in data.aws_iam_policy_document.large_outputs_write.statement : length(coalesce(statement.condition, [])) == 0])
    )
    error_message = "the writers' statements name the caller's bucket (which may be in another account) and its key"
  }

  assert {
    condition = (
      toset(flatten([for statement in data.aws_iam_policy_document.large_outputs_read.statement : statement.resources if contains(statement.actions, "s3:GetObject")])) == toset(["arn:aws:s3:::team-results.example/*"]) &&
      output.large_outputs_bucket_name == "team-results.example" &&
      output.large_outputs_bucket_arn == "arn:aws:s3:::team-results.example"
    )
    error_message = "the state machine policy and the outputs name the caller's bucket"
  }
}

run "large_outputs_bucket_name_over_63_characters_is_rejected" {
  command = plan

  variables {
    prefix        = "a-prefix-of-thirty-two-letters-x"
    large_outputs = { enabled = true }
  }

  expect_failures = [aws_s3_bucket.this]
}

run "large_outputs_bucket_name_must_be_an_s3_name" {
  command = plan

  variables {
    large_outputs = { enabled = true, bucket_name = "Team_Results" }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_bucket_name_may_not_look_like_an_ip_address" {
  command = plan

  variables {
    large_outputs = { enabled = true, bucket_name = "192.168.5.4" }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_bucket_name_may_not_have_adjacent_dots" {
  command = plan

  variables {
    large_outputs = { enabled = true, bucket_name = "team..results" }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_key_prefix_must_end_with_a_slash" {
  command = plan

  variables {
    large_outputs = { enabled = true, key_prefix = "runpod-results" }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_key_prefix_may_not_hold_an_iam_wildcard" {
  command = plan

  variables {
    large_outputs = { enabled = true, key_prefix = "runpod-*/" }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_key_prefix_may_not_climb_folders" {
  command = plan

  variables {
    large_outputs = { enabled = true, key_prefix = "results/../other/" }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_expire_after_a_whole_number_of_days" {
  command = plan

  variables {
    large_outputs = { enabled = true, expiration_days = 0.5 }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_expire_after_a_day_at_least" {
  command = plan

  variables {
    large_outputs = { enabled = true, expiration_days = 0 }
  }

  expect_failures = [var.large_outputs]
}

run "large_outputs_key_must_be_a_key_arn" {
  command = plan

  variables {
    large_outputs = { enabled = true, kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/results" }
  }

  expect_failures = [var.large_outputs]
}

run "submit_function_without_a_secret_is_rejected" {
  command = plan

  variables {
    create_submit_function = true
  }

  expect_failures = [data.aws_iam_policy_document.runpod_api_key]
}

run "canceller_watches_the_named_state_machines_with_least_privilege" {
  command = apply

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    cancel_on_stop = {
      state_machine_arns          = ["arn:aws:states:eu-west-1:123456789012:stateMachine:upscale"]
      state_machine_name_prefixes = ["video-"]
    }
  }

  assert {
    condition = (
      aws_lambda_function.canceller[0].function_name == "dev-runpod-canceller" &&
      aws_lambda_function.canceller[0].handler == "canceller.lambda_handler" &&
      aws_lambda_function.canceller[0].reserved_concurrent_executions == 1
    )
    error_message = "canceller: <prefix>-runpod-canceller running canceller.lambda_handler, one instance at a time (its /cancel pacing holds across events)"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.stopped_executions[0].event_pattern).detail == {
      status = ["ABORTED", "TIMED_OUT", "FAILED"]
      stateMachineArn = [
        { prefix = "arn:aws:states:eu-west-1:123456789012:stateMachine:upscale" },
        { prefix = "arn:aws:states:eu-west-1:123456789012:stateMachine:video-" },
      ]
    }
    error_message = "the rule takes the stopped executions of the named state machines (a Distributed Map's children by the ARN prefix) and of those whose name starts with a prefix, in this account and region"
  }

  assert {
    condition = toset(flatten([for statement in data.aws_iam_policy_document.canceller[0].statement : statement.actions])) == toset([
      "dynamodb:Query", "dynamodb:UpdateItem", "logs:CreateLogStream", "logs:PutLogEvents",
    ])
    error_message = "the canceller may find an execution's records, expire them and write its own logs (besides reading the API key), nothing else"
  }

  assert {
    condition = {
      for statement in data.aws_iam_policy_document.canceller[0].statement : statement.sid => statement.resources
      } == {
      FindRecordsOfAnExecution = toset(["${aws_dynamodb_table.this.arn}/index/execution_arn"])
      ExpireCallbackRecords    = toset([aws_dynamodb_table.this.arn])
      OwnLogGroup              = toset(["${aws_cloudwatch_log_group.canceller[0].arn}:*"])
    }
    error_message = "Query on the execution_arn index only, UpdateItem on the table only, logs to its own log group only"
  }

  assert {
    condition     = contains(data.aws_iam_policy_document.canceller[0].source_policy_documents, data.aws_iam_policy_document.runpod_api_key[0].json)
    error_message = "the canceller reads the RunPod API key through the one shared policy document"
  }

  assert {
    condition     = aws_lambda_permission.canceller[0].principal == "events.amazonaws.com" && aws_lambda_permission.canceller[0].source_arn == aws_cloudwatch_event_rule.stopped_executions[0].arn
    error_message = "only the stopped-executions rule may invoke the canceller"
  }
}

run "no_canceller_unless_state_machines_are_named" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
  }

  assert {
    condition     = length(aws_lambda_function.canceller) == 0 && length(aws_cloudwatch_event_rule.stopped_executions) == 0
    error_message = "cancel_on_stop is off by default"
  }
}

run "cancel_on_stop_with_an_arn_that_is_not_a_state_machines_is_rejected" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    cancel_on_stop            = { state_machine_arns = ["arn:aws:states:eu-west-1:123456789012:execution:upscale:run-1"] }
  }

  expect_failures = [var.cancel_on_stop]
}

run "cancel_on_stop_with_a_wildcard_prefix_is_rejected" {
  command = plan

  variables {
    runpod_api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runpod-AbCdEf"
    cancel_on_stop            = { state_machine_name_prefixes = ["video-*"] }
  }

  expect_failures = [var.cancel_on_stop]
}

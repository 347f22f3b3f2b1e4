# Logs Insights queries over every function's log group. Each log line about a job carries
# `callback` (the callback token redacted), `job_id`, `endpoint_id`, and the line that says how
# its handling ended, `outcome` (lambda/runpod_callbacks/job_logs.py).

locals {
  function_log_groups = concat(
    [aws_cloudwatch_log_group.webhook.name],
    aws_cloudwatch_log_group.submit[*].name,
    aws_cloudwatch_log_group.watchdog[*].name,
    aws_cloudwatch_log_group.canceller[*].name,
  )

  log_queries = {
    one-job = {
      title = "One job's story: replace JOB_ID (or filter on callback, the token's first characters)"
      query = <<-EOT
        fields @timestamp, service, level, outcome, message
        | filter job_id = "JOB_ID"
        | sort @timestamp asc
      EOT
    }
    failures-by-outcome = {
      title = "Recent failures, by outcome"
      query = <<-EOT
        filter level in ["WARNING", "ERROR"] or outcome in ["TaskFailed", "TaskExpired", "lost", "failed", "errors"]
        | stats count(*) as failures by service, outcome
        | sort failures desc
      EOT
    }
    slowest-jobs = {
      title = "Slowest jobs, by RunPod's execution time"
      query = <<-EOT
        fields @timestamp, job_id, endpoint_id, runpod_execution_ms, runpod_delay_ms, estimated_cost_usd
        | filter ispresent(runpod_execution_ms)
        | sort runpod_execution_ms desc
        | limit 50
      EOT
    }
  }
}

resource "aws_cloudwatch_query_definition" "this" {
  for_each = local.log_queries

  name            = "${var.prefix}-runpod-webhook/${each.key}"
  log_group_names = local.function_log_groups
  query_string    = each.value.query
}

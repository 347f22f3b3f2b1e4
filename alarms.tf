locals {
  webhook_alarms = {
    function-errors = {
      namespace  = "AWS/Lambda"
      metric     = "Errors"
      dimensions = { FunctionName = aws_lambda_function.webhook.function_name }
      statistic  = "Sum"
      threshold  = 0
      summary    = "The webhook function failed invocations (unhandled errors or timeouts)"
    }
    function-throttles = {
      namespace  = "AWS/Lambda"
      metric     = "Throttles"
      dimensions = { FunctionName = aws_lambda_function.webhook.function_name }
      statistic  = "Sum"
      threshold  = 0
      summary    = "The webhook function was throttled; RunPod's deliveries may be lost after its retries"
    }
    api-5xx = {
      namespace  = "AWS/ApiGateway"
      metric     = "5XXError"
      dimensions = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
      statistic  = "Sum"
      threshold  = 0
      summary    = "The webhook answered 5xx; RunPod retries, but repeated 5xx means lost callbacks"
    }
  }

  # Errors of the function, and its EMF metrics (dimension `service`) where any count means
  # something went wrong (a lost webhook, a result that expired before anyone fetched it, stale
  # records a run could not reach, that RunPod did not answer for, or that the run failed on),
  # or a wait longer than alarms.oldest_wait_seconds.
  watchdog_alarms = {
    watchdog-errors = {
      namespace  = "AWS/Lambda"
      metric     = "Errors"
      dimensions = { FunctionName = one(aws_lambda_function.watchdog[*].function_name) }
      statistic  = "Sum"
      threshold  = 0
      summary    = "The watchdog function failed runs (unhandled errors or timeouts); lost webhooks are not being recovered"
    }
    watchdog-recovered-results = {
      namespace  = local.metrics_namespace
      metric     = "RecoveredByWatchdog"
      dimensions = { service = local.watchdog_service }
      statistic  = "Sum"
      threshold  = 0
      summary    = "The watchdog delivered results whose webhooks never arrived: webhooks are being lost"
    }
    watchdog-lost-jobs = {
      namespace  = local.metrics_namespace
      metric     = "JobLost"
      dimensions = { service = local.watchdog_service }
      statistic  = "Sum"
      threshold  = 0
      summary    = "RunPod no longer knew jobs whose results nobody had fetched; their tasks failed with RunPod.JobLost"
    }
    watchdog-oldest-wait = {
      namespace  = local.metrics_namespace
      metric     = "OldestWaitSeconds"
      dimensions = { service = local.watchdog_service }
      statistic  = "Maximum"
      threshold  = var.alarms.oldest_wait_seconds
      summary    = "A job has waited longer than alarms.oldest_wait_seconds for its result: a stuck wait, which no execution metric shows"
    }
    watchdog-behind = {
      namespace  = local.metrics_namespace
      metric     = "WatchdogBehind"
      dimensions = { service = local.watchdog_service }
      statistic  = "Sum"
      threshold  = 0
      summary    = "A watchdog run could not reach every stale record (too many for its time or max_records_per_run); they come first next run, but heartbeats lapse if this goes on: raise watchdog.timeout, memory_size or max_records_per_run"
    }
    watchdog-runpod-unanswered = {
      namespace  = local.metrics_namespace
      metric     = "RunPodUnanswered"
      dimensions = { service = local.watchdog_service }
      statistic  = "Sum"
      threshold  = 0
      summary    = "RunPod did not answer the watchdog's /status for some jobs (429, 5xx, timeouts), so their tasks were not heartbeated; asked again next run, but heartbeats lapse if this goes on: check RunPod's status and your own calls to /status"
    }
    watchdog-run-errors = {
      namespace  = local.metrics_namespace
      metric     = "WatchdogErrors"
      dimensions = { service = local.watchdog_service }
      statistic  = "Sum"
      threshold  = 0
      summary    = "A watchdog run failed on some records or steps (a heartbeat refused, the index or the API key unreadable, ...; each logged with its reason) though the function itself succeeded: those tasks were not heartbeated or settled this run"
    }
  }

  alarms = var.alarms.enabled ? merge(local.webhook_alarms, local.create_watchdog ? local.watchdog_alarms : {}) : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.webhook_function_name}-${each.key}"
  alarm_description   = each.value.summary
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.sns_topic_arns
  ok_actions          = var.alarms.sns_topic_arns

  tags = local.tags
}

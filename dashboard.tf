# The CloudWatch dashboard (var.dashboard_enabled): every widget shows a metric the functions emit
# (lambda/runpod_callbacks/metric_names.py) or one AWS publishes for the API and the functions.

locals {
  functions = {
    for name in concat(
      [aws_lambda_function.webhook.function_name],
      aws_lambda_function.submit[*].function_name,
      aws_lambda_function.watchdog[*].function_name,
      aws_lambda_function.canceller[*].function_name,
    ) : name => name
  }
  api_dimensions = ["ApiName", aws_api_gateway_rest_api.this.name, "Stage", aws_api_gateway_stage.this.stage_name]

  # Each row: a title and its metrics, as [namespace, metric, dimension names and values..., options].
  dashboard_widgets = [
    {
      title = "Webhook: deliveries by outcome", stat = "Sum"
      metrics = [
        for name in ["TaskSucceeded", "TaskFailed", "DuplicateDelivery", "TaskExpired", "DeliveryInFlight", "AwsUnavailable", "UnknownCallback", "UnknownRoute", "InvalidWebhook", "JobIdMismatch", "RecordNotPending", "CorruptRecord", "UnexpectedError"] :
        [local.metrics_namespace, name, "service", local.webhook_service]
      ]
    },
    {
      title = "RunPod: queue and execution time (ms), p50 / p90 / p99", stat = "p50"
      metrics = flatten([
        for name in ["RunPodDelayTime", "RunPodExecutionTime"] : [
          for stat in ["p50", "p90", "p99"] :
          [local.metrics_namespace, name, "service", local.webhook_service, { stat = stat, label = "${name} ${stat}" }]
        ]
      ])
    },
    {
      title = "Submit function: submissions", stat = "Sum"
      metrics = [
        for name in ["SubmitAccepted", "SubmitUncertain", "SubmitThrottled", "SubmitFailed", "SubmitRejected", "InvalidRequest", "JobIdNotRecorded"] :
        [local.metrics_namespace, name, "service", local.submit_service]
      ]
    },
    {
      title = "Watchdog and canceller: recovered, lost, cancelled, behind", stat = "Sum"
      metrics = concat(
        [
          for name in ["RecoveredByWatchdog", "JobLost", "OrphanJobCancelled", "WatchdogBehind", "RunPodUnanswered", "WatchdogErrors"] :
          [local.metrics_namespace, name, "service", local.watchdog_service]
        ],
        [[local.metrics_namespace, "OrphanJobCancelled", "service", local.canceller_service, { label = "Cancelled on stop" }]],
      )
    },
    {
      title   = "Oldest waiting job (s)", stat = "Maximum"
      metrics = [[local.metrics_namespace, "OldestWaitSeconds", "service", local.watchdog_service]]
    },
    {
      title = "Estimated GPU spend (USD) by endpoint", stat = "Sum"
      metrics = [[{
        expression = "SEARCH('{${local.metrics_namespace},endpoint_id,service} MetricName=\"EstimatedGpuCost\"', 'Sum', 3600)"
        label      = "USD", id = "spend"
      }]]
    },
    {
      title   = "API: 4xx, 5xx and requests", stat = "Sum"
      metrics = [for name in ["4XXError", "5XXError", "Count"] : concat(["AWS/ApiGateway", name], local.api_dimensions)]
    },
    {
      title   = "API: latency (ms), p50 / p99", stat = "p50"
      metrics = [for stat in ["p50", "p99"] : concat(["AWS/ApiGateway", "Latency"], local.api_dimensions, [{ stat = stat }])]
    },
    {
      title = "Functions: errors and throttles", stat = "Sum"
      metrics = flatten([
        for function in values(local.functions) : [
          for name in ["Errors", "Throttles"] : ["AWS/Lambda", name, "FunctionName", function]
        ]
      ])
    },
    {
      title   = "Functions: duration (ms), p99", stat = "p99"
      metrics = [for function in values(local.functions) : ["AWS/Lambda", "Duration", "FunctionName", function]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = "${var.prefix}-runpod-webhook"
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = 12 * (index % 2)
        y      = 6 * floor(index / 2)
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          metrics = widget.metrics
          stat    = widget.stat
          period  = 300
          region  = data.aws_region.current.id
          view    = "timeSeries"
        }
      }
    ]
  })
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.api_name
  description = "RunPod webhook: POST /webhook/{callback_token} resumes a waiting Step Functions task"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "webhook" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "webhook"
}

resource "aws_api_gateway_resource" "callback_token" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.webhook.id
  path_part   = "{callback_token}"
}

resource "aws_api_gateway_method" "post" {
  #checkov:skip=CKV_AWS_59:RunPod cannot sign requests or send API keys; the unguessable callback token in the path is the webhook's bearer secret.
  #checkov:skip=CKV2_AWS_53:The Lambda validates the body and the token; a request validator adds nothing it does not check.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.callback_token.id
  http_method   = "POST"
  authorization = "NONE"

  request_parameters = {
    "method.request.path.callback_token" = true
  }
}

resource "aws_api_gateway_integration" "lambda" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.callback_token.id
  http_method             = aws_api_gateway_method.post.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.webhook.invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.webhook.id,
      aws_api_gateway_resource.callback_token.id,
      aws_api_gateway_method.post.id,
      aws_api_gateway_method.post.request_parameters,
      aws_api_gateway_integration.lambda.id,
      aws_api_gateway_integration.lambda.uri,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs_retention_in_days).
  count = var.api_access_logs_enabled ? 1 : 0

  name              = "/aws/apigateway/${local.api_name}/${var.api_stage_name}/access"
  retention_in_days = var.logs_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = local.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Webhook deliveries are unique POSTs; caching them would be wrong.
  #checkov:skip=CKV2_AWS_51:RunPod presents no client certificate.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is optional (var.waf_web_acl_arn); throttling guards the stage by default.
  #checkov:skip=CKV2_AWS_77:The web ACL, when given, is the caller's; its rule groups are theirs to choose.
  #checkov:skip=CKV_AWS_73:X-Ray is a switch (var.tracing_enabled), off by default.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.api_stage_name
  xray_tracing_enabled = var.tracing_enabled

  dynamic "access_log_settings" {
    for_each = aws_cloudwatch_log_group.api_access[*].arn

    content {
      destination_arn = access_log_settings.value
      format = jsonencode({
        requestId          = "$context.requestId"
        requestTime        = "$context.requestTime"
        sourceIp           = "$context.identity.sourceIp"
        httpMethod         = "$context.httpMethod"
        resourcePath       = "$context.resourcePath"
        status             = "$context.status"
        responseLength     = "$context.responseLength"
        integrationStatus  = "$context.integrationStatus"
        integrationLatency = "$context.integrationLatency"
        errorMessage       = "$context.error.message"
      })
    }
  }

  tags = local.tags

  # Logging needs the region's CloudWatch Logs role in place first when this module sets it.
  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Webhook deliveries are unique POSTs; caching them would be wrong.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled = true
    logging_level   = var.api_logging_level
    # Data tracing would log each request's path and body: the callback token with them.
    data_trace_enabled     = false
    throttling_burst_limit = var.api_throttling.burst_limit
    throttling_rate_limit  = var.api_throttling.rate_limit
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}

################################################################################
# The region's API Gateway CloudWatch Logs role (opt-in, a region-wide singleton)
################################################################################

data "aws_iam_policy_document" "api_gateway_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.create_api_gateway_cloudwatch_role ? 1 : 0

  # IAM names are global to the account, the setting is per region: one role per region.
  name               = "${var.prefix}-apigw-logs-${data.aws_region.current.id}"
  description        = "Lets API Gateway write access and execution logs in ${data.aws_region.current.id}"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.create_api_gateway_cloudwatch_role ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.create_api_gateway_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}

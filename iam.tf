################################################################################
# Shared by every function
################################################################################

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# Statements that depend on switches, shared by the functions' policies below.
data "aws_iam_policy_document" "table_key" {
  dynamic "statement" {
    for_each = var.table.kms_key_arn == null ? [] : [var.table.kms_key_arn]

    content {
      sid       = "TableKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "tracing" {
  dynamic "statement" {
    for_each = var.tracing_enabled ? [true] : []

    content {
      sid       = "XRay"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

################################################################################
# Webhook function
################################################################################

data "aws_iam_policy_document" "webhook" {
  source_policy_documents = [
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.tracing.json,
  ]

  statement {
    sid       = "CallbackRecords"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid = "ResumeWaitingTasks"
    # SendTaskSuccess and SendTaskFailure support no resource-level permissions.
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.webhook.arn}:*"]
  }
}

resource "aws_iam_role" "webhook" {
  name               = local.webhook_function_name
  description        = "Runs ${local.webhook_function_name}: reads callback records, resumes Step Functions tasks"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy" "webhook" {
  name   = "${local.webhook_function_name}-least-privilege"
  role   = aws_iam_role.webhook.id
  policy = data.aws_iam_policy_document.webhook.json
}

################################################################################
# Submit function (optional)
################################################################################

data "aws_iam_policy_document" "submit" {
  count = local.create_submit ? 1 : 0

  source_policy_documents = [
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.tracing.json,
  ]

  statement {
    sid       = "WriteCallbackRecords"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "ReadRunPodApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.runpod_api_key_secret_arn]
  }

  statement {
    sid = "FailWaitingTask"
    # A typed submit error fails the waiting task at once; SendTaskFailure has no resource scoping.
    actions   = ["states:SendTaskFailure"]
    resources = ["*"]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.submit[0].arn}:*"]
  }

  dynamic "statement" {
    for_each = var.runpod_api_key_kms_key_arn == null ? [] : [var.runpod_api_key_kms_key_arn]

    content {
      sid       = "DecryptRunPodApiKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "submit" {
  count = local.create_submit ? 1 : 0

  name               = local.submit_function_name
  description        = "Runs ${local.submit_function_name}: writes callback records, submits RunPod jobs"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy" "submit" {
  count = local.create_submit ? 1 : 0

  name   = "${local.submit_function_name}-least-privilege"
  role   = aws_iam_role.submit[0].id
  policy = data.aws_iam_policy_document.submit[0].json
}

################################################################################
# The caller's state machines (output state_machine_policy_json)
################################################################################

data "aws_iam_policy_document" "state_machine" {
  source_policy_documents = [data.aws_iam_policy_document.table_key.json]

  statement {
    sid       = "WriteCallbackRecords"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  dynamic "statement" {
    for_each = local.create_submit ? [aws_lambda_function.submit[0].arn] : []

    content {
      sid       = "InvokeSubmitFunction"
      actions   = ["lambda:InvokeFunction"]
      resources = [statement.value, "${statement.value}:*"]
    }
  }
}

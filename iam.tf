data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# Statements that depend on switches, shared by the roles below.
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

data "aws_iam_policy_document" "this" {
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
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
}

resource "aws_iam_role" "this" {
  name               = local.function_name
  description        = "Runs ${local.function_name}: reads callback records, resumes Step Functions tasks"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.function_name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

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

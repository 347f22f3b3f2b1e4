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

# The RunPod API key, read by the submit function, the watchdog and the canceller.
data "aws_iam_policy_document" "runpod_api_key" {
  count = local.create_submit || local.create_watchdog ? 1 : 0

  statement {
    sid       = "ReadRunPodApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.runpod_api_key_secret_arn]
  }

  dynamic "statement" {
    for_each = var.runpod_api_key_kms_key_arn == null ? [] : [var.runpod_api_key_kms_key_arn]

    content {
      sid       = "DecryptRunPodApiKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # Checked here, the first place the ARN is used: a null would fail on this document less clearly.
  lifecycle {
    precondition {
      condition     = var.runpod_api_key_secret_arn != null
      error_message = "The submit function and the watchdog ask RunPod with the key in runpod_api_key_secret_arn: set it, or set create_submit_function = false and watchdog.enabled = false."
    }
  }
}

# Large outputs (var.large_outputs): the webhook and the watchdog write results that do not fit a
# task output under the key prefix, and nowhere else.
data "aws_iam_policy_document" "large_outputs_write" {
  dynamic "statement" {
    for_each = local.large_outputs_objects_arns

    content {
      sid       = "WriteLargeOutputs"
      actions   = ["s3:PutObject"]
      resources = [statement.value]

      # The module's bucket has a predictable name: never write to one of that name in another
      # account (should it ever be deleted and taken).
      dynamic "condition" {
        for_each = local.create_large_outputs_bucket ? [local.account_id] : []

        content {
          test     = "StringEquals"
          variable = "s3:ResourceAccount"
          values   = [condition.value]
        }
      }
    }
  }

  dynamic "statement" {
    for_each = local.large_outputs_kms_key_arns

    content {
      sid = "EncryptLargeOutputs"
      # An SSE-KMS PutObject needs kms:GenerateDataKey on the key, nothing more (S3 User Guide,
      # "Using server-side encryption with AWS KMS keys": Decrypt too only for multipart uploads).
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
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
    data.aws_iam_policy_document.large_outputs_write.json,
  ]

  statement {
    sid       = "CallbackRecords"
    actions   = ["dynamodb:UpdateItem"]
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
    data.aws_iam_policy_document.runpod_api_key[0].json,
  ]

  statement {
    sid       = "WriteCallbackRecords"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
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
# Watchdog (optional)
################################################################################

data "aws_iam_policy_document" "watchdog" {
  count = local.create_watchdog ? 1 : 0

  source_policy_documents = [
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.tracing.json,
    data.aws_iam_policy_document.large_outputs_write.json,
    data.aws_iam_policy_document.runpod_api_key[0].json,
  ]

  statement {
    sid       = "FindStaleRecords"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.this.arn}/index/pending_shard-created_at"]
  }

  statement {
    sid = "UpdateCallbackRecords"
    # GetItem reads the watchdog's own cursor item (where the last run stopped).
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid = "ResumeOrBeatWaitingTasks"
    # SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat support no resource-level permissions.
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"]
    resources = ["*"]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.watchdog[0].arn}:*"]
  }
}

resource "aws_iam_role" "watchdog" {
  count = local.create_watchdog ? 1 : 0

  name               = local.watchdog_function_name
  description        = "Runs ${local.watchdog_function_name}: finds stale callback records, asks RunPod, resumes or beats Step Functions tasks"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy" "watchdog" {
  count = local.create_watchdog ? 1 : 0

  name   = "${local.watchdog_function_name}-least-privilege"
  role   = aws_iam_role.watchdog[0].id
  policy = data.aws_iam_policy_document.watchdog[0].json
}

# The schedule's own role: it may invoke the watchdog function and nothing else.
data "aws_iam_policy_document" "watchdog_schedule_assume_role" {
  count = local.create_watchdog ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Only schedules of the function's own account may use the role (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "watchdog_schedule" {
  count = local.create_watchdog ? 1 : 0

  statement {
    sid       = "InvokeWatchdog"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.watchdog[0].arn]
  }
}

resource "aws_iam_role" "watchdog_schedule" {
  count = local.create_watchdog ? 1 : 0

  name               = "${local.watchdog_function_name}-schedule"
  description        = "Assumed by the schedule of ${local.watchdog_function_name} to invoke it"
  assume_role_policy = data.aws_iam_policy_document.watchdog_schedule_assume_role[0].json

  tags = local.tags
}

resource "aws_iam_role_policy" "watchdog_schedule" {
  count = local.create_watchdog ? 1 : 0

  name   = "${local.watchdog_function_name}-schedule-invoke"
  role   = aws_iam_role.watchdog_schedule[0].id
  policy = data.aws_iam_policy_document.watchdog_schedule[0].json
}

################################################################################
# Canceller (optional)
################################################################################

data "aws_iam_policy_document" "canceller" {
  count = local.create_canceller ? 1 : 0

  source_policy_documents = [
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.tracing.json,
    data.aws_iam_policy_document.runpod_api_key[0].json,
  ]

  statement {
    sid       = "FindRecordsOfAnExecution"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.this.arn}/index/execution_arn"]
  }

  statement {
    sid       = "ExpireCallbackRecords"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.canceller[0].arn}:*"]
  }
}

resource "aws_iam_role" "canceller" {
  count = local.create_canceller ? 1 : 0

  name               = local.canceller_function_name
  description        = "Runs ${local.canceller_function_name}: finds a stopped execution's callback records, cancels their RunPod jobs"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy" "canceller" {
  count = local.create_canceller ? 1 : 0

  name   = "${local.canceller_function_name}-least-privilege"
  role   = aws_iam_role.canceller[0].id
  policy = data.aws_iam_policy_document.canceller[0].json
}

################################################################################
# The caller's state machines (output state_machine_policy_json)
################################################################################

# With large outputs, a state machine reads the results in S3 (e.g. a Distributed Map's ItemReader).
data "aws_iam_policy_document" "large_outputs_read" {
  dynamic "statement" {
    for_each = local.large_outputs_objects_arns

    content {
      sid       = "ReadLargeOutputs"
      actions   = ["s3:GetObject"]
      resources = [statement.value]

      dynamic "condition" {
        for_each = local.create_large_outputs_bucket ? [local.account_id] : []

        content {
          test     = "StringEquals"
          variable = "s3:ResourceAccount"
          values   = [condition.value]
        }
      }
    }
  }

  dynamic "statement" {
    for_each = local.large_outputs_kms_key_arns

    content {
      sid       = "DecryptLargeOutputs"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# With the submit function, the state machine invokes it and the function writes the records;
# without it, the state machine's own waiting Task stores each record (dynamodb:putItem).
data "aws_iam_policy_document" "state_machine" {
  source_policy_documents = concat(
    local.create_submit ? [] : [data.aws_iam_policy_document.table_key.json],
    [data.aws_iam_policy_document.large_outputs_read.json],
  )

  dynamic "statement" {
    for_each = local.create_submit ? [] : [aws_dynamodb_table.this.arn]

    content {
      sid       = "WriteCallbackRecords"
      actions   = ["dynamodb:PutItem"]
      resources = [statement.value]
    }
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

provider "aws" {
  region = var.region
}

resource "aws_secretsmanager_secret" "runpod_api_key" {
  #checkov:skip=CKV_AWS_149:The example keeps the AWS-managed key; pass runpod_api_key_kms_key_arn to the module when you use your own.
  #checkov:skip=CKV2_AWS_57:RunPod keys are rotated in RunPod's console; rotate the secret's value with them.
  name                    = "${var.prefix}-runpod-api-key"
  description             = "RunPod API key for ${var.prefix}-runpod-submit"
  recovery_window_in_days = var.secret_recovery_window_in_days
}

# The key is write-only: Terraform sends it to Secrets Manager and keeps it in neither the plan
# nor the state (the variable is ephemeral). It is written when the version changes.
resource "aws_secretsmanager_secret_version" "runpod_api_key" {
  secret_id                = aws_secretsmanager_secret.runpod_api_key.id
  secret_string_wo         = var.runpod_api_key
  secret_string_wo_version = var.runpod_api_key_version
}

module "runpod_webhook" {
  source = "../.."

  prefix                    = var.prefix
  create_submit_function    = true # the secret's ARN is only known once it exists
  runpod_api_key_secret_arn = aws_secretsmanager_secret.runpod_api_key.arn
  large_outputs             = { enabled = true } # results over 256 KiB go to S3 (output_s3)
  # A stopped execution's RunPod job is cancelled within seconds, not at the watchdog's next sweep.
  # By name prefix: the state machine's ARN would make a cycle (it names the submit function).
  cancel_on_stop                     = { state_machine_name_prefixes = ["${var.prefix}-upscale-segment"] }
  gpu_price_per_second               = var.gpu_price_per_second
  create_api_gateway_cloudwatch_role = var.create_api_gateway_cloudwatch_role
  tags                               = { Project = "video-upscaling" }
}

locals {
  # One Task state runs the job: the submit function stores the token and submits; the task
  # waits for RunPod's webhook. It times out a minute after RunPod's own ttl. While the job runs
  # the module's watchdog heartbeats the task every schedule period (rate(2 minutes) by default):
  # HeartbeatSeconds of three periods notices a dead job, or a dead watchdog, in minutes.
  definition = {
    Comment = "Upscale one video segment on RunPod"
    StartAt = "UpscaleOnRunPod"
    States = {
      UpscaleOnRunPod = {
        Type     = "Task"
        Resource = "arn:aws:states:::lambda:invoke.waitForTaskToken"
        Parameters = {
          FunctionName = module.runpod_webhook.submit_function_arn
          Payload = {
            "task_token.$"       = "$$.Task.Token"
            endpoint_id          = var.runpod_endpoint_id
            "input.$"            = "$.input"
            "exec_id.$"          = "$$.Execution.Name"
            "segment_filename.$" = "$.segment_filename"
            "execution_arn.$"    = "$$.Execution.Id" # for the canceller
            policy               = { ttl = var.runpod_job_ttl_ms }
          }
        }
        TimeoutSeconds   = ceil(var.runpod_job_ttl_ms / 1000) + 60
        HeartbeatSeconds = 360
        # RunPod admits 1,000 /run per 10 s per endpoint: a Map of thousands meets its 429s.
        # Full jitter spreads the retries so they do not come back in lockstep; 20 attempts
        # capped at 60 s outlast a burst of 10,000 on one endpoint (docs/scale.md).
        Retry = [
          {
            ErrorEquals     = ["RunPod.SubmitThrottled"]
            IntervalSeconds = 2
            BackoffRate     = 2
            MaxDelaySeconds = 60
            MaxAttempts     = 20
            JitterStrategy  = "FULL"
          },
          {
            ErrorEquals     = ["RunPod.SubmitFailed"]
            IntervalSeconds = 10
            BackoffRate     = 2
            MaxAttempts     = 2
            JitterStrategy  = "FULL"
          },
        ]
        Catch = [{
          ErrorEquals = [
            "RunPod.SubmitRejected", "RunPod.SubmitThrottled", "RunPod.SubmitFailed",
            "RunPod.InvalidRequest", "RunPod.FAILED", "RunPod.CANCELLED", "RunPod.TIMED_OUT",
            "RunPod.OutputTooLarge", "RunPod.OutputNotStored", "RunPod.InvalidOutput",
            "RunPod.JobLost", "States.Timeout", "States.HeartbeatTimeout",
          ]
          ResultPath = "$.error"
          Next       = "SegmentFailed"
        }]
        Next = "FindResult"
      }
      # RunPod's output is in the task output (`output`) or, when that would pass Step Functions'
      # 256 KiB, in the module's bucket (`output_s3`: bucket, key, uri, size_bytes, sha256).
      FindResult = {
        Type    = "Choice"
        Choices = [{ Variable = "$.output_s3", IsPresent = true, Next = "ResultInS3" }]
        Default = "SegmentUpscaled"
      }
      # Such a result is larger than any state may hold: an aws-sdk:s3:getObject Task would fail
      # with States.DataLimitExceeded. Hand its location to the step that uses it (README.md).
      ResultInS3 = {
        Type = "Pass"
        Parameters = {
          "job_id.$"           = "$.job_id"
          "segment_filename.$" = "$.segment_filename"
          "result_s3.$"        = "$.output_s3"
        }
        Next = "SegmentUpscaled"
      }
      SegmentUpscaled = { Type = "Succeed" }
      SegmentFailed   = { Type = "Fail", Error = "SegmentFailed", Cause = "RunPod did not upscale the segment" }
    }
  }
}

data "aws_iam_policy_document" "state_machine_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.prefix}-upscale-segment"
  assume_role_policy = data.aws_iam_policy_document.state_machine_assume_role.json
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "${var.prefix}-upscale-segment-runpod"
  role   = aws_iam_role.state_machine.id
  policy = module.runpod_webhook.state_machine_policy_json
}

resource "aws_sfn_state_machine" "upscale_segment" {
  #checkov:skip=CKV_AWS_284:X-Ray tracing is left to the caller (module variable tracing_enabled covers the functions).
  #checkov:skip=CKV_AWS_285:Execution history is kept by Step Functions; add a logging_configuration for CloudWatch Logs.
  #checkov:skip=CKV_AWS_364:The example's role is used by this state machine only; add an aws:SourceArn condition in production.
  name       = "${var.prefix}-upscale-segment"
  role_arn   = aws_iam_role.state_machine.arn
  definition = jsonencode(local.definition)

  depends_on = [aws_iam_role_policy.state_machine]
}

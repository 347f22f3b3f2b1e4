# Optional (var.large_outputs): a result over Step Functions' 256 KiB is written to S3 and the task
# gets its location (`output_s3`) instead of failing with RunPod.OutputTooLarge. Without a
# `bucket_name` the module creates the bucket here; with one it writes to the caller's bucket and
# creates nothing. The webhook and the watchdog find the bucket in their environment
# (local.large_outputs_environment); their S3 and KMS statements, and the state machines', are in
# iam.tf.

locals {
  create_large_outputs_bucket = var.large_outputs.enabled && var.large_outputs.bucket_name == null

  # Bucket names are global. <prefix>-runpod-results-<account id>-<region> is unique to this stack
  # (one callback table, so one prefix, per account and region) and predictable: the same stack
  # always names the same bucket, so a policy or a console search can name it before it exists.
  # The account id is read from the table's ARN (no STS call while planning, so plans stay
  # offline-capable); the name is therefore known once the table exists.
  large_outputs_module_bucket_name = join("-", [
    "${var.prefix}-runpod-results", local.account_id, data.aws_region.current.id,
  ])
  # Every account id has 12 digits: the length is known before the account id is.
  large_outputs_module_bucket_name_length = length("${var.prefix}-runpod-results--${data.aws_region.current.id}") + 12

  # The bucket the functions write to, the module's (once created) or the caller's: one or none.
  large_outputs_buckets = (
    local.create_large_outputs_bucket ? aws_s3_bucket.this[*].bucket :
    var.large_outputs.enabled ? [var.large_outputs.bucket_name] : []
  )
  large_outputs_bucket     = one(local.large_outputs_buckets)
  large_outputs_bucket_arn = one([for bucket in local.large_outputs_buckets : "arn:${data.aws_partition.current.partition}:s3:::${bucket}"])
  # What the roles may write and a state machine read: the objects under the prefix, no others.
  large_outputs_objects_arns = [for bucket in local.large_outputs_buckets : "arn:${data.aws_partition.current.partition}:s3:::${bucket}/${var.large_outputs.key_prefix}*"]
  # The key the writers encrypt with and the readers decrypt with: one or none.
  large_outputs_kms_key_arns = var.large_outputs.enabled ? compact([var.large_outputs.kms_key_arn]) : []

  # Added to the webhook's and the watchdog's environment; empty when off, so their environment
  # (and an existing state's plan) stays as it was.
  large_outputs_environment = {
    for name, value in {
      LARGE_OUTPUT_BUCKET = local.large_outputs_bucket
      LARGE_OUTPUT_PREFIX = var.large_outputs.key_prefix
    } : name => value if var.large_outputs.enabled
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would record the functions' PUTs and the state machines' GETs of short-lived copies; CloudTrail data events serve an audit better.
  #checkov:skip=CKV_AWS_144:Each object is a copy of a RunPod result, read within minutes and deleted after expiration_days; a replica in another region would double the cost for nothing to recover.
  #checkov:skip=CKV_AWS_145:SSE-S3 encrypts by default; a customer-managed key is the caller's choice (large_outputs.kms_key_arn).
  #checkov:skip=CKV2_AWS_62:Nothing reacts to a new object: the task output carries its location.
  #checkov:skip=CKV_AWS_21:Versioning off on purpose: a redelivery writes the same key again with the same output, so older versions would only be duplicates kept past the expiry (the task output's sha256 identifies the content).
  count = local.create_large_outputs_bucket ? 1 : 0

  bucket = local.large_outputs_module_bucket_name

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.large_outputs_module_bucket_name_length <= 63
      error_message = "The bucket name <prefix>-runpod-results-<account id>-<region> would be ${local.large_outputs_module_bucket_name_length} characters, over S3's 63: use a shorter prefix, or name your own bucket in large_outputs.bucket_name."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count = local.create_large_outputs_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  # ACLs off: the bucket owner owns every object, access is IAM only.
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  count = local.create_large_outputs_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.this[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count = local.create_large_outputs_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.large_outputs.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.large_outputs.kms_key_arn
    }
    # A bucket key spares a KMS request per object (S3 asks KMS once per bucket key instead).
    bucket_key_enabled = var.large_outputs.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count = local.create_large_outputs_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    id     = "expire-runpod-results"
    status = "Enabled"

    filter {
      prefix = var.large_outputs.key_prefix
    }

    expiration {
      days = var.large_outputs.expiration_days
    }
  }

  # The functions PUT in one request; a multipart upload left anywhere in the bucket is not kept.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "large_outputs_bucket" {
  count = local.create_large_outputs_bucket ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[0].arn, "${aws_s3_bucket.this[0].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = local.create_large_outputs_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  policy = data.aws_iam_policy_document.large_outputs_bucket[0].json

  # After the public access block: S3 aborts one of two concurrent writes (OperationAborted).
  depends_on = [aws_s3_bucket_public_access_block.this]
}

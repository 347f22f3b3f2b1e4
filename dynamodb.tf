resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (var.table.kms_key_arn); the default AWS-owned key still encrypts at rest.
  #checkov:skip=CKV_AWS_28:Point-in-time recovery is on unless the caller turns it off (var.table.point_in_time_recovery defaults to true).
  #checkov:skip=CKV2_AWS_16:On-demand billing scales by itself; auto scaling applies to provisioned tables only.
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "callback_token"
  deletion_protection_enabled = var.table.deletion_protection

  attribute {
    name = "callback_token"
    type = "S"
  }

  attribute {
    name = "pending_shard"
    type = "S"
  }

  attribute {
    name = "created_at"
    type = "S"
  }

  attribute {
    name = "execution_arn"
    type = "S"
  }

  # The watchdog finds stale PENDING records with Queries on this index, never a Scan. Only
  # PENDING records carry `pending_shard` ("0" to "15"), so the index holds them alone, spread
  # over 16 keys: one key value takes about 1,000 writes a second, the index 16 times that.
  # INCLUDE projects what the watchdog reads, nothing of a record's large `result`.
  # hash_key/range_key: hashicorp/aws 6.29.0 deprecates them for `key_schema` blocks, which 5.x
  # lacks; this form is the one both majors accept (6.29+ plans it with a deprecation warning).
  global_secondary_index {
    name               = "pending_shard-created_at"
    hash_key           = "pending_shard"
    range_key          = "created_at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["job_id", "endpoint_id", "task_token", "runpod_forgets_at"]
  }

  # The canceller finds a stopped execution's records by its ARN, never a Scan. Records without
  # `execution_arn` (none given) stay out of it.
  global_secondary_index {
    name               = "execution_arn"
    hash_key           = "execution_arn"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "job_id", "endpoint_id"]
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.table.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = var.table.kms_key_arn != null
    kms_key_arn = var.table.kms_key_arn
  }

  tags = local.tags
}

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

# Copied into each root by tests/terraform/tf_tools.py: the AWS provider pointed at moto. An example
# keeps its own provider block; this file joins it as moto_provider_override.tf and merges into it.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  # moto answers a call it does not implement with HTTP 500, which the provider would retry as
  # transient 25 times with back-off up to 300 s: fail in seconds instead of seeming to hang.
  max_retries = 2
  # S3 on a local endpoint: bucket names in the path, not in the host name (<bucket>.127.0.0.1).
  s3_use_path_style = true

  endpoints {
    apigateway     = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    dynamodb       = var.aws_endpoint
    events         = var.aws_endpoint
    iam            = var.aws_endpoint
    kms            = var.aws_endpoint
    lambda         = var.aws_endpoint
    logs           = var.aws_endpoint
    s3             = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    scheduler      = var.aws_endpoint
    sfn            = var.aws_endpoint
    sts            = var.aws_endpoint
    wafv2          = var.aws_endpoint
  }
}

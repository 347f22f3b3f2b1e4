# The one place that zips lambda/. Offline tests replace this file with a double that sets the
# same locals from a zip they build in Python (see tests/terraform/), so keep nothing else here.
data "archive_file" "lambda" {
  type             = "zip"
  source_dir       = "${path.module}/lambda"
  output_path      = "${path.root}/.terraform/runpod-webhook/${var.prefix}-lambda.zip"
  output_file_mode = "0644"
  excludes         = ["**/__pycache__/**", "**/*.pyc", "**/.mypy_cache/**", "**/.pytest_cache/**"]
}

locals {
  lambda_zip_path = data.archive_file.lambda.output_path
  lambda_zip_hash = data.archive_file.lambda.output_base64sha256
}

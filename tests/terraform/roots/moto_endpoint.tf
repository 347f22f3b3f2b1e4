# Copied into each root by tests/terraform/tf_tools.py, with moto_provider.tf.
variable "aws_endpoint" {
  description = "URL of the moto server standing in for AWS."
  type        = string
}

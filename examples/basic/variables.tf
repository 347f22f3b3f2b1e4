variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "prefix" {
  description = "Prefix of the resource names."
  type        = string
  default     = "dev"
}

variable "create_api_gateway_cloudwatch_role" {
  description = "Let the module set the region's API Gateway CloudWatch Logs role, for an account without one (`aws apigateway get-account` shows no cloudWatchRoleArn). A region-wide setting: see the module's variable of the same name."
  type        = bool
  default     = false
}

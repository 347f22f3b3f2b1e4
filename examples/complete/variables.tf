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

variable "runpod_api_key" {
  description = "RunPod API key, written to Secrets Manager for the submit function and the watchdog. Ephemeral and write-only: it stays out of the plan and the state. Every plan, apply and destroy needs a value, but only the first apply and those that change runpod_api_key_version write it."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "runpod_api_key_version" {
  description = "Change it (1, 2, ...) with a new runpod_api_key to write the new key: Terraform cannot see a change of a write-only value."
  type        = number
  default     = 1
}

variable "secret_recovery_window_in_days" {
  description = "Days Secrets Manager keeps the deleted API key secret restorable, during which its name cannot be used again. 0 (this example's default) deletes it at once, so destroy and apply again work the same day; 7 to 30 for a secret you may need to restore."
  type        = number
  default     = 0

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "secret_recovery_window_in_days must be 0 (delete at once) or 7 to 30."
  }
}

variable "create_api_gateway_cloudwatch_role" {
  description = "Let the module set the region's API Gateway CloudWatch Logs role, for an account without one (`aws apigateway get-account` shows no cloudWatchRoleArn). A region-wide setting: see the module's variable of the same name."
  type        = bool
  default     = false
}

variable "runpod_endpoint_id" {
  description = "RunPod serverless endpoint that processes one segment per job."
  type        = string
}

variable "runpod_job_ttl_ms" {
  description = "RunPod's job ttl in ms; the waiting task times out a little after it."
  type        = number
  default     = 3600000
}

variable "gpu_price_per_second" {
  description = "RunPod's price in USD per second of worker time, by endpoint id, for the jobs' estimated cost (the module's variable of the same name); empty: no estimate."
  type        = map(number)
  default     = {}
}

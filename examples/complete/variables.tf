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
  description = "RunPod API key, stored in Secrets Manager for the submit function."
  type        = string
  sensitive   = true
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

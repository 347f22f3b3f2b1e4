provider "aws" {
  region = var.region
}

module "runpod_webhook" {
  source = "../.."

  prefix = var.prefix
  tags   = { Project = "video-upscaling" }
}

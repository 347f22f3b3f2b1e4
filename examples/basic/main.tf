provider "aws" {
  region = var.region
}

module "runpod_webhook" {
  source = "../.."

  prefix                             = var.prefix
  create_api_gateway_cloudwatch_role = var.create_api_gateway_cloudwatch_role
  tags                               = { Project = "video-upscaling" }
}

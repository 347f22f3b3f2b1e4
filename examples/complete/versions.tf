terraform {
  # Ephemeral variables need 1.10, write-only arguments (secret_string_wo) 1.11. The module
  # itself needs 1.6.
  required_version = ">= 1.11"

  required_providers {
    # secret_string_wo came with hashicorp/aws 5.88.0.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.88"
    }
  }
}

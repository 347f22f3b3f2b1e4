terraform {
  required_version = ">= 1.6"

  required_providers {
    # 5.x and 6.x: nothing either major deprecates is used (test_provider_compatibility.py), but
    # the table index's hash_key/range_key, which 6.29.0 deprecates for key_schema (5.x lacks it).
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

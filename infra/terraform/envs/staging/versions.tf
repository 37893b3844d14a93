terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
  }

  # State holds generated credentials (the database password, the Redis AUTH token and
  # the URLs built from them), so it lives in an encrypted, versioned, private S3 bucket
  # with locking. Create the bucket once by hand (or from a bootstrap stack), then
  # uncomment this block and run `terraform init -migrate-state`.
  # `use_lockfile` needs Terraform 1.10+; on older versions use a DynamoDB table
  # (dynamodb_table = "…") instead.
  #
  # backend "s3" {
  #   bucket       = "<account-id>-solace-terraform-state"
  #   key          = "staging/terraform.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   kms_key_id   = "alias/solace-terraform-state"
  #   use_lockfile = true
  # }
}

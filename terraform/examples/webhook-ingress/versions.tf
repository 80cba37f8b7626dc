terraform {
  required_version = ">= 1.11.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.29, < 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }

  # Terraform 1.11 or later: the secret parameters are created through write-only arguments (1.11), the
  # S3 backend's use_lockfile needs 1.10, a validation naming another variable 1.9. Written for Terraform
  # 1.11 to 1.15 and the AWS provider 6.29 to 6.x (docs/deploy.md, Versions).
  #
  # Keep the state in S3 for real use: uncomment, fill in, `terraform init`. Nobody but whoever runs
  # terraform needs to read it (CI reads /<name>/lambroll-env), and it holds no secret value.
  # backend "s3" {
  #   bucket       = "my-tfstate"
  #   key          = "webhook-ingress/terraform.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "webhook-ingress", Deployment = var.name }, var.tags)
  }
}

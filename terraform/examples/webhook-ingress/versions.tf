terraform {
  required_version = ">= 1.10.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.28, < 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }

  # Terraform 1.10 or later: the cross-variable validation of slack_channel_id needs 1.9, the S3
  # backend's use_lockfile (below) 1.10. Written for Terraform 1.10 to 1.15 and the AWS provider 6.28 to
  # 6.x (docs/deploy.md, Versions).
  #
  # Keep the state in S3 for real use (and let CI read the outputs): uncomment, fill in, `terraform init`.
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
    tags = merge({ Project = "webhook-ingress", Source = var.source_name }, var.tags)
  }
}

terraform {
  required_version = ">= 1.5.0"
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

  # Configure a remote backend for real use, e.g.:
  # backend "s3" { bucket = "my-tfstate" key = "webhook-ingress/terraform.tfstate" region = "eu-west-1" use_lockfile = true }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "webhook-ingress", Source = var.source_name }, var.tags)
  }
}

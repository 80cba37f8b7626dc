terraform {
  required_version = ">= 1.11.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.29, < 7.0"
    }
    newrelic = {
      source  = "newrelic/newrelic"
      version = ">= 3.40, < 4.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "webhook-ingress", Deployment = var.name }
  }
}

# NEW_RELIC_API_KEY (a User key) comes from the environment, never from a file or the state.
provider "newrelic" {
  account_id = var.newrelic_account_id
  region     = var.newrelic_region
}

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

# A SecureString whose value never enters the Terraform state. Terraform creates it with a placeholder
# through the write-only argument `value_wo` (the provider stores no value for it, on create or on any
# later refresh) and then never touches it again (`ignore_changes = all`); the operator sets the real
# value with `aws ssm put-parameter --overwrite`. With create = false the parameter is one that already
# exists (set outside Terraform, e.g. adopted from an earlier layout): only its name and ARN are used.
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # The value `outboxctl status` recognises as never set (outboxctl/src/status.rs SECRET_PLACEHOLDER).
  placeholder = "placeholder-set-with-aws-ssm-put-parameter-overwrite"
}

resource "aws_ssm_parameter" "this" {
  count            = var.create ? 1 : 0
  name             = var.name
  description      = var.description
  type             = "SecureString"
  key_id           = var.kms_key_arn
  value_wo         = local.placeholder
  value_wo_version = 1
  tags             = var.tags

  # Created once; the value, the key and everything else then belong to the operator. An update would
  # put `value` (never stored) back: nothing may trigger one.
  lifecycle {
    ignore_changes = all
  }
}

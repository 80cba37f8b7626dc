# The provider's signing secret: a SecureString under its own CMK. Terraform creates it with a placeholder
# and never touches the value again; the operator sets it with `aws ssm put-parameter --overwrite`.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_kms_key" "secret" {
  description             = "Encrypts the webhook signing secret ${var.name}."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountIamPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags
}

resource "aws_kms_alias" "secret" {
  name          = "alias/${trim(replace(var.name, "/", "-"), "-")}"
  target_key_id = aws_kms_key.secret.key_id
}

resource "aws_ssm_parameter" "secret" {
  name        = var.name
  description = var.description
  type        = "SecureString"
  key_id      = aws_kms_key.secret.arn
  value       = "placeholder-set-with-aws-ssm-put-parameter-overwrite"
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

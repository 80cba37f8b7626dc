# What every webhook source of one deployment shares: the outbox table (one row key space, `<source>:*`),
# the KMS keys (table and bodies, secrets, logs, alarm topic), the large-body bucket and the alarm topic.
# Each source (modules/webhook-source) takes them through output `for_sources`, so a second source adds
# no table, no key and no topic (docs/COST.md).

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # The account's IAM policies decide who may use a key; each key's own grants follow.
  account_root_statement = {
    Sid       = "AccountIamPolicies"
    Effect    = "Allow"
    Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
    Action    = "kms:*"
    Resource  = "*"
  }
}

module "outbox" {
  source              = "../outbox-table"
  name                = "${var.name}-outbox"
  deletion_protection = var.table_deletion_protection
  tags                = var.tags

  warm_write_units_per_second       = var.table_warm_write_units_per_second
  index_warm_write_units_per_second = var.index_warm_write_units_per_second
}

module "large_bodies" {
  source                 = "../large-body-bucket"
  name_prefix            = "${substr(var.name, 0, 30)}-body-"
  kms_key_arn            = module.outbox.kms_key_arn
  expire_sent_after_days = var.large_body_expire_after_days
  tags                   = var.tags
}

# Every source's signing secret and provider API credential (SSM SecureStrings). Each role may decrypt
# only its own parameters: the grants name them by the encryption context SSM sets (PARAMETER_ARN).
resource "aws_kms_key" "secrets" {
  description             = "Encrypts the webhook signing secrets and provider API credentials of ${var.name}."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = jsonencode({ Version = "2012-10-17", Statement = [local.account_root_statement] })
  tags                    = var.tags
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

# Every function's log group, and only those of this deployment (`/aws/lambda/<name>-*`).
resource "aws_kms_key" "logs" {
  description             = "Encrypts the CloudWatch log groups of ${var.name}."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.account_root_statement,
      {
        Sid       = "CloudWatchLogsOwnGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-*"
          }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

module "alarm_topic" {
  source             = "../alarm-topic"
  name               = "${var.name}-alarms"
  email_addresses    = var.alarm_emails
  https_endpoints    = var.alarm_https_endpoints
  slack_workspace_id = var.slack_workspace_id
  slack_channel_id   = var.slack_channel_id
  chatbot_region     = var.chatbot_region
  alarm_name_prefix  = "${var.name}-"
  tags               = var.tags
}

# One encrypted SNS topic for every alarm, and its destinations: e-mail addresses, HTTPS endpoints (PagerDuty,
# Opsgenie) and a Slack channel (AWS Chatbot / Amazon Q Developer in chat applications); see docs/deploy.md.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_kms_key" "topic" {
  description             = "Encrypts the alarm topic ${var.name}."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # This account's CloudWatch alarms publish to the encrypted topic; no other account's may use
        # the key through CloudWatch.
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:*:${data.aws_caller_identity.current.account_id}:alarm:*" }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "topic" {
  name          = "alias/${var.name}-sns"
  target_key_id = aws_kms_key.topic.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = var.name
  kms_master_key_id = aws_kms_key.topic.arn
  tags              = var.tags
}

# Only this account's CloudWatch alarms may publish.
resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudWatchAlarmsPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  })
}

# E-mail: each address gets a confirmation mail and receives nothing until its owner confirms.
resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.email_addresses)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# HTTPS: an incident tool's SNS integration URL (PagerDuty, Opsgenie), which confirms the subscription
# itself. The URLs carry the integration key, so they are sensitive: counted, not keyed by value.
resource "aws_sns_topic_subscription" "https" {
  count                  = nonsensitive(length(var.https_endpoints))
  topic_arn              = aws_sns_topic.alarms.arn
  protocol               = "https"
  endpoint               = var.https_endpoints[count.index]
  endpoint_auto_confirms = true
}

# Optional: the alarms in a Slack channel (AWS Chatbot), where the team reads them. Created only when
# both Slack ids are set; the workspace must be authorised once in the AWS Chatbot console.
locals {
  slack = var.slack_workspace_id != null && var.slack_channel_id != null ? 1 : 0
  # Every destination, for output destinations (the example's plan says when there is none).
  destinations = concat(
    [for address in var.email_addresses : "email ${address}"],
    [for i in range(nonsensitive(length(var.https_endpoints))) : "https endpoint ${i + 1}"],
    local.slack == 1 ? ["slack channel ${var.slack_channel_id} (AWS Chatbot, ${var.chatbot_region})"] : [],
  )
}

data "aws_iam_policy_document" "chatbot_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["chatbot.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# What the channel's members may look at from Slack: this deployment's alarms and the graphs of their
# metrics. No logs (CloudWatchReadOnlyAccess would read every log group in the account) and nothing
# that changes anything. GetMetricData and GetMetricWidgetImage take no resource: "*" is all IAM allows.
data "aws_iam_policy_document" "chatbot" {
  statement {
    sid       = "DeploymentAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"]
    resources = ["arn:${data.aws_partition.current.partition}:cloudwatch:*:${data.aws_caller_identity.current.account_id}:alarm:${var.alarm_name_prefix}*"]
  }
  statement {
    sid       = "AlarmGraphs"
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricWidgetImage"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "chatbot" {
  count       = local.slack
  name        = "${var.name}-chatbot-read-alarms"
  description = "AWS Chatbot in Slack: read ${var.alarm_name_prefix}* alarms and their graphs, nothing else."
  policy      = data.aws_iam_policy_document.chatbot.json
  tags        = var.tags
}

resource "aws_iam_role" "chatbot" {
  count              = local.slack
  name               = "${var.name}-chatbot"
  assume_role_policy = data.aws_iam_policy_document.chatbot_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "chatbot" {
  count      = local.slack
  role       = aws_iam_role.chatbot[0].name
  policy_arn = aws_iam_policy.chatbot[0].arn
}

# AWS Chatbot's API exists in a few regions only (var.chatbot_region); the configuration lives there and
# reads the topic in any region.
resource "aws_chatbot_slack_channel_configuration" "alarms" {
  count              = local.slack
  region             = var.chatbot_region
  configuration_name = var.name
  iam_role_arn       = aws_iam_role.chatbot[0].arn
  slack_team_id      = var.slack_workspace_id
  slack_channel_id   = var.slack_channel_id
  sns_topic_arns     = [aws_sns_topic.alarms.arn]
  # The guardrail caps what any channel member's own role may do from Slack: the same as the role.
  guardrail_policy_arns = [aws_iam_policy.chatbot[0].arn]
  logging_level         = "ERROR"
  tags                  = var.tags
}

# Main queue + DLQ with redrive, both encrypted with SQS-managed SSE (no CMK: producers then need no KMS
# permission, which keeps the ingress and sweeper policies at exactly the actions their code calls).
# A FIFO pair (var.fifo) gets the ".fifo" suffix SQS requires on both names; a FIFO queue's DLQ must be
# FIFO too. Deduplication ids come from the code (the outbox key), never from the body's content.
resource "aws_sqs_queue" "dlq" {
  name                      = var.fifo ? "${var.name}-dlq.fifo" : "${var.name}-dlq"
  fifo_queue                = var.fifo
  message_retention_seconds = var.dlq_message_retention_seconds
  max_message_size          = var.max_message_size
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "main" {
  name                       = var.fifo ? "${var.name}.fifo" : var.name
  fifo_queue                 = var.fifo
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  max_message_size           = var.max_message_size
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

# Only the main queue may use the DLQ as its dead-letter target.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}

# Who may send: the main queue takes messages only from sender_arns (the deployment's functions and
# the on-call repair roles), so a message on it is known to come from the pipeline; nothing sends to the
# DLQ (SQS moves a message there itself, after maxReceiveCount receives). Deny statements: an identity
# policy elsewhere in the account that allows sqs:SendMessage on "*" cannot override them.
data "aws_iam_policy_document" "main" {
  statement {
    sid       = "OnlyThePipelineSends"
    effect    = "Deny"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.main.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = var.sender_arns
    }
  }
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "NobodySendsToTheDlq"
    effect    = "Deny"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_sqs_queue_policy" "main" {
  queue_url = aws_sqs_queue.main.id
  policy    = data.aws_iam_policy_document.main.json
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}

# One entry per alarm, named "<var.name>-<name>"; an entry sets only what differs from alarm_defaults.
# The list order is the order of output alarm_arns.
locals {
  alarm_defaults = {
    dimensions          = { QueueName = aws_sqs_queue.main.name }
    evaluation_periods  = 5
    datapoints_to_alarm = 5
  }

  alarms = [
    {
      name        = "oldest-message-age"
      description = "Queue ${var.name}: the oldest message has waited too long. Workers are slow, stopped or failing (check their receive/delete rates). First: `${var.outboxctl_command} status` (visible and in-flight messages). Runbook: ${var.runbook_url}#oldest-message-age"
      metric      = "ApproximateAgeOfOldestMessage"
      threshold   = var.oldest_message_age_threshold_seconds
    },
    {
      name        = "visible-messages"
      description = "Queue ${var.name}: backlog of visible messages. Workers cannot keep up or are stopped. First: `${var.outboxctl_command} status`. Runbook: ${var.runbook_url}#visible-messages"
      metric      = "ApproximateNumberOfMessagesVisible"
      threshold   = var.visible_messages_threshold
    },
    {
      name                = "dlq-not-empty"
      description         = "DLQ ${var.name}-dlq holds at least one message: a worker failed it ${var.max_receive_count} times. First: `${var.outboxctl_command} ${var.outboxctl_dlq} list` (event ids for the workers' owners); once the workers are fixed, `${var.outboxctl_command} ${var.outboxctl_dlq} redrive --yes`. Runbook: ${var.runbook_url}#dlq-not-empty"
      metric              = "ApproximateNumberOfMessagesVisible"
      dimensions          = { QueueName = aws_sqs_queue.dlq.name }
      evaluation_periods  = 1
      datapoints_to_alarm = null # = evaluation_periods
      threshold           = 1
    },
  ]
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = { for a in local.alarms : a.name => merge(local.alarm_defaults, a) }

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = length(each.value.description) <= 1024
      error_message = "The description of alarm ${var.name}-${each.key} is ${length(each.value.description)} characters, over CloudWatch's 1,024: shorten runbook_url or outboxctl_command."
    }
  }
}

# The alarms were single resources before: move their state instead of destroying and recreating them.
moved {
  from = aws_cloudwatch_metric_alarm.oldest_message_age
  to   = aws_cloudwatch_metric_alarm.this["oldest-message-age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.visible_messages
  to   = aws_cloudwatch_metric_alarm.this["visible-messages"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq_visible_messages
  to   = aws_cloudwatch_metric_alarm.this["dlq-not-empty"]
}

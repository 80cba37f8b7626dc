# Alarms on the functions' EMF metrics (DESIGN.md sections 7 and 8), all to the one alarm topic.

resource "aws_cloudwatch_metric_alarm" "oldest_pending_age" {
  alarm_name          = "${var.name}-outbox-oldest-pending-age"
  alarm_description   = "Outbox: an accepted event has not reached the queue for too long. The sweeper is failing to send (SQS errors, permissions) or not running. Check the sweeper's logs and `outboxctl status`."
  namespace           = var.metrics_namespace
  metric_name         = "OldestPendingAgeSeconds"
  dimensions          = { Source = var.source_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.oldest_pending_age_threshold_seconds
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "parked" {
  alarm_name          = "${var.name}-outbox-parked"
  alarm_description   = "Outbox: the sweeper parked at least one event after MAX_ATTEMPTS failed re-sends. It will not be retried automatically: `outboxctl list --status parked`, fix the cause, then `outboxctl resend`."
  namespace           = var.metrics_namespace
  metric_name         = "Parked"
  dimensions          = { Source = var.source_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ingress_failed" {
  alarm_name          = "${var.name}-ingress-failed"
  alarm_description   = "Ingress answered 500: an event could be written neither to the outbox nor to the queue. The provider retries; if it persists, DynamoDB and SQS are both failing for the function (check its logs)."
  namespace           = var.metrics_namespace
  metric_name         = "Failed"
  dimensions          = { Source = var.source_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "sweeper_not_running" {
  alarm_name          = "${var.name}-sweeper-not-running"
  alarm_description   = "The sweeper has not been invoked for 10 minutes: the schedule is disabled or its role cannot invoke the function. Pending events are not being re-sent."
  namespace           = "AWS/Lambda"
  metric_name         = "Invocations"
  dimensions          = { FunctionName = var.sweeper_function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

locals {
  alarm_resources = [
    aws_cloudwatch_metric_alarm.oldest_pending_age,
    aws_cloudwatch_metric_alarm.parked,
    aws_cloudwatch_metric_alarm.ingress_failed,
    aws_cloudwatch_metric_alarm.sweeper_not_running,
  ]
}

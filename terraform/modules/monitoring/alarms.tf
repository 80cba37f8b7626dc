# Alarms on the functions' EMF metrics, all to the one alarm topic.
# One entry per alarm, named "<var.name>-<name>"; an entry sets only what differs from alarm_defaults.
# The list order is the order of the dashboard's alarm widget and of output alarm_arns.

locals {
  alarm_defaults = {
    namespace           = var.metrics_namespace
    dimensions          = { Source = var.source_name }
    statistic           = "Sum"
    period              = 60
    datapoints_to_alarm = null # = evaluation_periods
    threshold           = 1
    comparison          = "GreaterThanOrEqualToThreshold"
    treat_missing_data  = "notBreaching"
  }

  alarms = [
    {
      name                = "outbox-oldest-pending-age"
      description         = "Outbox: for 3 of the last 5 minutes an accepted event has waited >= ${var.oldest_pending_age_threshold_seconds} s to reach the queue, or the sweeper reported nothing (it emits this metric on every sweep, so missing data is breaching). The sweeper cannot send (SQS errors, permissions, throttling) or is not running; events are safe in the outbox. First: `${var.outboxctl_command} status`, then `${var.outboxctl_command} list --status pending`. Runbook: ${var.runbook_url}#outbox-oldest-pending-age"
      metric              = "OldestPendingAgeSeconds"
      statistic           = "Maximum"
      evaluation_periods  = 5
      datapoints_to_alarm = 3
      threshold           = var.oldest_pending_age_threshold_seconds
      # Every sweep emits the metric (0 when nothing is pending): no data means no sweep finished.
      treat_missing_data = "breaching"
    },
    {
      name               = "outbox-parked"
      description        = "Outbox (source ${var.source_name}): parked events exist (ParkedCount, measured by every sweep; the alarm stays on until none is left). The sweeper gave up on them after MAX_ATTEMPTS failed re-sends; a parked event is never retried automatically and never expires. First: `${var.outboxctl_command} list --status parked` (each row's last error); fix the cause, then `${var.outboxctl_command} resend --status parked --yes`. Runbook: ${var.runbook_url}#outbox-parked"
      metric             = "ParkedCount"
      statistic          = "Maximum"
      period             = 300
      evaluation_periods = 1
      threshold          = 0
      comparison         = "GreaterThanThreshold"
      # A gauge: no sweep, no datapoint, which says nothing about parked rows (sweeper-not-running and
      # outbox-oldest-pending-age cover a stopped sweeper). Keep the last state.
      treat_missing_data = "ignore"
    },
    {
      name                = "ingress-failed"
      description         = "Ingress answered 500: an event could be written neither to the outbox nor to the queue. The provider retries; if it persists, DynamoDB and SQS are both failing for the function (check its logs). First: `${var.outboxctl_command} status`, then `${var.outboxctl_command} send-test`. Runbook: ${var.runbook_url}#ingress-failed"
      metric              = "Failed"
      evaluation_periods  = 5
      datapoints_to_alarm = 1
    },
    {
      name                = "ingress-outbox-write-failed"
      description         = "Ingress could not write the outbox row (DynamoDB PutItem failed) and sent the event to the queue without one: the event was delivered, but without the outbox's guarantee, and on-call cannot list or replay it. DynamoDB is failing, throttling or denying the function (permissions, KMS key). First: `${var.outboxctl_command} status`, then the ingress log's warnings. Runbook: ${var.runbook_url}#ingress-outbox-write-failed"
      metric              = "OutboxWriteFailed"
      evaluation_periods  = 5
      datapoints_to_alarm = 1
    },
    {
      name               = "ingress-rejected-burst"
      description        = "Ingress rejected at least ${var.rejected_burst_threshold} requests in ${var.rejected_burst_period_seconds / 60} minutes (Rejected: 404 for a missing or wrong signature, also 405 and 413). Usually the signing secret differs between the provider and SSM: the placeholder Terraform created was never replaced, or a rotation changed one side only; every delivery is then rejected and the provider retries until it gives up. Otherwise a client probing the URL. First: `${var.outboxctl_command} status` (says whether the secret is still the placeholder), then `${var.outboxctl_command} send-test` (200 means the deployed secret works: the provider has another one). Runbook: ${var.runbook_url}#ingress-rejected-burst"
      metric             = "Rejected"
      period             = var.rejected_burst_period_seconds
      evaluation_periods = 1
      threshold          = var.rejected_burst_threshold
    },
    {
      name               = "sweeper-not-running"
      description        = "The sweeper has not been invoked for 10 minutes: the schedule is disabled or its role cannot invoke the function. Pending events are not being re-sent. First: `${var.outboxctl_command} status` (pending rows and their age). Runbook: ${var.runbook_url}#sweeper-not-running"
      namespace          = "AWS/Lambda"
      metric             = "Invocations"
      dimensions         = { FunctionName = var.sweeper_function_name }
      period             = 300
      evaluation_periods = 2
      comparison         = "LessThanThreshold"
      treat_missing_data = "breaching"
    },
  ]

  alarm_arns = concat(
    [for a in local.alarms : aws_cloudwatch_metric_alarm.this[a.name].arn],
    [aws_cloudwatch_metric_alarm.rejected_rate.arn],
    aws_cloudwatch_metric_alarm.accepted_drop[*].arn,
  )

  # Both detection alarms end at the backfill: the events the provider emitted meanwhile never reached
  # the outbox, and only the provider's API can say which.
  backfill_command = "${var.outboxctl_command} backfill --provider ${coalesce(var.backfill_provider, "stripe|github|gitlab|paddle")} --since <when it started>"
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = { for a in local.alarms : a.name => merge(local.alarm_defaults, a) }

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.treat_missing_data
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
  from = aws_cloudwatch_metric_alarm.oldest_pending_age
  to   = aws_cloudwatch_metric_alarm.this["outbox-oldest-pending-age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.parked
  to   = aws_cloudwatch_metric_alarm.this["outbox-parked"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ingress_failed
  to   = aws_cloudwatch_metric_alarm.this["ingress-failed"]
}

moved {
  from = aws_cloudwatch_metric_alarm.sweeper_not_running
  to   = aws_cloudwatch_metric_alarm.this["sweeper-not-running"]
}

# A sudden run of rejections (404: a missing or wrong signature) among the requests: a signing secret
# rotated on one side only. Metric math on the two EMF counts; a window with few requests is not judged.
locals {
  rejected_rate_description = "Ingress rejected >= ${var.rejected_rate_percent} % of the requests in 5 minutes (Rejected / Received, with at least ${var.rejected_rate_min_requests} requests): the signing secret differs between the provider and SSM (a rotation done on one side), so the provider's deliveries fail and it retries until it gives up. First: `${var.outboxctl_command} send-test` (200: the deployed secret works, the provider signs with another one); once fixed, recover what the provider gave up on: `${local.backfill_command} --yes`. Runbook: ${var.runbook_url}#ingress-rejected-rate"
}

resource "aws_cloudwatch_metric_alarm" "rejected_rate" {
  alarm_name          = "${var.name}-ingress-rejected-rate"
  alarm_description   = local.rejected_rate_description
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 1
  threshold           = var.rejected_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = length(local.rejected_rate_description) <= 1024
      error_message = "The description of alarm ${var.name}-ingress-rejected-rate is over CloudWatch's 1,024 characters: shorten runbook_url or outboxctl_command."
    }
  }

  metric_query {
    id          = "rate"
    label       = "Rejected %"
    expression  = "IF(received >= ${var.rejected_rate_min_requests}, 100 * rejected / received, 0)"
    return_data = true
  }
  metric_query {
    id = "rejected"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "Rejected"
      dimensions  = { Source = var.source_name }
      stat        = "Sum"
      period      = 300
    }
  }
  metric_query {
    id = "received"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "Received"
      dimensions  = { Source = var.source_name }
      stat        = "Sum"
      period      = 300
    }
  }
}

# The source's Accepted volume far below its usual level (anomaly detection band): deliveries stopped
# reaching the ingress. No datapoint is no accepted event at all, the deepest drop: breaching.
locals {
  accepted_drop_description = "Ingress accepted far fewer events than usual for 15 minutes (Accepted below the anomaly detection band's lower edge, ${var.accepted_anomaly_band_width} standard deviations): the provider's deliveries are not reaching the ingress (DNS, certificate, endpoint disabled on the provider's side) or are rejected. First: `${var.outboxctl_command} status`, then the provider's delivery log; once deliveries arrive again, recover the gap: `${local.backfill_command} --yes`. Runbook: ${var.runbook_url}#ingress-accepted-drop"
}

resource "aws_cloudwatch_metric_alarm" "accepted_drop" {
  count = var.accepted_anomaly_alarm ? 1 : 0

  alarm_name          = "${var.name}-ingress-accepted-drop"
  alarm_description   = local.accepted_drop_description
  comparison_operator = "LessThanLowerThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold_metric_id = "band"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = length(local.accepted_drop_description) <= 1024
      error_message = "The description of alarm ${var.name}-ingress-accepted-drop is over CloudWatch's 1,024 characters: shorten runbook_url or outboxctl_command."
    }
  }

  metric_query {
    id          = "band"
    label       = "Accepted (usual range)"
    expression  = "ANOMALY_DETECTION_BAND(accepted, ${var.accepted_anomaly_band_width})"
    return_data = true
  }
  metric_query {
    id          = "accepted"
    return_data = true
    metric {
      namespace   = var.metrics_namespace
      metric_name = "Accepted"
      dimensions  = { Source = var.source_name }
      stat        = "Sum"
      period      = 300
    }
  }
}

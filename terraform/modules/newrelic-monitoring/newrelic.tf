# The New Relic side: a dashboard (the flow as a Mermaid diagram, then links, then each source's metrics
# in the order data flows), alerts to Slack on Lambda errors and throttles, queue age and depth and any
# DLQ message, and two service levels per source that measure what the team's latency SLO never did.

locals {
  sources = { for s in var.sources : s.source_name => s }
  console = "https://${local.region}.console.aws.amazon.com"

  mermaid = <<-EOT
    ```mermaid
    flowchart LR
      P[webhook provider] -->|POST, signed| U[Function URL]
      U --> I[ingress Lambda]
      I -->|PutItem pending| O[(DynamoDB outbox)]
      I -->|SendMessage| Q[SQS queue]
      O -.->|pending rows| S[sweeper Lambda, every minute]
      S -->|re-sends| Q
      Q --> W[PHP workers]
      Q -->|maxReceiveCount| D[DLQ]
    ```
  EOT

  links = join("\n", concat(
    [for title, url in var.links : "- [${title}](${url})"],
    flatten([for s in var.sources : [
      "- **${s.source_name}**: [ingress](${local.console}/lambda/home?region=${local.region}#/functions/${s.ingress_function_name}) · [sweeper](${local.console}/lambda/home?region=${local.region}#/functions/${s.sweeper_function_name}) · ${join(" · ", [for q in s.queues : "[${q.label} queue](${local.console}/sqs/v3/home?region=${local.region}#/queues) `${q.queue_name}`, DLQ `${q.dlq_name}`"])} · runbook `${s.runbook_url}` · `${s.outboxctl_command} status`",
    ]]),
  ))

  # NRQL pieces: metric-stream data (Metric) for Lambda and SQS, the EMF lines (Log) for the functions' own.
  in_list = { for s in var.sources : s.source_name => {
    functions = "('${s.ingress_function_name}', '${s.sweeper_function_name}')"
    queues    = "(${join(", ", [for q in s.queues : "'${q.queue_name}'"])})"
    dlqs      = "(${join(", ", [for q in s.queues : "'${q.dlq_name}'"])})"
  } }

  # Each source's rows: Lambda, then its queues and DLQs, then its own (EMF) view. In flow order.
  rows_per_source = 9
  line_widgets = flatten([for i, s in var.sources : [
    for j, w in [
      { title = "Lambda Invocations", query = "SELECT sum(aws.lambda.Invocations) FROM Metric WHERE aws.lambda.FunctionName IN ${local.in_list[s.source_name].functions} FACET aws.lambda.FunctionName TIMESERIES" },
      { title = "Lambda Duration (ms)", query = "SELECT average(aws.lambda.Duration), max(aws.lambda.Duration) FROM Metric WHERE aws.lambda.FunctionName IN ${local.in_list[s.source_name].functions} FACET aws.lambda.FunctionName TIMESERIES" },
      { title = "Lambda Errors", query = "SELECT sum(aws.lambda.Errors) FROM Metric WHERE aws.lambda.FunctionName IN ${local.in_list[s.source_name].functions} FACET aws.lambda.FunctionName TIMESERIES" },
      { title = "Lambda Throttles", query = "SELECT sum(aws.lambda.Throttles) FROM Metric WHERE aws.lambda.FunctionName IN ${local.in_list[s.source_name].functions} FACET aws.lambda.FunctionName TIMESERIES" },
      { title = "SQS SentMessages / ReceivedMessages / DeletedMessages", query = "SELECT sum(aws.sqs.NumberOfMessagesSent) AS 'SentMessages', sum(aws.sqs.NumberOfMessagesReceived) AS 'ReceivedMessages', sum(aws.sqs.NumberOfMessagesDeleted) AS 'DeletedMessages' FROM Metric WHERE aws.sqs.QueueName IN ${local.in_list[s.source_name].queues} FACET aws.sqs.QueueName TIMESERIES" },
      { title = "SQS ApproximateAgeOfOldestMessage (s)", query = "SELECT max(aws.sqs.ApproximateAgeOfOldestMessage) FROM Metric WHERE aws.sqs.QueueName IN ${local.in_list[s.source_name].queues} FACET aws.sqs.QueueName TIMESERIES" },
      { title = "SQS ApproximateNumberOfMessagesVisible / NotVisible", query = "SELECT max(aws.sqs.ApproximateNumberOfMessagesVisible) AS 'visible', max(aws.sqs.ApproximateNumberOfMessagesNotVisible) AS 'not visible' FROM Metric WHERE aws.sqs.QueueName IN ${local.in_list[s.source_name].queues} FACET aws.sqs.QueueName TIMESERIES" },
      { title = "DLQ messages (alert at 1)", query = "SELECT max(aws.sqs.ApproximateNumberOfMessagesVisible) FROM Metric WHERE aws.sqs.QueueName IN ${local.in_list[s.source_name].dlqs} FACET aws.sqs.QueueName TIMESERIES" },
      { title = "Ingress outcomes (EMF)", query = "SELECT sum(Received), sum(Accepted), sum(Rejected), sum(Duplicate), sum(EnqueueDeferred), sum(OutboxWriteFailed), sum(Failed) FROM Log WHERE Source = '${s.source_name}' AND LatencyMs IS NOT NULL TIMESERIES" },
      { title = "Time to a durable answer, LatencyMs (EMF; SLO ${var.latency_slo.target_ms} ms)", query = "SELECT percentile(LatencyMs, 50, 99) FROM Log WHERE Source = '${s.source_name}' AND LatencyMs IS NOT NULL TIMESERIES" },
      { title = "Outbox: pending, oldest pending age (s), parked (EMF)", query = "SELECT max(PendingCount), max(OldestPendingAgeSeconds), max(ParkedCount) FROM Log WHERE Source = '${s.source_name}' AND OldestPendingAgeSeconds IS NOT NULL TIMESERIES" },
      { title = "Sweeper: Resent, ResendFailed, Parked (EMF)", query = "SELECT sum(Resent), sum(ResendFailed), sum(Parked) FROM Log WHERE Source = '${s.source_name}' AND OldestPendingAgeSeconds IS NOT NULL TIMESERIES" },
      ] : {
      title  = "${s.source_name}: ${w.title}"
      row    = 8 + i * local.rows_per_source + floor(j / 4) * 3
      column = 1 + (j % 4) * 3
      query  = w.query
    }
  ]])

  # Alerts: per source, each function's errors and throttles, each queue's age and depth, each DLQ.
  conditions = merge([for s in var.sources : merge(
    { for pair in setproduct(["ingress", "sweeper"], ["Errors", "Throttles"]) : "${s.source_name}-${pair[0]}-${lower(pair[1])}" => {
      name        = "${s.source_name} ${pair[0]} Lambda ${pair[1]}"
      query       = "SELECT sum(aws.lambda.${pair[1]}) FROM Metric WHERE aws.lambda.FunctionName = '${pair[0] == "ingress" ? s.ingress_function_name : s.sweeper_function_name}'"
      threshold   = 1
      occurrences = "at_least_once"
      runbook     = "${s.runbook_url}#${pair[0]}-${lower(pair[1])}"
      first       = pair[1] == "Errors" && pair[0] == "ingress" ? "check whether the provider is retrying (its delivery log), then `${s.outboxctl_command} status`" : "`${s.outboxctl_command} status`"
    } },
    merge([for q in s.queues : {
      "${s.source_name}-${q.label}-queue-age" = {
        name        = "${s.source_name} queue ${q.queue_name} oldest message"
        query       = "SELECT max(aws.sqs.ApproximateAgeOfOldestMessage) FROM Metric WHERE aws.sqs.QueueName = '${q.queue_name}'"
        threshold   = var.thresholds.queue_age_seconds
        occurrences = "all"
        runbook     = "${s.runbook_url}#oldest-message-age"
        first       = "`${s.outboxctl_command} status` (visible and in-flight messages; are the workers running?)"
      }
      "${s.source_name}-${q.label}-queue-depth" = {
        name        = "${s.source_name} queue ${q.queue_name} backlog"
        query       = "SELECT max(aws.sqs.ApproximateNumberOfMessagesVisible) FROM Metric WHERE aws.sqs.QueueName = '${q.queue_name}'"
        threshold   = var.thresholds.queue_visible
        occurrences = "all"
        runbook     = "${s.runbook_url}#visible-messages"
        first       = "`${s.outboxctl_command} status`"
      }
      "${s.source_name}-${q.label}-dlq" = {
        name        = "${s.source_name} DLQ ${q.dlq_name} has messages"
        query       = "SELECT max(aws.sqs.ApproximateNumberOfMessagesVisible) FROM Metric WHERE aws.sqs.QueueName = '${q.dlq_name}'"
        threshold   = 1
        occurrences = "at_least_once"
        runbook     = "${s.runbook_url}#dlq-not-empty"
        first       = "`${s.outboxctl_command} ${q.label == "main" ? "dlq" : "dlq --route ${q.label}"} list`"
      }
    }]...),
  )]...)

  # The service levels: per source, the ingress's time to a durable answer (every request's LatencyMs)
  # and the age of the oldest pending event at every sweep. Counted per EMF line, so they measure.
  slis = merge([for s in var.sources : {
    "${s.source_name}-latency" = {
      name      = "${s.source_name} ingress answers durably within ${var.latency_slo.target_ms} ms"
      valid     = "Source = '${s.source_name}' AND LatencyMs IS NOT NULL"
      good      = "Source = '${s.source_name}' AND LatencyMs IS NOT NULL AND LatencyMs <= ${var.latency_slo.target_ms}"
      objective = var.latency_slo.objective
      runbook   = "${s.runbook_url}#ingress-failed"
    }
    "${s.source_name}-resend-age" = {
      name      = "${s.source_name} sweeps find no event pending for more than ${var.resend_slo.max_age_seconds} s"
      valid     = "Source = '${s.source_name}' AND OldestPendingAgeSeconds IS NOT NULL"
      good      = "Source = '${s.source_name}' AND OldestPendingAgeSeconds IS NOT NULL AND OldestPendingAgeSeconds <= ${var.resend_slo.max_age_seconds}"
      objective = var.resend_slo.objective
      runbook   = "${s.runbook_url}#outbox-oldest-pending-age"
    }
  }]...)
}

resource "newrelic_one_dashboard" "pipeline" {
  name        = "Webhook ingress ${var.name}"
  account_id  = var.newrelic_account_id
  permissions = "public_read_only"

  page {
    name = "Flow"

    widget_markdown {
      title  = "How an event flows"
      row    = 1
      column = 1
      width  = 12
      height = 4
      text   = local.mermaid
    }

    widget_markdown {
      title  = "Links"
      row    = 5
      column = 1
      width  = 12
      height = 3
      text   = local.links
    }

    dynamic "widget_line" {
      for_each = local.line_widgets
      content {
        title  = widget_line.value.title
        row    = widget_line.value.row
        column = widget_line.value.column
        width  = 3
        height = 3
        nrql_query {
          account_id = var.newrelic_account_id
          query      = widget_line.value.query
        }
      }
    }
  }
}

resource "newrelic_alert_policy" "pipeline" {
  name                = "Webhook ingress ${var.name}"
  account_id          = var.newrelic_account_id
  incident_preference = "PER_CONDITION_AND_TARGET"
}

resource "newrelic_nrql_alert_condition" "pipeline" {
  for_each                     = local.conditions
  account_id                   = var.newrelic_account_id
  policy_id                    = newrelic_alert_policy.pipeline.id
  type                         = "static"
  name                         = each.value.name
  description                  = "First: ${each.value.first}. Runbook: ${each.value.runbook}"
  runbook_url                  = can(regex("^https?://", each.value.runbook)) ? each.value.runbook : null
  enabled                      = true
  violation_time_limit_seconds = 86400
  # Metric-stream data arrives within about two minutes: judge each minute once it is complete.
  aggregation_method = "event_flow"
  aggregation_delay  = 120
  aggregation_window = 60

  nrql {
    query = each.value.query
  }

  critical {
    operator              = "above_or_equals"
    threshold             = each.value.threshold
    threshold_duration    = 300
    threshold_occurrences = each.value.occurrences
  }
}

# The service levels hang on a workload of the deployment's functions.
resource "newrelic_workload" "pipeline" {
  name              = "Webhook ingress ${var.name}"
  account_id        = var.newrelic_account_id
  scope_account_ids = [var.newrelic_account_id]

  entity_search_query {
    query = "type = 'AWSLAMBDAFUNCTION' AND name IN (${join(", ", flatten([for s in var.sources : ["'${s.ingress_function_name}'", "'${s.sweeper_function_name}'"]]))})"
  }
}

resource "newrelic_service_level" "pipeline" {
  for_each    = local.slis
  guid        = newrelic_workload.pipeline.guid
  name        = each.value.name
  description = "Counted on every EMF line (Log events from the functions' log groups). Runbook: ${each.value.runbook}"

  events {
    account_id = var.newrelic_account_id
    valid_events {
      from  = "Log"
      where = each.value.valid
    }
    good_events {
      from  = "Log"
      where = each.value.good
    }
  }

  objective {
    target = each.value.objective
    time_window {
      rolling {
        count = 7
        unit  = "DAY"
      }
    }
  }
}

# An alert when a service level burns its error budget fast (2 % of it within an hour).
data "newrelic_service_level_alert_helper" "fast_burn" {
  for_each   = local.slis
  alert_type = "fast_burn"
  sli_guid   = newrelic_service_level.pipeline[each.key].sli_guid
  slo_target = each.value.objective
  slo_period = 7
}

resource "newrelic_nrql_alert_condition" "service_level" {
  for_each                     = local.slis
  account_id                   = var.newrelic_account_id
  policy_id                    = newrelic_alert_policy.pipeline.id
  type                         = "static"
  name                         = "${each.value.name}: budget burning fast"
  description                  = "Runbook: ${each.value.runbook}"
  enabled                      = true
  violation_time_limit_seconds = 86400
  fill_option                  = "none"
  aggregation_window           = 3600
  aggregation_method           = "event_flow"
  aggregation_delay            = 120
  slide_by                     = 60

  nrql {
    query = data.newrelic_service_level_alert_helper.fast_burn[each.key].nrql
  }

  critical {
    operator              = "above_or_equals"
    threshold             = data.newrelic_service_level_alert_helper.fast_burn[each.key].threshold
    threshold_duration    = data.newrelic_service_level_alert_helper.fast_burn[each.key].evaluation_period
    threshold_occurrences = "at_least_once"
  }
}

# Slack: the destination is authorised once in New Relic's UI (OAuth); Terraform adds the channel and the
# workflow that sends every incident of the policy there.
data "newrelic_notification_destination" "slack" {
  count      = var.slack_destination_name == null ? 0 : 1
  account_id = var.newrelic_account_id
  name       = var.slack_destination_name
}

resource "newrelic_notification_channel" "slack" {
  count          = var.slack_destination_name == null ? 0 : 1
  account_id     = var.newrelic_account_id
  name           = "Webhook ingress ${var.name}"
  type           = "SLACK"
  destination_id = data.newrelic_notification_destination.slack[0].id
  product        = "IINT"

  property {
    key   = "channelId"
    value = var.slack_channel_id
  }
}

resource "newrelic_workflow" "slack" {
  count                 = var.slack_destination_name == null ? 0 : 1
  account_id            = var.newrelic_account_id
  name                  = "Webhook ingress ${var.name} to Slack"
  muting_rules_handling = "NOTIFY_ALL_ISSUES"

  issues_filter {
    name = "the pipeline's policy"
    type = "FILTER"
    predicate {
      attribute = "labels.policyIds"
      operator  = "EXACTLY_MATCHES"
      values    = [newrelic_alert_policy.pipeline.id]
    }
  }

  destination {
    channel_id = newrelic_notification_channel.slack[0].id
  }
}

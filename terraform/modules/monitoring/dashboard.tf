# The integration's entry point: architecture and links first, then the metrics in the order data flows.
data "aws_region" "current" {}

locals {
  region  = data.aws_region.current.region
  console = "https://${local.region}.console.aws.amazon.com"

  extra_links = join("", [for title, url in var.links : " · [${title}](${url})"])
  runbook     = can(regex("^https?://", var.runbook_url)) ? "[runbook](${var.runbook_url})" : "runbook `${var.runbook_url}` (repository)"

  architecture = <<-EOT
    # Webhook ingress `${var.source_name}`
    ```
    provider --POST--> Function URL --> ingress Lambda --PutItem (pending)--> DynamoDB outbox
                                             |--SendMessage--> SQS ${var.queue_name} --> PHP workers
                                             |--UpdateItem (sent)                   | maxReceiveCount
    EventBridge Scheduler (1 min) --> sweeper Lambda --re-sends pending-->          v
                                                                         SQS ${var.dlq_name} --> alarm
    ```
    Function URL: `${var.function_url}` (404 = bad signature, by design)
    [Ingress Lambda](${local.console}/lambda/home?region=${local.region}#/functions/${var.ingress_function_name})
    · [Sweeper Lambda](${local.console}/lambda/home?region=${local.region}#/functions/${var.sweeper_function_name})
    · [Outbox table](${local.console}/dynamodbv2/home?region=${local.region}#table?name=${var.table_name})
    · [Queue](${local.console}/sqs/v3/home?region=${local.region}#/queues/${urlencode(var.queue_url)})
    · [DLQ](${local.console}/sqs/v3/home?region=${local.region}#/queues/${urlencode(var.dlq_url)})
    · [Alarms](${local.console}/cloudwatch/home?region=${local.region}#alarmsV2:?search=${var.name})${local.extra_links}

    **On-call:** ${local.runbook}: a section per alarm, AWS CLI v2 commands only.
    - sweeper reports (resent, resend_failed, parked, pending_after, errors): `aws logs tail /aws/lambda/${var.sweeper_function_name} --since 30m --filter-pattern '{ $.message = "sweep finished" }'`
    - DLQ messages: `aws sqs receive-message --queue-url ${var.dlq_url} --max-number-of-messages 10 --visibility-timeout 0 --message-attribute-names All`
  EOT

  # Architecture and links, the alarms, then one section per stage in the order data flows.
  widgets = concat(
    [
      { type = "text", x = 0, y = 0, width = 24, height = 10, properties = { markdown = local.architecture } },
      {
        type = "alarm", x = 0, y = 10, width = 24, height = 3,
        properties = {
          title  = "Alarms"
          alarms = concat(var.other_alarm_arns, local.alarm_arns)
        }
      },
    ],
    flatten([
      for n, section in local.sections : [
        { type = "text", x = 0, y = local.section_y[n], width = 24, height = 1, properties = { markdown = section.title } },
        [
          for r, row in section.rows : [
            for i, w in row : {
              type = "metric", x = i * 24 / length(row), y = local.section_y[n] + 1 + 6 * r, width = 24 / length(row), height = 6
              properties = merge(
                { title = w.title, region = local.region, view = "timeSeries", period = 60 },
                { for k in ["stat", "annotations"] : k => w[k] if can(w[k]) },
                { metrics = [for l in w.lines : concat([w.on[0], l[0]], slice(w.on, 1, 3), slice(l, 1, length(l)))] },
              )
            }
          ]
        ],
      ]
    ]),
    local.detection_widgets,
  )

  # After the data's path: the signs that events never reached the ingress, each with its alarm's line,
  # and the command that recovers them.
  detection_y = 13 + sum(local.section_heights)
  detection_widgets = [
    {
      type = "text", x = 0, y = local.detection_y, width = 24, height = 2
      properties = {
        markdown = "## 6. Events that never arrived (provider-side failures)\nA drop in Accepted or a run of rejections means the provider's deliveries fail; once fixed, `${local.backfill_command}` brings back what the provider emitted meanwhile (docs/backfill.md)."
      }
    },
    {
      type = "metric", x = 0, y = local.detection_y + 2, width = 12, height = 6
      properties = {
        title  = "Accepted (5 min) and its usual range (anomaly detection band, ${var.accepted_anomaly_band_width} sd)"
        region = local.region, view = "timeSeries", period = 300
        metrics = [
          [var.metrics_namespace, "Accepted", "Source", var.source_name, { id = "accepted", stat = "Sum" }],
          [{ id = "band", expression = "ANOMALY_DETECTION_BAND(accepted, ${var.accepted_anomaly_band_width})", label = "usual range" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = local.detection_y + 2, width = 12, height = 6
      properties = {
        title  = "Rejected % of requests (5 min; alarm >= ${var.rejected_rate_percent} %)"
        region = local.region, view = "timeSeries", period = 300
        metrics = [
          [var.metrics_namespace, "Rejected", "Source", var.source_name, { id = "rejected", stat = "Sum", visible = false }],
          [var.metrics_namespace, "Received", "Source", var.source_name, { id = "received", stat = "Sum", visible = false }],
          [{ id = "rate", expression = "IF(received >= ${var.rejected_rate_min_requests}, 100 * rejected / received, 0)", label = "Rejected %" }],
        ]
        annotations = { horizontal = [{ label = "alarm", value = var.rejected_rate_percent }] }
      }
    },
  ]

  # What a widget's lines are measured on: namespace, dimension name, dimension value.
  ingress_fn  = ["AWS/Lambda", "FunctionName", var.ingress_function_name]
  sweeper_fn  = ["AWS/Lambda", "FunctionName", var.sweeper_function_name]
  emf         = [var.metrics_namespace, "Source", var.source_name]
  percentiles = [for s in ["p50", "p99", "Maximum"] : { stat = s }]

  # The main queue, then each routed queue (ROUTES), each with its DLQ.
  queues = concat(
    [{ label = "main", queue_name = var.queue_name, dlq_name = var.dlq_name }],
    [for q in var.routed_queues : { label = "route ${q.name}", queue_name = q.queue_name, dlq_name = q.dlq_name }],
  )

  # A section: a header line, then rows of metric widgets 6 high, each row sharing the 24 columns evenly.
  # A widget's `lines` are metric names on `on`, each optionally followed by its options (stat, label);
  # its `stat` (optional) applies to every line. Sections follow the data: ingress, outbox, the sweeper
  # that drains the outbox, the queues, their DLQs.
  sections = [
    {
      title = "## 1. Ingress Lambda (Function URL)"
      rows = [
        [
          { title = "Ingress: Invocations, Errors, Throttles", on = local.ingress_fn, stat = "Sum", lines = [["Invocations"], ["Errors"], ["Throttles"]] },
          { title = "Ingress: Duration (ms)", on = local.ingress_fn, lines = [for p in local.percentiles : ["Duration", p]] },
          { title = "Ingress outcomes (EMF)", on = local.emf, stat = "Sum", lines = [["Received"], ["Accepted"], ["Rejected"], ["Duplicate"]] },
        ],
        [
          { title = "Ingress degraded paths (EMF): deferred to sweeper, no outbox row, 500", on = local.emf, stat = "Sum", lines = [["EnqueueDeferred"], ["OutboxWriteFailed"], ["Failed"]] },
          { title = "Ingress LatencyMs (EMF, request to answer)", on = local.emf, lines = [for p in local.percentiles : ["LatencyMs", p]] },
        ],
      ]
    },
    {
      title = "## 2. Outbox (DynamoDB `${var.table_name}`), as seen by the sweeper"
      rows = [[
        { title = "PendingCount", on = local.emf, stat = "Maximum", lines = [["PendingCount"]] },
        {
          title       = "OldestPendingAgeSeconds", on = local.emf, stat = "Maximum", lines = [["OldestPendingAgeSeconds"]]
          annotations = { horizontal = [{ label = "alarm", value = var.oldest_pending_age_threshold_seconds }] }
        },
        {
          title = "Parked rows (ParkedCount, alarm > 0) and newly parked", on = local.emf
          lines = [["ParkedCount", { stat = "Maximum" }], ["Parked", { stat = "Sum" }]]
        },
      ]]
    },
    {
      title = "## 3. Sweeper (EventBridge Scheduler, every minute): outbox -> queues"
      rows = [[
        { title = "Sweeper: Invocations, Errors", on = local.sweeper_fn, stat = "Sum", lines = [["Invocations"], ["Errors"]] },
        { title = "Sweeper: Duration (ms)", on = local.sweeper_fn, stat = "Maximum", lines = [["Duration"]] },
        { title = "Sweeper: Resent, ResendFailed (EMF)", on = local.emf, stat = "Sum", lines = [["Resent"], ["ResendFailed"]] },
      ]]
    },
    {
      title = "## 4. Queues -> PHP workers"
      rows = [for q in local.queues : [
        {
          title = "${q.queue_name} (${q.label}): Sent / Received / Deleted", on = ["AWS/SQS", "QueueName", q.queue_name], stat = "Sum"
          lines = [
            ["NumberOfMessagesSent", { label = "SentMessages" }],
            ["NumberOfMessagesReceived", { label = "ReceivedMessages" }],
            ["NumberOfMessagesDeleted", { label = "DeletedMessages" }],
          ]
        },
        { title = "${q.queue_name}: ApproximateAgeOfOldestMessage (s)", on = ["AWS/SQS", "QueueName", q.queue_name], stat = "Maximum", lines = [["ApproximateAgeOfOldestMessage"]] },
        { title = "${q.queue_name}: in flight / waiting", on = ["AWS/SQS", "QueueName", q.queue_name], stat = "Maximum", lines = [["ApproximateNumberOfMessagesNotVisible"], ["ApproximateNumberOfMessagesVisible"]] },
      ]]
    },
    {
      title = "## 5. DLQs (any message = alarm; runbook: dlq-not-empty)"
      rows = [for q in local.queues : [
        { title = "${q.dlq_name} (${q.label}): ApproximateNumberOfMessagesVisible", on = ["AWS/SQS", "QueueName", q.dlq_name], stat = "Maximum", lines = [["ApproximateNumberOfMessagesVisible"]] },
        { title = "${q.dlq_name}: ApproximateAgeOfOldestMessage (s)", on = ["AWS/SQS", "QueueName", q.dlq_name], stat = "Maximum", lines = [["ApproximateAgeOfOldestMessage"]] },
      ]]
    },
  ]

  # Each section's first line: below the architecture text (10) and the alarm widget (3), after the
  # sections above it (a header line, then 6 per row).
  section_heights = [for section in local.sections : 1 + 6 * length(section.rows)]
  section_y       = [for n in range(length(local.sections)) : 13 + sum(concat([0], slice(local.section_heights, 0, n)))]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}

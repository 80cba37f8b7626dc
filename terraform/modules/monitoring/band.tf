# This source's band of the deployment's dashboard (modules/dashboard stacks one band per source): its
# header and alarm status, then its metrics in the order the data flows (ingress, outbox, sweeper,
# queues, DLQs), then latency and the signs of deliveries that never arrived. y is relative to the band.
data "aws_region" "current" {}

locals {
  region  = data.aws_region.current.region
  console = "https://${local.region}.console.aws.amazon.com"
  runbook = can(regex("^https?://", var.runbook_url)) ? "[runbook](${var.runbook_url})" : "runbook `${var.runbook_url}`"

  header = <<-EOT
    ## `${var.source_name}`: URL -> ingress -> outbox -> queue -> workers
    `${var.function_url}` (404 = bad signature, by design)
    [ingress](${local.console}/lambda/home?region=${local.region}#/functions/${var.ingress_function_name})
    · [sweeper](${local.console}/lambda/home?region=${local.region}#/functions/${var.sweeper_function_name})
    · [queue](${local.console}/sqs/v3/home?region=${local.region}#/queues/${urlencode(var.queue_url)})
    · [DLQ](${local.console}/sqs/v3/home?region=${local.region}#/queues/${urlencode(var.dlq_url)})
    · ${local.runbook}

    On call: `${var.outboxctl_command} status`
  EOT

  # What a widget's lines are measured on: namespace, dimension name, dimension value.
  ingress_fn = ["AWS/Lambda", "FunctionName", var.ingress_function_name]
  sweeper_fn = ["AWS/Lambda", "FunctionName", var.sweeper_function_name]
  emf        = [var.metrics_namespace, "Source", var.source_name]

  # The main queue, then each routed queue (ROUTES), each with its DLQ.
  queues = concat(
    [{ label = "main", queue_name = var.queue_name, dlq_name = var.dlq_name }],
    [for q in var.routed_queues : { label = q.name, queue_name = q.queue_name, dlq_name = q.dlq_name }],
  )

  # The reconciler (when this source runs one) brings in what the provider emitted and the ingress never
  # stored: between the ingress and the outbox in the flow.
  reconciler_fn = ["AWS/Lambda", "FunctionName", var.reconciler_function_name]
  reconciler_widgets = var.reconciler_function_name == "" ? [] : [
    {
      title = "2b. Reconciler: Errors, ReconcileListed, Missing, Recovered, Unrecoverable; CheckpointAge, OldestMissingAge (right, alarm ${var.reconciler_horizon_alarm_seconds})"
      metrics = concat(
        [concat(local.reconciler_fn, ["Errors"], [{ stat = "Sum" }])],
        [for m in ["ReconcileListed", "ReconcileMissing", "ReconcileRecovered", "ReconcileUnrecoverable"] :
        concat(local.emf, [m], [{ stat = "Sum" }])],
        [for m in ["ReconcileCheckpointAgeSeconds", "ReconcileOldestMissingAgeSeconds"] :
        concat(local.emf, [m], [{ stat = "Maximum", yAxis = "right" }])],
      )
    },
  ]
  flow_widgets = concat(slice(local.pipeline_widgets, 0, 2), local.reconciler_widgets, slice(local.pipeline_widgets, 2, 6))
  # One row across the dashboard's 24 columns: six widgets 4 wide, seven 3 wide.
  flow_width = floor(24 / length(local.flow_widgets))

  # line(on, metric, options): one CloudWatch widget line.
  pipeline_widgets = [
    {
      title = "1. Ingress Lambda: Invocations, Errors, Throttles; Duration p99 (right)"
      metrics = [
        concat(local.ingress_fn, ["Invocations"], [{ stat = "Sum" }]),
        concat(local.ingress_fn, ["Errors"], [{ stat = "Sum" }]),
        concat(local.ingress_fn, ["Throttles"], [{ stat = "Sum" }]),
        concat(local.ingress_fn, ["Duration"], [{ stat = "p99", yAxis = "right" }]),
      ]
    },
    {
      title = "2. Ingress outcomes (EMF): Received, Accepted, Rejected, Duplicate, deferred, no row, 500"
      metrics = [for m in ["Received", "Accepted", "Rejected", "Duplicate", "EnqueueDeferred", "OutboxWriteFailed", "Failed"] :
      concat(local.emf, [m], [{ stat = "Sum" }])]
    },
    {
      title = "3. Outbox: PendingCount, ParkedCount, Parked; OldestPendingAgeSeconds (right, alarm ${var.oldest_pending_age_threshold_seconds})"
      metrics = [
        concat(local.emf, ["PendingCount"], [{ stat = "Maximum" }]),
        concat(local.emf, ["ParkedCount"], [{ stat = "Maximum" }]),
        concat(local.emf, ["Parked"], [{ stat = "Sum" }]),
        concat(local.emf, ["OldestPendingAgeSeconds"], [{ stat = "Maximum", yAxis = "right" }]),
      ]
    },
    {
      title = "4. Sweeper (every minute): Invocations, Errors, Resent, ResendFailed; Duration (right)"
      metrics = [
        concat(local.sweeper_fn, ["Invocations"], [{ stat = "Sum" }]),
        concat(local.sweeper_fn, ["Errors"], [{ stat = "Sum" }]),
        concat(local.emf, ["Resent"], [{ stat = "Sum" }]),
        concat(local.emf, ["ResendFailed"], [{ stat = "Sum" }]),
        concat(local.sweeper_fn, ["Duration"], [{ stat = "Maximum", yAxis = "right" }]),
      ]
    },
    {
      title   = "5. Queues -> workers: Sent, Received, Deleted, visible, in flight; age of oldest (right)"
      metrics = local.queue_lines
    },
    {
      title   = "6. DLQs (any message = alarm dlq-not-empty): visible; age of oldest (right)"
      metrics = local.dlq_lines
    },
  ]

  # The queue widgets' lines: every metric of a spec list for every queue (main, then each route).
  queue_specs = [
    { metric = "NumberOfMessagesSent", stat = "Sum", label = "SentMessages", axis = "left" },
    { metric = "NumberOfMessagesReceived", stat = "Sum", label = "ReceivedMessages", axis = "left" },
    { metric = "NumberOfMessagesDeleted", stat = "Sum", label = "DeletedMessages", axis = "left" },
    { metric = "ApproximateNumberOfMessagesVisible", stat = "Maximum", label = "visible", axis = "left" },
    { metric = "ApproximateNumberOfMessagesNotVisible", stat = "Maximum", label = "in flight", axis = "left" },
    { metric = "ApproximateAgeOfOldestMessage", stat = "Maximum", label = "oldest (s)", axis = "right" },
  ]
  dlq_specs = [
    { metric = "ApproximateNumberOfMessagesVisible", stat = "Maximum", label = "DLQ visible", axis = "left" },
    { metric = "ApproximateAgeOfOldestMessage", stat = "Maximum", label = "DLQ oldest (s)", axis = "right" },
  ]
  queue_lines = [for p in setproduct(range(length(local.queues)), range(length(local.queue_specs))) : [
    "AWS/SQS", local.queue_specs[p[1]].metric, "QueueName", local.queues[p[0]].queue_name,
    { stat = local.queue_specs[p[1]].stat, label = "${local.queues[p[0]].label} ${local.queue_specs[p[1]].label}", yAxis = local.queue_specs[p[1]].axis },
  ]]
  dlq_lines = [for p in setproduct(range(length(local.queues)), range(length(local.dlq_specs))) : [
    "AWS/SQS", local.dlq_specs[p[1]].metric, "QueueName", local.queues[p[0]].dlq_name,
    { stat = local.dlq_specs[p[1]].stat, label = "${local.queues[p[0]].label} ${local.dlq_specs[p[1]].label}", yAxis = local.dlq_specs[p[1]].axis },
  ]]

  # Latency, and deliveries that never arrived: a drop in Accepted or a run of rejections; once fixed,
  # the backfill brings back what the provider emitted meanwhile (docs/backfill.md).
  detail_widgets = [
    {
      title   = "Ingress LatencyMs (request to durable answer): p50, p99, Maximum"
      metrics = [for s in ["p50", "p99", "Maximum"] : concat(local.emf, ["LatencyMs"], [{ stat = s }])]
    },
    {
      title  = "Accepted (5 min) and its usual range (anomaly detection band, ${var.accepted_anomaly_band_width} sd)"
      period = 300
      metrics = [
        concat(local.emf, ["Accepted"], [{ id = "accepted", stat = "Sum" }]),
        [{ id = "band", expression = "ANOMALY_DETECTION_BAND(accepted, ${var.accepted_anomaly_band_width})", label = "usual range" }],
      ]
    },
    {
      title  = "Rejected % of requests (5 min; alarm >= ${var.rejected_rate_percent} %); then `${local.backfill_command}`"
      period = 300
      metrics = [
        concat(local.emf, ["Rejected"], [{ id = "rejected", stat = "Sum", visible = false }]),
        concat(local.emf, ["Received"], [{ id = "received", stat = "Sum", visible = false }]),
        [{ id = "rate", expression = "IF(received >= ${var.rejected_rate_min_requests}, 100 * rejected / received, 0)", label = "Rejected %" }],
      ]
    },
  ]

  band = concat(
    [
      { type = "text", x = 0, y = 0, width = 8, height = 5, properties = { markdown = local.header } },
      {
        type       = "alarm", x = 8, y = 0, width = 16, height = 5
        properties = { title = "${var.source_name}: alarms", alarms = concat(var.other_alarm_arns, local.alarm_arns) }
      },
    ],
    [for i, w in local.flow_widgets : {
      type       = "metric", x = local.flow_width * i, y = 5, width = local.flow_width, height = 6
      properties = { title = w.title, region = local.region, view = "timeSeries", period = 60, metrics = w.metrics }
    }],
    [for i, w in local.detail_widgets : {
      type       = "metric", x = 8 * i, y = 11, width = 8, height = 6
      properties = { title = w.title, region = local.region, view = "timeSeries", period = try(w.period, 60), metrics = w.metrics }
    }],
  )
}

# The integration's entry point: architecture and links first, then the metrics in the order data flows.
data "aws_region" "current" {}

locals {
  region  = data.aws_region.current.region
  console = "https://${local.region}.console.aws.amazon.com"
  ns      = var.metrics_namespace
  src     = var.source_name

  extra_links = join("", [for title, url in var.links : " · [${title}](${url})"])

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
    On-call: `outboxctl status` · runbook: docs/deploy.md (alarm list)
  EOT

  lambda = "AWS/Lambda"
  sqs    = "AWS/SQS"

  widgets = [
    { type = "text", x = 0, y = 0, width = 24, height = 8, properties = { markdown = local.architecture } },
    {
      type = "alarm", x = 0, y = 8, width = 24, height = 3,
      properties = {
        title  = "Alarms"
        alarms = concat(var.other_alarm_arns, local.alarm_arns)
      }
    },

    # 1. Ingress Lambda
    { type = "text", x = 0, y = 11, width = 24, height = 1, properties = { markdown = "## 1. Ingress Lambda (Function URL)" } },
    {
      type = "metric", x = 0, y = 12, width = 8, height = 6,
      properties = {
        title = "Ingress: Invocations, Errors, Throttles", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          [local.lambda, "Invocations", "FunctionName", var.ingress_function_name],
          [local.lambda, "Errors", "FunctionName", var.ingress_function_name],
          [local.lambda, "Throttles", "FunctionName", var.ingress_function_name],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 12, width = 8, height = 6,
      properties = {
        title = "Ingress: Duration (ms)", region = local.region, view = "timeSeries", period = 60
        metrics = [
          [local.lambda, "Duration", "FunctionName", var.ingress_function_name, { stat = "p50" }],
          [local.lambda, "Duration", "FunctionName", var.ingress_function_name, { stat = "p99" }],
          [local.lambda, "Duration", "FunctionName", var.ingress_function_name, { stat = "Maximum" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 12, width = 8, height = 6,
      properties = {
        title = "Ingress outcomes (EMF)", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          [local.ns, "Received", "Source", local.src],
          [local.ns, "Accepted", "Source", local.src],
          [local.ns, "Rejected", "Source", local.src],
          [local.ns, "Duplicate", "Source", local.src],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 18, width = 12, height = 6,
      properties = {
        title = "Ingress degraded paths (EMF): deferred to sweeper, no outbox row, 500", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          [local.ns, "EnqueueDeferred", "Source", local.src],
          [local.ns, "OutboxWriteFailed", "Source", local.src],
          [local.ns, "Failed", "Source", local.src],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 18, width = 12, height = 6,
      properties = {
        title = "Ingress LatencyMs (EMF, request to answer)", region = local.region, view = "timeSeries", period = 60
        metrics = [
          [local.ns, "LatencyMs", "Source", local.src, { stat = "p50" }],
          [local.ns, "LatencyMs", "Source", local.src, { stat = "p99" }],
          [local.ns, "LatencyMs", "Source", local.src, { stat = "Maximum" }],
        ]
      }
    },

    # 2. Outbox
    { type = "text", x = 0, y = 24, width = 24, height = 1, properties = { markdown = "## 2. Outbox (DynamoDB `${var.table_name}`), as seen by the sweeper" } },
    {
      type = "metric", x = 0, y = 25, width = 8, height = 6,
      properties = {
        title = "PendingCount", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [[local.ns, "PendingCount", "Source", local.src]]
      }
    },
    {
      type = "metric", x = 8, y = 25, width = 8, height = 6,
      properties = {
        title = "OldestPendingAgeSeconds", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [[local.ns, "OldestPendingAgeSeconds", "Source", local.src]]
        annotations = { horizontal = [{ label = "alarm", value = var.oldest_pending_age_threshold_seconds }] }
      }
    },
    {
      type = "metric", x = 16, y = 25, width = 8, height = 6,
      properties = {
        title = "Parked", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [[local.ns, "Parked", "Source", local.src]]
      }
    },

    # 3. Queue
    { type = "text", x = 0, y = 31, width = 24, height = 1, properties = { markdown = "## 3. Queue `${var.queue_name}` -> PHP workers" } },
    {
      type = "metric", x = 0, y = 32, width = 8, height = 6,
      properties = {
        title = "Sent / Received / Deleted", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          [local.sqs, "NumberOfMessagesSent", "QueueName", var.queue_name, { label = "SentMessages" }],
          [local.sqs, "NumberOfMessagesReceived", "QueueName", var.queue_name, { label = "ReceivedMessages" }],
          [local.sqs, "NumberOfMessagesDeleted", "QueueName", var.queue_name, { label = "DeletedMessages" }],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 32, width = 8, height = 6,
      properties = {
        title = "ApproximateAgeOfOldestMessage (s)", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [[local.sqs, "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name]]
      }
    },
    {
      type = "metric", x = 16, y = 32, width = 8, height = 6,
      properties = {
        title = "In flight / waiting", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [
          [local.sqs, "ApproximateNumberOfMessagesNotVisible", "QueueName", var.queue_name],
          [local.sqs, "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
        ]
      }
    },

    # 4. DLQ
    { type = "text", x = 0, y = 38, width = 24, height = 1, properties = { markdown = "## 4. DLQ `${var.dlq_name}` (any message = alarm; `outboxctl dlq list`)" } },
    {
      type = "metric", x = 0, y = 39, width = 12, height = 6,
      properties = {
        title = "DLQ ApproximateNumberOfMessagesVisible", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [[local.sqs, "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name]]
      }
    },
    {
      type = "metric", x = 12, y = 39, width = 12, height = 6,
      properties = {
        title = "DLQ ApproximateAgeOfOldestMessage (s)", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [[local.sqs, "ApproximateAgeOfOldestMessage", "QueueName", var.dlq_name]]
      }
    },

    # 5. Sweeper
    { type = "text", x = 0, y = 45, width = 24, height = 1, properties = { markdown = "## 5. Sweeper (EventBridge Scheduler, every minute)" } },
    {
      type = "metric", x = 0, y = 46, width = 8, height = 6,
      properties = {
        title = "Sweeper: Invocations, Errors", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          [local.lambda, "Invocations", "FunctionName", var.sweeper_function_name],
          [local.lambda, "Errors", "FunctionName", var.sweeper_function_name],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 46, width = 8, height = 6,
      properties = {
        title = "Sweeper: Duration (ms)", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [[local.lambda, "Duration", "FunctionName", var.sweeper_function_name]]
      }
    },
    {
      type = "metric", x = 16, y = 46, width = 8, height = 6,
      properties = {
        title = "Sweeper: Resent, ResendFailed (EMF)", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          [local.ns, "Resent", "Source", local.src],
          [local.ns, "ResendFailed", "Source", local.src],
        ]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}

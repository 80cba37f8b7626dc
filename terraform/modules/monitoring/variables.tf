variable "name" {
  description = "Prefix of the dashboard and alarm names."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the functions' EMF metrics (METRICS_NAMESPACE)."
  type        = string
  default     = "WebhookIngress"
}

variable "source_name" {
  description = "Value of the EMF `Source` dimension (SOURCE_NAME)."
  type        = string
}

variable "ingress_function_name" {
  description = "Ingress Lambda function name."
  type        = string
}

variable "sweeper_function_name" {
  description = "Sweeper Lambda function name."
  type        = string
}

variable "reconciler_function_name" {
  description = "The reconciler's function name when this source runs one (its widget sits between the ingress and the outbox); empty for none."
  type        = string
  default     = ""
}

variable "reconciler_horizon_alarm_seconds" {
  description = "The near-horizon alarm's threshold on ReconcileOldestMissingAgeSeconds (a share of the provider's horizon), shown in the reconciler's widget; 0 without a reconciler."
  type        = number
  default     = 0
}

variable "function_url" {
  description = "Ingress Function URL (shown on the dashboard)."
  type        = string
}

variable "queue_name" {
  description = "Main queue name."
  type        = string
}

variable "dlq_name" {
  description = "DLQ name."
  type        = string
}

variable "alarm_topic_arn" {
  description = "SNS topic for the alarms."
  type        = string
}

variable "other_alarm_arns" {
  description = "Alarms created elsewhere (Lambda, queues) to show in the dashboard's alarm-status widget."
  type        = list(string)
  default     = []
}

variable "oldest_pending_age_threshold_seconds" {
  description = "OldestPendingAgeSeconds at or above which the stuck-outbox alarm fires (the sweeper's grace is 120 s)."
  type        = number
  default     = 600
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}

variable "queue_url" {
  description = "Main queue URL (console link)."
  type        = string
}

variable "dlq_url" {
  description = "DLQ URL (console link)."
  type        = string
}

variable "runbook_url" {
  description = "Where on-call finds docs/runbook.md: its URL in your repository browser (the dashboard then links it), or the path. Alarm descriptions append the alarm's section anchor (#outbox-parked, ...)."
  type        = string
  default     = "docs/runbook.md"
}

variable "outboxctl_command" {
  description = "How on-call runs outboxctl against this deployment; alarm descriptions start their first command with it."
  type        = string
  default     = "outboxctl"
}

variable "rejected_burst_threshold" {
  description = "Rejected requests (bad signature, 404) within rejected_burst_period_seconds at or above which the rejected-burst alarm fires: a signing secret that differs between the provider and SSM rejects every delivery."
  type        = number
  default     = 5
}

variable "rejected_burst_period_seconds" {
  description = "Window of the rejected-burst alarm, in seconds (a multiple of 60)."
  type        = number
  default     = 900

  validation {
    condition     = var.rejected_burst_period_seconds >= 60 && var.rejected_burst_period_seconds % 60 == 0
    error_message = "rejected_burst_period_seconds must be a multiple of 60."
  }
}

variable "routed_queues" {
  description = "The routed queues (ROUTES) and their DLQs, shown on the dashboard after the main queue."
  type = list(object({
    name       = string
    queue_name = string
    dlq_name   = string
  }))
  default = []
}

variable "accepted_anomaly_alarm" {
  description = "Whether to alarm when the source's Accepted volume falls below its usual level (CloudWatch anomaly detection on 5-minute sums): the provider's deliveries stopped reaching the ingress (DNS, certificate, a disabled endpoint). Suits a source with steady traffic; a source that is often silent for half an hour would alarm on every quiet spell."
  type        = bool
  default     = false
}

variable "accepted_anomaly_band_width" {
  description = "Width of the anomaly detection band, in standard deviations: the alarm fires when Accepted falls below the band's lower edge for 3 of 3 five-minute periods."
  type        = number
  default     = 2
}

variable "rejected_rate_percent" {
  description = "Share of requests rejected (Rejected / Received, in %) over 5 minutes at or above which the ingress-rejected-rate alarm fires, when at least rejected_rate_min_requests arrived: a sudden run of 404s is a secret rotated on one side."
  type        = number
  default     = 50

  validation {
    condition     = var.rejected_rate_percent > 0 && var.rejected_rate_percent <= 100
    error_message = "rejected_rate_percent must be above 0 and at most 100."
  }
}

variable "rejected_rate_min_requests" {
  description = "Requests in 5 minutes below which the rejected rate is not judged (one probe must not read as 100 %)."
  type        = number
  default     = 10
}

variable "backfill_provider" {
  description = "The provider whose API `outboxctl backfill` reads for this source (stripe, github, gitlab or paddle); null: the alarms name them all."
  type        = string
  default     = null
}

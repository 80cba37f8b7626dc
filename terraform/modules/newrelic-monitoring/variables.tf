variable "name" {
  description = "The deployment's name (prefix of the AWS resources created here, and the New Relic names)."
  type        = string
}

variable "sources" {
  description = "Each source as modules/webhook-source output `monitoring` gives it (the example reads them from the deployment's monitoring manifest parameter)."
  type = list(object({
    source_name           = string
    metrics_namespace     = string
    function_url          = string
    ingress_function_name = string
    sweeper_function_name = string
    ingress_log_group     = string
    sweeper_log_group     = string
    queues = list(object({
      label      = string
      queue_name = string
      dlq_name   = string
    }))
    outboxctl_command = string
    runbook_url       = string
  }))
}

variable "newrelic_account_id" {
  description = "The New Relic account the data goes to and the dashboard, alerts and service levels live in."
  type        = number
}

variable "newrelic_region" {
  description = "The New Relic account's region: US or EU (where the Firehose streams deliver)."
  type        = string
  default     = "US"

  validation {
    condition     = contains(["US", "EU"], var.newrelic_region)
    error_message = "newrelic_region must be US or EU."
  }
}

variable "secrets_kms_key_arn" {
  description = "The deployment's secrets key (modules/webhook-shared): it encrypts the Secrets Manager secret that will hold the New Relic license key."
  type        = string
}

variable "slack_destination_name" {
  description = "Name of the New Relic Slack destination, authorised once in New Relic's UI (Slack's OAuth cannot be done by Terraform). Null: no Slack workflow."
  type        = string
  default     = null
}

variable "slack_channel_id" {
  description = "Slack channel id (e.g. C0123ABCD) the alerts go to; set with slack_destination_name."
  type        = string
  default     = null

  validation {
    condition     = (var.slack_channel_id == null) == (var.slack_destination_name == null)
    error_message = "Set both slack_destination_name and slack_channel_id, or neither."
  }
}

variable "links" {
  description = "Links for the dashboard's link widget (title => URL): the repository, the runbook, the workers' dashboard."
  type        = map(string)
  default     = {}
}

variable "thresholds" {
  description = "Alert thresholds: queue_age_seconds (oldest message), queue_visible (backlog), and the DLQ alerts at one message or more."
  type = object({
    queue_age_seconds = optional(number, 900)
    queue_visible     = optional(number, 1000)
  })
  default = {}
}

variable "latency_slo" {
  description = "The ingress's time to a durable answer (EMF LatencyMs of every request): the share of requests answered within target_ms over 7 days."
  type = object({
    target_ms = optional(number, 1000)
    objective = optional(number, 99.5)
  })
  default = {}
}

variable "resend_slo" {
  description = "The age at which the sweeper finds the outbox (EMF OldestPendingAgeSeconds of every sweep): the share of sweeps whose oldest pending event is younger than max_age_seconds over 7 days (GRACE_SECS is 120: an event the ingress could not send is re-sent after 2 to 3 minutes)."
  type = object({
    max_age_seconds = optional(number, 300)
    objective       = optional(number, 99)
  })
  default = {}
}

variable "tags" {
  description = "Tags for the AWS resources."
  type        = map(string)
  default     = {}
}

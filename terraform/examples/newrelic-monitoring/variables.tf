variable "region" {
  description = "The deployment's AWS region."
  type        = string
}

variable "name" {
  description = "The deployment's name (examples/webhook-ingress variable `name`)."
  type        = string
}

variable "newrelic_account_id" {
  description = "The New Relic account."
  type        = number
}

variable "newrelic_region" {
  description = "The New Relic account's region: US or EU."
  type        = string
  default     = "US"
}

variable "slack_destination_name" {
  description = "The New Relic Slack destination, authorised once in New Relic's UI; null for no Slack."
  type        = string
  default     = null
}

variable "slack_channel_id" {
  description = "The Slack channel id the alerts go to."
  type        = string
  default     = null
}

variable "links" {
  description = "Dashboard links (title => URL): repository, runbook, workers' dashboard."
  type        = map(string)
  default     = {}
}

variable "latency_slo" {
  description = "The ingress's time to a durable answer: target_ms and objective (%)."
  type = object({
    target_ms = optional(number, 1000)
    objective = optional(number, 99.5)
  })
  default = {}
}

variable "resend_slo" {
  description = "The oldest pending event's age at each sweep: max_age_seconds and objective (%)."
  type = object({
    max_age_seconds = optional(number, 300)
    objective       = optional(number, 99)
  })
  default = {}
}

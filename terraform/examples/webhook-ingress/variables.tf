variable "region" {
  description = "AWS region."
  type        = string
}

variable "name" {
  description = "The deployment's name: prefix of every resource (table `<name>-outbox`, each source's `<name>-<source>-*`). Lowercase letters, digits and hyphens, at most 32 characters (modules/webhook-shared checks it)."
  type        = string
  default     = "webhook"
}

variable "sources" {
  description = <<-EOT
    The webhook providers, keyed by SOURCE_NAME (lowercase letters, digits, hyphens). Each entry is one
    modules/webhook-source (its variables.tf documents every field): `signature` (scheme, header, encoding,
    prefix, spec, public_url), `event` (id_header, id_pointer, type_pointer), `routes`, `settings` (the functions'
    tuning), `alarms` (thresholds), `backfill_provider` (stripe, github, gitlab or paddle), `ingress_memory_size`,
    `sweeper_memory_size`, `ingress_reserved_concurrency` (default 50; -1 reserves none), `name_prefix` (default
    `<name>-<source>`; `<name>` itself for a deployment moved from the one-source layout) and
    `adopt_existing_parameters` (its secret parameters already exist). Adding a provider is one more entry.
  EOT
  type = map(object({
    name_prefix = optional(string)
    signature = optional(object({
      scheme     = optional(string, "")
      header     = optional(string, "")
      encoding   = optional(string, "")
      prefix     = optional(string, "")
      spec       = optional(string, "")
      public_url = optional(string, "")
    }), {})
    event = optional(object({
      id_header    = optional(string, "")
      id_pointer   = optional(string, "")
      type_pointer = optional(string, "")
    }), {})
    routes = optional(list(object({
      name          = string
      pointer       = optional(string)
      header        = optional(string)
      equals        = optional(string)
      prefix        = optional(string)
      fifo          = optional(bool, false)
      group_pointer = optional(string)
    })), [])
    settings = optional(object({
      max_body_bytes           = optional(string, "6291456")
      timestamp_tolerance_secs = optional(string, "")
      secret_refresh_secs      = optional(string, "")
      response_budget_ms       = optional(string, "")
      pending_shards           = optional(string, "")
      retention_days           = optional(string, "")
      grace_secs               = optional(string, "")
      max_attempts             = optional(string, "")
      sweep_concurrency        = optional(string, "")
      large_body_prefix        = optional(string, "")
    }), {})
    alarms = optional(object({
      rejected_burst_threshold   = optional(number, 5)
      rejected_rate_percent      = optional(number, 50)
      accepted_anomaly_alarm     = optional(bool, false)
      oldest_message_age_seconds = optional(number, 900)
      visible_messages           = optional(number, 1000)
    }), {})
    backfill_provider            = optional(string)
    adopt_existing_parameters    = optional(bool, false)
    ingress_memory_size          = optional(number, 256)
    sweeper_memory_size          = optional(number, 512)
    ingress_reserved_concurrency = optional(number, 50)
  }))

  validation {
    condition     = length(var.sources) > 0
    error_message = "sources must name at least one webhook provider."
  }
  validation {
    # The logs key, the alarm prefix and the CI roles cover `<name>-*`: a prefix outside it would leave a
    # source's log groups unencrypted-able and its alarms out of the Slack channel's reach.
    condition     = alltrue([for s in values(var.sources) : s.name_prefix == null || s.name_prefix == var.name || startswith(coalesce(s.name_prefix, "-"), "${var.name}-")])
    error_message = "Every name_prefix must be the deployment's name or start with it and a hyphen."
  }
}

variable "architecture" {
  description = "Every function's architecture (ARCH); must match the packages built by scripts/package.sh (CI builds arm64)."
  type        = string
  default     = "arm64"
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE of the EMF metrics (alarms and dashboard read it)."
  type        = string
  default     = "WebhookIngress"
}

variable "log_retention_days" {
  description = "Retention of every function's log group."
  type        = number
  default     = 365
}

variable "runbook_url" {
  description = "Where on-call finds docs/runbook.md, e.g. https://github.com/your-org/webhook-ingress/blob/main/docs/runbook.md: every alarm description points to its section (at most 200 characters). The default is the path in this repository."
  type        = string
  default     = "docs/runbook.md"
}

variable "dashboard_links" {
  description = "Extra dashboard links (title => URL): repository, runbook, worker dashboard."
  type        = map(string)
  default     = {}
}

variable "oncall_repair_role_arns" {
  description = "The on-call roles the outboxctl repair policies are attached to: the only principals besides the functions that the queues' policies let send (outboxctl resend, replay, dlq redrive). Empty: plan warns that repairs will be refused."
  type        = list(string)
  default     = []
}

variable "table_deletion_protection" {
  description = "Deletion protection of the outbox table."
  type        = bool
  default     = true
}

variable "table_warm_write_units_per_second" {
  description = "Optional: the outbox table's warm write throughput (units a second, above 4,000), for bursts above what a new table serves (about 1,000 webhooks a second of 1-2 KB); docs/CAPACITY.md gives the sizing rule. Only ever raise it: lowering it would replace the table, which the module refuses."
  type        = number
  default     = null
}

variable "index_warm_write_units_per_second" {
  description = "Optional: the unsent-index's warm write throughput (units a second, above 4,000), for bursts above 2,000 webhooks a second; docs/CAPACITY.md gives the sizing rule. Only ever raise it."
  type        = number
  default     = null
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "alarm_emails" {
  description = "Optional: e-mail addresses that get every alarm (each confirms the mail SNS sends first)."
  type        = list(string)
  default     = []
}

variable "alarm_https_endpoints" {
  description = "Optional: HTTPS endpoints that get every alarm, e.g. a PagerDuty or Opsgenie SNS integration URL (they confirm the subscription themselves). Sensitive: the URL holds the integration key."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "chatbot_region" {
  description = "Optional: region of the AWS Chatbot Slack configuration (us-east-2, us-west-2, eu-west-1 or ap-southeast-1, where its API exists). Null: `region` when it is one of them, else us-east-2."
  type        = string
  default     = null
}

variable "slack_workspace_id" {
  description = "Optional: Slack workspace (team) id for the alarms (AWS Chatbot); set with slack_channel_id."
  type        = string
  default     = null
}

variable "slack_channel_id" {
  description = "Optional: Slack channel id that receives every alarm (AWS Chatbot); set with slack_workspace_id."
  type        = string
  default     = null
  validation {
    condition     = (var.slack_channel_id == null) == (var.slack_workspace_id == null)
    error_message = "Set both slack_workspace_id and slack_channel_id, or neither."
  }
}

variable "github_repository" {
  description = "Optional: owner/name of the GitHub repository whose Actions deploy the functions (.github/workflows/). Set: creates the OIDC roles of ci.tf (outputs ci_deploy_role_arn, ci_diff_role_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "github_oidc_provider_arn" {
  description = "Optional: the account's existing IAM OIDC provider for token.actions.githubusercontent.com (an account has at most one). Null: ci.tf creates it."
  type        = string
  default     = null
}

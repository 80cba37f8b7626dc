variable "region" {
  description = "AWS region."
  type        = string
}

variable "name" {
  description = "Prefix of every resource name (one deployment per webhook source: e.g. webhook-marketplace)."
  type        = string
  default     = "webhook-ingress"
}

variable "source_name" {
  description = "SOURCE_NAME: the webhook source; prefixes outbox ids and is the EMF `Source` dimension."
  type        = string
}

variable "routes" {
  description = <<-EOT
    ROUTES: events routed to queues of their own (each with its DLQ and alarms, created here), first match
    wins, the rest go to the main queue. Each route names `pointer` (a JSON pointer into the body) or `header`,
    and `equals` or `prefix`; `fifo = true` makes a FIFO queue whose MessageGroupId is the value at
    `group_pointer` (default: the source).
  EOT
  type = list(object({
    name          = string
    pointer       = optional(string)
    header        = optional(string)
    equals        = optional(string)
    prefix        = optional(string)
    fifo          = optional(bool, false)
    group_pointer = optional(string)
  }))
  default = []
}

variable "secret_parameter_name" {
  description = "SECRET_PARAMETER: SSM parameter name holding the signing secret (null: /<name>/secret)."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Initial architecture; must match the package built by scripts/package.sh and ARCH given to lambroll."
  type        = string
  default     = "arm64"
}

variable "ingress_memory_size" {
  description = "Ingress memory (MB): Terraform creates the function with it and every lambroll deploy applies it (INGRESS_MEMORY_SIZE in output lambroll_env)."
  type        = number
  default     = 256
}

variable "sweeper_memory_size" {
  description = "Sweeper memory (MB): Terraform creates the function with it and every lambroll deploy applies it (SWEEPER_MEMORY_SIZE in output lambroll_env). Lambda's CPU share grows with it: 512 MB (about 0.29 vCPU) re-sends a backlog at about 500 rows/s even at the highest CPU per row measured, and an idle sweep costs cents a month."
  type        = number
  default     = 512
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
  default     = 365
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE of the EMF metrics (alarms and dashboard read it)."
  type        = string
  default     = "WebhookIngress"
}

# Optional settings: an empty string means "unset, use the code's default".
variable "signature_scheme" {
  description = "SIGNATURE_SCHEME: standard-webhooks, hmac-sha256, stripe, github, shopify, slack, paddle, hubspot, zendesk, calendly, twitch, linear, intercom, pagerduty, typeform, bitbucket, woocommerce, razorpay, square, gitlab, token or basic (docs/providers.md)."
  type        = string
  default     = ""
}

variable "signature_header" {
  description = "SIGNATURE_HEADER (hmac-sha256 scheme)."
  type        = string
  default     = ""
}

variable "signature_encoding" {
  description = "SIGNATURE_ENCODING: hex or base64 (hmac-sha256 scheme)."
  type        = string
  default     = ""
}

variable "signature_prefix" {
  description = "SIGNATURE_PREFIX, e.g. sha256= (hmac-sha256 scheme) or `Bearer ` (token scheme)."
  type        = string
  default     = ""
}

variable "public_url" {
  description = "PUBLIC_URL: the URL prefix providers send to (a custom domain), for schemes that sign the URL (hubspot, square, twilio)."
  type        = string
  default     = ""
}

variable "event_id_header" {
  description = "EVENT_ID_HEADER: header carrying the provider's event id."
  type        = string
  default     = ""
}

variable "event_id_pointer" {
  description = "EVENT_ID_POINTER: JSON pointer to the event id in the body."
  type        = string
  default     = ""
}

variable "event_type_pointer" {
  description = "EVENT_TYPE_POINTER: JSON pointer to the event type in the body."
  type        = string
  default     = ""
}

variable "max_body_bytes" {
  description = "MAX_BODY_BYTES: larger bodies get 413. The default is the Function URL's own request limit (6 MiB), as in the local stack (`make up`): bodies over 393216 bytes go to the large-body bucket this example creates. Empty means the code's default, 262144, which never uses the bucket."
  type        = string
  default     = "6291456"
}

variable "timestamp_tolerance_secs" {
  description = "TIMESTAMP_TOLERANCE_SECS (code default 300)."
  type        = string
  default     = ""
}

variable "secret_refresh_secs" {
  description = "SECRET_REFRESH_SECS: cached signing secrets older than this are re-read (code default 300)."
  type        = string
  default     = ""
}

variable "pending_shards" {
  description = "PENDING_SHARDS (ingress and sweeper must agree)."
  type        = string
  default     = ""
}

variable "retention_days" {
  description = "RETENTION_DAYS: how long sent rows are kept before the TTL removes them."
  type        = string
  default     = ""
}

variable "response_budget_ms" {
  description = "RESPONSE_BUDGET_MS (code default 3000)."
  type        = string
  default     = ""
}

variable "grace_secs" {
  description = "GRACE_SECS: sweeper leaves younger pending rows to the ingress (code default 120)."
  type        = string
  default     = ""
}

variable "max_attempts" {
  description = "MAX_ATTEMPTS: sweeper re-sends before parking a row."
  type        = string
  default     = ""
}

variable "sweep_concurrency" {
  description = "SWEEP_CONCURRENCY: shards the sweeper sweeps at once, 1 to 64 (code default 4); raise it to drain a large backlog faster when AWS latency, not CPU, bounds the sweep."
  type        = string
  default     = ""
}

variable "dashboard_links" {
  description = "Extra dashboard links (title => URL): repository, runbook, worker dashboard."
  type        = map(string)
  default     = {}
}

variable "runbook_url" {
  description = "Where on-call finds docs/runbook.md, e.g. https://github.com/your-org/webhook-ingress/blob/main/docs/runbook.md: the dashboard links it and every outbox and queue alarm description points to its section. The default is the path in this repository."
  type        = string
  default     = "docs/runbook.md"
}

variable "table_deletion_protection" {
  description = "Deletion protection of the outbox table."
  type        = bool
  default     = true
}

variable "table_warm_write_units_per_second" {
  description = "Optional: the outbox table's warm write throughput (units a second), for bursts above what a new table serves (4,000 units: about 1,000 webhooks a second of 1-2 KB); docs/CAPACITY.md gives the sizing rule."
  type        = number
  default     = null
}

variable "index_warm_write_units_per_second" {
  description = "Optional: the unsent-index's warm write throughput (units a second), for bursts above what a new index serves (4,000 units: 2,000 webhooks a second); docs/CAPACITY.md gives the sizing rule."
  type        = number
  default     = null
}

variable "ingress_reserved_concurrency" {
  description = "Optional: concurrency reserved for the ingress function, so a burst neither starves the account's other functions nor is starved by them (docs/CAPACITY.md)."
  type        = number
  default     = null
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "rejected_burst_threshold" {
  description = "Rejected requests (bad signature) within 15 minutes at or above which the ingress-rejected-burst alarm fires; raise it if something probes the URL steadily."
  type        = number
  default     = 5
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

variable "large_body_prefix" {
  description = "LARGE_BODY_PREFIX: key prefix of the bodies in the large-body bucket (e.g. \"bodies/\"); empty for none."
  type        = string
  default     = ""
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

variable "tf_state_s3_uri" {
  description = "Optional: s3://BUCKET/KEY of this root's state (the S3 backend): the CI roles may read it, for output lambroll_env. Null: no state access (then give CI the outputs another way)."
  type        = string
  default     = null

  validation {
    condition     = var.tf_state_s3_uri == null || can(regex("^s3://[^/]+/.+", var.tf_state_s3_uri))
    error_message = "tf_state_s3_uri must be s3://BUCKET/KEY."
  }
}

variable "tf_state_kms_key_arn" {
  description = "Optional: the KMS key encrypting the state object, when the backend uses SSE-KMS (kms_key_id): the CI roles may decrypt it through S3."
  type        = string
  default     = null
}

variable "accepted_anomaly_alarm" {
  description = "Alarm when this source's Accepted volume falls far below its usual level (CloudWatch anomaly detection): the provider's deliveries stopped arriving. For a source with steady traffic; off by default."
  type        = bool
  default     = false
}

variable "rejected_rate_percent" {
  description = "Share of requests rejected in 5 minutes (%) at or above which ingress-rejected-rate fires: a secret rotated on one side rejects every delivery."
  type        = number
  default     = 50
}

variable "backfill_credential_parameter_name" {
  description = "BACKFILL_CREDENTIAL_PARAMETER: SSM parameter holding the provider API credential for `outboxctl backfill` (null: /<name>/backfill-credential)."
  type        = string
  default     = null
}

# One webhook provider of a deployment. Settings that map to an environment variable are strings where
# empty means "unset, use the code's default" (docs/configuration.md).

variable "shared" {
  description = "What the deployment shares between its sources: modules/webhook-shared output `for_sources`, passed whole."
  type = object({
    deployment_name         = string
    table_name              = string
    table_arn               = string
    unsent_index_arn        = string
    table_kms_key_arn       = string
    secrets_kms_key_arn     = string
    logs_kms_key_arn        = string
    large_body_bucket_name  = string
    large_body_bucket_arn   = string
    alarm_topic_arn         = string
    lambroll_env_path       = string
    monitoring_manifest_key = string
  })
}

variable "source_name" {
  description = "SOURCE_NAME: the webhook source (stripe, github, marketplace). It prefixes every outbox key (`<source>:<event id>`), which is what keeps the sources apart in the shared table, and is the EMF `Source` dimension."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.source_name))
    error_message = "source_name must be 2 to 32 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "name" {
  description = "Prefix of this source's resources (`<name>-ingress`, `<name>-sweeper`, `<name>-events`, `/<name>/secret`, alarms `<name>-*`): the deployment's name followed by `-<source_name>`, or, for a deployment moved from the one-source layout, the deployment's name itself (docs/deploy.md, Moving a one-source deployment). At most 46 characters: the longest name derived from it, the scheduler's role `<name>-sweeper-scheduler`, must stay within IAM's 64."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,44}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 46 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "signature" {
  description = "How the provider signs its requests (docs/providers.md): SIGNATURE_SCHEME, SIGNATURE_HEADER, SIGNATURE_ENCODING, SIGNATURE_PREFIX, SIGNATURE_SPEC (the JSON document of scheme `custom`, docs/custom-schemes.md: pass jsonencode({...})), and PUBLIC_URL, the exact URL configured at the provider (required by the schemes that sign the URL: twilio, square, hubspot)."
  type = object({
    scheme     = optional(string, "")
    header     = optional(string, "")
    encoding   = optional(string, "")
    prefix     = optional(string, "")
    spec       = optional(string, "")
    public_url = optional(string, "")
  })
  default = {}

  validation {
    condition     = !contains(["twilio", "square", "hubspot"], var.signature.scheme) || startswith(var.signature.public_url, "https://")
    error_message = "signature.public_url must be the https:// URL configured at the provider: the twilio, square and hubspot schemes sign it, and the ingress refuses to start without it."
  }

  validation {
    condition     = (var.signature.scheme == "custom") == (var.signature.spec != "")
    error_message = "signature.spec (the JSON document declaring the scheme, docs/custom-schemes.md) is required with scheme \"custom\" and refused with any other: the ingress would not start."
  }
}

variable "event" {
  description = "Where the provider puts the event id and type: EVENT_ID_HEADER, EVENT_ID_POINTER, EVENT_TYPE_POINTER."
  type = object({
    id_header    = optional(string, "")
    id_pointer   = optional(string, "")
    type_pointer = optional(string, "")
  })
  default = {}
}

variable "routes" {
  description = "ROUTES: events routed to queues of their own (each with its DLQ and alarms, created here), first match wins, the rest go to the main queue. Each route names `pointer` (a JSON pointer into the body) or `header`, and `equals` or `prefix`; `fifo = true` makes a FIFO queue whose MessageGroupId is the value at `group_pointer` (default: the source). Route names: lowercase letters, digits and hyphens; with this source's `name` at most 70 characters together (SQS's 80 for `<name>-<route>-dlq.fifo`)."
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

  validation {
    condition     = alltrue([for r in var.routes : can(regex("^[a-z0-9][a-z0-9-]*$", r.name)) && length(var.name) + length(r.name) <= 70])
    error_message = "Every route name must be lowercase letters, digits and hyphens, and at most 70 characters together with the source's name."
  }
}

variable "settings" {
  description = "The functions' tuning, each the environment variable of the same name in upper case (empty: the code's default): max_body_bytes, timestamp_tolerance_secs, secret_refresh_secs, response_budget_ms (ingress); pending_shards, retention_days (both, equal for both); grace_secs, max_attempts, sweep_concurrency (sweeper); large_body_prefix (LARGE_BODY_PREFIX)."
  type = object({
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
  })
  default = {}
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE of the EMF metrics (alarms and dashboard read it)."
  type        = string
  default     = "WebhookIngress"
}

variable "architecture" {
  description = "Both functions' architecture (ARCH for lambroll); must match the packages built by scripts/package.sh."
  type        = string
  default     = "arm64"
}

variable "ingress_memory_size" {
  description = "Ingress memory (MB); lambroll applies it on every deploy (INGRESS_MEMORY_SIZE). 256 is the best buy measured with TLS and Lambda's CPU share (docs/benchmarks.md, memory size): 128 saves about $0.02 per million webhooks and is the slowest (warm and init), 512 and 1024 answer no faster and cost more."
  type        = number
  default     = 256
}

variable "sweeper_memory_size" {
  description = "Sweeper memory (MB); lambroll applies it on every deploy (SWEEPER_MEMORY_SIZE). The sweeper's CPU share grows with it."
  type        = number
  default     = 512
}

variable "ingress_reserved_concurrency" {
  description = "Concurrency reserved for (and the most allowed to) the ingress. It bounds what a flood of forged requests can start: each new instance reads the signing secret once and, after a failed signature, at most once per jittered interval, so at most this many instances share the account's SSM GetParameter quota (40 a second at standard throughput) with everything else in it, and a burst neither starves the account's other functions nor is starved by them. 50 serves about 1,600 webhooks a second at 30 ms each; raise it for more (docs/CAPACITY.md). Lambda keeps 100 of the account's concurrency unreserved: an account whose quota is below 100 + this (a new account's is 10) must set -1, which reserves none and leaves the ingress on the unreserved pool (the provider's own convention)."
  type        = number
  default     = 50

  validation {
    condition     = var.ingress_reserved_concurrency == -1 || var.ingress_reserved_concurrency >= 1
    error_message = "ingress_reserved_concurrency must be at least 1, or -1 for none (0 would refuse every request)."
  }
}

variable "log_retention_days" {
  description = "Retention of both functions' log groups."
  type        = number
  default     = 365
}

variable "queue_sender_arns" {
  description = "Principals besides this source's functions that may send to its queues: the on-call roles the repair policy (output outboxctl_repair_policy_arn) is attached to, for outboxctl resend, replay and dlq redrive. Every other principal is denied sqs:SendMessage by the queues' policies."
  type        = list(string)
  default     = []
}

variable "adopt_existing_parameters" {
  description = "The signing secret (and backfill credential) parameters already exist, created outside Terraform or by the one-source layout: use them by name instead of creating them (docs/deploy.md, Moving a one-source deployment)."
  type        = bool
  default     = false
}

variable "backfill_provider" {
  description = "The provider API that `outboxctl backfill` reads for this source: stripe, github, gitlab or paddle (docs/backfill.md). Set: creates the credential parameter `/<name>/backfill-credential`, readable by the repair on-call policy only. Null: no backfill for this source."
  type        = string
  default     = null

  validation {
    condition     = var.backfill_provider == null ? true : contains(["stripe", "github", "gitlab", "paddle"], var.backfill_provider)
    error_message = "backfill_provider must be stripe, github, gitlab, paddle or null."
  }
}

variable "alarms" {
  description = "Alarm thresholds: rejected_burst_threshold (rejected requests in 15 minutes), rejected_rate_percent (of the requests in 5 minutes), accepted_anomaly_alarm (Accepted below its usual band, for steady sources), oldest_message_age_seconds and visible_messages (the queues' backlog)."
  type = object({
    rejected_burst_threshold   = optional(number, 5)
    rejected_rate_percent      = optional(number, 50)
    accepted_anomaly_alarm     = optional(bool, false)
    oldest_message_age_seconds = optional(number, 900)
    visible_messages           = optional(number, 1000)
  })
  default = {}
}

variable "runbook_url" {
  description = "Where on-call finds docs/runbook.md (URL or repository path): every alarm description points to its section. At most 200 characters (alarm descriptions are limited to 1,024)."
  type        = string
  default     = "docs/runbook.md"

  validation {
    condition     = length(var.runbook_url) <= 200
    error_message = "runbook_url must be at most 200 characters: every alarm description carries it, within CloudWatch's 1,024."
  }
}

variable "tags" {
  description = "Tags for every resource of this source."
  type        = map(string)
  default     = {}
}

variable "reconciler" {
  description = "The scheduled reconciler (docs/backfill.md, The reconciler), for a source with backfill_provider set: enabled (default off), schedule_expression (default every 10 minutes), github_hook (RECONCILE_GITHUB_HOOK, for github), gitlab_hook (RECONCILE_GITLAB_HOOK, for gitlab), paddle_destination (RECONCILE_PADDLE_DESTINATION, for paddle), lookback_secs, settle_secs, stripe_version, memory_size, checkpoint_age_alarm_secs (the checkpoint-age alarm's threshold), and horizon_alarm_share (the near-horizon alarm fires when a missing event not yet recovered has used this share of the provider's horizon: GitHub 3 days, GitLab 7, Stripe 30, Paddle 90; default half)."
  type = object({
    enabled                   = optional(bool, false)
    schedule_expression       = optional(string, "rate(10 minutes)")
    github_hook               = optional(string, "")
    gitlab_hook               = optional(string, "")
    paddle_destination        = optional(string, "")
    lookback_secs             = optional(number, 86400)
    settle_secs               = optional(number, 300)
    stripe_version            = optional(string, "")
    memory_size               = optional(number, 256)
    checkpoint_age_alarm_secs = optional(number, 7200)
    horizon_alarm_share       = optional(number, 0.5)
  })
  default = {}

  validation {
    condition     = var.reconciler.horizon_alarm_share > 0 && var.reconciler.horizon_alarm_share < 1
    error_message = "reconciler.horizon_alarm_share must be between 0 and 1 (a share of the provider's horizon)."
  }
}

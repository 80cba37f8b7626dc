# The reconciler (docs/backfill.md, "The reconciler"): a scheduled function per source that lists what
# the provider emitted (its event or delivery API) and recovers what has no outbox row, as
# `outboxctl backfill --yes` does. Off by default; on for a source with backfill_provider set and
# reconciler.enabled. Its code, runtime and environment are deployed by lambroll (reconciler/function.json)
# from the same lambroll_env parameter as the ingress's and the sweeper's.

locals {
  reconciler_enabled     = var.reconciler.enabled && var.backfill_provider != null
  reconciler_name        = "${var.name}-reconciler"
  reconciler_description = "Webhook reconciler (${var.source_name}): recovers events the provider emitted that never reached the outbox"
  # A run stops starting recoveries before its invocation ends (RECONCILE_LEASE_SECS outlives it).
  reconciler_timeout = 300

  # The same keys as reconciler/function.json and the crate's ENV_VARS (tests/infra checks it).
  reconciler_env = {
    SOURCE_NAME                   = var.source_name
    OUTBOX_TABLE                  = var.shared.table_name
    QUEUE_URL                     = module.queue.queue_url
    ROUTES                        = local.routes_json
    PENDING_SHARDS                = var.settings.pending_shards
    RETENTION_DAYS                = var.settings.retention_days
    METRICS_NAMESPACE             = var.metrics_namespace
    RECONCILE_PROVIDER            = var.backfill_provider == null ? "" : var.backfill_provider
    RECONCILE_GITHUB_HOOK         = var.reconciler.github_hook
    RECONCILE_LOOKBACK_SECS       = var.reconciler.lookback_secs
    RECONCILE_SETTLE_SECS         = var.reconciler.settle_secs
    RECONCILE_OVERLAP_SECS        = ""
    RECONCILE_LEASE_SECS          = ""
    RECONCILE_STRIPE_VERSION      = var.reconciler.stripe_version
    BACKFILL_CREDENTIAL_PARAMETER = try(module.backfill_credential[0].parameter_name, "")
    STRIPE_API_BASE               = ""
    GITHUB_API_BASE               = ""
    RECONCILE_GITLAB_HOOK         = var.reconciler.gitlab_hook
    RECONCILE_PADDLE_DESTINATION  = var.reconciler.paddle_destination
    GITLAB_API_BASE               = ""
    PADDLE_API_BASE               = ""
    # A Stripe event over what a row holds goes to the S3 claim check, as the ingress stores one.
    LARGE_BODY_BUCKET  = var.shared.large_body_bucket_name
    LARGE_BODY_PREFIX  = var.settings.large_body_prefix
    LARGE_BODY_KMS_KEY = var.shared.table_kms_key_arn
  }
  # What lambroll_env exports for reconciler/function.json (empty names without a reconciler).
  reconciler_lambroll_env = merge(local.reconciler_env, {
    RECONCILER_FUNCTION_NAME = local.reconciler_enabled ? local.reconciler_name : ""
    RECONCILER_ROLE_ARN      = try(module.reconciler[0].role_arn, "")
    RECONCILER_DESCRIPTION   = local.reconciler_description
    RECONCILER_MEMORY_SIZE   = var.reconciler.memory_size
    RECONCILER_TIMEOUT       = local.reconciler_timeout
  })

  # How long the provider can still give back an event (docs/backfill.md): GitHub redelivers a delivery
  # for 3 days, GitLab keeps a hook's events 7 days, Stripe lists events for 30 days, Paddle keeps
  # notifications 90 days. A provider not listed here gets the shortest, GitHub's.
  provider_horizon_secs = { github = 259200, gitlab = 604800, stripe = 2592000, paddle = 7776000 }
  reconciler_horizon_secs = lookup(local.provider_horizon_secs,
  var.backfill_provider == null ? "" : var.backfill_provider, local.provider_horizon_secs.github)
  # The near-horizon alarm: a missing event not yet recovered this old has this much of the horizon used up.
  reconciler_horizon_alarm_secs = floor(local.reconciler_horizon_secs * var.reconciler.horizon_alarm_share)
}

module "reconciler" {
  source             = "../lambda"
  count              = local.reconciler_enabled ? 1 : 0
  function_name      = local.reconciler_name
  description        = local.reconciler_description
  architecture       = var.architecture
  memory_size        = var.reconciler.memory_size
  timeout            = local.reconciler_timeout
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = var.shared.logs_kms_key_arn
  alarm_topic_arn    = var.shared.alarm_topic_arn
  runbook_url        = var.runbook_url
  runbook_section    = "reconciler"
  outboxctl_command  = local.outboxctl
  tags               = var.tags

  # Like the sweeper: a retried run would only find the lease held; the next scheduled run does the work.
  async_invoke = {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }

  environment = local.reconciler_env

  # Exactly the actions of reconciler IAM_ACTIONS, each on exactly its resource: this source's rows and
  # its checkpoint row, its queues, and the backfill credential (which no other function may read).
  policy_statements = [
    {
      sid       = "OutboxReadWrite"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [var.shared.table_arn]
      conditions = [{
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = ["${var.source_name}:*", "reconciler#${var.source_name}"]
      }]
    },
    local.outbox_key_statement,
    # A Stripe event over what a row holds: written to S3 and re-tagged sent, as the ingress does (exactly
    # reconciler LARGE_BODY_IAM_ACTIONS), on this source's objects only, encrypted with the table's key.
    local.large_body_objects_statement,
    local.large_body_key_statement,
    {
      sid       = "QueueSend"
      actions   = ["sqs:SendMessage"]
      resources = local.queue_arns
    },
    {
      sid       = "CredentialRead"
      actions   = ["ssm:GetParameter"]
      resources = [try(module.backfill_credential[0].parameter_arn, "")]
    },
    {
      # The shared secrets key, for the credential parameter only (SSM names it in the encryption context).
      sid       = "CredentialKey"
      actions   = ["kms:Decrypt"]
      resources = [var.shared.secrets_kms_key_arn]
      conditions = [
        {
          test     = "StringEquals"
          variable = "kms:ViaService"
          values   = ["ssm.${local.region}.amazonaws.com"]
        },
        {
          test     = "StringEquals"
          variable = "kms:EncryptionContext:PARAMETER_ARN"
          values   = [try(module.backfill_credential[0].parameter_arn, "")]
        },
      ]
    },
  ]
}

module "reconciler_schedule" {
  source              = "../lambda-schedule"
  count               = local.reconciler_enabled ? 1 : 0
  name                = local.reconciler_name
  schedule_expression = var.reconciler.schedule_expression
  function_arn        = module.reconciler[0].alias_arn
  tags                = var.tags
}

# Anything the provider refused for good, a checkpoint falling behind (runs failing: the credential
# revoked, the API down; or an event that keeps failing), and a missing event nearing the provider's horizon
# (the age of the oldest one a run could not recover, against a share of how long the provider keeps it).
resource "aws_cloudwatch_metric_alarm" "reconciler" {
  for_each = local.reconciler_enabled ? {
    unrecoverable  = { metric = "ReconcileUnrecoverable", statistic = "Sum", threshold = 0, section = "reconciler", what = "the provider refused to give back an event for good (too old): the event is lost to the queue" }
    checkpoint-age = { metric = "ReconcileCheckpointAgeSeconds", statistic = "Maximum", threshold = var.reconciler.checkpoint_age_alarm_secs, section = "reconciler", what = "the checkpoint falls behind: runs fail or an event keeps failing" }
    near-horizon   = { metric = "ReconcileOldestMissingAgeSeconds", statistic = "Maximum", threshold = local.reconciler_horizon_alarm_secs, section = "reconciler-near-horizon", what = "an event missing from the outbox and not yet recovered is ${local.reconciler_horizon_alarm_secs} s old, ${var.reconciler.horizon_alarm_share * 100} % of the ${local.reconciler_horizon_secs} s the provider keeps it: fix what keeps it from being recovered before the provider forgets it" }
  } : {}

  alarm_name          = "${var.name}-reconciler-${each.key}"
  alarm_description   = "${var.source_name}: ${each.value.what}. Runbook: ${var.runbook_url}#${each.value.section} ; ${local.outboxctl} status"
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = { Source = var.source_name }
  statistic           = each.value.statistic
  period              = 600
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = each.key == "checkpoint-age" ? "breaching" : "notBreaching"
  alarm_actions       = [var.shared.alarm_topic_arn]
  ok_actions          = [var.shared.alarm_topic_arn]
  tags                = var.tags
}

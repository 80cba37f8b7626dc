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
  }
  # What lambroll_env exports for reconciler/function.json (empty names without a reconciler).
  reconciler_lambroll_env = merge(local.reconciler_env, {
    RECONCILER_FUNCTION_NAME = local.reconciler_enabled ? local.reconciler_name : ""
    RECONCILER_ROLE_ARN      = try(module.reconciler[0].role_arn, "")
    RECONCILER_DESCRIPTION   = local.reconciler_description
    RECONCILER_MEMORY_SIZE   = var.reconciler.memory_size
    RECONCILER_TIMEOUT       = local.reconciler_timeout
  })
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

# Anything the provider refused for good, and a checkpoint falling behind (runs failing: the credential
# revoked, the API down; or an event that keeps failing, nearing the provider's horizon).
resource "aws_cloudwatch_metric_alarm" "reconciler" {
  for_each = local.reconciler_enabled ? {
    unrecoverable  = { metric = "ReconcileUnrecoverable", statistic = "Sum", threshold = 0, what = "the provider refused to give back an event for good (too old): the event is lost to the queue" }
    checkpoint-age = { metric = "ReconcileCheckpointAgeSeconds", statistic = "Maximum", threshold = var.reconciler.checkpoint_age_alarm_secs, what = "the checkpoint falls behind: runs fail or an event keeps failing" }
  } : {}

  alarm_name          = "${var.name}-reconciler-${each.key}"
  alarm_description   = "${var.source_name}: ${each.value.what}. Runbook: ${var.runbook_url}#reconciler ; ${local.outboxctl} status"
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

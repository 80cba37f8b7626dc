# One webhook provider of a deployment, end to end:
#   Function URL -> ingress Lambda -> the shared outbox table + this source's queue (-> DLQ) -> workers
#   EventBridge Scheduler -> sweeper Lambda -> re-sends this source's pending rows
# plus its secret, its alarms, its dashboard band, its on-call policies and its lambroll settings. The
# table, the keys, the bucket and the alarm topic come from modules/webhook-shared (var.shared).
# Code, runtime and environment of both functions are deployed by lambroll (function.json,
# sweeper/function.json) from the parameter `lambroll_env` writes; see docs/deploy.md.

data "aws_region" "current" {}

locals {
  region       = data.aws_region.current.region
  ingress_name = "${var.name}-ingress"
  sweeper_name = "${var.name}-sweeper"
  # How on-call points outboxctl at this source (the alias that serves traffic).
  outboxctl = "outboxctl --function ${local.ingress_name}:current"

  # Settings both Terraform (at creation) and lambroll (every deploy, through lambroll_env) apply, so
  # that a deploy never reverts them. The timeouts are part of the design: the ingress answers within
  # RESPONSE_BUDGET_MS (3 s) and GRACE_SECS (120 s) exceeds its timeout; a sweep ends before the next.
  ingress_description = "Webhook ingress (${var.source_name}): verify, record in the outbox, enqueue"
  sweeper_description = "Webhook outbox sweeper (${var.source_name}): re-sends pending events"
  ingress_timeout     = 10
  sweeper_timeout     = 60

  # The functions' environments: the same keys as function.json / sweeper/function.json and each crate's
  # ENV_VARS (tests/infra checks it); lambroll owns the values. Both functions read shared_env.
  shared_env = {
    SOURCE_NAME       = var.source_name
    OUTBOX_TABLE      = var.shared.table_name
    QUEUE_URL         = module.queue.queue_url
    ROUTES            = local.routes_json
    PENDING_SHARDS    = var.settings.pending_shards
    RETENTION_DAYS    = var.settings.retention_days
    METRICS_NAMESPACE = var.metrics_namespace
    # The S3 claim check: bodies over what a row holds go to the shared bucket, under this source's keys.
    LARGE_BODY_BUCKET  = var.shared.large_body_bucket_name
    LARGE_BODY_PREFIX  = var.settings.large_body_prefix
    LARGE_BODY_KMS_KEY = var.shared.table_kms_key_arn
  }
  ingress_env = merge(local.shared_env, {
    SECRET_PARAMETER         = module.secret.parameter_name
    SIGNATURE_SCHEME         = var.signature.scheme
    SIGNATURE_HEADER         = var.signature.header
    SIGNATURE_ENCODING       = var.signature.encoding
    SIGNATURE_PREFIX         = var.signature.prefix
    SIGNATURE_SPEC           = var.signature.spec
    PUBLIC_URL               = var.signature.public_url
    EVENT_ID_HEADER          = var.event.id_header
    EVENT_ID_POINTER         = var.event.id_pointer
    EVENT_TYPE_POINTER       = var.event.type_pointer
    MAX_BODY_BYTES           = var.settings.max_body_bytes
    TIMESTAMP_TOLERANCE_SECS = var.settings.timestamp_tolerance_secs
    SECRET_REFRESH_SECS      = var.settings.secret_refresh_secs
    RESPONSE_BUDGET_MS       = var.settings.response_budget_ms
  })
  sweeper_env = merge(local.shared_env, {
    GRACE_SECS        = var.settings.grace_secs
    MAX_ATTEMPTS      = var.settings.max_attempts
    SWEEP_CONCURRENCY = var.settings.sweep_concurrency
  })

  # ROUTES as the code reads it: each route with its queue's URL (optional fields left null).
  routes_json = jsonencode([for r in var.routes : {
    name          = r.name
    pointer       = r.pointer
    header        = r.header
    equals        = r.equals
    prefix        = r.prefix
    group_pointer = r.group_pointer
    queue_url     = module.routed_queue[r.name].queue_url
  }])
  # Both functions send to the main queue and to every routed queue, and to nothing else.
  queue_arns = concat([module.queue.queue_arn], [for r in var.routes : module.routed_queue[r.name].queue_arn])
  # Their dead-letter queues, in the same order: on-call looks at and redrives each (oncall.tf).
  dlq_arns = concat([module.queue.dlq_arn], [for r in var.routes : module.routed_queue[r.name].dlq_arn])
  # Who may send to this source's queues: its two functions and the on-call repair roles.
  queue_senders = concat([module.ingress.role_arn, module.sweeper.role_arn], module.reconciler[*].role_arn, var.queue_sender_arns)

  # This source's rows of the shared table: every key starts with `<source>:` (DESIGN section 4), and
  # each role may touch no other row (dynamodb:LeadingKeys is the key of the item a call names).
  own_rows = [{
    test     = "ForAllValues:StringLike"
    variable = "dynamodb:LeadingKeys"
    values   = ["${var.source_name}:*"]
  }]
  # The large-body objects of this source: `<prefix><source>:<event id>/<sha256>` (shared/src/large_body.rs).
  large_body_objects = "${var.shared.large_body_bucket_arn}/${var.settings.large_body_prefix}${var.source_name}:*"

  # Both functions write (ingress) or re-tag (a copy onto itself: ingress, sweeper) large bodies, with
  # tags; the copy reads its source. Exactly ingress and sweeper LARGE_BODY_IAM_ACTIONS.
  large_body_objects_statement = {
    sid       = "LargeBodyObjects"
    actions   = ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"]
    resources = [local.large_body_objects]
  }
  # The bodies are encrypted with the table's key, through S3 only.
  large_body_key_statement = {
    sid       = "LargeBodyKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.shared.table_kms_key_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }]
  }
  # Both functions read and write outbox rows: the table's key, through DynamoDB only.
  outbox_key_statement = {
    sid       = "OutboxKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.shared.table_kms_key_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }]
  }
}

module "queue" {
  source            = "../sqs-with-dlq"
  name              = "${var.name}-events"
  sender_arns       = local.queue_senders
  alarm_topic_arn   = var.shared.alarm_topic_arn
  runbook_url       = var.runbook_url
  outboxctl_command = local.outboxctl
  tags              = var.tags

  oldest_message_age_threshold_seconds = var.alarms.oldest_message_age_seconds
  visible_messages_threshold           = var.alarms.visible_messages
}

module "routed_queue" {
  source   = "../sqs-with-dlq"
  for_each = { for r in var.routes : r.name => r }

  name              = "${var.name}-${each.key}"
  fifo              = each.value.fifo
  sender_arns       = local.queue_senders
  alarm_topic_arn   = var.shared.alarm_topic_arn
  runbook_url       = var.runbook_url
  outboxctl_command = local.outboxctl
  outboxctl_dlq     = "dlq --route ${each.key}"
  tags              = var.tags

  oldest_message_age_threshold_seconds = var.alarms.oldest_message_age_seconds
  visible_messages_threshold           = var.alarms.visible_messages
}

module "secret" {
  source      = "../secret-parameter"
  name        = "/${var.name}/secret"
  kms_key_arn = var.shared.secrets_kms_key_arn
  create      = !var.adopt_existing_parameters
  tags        = var.tags
}

# The API credential `outboxctl backfill` reads (BACKFILL_CREDENTIAL_PARAMETER): a Stripe restricted key
# or a GitHub token. Only the on-call repair policy may read it, and the reconciler when enabled (reconciler.tf).
module "backfill_credential" {
  source      = "../secret-parameter"
  count       = var.backfill_provider == null ? 0 : 1
  name        = "/${var.name}/backfill-credential"
  kms_key_arn = var.shared.secrets_kms_key_arn
  create      = !var.adopt_existing_parameters
  description = "outboxctl backfill (${var.backfill_provider}): the provider API credential (a Stripe restricted key with Events read, a GitHub token that may read and redeliver the hook's deliveries, a GitLab access token with the api scope, or a Paddle API key with notification read and write). Set with aws ssm put-parameter --overwrite."
  tags        = var.tags
}

module "ingress" {
  source               = "../lambda"
  function_name        = local.ingress_name
  description          = local.ingress_description
  architecture         = var.architecture
  memory_size          = var.ingress_memory_size
  timeout              = local.ingress_timeout
  reserved_concurrency = var.ingress_reserved_concurrency == -1 ? null : var.ingress_reserved_concurrency
  log_retention_days   = var.log_retention_days
  log_kms_key_arn      = var.shared.logs_kms_key_arn
  create_function_url  = true
  alarm_topic_arn      = var.shared.alarm_topic_arn
  runbook_url          = var.runbook_url
  runbook_section      = "ingress"
  outboxctl_command    = local.outboxctl
  tags                 = var.tags

  environment = local.ingress_env

  # Exactly the actions of ingress IAM_ACTIONS (tests/infra checks it), each on exactly its resource,
  # rows of this source only.
  policy_statements = [
    {
      sid        = "OutboxWrite"
      actions    = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources  = [var.shared.table_arn]
      conditions = local.own_rows
    },
    {
      # The cold start checks that the table exists: no item, no key to condition on.
      sid       = "OutboxDescribe"
      actions   = ["dynamodb:DescribeTable"]
      resources = [var.shared.table_arn]
    },
    local.outbox_key_statement,
    {
      sid       = "QueueSend"
      actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
      resources = local.queue_arns
    },
    {
      sid       = "SecretRead"
      actions   = ["ssm:GetParameter"]
      resources = [module.secret.parameter_arn]
    },
    {
      # The shared secrets key, for this parameter only (SSM names it in the encryption context).
      sid       = "SecretKey"
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
          values   = [module.secret.parameter_arn]
        },
      ]
    },
    local.large_body_objects_statement,
    local.large_body_key_statement,
  ]
}

module "sweeper" {
  source             = "../lambda"
  function_name      = local.sweeper_name
  description        = local.sweeper_description
  architecture       = var.architecture
  memory_size        = var.sweeper_memory_size
  timeout            = local.sweeper_timeout
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = var.shared.logs_kms_key_arn
  alarm_topic_arn    = var.shared.alarm_topic_arn
  runbook_url        = var.runbook_url
  runbook_section    = "sweeper"
  outboxctl_command  = local.outboxctl
  tags               = var.tags

  # The schedule invokes it asynchronously: a run Lambda retried (2 times, for up to 6 hours, by default)
  # could run beside the next scheduled one, which a minute later does the same work anyway.
  async_invoke = {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }

  environment = local.sweeper_env

  # Exactly the actions of sweeper IAM_ACTIONS (tests/infra checks it), each on exactly its resource.
  policy_statements = [
    {
      # KEYS_ONLY: a Query returns keys, never a body. The sweeper queries its own source's keys
      # (pending#<source>#<shard>); every row it reads or changes is conditioned below.
      sid       = "UnsentIndexQuery"
      actions   = ["dynamodb:Query"]
      resources = [var.shared.unsent_index_arn]
    },
    {
      sid        = "OutboxReadUpdate"
      actions    = ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
      resources  = [var.shared.table_arn]
      conditions = local.own_rows
    },
    local.outbox_key_statement,
    {
      # SendMessageBatch is authorised by sqs:SendMessage.
      sid       = "QueueSend"
      actions   = ["sqs:SendMessage"]
      resources = local.queue_arns
    },
    local.large_body_objects_statement,
    local.large_body_key_statement,
  ]
}

module "sweeper_schedule" {
  source              = "../lambda-schedule"
  name                = local.sweeper_name
  schedule_expression = "rate(1 minute)"
  function_arn        = module.sweeper.alias_arn
  tags                = var.tags
}

module "monitoring" {
  source                = "../monitoring"
  name                  = var.name
  metrics_namespace     = var.metrics_namespace
  source_name           = var.source_name
  ingress_function_name = module.ingress.function_name
  sweeper_function_name = module.sweeper.function_name
  # The reconciler's widget and alarms, when this source runs one.
  reconciler_function_name         = local.reconciler_enabled ? local.reconciler_name : ""
  reconciler_horizon_alarm_seconds = local.reconciler_enabled ? local.reconciler_horizon_alarm_secs : 0
  function_url                     = module.ingress.function_url
  queue_name                       = module.queue.queue_name
  queue_url                        = module.queue.queue_url
  dlq_name                         = module.queue.dlq_name
  dlq_url                          = module.queue.dlq_url
  routed_queues = [for r in var.routes : {
    name       = r.name
    queue_name = module.routed_queue[r.name].queue_name
    dlq_name   = module.routed_queue[r.name].dlq_name
  }]
  alarm_topic_arn = var.shared.alarm_topic_arn
  # A secret that differs between the provider and SSM rejects every delivery.
  rejected_burst_threshold = var.alarms.rejected_burst_threshold
  # Deliveries that stop arriving, or arrive with a signature the ingress refuses: the backfill recovers them.
  accepted_anomaly_alarm = var.alarms.accepted_anomaly_alarm
  rejected_rate_percent  = var.alarms.rejected_rate_percent
  backfill_provider      = var.backfill_provider
  runbook_url            = var.runbook_url
  outboxctl_command      = local.outboxctl
  tags                   = var.tags
  other_alarm_arns = concat(
    module.ingress.alarm_arns, module.queue.alarm_arns, module.sweeper.alarm_arns,
    flatten([for r in var.routes : module.routed_queue[r.name].alarm_arns]),
    [for alarm in aws_cloudwatch_metric_alarm.reconciler : alarm.arn],
  )
}

# Everything function.json and sweeper/function.json read, as shell exports: what lambroll deploys from
# (CI and workstations alike read this parameter, never the Terraform state). A String: it holds names
# and settings, never a secret (tests/infra checks that). Intelligent-Tiering: Standard (free) while it
# fits in 4 KB, Advanced past that.
locals {
  lambroll_env = join("\n", [for k, v in merge(local.ingress_env, local.sweeper_env, local.reconciler_lambroll_env, {
    ARCH                  = var.architecture
    INGRESS_FUNCTION_NAME = module.ingress.function_name
    INGRESS_ROLE_ARN      = module.ingress.role_arn
    INGRESS_DESCRIPTION   = local.ingress_description
    INGRESS_MEMORY_SIZE   = var.ingress_memory_size
    INGRESS_TIMEOUT       = local.ingress_timeout
    SWEEPER_FUNCTION_NAME = module.sweeper.function_name
    SWEEPER_ROLE_ARN      = module.sweeper.role_arn
    SWEEPER_DESCRIPTION   = local.sweeper_description
    SWEEPER_MEMORY_SIZE   = var.sweeper_memory_size
    SWEEPER_TIMEOUT       = local.sweeper_timeout
  }) : "export ${k}='${replace(v, "'", "'\\''")}'"])
}

resource "aws_ssm_parameter" "lambroll_env" {
  #checkov:skip=CKV2_AWS_34:Not a secret: the functions' names, roles and settings, which CI reads to deploy; SecureString would make every CI job a KMS user for no secrecy gained.
  name        = "${var.shared.lambroll_env_path}/${var.source_name}"
  description = "lambroll settings of source ${var.source_name}: eval \"$(aws ssm get-parameter --name ... --query Parameter.Value --output text)\" before lambroll diff/deploy."
  type        = "String"
  tier        = "Intelligent-Tiering"
  value       = local.lambroll_env
  tags        = var.tags
}

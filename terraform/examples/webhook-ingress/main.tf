# Example root: one webhook source, end to end.
#   Function URL -> ingress Lambda -> DynamoDB outbox + SQS main queue (-> DLQ) -> PHP workers
#   EventBridge Scheduler -> sweeper Lambda -> re-sends pending outbox rows
# Code, runtime and environment of both functions are deployed by lambroll (function.json,
# sweeper/function.json) from the outputs below; see docs/deploy.md.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region           = data.aws_region.current.region
  account_id       = data.aws_caller_identity.current.account_id
  partition        = data.aws_partition.current.partition
  secret_parameter = coalesce(var.secret_parameter_name, "/${var.name}/secret")
  ingress_name     = "${var.name}-ingress"
  # How on-call points outboxctl at this deployment (the alias that serves traffic).
  outboxctl    = "outboxctl --function ${var.name}-ingress:current"
  sweeper_name = "${var.name}-sweeper"

  # Settings both Terraform (at creation) and lambroll (every deploy, through output lambroll_env) apply,
  # so that a deploy never reverts them. The timeouts are part of the design: the ingress answers within
  # RESPONSE_BUDGET_MS (3 s) and GRACE_SECS (120 s) exceeds its timeout; a sweep ends before the next one.
  ingress_description = "Webhook ingress (${var.source_name}): verify, record in the outbox, enqueue"
  sweeper_description = "Webhook outbox sweeper (${var.source_name}): re-sends pending events"
  ingress_timeout     = 10
  sweeper_timeout     = 60

  # Where AWS Chatbot's API exists (it is not in every region).
  chatbot_regions = ["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"]

  # The functions' environments: the same keys as function.json / sweeper/function.json and each crate's
  # ENV_VARS (tests/infra checks it); lambroll owns the values. Both functions read shared_env
  # (PENDING_SHARDS, RETENTION_DAYS and METRICS_NAMESPACE must be equal for both).
  shared_env = {
    SOURCE_NAME       = var.source_name
    OUTBOX_TABLE      = module.outbox.table_name
    QUEUE_URL         = module.queue.queue_url
    ROUTES            = local.routes_json
    PENDING_SHARDS    = var.pending_shards
    RETENTION_DAYS    = var.retention_days
    METRICS_NAMESPACE = var.metrics_namespace
    # The S3 claim check: bodies over what a row holds go to this bucket, encrypted with the table's key.
    LARGE_BODY_BUCKET  = module.large_bodies.bucket_name
    LARGE_BODY_PREFIX  = var.large_body_prefix
    LARGE_BODY_KMS_KEY = module.outbox.kms_key_arn
  }
  ingress_env = merge(local.shared_env, {
    SECRET_PARAMETER         = module.secret.parameter_name
    SIGNATURE_SCHEME         = var.signature_scheme
    SIGNATURE_HEADER         = var.signature_header
    SIGNATURE_ENCODING       = var.signature_encoding
    SIGNATURE_PREFIX         = var.signature_prefix
    PUBLIC_URL               = var.public_url
    EVENT_ID_HEADER          = var.event_id_header
    EVENT_ID_POINTER         = var.event_id_pointer
    EVENT_TYPE_POINTER       = var.event_type_pointer
    MAX_BODY_BYTES           = var.max_body_bytes
    TIMESTAMP_TOLERANCE_SECS = var.timestamp_tolerance_secs
    SECRET_REFRESH_SECS      = var.secret_refresh_secs
    RESPONSE_BUDGET_MS       = var.response_budget_ms
  })
  sweeper_env = merge(local.shared_env, {
    GRACE_SECS        = var.grace_secs
    MAX_ATTEMPTS      = var.max_attempts
    SWEEP_CONCURRENCY = var.sweep_concurrency
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

  # The large-body objects the functions may touch: the bucket's (prefixed) objects, never the bucket.
  large_body_objects = "${module.large_bodies.bucket_arn}/${var.large_body_prefix}*"
  # A body expires this long after its row was marked sent: the row's retention (RETENTION_DAYS, code
  # default 14), then the longest a message pointing to it may wait on the main queue and then the DLQ.
  large_body_expiry_days = tonumber(coalesce(var.retention_days, "14")) + ceil(
    (module.queue.message_retention_seconds + module.queue.dlq_message_retention_seconds) / 86400
  )
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
    resources = [module.outbox.kms_key_arn]
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
    resources = [module.outbox.kms_key_arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }]
  }
}

module "alarm_topic" {
  source             = "../../modules/alarm-topic"
  name               = "${var.name}-alarms"
  email_addresses    = var.alarm_emails
  https_endpoints    = var.alarm_https_endpoints
  slack_workspace_id = var.slack_workspace_id
  slack_channel_id   = var.slack_channel_id
  # The deployment's region when AWS Chatbot has its API there, else us-east-2.
  chatbot_region = coalesce(var.chatbot_region, contains(local.chatbot_regions, var.region) ? var.region : "us-east-2")
}

# `terraform plan` and `apply` warn (a check block never fails the run) while no alarm reaches anyone.
check "alarm_destination" {
  assert {
    condition     = length(module.alarm_topic.destinations) > 0
    error_message = "No alarm destination is configured: every alarm goes to the SNS topic and no further. Set alarm_emails, alarm_https_endpoints (PagerDuty, Opsgenie) or slack_workspace_id + slack_channel_id (docs/deploy.md, Alarm destinations)."
  }
}

# Encrypts both functions' log groups.
resource "aws_kms_key" "logs" {
  description             = "Encrypts the CloudWatch log groups of ${var.name}."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsOwnGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-*"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

module "outbox" {
  source              = "../../modules/outbox-table"
  name                = "${var.name}-outbox"
  deletion_protection = var.table_deletion_protection

  warm_write_units_per_second       = var.table_warm_write_units_per_second
  index_warm_write_units_per_second = var.index_warm_write_units_per_second
}

module "large_bodies" {
  source                 = "../../modules/large-body-bucket"
  name_prefix            = "${substr(var.name, 0, 30)}-body-"
  kms_key_arn            = module.outbox.kms_key_arn
  expire_sent_after_days = local.large_body_expiry_days
}

module "queue" {
  source            = "../../modules/sqs-with-dlq"
  name              = "${var.name}-events"
  alarm_topic_arn   = module.alarm_topic.topic_arn
  runbook_url       = var.runbook_url
  outboxctl_command = local.outboxctl
}

module "routed_queue" {
  source   = "../../modules/sqs-with-dlq"
  for_each = { for r in var.routes : r.name => r }

  name              = "${var.name}-${each.key}"
  fifo              = each.value.fifo
  alarm_topic_arn   = module.alarm_topic.topic_arn
  runbook_url       = var.runbook_url
  outboxctl_command = local.outboxctl
  outboxctl_dlq     = "dlq --route ${each.key}"
}

module "secret" {
  source = "../../modules/secret-parameter"
  name   = local.secret_parameter
}

# The API credential `outboxctl backfill` reads (BACKFILL_CREDENTIAL_PARAMETER): a Stripe restricted key
# or a GitHub token. Its own key: only the on-call repair policy may read it, never a function.
module "backfill_credential" {
  source      = "../../modules/secret-parameter"
  name        = coalesce(var.backfill_credential_parameter_name, "/${var.name}/backfill-credential")
  description = "outboxctl backfill: the provider API credential (a Stripe restricted key with Events read, or a GitHub token that may read and redeliver the hook's deliveries). Set with aws ssm put-parameter --overwrite."
}

module "ingress" {
  source              = "../../modules/lambda"
  function_name       = local.ingress_name
  description         = local.ingress_description
  architecture        = var.architecture
  memory_size         = var.ingress_memory_size
  timeout             = local.ingress_timeout
  log_retention_days  = var.log_retention_days
  log_kms_key_arn     = aws_kms_key.logs.arn
  create_function_url = true
  alarm_topic_arn     = module.alarm_topic.topic_arn
  runbook_url         = var.runbook_url
  runbook_section     = "ingress"
  outboxctl_command   = local.outboxctl

  # A burst must not take every instance of the account (docs/CAPACITY.md); null: unreserved.
  reserved_concurrency = var.ingress_reserved_concurrency

  environment = local.ingress_env

  # Exactly the actions of ingress IAM_ACTIONS (tests/infra checks it), each on exactly its resource.
  policy_statements = [
    {
      sid       = "OutboxWrite"
      actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"]
      resources = [module.outbox.table_arn]
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
      sid       = "SecretKey"
      actions   = ["kms:Decrypt"]
      resources = [module.secret.kms_key_arn]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }]
    },
    local.large_body_objects_statement,
    local.large_body_key_statement,
  ]
}

module "sweeper" {
  source             = "../../modules/lambda"
  function_name      = local.sweeper_name
  description        = local.sweeper_description
  architecture       = var.architecture
  memory_size        = var.sweeper_memory_size
  timeout            = local.sweeper_timeout
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = aws_kms_key.logs.arn
  alarm_topic_arn    = module.alarm_topic.topic_arn
  runbook_url        = var.runbook_url
  runbook_section    = "sweeper"
  outboxctl_command  = local.outboxctl

  environment = local.sweeper_env

  # Exactly the actions of sweeper IAM_ACTIONS (tests/infra checks it), each on exactly its resource.
  policy_statements = [
    {
      sid       = "UnsentIndexQuery"
      actions   = ["dynamodb:Query"]
      resources = [module.outbox.unsent_index_arn]
    },
    {
      sid       = "OutboxReadUpdate"
      actions   = ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
      resources = [module.outbox.table_arn]
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
  source              = "../../modules/lambda-schedule"
  name                = local.sweeper_name
  schedule_expression = "rate(1 minute)"
  function_arn        = module.sweeper.alias_arn
}

module "monitoring" {
  source                = "../../modules/monitoring"
  name                  = var.name
  metrics_namespace     = var.metrics_namespace
  source_name           = var.source_name
  ingress_function_name = module.ingress.function_name
  sweeper_function_name = module.sweeper.function_name
  function_url          = module.ingress.function_url
  table_name            = module.outbox.table_name
  queue_name            = module.queue.queue_name
  queue_url             = module.queue.queue_url
  dlq_name              = module.queue.dlq_name
  dlq_url               = module.queue.dlq_url
  routed_queues = [for r in var.routes : {
    name       = r.name
    queue_name = module.routed_queue[r.name].queue_name
    dlq_name   = module.routed_queue[r.name].dlq_name
  }]
  alarm_topic_arn = module.alarm_topic.topic_arn
  links           = var.dashboard_links
  # A secret that differs between the provider and SSM rejects every delivery.
  rejected_burst_threshold = var.rejected_burst_threshold
  # Deliveries that stop arriving, or arrive with a signature the ingress refuses: the backfill recovers them.
  accepted_anomaly_alarm = var.accepted_anomaly_alarm
  rejected_rate_percent  = var.rejected_rate_percent
  runbook_url            = var.runbook_url
  outboxctl_command      = local.outboxctl
  other_alarm_arns = concat(
    module.ingress.alarm_arns, module.queue.alarm_arns, module.sweeper.alarm_arns,
    flatten([for r in var.routes : module.routed_queue[r.name].alarm_arns]),
  )
}

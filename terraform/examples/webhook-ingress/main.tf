# Example root: one deployment, any number of webhook sources.
#   each source: Function URL -> ingress Lambda -> the shared outbox table + its queue (-> DLQ) -> workers
#                EventBridge Scheduler -> its sweeper Lambda -> re-sends its pending rows
#   shared:      one outbox table, one set of KMS keys, one large-body bucket, one alarm topic, one dashboard
# Adding a provider is one entry in var.sources. Code, runtime and environment of the functions are
# deployed by lambroll from the parameters /<name>/lambroll-env/<source> (docs/deploy.md).

locals {
  # Where AWS Chatbot's API exists (it is not in every region).
  chatbot_regions = ["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"]

  # Each source's resource prefix: <name>-<source>, or what the source entry says (a deployment moved
  # from the one-source layout keeps its names).
  prefixes = { for key, s in var.sources : key => coalesce(s.name_prefix, "${var.name}-${key}") }

  # The shared large-body bucket keeps a sent body as long as any source may still point to it: the
  # longest row retention (RETENTION_DAYS), then the longest a message waits on a queue and its DLQ.
  large_body_expiry_days = max(concat([14], [for s in module.source : s.retention.retention_days])...) + ceil(
    (max(concat([0], [for s in module.source : s.retention.max_queue_seconds])...) +
    max(concat([0], [for s in module.source : s.retention.max_dlq_queue_seconds])...)) / 86400
  )
}

module "shared" {
  source = "../../modules/webhook-shared"
  name   = var.name
  tags   = var.tags

  table_deletion_protection         = var.table_deletion_protection
  table_warm_write_units_per_second = var.table_warm_write_units_per_second
  index_warm_write_units_per_second = var.index_warm_write_units_per_second
  large_body_expire_after_days      = local.large_body_expiry_days

  alarm_emails          = var.alarm_emails
  alarm_https_endpoints = var.alarm_https_endpoints
  slack_workspace_id    = var.slack_workspace_id
  slack_channel_id      = var.slack_channel_id
  # The deployment's region when AWS Chatbot has its API there, else us-east-2.
  chatbot_region = coalesce(var.chatbot_region, contains(local.chatbot_regions, var.region) ? var.region : "us-east-2")
}

module "source" {
  source   = "../../modules/webhook-source"
  for_each = var.sources

  shared      = module.shared.for_sources
  source_name = each.key
  name        = local.prefixes[each.key]

  signature                    = each.value.signature
  event                        = each.value.event
  routes                       = each.value.routes
  settings                     = each.value.settings
  alarms                       = each.value.alarms
  backfill_provider            = each.value.backfill_provider
  adopt_existing_parameters    = each.value.adopt_existing_parameters
  ingress_memory_size          = each.value.ingress_memory_size
  sweeper_memory_size          = each.value.sweeper_memory_size
  ingress_reserved_concurrency = each.value.ingress_reserved_concurrency

  architecture       = var.architecture
  metrics_namespace  = var.metrics_namespace
  log_retention_days = var.log_retention_days
  runbook_url        = var.runbook_url
  queue_sender_arns  = var.oncall_repair_role_arns
  tags               = merge(var.tags, { Source = each.key })
}

module "dashboard" {
  source     = "../../modules/dashboard"
  name       = var.name
  table_name = module.shared.table_name
  links      = var.dashboard_links
  bands      = [for key in keys(var.sources) : module.source[key].dashboard_band]
}

# What an outside monitoring system needs (the New Relic root, examples/newrelic-monitoring, reads it):
# names only, no secret.
resource "aws_ssm_parameter" "monitoring_manifest" {
  #checkov:skip=CKV2_AWS_34:Not a secret: function, queue and log group names for the monitoring root.
  name        = module.shared.for_sources.monitoring_manifest_key
  description = "Webhook ingress ${var.name}: each source's functions, queues and log groups, for monitoring outside CloudWatch."
  type        = "String"
  tier        = "Intelligent-Tiering"
  value = jsonencode({
    deployment = var.name
    table_name = module.shared.table_name
    sources    = [for key in keys(var.sources) : module.source[key].monitoring]
  })
  tags = var.tags
}

# `terraform plan` and `apply` warn (a check block never fails the run) while no alarm reaches anyone.
check "alarm_destination" {
  assert {
    condition     = length(module.shared.alarm_destinations) > 0
    error_message = "No alarm destination is configured: every alarm goes to the SNS topic and no further. Set alarm_emails, alarm_https_endpoints (PagerDuty, Opsgenie) or slack_workspace_id + slack_channel_id (docs/deploy.md, Alarm destinations)."
  }
}

# The queues admit only the deployment's functions and the roles named here: without any, on-call's
# outboxctl resend, replay and dlq redrive are refused by the queues' policies.
check "oncall_can_repair" {
  assert {
    condition     = length(var.oncall_repair_role_arns) > 0
    error_message = "oncall_repair_role_arns is empty: the queues' policies refuse sqs:SendMessage to everyone but the functions, so outboxctl resend, replay and dlq redrive will fail with AccessDenied. Name the on-call roles the repair policies are attached to (docs/deploy.md, On-call access)."
  }
}

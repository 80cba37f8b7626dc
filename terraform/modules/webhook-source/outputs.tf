output "source_name" {
  description = "SOURCE_NAME."
  value       = var.source_name
}

output "function_url" {
  description = "Give this URL to the provider (or put a custom domain in front: docs/deploy.md)."
  value       = module.ingress.function_url
}

output "ingress_function_name" {
  description = "The ingress function (outboxctl --function <it>:current)."
  value       = module.ingress.function_name
}

output "ingress_function_arn" {
  description = "The ingress function's unqualified ARN."
  value       = module.ingress.function_arn
}

output "ingress_role_arn" {
  description = "The ingress function's role."
  value       = module.ingress.role_arn
}

output "sweeper_function_name" {
  description = "The sweeper function."
  value       = module.sweeper.function_name
}

output "sweeper_function_arn" {
  description = "The sweeper function's unqualified ARN."
  value       = module.sweeper.function_arn
}

output "sweeper_role_arn" {
  description = "The sweeper function's role."
  value       = module.sweeper.role_arn
}

output "queue_url" {
  description = "QUEUE_URL: the main queue the workers read."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "The main queue's DLQ."
  value       = module.queue.dlq_url
}

output "queues" {
  description = "Every queue of this source, main first, then each route's: names, URLs and their DLQs (the New Relic module and on-call read them)."
  value = concat(
    [{ label = "main", queue_name = module.queue.queue_name, queue_url = module.queue.queue_url, dlq_name = module.queue.dlq_name, dlq_url = module.queue.dlq_url }],
    [for r in var.routes : {
      label      = r.name
      queue_name = module.routed_queue[r.name].queue_name
      queue_url  = module.routed_queue[r.name].queue_url
      dlq_name   = module.routed_queue[r.name].dlq_name
      dlq_url    = module.routed_queue[r.name].dlq_url
    }],
  )
}

output "retention" {
  description = "How long this source keeps a sent row (RETENTION_DAYS, code default 14) and the longest a message may wait on its queues and DLQs: the shared large-body bucket keeps a sent body at least that long."
  value = {
    retention_days        = tonumber(coalesce(var.settings.retention_days, "14"))
    max_queue_seconds     = max(concat([module.queue.message_retention_seconds], [for q in module.routed_queue : q.message_retention_seconds])...)
    max_dlq_queue_seconds = max(concat([module.queue.dlq_message_retention_seconds], [for q in module.routed_queue : q.dlq_message_retention_seconds])...)
  }
}

output "secret_parameter" {
  description = "SECRET_PARAMETER: put the provider's signing secret in it (docs/deploy.md section 4)."
  value       = module.secret.parameter_name
}

output "backfill_credential_parameter" {
  description = "BACKFILL_CREDENTIAL_PARAMETER for `outboxctl backfill` (null without backfill_provider)."
  value       = one(module.backfill_credential[*].parameter_name)
}

output "lambroll_env_parameter" {
  description = "The SSM parameter holding this source's lambroll settings (shell exports)."
  value       = aws_ssm_parameter.lambroll_env.name
}

output "lambroll_env" {
  description = "This source's lambroll settings as shell exports (the value of lambroll_env_parameter)."
  value       = local.lambroll_env
}

output "outboxctl_command" {
  description = "How on-call runs outboxctl against this source."
  value       = local.outboxctl
}

output "outboxctl_read_only_policy_arn" {
  description = "On-call, read-only outboxctl for this source: attach to the on-call roles."
  value       = aws_iam_policy.outboxctl_read_only.arn
}

output "outboxctl_repair_policy_arn" {
  description = "On-call repairs with outboxctl for this source (read-only included); name the roles it is attached to in queue_sender_arns."
  value       = aws_iam_policy.outboxctl_repair.arn
}

output "alarm_arns" {
  description = "Every alarm of this source."
  value       = concat(module.monitoring.alarm_arns, module.ingress.alarm_arns, module.sweeper.alarm_arns, module.queue.alarm_arns, flatten([for q in module.routed_queue : q.alarm_arns]))
}

output "dashboard_band" {
  description = "This source's band of the deployment's dashboard (modules/dashboard)."
  value       = { widgets = module.monitoring.dashboard_band, height = module.monitoring.dashboard_band_height }
}

output "monitoring" {
  description = "What an outside monitoring system (modules/newrelic-monitoring) needs to know of this source."
  value = {
    source_name           = var.source_name
    metrics_namespace     = var.metrics_namespace
    function_url          = module.ingress.function_url
    ingress_function_name = module.ingress.function_name
    sweeper_function_name = module.sweeper.function_name
    ingress_log_group     = module.ingress.log_group_name
    sweeper_log_group     = module.sweeper.log_group_name
    queues = concat(
      [{ label = "main", queue_name = module.queue.queue_name, dlq_name = module.queue.dlq_name }],
      [for r in var.routes : { label = r.name, queue_name = module.routed_queue[r.name].queue_name, dlq_name = module.routed_queue[r.name].dlq_name }],
    )
    outboxctl_command = local.outboxctl
    runbook_url       = var.runbook_url
  }
}

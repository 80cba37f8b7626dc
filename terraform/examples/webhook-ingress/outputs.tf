output "function_urls" {
  description = "Each source's Function URL: give it to that provider."
  value       = { for key, s in module.source : key => s.function_url }
}

output "secret_parameters" {
  description = "Each source's SECRET_PARAMETER: put the provider's signing secret in it (docs/deploy.md section 4)."
  value       = { for key, s in module.source : key => s.secret_parameter }
}

output "secrets_kms_key_arn" {
  description = "The key of every secret parameter (pass it as --key-id to aws ssm put-parameter)."
  value       = module.shared.secrets_kms_key_arn
}

output "backfill_credential_parameters" {
  description = "BACKFILL_CREDENTIAL_PARAMETER of each source with a backfill_provider (docs/backfill.md)."
  value       = { for key, s in module.source : key => s.backfill_credential_parameter if s.backfill_credential_parameter != null }
}

output "lambroll_env_parameters" {
  description = "Each source's lambroll settings parameter: eval \"$(aws ssm get-parameter --name <it> --query Parameter.Value --output text)\" before lambroll diff/deploy/rollback of that source's functions."
  value       = { for key, s in module.source : key => s.lambroll_env_parameter }
}

output "lambroll_env" {
  description = "Each source's lambroll settings as shell exports (the parameters' values): eval \"$(terraform output -json lambroll_env | jq -r .SOURCE)\"."
  value       = { for key, s in module.source : key => s.lambroll_env }
}

output "lambroll_env_path" {
  description = "The parameter path holding every source's lambroll settings (CI reads it with get-parameters-by-path)."
  value       = module.shared.for_sources.lambroll_env_path
}

output "outboxctl_commands" {
  description = "How on-call points outboxctl at each source."
  value       = { for key, s in module.source : key => s.outboxctl_command }
}

output "outbox_table" {
  description = "OUTBOX_TABLE (shared by every source)."
  value       = module.shared.table_name
}

output "queue_urls" {
  description = "Each source's main queue (QUEUE_URL): where its workers read."
  value       = { for key, s in module.source : key => s.queue_url }
}

output "dlq_urls" {
  description = "Each source's main DLQ (DLQ_URL in docs/runbook.md)."
  value       = { for key, s in module.source : key => s.dlq_url }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm publishes to: subscribe the team's chat or e-mail."
  value       = module.shared.alarm_topic_arn
}

output "alarm_destinations" {
  description = "Where the alarms go; \"none\" means nobody is told (set alarm_emails, alarm_https_endpoints or the Slack ids)."
  value       = length(module.shared.alarm_destinations) > 0 ? module.shared.alarm_destinations : ["none: alarms reach nobody"]
}

output "dashboard_url" {
  description = "CloudWatch dashboard: a band per source."
  value       = module.dashboard.dashboard_url
}

output "outboxctl_read_only_policy_arns" {
  description = "Each source's on-call, read-only outboxctl policy (status, list, show, dlq list/show, replay --dry-run)."
  value       = { for key, s in module.source : key => s.outboxctl_read_only_policy_arn }
}

output "outboxctl_repair_policy_arns" {
  description = "Each source's on-call repair policy (resend, park, discard, replay, dlq redrive, send-test, backfill), read-only included; name the roles it is attached to in oncall_repair_role_arns."
  value       = { for key, s in module.source : key => s.outboxctl_repair_policy_arn }
}

output "lambroll_rollback_policy_arn" {
  description = "lambroll rollback (with --delete-version) of every function: attach it to whoever may roll back."
  value       = aws_iam_policy.rollback.arn
}

output "large_body_bucket" {
  description = "LARGE_BODY_BUCKET (shared by every source)."
  value       = module.shared.large_body_bucket_name
}

output "monitoring_manifest_parameter" {
  description = "The parameter examples/newrelic-monitoring reads (each source's function, queue and log group names)."
  value       = aws_ssm_parameter.monitoring_manifest.name
}

output "ci_deploy_role_arn" {
  description = "Role the deploy job assumes (GitHub repository variable CI_DEPLOY_ROLE_ARN); null without github_repository."
  value       = try(aws_iam_role.ci["deploy"].arn, null)
}

output "ci_diff_role_arn" {
  description = "Role the pull-request job assumes for lambroll diff (repository variable CI_DIFF_ROLE_ARN); null without github_repository."
  value       = try(aws_iam_role.ci["diff"].arn, null)
}

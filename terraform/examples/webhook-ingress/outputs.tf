# Each output that lambroll needs is named after the environment variable it feeds (docs/deploy.md).

output "function_url" {
  description = "Give this URL to the webhook provider."
  value       = module.ingress.function_url
}

output "ingress_function_name" {
  description = "INGRESS_FUNCTION_NAME (function.json FunctionName)."
  value       = module.ingress.function_name
}

output "ingress_role_arn" {
  description = "INGRESS_ROLE_ARN (function.json Role)."
  value       = module.ingress.role_arn
}

output "sweeper_function_name" {
  description = "SWEEPER_FUNCTION_NAME (sweeper/function.json FunctionName)."
  value       = module.sweeper.function_name
}

output "sweeper_role_arn" {
  description = "SWEEPER_ROLE_ARN (sweeper/function.json Role)."
  value       = module.sweeper.role_arn
}

output "outbox_table" {
  description = "OUTBOX_TABLE."
  value       = module.outbox.table_name
}

output "queue_url" {
  description = "QUEUE_URL."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "DLQ URL (DLQ_URL in docs/runbook.md): aws sqs receive-message --queue-url <it> --visibility-timeout 0 --message-attribute-names All."
  value       = module.queue.dlq_url
}

output "secret_parameter" {
  description = "SECRET_PARAMETER (set its value with aws ssm put-parameter --overwrite)."
  value       = module.secret.parameter_name
}

output "secret_kms_key_arn" {
  description = "KMS key of the secret parameter (pass it as --key-id to put-parameter)."
  value       = module.secret.kms_key_arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm publishes to: subscribe the team's chat or e-mail."
  value       = module.alarm_topic.topic_arn
}

output "alarm_destinations" {
  description = "Where the alarms go; \"none\" means nobody is told (set alarm_emails, alarm_https_endpoints or the Slack ids)."
  value       = length(module.alarm_topic.destinations) > 0 ? module.alarm_topic.destinations : ["none: alarms reach nobody"]
}

output "dashboard_url" {
  description = "CloudWatch dashboard."
  value       = module.monitoring.dashboard_url
}

output "lambroll_env" {
  description = "Every variable function.json and sweeper/function.json read, as shell exports: eval \"$(terraform output -raw lambroll_env)\" before lambroll diff/deploy."
  value = join("\n", [for k, v in merge(local.ingress_env, local.sweeper_env, {
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

output "outboxctl_read_only_policy_arn" {
  description = "IAM policy for on-call, read-only outboxctl (status, list, show, dlq list/show, replay --dry-run): attach it to the on-call role."
  value       = aws_iam_policy.outboxctl_read_only.arn
}

output "outboxctl_repair_policy_arn" {
  description = "IAM policy for on-call repairs with outboxctl (resend, park, discard, replay, dlq redrive, send-test), read-only included."
  value       = aws_iam_policy.outboxctl_repair.arn
}

output "large_body_bucket" {
  description = "LARGE_BODY_BUCKET: where bodies over what an outbox row holds are kept (the S3 claim check)."
  value       = module.large_bodies.bucket_name
}

output "ci_deploy_role_arn" {
  description = "Role the deploy job assumes (GitHub repository variable CI_DEPLOY_ROLE_ARN); null without github_repository."
  value       = try(aws_iam_role.ci["deploy"].arn, null)
}

output "ci_diff_role_arn" {
  description = "Role the pull-request job assumes for lambroll diff (repository variable CI_DIFF_ROLE_ARN); null without github_repository."
  value       = try(aws_iam_role.ci["diff"].arn, null)
}

output "backfill_credential_parameter" {
  description = "BACKFILL_CREDENTIAL_PARAMETER for `outboxctl backfill` (docs/backfill.md): put the provider API credential in it with aws ssm put-parameter --overwrite."
  value       = module.backfill_credential.parameter_name
}

output "for_sources" {
  description = "Everything modules/webhook-source takes from the deployment: pass it whole as its `shared` input."
  value = {
    deployment_name         = var.name
    table_name              = module.outbox.table_name
    table_arn               = module.outbox.table_arn
    unsent_index_arn        = module.outbox.unsent_index_arn
    table_kms_key_arn       = module.outbox.kms_key_arn
    secrets_kms_key_arn     = aws_kms_key.secrets.arn
    logs_kms_key_arn        = aws_kms_key.logs.arn
    large_body_bucket_name  = module.large_bodies.bucket_name
    large_body_bucket_arn   = module.large_bodies.bucket_arn
    alarm_topic_arn         = module.alarm_topic.topic_arn
    lambroll_env_path       = "/${var.name}/lambroll-env"
    monitoring_manifest_key = "/${var.name}/monitoring-manifest"
  }
}

output "table_name" {
  description = "The outbox table every source writes (OUTBOX_TABLE)."
  value       = module.outbox.table_name
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm of every source publishes to."
  value       = module.alarm_topic.topic_arn
}

output "alarm_destinations" {
  description = "Where the alarms go (e-mail addresses, HTTPS endpoints by number, Slack channel); empty: nowhere."
  value       = module.alarm_topic.destinations
}

output "secrets_kms_key_arn" {
  description = "The key every signing secret and provider credential is encrypted with (aws ssm put-parameter --key-id)."
  value       = aws_kms_key.secrets.arn
}

output "large_body_bucket_name" {
  description = "LARGE_BODY_BUCKET of every source."
  value       = module.large_bodies.bucket_name
}

output "license_key_secret_arn" {
  description = "Put the New Relic license key here: aws secretsmanager put-secret-value --secret-id <it> --secret-string '{\"api_key\":\"...\"}'."
  value       = aws_secretsmanager_secret.license_key.arn
}

output "dashboard_url" {
  description = "The New Relic dashboard."
  value       = newrelic_one_dashboard.pipeline.permalink
}

output "alert_policy_id" {
  description = "The alert policy every condition of the pipeline belongs to."
  value       = newrelic_alert_policy.pipeline.id
}

output "metric_stream_name" {
  description = "The CloudWatch metric stream feeding New Relic."
  value       = aws_cloudwatch_metric_stream.newrelic.name
}

output "license_key_secret_arn" {
  description = "Put the New Relic license key here (docs/observability.md)."
  value       = module.newrelic.license_key_secret_arn
}

output "dashboard_url" {
  description = "The New Relic dashboard."
  value       = module.newrelic.dashboard_url
}

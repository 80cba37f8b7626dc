output "alarm_arns" {
  description = "EMF and sweeper-liveness alarm ARNs."
  value       = local.alarm_arns
}

output "dashboard_band" {
  description = "This source's widgets for the deployment's dashboard, y relative to the band (modules/dashboard stacks them)."
  value       = local.band
}

output "dashboard_band_height" {
  description = "Height of the band in dashboard grid units."
  value       = 17
}

output "schedule_arn" {
  description = "Schedule ARN."
  value       = aws_scheduler_schedule.this.arn
}

output "role_arn" {
  description = "Scheduler role ARN."
  value       = aws_iam_role.scheduler.arn
}

output "queue_url" {
  description = "Main queue URL (QUEUE_URL)."
  value       = aws_sqs_queue.main.id
}

output "queue_arn" {
  description = "Main queue ARN."
  value       = aws_sqs_queue.main.arn
}

output "queue_name" {
  description = "Main queue name."
  value       = aws_sqs_queue.main.name
}

output "dlq_url" {
  description = "DLQ URL."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "DLQ ARN."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "DLQ name."
  value       = aws_sqs_queue.dlq.name
}

output "alarm_arns" {
  description = "Queue and DLQ alarm ARNs."
  value       = [for a in local.alarms : aws_cloudwatch_metric_alarm.this[a.name].arn]
}

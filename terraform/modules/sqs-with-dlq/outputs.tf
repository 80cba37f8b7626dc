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

output "message_retention_seconds" {
  description = "How long a message may wait on the main queue (bodies in S3 must outlive it)."
  value       = aws_sqs_queue.main.message_retention_seconds
}

output "dlq_message_retention_seconds" {
  description = "How long a message may wait on the DLQ (bodies in S3 must outlive it)."
  value       = aws_sqs_queue.dlq.message_retention_seconds
}

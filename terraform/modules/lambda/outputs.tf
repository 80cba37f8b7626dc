output "function_name" {
  description = "Function name (lambroll FunctionName)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified function ARN."
  value       = aws_lambda_function.this.arn
}

output "alias_arn" {
  description = "ARN of the alias lambroll moves on deploy (invoke this one)."
  value       = aws_lambda_alias.this.arn
}

output "role_arn" {
  description = "Execution role ARN (lambroll Role)."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "function_url" {
  description = "Function URL (null unless create_function_url)."
  value       = var.create_function_url ? aws_lambda_function_url.this[0].function_url : null
}

output "alarm_arns" {
  description = "Errors and Throttles alarm ARNs."
  value       = [for a in local.alarms : aws_cloudwatch_metric_alarm.this[a.name].arn]
}

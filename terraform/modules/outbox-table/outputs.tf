output "table_name" {
  description = "Table name (OUTBOX_TABLE)."
  value       = aws_dynamodb_table.outbox.name
}

output "table_arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.outbox.arn
}

output "unsent_index_arn" {
  description = "ARN of the unsent-index GSI (the sweeper's Query target)."
  value       = "${aws_dynamodb_table.outbox.arn}/index/unsent-index"
}

output "kms_key_arn" {
  description = "CMK encrypting the table (callers need kms:Decrypt/GenerateDataKey via DynamoDB)."
  value       = aws_kms_key.table.arn
}

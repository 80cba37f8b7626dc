output "parameter_name" {
  description = "Parameter name (SECRET_PARAMETER)."
  value       = aws_ssm_parameter.secret.name
}

output "parameter_arn" {
  description = "Parameter ARN."
  value       = aws_ssm_parameter.secret.arn
}

output "kms_key_arn" {
  description = "CMK encrypting the parameter."
  value       = aws_kms_key.secret.arn
}

output "parameter_name" {
  description = "Parameter name."
  value       = var.name
}

output "parameter_arn" {
  description = "Parameter ARN (the same whether Terraform created the parameter or it already existed)."
  value       = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:parameter/${trimprefix(var.name, "/")}"
}

output "bucket_name" {
  description = "Bucket name (LARGE_BODY_BUCKET)."
  value       = aws_s3_bucket.bodies.id
}

output "bucket_arn" {
  description = "Bucket ARN (the functions' S3 permissions are on its objects only)."
  value       = aws_s3_bucket.bodies.arn
}

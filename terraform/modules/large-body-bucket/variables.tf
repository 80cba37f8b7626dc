variable "name_prefix" {
  description = "Bucket name prefix (S3 appends a unique suffix); lowercase letters, digits and hyphens, at most 37 characters."
  type        = string
}

variable "kms_key_arn" {
  description = "The stack's KMS key the bodies are encrypted with (SSE-KMS; the functions also pass it as LARGE_BODY_KMS_KEY)."
  type        = string
}

variable "expire_sent_after_days" {
  description = "Days after its row was marked sent (the re-tag) that a body expires: at least RETENTION_DAYS plus the main queue's and the DLQ's retention, so a body outlives every message that points to it."
  type        = number
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}

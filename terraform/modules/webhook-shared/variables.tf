variable "name" {
  description = "The deployment's name: prefix of the shared resources (table `<name>-outbox`, topic `<name>-alarms`, keys `alias/<name>-*`) and of every source's resources. Lowercase letters, digits and hyphens (S3 bucket names), at most 32 characters (IAM role names derived from it stay within 64)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "table_deletion_protection" {
  description = "Deletion protection of the outbox table."
  type        = bool
  default     = true
}

variable "table_warm_write_units_per_second" {
  description = "Optional: the outbox table's warm write throughput (docs/CAPACITY.md). It can only be raised: a lower value would replace the table, which modules/outbox-table refuses (prevent_destroy)."
  type        = number
  default     = null
}

variable "index_warm_write_units_per_second" {
  description = "Optional: the unsent-index's warm write throughput (docs/CAPACITY.md); it can only be raised."
  type        = number
  default     = null
}

variable "large_body_expire_after_days" {
  description = "Days after a row was marked sent that its body in the large-body bucket expires: at least the longest RETENTION_DAYS of any source plus its queues' and DLQs' retention."
  type        = number
}

variable "alarm_emails" {
  description = "E-mail addresses that get every alarm."
  type        = list(string)
  default     = []
}

variable "alarm_https_endpoints" {
  description = "HTTPS endpoints (PagerDuty, Opsgenie SNS integration URLs) that get every alarm."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "slack_workspace_id" {
  description = "Slack workspace id for the alarms (AWS Chatbot); set with slack_channel_id."
  type        = string
  default     = null
}

variable "slack_channel_id" {
  description = "Slack channel id that receives every alarm (AWS Chatbot); set with slack_workspace_id."
  type        = string
  default     = null
}

variable "chatbot_region" {
  description = "Region of the AWS Chatbot Slack configuration (us-east-2, us-west-2, eu-west-1 or ap-southeast-1)."
  type        = string
  default     = "us-east-2"
}

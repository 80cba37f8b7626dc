variable "function_name" {
  description = "Name of the Lambda function (also names its role, log group and alarms)."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "architecture" {
  description = "Initial instruction set (arm64 or x86_64). lambroll owns it afterwards (function.json Architectures, ARCH)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Initial memory in MB (lambroll owns it afterwards: keep function.json in step)."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Initial timeout in seconds (lambroll owns it afterwards: keep function.json in step)."
  type        = number
  default     = 10
}

variable "environment" {
  description = "Initial environment variables. lambroll owns them afterwards; the key set must equal function.json's (tests/infra checks it)."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = <<-EOT
    Least-privilege statements of the function's inline policy: exactly the actions its code calls, each on
    exactly its resources. Log permissions on the function's own log group are added by the module.
  EOT
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the log group (its policy must allow logs.<region>.amazonaws.com)."
  type        = string
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null leaves the function on the account's unreserved pool."
  type        = number
  default     = null
}

variable "alias_name" {
  description = "Alias that lambroll moves on every deploy (lambroll's default is `current`). Callers invoke the alias so that `lambroll rollback` takes effect."
  type        = string
  default     = "current"
}

variable "create_function_url" {
  description = "Create a Function URL (auth NONE) on the alias."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "SNS topic for the Errors and Throttles alarms."
  type        = string
}

variable "errors_threshold" {
  description = "Errors (sum over one minute) at or above which the Errors alarm fires."
  type        = number
  default     = 1
}

variable "alarm_evaluation_periods" {
  description = "One-minute periods the Errors/Throttles alarms look at (any one breaching fires)."
  type        = number
  default     = 5
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "outboxctl_command" {
  description = "How on-call runs outboxctl against this deployment; alarm descriptions start their first command with it."
  type        = string
  default     = "outboxctl"
}

variable "runbook_url" {
  description = "Where on-call finds the runbook (URL or repository path); alarm descriptions append the alarm's section anchor."
  type        = string
  default     = "docs/runbook.md"
}

variable "runbook_section" {
  description = "The runbook's name for this function (`ingress` or `sweeper`): its alarms link to #<it>-errors and #<it>-throttles."
  type        = string
}

variable "async_invoke" {
  description = "Asynchronous invocation settings of the alias (what invokes it asynchronously, a schedule, gets them): Lambda's own retries of a failed or throttled run and the longest it keeps an event. Null: Lambda's defaults (2 retries, 6 hours)."
  type = object({
    maximum_retry_attempts       = number
    maximum_event_age_in_seconds = number
  })
  default = null
}

variable "name" {
  description = "Main queue name; the DLQ is named \"<name>-dlq\"."
  type        = string
}

variable "fifo" {
  description = "Create a FIFO queue and FIFO DLQ (names end in .fifo): per-group order, and SQS drops a re-send with the same deduplication id within five minutes."
  type        = bool
  default     = false
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ (scripts/localstack.py MAX_RECEIVE_COUNT)."
  type        = number
  default     = 5
}

variable "visibility_timeout_seconds" {
  description = "Main queue visibility timeout (scripts/localstack.py QUEUE_VISIBILITY_TIMEOUT_SECS)."
  type        = number
  default     = 60
}

variable "message_retention_seconds" {
  description = "Main queue retention: 4 days (scripts/localstack.py QUEUE_RETENTION_SECS)."
  type        = number
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  description = "DLQ retention: 14 days, the maximum, so that on-call has time to redrive (scripts/localstack.py DLQ_RETENTION_SECS)."
  type        = number
  default     = 1209600
}

variable "max_message_size" {
  description = "Maximum message size in bytes, explicit (scripts/localstack.py MAX_MESSAGE_BYTES)."
  type        = number
  default     = 1048576
}

variable "alarm_topic_arn" {
  description = "SNS topic for the queue alarms."
  type        = string
}

variable "oldest_message_age_threshold_seconds" {
  description = "ApproximateAgeOfOldestMessage (main queue) at or above which the backlog alarm fires."
  type        = number
  default     = 900
}

variable "visible_messages_threshold" {
  description = "ApproximateNumberOfMessagesVisible (main queue) at or above which the backlog alarm fires."
  type        = number
  default     = 1000
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "runbook_url" {
  description = "Where on-call finds the runbook (URL or repository path); alarm descriptions append the alarm's section anchor (#dlq-not-empty, ...)."
  type        = string
  default     = "docs/runbook.md"
}

variable "outboxctl_command" {
  description = "How on-call runs outboxctl against this deployment; alarm descriptions start their first command with it."
  type        = string
  default     = "outboxctl"
}

variable "outboxctl_dlq" {
  description = "The outboxctl subcommand that reaches this queue's DLQ: `dlq` for the main queue, `dlq --route NAME` for a routed one."
  type        = string
  default     = "dlq"
}

variable "sender_arns" {
  description = "IAM principals (role ARNs) that may send to the main queue: the functions that write to it and the on-call repair roles. Every other principal is denied sqs:SendMessage by the queue's policy."
  type        = list(string)

  validation {
    condition     = length(var.sender_arns) > 0
    error_message = "sender_arns must name at least the functions that send to the queue."
  }
}

variable "name" {
  description = "Schedule name (also names its role)."
  type        = string
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression."
  type        = string
  default     = "rate(1 minute)"
}

variable "function_arn" {
  description = "ARN (qualified with the lambroll alias) of the function to invoke; the role may invoke only this."
  type        = string
}

variable "input" {
  description = "JSON event passed to the function."
  type        = string
  default     = "{\"source\":\"webhook-ingress.scheduler\"}"
}

variable "kms_key_arn" {
  description = "CMK encrypting the schedule's input (null: AWS-owned key)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "SNS topic name."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "slack_workspace_id" {
  description = "Slack workspace (team) id, e.g. T0123ABCD, authorised once in the AWS Chatbot console. With slack_channel_id, every alarm goes to that channel."
  type        = string
  default     = null
}

variable "slack_channel_id" {
  description = "Slack channel id (e.g. C0123ABCD) that gets every alarm; invite @aws to it. Null: no Slack destination."
  type        = string
  default     = null
}

variable "chatbot_region" {
  description = "Region of the AWS Chatbot Slack configuration: Chatbot's API exists only in us-east-2, us-west-2, eu-west-1 and ap-southeast-1. The topic may be in any region."
  type        = string
  default     = "us-east-2"

  validation {
    condition     = contains(["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"], var.chatbot_region)
    error_message = "chatbot_region must be one of the regions with AWS Chatbot's API: us-east-2, us-west-2, eu-west-1, ap-southeast-1."
  }
}

variable "email_addresses" {
  description = "E-mail addresses subscribed to every alarm (each must confirm the mail SNS sends)."
  type        = list(string)
  default     = []
}

variable "https_endpoints" {
  description = "HTTPS endpoints subscribed to every alarm: an incident tool's SNS integration URL (PagerDuty, Opsgenie), which confirms the subscription itself."
  type        = list(string)
  default     = []
  sensitive   = true

  validation {
    condition     = alltrue([for url in var.https_endpoints : startswith(url, "https://")])
    error_message = "Every https_endpoints entry must be an https:// URL."
  }
}

variable "alarm_name_prefix" {
  description = "Prefix of the alarm names this topic serves (the deployment's name and a hyphen): the Slack channel may read these alarms only."
  type        = string
}

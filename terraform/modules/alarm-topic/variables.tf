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

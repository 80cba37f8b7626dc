variable "name" {
  description = "SSM parameter name (SECRET_PARAMETER), e.g. /webhook-ingress/secret."
  type        = string
}

variable "description" {
  description = "Parameter description."
  type        = string
  default     = "Webhook signing secret(s): one value, or several separated by whitespace or commas while rotating."
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "SSM parameter name, a path starting with `/` (e.g. /webhook-stripe/secret)."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+$", var.name))
    error_message = "name must be a parameter path such as /webhook-stripe/secret."
  }
}

variable "description" {
  description = "Parameter description."
  type        = string
  default     = "Webhook signing secret(s): one value, or several separated by whitespace or commas while rotating."
}

variable "kms_key_arn" {
  description = "The customer managed key the SecureString is encrypted with (the deployment's secrets key)."
  type        = string
}

variable "create" {
  description = "Create the parameter (with a placeholder value). false: it already exists, created outside Terraform with the same key."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the parameter."
  type        = map(string)
  default     = {}
}

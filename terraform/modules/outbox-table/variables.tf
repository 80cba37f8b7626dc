variable "name" {
  description = "Table name (OUTBOX_TABLE)."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse DeleteTable (turn off deliberately before a `terraform destroy`)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

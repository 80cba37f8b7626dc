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

variable "warm_write_units_per_second" {
  description = "Write units a second the table serves at once, before on-demand has scaled (null: DynamoDB's default, 4,000 for a new table). Each event writes its row twice; docs/CAPACITY.md gives the sizing rule. Only ever raise it: the provider replaces the table to lower it, which prevent_destroy refuses; back to null stops managing it (the table keeps what it has)."
  type        = number
  default     = null
  validation {
    condition     = var.warm_write_units_per_second == null ? true : var.warm_write_units_per_second > 4000
    error_message = "warm_write_units_per_second is above 4000 or null: 4000 is a new on-demand table's own warm throughput, which the provider reads back as no setting (a permanent diff)."
  }
}

variable "index_warm_write_units_per_second" {
  description = "Write units a second the unsent-index serves at once (null: DynamoDB's default, 4,000). Each event writes its index entry twice (added, then removed when sent). Only ever raise it, as for the table."
  type        = number
  default     = null
  validation {
    condition     = var.index_warm_write_units_per_second == null ? true : var.index_warm_write_units_per_second > 4000
    error_message = "index_warm_write_units_per_second is above 4000 or null: 4000 is a new index's own warm throughput, which the provider reads back as no setting (a permanent diff)."
  }
}

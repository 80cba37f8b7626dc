variable "name" {
  description = "Dashboard name (the deployment's name)."
  type        = string
}

variable "table_name" {
  description = "The shared outbox table (header link)."
  type        = string
}

variable "bands" {
  description = "One band per source, in the order shown: each source's modules/monitoring outputs dashboard_band (widgets, y relative to the band) and dashboard_band_height."
  # A list of { widgets, height }: `any`, since each band's widgets have their own shapes.
  type = any
}

variable "links" {
  description = "Extra header links (title => URL): repository, runbook, worker dashboard."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Prefix of every resource name, e.g. tradestack-prod."
  type        = string
}

variable "log_retention_days" {
  description = "Days before audit log objects move to Glacier; they are never deleted by lifecycle."
  type        = number
  default     = 90
}

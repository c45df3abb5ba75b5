variable "name" {
  description = "Prefix of every resource name, e.g. tradestack-prod."
  type        = string
}

variable "rotation_days" {
  description = "Days between rotations of the exchange keys."
  type        = number
  default     = 30

  validation {
    condition     = var.rotation_days >= 1 && var.rotation_days <= 30
    error_message = "Exchange keys rotate at least every 30 days."
  }
}

variable "engine_service_accounts" {
  description = "namespace:name of the Kubernetes service accounts that may read the keys (the engines)."
  type        = list(string)
}

variable "oidc_provider_arn" {
  description = "The cluster's OIDC provider (IAM roles for service accounts)."
  type        = string
}

variable "oidc_issuer" {
  description = "The cluster's OIDC issuer, without https://."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the rotation Lambda."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block: the Lambda reaches AWS only through the VPC endpoints."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the rotation Lambda."
  type        = list(string)
}

variable "rotation_package" {
  description = "Zip of the rotation Lambda, built and signed by the deploy pipeline."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key of the Lambda's log group."
  type        = string
}

variable "key_admin" {
  description = "Who creates and revokes exchange keys for the rotation Lambda (app/rotation_lambda.py): simulated, or binance, which the Lambda refuses with the reason (Binance makes keys in its web UI only)."
  type        = string
  validation {
    condition     = contains(["simulated", "binance"], var.key_admin)
    error_message = "key_admin must be simulated or binance."
  }
}

variable "key_admin_url" {
  description = "Base URL of the key admin (the simulated exchange's); empty for binance."
  type        = string
  default     = ""
}

variable "key_ip_whitelist" {
  description = "Addresses a new exchange key is restricted to: the NAT gateways' public IPs."
  type        = list(string)
}

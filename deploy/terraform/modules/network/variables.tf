variable "name" {
  description = "Prefix of every resource name, e.g. tradestack-prod."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's CIDR block."
  type        = string
}

variable "availability_zones" {
  description = "Exactly two availability zones: one private and one public (NAT) subnet in each."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "Give exactly two availability zones."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints, so their traffic never leaves the VPC."
  type        = list(string)
  default = [
    "secretsmanager", # exchange keys
    "kms",            # decrypting them
    "sts",            # IAM roles for service accounts
    "ecr.api",        # image pulls
    "ecr.dkr",
    "logs",    # container and flow logs
    "ec2",     # node bootstrap, EBS CSI driver
    "eks",     # node bootstrap with a private API endpoint
    "eks-auth" # EKS pod identity
  ]
}

variable "flow_log_retention_days" {
  description = "How long VPC flow logs are kept."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the flow log group."
  type        = string
}

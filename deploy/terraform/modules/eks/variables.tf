variable "name" {
  description = "Cluster name, e.g. tradestack-prod."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version; the manifests are validated against this version."
  type        = string
  default     = "1.32"
}

variable "vpc_id" {
  description = "The VPC of the cluster."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block (DNS and endpoint traffic stays inside it)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets in two zones. The trading group uses the first only (one placement group)."
  type        = list(string)
}

variable "logs_kms_key_arn" {
  description = "KMS key of the control plane log group."
  type        = string
}

variable "node_groups" {
  description = "Sizes of the managed node groups."
  type = object({
    trading_size    = number
    risk_size       = number
    monitoring_size = number
  })
  default = {
    trading_size    = 2 # one per trading shard: shards never share a node
    risk_size       = 1
    monitoring_size = 2
  }
}

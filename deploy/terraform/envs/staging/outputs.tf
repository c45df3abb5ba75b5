output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>"
  value       = module.eks.cluster_name
}

output "engine_role_arn" {
  description = "Put in the overlay's trading-engine ServiceAccount (eks.amazonaws.com/role-arn)."
  value       = module.secrets.engine_role_arn
}

output "exchange_key_secret_arn" {
  description = "Where the exchange keys are stored."
  value       = module.secrets.secret_arn
}

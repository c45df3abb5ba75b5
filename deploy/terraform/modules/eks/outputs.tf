output "cluster_name" {
  description = "The EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "oidc_provider_arn" {
  description = "OIDC provider for IAM roles for service accounts."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "The cluster's OIDC issuer URL without https://."
  value       = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
}

output "node_security_group_id" {
  description = "Security group of the nodes and their pods."
  value       = aws_security_group.node.id
}

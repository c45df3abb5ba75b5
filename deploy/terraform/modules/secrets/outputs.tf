output "secret_arn" {
  description = "The exchange-key secret."
  value       = aws_secretsmanager_secret.exchange_keys.arn
}

output "engine_role_arn" {
  description = "IAM role of the engines' service account (eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.engine.arn
}

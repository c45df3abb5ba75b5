output "logs_kms_key_arn" {
  description = "KMS key for log groups (flow logs, CloudTrail, Lambda)."
  value       = aws_kms_key.logs.arn
}

output "trail_bucket" {
  description = "Bucket holding the CloudTrail log files and their digests."
  value       = aws_s3_bucket.trail.id
}

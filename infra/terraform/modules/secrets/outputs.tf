output "kms_key_arn" {
  description = "ARN of the environment's KMS key (secrets, logs, database, cache, snapshots)."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "ID of the environment's KMS key."
  value       = aws_kms_key.this.key_id
}

output "task_secret_arns" {
  description = "Environment variable name => Secrets Manager ARN, for the task definitions' secrets block."
  value       = local.task_secret_arns
}

output "read_policy_json" {
  description = "IAM policy (JSON) that lets the ECS task execution role read exactly these secrets."
  value       = data.aws_iam_policy_document.read_task_secrets.json
}

output "redis_auth_token" {
  description = "AUTH token for the ElastiCache replication group (generated once, kept in Secrets Manager)."
  value       = aws_secretsmanager_secret_version.redis_auth_token.secret_string
  sensitive   = true
}

output "database_password_secret_arn" {
  description = "ARN of the secret holding the application role's PostgreSQL password (read it for the bootstrap step)."
  value       = aws_secretsmanager_secret.database_password.arn
}

output "redis_auth_token_secret_arn" {
  description = "ARN of the secret holding the ElastiCache AUTH token."
  value       = aws_secretsmanager_secret.redis_auth_token.arn
}

output "public_url" {
  description = "Where the app answers once DNS points at the ALB."
  value       = "https://${var.domain_name}"

  precondition {
    condition     = var.livekit_url == null || (var.livekit_api_key != null && (var.livekit_api_secret != null || contains(var.optional_secrets, "LIVEKIT_API_SECRET")))
    error_message = "livekit_url needs livekit_api_key and a LIVEKIT_API_SECRET (livekit_api_secret or optional_secrets)."
  }

  precondition {
    condition     = (var.llm_base_url == null) == (var.llm_model == null)
    error_message = "llm_base_url and llm_model go together."
  }
}

output "alb_dns_name" {
  description = "DNS name of the ALB (CNAME or alias target for domain_name)."
  value       = module.compute.alb_dns_name
}

output "sfu_public_ips" {
  description = "Elastic IPs of the SFU NLB (empty with LiveKit); browsers send audio to the first."
  value       = module.compute.sfu_public_ips
}

output "cluster_name" {
  description = "ECS cluster of the services."
  value       = module.compute.cluster_name
}

output "service_names" {
  description = "ECS services (web, rooms, worker)."
  value       = module.compute.service_names
}

output "task_definition_arns" {
  description = "Current task definition of each service (note them before a deploy, for a manual rollback)."
  value       = module.compute.task_definition_arns
}

output "log_group_name" {
  description = "CloudWatch log group of the tasks."
  value       = module.compute.log_group_name
}

output "database_address" {
  description = "Host name of the PostgreSQL instance."
  value       = module.database.address
}

output "database_master_secret_arn" {
  description = "RDS-managed secret with the master credentials."
  value       = module.database.master_user_secret_arn
}

output "database_bootstrap_command" {
  description = "Runs the one-off task that creates the app's PostgreSQL role (first deploy, and after a password rotation)."
  value       = module.compute.database_bootstrap_command
}

output "redis_address" {
  description = "Primary endpoint of the Redis replication group."
  value       = module.cache.primary_endpoint_address
}

output "task_secret_arns" {
  description = "Secrets injected into the tasks, by environment variable name."
  value       = module.secrets.task_secret_arns
}

output "kms_key_arn" {
  description = "The environment's KMS key."
  value       = module.secrets.kms_key_arn
}

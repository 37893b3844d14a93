output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service names: web, rooms, worker."
  value = {
    web    = aws_ecs_service.web.name
    rooms  = aws_ecs_service.rooms.name
    worker = aws_ecs_service.worker.name
  }
}

output "task_definition_arns" {
  description = "Task definition ARN (with revision) of each service."
  value       = { for name, td in aws_ecs_task_definition.this : name => td.arn }
}

output "task_security_group_ids" {
  description = "Security group of each service's tasks (for database and cache ingress)."
  value       = local.task_security_groups
}

output "alb_dns_name" {
  description = "DNS name of the ALB (point the public domain at it)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone of the ALB (for alias records)."
  value       = aws_lb.this.zone_id
}

output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_logs_bucket" {
  description = "S3 bucket receiving the ALB access logs."
  value       = aws_s3_bucket.alb_logs.id
}

output "sfu_public_ips" {
  description = "Elastic IPs of the SFU NLB (empty without it); the first one is the rooms task's PUBLIC_IP."
  value       = aws_eip.sfu[*].public_ip
}

output "log_group_name" {
  description = "CloudWatch log group of all tasks (streams prefixed by service)."
  value       = aws_cloudwatch_log_group.this.name
}

output "execution_role_arn" {
  description = "ARN of the ECS task execution role (to run one-off tasks such as migrate)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the role the Solace containers run as."
  value       = aws_iam_role.task.arn
}

output "database_bootstrap_task_definition" {
  description = "Family of the one-off database bootstrap task (null when not defined)."
  value       = var.database_bootstrap == null ? null : aws_ecs_task_definition.bootstrap[0].family
}

output "database_bootstrap_command" {
  description = "AWS CLI command that runs the database bootstrap task once (null when not defined)."
  value = var.database_bootstrap == null ? null : join(" ", [
    "aws ecs run-task --region ${local.region} --cluster ${aws_ecs_cluster.this.name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.bootstrap[0].family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.task["worker"].id}],assignPublicIp=DISABLED}'",
  ])
}

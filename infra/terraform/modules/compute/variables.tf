variable "name" {
  description = "Name of the cluster and prefix of everything in it (at most 20 characters: load balancer and target group names are limited to 32)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name))
    error_message = "name must be 3-20 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancers and tasks."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the ALB and the SFU NLB (one per zone)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids needs subnets in at least two availability zones (an ALB requires two)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets the tasks run in (outbound through NAT)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "private_subnet_ids needs at least one subnet."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the task log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "image" {
  description = "Container image of Solace, ideally pinned by digest (ghcr.io/<owner>/solace@sha256:…) so that a rollback restarts exactly what ran before."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0 && !endswith(var.image, ":latest")
    error_message = "image must name a tag or digest other than :latest (rollbacks need immutable references)."
  }
}

variable "container_user" {
  description = "UID:GID the Solace container runs as: 10001:10001 for the default (Debian) image, 65532:65532 for the distroless target. It must own /app/data in the image."
  type        = string
  default     = "10001:10001"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.container_user))
    error_message = "container_user must be a numeric, non-root UID:GID such as 10001:10001."
  }
}

variable "repository_credentials_secret_arn" {
  description = "Secrets Manager secret with {\"username\",\"password\"} for a private registry (a ghcr.io token with read:packages); null for a public image."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks: X86_64 or ARM64 (the image must be built for it)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "environment" {
  description = "Plain (non-secret) environment variables for every task, added to or overriding the defaults (PUBLIC_URL, LLM_BASE_URL, LLM_MODEL, TURN_URL, LIVEKIT_URL, …)."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Environment variable name => Secrets Manager ARN, injected into every task by ECS at start."
  type        = map(string)
}

variable "secrets_policy_json" {
  description = "IAM policy (JSON) letting the task execution role read secret_arns (the secrets module's read_policy_json)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (it must cover the public domain)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (TLS 1.3, and 1.2 with forward-secret ciphers only)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancers until this is turned off."
  type        = bool
  default     = true
}

variable "alb_idle_timeout" {
  description = "Seconds an ALB connection may stay silent (chat replies stream as SSE, rooms signal over WebSockets)."
  type        = number
  default     = 120

  validation {
    condition     = var.alb_idle_timeout >= 60 && var.alb_idle_timeout <= 4000
    error_message = "alb_idle_timeout must be between 60 and 4000 seconds."
  }
}

variable "access_log_retention_days" {
  description = "Days the ALB access logs are kept in S3."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 30
    error_message = "access_log_retention_days must be at least 30."
  }
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL (REGIONAL) to attach to the ALB; null attaches none."
  type        = string
  default     = null
}

variable "health_check_path" {
  description = "Readiness path the ALB probes (the database and the cache must answer)."
  type        = string
  default     = "/readyz"
}

variable "create_sfu_nlb" {
  description = "Create the NLB (with Elastic IPs) for the embedded SFU's UDP/TCP port; false when rooms use LiveKit."
  type        = bool
  default     = true
}

variable "sfu_port" {
  description = "UDP and TCP port of the embedded SFU (RTC_UDP_PORT and RTC_TCP_PORT), the same on the NLB and in the task."
  type        = number
  default     = 50000

  validation {
    condition     = var.sfu_port >= 1024 && var.sfu_port <= 65535 && var.sfu_port != 8080 && var.sfu_port != 9464
    error_message = "sfu_port must be an unprivileged port other than 8080 and 9464."
  }
}

variable "database_security_group_id" {
  description = "Security group of the database, the only place tasks may reach on database_port."
  type        = string
}

variable "database_port" {
  description = "Port of the database."
  type        = number
  default     = 5432
}

variable "cache_security_group_id" {
  description = "Security group of the cache, the only place tasks may reach on cache_port."
  type        = string
}

variable "cache_port" {
  description = "Port of the cache."
  type        = number
  default     = 6379
}

variable "metrics_ingress_cidr_blocks" {
  description = "Private ranges of a Prometheus scraper that may read /metrics on port 9464 (empty: nobody)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.metrics_ingress_cidr_blocks : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "metrics_ingress_cidr_blocks must be IPv4 CIDRs, and not 0.0.0.0/0."
  }
}

variable "web_cpu" {
  description = "CPU units of a web task (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "web_memory" {
  description = "Memory (MiB) of a web task; must suit web_cpu on Fargate."
  type        = number
  default     = 1024
}

variable "web_min_count" {
  description = "Fewest web tasks (also the count at creation); 2 or more spreads them over zones."
  type        = number
  default     = 2

  validation {
    condition     = var.web_min_count >= 1
    error_message = "web_min_count must be at least 1."
  }
}

variable "web_max_count" {
  description = "Most web tasks the CPU autoscaling may run."
  type        = number
  default     = 6
}

variable "web_cpu_target" {
  description = "Average CPU utilisation (%) the web autoscaling aims at."
  type        = number
  default     = 60

  validation {
    condition     = var.web_cpu_target >= 20 && var.web_cpu_target <= 90
    error_message = "web_cpu_target must be between 20 and 90."
  }
}

variable "rooms_cpu" {
  description = "CPU units of the rooms task (the SFU forwards audio; 1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "rooms_memory" {
  description = "Memory (MiB) of the rooms task."
  type        = number
  default     = 2048
}

variable "worker_cpu" {
  description = "CPU units of a worker task (text-to-speech; 1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Memory (MiB) of a worker task."
  type        = number
  default     = 2048
}

variable "worker_count" {
  description = "Number of worker tasks."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_count >= 0
    error_message = "worker_count must not be negative."
  }
}

variable "start_services" {
  description = "Run the services; false keeps every task count at 0 (the first apply, until the database bootstrap task has run)."
  type        = bool
  default     = true
}

variable "database_bootstrap" {
  description = "Where the one-off database bootstrap task connects and what it creates; null defines no such task."
  type = object({
    host                    = string
    database_name           = string
    app_username            = string
    master_secret_arn       = string
    app_password_secret_arn = string
  })
  default = null
}

variable "bootstrap_image" {
  description = "Image with psql for the database bootstrap task (its user 70 is the Alpine postgres user)."
  type        = string
  default     = "public.ecr.aws/docker/library/postgres:16-alpine"
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the task logs (at least a year)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

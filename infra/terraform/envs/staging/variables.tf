# --- Where and what -----------------------------------------------------------------------

variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name; resources are named solace-<environment>."
  type        = string
  default     = "staging"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,12}$", var.environment))
    error_message = "environment must be 2-13 lowercase letters or digits, starting with a letter."
  }
}

variable "image" {
  description = "Solace image, pinned by digest or an immutable tag (ghcr.io/<owner>/solace@sha256:…)."
  type        = string
}

variable "container_user" {
  description = "UID:GID of the Solace container: 10001:10001 for the default image, 65532:65532 for the distroless target."
  type        = string
  default     = "10001:10001"
}

variable "repository_credentials_secret_arn" {
  description = "Secret with {\"username\",\"password\"} for a private ghcr.io image; null for a public one."
  type        = string
  default     = null
}

variable "start_services" {
  description = "Run the ECS services; false for the very first apply, until the database bootstrap task has run."
  type        = bool
  default     = true
}

# --- Public entry point --------------------------------------------------------------------

variable "domain_name" {
  description = "Public host name of the app (PUBLIC_URL is https://<domain_name>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain_name))
    error_message = "domain_name must be a lowercase host name such as staging.solace.example."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (in var.region) covering domain_name."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone in which to create domain_name as an alias of the ALB; null to manage DNS elsewhere."
  type        = string
  default     = null
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL (REGIONAL) to attach to the ALB; null for none."
  type        = string
  default     = null
}

# --- Network -------------------------------------------------------------------------------

variable "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "azs" {
  description = "Availability zones of var.region to use (2 or 3)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, fine for staging) instead of one per zone."
  type        = bool
  default     = true
}

variable "metrics_ingress_cidr_blocks" {
  description = "Private ranges of a Prometheus scraper allowed to read port 9464 (empty: none)."
  type        = list(string)
  default     = []
}

# --- Data stores ---------------------------------------------------------------------------

variable "database_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_multi_az" {
  description = "Synchronous standby in a second zone (false halves the database cost of a staging stack)."
  type        = bool
  default     = true
}

variable "database_backup_retention_days" {
  description = "Days of backups and point-in-time recovery (7-35)."
  type        = number
  default     = 7
}

variable "database_app_username" {
  description = "PostgreSQL role the app logs in as (created by the bootstrap task)."
  type        = string
  default     = "solace"
}

variable "database_sslmode" {
  description = "sslmode in DATABASE_URL: require, or verify-full once the image ships the RDS CA bundle."
  type        = string
  default     = "require"
}

variable "cache_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "cache_automatic_failover" {
  description = "Replica in a second zone with automatic failover (false saves a node in staging)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the database and the load balancers from deletion (turn off only to tear the stack down)."
  type        = bool
  default     = true
}

# --- Services ------------------------------------------------------------------------------

variable "web_min_count" {
  description = "Fewest web tasks."
  type        = number
  default     = 2
}

variable "web_max_count" {
  description = "Most web tasks under CPU autoscaling."
  type        = number
  default     = 4
}

variable "worker_count" {
  description = "Background worker tasks."
  type        = number
  default     = 1
}

# --- Application settings ------------------------------------------------------------------

variable "llm_base_url" {
  description = "LLM_BASE_URL: OpenAI-compatible API of the model; null uses the image's local model, if any."
  type        = string
  default     = null
}

variable "llm_model" {
  description = "LLM_MODEL: model name at llm_base_url (required with it)."
  type        = string
  default     = null
}

variable "turn_urls" {
  description = "TURN_URL: comma-separated turn:/turns: URLs of a TURN server for browsers behind strict NATs; null for none."
  type        = string
  default     = null
}

variable "livekit_url" {
  description = "LIVEKIT_URL (wss://…): rooms use LiveKit (for example LiveKit Cloud) instead of the embedded SFU, and the SFU NLB is not created."
  type        = string
  default     = null
}

variable "livekit_api_key" {
  description = "LIVEKIT_API_KEY (an identifier, not secret); required with livekit_url."
  type        = string
  default     = null
}

variable "extra_environment" {
  description = "More plain environment variables for every task (TTS_PROVIDER, AI_LABEL, …); never secrets."
  type        = map(string)
  default     = {}
}

# --- Secrets -------------------------------------------------------------------------------
# Values given here end up in the Terraform state (keep it encrypted). To keep a value out
# of the state, list its name in optional_secrets and put the value with the AWS CLI.

variable "optional_secrets" {
  description = "Optional secrets to create and inject whose values are put out of band: LLM_API_KEY, SENTRY_DSN, TURN_SECRET, LIVEKIT_API_SECRET."
  type        = set(string)
  default     = []
}

variable "llm_api_key" {
  description = "LLM_API_KEY for llm_base_url; null for none (or when listed in optional_secrets)."
  type        = string
  default     = null
  sensitive   = true
}

variable "sentry_dsn" {
  description = "SENTRY_DSN for error reports; null for none."
  type        = string
  default     = null
  sensitive   = true
}

variable "turn_secret" {
  description = "TURN_SECRET shared with the TURN server (coturn static-auth-secret); null for none."
  type        = string
  default     = null
  sensitive   = true
}

variable "livekit_api_secret" {
  description = "LIVEKIT_API_SECRET; required with livekit_url (here or in optional_secrets)."
  type        = string
  default     = null
  sensitive   = true
}

variable "name" {
  description = "Name prefix of the key alias and the secrets (secrets are named <name>/<KEY>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled deletion of the KMS key can still be cancelled (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; otherwise 7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_days == 0 || (var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "database_host" {
  description = "Host name of the PostgreSQL instance (the RDS address, without port)."
  type        = string
}

variable "database_port" {
  description = "Port of the PostgreSQL instance."
  type        = number
  default     = 5432
}

variable "database_name" {
  description = "Database the application uses."
  type        = string
  default     = "solace"
}

variable "database_username" {
  description = "PostgreSQL role the application logs in as (created once by the bootstrap step in README.md, not the RDS master user)."
  type        = string
  default     = "solace"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_username))
    error_message = "database_username must be a lowercase PostgreSQL identifier."
  }
}

variable "database_sslmode" {
  description = "sslmode of DATABASE_URL: require (TLS, server certificate not verified) or verify-full (needs the RDS CA bundle in the image and sslrootcert)."
  type        = string
  default     = "require"

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.database_sslmode)
    error_message = "database_sslmode must be require, verify-ca or verify-full (TLS is mandatory: the server forces it)."
  }
}

variable "redis_host" {
  description = "Primary endpoint of the ElastiCache replication group."
  type        = string
}

variable "redis_port" {
  description = "Port of the ElastiCache replication group."
  type        = number
  default     = 6379
}

variable "optional_secrets" {
  description = "Optional secrets to create and inject whose values are put out of band (aws secretsmanager put-secret-value), so that they never enter the Terraform state."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.optional_secrets : contains(["LLM_API_KEY", "SENTRY_DSN", "TURN_SECRET", "LIVEKIT_API_SECRET"], name)])
    error_message = "optional_secrets may contain LLM_API_KEY, SENTRY_DSN, TURN_SECRET and LIVEKIT_API_SECRET only."
  }
}

variable "secret_values" {
  description = "Values of optional secrets managed by Terraform, by name (LLM_API_KEY, SENTRY_DSN, TURN_SECRET, LIVEKIT_API_SECRET); each one given is created and injected. They are stored in the state: keep the state encrypted."
  type        = map(string)
  default     = {}
  sensitive   = true

  validation {
    condition     = alltrue([for name in keys(var.secret_values) : contains(["LLM_API_KEY", "SENTRY_DSN", "TURN_SECRET", "LIVEKIT_API_SECRET"], name)])
    error_message = "secret_values may have the keys LLM_API_KEY, SENTRY_DSN, TURN_SECRET and LIVEKIT_API_SECRET only."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "identifier" {
  description = "Name of the RDS instance and prefix of its companions (for example solace-staging)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,50}[a-z0-9]$", var.identifier))
    error_message = "identifier must be lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  description = "VPC the instance's security group belongs to."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two zones) for the DB subnet group."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups that may connect on the PostgreSQL port, by a static label (for example { web = sg-… })."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights, the managed master secret and the log groups."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "engine_version" {
  description = "PostgreSQL version; a major version (16) lets RDS apply minor upgrades without drift."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be 16 or 16.x (the parameter group family is postgres16)."
  }
}

variable "instance_class" {
  description = "Instance class (Performance Insights needs db.t4g.medium or larger among the burstable classes)."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_name" {
  description = "Database created with the instance."
  type        = string
  default     = "solace"
}

variable "master_username" {
  description = "Master user (administration only; the application has its own role)."
  type        = string
  default     = "solace_admin"
}

variable "port" {
  description = "Port PostgreSQL listens on."
  type        = number
  default     = 5432
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20
    error_message = "allocated_storage must be at least 20 GiB (gp3 minimum)."
  }
}

variable "max_allocated_storage" {
  description = "Upper bound in GiB for storage autoscaling (0 turns it off)."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Keep a synchronous standby in a second zone with automatic failover."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups, and so of point-in-time recovery (7-35)."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "backup_window" {
  description = "Daily backup window (UTC, hh24:mi-hh24:mi), outside the maintenance window."
  type        = string
  default     = "02:00-03:00"
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC, ddd:hh24:mi-ddd:hh24:mi)."
  type        = string
  default     = "sun:03:30-sun:04:30"
}

variable "deletion_protection" {
  description = "Refuse to delete the instance until this is turned off."
  type        = bool
  default     = true
}

variable "final_snapshot_identifier" {
  description = "Name of the snapshot taken on deletion (default <identifier>-final)."
  type        = string
  default     = null
}

variable "apply_immediately" {
  description = "Apply modifications at once instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "ca_cert_identifier" {
  description = "Certificate authority of the server certificate."
  type        = string
  default     = "rds-ca-rsa2048-g1"
}

variable "performance_insights_retention_days" {
  description = "Days Performance Insights keeps data (7 is free; otherwise a multiple of 31, up to 731)."
  type        = number
  default     = 7

  validation {
    condition     = var.performance_insights_retention_days == 7 || var.performance_insights_retention_days == 731 || (var.performance_insights_retention_days % 31 == 0 && var.performance_insights_retention_days <= 713)
    error_message = "performance_insights_retention_days must be 7, 731 or a multiple of 31 up to 713."
  }
}

variable "monitoring_interval" {
  description = "Seconds between enhanced-monitoring samples (1, 5, 10, 15, 30 or 60)."
  type        = number
  default     = 60

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be 1, 5, 10, 15, 30 or 60."
  }
}

variable "cloudwatch_logs_exports" {
  description = "PostgreSQL logs exported to CloudWatch (postgresql, upgrade)."
  type        = list(string)
  default     = ["postgresql", "upgrade"]

  validation {
    condition     = length(var.cloudwatch_logs_exports) > 0 && alltrue([for log in var.cloudwatch_logs_exports : contains(["postgresql", "upgrade", "iam-db-auth-error"], log)])
    error_message = "cloudwatch_logs_exports must list at least one of postgresql, upgrade, iam-db-auth-error."
  }
}

variable "log_min_duration_ms" {
  description = "Statements slower than this (ms) are logged, with placeholders instead of values."
  type        = number
  default     = 1000
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the exported PostgreSQL logs (at least a year)."
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

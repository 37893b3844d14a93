variable "name" {
  description = "Replication group ID and prefix of its companions (for example solace-staging)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  description = "VPC the cache's security group belongs to."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the cache subnet group."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups that may connect on the Redis port, by a static label (for example { web = sg-… })."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest, snapshots and the slow-log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "auth_token" {
  description = "AUTH token clients present (16-128 printable characters without spaces, quotes, / or @)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.auth_token) >= 16 && length(var.auth_token) <= 128 && can(regex("^[^\\s\"/@]+$", var.auth_token))
    error_message = "auth_token must be 16-128 printable characters without spaces, double quotes, slashes or @."
  }
}

variable "auth_token_update_strategy" {
  description = "How a changed auth_token is applied: ROTATE (old and new both valid), then SET (only the new one); see README.md."
  type        = string
  default     = "ROTATE"

  validation {
    condition     = contains(["ROTATE", "SET"], var.auth_token_update_strategy)
    error_message = "auth_token_update_strategy must be ROTATE or SET."
  }
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "parameter_group_name" {
  description = "Parameter group (must match engine_version's family)."
  type        = string
  default     = "default.redis7"
}

variable "node_type" {
  description = "Node type of every member of the group."
  type        = string
  default     = "cache.t4g.small"
}

variable "port" {
  description = "Port Redis listens on."
  type        = number
  default     = 6379
}

variable "automatic_failover" {
  description = "Keep at least one replica in another zone and promote it automatically (Multi-AZ)."
  type        = bool
  default     = true
}

variable "replicas" {
  description = "Read replicas besides the primary (at least one is kept when automatic_failover is on)."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 0 && var.replicas <= 5
    error_message = "replicas must be between 0 and 5."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots kept (1-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.snapshot_retention_days >= 1 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be between 1 and 35."
  }
}

variable "snapshot_window" {
  description = "Daily snapshot window (UTC, hh24:mi-hh24:mi), outside the maintenance window."
  type        = string
  default     = "01:00-02:00"
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC, ddd:hh24:mi-ddd:hh24:mi)."
  type        = string
  default     = "sun:04:30-sun:05:30"
}

variable "apply_immediately" {
  description = "Apply modifications at once instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the slow log (at least a year)."
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

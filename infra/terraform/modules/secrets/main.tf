# The environment's KMS key and the secrets the tasks receive as environment variables.
#
# Secret values reach a task only through the task definition's `secrets` block (ECS reads
# them from Secrets Manager when the task starts, with the execution role), never through
# plain `environment` entries, the image, or the task's own IAM role.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # Optional secrets: those the caller supplies a value for, plus those it only wants
  # created (their value is then put out of band, so that it never enters the state).
  supplied_secret_names = nonsensitive(toset(keys(var.secret_values)))
  optional_secret_names = setunion(toset(var.optional_secrets), local.supplied_secret_names)
}

# --- KMS key -----------------------------------------------------------------------------

resource "aws_kms_key" "this" {
  description             = "${var.name}: secrets, logs, database, cache and snapshots"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account's IAM policies decide who may use the key (the standard delegation;
        # without it nobody could manage the key after creation).
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # CloudWatch Logs encrypts the log groups of this account and region (flow logs,
        # task logs, database and cache logs) with the key; nothing else.
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
    ]
  })

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# --- Generated credentials ---------------------------------------------------------------
#
# Secrets Manager generates them (no extra provider needed). The data source draws a new
# value at every plan, so each version ignores later changes: the first value is kept,
# and rotation is a deliberate step (see README.md). Letters and digits only, so that the
# values need no escaping inside the connection URLs.

data "aws_secretsmanager_random_password" "database" {
  password_length     = 40
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "redis" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "database_password" {
  # checkov:skip=CKV2_AWS_57: no rotation Lambda; the password must change in PostgreSQL and in DATABASE_URL together, which the documented rotation procedure does (README.md)
  name                    = "${var.name}/database-app-password"
  description             = "Password of the application's PostgreSQL role (${var.database_username}); DATABASE_URL embeds it."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "database_password" {
  secret_id     = aws_secretsmanager_secret.database_password.id
  secret_string = data.aws_secretsmanager_random_password.database.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "redis_auth_token" {
  # checkov:skip=CKV2_AWS_57: no rotation Lambda; ElastiCache rotates an AUTH token with the ROTATE/SET update strategy, which the documented procedure drives (README.md)
  name                    = "${var.name}/redis-auth-token"
  description             = "AUTH token of the ElastiCache replication group; REDIS_URL embeds it."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_auth_token" {
  secret_id     = aws_secretsmanager_secret.redis_auth_token.id
  secret_string = data.aws_secretsmanager_random_password.redis.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# --- Connection URLs ---------------------------------------------------------------------

resource "aws_secretsmanager_secret" "database_url" {
  # checkov:skip=CKV2_AWS_57: derived value; it is rewritten by Terraform whenever the password secret or the endpoint changes, so it has no rotation of its own
  name                    = "${var.name}/DATABASE_URL"
  description             = "DATABASE_URL of the Solace tasks (PostgreSQL over TLS)."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id = aws_secretsmanager_secret.database_url.id
  secret_string = format(
    "postgres://%s:%s@%s:%d/%s?sslmode=%s",
    var.database_username,
    aws_secretsmanager_secret_version.database_password.secret_string,
    var.database_host,
    var.database_port,
    var.database_name,
    var.database_sslmode,
  )
}

resource "aws_secretsmanager_secret" "redis_url" {
  # checkov:skip=CKV2_AWS_57: derived value; it is rewritten by Terraform whenever the AUTH token secret or the endpoint changes, so it has no rotation of its own
  name                    = "${var.name}/REDIS_URL"
  description             = "REDIS_URL of the Solace tasks (rediss://, TLS with AUTH)."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id = aws_secretsmanager_secret.redis_url.id
  secret_string = format(
    "rediss://:%s@%s:%d",
    aws_secretsmanager_secret_version.redis_auth_token.secret_string,
    var.redis_host,
    var.redis_port,
  )
}

# --- Optional secrets (LLM_API_KEY, SENTRY_DSN, TURN_SECRET, LIVEKIT_API_SECRET) ------------

resource "aws_secretsmanager_secret" "optional" {
  # checkov:skip=CKV2_AWS_57: third-party credentials (LLM provider, Sentry, TURN, LiveKit) are issued outside AWS, so no rotation Lambda can mint them; the rotation steps are in README.md
  for_each = local.optional_secret_names

  name                    = "${var.name}/${each.key}"
  description             = "${each.key} of the Solace tasks."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "optional" {
  for_each = local.supplied_secret_names

  secret_id     = aws_secretsmanager_secret.optional[each.key].id
  secret_string = var.secret_values[each.key]
}

# --- Who may read them -------------------------------------------------------------------

locals {
  # Taken from the versions where Terraform writes one, so that nothing that uses these
  # ARNs (the services) is created before the value exists.
  task_secret_arns = merge(
    {
      DATABASE_URL = aws_secretsmanager_secret_version.database_url.arn
      REDIS_URL    = aws_secretsmanager_secret_version.redis_url.arn
    },
    {
      for name, secret in aws_secretsmanager_secret.optional :
      name => contains(local.supplied_secret_names, name) ? aws_secretsmanager_secret_version.optional[name].arn : secret.arn
    },
  )
}

# For the ECS task execution role: read exactly the injected secrets, and decrypt with the
# key only on Secrets Manager's behalf.
data "aws_iam_policy_document" "read_task_secrets" {
  statement {
    sid       = "ReadTaskSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(local.task_secret_arns)
  }

  statement {
    sid       = "DecryptTaskSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

# Solace staging on AWS: network → secrets (KMS key, credentials) → database and cache →
# ECS services behind an ALB (and the SFU's NLB unless rooms use LiveKit).

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "solace"
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = "infra/terraform/envs/staging"
    }
  }
}

locals {
  name        = "solace-${var.environment}"
  use_livekit = var.livekit_url != null

  # Plain settings of every task; secrets never go here (see module.secrets).
  app_environment = merge(
    { for key, value in {
      PUBLIC_URL      = "https://${var.domain_name}"
      LLM_BASE_URL    = var.llm_base_url
      LLM_MODEL       = var.llm_model
      TURN_URL        = var.turn_urls
      LIVEKIT_URL     = var.livekit_url
      LIVEKIT_API_KEY = var.livekit_api_key
    } : key => value if value != null },
    var.extra_environment,
  )

  # Optional secrets given a value here (the others in var.optional_secrets are created
  # empty and filled out of band).
  secret_values = { for key, value in {
    LLM_API_KEY        = var.llm_api_key
    SENTRY_DSN         = var.sentry_dsn
    TURN_SECRET        = var.turn_secret
    LIVEKIT_API_SECRET = var.livekit_api_secret
  } : key => value if value != null }
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  cidr_block         = var.vpc_cidr_block
  azs                = var.azs
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.secrets.kms_key_arn
}

module "secrets" {
  source = "../../modules/secrets"

  name = local.name

  database_host     = module.database.address
  database_port     = module.database.port
  database_name     = module.database.database_name
  database_username = var.database_app_username
  database_sslmode  = var.database_sslmode

  redis_host = module.cache.primary_endpoint_address
  redis_port = module.cache.port

  # ENCRYPTION_KEYS (the master keys of encryption at rest, docs/encryption.md) is always
  # created and its value put out of band, so it never enters the state:
  #   solace keys new | aws secretsmanager put-secret-value --secret-id <name>/ENCRYPTION_KEYS --secret-string file:///dev/stdin
  optional_secrets = setunion(var.optional_secrets, ["ENCRYPTION_KEYS"])
  secret_values    = local.secret_values
}

module "database" {
  source = "../../modules/database"

  identifier     = local.name
  vpc_id         = module.network.vpc_id
  subnet_ids     = module.network.private_subnet_ids
  kms_key_arn    = module.secrets.kms_key_arn
  instance_class = var.database_instance_class
  multi_az       = var.database_multi_az

  backup_retention_days = var.database_backup_retention_days
  deletion_protection   = var.deletion_protection

  allowed_security_group_ids = module.compute.task_security_group_ids
}

module "cache" {
  source = "../../modules/cache"

  name               = local.name
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  kms_key_arn        = module.secrets.kms_key_arn
  auth_token         = module.secrets.redis_auth_token
  node_type          = var.cache_node_type
  automatic_failover = var.cache_automatic_failover

  allowed_security_group_ids = module.compute.task_security_group_ids
}

module "compute" {
  source = "../../modules/compute"

  name               = local.name
  vpc_id             = module.network.vpc_id
  public_subnet_ids  = module.network.public_subnet_ids
  private_subnet_ids = module.network.private_subnet_ids
  kms_key_arn        = module.secrets.kms_key_arn

  image                             = var.image
  container_user                    = var.container_user
  repository_credentials_secret_arn = var.repository_credentials_secret_arn
  environment                       = local.app_environment
  secret_arns                       = module.secrets.task_secret_arns
  secrets_policy_json               = module.secrets.read_policy_json

  certificate_arn     = var.certificate_arn
  deletion_protection = var.deletion_protection
  waf_web_acl_arn     = var.waf_web_acl_arn

  # LiveKit hosts the media itself; the embedded SFU and its NLB are then not needed.
  create_sfu_nlb = !local.use_livekit

  database_security_group_id = module.database.security_group_id
  database_port              = module.database.port
  cache_security_group_id    = module.cache.security_group_id
  cache_port                 = module.cache.port

  metrics_ingress_cidr_blocks = var.metrics_ingress_cidr_blocks

  # First apply: start_services = false, run the bootstrap task, then apply again.
  start_services = var.start_services
  database_bootstrap = {
    host                    = module.database.address
    database_name           = module.database.database_name
    app_username            = var.database_app_username
    master_secret_arn       = module.database.master_user_secret_arn
    app_password_secret_arn = module.secrets.database_password_secret_arn
  }

  web_min_count = var.web_min_count
  web_max_count = var.web_max_count
  worker_count  = var.worker_count
}

# Optional: the public name as an alias of the ALB, when its zone is in this account.
resource "aws_route53_record" "app" {
  count = var.route53_zone_id == null ? 0 : 1

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.compute.alb_dns_name
    zone_id                = module.compute.alb_zone_id
    evaluate_target_health = true
  }
}

# Solace on ECS Fargate: one image, three services.
#
#   web    `serve --no-worker`  behind the ALB, scaled on CPU
#   rooms  `serve`              exactly one task: the embedded audio server (SFU) keeps its
#                               rooms in memory, so the room API (/api/rooms*) and the
#                               media (the NLB's UDP/TCP port) must reach the same
#                               process; it also runs room housekeeping (and, as any
#                               `serve` without --no-worker, takes jobs too)
#   worker `worker`             background jobs (text-to-speech), no inbound traffic
#
# A failed deployment (tasks that do not become healthy) is rolled back by the ECS
# deployment circuit breaker to the last task definition that was running.

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  container_name = "solace"
  http_port      = 8080
  metrics_port   = 9464

  # The rooms service gets the NLB's first Elastic IP as the address its ICE candidates
  # announce (browsers send media there; the NLB forwards it to the one task).
  sfu_public_ip = var.create_sfu_nlb ? aws_eip.sfu[0].public_ip : null

  common_environment = merge(
    {
      APP_ENV             = "production"
      HOST                = "0.0.0.0"
      PORT                = tostring(local.http_port)
      METRICS_ADDR        = "0.0.0.0:${local.metrics_port}"
      JOBS_BACKEND        = "redis"
      TRUST_FORWARDED_FOR = "true"
      DATA_DIR            = "/app/data"
      # The root filesystem is read-only; the data volume is the one writable place.
      TMPDIR       = "/app/data"
      RTC_UDP_PORT = tostring(var.sfu_port)
      RTC_TCP_PORT = tostring(var.sfu_port)
    },
    var.environment,
  )

  services = {
    web = {
      command   = ["serve", "--no-worker"]
      cpu       = var.web_cpu
      memory    = var.web_memory
      http      = true
      sfu       = false
      extra_env = {}
    }
    rooms = {
      command   = ["serve"]
      cpu       = var.rooms_cpu
      memory    = var.rooms_memory
      http      = true
      sfu       = var.create_sfu_nlb
      extra_env = var.create_sfu_nlb ? { PUBLIC_IP = local.sfu_public_ip } : {}
    }
    worker = {
      command   = ["worker"]
      cpu       = var.worker_cpu
      memory    = var.worker_memory
      http      = false
      sfu       = false
      extra_env = {}
    }
  }
}

# --- Logs ----------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# --- Cluster -------------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- IAM -----------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only ECS in this account may assume the roles (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# The execution role is what ECS itself uses to start a task: write its logs and read its
# secrets (and, for a private registry, the registry credentials). The image comes from
# ghcr.io, so no ECR permissions.
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  description        = "ECS task execution role of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution_logs" {
  statement {
    sid       = "WriteTaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.repository_credentials_secret_arn == null ? [] : [var.repository_credentials_secret_arn]

    content {
      sid       = "ReadRegistryCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution_logs" {
  name   = "write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_logs.json
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "read-task-secrets"
  role   = aws_iam_role.execution.id
  policy = var.secrets_policy_json
}

# The task role is the application's own identity. Solace calls no AWS API, so it has no
# permissions; it exists so that the application never holds the execution role's.
resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-task-"
  description        = "Role of the Solace containers of ${var.name} (no permissions)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

# --- Task definitions -----------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  for_each = local.services

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task-local scratch space (Fargate ephemeral storage, encrypted by Fargate). It is
  # mounted where the image declares VOLUME /app/data, so it keeps the image's owner
  # (the same user as var.container_user).
  volume {
    name = "data"
  }

  container_definitions = jsonencode([
    merge(
      {
        name                   = local.container_name
        image                  = var.image
        essential              = true
        command                = each.value.command
        user                   = var.container_user
        readonlyRootFilesystem = true
        privileged             = false
        stopTimeout            = 30

        environment = [
          for key, value in merge(local.common_environment, each.value.extra_env) : { name = key, value = value }
        ]
        secrets = [
          for key, arn in var.secret_arns : { name = key, valueFrom = arn }
        ]

        portMappings = concat(
          each.value.http ? [
            { name = "http", containerPort = local.http_port, hostPort = local.http_port, protocol = "tcp" },
            { name = "metrics", containerPort = local.metrics_port, hostPort = local.metrics_port, protocol = "tcp" },
          ] : [],
          each.value.sfu ? [
            { name = "rtc-udp", containerPort = var.sfu_port, hostPort = var.sfu_port, protocol = "udp" },
            { name = "rtc-tcp", containerPort = var.sfu_port, hostPort = var.sfu_port, protocol = "tcp" },
          ] : [],
        )

        mountPoints = [
          { sourceVolume = "data", containerPath = "/app/data", readOnly = false },
        ]

        linuxParameters = {
          initProcessEnabled = true
          capabilities       = { drop = ["ALL"] }
        }

        ulimits = [
          { name = "nofile", softLimit = 65536, hardLimit = 65536 },
        ]

        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.this.name
            awslogs-region        = local.region
            awslogs-stream-prefix = each.key
            mode                  = "non-blocking"
            max-buffer-size       = "4m"
          }
        }
      },
      # The worker serves no HTTP, so only the HTTP services get the image's health check.
      { for key, check in {
        healthCheck = {
          command     = ["CMD", "/app/solace", "healthcheck"]
          interval    = 15
          timeout     = 5
          retries     = 3
          startPeriod = 30
        }
      } : key => check if each.value.http },
      { for key, creds in {
        repositoryCredentials = { credentialsParameter = coalesce(var.repository_credentials_secret_arn, "-") }
      } : key => creds if var.repository_credentials_secret_arn != null },
    )
  ])

  tags = merge(var.tags, { Service = each.key })
}

# --- Security groups ---------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "ALB of ${var.name}: HTTPS (and HTTP for the redirect) from anywhere"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from anywhere (the public entry point)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  # checkov:skip=CKV_AWS_260: port 80 only answers with a 301 to HTTPS (listener "http" has no forward action), so browsers typing the bare domain still arrive
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from anywhere, answered only by a redirect to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  for_each = { for name in ["web", "rooms"] : name => local.task_security_groups[name] }

  security_group_id            = aws_security_group.alb.id
  description                  = "HTTP to the ${each.key} tasks (TLS ends at the ALB)"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = local.http_port
  to_port                      = local.http_port

  tags = var.tags
}

# One security group per service; what each may receive is in the rules below.
resource "aws_security_group" "task" {
  for_each = {
    web    = "web tasks of ${var.name}: HTTP from the ALB only"
    rooms  = "rooms task of ${var.name}: HTTP from the ALB, media from the NLB"
    worker = "worker tasks of ${var.name}: no inbound traffic"
  }

  name_prefix = "${var.name}-${each.key}-"
  description = each.value
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  task_security_groups = { for name, group in aws_security_group.task : name => group.id }

  # What every task may reach. DNS (the VPC resolver) and the task metadata endpoint are
  # not filtered by security groups, and replies to inbound connections (including the
  # SFU's UDP answers to browsers) need no egress rule: security groups are stateful.
  task_egress = merge(
    { for svc, sg in local.task_security_groups : "${svc}-https" => {
      sg          = sg
      description = "HTTPS out via NAT: image registry, Secrets Manager, CloudWatch Logs, LLM and speech APIs, Sentry, LiveKit"
      cidr        = "0.0.0.0/0"
      peer        = null
      port        = 443
    } },
    { for svc, sg in local.task_security_groups : "${svc}-postgres" => {
      sg          = sg
      description = "PostgreSQL"
      cidr        = null
      peer        = var.database_security_group_id
      port        = var.database_port
    } },
    { for svc, sg in local.task_security_groups : "${svc}-redis" => {
      sg          = sg
      description = "Redis (TLS)"
      cidr        = null
      peer        = var.cache_security_group_id
      port        = var.cache_port
    } },
  )
}

resource "aws_vpc_security_group_egress_rule" "tasks" {
  for_each = local.task_egress

  security_group_id            = each.value.sg
  description                  = each.value.description
  cidr_ipv4                    = each.value.cidr
  referenced_security_group_id = each.value.peer
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "http_from_alb" {
  for_each = { for name in ["web", "rooms"] : name => local.task_security_groups[name] }

  security_group_id            = each.value
  description                  = "HTTP from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = local.http_port
  to_port                      = local.http_port

  tags = var.tags
}

# Prometheus (or another scraper) inside the VPC; /metrics is never behind the ALB.
resource "aws_vpc_security_group_ingress_rule" "metrics" {
  for_each = {
    for pair in setproduct(keys(local.task_security_groups), var.metrics_ingress_cidr_blocks) :
    "${pair[0]}-${pair[1]}" => { sg = local.task_security_groups[pair[0]], cidr = pair[1] }
  }

  security_group_id = each.value.sg
  description       = "Prometheus metrics from the scraper's network"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = local.metrics_port
  to_port           = local.metrics_port

  tags = var.tags
}

# --- ALB ---------------------------------------------------------------------------------------

resource "aws_lb" "this" {
  # checkov:skip=CKV2_AWS_76: the attached web ACL (var.waf_web_acl_arn) and its rule groups are defined outside this module; no JVM runs behind this ALB (Solace is a Rust binary)
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = var.alb_idle_timeout
  desync_mitigation_mode     = "strictest"

  access_logs {
    bucket  = aws_s3_bucket.alb_logs.id
    prefix  = "alb"
    enabled = true
  }

  tags = var.tags

  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "http" {
  # checkov:skip=CKV_AWS_378: TLS ends at the ALB; the hop to the task stays inside the VPC's private subnets and only the ALB's security group may open it
  for_each = toset(["web", "rooms"])

  name                 = "${var.name}-${each.key}"
  port                 = local.http_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = var.health_check_path
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http["web"].arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

# The room API goes to the task that holds the rooms.
resource "aws_lb_listener_rule" "rooms" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http["rooms"].arn
  }

  condition {
    path_pattern {
      values = ["/api/rooms", "/api/rooms/*"]
    }
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}

# --- ALB access logs bucket -------------------------------------------------------------------

resource "aws_s3_bucket" "alb_logs" {
  # checkov:skip=CKV_AWS_18: this bucket is the access-log sink itself; logging it into another bucket would only move the question one bucket further
  # checkov:skip=CKV_AWS_144: access logs are operational data kept for a limited time; the bucket is versioned, and a second region is not worth its cost here
  # checkov:skip=CKV_AWS_145: ALB access logs can only be delivered to buckets encrypted with SSE-S3 (AES256), not SSE-KMS
  # checkov:skip=CKV2_AWS_62: nothing consumes new log objects as they arrive; they are read on demand (Athena) during investigations
  bucket        = "${var.name}-alb-logs-${local.account_id}-${local.region}"
  force_destroy = false

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  bucket                  = aws_s3_bucket.alb_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_elb_service_account" "this" {}

data "aws_iam_policy_document" "alb_logs" {
  # Regions older than August 2022 deliver with the regional ELB account, newer ones with
  # the log-delivery service principal; both may write under the prefix, nothing else.
  statement {
    sid       = "ElbLogDeliveryAccount"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.alb_logs.arn}/alb/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }

  statement {
    sid       = "ElbLogDeliveryService"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.alb_logs.arn}/alb/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.alb_logs.arn,
      "${aws_s3_bucket.alb_logs.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  policy = data.aws_iam_policy_document.alb_logs.json

  depends_on = [aws_s3_bucket_public_access_block.alb_logs]
}

# --- NLB for the embedded SFU (optional) ---------------------------------------------------------
#
# Browsers send audio straight to the SFU's one UDP port (TCP when UDP is blocked). On
# Fargate a task's address changes with every start, so the NLB provides the stable one:
# an Elastic IP per subnet; PUBLIC_IP is the first of them. With LiveKit (create_sfu_nlb =
# false) none of this exists.

resource "aws_eip" "sfu" {
  # checkov:skip=CKV2_AWS_19: these addresses belong to the SFU NLB (subnet_mapping.allocation_id of aws_lb.sfu), which the check does not recognise as an attachment
  count = var.create_sfu_nlb ? length(var.public_subnet_ids) : 0

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-sfu-${count.index}" })
}

resource "aws_security_group" "nlb" {
  count = var.create_sfu_nlb ? 1 : 0

  name_prefix = "${var.name}-sfu-nlb-"
  description = "SFU NLB of ${var.name}: audio (UDP and TCP ${var.sfu_port}) from anywhere"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-sfu-nlb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "nlb_media" {
  for_each = var.create_sfu_nlb ? toset(["udp", "tcp"]) : toset([])

  security_group_id = aws_security_group.nlb[0].id
  description       = "WebRTC audio (${upper(each.key)}) from browsers anywhere"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = each.key
  from_port         = var.sfu_port
  to_port           = var.sfu_port

  tags = var.tags
}

locals {
  nlb_to_rooms = var.create_sfu_nlb ? {
    udp    = { protocol = "udp", port = var.sfu_port, description = "WebRTC audio (UDP) to the rooms task" }
    tcp    = { protocol = "tcp", port = var.sfu_port, description = "WebRTC audio (TCP) to the rooms task" }
    health = { protocol = "tcp", port = local.http_port, description = "Health checks of the SFU target groups" }
  } : {}
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_rooms" {
  for_each = local.nlb_to_rooms

  security_group_id            = aws_security_group.nlb[0].id
  description                  = each.value.description
  referenced_security_group_id = aws_security_group.task["rooms"].id
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port

  tags = var.tags
}

# Referencing the NLB's security group admits its traffic even though the NLB keeps the
# browsers' addresses as the source (client IP preservation, always on for UDP).
resource "aws_vpc_security_group_ingress_rule" "rooms_from_nlb" {
  for_each = local.nlb_to_rooms

  security_group_id            = aws_security_group.task["rooms"].id
  description                  = "${each.value.description} (from the SFU NLB)"
  referenced_security_group_id = aws_security_group.nlb[0].id
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port

  tags = var.tags
}

resource "aws_lb" "sfu" {
  # checkov:skip=CKV_AWS_91: NLB access logs exist for TLS listeners only; these listeners pass UDP/TCP media through, which the VPC flow logs record
  count = var.create_sfu_nlb ? 1 : 0

  name                             = "${var.name}-sfu"
  load_balancer_type               = "network"
  internal                         = false
  security_groups                  = [aws_security_group.nlb[0].id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection

  dynamic "subnet_mapping" {
    for_each = var.public_subnet_ids

    content {
      subnet_id     = subnet_mapping.value
      allocation_id = aws_eip.sfu[subnet_mapping.key].id
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "sfu" {
  for_each = var.create_sfu_nlb ? toset(["UDP", "TCP"]) : toset([])

  name                 = "${var.name}-sfu-${lower(each.key)}"
  port                 = var.sfu_port
  protocol             = each.key
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  # UDP always keeps the browser's address (the attribute cannot be changed there); TCP is
  # made to match, so ICE sees the same remote address whichever transport a browser uses.
  preserve_client_ip = each.key == "TCP" ? "true" : null

  # The media port cannot be probed; the HTTP liveness endpoint of the same task can.
  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(local.http_port)
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

resource "aws_lb_listener" "sfu" {
  # checkov:skip=CKV_AWS_2: WebRTC media listener (UDP/TCP 50000), not HTTP; the audio is DTLS-SRTP encrypted end to end between browser and SFU
  # checkov:skip=CKV_AWS_103: TLS cannot apply to the UDP listener, and on the TCP one it would break ICE-TCP framing; the media is DTLS-SRTP encrypted end to end
  for_each = var.create_sfu_nlb ? toset(["UDP", "TCP"]) : toset([])

  load_balancer_arn = aws_lb.sfu[0].arn
  port              = var.sfu_port
  protocol          = each.key

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.sfu[each.key].arn
  }

  tags = var.tags
}

# --- Services ------------------------------------------------------------------------------------

resource "aws_ecs_service" "web" {
  name                              = "web"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this["web"].arn
  desired_count                     = var.start_services ? var.web_min_count : 0
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task["web"].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.http["web"].arn
    container_name   = local.container_name
    container_port   = local.http_port
  }

  tags = var.tags

  # The autoscaler owns the task count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "rooms" {
  name                              = "rooms"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this["rooms"].arn
  desired_count                     = var.start_services ? 1 : 0
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false

  # Never two SFUs at once (rooms would be split between them): a deployment stops the
  # old task before starting the new one. Rooms in progress end; clients rejoin.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task["rooms"].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.http["rooms"].arn
    container_name   = local.container_name
    container_port   = local.http_port
  }

  dynamic "load_balancer" {
    for_each = aws_lb_target_group.sfu

    content {
      target_group_arn = load_balancer.value.arn
      container_name   = local.container_name
      container_port   = var.sfu_port
    }
  }

  tags = var.tags

  depends_on = [aws_lb_listener.https, aws_lb_listener.sfu]
}

resource "aws_ecs_service" "worker" {
  name                    = "worker"
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.this["worker"].arn
  desired_count           = var.start_services ? var.worker_count : 0
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  enable_execute_command  = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task["worker"].id]
    assign_public_ip = false
  }

  tags = var.tags
}

# --- Autoscaling (web) -------------------------------------------------------------------------

resource "aws_appautoscaling_target" "web" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.web.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.start_services ? var.web_min_count : 0
  max_capacity       = var.start_services ? var.web_max_count : 0

  tags = var.tags
}

resource "aws_appautoscaling_policy" "web_cpu" {
  name               = "${var.name}-web-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.web_cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# --- Database bootstrap (one-off task) -----------------------------------------------------------
#
# Creates the application's PostgreSQL role (or resets its password) with the RDS-managed
# master credentials, and lets it create tables in the public schema. Run it once before
# the services start, and again after rotating the application password:
#   terraform output -raw database_bootstrap_command | sh
# It has its own execution role: only this task may receive the master credentials.

locals {
  bootstrap_sql = <<-SQL
    SELECT format('CREATE ROLE %I LOGIN', :'app_user')
     WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
    ALTER ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
    GRANT CONNECT, TEMPORARY ON DATABASE :"app_database" TO :"app_user";
    GRANT USAGE, CREATE ON SCHEMA public TO :"app_user";
    -- The key store of encryption at rest: a database of its own beside the app's (so
    -- the app database's snapshots hold no key), owned by the application role.
    SELECT format('CREATE DATABASE %I OWNER %I', :'app_database' || '_keys', :'app_user')
     WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_database' || '_keys') \gexec
  SQL
}

resource "aws_iam_role" "bootstrap_execution" {
  count = var.database_bootstrap == null ? 0 : 1

  name_prefix        = "${var.name}-dbboot-"
  description        = "ECS execution role of the database bootstrap task of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "bootstrap_execution" {
  count = var.database_bootstrap == null ? 0 : 1

  statement {
    sid       = "WriteTaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid     = "ReadBootstrapSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      var.database_bootstrap.master_secret_arn,
      var.database_bootstrap.app_password_secret_arn,
    ]
  }

  statement {
    sid       = "DecryptBootstrapSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "bootstrap_execution" {
  count = var.database_bootstrap == null ? 0 : 1

  name   = "database-bootstrap"
  role   = aws_iam_role.bootstrap_execution[0].id
  policy = data.aws_iam_policy_document.bootstrap_execution[0].json
}

resource "aws_ecs_task_definition" "bootstrap" {
  count = var.database_bootstrap == null ? 0 : 1

  family                   = "${var.name}-db-bootstrap"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.bootstrap_execution[0].arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name                   = "psql"
      image                  = var.bootstrap_image
      essential              = true
      user                   = "70:70"
      readonlyRootFilesystem = true
      privileged             = false
      entryPoint             = ["sh", "-c"]
      command = [join(" ", [
        "printf '%s\\n' \"$BOOTSTRAP_SQL\" | psql -v ON_ERROR_STOP=1",
        "-v app_user=\"$APP_USER\" -v app_password=\"$APP_PASSWORD\" -v app_database=\"$PGDATABASE\"",
      ])]

      environment = [
        { name = "PGHOST", value = var.database_bootstrap.host },
        { name = "PGPORT", value = tostring(var.database_port) },
        { name = "PGDATABASE", value = var.database_bootstrap.database_name },
        { name = "PGSSLMODE", value = "require" },
        { name = "APP_USER", value = var.database_bootstrap.app_username },
        { name = "BOOTSTRAP_SQL", value = local.bootstrap_sql },
      ]
      secrets = [
        { name = "PGUSER", valueFrom = "${var.database_bootstrap.master_secret_arn}:username::" },
        { name = "PGPASSWORD", valueFrom = "${var.database_bootstrap.master_secret_arn}:password::" },
        { name = "APP_PASSWORD", valueFrom = var.database_bootstrap.app_password_secret_arn },
      ]

      linuxParameters = {
        initProcessEnabled = true
        capabilities       = { drop = ["ALL"] }
      }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "db-bootstrap"
        }
      }
    }
  ])

  tags = merge(var.tags, { Service = "db-bootstrap" })
}

# The AWS side: a CloudWatch metric stream of the pipeline's metrics (Lambda, SQS and the EMF namespace)
# and the EMF lines of every function (a log subscription), each through a Firehose stream to New Relic.
# The license key Firehose sends is in a Secrets Manager secret this creates empty and the operator fills
# (docs/observability.md): it never passes through Terraform, so it is in no state.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  endpoints = {
    US = { metrics = "https://aws-api.newrelic.com/cloudwatch-metrics/v1", logs = "https://aws-api.newrelic.com/firehose/v1" }
    EU = { metrics = "https://aws-api.eu01.nr-data.net/cloudwatch-metrics/v1", logs = "https://aws-api.eu.newrelic.com/firehose/v1" }
  }
  namespaces = distinct([for s in var.sources : s.metrics_namespace])

  # What the stream sends: exactly the metrics the dashboard and the alerts read (tests/infra checks it).
  lambda_metrics = ["Invocations", "Duration", "Errors", "Throttles"]
  sqs_metrics = ["NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted",
  "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"]

  # The EMF document lines only: one per request (LatencyMs) and one per sweep (OldestPendingAgeSeconds).
  log_subscriptions = merge([for s in var.sources : {
    "${s.source_name}-ingress" = { log_group = s.ingress_log_group, pattern = "{ $.LatencyMs >= 0 }" }
    "${s.source_name}-sweeper" = { log_group = s.sweeper_log_group, pattern = "{ $.OldestPendingAgeSeconds >= 0 }" }
  }]...)
}

resource "aws_secretsmanager_secret" "license_key" {
  #checkov:skip=CKV2_AWS_57:The license key is rotated in New Relic, then put here; no Lambda rotation applies to a third party's key.
  name        = "${var.name}-newrelic-license-key"
  description = "New Relic license (ingest) key for the Firehose streams of ${var.name}, as {\"api_key\":\"...\"}. Set with aws secretsmanager put-secret-value."
  kms_key_id  = var.secrets_kms_key_arn
  tags        = var.tags
}

# Deliveries New Relic refused, kept 14 days for a look.
resource "aws_s3_bucket" "failed" {
  #checkov:skip=CKV_AWS_21:No versioning: Firehose writes each failed batch once; nothing rewrites an object.
  #checkov:skip=CKV_AWS_18:No access logging: Firehose's own error logs say what failed.
  #checkov:skip=CKV_AWS_144:No replication: metrics and EMF lines New Relic refused, kept 14 days; the functions' log groups hold the same lines.
  #checkov:skip=CKV2_AWS_62:No event notifications: nothing reacts to a failed batch.
  #checkov:skip=CKV_AWS_145:SSE-S3, not KMS: metric values and EMF lines, no body and no secret.
  bucket_prefix = "${substr(var.name, 0, 30)}-nr-failed-"
  force_destroy = true
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "failed" {
  bucket                  = aws_s3_bucket.failed.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "failed" {
  bucket = aws_s3_bucket.failed.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "failed" {
  bucket = aws_s3_bucket.failed.id
  rule {
    id     = "expire-failed-deliveries"
    status = "Enabled"
    filter {}
    expiration {
      days = 14
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "failed_tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.failed.arn, "${aws_s3_bucket.failed.arn}/*"]
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

resource "aws_s3_bucket_policy" "failed" {
  bucket = aws_s3_bucket.failed.id
  policy = data.aws_iam_policy_document.failed_tls_only.json
}

data "aws_iam_policy_document" "assume" {
  for_each = {
    firehose = "firehose.amazonaws.com"
    stream   = "streams.metrics.cloudwatch.amazonaws.com"
    logs     = "logs.${local.region}.amazonaws.com"
  }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Firehose: writes what New Relic refused, reads the license key.
resource "aws_iam_role" "firehose" {
  name               = "${var.name}-nr-firehose"
  assume_role_policy = data.aws_iam_policy_document.assume["firehose"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "firehose" {
  statement {
    sid       = "FailedDeliveries"
    actions   = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"]
    resources = [aws_s3_bucket.failed.arn, "${aws_s3_bucket.failed.arn}/*"]
  }
  statement {
    sid       = "LicenseKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.license_key.arn]
  }
  statement {
    sid       = "LicenseKeyDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [aws_secretsmanager_secret.license_key.arn]
    }
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "deliver-to-newrelic"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

resource "aws_kinesis_firehose_delivery_stream" "newrelic" {
  #checkov:skip=CKV_AWS_241:AWS-owned key: what passes holds metric values and EMF lines, no body and no secret; a CMK would add $1 a month and a grant.
  for_each    = toset(["metrics", "logs"])
  name        = "${var.name}-newrelic-${each.key}"
  destination = "http_endpoint"

  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  http_endpoint_configuration {
    url                = local.endpoints[var.newrelic_region][each.key]
    name               = "New Relic ${each.key}"
    buffering_size     = 1
    buffering_interval = 60
    retry_duration     = 60
    role_arn           = aws_iam_role.firehose.arn
    s3_backup_mode     = "FailedDataOnly"

    # The license key, read by Firehose at delivery time: never an argument here, so never in the state.
    secrets_manager_configuration {
      enabled    = true
      secret_arn = aws_secretsmanager_secret.license_key.arn
      role_arn   = aws_iam_role.firehose.arn
    }

    s3_configuration {
      role_arn           = aws_iam_role.firehose.arn
      bucket_arn         = aws_s3_bucket.failed.arn
      prefix             = "${each.key}/"
      compression_format = "GZIP"
    }

    request_configuration {
      content_encoding = "GZIP"
    }
  }

  tags = var.tags
}

# The metric stream: Lambda's and SQS's metrics the dashboard and alerts read, and every EMF metric.
resource "aws_iam_role" "stream" {
  name               = "${var.name}-nr-metric-stream"
  assume_role_policy = data.aws_iam_policy_document.assume["stream"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "to_firehose" {
  for_each = toset(["metrics", "logs"])
  statement {
    actions   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
    resources = [aws_kinesis_firehose_delivery_stream.newrelic[each.key].arn]
  }
}

resource "aws_iam_role_policy" "stream" {
  name   = "put-to-firehose"
  role   = aws_iam_role.stream.id
  policy = data.aws_iam_policy_document.to_firehose["metrics"].json
}

resource "aws_cloudwatch_metric_stream" "newrelic" {
  name          = "${var.name}-newrelic"
  role_arn      = aws_iam_role.stream.arn
  firehose_arn  = aws_kinesis_firehose_delivery_stream.newrelic["metrics"].arn
  output_format = "opentelemetry0.7"

  include_filter {
    namespace    = "AWS/Lambda"
    metric_names = local.lambda_metrics
  }
  include_filter {
    namespace    = "AWS/SQS"
    metric_names = local.sqs_metrics
  }
  dynamic "include_filter" {
    for_each = local.namespaces
    content {
      namespace = include_filter.value
    }
  }

  # Percentiles of the durations (OpenTelemetry streams carry p?? statistics only).
  statistics_configuration {
    additional_statistics = ["p50", "p99"]
    include_metric {
      namespace   = "AWS/Lambda"
      metric_name = "Duration"
    }
    dynamic "include_metric" {
      for_each = local.namespaces
      content {
        namespace   = include_metric.value
        metric_name = "LatencyMs"
      }
    }
  }

  tags = var.tags
}

# The EMF lines of every function, as New Relic Log events with their fields: the per-request data the
# service levels count (a metric stream carries per-minute summaries, which cannot say how many requests
# were under a target).
resource "aws_iam_role" "logs" {
  name               = "${var.name}-nr-logs"
  assume_role_policy = data.aws_iam_policy_document.assume["logs"].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "logs" {
  name   = "put-to-firehose"
  role   = aws_iam_role.logs.id
  policy = data.aws_iam_policy_document.to_firehose["logs"].json
}

resource "aws_cloudwatch_log_subscription_filter" "emf" {
  for_each        = local.log_subscriptions
  name            = "newrelic-emf"
  log_group_name  = each.value.log_group
  filter_pattern  = each.value.pattern
  destination_arn = aws_kinesis_firehose_delivery_stream.newrelic["logs"].arn
  role_arn        = aws_iam_role.logs.arn
}

# New Relic reads the account's resource metadata (tags, names) for the streamed metrics' entities,
# through a role it assumes with the New Relic account id as external id.
data "aws_iam_policy_document" "newrelic_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["754728514883"] # New Relic's AWS account
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [tostring(var.newrelic_account_id)]
    }
  }
}

resource "aws_iam_role" "newrelic" {
  name               = "${var.name}-newrelic-read"
  assume_role_policy = data.aws_iam_policy_document.newrelic_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "newrelic_read" {
  statement {
    sid       = "ResourceMetadata"
    actions   = ["tag:GetResources"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "newrelic" {
  name   = "resource-metadata"
  role   = aws_iam_role.newrelic.id
  policy = data.aws_iam_policy_document.newrelic_read.json
}

resource "newrelic_cloud_aws_link_account" "this" {
  account_id             = var.newrelic_account_id
  arn                    = aws_iam_role.newrelic.arn
  metric_collection_mode = "PUSH"
  name                   = "${var.name} metric stream"
  depends_on             = [aws_iam_role_policy.newrelic]
}

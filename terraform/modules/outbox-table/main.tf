# The outbox (docs/outbox-table.md). Shape identical to scripts/localstack.py (tests/infra checks it).
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_kms_key" "table" {
  description             = "Encrypts the webhook outbox table ${var.name} (raw webhook bodies)."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  # Key policy: the account's IAM policies decide who may use the key (the functions' roles may only via DynamoDB).
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountIamPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags
}

resource "aws_kms_alias" "table" {
  name          = "alias/${var.name}-table"
  target_key_id = aws_kms_key.table.key_id
}

resource "aws_dynamodb_table" "outbox" {
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "unsent_key"
    type = "S"
  }

  attribute {
    name = "received_at"
    type = "N"
  }

  # Sparse: unsent_key ("pending#<source>#<shard>" / "parked#<source>#<shard>") exists only on unsent rows.
  # hash_key/range_key, not key_schema: the provider deprecated them in 6.29 for key_schema blocks, which
  # had a perpetual diff on a range-keyed index and an index removal that dropped every index until later
  # 6.3x releases. They work over the whole range these files target (>= 6.29, < 7.0) and leave an existing
  # table untouched; `terraform plan` shows the deprecation warning. Move to key_schema with provider 7.
  global_secondary_index {
    name            = "unsent-index"
    hash_key        = "unsent_key"
    range_key       = "received_at"
    projection_type = "KEYS_ONLY"

    # Pre-warming: what the index serves at once during a burst (docs/CAPACITY.md).
    dynamic "warm_throughput" {
      for_each = var.index_warm_write_units_per_second == null ? [] : [var.index_warm_write_units_per_second]
      content {
        read_units_per_second  = 12000
        write_units_per_second = warm_throughput.value
      }
    }
  }

  # Pre-warming: what the table serves at once during a burst, before on-demand has scaled. Reads stay
  # at a new table's own 12,000 (only the sweeper and on-call read).
  dynamic "warm_throughput" {
    for_each = var.warm_write_units_per_second == null ? [] : [var.warm_write_units_per_second]
    content {
      read_units_per_second  = 12000
      write_units_per_second = warm_throughput.value
    }
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.table.arn
  }

  tags = var.tags

  # The table holds every event not yet on a queue: a plan that would delete or replace it (a lowered
  # warm throughput, a changed key schema) fails here instead. Tearing down on purpose: docs/deploy.md.
  lifecycle {
    prevent_destroy = true
  }
}

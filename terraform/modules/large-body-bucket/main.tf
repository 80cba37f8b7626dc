# The S3 claim check's bucket (docs/large-bodies.md): bodies the outbox row cannot hold, written by the
# ingress before the row, tagged outbox-state=unsent; whoever marks the row sent (or discarded) copies the
# object onto itself tagged outbox-state=sent, which restarts its age. The lifecycle rule expires only
# sent-tagged objects, so no age can delete the body of a pending or parked row.

resource "aws_s3_bucket" "bodies" {
  #checkov:skip=CKV_AWS_21:No versioning: every re-tag (a copy onto itself) would keep a noncurrent copy of each body; an object is only ever rewritten with the same bytes (its key holds the body's SHA-256).
  #checkov:skip=CKV_AWS_18:No server access logging: the functions' own logs record each body's key, size and hash; access logs would need a second bucket for no added evidence.
  #checkov:skip=CKV_AWS_144:No cross-region replication: a body lives only until its row is sent plus the queues' retention; the outbox table is the durable record.
  #checkov:skip=CKV2_AWS_62:No event notifications: nothing reacts to an object being written; the queue message carries the pointer.
  bucket_prefix = var.name_prefix
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "bodies" {
  bucket                  = aws_s3_bucket.bodies.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "bodies" {
  bucket = aws_s3_bucket.bodies.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bodies" {
  bucket = aws_s3_bucket.bodies.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "bodies" {
  bucket = aws_s3_bucket.bodies.id

  # Only objects re-tagged sent expire; an unsent row's body (tag outbox-state=unsent) never does.
  rule {
    id     = "expire-sent-bodies"
    status = "Enabled"
    filter {
      tag {
        key   = "outbox-state"
        value = "sent"
      }
    }
    expiration {
      days = var.expire_sent_after_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# TLS only: any request over plain HTTP is denied, whoever makes it.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.bodies.arn, "${aws_s3_bucket.bodies.arn}/*"]
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

resource "aws_s3_bucket_policy" "bodies" {
  bucket = aws_s3_bucket.bodies.id
  policy = data.aws_iam_policy_document.tls_only.json
}

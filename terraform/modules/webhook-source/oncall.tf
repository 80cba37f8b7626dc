# On-call policies for outboxctl against this source: exactly the actions of OUTBOXCTL_READ_ONLY_IAM_ACTIONS
# and OUTBOXCTL_IAM_ACTIONS (outboxctl/src/lib.rs; tests/infra checks both), each on exactly its resource,
# rows of this source only where IAM can tell rows apart. Attach the read-only one to everyone on call and
# the repair one to whoever may change rows and queues (and name those roles in queue_sender_arns).

data "aws_iam_policy_document" "outboxctl_read_only" {
  statement {
    sid       = "IngressSettings"
    actions   = ["lambda:GetFunctionConfiguration"]
    resources = [module.ingress.function_arn, "${module.ingress.function_arn}:*"]
  }
  statement {
    # KEYS_ONLY index: keys, never a body; outboxctl queries this source's keys.
    sid       = "UnsentIndexQuery"
    actions   = ["dynamodb:Query"]
    resources = [var.shared.unsent_index_arn]
  }
  statement {
    sid       = "OutboxRead"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem"]
    resources = [var.shared.table_arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["${var.source_name}:*"]
    }
  }
  statement {
    # Only `replay --dry-run` scans (sent rows are not in the index). A Scan names no key, so IAM cannot
    # limit it to this source's rows: it reads the whole shared table (outboxctl keeps this source's).
    sid       = "OutboxScan"
    actions   = ["dynamodb:Scan"]
    resources = [var.shared.table_arn]
  }
  statement {
    sid       = "OutboxKeyRead"
    actions   = ["kms:Decrypt"]
    resources = [var.shared.table_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }
  statement {
    # status reads every queue and DLQ, the routed ones (ROUTES) included.
    sid       = "QueueDepth"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = concat(local.queue_arns, local.dlq_arns)
  }
  statement {
    # Looking at DLQ messages receives them and makes them visible again at once.
    sid       = "DlqLook"
    actions   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]
    resources = local.dlq_arns
  }
  statement {
    # `show` of a row whose body is in S3 reads the object.
    sid       = "LargeBodyRead"
    actions   = ["s3:GetObject"]
    resources = [local.large_body_objects]
  }
  statement {
    sid       = "LargeBodyKeyRead"
    actions   = ["kms:Decrypt"]
    resources = [var.shared.table_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "outboxctl_repair" {
  source_policy_documents = [data.aws_iam_policy_document.outboxctl_read_only.json]

  statement {
    # backfill records an event the provider's API returned (a conditional PutItem of a new row).
    sid       = "OutboxRepair"
    actions   = ["dynamodb:UpdateItem", "dynamodb:PutItem"]
    resources = [var.shared.table_arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["${var.source_name}:*"]
    }
  }
  statement {
    sid       = "OutboxKeyWrite"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.shared.table_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }
  statement {
    # resend and replay send each row to the queue it was routed to (ROUTES), the redrive to the main one.
    # The queues' policies admit the roles in queue_sender_arns.
    sid       = "QueueSend"
    actions   = ["sqs:SendMessage"]
    resources = local.queue_arns
  }
  statement {
    # A DLQ message is deleted only after its copy is on the main queue; or SQS moves it (move task).
    sid       = "DlqRedrive"
    actions   = ["sqs:DeleteMessage", "sqs:StartMessageMoveTask"]
    resources = local.dlq_arns
  }
  statement {
    # resend and discard re-tag a large body sent (a copy onto itself) so it may expire.
    sid       = "LargeBodyRetag"
    actions   = ["s3:PutObject", "s3:PutObjectTagging"]
    resources = [local.large_body_objects]
  }
  statement {
    sid       = "LargeBodyKeyWrite"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.shared.table_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
  statement {
    # send-test signs with the deployment's secret and posts to the function's URL.
    sid       = "SendTestUrl"
    actions   = ["lambda:GetFunctionUrlConfig"]
    resources = [module.ingress.function_arn, "${module.ingress.function_arn}:*"]
  }
  statement {
    sid       = "SendTestSecret"
    actions   = ["ssm:GetParameter"]
    resources = [module.secret.parameter_arn]
  }
  statement {
    sid       = "SendTestSecretKey"
    actions   = ["kms:Decrypt"]
    resources = [var.shared.secrets_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:PARAMETER_ARN"
      values   = [module.secret.parameter_arn]
    }
  }
  dynamic "statement" {
    # backfill calls the provider's API with this credential; of the functions only the reconciler reads it.
    for_each = module.backfill_credential
    content {
      sid       = "BackfillCredential"
      actions   = ["ssm:GetParameter"]
      resources = [statement.value.parameter_arn]
    }
  }
  dynamic "statement" {
    for_each = module.backfill_credential
    content {
      sid       = "BackfillCredentialKey"
      actions   = ["kms:Decrypt"]
      resources = [var.shared.secrets_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = [statement.value.parameter_arn]
      }
    }
  }
}

resource "aws_iam_policy" "outboxctl_read_only" {
  name        = "${var.name}-outboxctl-read-only"
  description = "On-call, read-only, source ${var.source_name}: outboxctl status, list, show, dlq list/show, replay --dry-run."
  policy      = data.aws_iam_policy_document.outboxctl_read_only.json
  tags        = var.tags
}

resource "aws_iam_policy" "outboxctl_repair" {
  name        = "${var.name}-outboxctl-repair"
  description = "On-call, repair, source ${var.source_name}: everything read-only allows, plus outboxctl resend, park, discard, replay, dlq redrive, send-test and backfill."
  policy      = data.aws_iam_policy_document.outboxctl_repair.json
  tags        = var.tags
}

# On-call policies for outboxctl: exactly the actions of OUTBOXCTL_READ_ONLY_IAM_ACTIONS and
# OUTBOXCTL_IAM_ACTIONS (outboxctl/src/lib.rs; tests/infra checks both), each on exactly its resource.
# Attach the read-only one to everyone on call and the repair one to whoever may change rows and queues.

data "aws_iam_policy_document" "outboxctl_read_only" {
  statement {
    sid       = "IngressSettings"
    actions   = ["lambda:GetFunctionConfiguration"]
    resources = [module.ingress.function_arn, "${module.ingress.function_arn}:*"]
  }
  statement {
    sid       = "UnsentIndexQuery"
    actions   = ["dynamodb:Query"]
    resources = [module.outbox.unsent_index_arn]
  }
  statement {
    # Scan only for `replay --dry-run` (sent rows are not in the index).
    sid       = "OutboxRead"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan"]
    resources = [module.outbox.table_arn]
  }
  statement {
    sid       = "OutboxKeyRead"
    actions   = ["kms:Decrypt"]
    resources = [module.outbox.kms_key_arn]
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
    resources = [module.outbox.kms_key_arn]
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
    resources = [module.outbox.table_arn]
  }
  statement {
    sid       = "OutboxKeyWrite"
    actions   = ["kms:GenerateDataKey"]
    resources = [module.outbox.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }
  statement {
    # resend and replay send each row to the queue it was routed to (ROUTES), the redrive to the main one.
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
    resources = [module.outbox.kms_key_arn]
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
    resources = [module.secret.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
  }
  statement {
    # backfill calls the provider's API with this credential; no function may read it.
    sid       = "BackfillCredential"
    actions   = ["ssm:GetParameter"]
    resources = [module.backfill_credential.parameter_arn]
  }
  statement {
    sid       = "BackfillCredentialKey"
    actions   = ["kms:Decrypt"]
    resources = [module.backfill_credential.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "outboxctl_read_only" {
  name        = "${var.name}-outboxctl-read-only"
  description = "On-call, read-only: outboxctl status, list, show, dlq list/show, replay --dry-run."
  policy      = data.aws_iam_policy_document.outboxctl_read_only.json
}

resource "aws_iam_policy" "outboxctl_repair" {
  name        = "${var.name}-outboxctl-repair"
  description = "On-call, repair: everything read-only allows, plus outboxctl resend, park, discard, replay, dlq redrive, send-test and backfill."
  policy      = data.aws_iam_policy_document.outboxctl_repair.json
}

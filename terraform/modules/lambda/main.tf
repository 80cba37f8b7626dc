data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# A tiny placeholder so that Terraform can create (and destroy) the function. The real package, the runtime
# settings and the environment are deployed by lambroll (function.json) and ignored here.
data "archive_file" "placeholder" {
  type             = "zip"
  source_file      = "${path.module}/placeholder/bootstrap"
  output_path      = "${path.root}/.terraform/placeholder-${var.function_name}.zip"
  output_file_mode = "0755"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  # The Lambda service writes the function's logs with the function's role: its own log group only.
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments, outside the least-privilege action set; latency comes from the EMF LatencyMs metric and the Duration metric.
  #checkov:skip=CKV_AWS_116:No async DLQ: the ingress is invoked synchronously (Function URL); the sweeper's scheduled invocations are asynchronous with no retry and a 60 s maximum age (async_invoke), and a lost run loses nothing (the outbox keeps every pending row for the next run a minute later).
  #checkov:skip=CKV_AWS_117:Not in a VPC: the function only calls public AWS endpoints (DynamoDB, SQS, SSM); a VPC would add NAT or endpoint cost and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_115:Set per function (var.reserved_concurrency): modules/webhook-source reserves 50 for the ingress by default (a flood of forged requests cannot start more instances, so cannot push the account's SSM GetParameter quota into throttling); the sweeper runs one invocation a minute and reserves none.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and settings, never secrets (the secret stays in SSM); it is owned by lambroll, which would drop a Terraform-set KMS key on deploy.
  #checkov:skip=CKV_AWS_272:Code is deployed by lambroll from CI; Lambda code signing (AWS Signer) is not part of this pipeline.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  filename                       = data.archive_file.placeholder.output_path
  source_code_hash               = data.archive_file.placeholder.output_base64sha256
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency
  publish                        = false

  environment {
    variables = var.environment
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  # Code, runtime and environment belong to lambroll (function.json): Terraform only creates and deletes.
  lifecycle {
    ignore_changes = [
      filename,
      source_code_hash,
      s3_bucket,
      s3_key,
      s3_object_version,
      image_uri,
      runtime,
      handler,
      architectures,
      environment,
      memory_size,
      timeout,
      layers,
      description,
      publish,
    ]

    # Lambda refuses an environment over 4 KB (keys and values as JSON); ROUTES grows with every route.
    # Checked at plan time, before anything is created; lambroll deploys the same values.
    precondition {
      condition     = length(jsonencode(var.environment)) <= 4096
      error_message = "The environment of ${var.function_name} is ${length(jsonencode(var.environment))} bytes as JSON, over Lambda's 4 KB: fewer or shorter routes (ROUTES), or shorter settings."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

# lambroll publishes a version on every deploy and moves this alias to it; `lambroll rollback` moves it back.
# Callers (Function URL, scheduler) target the alias so that a rollback takes effect for them.
resource "aws_lambda_alias" "this" {
  name             = var.alias_name
  function_name    = aws_lambda_function.this.function_name
  function_version = "$LATEST"

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}

# Asynchronous invocations of the alias (a schedule's): how often Lambda itself retries a failed or
# throttled one, and for how long it keeps an event. Without this block Lambda's defaults apply
# (2 retries, 6 hours), so a failed run would run again beside the next scheduled one.
resource "aws_lambda_function_event_invoke_config" "this" {
  count                        = var.async_invoke == null ? 0 : 1
  function_name                = aws_lambda_function.this.function_name
  qualifier                    = aws_lambda_alias.this.name
  maximum_retry_attempts       = var.async_invoke.maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_invoke.maximum_event_age_in_seconds
}

resource "aws_lambda_function_url" "this" {
  #checkov:skip=CKV_AWS_258:Authorization NONE is by design: external webhook providers cannot sign SigV4; every request is authenticated by its webhook signature (HMAC with the SSM secret), and failures get a bare 404.
  count              = var.create_function_url ? 1 : 0
  function_name      = aws_lambda_function.this.function_name
  qualifier          = aws_lambda_alias.this.name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}

# A public Function URL needs both statements in the function's resource policy (on the alias the URL
# is on). The provider adds them itself when it creates the URL, but never again and never shows them as
# drift: declared here, a lost statement (deleted by hand, or a URL re-created outside Terraform) comes
# back on the next apply. Their ids differ from the provider's, so the two pairs never collide.
resource "aws_lambda_permission" "function_url_public" {
  #checkov:skip=CKV_AWS_301:Public by design, through the Function URL only (auth NONE): webhook providers cannot sign SigV4; every request is authenticated by its webhook signature and failures get a bare 404.
  count                  = var.create_function_url ? 1 : 0
  statement_id           = "WebhookProvidersInvokeFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.this.function_name
  qualifier              = aws_lambda_alias.this.name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "function_url_invoke" {
  #checkov:skip=CKV_AWS_301:Public only through the Function URL (invoked_via_function_url), as the URL's auth NONE requires; the webhook signature authenticates every request.
  count                    = var.create_function_url ? 1 : 0
  statement_id             = "WebhookProvidersInvokeViaFunctionUrl"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.this.function_name
  qualifier                = aws_lambda_alias.this.name
  principal                = "*"
  invoked_via_function_url = true
}

# Errors and Throttles, named "<function_name>-<name>"; the list order is the order of output alarm_arns.
locals {
  alarms = [
    {
      name        = "errors"
      description = "Lambda ${var.function_name} failed (crash, timeout or init error). Check its log group; for the ingress, the provider retries non-2xx answers. First: `${var.outboxctl_command} status`. Runbook: ${var.runbook_url}#${var.runbook_section}-errors"
      metric      = "Errors"
      threshold   = var.errors_threshold
    },
    {
      name        = "throttles"
      description = "Lambda ${var.function_name} was throttled (account or reserved concurrency exhausted). First: `${var.outboxctl_command} status`. Runbook: ${var.runbook_url}#${var.runbook_section}-throttles"
      metric      = "Throttles"
      threshold   = 1
    },
  ]
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = { for a in local.alarms : a.name => a }

  alarm_name          = "${var.function_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = length(each.value.description) <= 1024
      error_message = "The description of alarm ${var.function_name}-${each.key} is ${length(each.value.description)} characters, over CloudWatch's 1,024: shorten runbook_url or outboxctl_command."
    }
  }
}

# The alarms were single resources before: move their state instead of destroying and recreating them.
moved {
  from = aws_cloudwatch_metric_alarm.errors
  to   = aws_cloudwatch_metric_alarm.this["errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.throttles
  to   = aws_cloudwatch_metric_alarm.this["throttles"]
}

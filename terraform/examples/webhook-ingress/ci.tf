# Continuous delivery from GitHub Actions (.github/workflows/): two roles that GitHub's OIDC tokens assume,
# so that no long-lived AWS key exists anywhere. Created only when github_repository is set.
#   - deploy: `lambroll deploy` of both functions, from the main branch only;
#   - diff:   `lambroll diff`, read-only, from pull requests of the repository itself.
# Both read the Terraform state object for output lambroll_env (docs/deploy.md, Continuous delivery).

locals {
  ci                 = var.github_repository != null ? 1 : 0
  github_oidc_issuer = "token.actions.githubusercontent.com"
  github_oidc_provider_arn = coalesce(
    var.github_oidc_provider_arn,
    one(aws_iam_openid_connect_provider.github[*].arn),
    "none",
  )
  # The two functions, each with its published versions and its alias (lambroll moves the alias).
  deployed_functions = [
    module.ingress.function_arn, "${module.ingress.function_arn}:*",
    module.sweeper.function_arn, "${module.sweeper.function_arn}:*",
  ]
  # The state object holding output lambroll_env: s3://BUCKET/KEY.
  state_object = var.tf_state_s3_uri == null ? null : "arn:${local.partition}:s3:::${trimprefix(var.tf_state_s3_uri, "s3://")}"
}

# One per account: pass github_oidc_provider_arn when the account already has it.
resource "aws_iam_openid_connect_provider" "github" {
  count          = local.ci == 1 && var.github_oidc_provider_arn == null ? 1 : 0
  url            = "https://${local.github_oidc_issuer}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "ci_trust" {
  for_each = {
    # A push to main (the deploy job runs on nothing else).
    deploy = "repo:${coalesce(var.github_repository, "none")}:ref:refs/heads/main"
    # A pull request of the repository itself (forks get no OIDC token).
    diff = "repo:${coalesce(var.github_repository, "none")}:pull_request"
  }
  statement {
    sid     = "GitHubActionsOidc"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_issuer}:sub"
      values   = [each.value]
    }
  }
}

resource "aws_iam_role" "ci" {
  for_each             = local.ci == 1 ? toset(["deploy", "diff"]) : toset([])
  name                 = "${var.name}-ci-${each.key}"
  description          = "GitHub Actions (${var.github_repository}): lambroll ${each.key} of ${var.name}."
  assume_role_policy   = data.aws_iam_policy_document.ci_trust[each.key].json
  max_session_duration = 3600
}

# Exactly the Lambda calls lambroll (v1) makes for `deploy` (function.json: no function URL file, no
# --keep-versions) and for `diff`, on the two functions only; passing only their own roles, only to Lambda.
data "aws_iam_policy_document" "ci" {
  for_each = {
    deploy = [
      "lambda:GetFunction", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode",
      "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:ListVersionsByFunction",
      "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource",
    ]
    diff = ["lambda:GetFunction", "lambda:ListTags"]
  }
  statement {
    sid       = "LambrollFunctions"
    actions   = each.value
    resources = local.deployed_functions
  }
  dynamic "statement" {
    for_each = each.key == "deploy" ? [1] : []
    content {
      sid       = "PassTheFunctionRoles"
      actions   = ["iam:PassRole"]
      resources = [module.ingress.role_arn, module.sweeper.role_arn]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["lambda.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = local.state_object == null ? [] : [1]
    content {
      sid       = "ReadTerraformOutputs"
      actions   = ["s3:GetObject"]
      resources = [local.state_object]
    }
  }
  dynamic "statement" {
    for_each = var.tf_state_kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptTerraformState"
      actions   = ["kms:Decrypt"]
      resources = [var.tf_state_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "ci" {
  for_each = aws_iam_role.ci
  name     = "lambroll-${each.key}"
  role     = each.value.id
  policy   = data.aws_iam_policy_document.ci[each.key].json
}

# Continuous delivery from GitHub Actions (.github/workflows/): two roles that GitHub's OIDC tokens assume,
# so that no long-lived AWS key exists anywhere. Created only when github_repository is set.
#   - deploy: `lambroll deploy` of every source's two functions, from the main branch only;
#   - diff:   `lambroll diff`, read-only, from pull requests of the repository itself.
# Both read the lambroll settings from the parameters /<name>/lambroll-env/<source> and nothing else:
# never the Terraform state (docs/deploy.md, Continuous delivery).
# And one policy for people: `lambroll rollback` (output lambroll_rollback_policy_arn).

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  ci                 = var.github_repository != null ? 1 : 0
  github_oidc_issuer = "token.actions.githubusercontent.com"
  github_oidc_provider_arn = coalesce(
    var.github_oidc_provider_arn,
    one(aws_iam_openid_connect_provider.github[*].arn),
    "none",
  )
  # Every source's two functions, each with its published versions and its alias (lambroll moves the alias).
  deployed_functions = flatten([for s in module.source : [
    s.ingress_function_arn, "${s.ingress_function_arn}:*",
    s.sweeper_function_arn, "${s.sweeper_function_arn}:*",
  ]])
  function_roles = flatten([for s in module.source : [s.ingress_role_arn, s.sweeper_role_arn]])
  # The path whose parameters hold every source's lambroll settings (GetParametersByPath authorises on it).
  lambroll_env_path = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:parameter${module.shared.for_sources.lambroll_env_path}"

  # The Lambda calls lambroll v1.0.1 makes (its source: deploy.go, diff.go, rollback.go) for this
  # function.json (no Tags, no function URL file) and these commands (no --keep-versions):
  lambroll_actions = {
    # GetFunction (current config, then waiting for LastUpdateStatus), UpdateFunctionConfiguration,
    # UpdateFunctionCode (publish), UpdateAlias, and CreateAlias should the alias be missing.
    deploy = ["lambda:GetFunction", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode",
    "lambda:UpdateAlias", "lambda:CreateAlias"]
    # GetFunction and ListTags (diff compares the tags; the workflow ignores them with --ignore '.Tags').
    diff = ["lambda:GetFunction", "lambda:ListTags"]
    # GetAlias (current version), GetFunction of earlier versions, UpdateAlias (or CreateAlias), and
    # DeleteFunction of the rolled-back version with --delete-version.
    rollback = ["lambda:GetAlias", "lambda:GetFunction", "lambda:UpdateAlias", "lambda:CreateAlias",
    "lambda:DeleteFunction"]
  }
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
  tags                 = var.tags
}

# Exactly lambroll's calls on the deployment's functions; passing only their own roles, only to Lambda;
# reading only the lambroll settings (names and settings: no secret, so the diff role, which any pull
# request of the repository can assume, learns nothing a reader of the repository could not).
data "aws_iam_policy_document" "ci" {
  for_each = toset(["deploy", "diff"])
  statement {
    sid       = "LambrollFunctions"
    actions   = local.lambroll_actions[each.key]
    resources = local.deployed_functions
  }
  statement {
    sid       = "LambrollSettings"
    actions   = ["ssm:GetParametersByPath"]
    resources = [local.lambroll_env_path]
  }
  dynamic "statement" {
    for_each = each.key == "deploy" ? [1] : []
    content {
      sid       = "PassTheFunctionRoles"
      actions   = ["iam:PassRole"]
      resources = local.function_roles
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["lambda.amazonaws.com"]
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

# `lambroll rollback` (docs/deploy.md, Rollback): for the on-call people who may roll a function back.
data "aws_iam_policy_document" "rollback" {
  statement {
    sid       = "LambrollRollback"
    actions   = local.lambroll_actions["rollback"]
    resources = local.deployed_functions
  }
  statement {
    sid       = "LambrollSettings"
    actions   = ["ssm:GetParametersByPath"]
    resources = [local.lambroll_env_path]
  }
}

resource "aws_iam_policy" "rollback" {
  name        = "${var.name}-lambroll-rollback"
  description = "lambroll rollback (and --delete-version) of the functions of ${var.name}."
  policy      = data.aws_iam_policy_document.rollback.json
  tags        = var.tags
}

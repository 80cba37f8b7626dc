# Optional: the deployment watched in New Relic, for a team that does not watch CloudWatch. A separate
# root, so that the deployment needs no New Relic provider or key: it reads what it needs from the
# deployment's monitoring manifest (a String parameter of names, no secret) and the secrets key's alias.
# docs/observability.md, New Relic.

data "aws_ssm_parameter" "manifest" {
  name = "/${var.name}/monitoring-manifest"
}

data "aws_kms_alias" "secrets" {
  name = "alias/${var.name}-secrets"
}

locals {
  manifest = jsondecode(data.aws_ssm_parameter.manifest.value)
}

module "newrelic" {
  source                 = "../../modules/newrelic-monitoring"
  name                   = var.name
  sources                = local.manifest.sources
  newrelic_account_id    = var.newrelic_account_id
  newrelic_region        = var.newrelic_region
  secrets_kms_key_arn    = data.aws_kms_alias.secrets.target_key_arn
  slack_destination_name = var.slack_destination_name
  slack_channel_id       = var.slack_channel_id
  links                  = var.links
  latency_slo            = var.latency_slo
  resend_slo             = var.resend_slo
}

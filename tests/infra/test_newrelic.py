"""The optional New Relic monitoring (terraform/modules/newrelic-monitoring): a dashboard that starts with
the flow as a Mermaid diagram, then links, then each source's metrics in flow order; alerts on Lambda
errors and throttles, queue age and depth, and one DLQ message, sent to Slack by a workflow; service
levels counted on every EMF line, each with a target and an alert; and a metric stream that carries
every metric the queries read, EMF included."""
import re

import pytest

from conftest import MODULES, ROOT, TfDir

NR = MODULES / "newrelic-monitoring"
EXAMPLE = ROOT / "terraform" / "examples" / "newrelic-monitoring"


@pytest.fixture(scope="module")
def nr():
    return TfDir(NR)


def _text():
    return "".join(p.read_text(encoding="utf-8") for p in sorted(NR.glob("*.tf")))


def test_the_dashboard_starts_with_the_mermaid_flow_then_links_then_metrics(nr):
    dashboard = nr.resources[("newrelic_one_dashboard", "pipeline")]
    [page] = dashboard["page"]
    [flow, links] = page["widget_markdown"]
    assert (flow["row"], links["row"]) == (1, 5)
    mermaid = nr.locals["mermaid"]
    assert "```mermaid" in mermaid and "flowchart LR" in mermaid
    for step in ("Function URL", "ingress Lambda", "SQS queue", "PHP workers", "DLQ"):
        assert step in mermaid, step
    assert mermaid.index("Function URL") < mermaid.index("ingress Lambda") < mermaid.index("SQS queue")
    assert flow["text"] == "${local.mermaid}" and links["text"] == "${local.links}"
    for link in ("ingress", "sweeper", "queue", "runbook", "var.links"):
        assert link in nr.locals["links"], link
    [line] = page["dynamic"]
    assert line["widget_line"]["for_each"] == "${local.line_widgets}"
    assert "row    = 8 + i * local.rows_per_source" in _text(), "the metrics start below the diagram and links"


def test_the_metrics_follow_the_flow(nr):
    text = nr.locals["line_widgets"]
    order = ["aws.lambda.Invocations", "aws.lambda.Duration", "aws.lambda.Errors", "aws.lambda.Throttles",
             "aws.sqs.NumberOfMessagesSent", "aws.sqs.NumberOfMessagesReceived", "aws.sqs.NumberOfMessagesDeleted",
             "aws.sqs.ApproximateAgeOfOldestMessage", "aws.sqs.ApproximateNumberOfMessagesVisible",
             "aws.sqs.ApproximateNumberOfMessagesNotVisible", "in_list[s.source_name].dlqs"]
    positions = [text.index(m) for m in order]
    assert positions == sorted(positions), "the widgets are not in flow order"


def test_the_alerts_cover_what_the_team_watches(nr):
    conditions = nr.locals["conditions"]
    for expected in ('setproduct(["ingress", "sweeper"], ["Errors", "Throttles"])', "aws.lambda.${pair[1]}",
                     "aws.sqs.ApproximateAgeOfOldestMessage", "aws.sqs.ApproximateNumberOfMessagesVisible",
                     "QueueName = '${q.dlq_name}'"):
        assert expected in conditions, expected
    dlq = conditions[conditions.index('"${s.source_name}-${q.label}-dlq"'):]
    assert "threshold = 1, occurrences = \"at_least_once\"" in dlq, "the DLQ alert fires at one message"
    condition = nr.resources[("newrelic_nrql_alert_condition", "pipeline")]
    assert condition["policy_id"] == "${newrelic_alert_policy.pipeline.id}"
    assert condition["critical"][0]["operator"] == "above_or_equals"


def test_alerts_reach_slack_through_a_workflow_on_the_policy(nr):
    workflow = nr.resources[("newrelic_workflow", "slack")]
    [predicate] = workflow["issues_filter"][0]["predicate"]
    assert predicate["attribute"] == "labels.policyIds"
    assert predicate["values"] == ["${newrelic_alert_policy.pipeline.id}"]
    channel = nr.resources[("newrelic_notification_channel", "slack")]
    assert channel["type"] == "SLACK" and channel["product"] == "IINT"
    assert channel["property"][0]["key"] == "channelId"
    # Slack's OAuth cannot be done by Terraform: the destination is looked up, never created.
    assert ("newrelic_notification_destination", "slack") in nr.data
    assert ("newrelic_notification_destination", "slack") not in nr.resources


def test_the_service_levels_count_every_request_and_every_sweep(nr):
    slis = nr.locals["slis"]
    assert "LatencyMs <= ${var.latency_slo.target_ms}" in slis
    assert "OldestPendingAgeSeconds <= ${var.resend_slo.max_age_seconds}" in slis
    level = nr.resources[("newrelic_service_level", "pipeline")]
    events = level["events"][0]
    assert events["valid_events"][0]["from"] == "Log" and events["good_events"][0]["from"] == "Log"
    assert level["objective"][0]["target"] == "${each.value.objective}"
    alert = nr.resources[("newrelic_nrql_alert_condition", "service_level")]
    assert alert["nrql"][0]["query"] == "${data.newrelic_service_level_alert_helper.fast_burn[each.key].nrql}"
    # The EMF lines reach New Relic as Log events: one subscription per function, EMF documents only.
    subscriptions = nr.locals["log_subscriptions"]
    assert "{ $.LatencyMs >= 0 }" in subscriptions and "{ $.OldestPendingAgeSeconds >= 0 }" in subscriptions


def test_every_emf_field_the_queries_read_is_one_the_functions_emit():
    code = "".join(p.read_text(encoding="utf-8") for crate in ("ingress", "sweeper", "shared")
                   for p in (ROOT / crate / "src").rglob("*.rs"))
    text = _text()
    fields = set(re.findall(r"(?:sum|max|percentile)\((\w+)[,)]", text)) | set(re.findall(r"AND (\w+) IS NOT NULL", text))
    fields -= {"aws"}
    assert {"LatencyMs", "Accepted", "PendingCount", "OldestPendingAgeSeconds"} <= fields
    for field in fields:
        assert f'"{field}"' in code, f"no function emits {field}"


def test_the_stream_carries_every_metric_the_queries_read(nr):
    text = _text()
    lambda_read = set(re.findall(r"aws\.lambda\.(?!FunctionName)(\w+)", text)) - {"$"}
    sqs_read = set(re.findall(r"aws\.sqs\.(?!QueueName)(\w+)", text))
    lambda_streamed = set(re.findall(r'"(\w+)"', nr.locals["lambda_metrics"] if isinstance(nr.locals["lambda_metrics"], str) else " ".join(f'"{m}"' for m in nr.locals["lambda_metrics"])))
    sqs_streamed = set(nr.locals["sqs_metrics"])
    # aws.lambda.${pair[1]} reads Errors and Throttles.
    lambda_read = {m for m in lambda_read if m != "" } | {"Errors", "Throttles"}
    assert lambda_read <= lambda_streamed, sorted(lambda_read - lambda_streamed)
    assert sqs_read <= sqs_streamed, sorted(sqs_read - sqs_streamed)
    stream = nr.resources[("aws_cloudwatch_metric_stream", "newrelic")]
    namespaces = [f["namespace"] for f in stream["include_filter"]]
    assert namespaces == ["AWS/Lambda", "AWS/SQS"]
    assert stream["dynamic"][0]["include_filter"]["for_each"] == "${local.namespaces}", "the EMF namespace is streamed"


def test_the_license_key_never_passes_through_terraform(nr):
    secret = nr.resources[("aws_secretsmanager_secret", "license_key")]
    assert secret["kms_key_id"] == "${var.secrets_kms_key_arn}"
    firehose = nr.resources[("aws_kinesis_firehose_delivery_stream", "newrelic")]
    endpoint = firehose["http_endpoint_configuration"][0]
    assert "access_key" not in endpoint
    assert endpoint["secrets_manager_configuration"][0]["secret_arn"] == "${aws_secretsmanager_secret.license_key.arn}"
    example = (EXAMPLE / "versions.tf").read_text(encoding="utf-8")
    assert "api_key" not in example, "the New Relic API key comes from NEW_RELIC_API_KEY, not a file"


def test_the_example_reads_the_deployment_s_manifest(root):
    example = TfDir(EXAMPLE)
    assert example.data[("aws_ssm_parameter", "manifest")]["name"] == "/${var.name}/monitoring-manifest"
    manifest = root.resources[("aws_ssm_parameter", "monitoring_manifest")]
    assert manifest["type"] == "String"
    assert "module.source[key].monitoring" in manifest["value"]
    fields = set(re.findall(r"(\w+)\s+=", MODULES.joinpath("newrelic-monitoring", "variables.tf").read_text().split('variable "newrelic_account_id"')[0]))
    produced = (MODULES / "webhook-source" / "outputs.tf").read_text(encoding="utf-8")
    produced = produced[produced.index('output "monitoring"'):]
    for field in ("source_name", "ingress_log_group", "sweeper_log_group", "queues", "outboxctl_command", "runbook_url"):
        assert field in fields and f"{field}" in produced, field

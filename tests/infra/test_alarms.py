"""Every alarm the monitoring plan asks for exists, on the right metric, and notifies the one topic."""
import pytest

from conftest import ROOT

# (module, namespace, metric, dimension key) that must have an alarm.
REQUIRED = [
    ("lambda", "AWS/Lambda", "Errors", "FunctionName"),
    ("lambda", "AWS/Lambda", "Throttles", "FunctionName"),
    ("sqs-with-dlq", "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName"),
    ("sqs-with-dlq", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"),
    ("monitoring", "${var.metrics_namespace}", "OldestPendingAgeSeconds", "Source"),
    ("monitoring", "${var.metrics_namespace}", "ParkedCount", "Source"),
    ("monitoring", "${var.metrics_namespace}", "OutboxWriteFailed", "Source"),
    ("monitoring", "${var.metrics_namespace}", "Rejected", "Source"),
]


def alarms(modules, name):
    """Every alarm instance of modules/NAME by address (for_each instances resolved: `this["dlq-not-empty"]`),
    descriptions kept in locals resolved."""
    found = modules[name].instances("aws_cloudwatch_metric_alarm")
    for a in found.values():
        a["alarm_description"] = modules[name].resolve(a["alarm_description"])
    return found


@pytest.mark.parametrize("module,namespace,metric,dimension", REQUIRED, ids=[r[2] for r in REQUIRED])
def test_required_alarm_exists(modules, module, namespace, metric, dimension):
    found = [a for a in alarms(modules, module).values()
             if a.get("namespace") == namespace and a.get("metric_name") == metric]
    assert found, f"modules/{module}: no alarm on {namespace} {metric}"
    for a in found:
        assert dimension in a["dimensions"], f"{metric}: alarm without the {dimension} dimension"


def test_dlq_alarm_fires_on_one_message(modules):
    a = alarms(modules, "sqs-with-dlq")['this["dlq-not-empty"]']
    assert a["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert a["dimensions"]["QueueName"] == "${aws_sqs_queue.dlq.name}"
    assert a["threshold"] == 1 and a["comparison_operator"] == "GreaterThanOrEqualToThreshold"


def test_emf_alarms_use_source_dimension(modules):
    for name in ('this["outbox-oldest-pending-age"]', 'this["outbox-parked"]', 'this["ingress-outbox-write-failed"]',
                 'this["ingress-rejected-burst"]'):
        assert alarms(modules, "monitoring")[name]["dimensions"] == {"Source": "${var.source_name}"}


def test_parked_alarm_reads_the_gauge_and_stays_on_while_rows_are_parked(modules):
    """ParkedCount is the sweeper's count of its source's parked rows, measured on every sweep: the alarm
    holds while any is left, unlike the per-sweep Parked count, which is 0 on the next sweep."""
    a = alarms(modules, "monitoring")['this["outbox-parked"]']
    assert a["metric_name"] == "ParkedCount" and a["statistic"] == "Maximum"
    assert a["comparison_operator"] == "GreaterThanThreshold" and a["threshold"] == 0
    assert a["treat_missing_data"] == "ignore"


def test_a_row_without_an_outbox_record_alarms(modules):
    a = alarms(modules, "monitoring")['this["ingress-outbox-write-failed"]']
    assert a["metric_name"] == "OutboxWriteFailed" and a["statistic"] == "Sum"
    assert a["threshold"] == 1 and a["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert a["datapoints_to_alarm"] == 1


def test_a_burst_of_rejections_alarms(modules):
    """A placeholder or one-sided secret rejects every delivery: a few rejections in a window alarm."""
    monitoring = modules["monitoring"]
    a = alarms(modules, "monitoring")['this["ingress-rejected-burst"]']
    assert a["metric_name"] == "Rejected" and a["statistic"] == "Sum"
    assert a["threshold"] == "${var.rejected_burst_threshold}"
    assert a["period"] == "${var.rejected_burst_period_seconds}" and a["evaluation_periods"] == 1
    assert a["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert (monitoring.var_default("rejected_burst_threshold"), monitoring.var_default("rejected_burst_period_seconds")) == (5, 900)
    assert "placeholder" in a["alarm_description"]


def test_both_functions_get_lambda_alarms(example):
    # The lambda module creates the Errors/Throttles alarms: the sweeper's Errors alarm is one of them.
    # Every source's alarms go to the deployment's one topic.
    for fn in ("ingress", "sweeper"):
        assert example.modules[fn]["source"] == "../lambda"
        assert example.modules[fn]["alarm_topic_arn"] == "${var.shared.alarm_topic_arn}"
    for call in ("queue", "routed_queue", "monitoring"):
        assert example.modules[call]["alarm_topic_arn"] == "${var.shared.alarm_topic_arn}", call


def test_every_alarm_notifies_the_topic(modules):
    for module in ("lambda", "sqs-with-dlq", "monitoring"):
        for name, a in alarms(modules, module).items():
            assert a["alarm_actions"] == ["${var.alarm_topic_arn}"], f"modules/{module} {name}"


def test_alarm_topic_is_encrypted(modules):
    topic = modules["alarm-topic"].of_type("aws_sns_topic")["alarms"]
    assert topic["kms_master_key_id"] == "${aws_kms_key.topic.arn}"


def test_metrics_namespace_default(example, modules, root):
    assert root.var_default("metrics_namespace") == "WebhookIngress"
    assert root.modules["source"]["metrics_namespace"] == "${var.metrics_namespace}"
    assert example.var_default("metrics_namespace") == "WebhookIngress"
    assert modules["monitoring"].var_default("metrics_namespace") == "WebhookIngress"
    assert example.modules["monitoring"]["metrics_namespace"] == "${var.metrics_namespace}"
    assert example.environment("ingress")["METRICS_NAMESPACE"] == "${var.metrics_namespace}"
    assert example.environment("sweeper")["METRICS_NAMESPACE"] == "${var.metrics_namespace}"


@pytest.mark.parametrize("module", ["lambda", "sqs-with-dlq", "monitoring"])
def test_moved_alarms_keep_their_state(modules, module):
    """Alarms that were single resources are moved to for_each instances, not destroyed and recreated."""
    tf = modules[module]
    addresses = {f"aws_cloudwatch_metric_alarm.{a}" for a in alarms(modules, module)}
    for block in tf.moved:
        source, target = block["from"][2:-1], block["to"][2:-1]
        assert target in addresses, f"modules/{module}: moved to {target}, which does not exist"
        assert source not in addresses, f"modules/{module}: moved from {source}, which still exists"


RUNBOOK = ROOT / "docs" / "runbook.md"


def runbook_anchors():
    """The GitHub-style anchors of the runbook's headings."""
    import re
    anchors = set()
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("module", ["lambda", "sqs-with-dlq", "monitoring"])
def test_every_alarm_names_its_runbook_section_and_first_outboxctl_command(modules, module):
    import re
    anchors = runbook_anchors()
    for name, a in alarms(modules, module).items():
        text = a["alarm_description"]
        assert "First: `${var.outboxctl_command} " in text, f"modules/{module} {name}: no first outboxctl command"
        m = re.search(r"Runbook: \$\{var\.runbook_url\}#(\S+)$", text)
        assert m, f"modules/{module} {name}: no runbook section at the end of the description"
        section = m.group(1)
        if "${var.runbook_section}" in section:
            wanted = {section.replace("${var.runbook_section}", fn) for fn in ("ingress", "sweeper")}
        else:
            wanted = {section}
        assert wanted <= anchors, f"modules/{module} {name}: runbook has no section {sorted(wanted - anchors)}"


def test_each_source_points_every_alarm_at_outboxctl_of_its_own_ingress(example):
    assert example.locals["outboxctl"] == "outboxctl --function ${local.ingress_name}:current"
    assert example.locals["ingress_name"] == "${var.name}-ingress"
    for call in ("ingress", "sweeper", "queue", "monitoring"):
        assert example.modules[call]["outboxctl_command"] == "${local.outboxctl}", call
    # A routed queue's DLQ alarm names the route, so its first command reaches that DLQ.
    assert example.modules["routed_queue"]["outboxctl_command"] == "${local.outboxctl}"
    assert example.modules["routed_queue"]["outboxctl_dlq"] == "dlq --route ${each.key}"
    assert "outboxctl_dlq" not in example.modules["queue"]
    assert example.modules["ingress"]["runbook_section"] == "ingress"
    assert example.modules["sweeper"]["runbook_section"] == "sweeper"


def test_slack_destination_is_optional_and_on_the_alarm_topic(modules):
    topic = modules["alarm-topic"]
    [slack] = topic.of_type("aws_chatbot_slack_channel_configuration").values()
    assert slack["count"] == "${local.slack}"
    assert slack["sns_topic_arns"] == ["${aws_sns_topic.alarms.arn}"]
    assert slack["slack_team_id"] == "${var.slack_workspace_id}"
    assert slack["slack_channel_id"] == "${var.slack_channel_id}"
    assert topic.var_default("slack_channel_id") is None and topic.var_default("slack_workspace_id") is None
    call = modules["webhook-shared"].modules["alarm_topic"]
    assert (call["slack_workspace_id"], call["slack_channel_id"]) == ("${var.slack_workspace_id}", "${var.slack_channel_id}")


def test_the_slack_channel_reads_this_deployment_s_alarms_and_graphs_only(modules):
    """Not CloudWatchReadOnlyAccess (every log group of the account): the deployment's alarms, their
    graphs; the same policy is the channel's guardrail; Chatbot assumes the role for this account only."""
    topic = modules["alarm-topic"]
    text = (ROOT / "terraform" / "modules" / "alarm-topic" / "main.tf").read_text(encoding="utf-8")
    assert "policy/CloudWatchReadOnlyAccess" not in text
    statements = topic.data[("aws_iam_policy_document", "chatbot")]["statement"]
    actions = {a for st in statements for a in st["actions"]}
    assert actions == {"cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetMetricData",
                       "cloudwatch:GetMetricWidgetImage"}
    [alarms_statement] = [st for st in statements if st["sid"] == "DeploymentAlarms"]
    assert alarms_statement["resources"][0].endswith(":alarm:${var.alarm_name_prefix}*")
    [slack] = topic.of_type("aws_chatbot_slack_channel_configuration").values()
    assert slack["guardrail_policy_arns"] == ["${aws_iam_policy.chatbot[0].arn}"]
    assert topic.of_type("aws_iam_role_policy_attachment")["chatbot"]["policy_arn"] == "${aws_iam_policy.chatbot[0].arn}"
    [assume] = topic.data[("aws_iam_policy_document", "chatbot_assume")]["statement"]
    assert assume["condition"][0]["variable"] == "aws:SourceAccount"
    assert modules["webhook-shared"].modules["alarm_topic"]["alarm_name_prefix"] == "${var.name}-"


def test_cloudwatch_may_use_the_topic_key_for_this_account_s_alarms_only(modules):
    text = (ROOT / "terraform" / "modules" / "alarm-topic" / "main.tf").read_text(encoding="utf-8")
    grant = text[text.index('Sid       = "CloudWatchAlarmsPublish"'):text.index('resource "aws_kms_alias" "topic"')]
    assert '"aws:SourceAccount" = data.aws_caller_identity.current.account_id' in grant
    assert ':alarm:*"' in grant and '"aws:SourceArn"' in grant


def test_the_reconciler_alarms_on_a_missing_event_nearing_the_provider_s_horizon(modules):
    """issue 29: an alarm when a missing event not yet recovered gets close to the provider's horizon
    (GitHub redelivers for 3 days, Stripe keeps events 30 days): the metric the reconciler emits, a share of
    each provider's horizon as the threshold, its own runbook section, and the dashboard's reconciler widget."""
    import re
    source = modules["webhook-source"]
    assert source.locals["provider_horizon_secs"] == {"github": 3 * 86400, "gitlab": 7 * 86400,
                                                      "stripe": 30 * 86400, "paddle": 90 * 86400}
    assert source.locals["reconciler_horizon_alarm_secs"] == \
        "${floor(local.reconciler_horizon_secs * var.reconciler.horizon_alarm_share)}"
    assert source.variables["reconciler"]["type"]  # horizon_alarm_share is one of its settings
    assert "horizon_alarm_share" in str(source.variables["reconciler"]["type"])
    alarm = source.of_type("aws_cloudwatch_metric_alarm")["reconciler"]
    for_each = str(alarm["for_each"])
    assert re.search(r'near-horizon\s*=\s*\{[^}]*metric\s*=\s*"ReconcileOldestMissingAgeSeconds"', for_each), for_each
    assert re.search(r'near-horizon\s*=\s*\{[^}]*threshold\s*=\s*local.reconciler_horizon_alarm_secs', for_each)
    assert re.search(r'near-horizon\s*=\s*\{[^}]*section\s*=\s*"reconciler-near-horizon"', for_each)
    assert "reconciler-near-horizon" in runbook_anchors()
    assert '"ReconcileOldestMissingAgeSeconds"' in (ROOT / "reconciler" / "src" / "lib.rs").read_text(encoding="utf-8")
    band = (ROOT / "terraform" / "modules" / "monitoring" / "band.tf").read_text(encoding="utf-8")
    assert '"ReconcileOldestMissingAgeSeconds"' in band

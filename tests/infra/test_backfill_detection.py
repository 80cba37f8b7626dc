"""Detection of events the provider never got through, and what on-call needs to recover them: the
Rejected-rate alarm, the optional Accepted anomaly alarm, both on the dashboard and in the runbook and both
pointing at `outboxctl backfill`; the backfill credential parameter, readable by the on-call repair policy
and nothing else."""
import re

from conftest import ROOT, TERRAFORM

MONITORING = TERRAFORM / "modules" / "monitoring"
RUNBOOK = ROOT / "docs" / "runbook.md"
BACKFILL_RS = ROOT / "outboxctl" / "src" / "backfill.rs"


def alarm(modules, name):
    return modules["monitoring"].instances("aws_cloudwatch_metric_alarm")[name]


def queries(a):
    """The alarm's metric queries by id, each with its `metric` block unwrapped."""
    found = {}
    for q in a["metric_query"]:
        q = dict(q)
        if "metric" in q:
            [q["metric"]] = q["metric"] if isinstance(q["metric"], list) else [q["metric"]]
        found[q["id"]] = q
    return found


def emf_sum(q, metric):
    m = q["metric"]
    return (m["namespace"], m["metric_name"], m["dimensions"], m["stat"]) == (
        "${var.metrics_namespace}", metric, {"Source": "${var.source_name}"}, "Sum")


def test_rejected_rate_is_rejected_over_received_with_a_floor(modules):
    a = alarm(modules, "rejected_rate")
    q = queries(a)
    assert emf_sum(q["rejected"], "Rejected") and emf_sum(q["received"], "Received")
    assert q["rejected"]["metric"]["period"] == q["received"]["metric"]["period"] == 300
    [returned] = [i for i, v in q.items() if v.get("return_data")]
    assert q[returned]["expression"] == (
        "IF(received >= ${var.rejected_rate_min_requests}, 100 * rejected / received, 0)")
    assert a["threshold"] == "${var.rejected_rate_percent}"
    assert a["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert modules["monitoring"].var_default("rejected_rate_percent") == 50


def test_accepted_drop_is_an_optional_anomaly_band_alarm(modules, example):
    a = alarm(modules, "accepted_drop")
    assert a["count"] == "${var.accepted_anomaly_alarm ? 1 : 0}"
    assert modules["monitoring"].var_default("accepted_anomaly_alarm") is False
    q = queries(a)
    band = q[a["threshold_metric_id"]]
    assert band["expression"] == "ANOMALY_DETECTION_BAND(accepted, ${var.accepted_anomaly_band_width})"
    assert emf_sum(q["accepted"], "Accepted")
    assert q["accepted"]["return_data"] and band["return_data"], "an anomaly alarm returns metric and band"
    assert a["comparison_operator"] == "LessThanLowerThreshold"
    assert a["treat_missing_data"] == "breaching", "no accepted event at all is the deepest drop"
    call = example.modules["monitoring"]
    assert call["accepted_anomaly_alarm"] == "${var.alarms.accepted_anomaly_alarm}"
    assert call["rejected_rate_percent"] == "${var.alarms.rejected_rate_percent}"
    assert example.variables["alarms"]["type"].count("accepted_anomaly_alarm = optional(bool, false)") == 1


def test_both_alarms_point_at_the_backfill_and_are_in_the_alarm_widget(modules):
    monitoring = modules["monitoring"]
    assert ('backfill --provider ${coalesce(var.backfill_provider, "stripe|github|gitlab|paddle")} --since'
            in monitoring.locals["backfill_command"])
    assert modules["webhook-source"].modules["monitoring"]["backfill_provider"] == "${var.backfill_provider}"
    arns = monitoring.locals["alarm_arns"]
    assert "aws_cloudwatch_metric_alarm.rejected_rate.arn" in arns
    assert "aws_cloudwatch_metric_alarm.accepted_drop[*].arn" in arns
    for name in ("rejected_rate", "accepted_drop"):
        description = modules["monitoring"].resolve(alarm(modules, name)["alarm_description"])
        assert "`${local.backfill_command} --yes`" in description, name


def test_the_dashboard_shows_what_the_alarms_measure(modules):
    text = (MONITORING / "band.tf").read_text(encoding="utf-8")
    for name in ("rejected_rate", "accepted_drop"):
        for q in queries(alarm(modules, name)).values():
            if "expression" in q:
                assert q["expression"] in text, f"dashboard lacks {q['expression']}"
    assert "local.detail_widgets" in text and "${local.backfill_command}" in text


def test_the_runbook_has_each_alarm_s_section_ending_at_the_backfill():
    text = RUNBOOK.read_text(encoding="utf-8")
    for section in ("ingress-rejected-rate", "ingress-accepted-drop"):
        m = re.search(rf"^### {section}\n(.*?)(?=^#{{2,3}} )", text, re.S | re.M)
        assert m, f"runbook: no section {section}"
        assert "backfill" in m.group(1), f"runbook {section}: does not lead to the backfill"
    incident = re.search(r"^### Provider deliveries failing or missing\n(.*?)(?=^#{2,3} )", text, re.S | re.M)
    assert incident, "runbook: no incident 'Provider deliveries failing or missing'"
    last_command = re.findall(r"oc backfill[^\n]*", incident.group(1))[-1]
    assert "--yes" in last_command, last_command


def test_the_credential_parameter_is_read_by_the_repair_policy_only(example, root):
    call = example.modules["backfill_credential"]
    assert call["source"] == "../secret-parameter"
    assert call["count"] == "${var.backfill_provider == null ? 0 : 1}"
    assert call["name"] == "/${var.name}/backfill-credential"
    assert example.outputs["backfill_credential_parameter"]["value"] == "${one(module.backfill_credential[*].parameter_name)}"
    assert "s.backfill_credential_parameter" in root.outputs["backfill_credential_parameters"]["value"]
    # No file but the source module's oncall.tf, outputs and reconciler.tf names the credential: no other
    # function role, and not the read-only policy.
    for tf in TERRAFORM.rglob("*.tf"):
        text = tf.read_text(encoding="utf-8")
        if tf.name in ("oncall.tf", "outputs.tf") or (tf.name in ("main.tf", "reconciler.tf") and tf.parent.name == "webhook-source"):
            continue
        uses = [line for line in text.splitlines() if "module.backfill_credential" in line and not line.lstrip().startswith("#")]
        assert not uses, f"{tf.relative_to(ROOT)} uses the backfill credential: {uses}"
    # The reconciler: its setting, and its own role's read of the parameter and of its key, nothing else.
    reconciler = (TERRAFORM / "modules" / "webhook-source" / "reconciler.tf").read_text(encoding="utf-8")
    uses = [line.strip() for line in reconciler.splitlines()
            if "module.backfill_credential" in line and not line.lstrip().startswith("#")]
    assert uses == [
        'BACKFILL_CREDENTIAL_PARAMETER = try(module.backfill_credential[0].parameter_name, "")',
        'resources = [try(module.backfill_credential[0].parameter_arn, "")]',
        'values   = [try(module.backfill_credential[0].parameter_arn, "")]',
    ], uses
    main = (TERRAFORM / "modules" / "webhook-source" / "main.tf").read_text(encoding="utf-8")
    policies = main[main.index('module "ingress" {'):main.index('module "sweeper_schedule"')]
    assert "backfill_credential" not in policies, "a function's policy names the backfill credential"
    oncall = (TERRAFORM / "modules" / "webhook-source" / "oncall.tf").read_text(encoding="utf-8")
    read_only = oncall[oncall.index('"outboxctl_read_only" {'):oncall.index('"outboxctl_repair" {')]
    assert "backfill_credential" not in read_only


def test_the_cli_reads_the_parameter_named_in_the_docs():
    code = BACKFILL_RS.read_text(encoding="utf-8")
    assert 'env = "BACKFILL_CREDENTIAL_PARAMETER"' in code
    for name in ("STRIPE_API_BASE", "GITHUB_API_BASE"):
        assert f'env = "{name}"' in code
        assert name in (ROOT / "docs" / "backfill.md").read_text(encoding="utf-8")

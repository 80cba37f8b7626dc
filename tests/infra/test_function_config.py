"""lambroll's function.json and Terraform's initial function agree; Terraform leaves code to lambroll."""
import re

import pytest

from conftest import ROOT, function_json
from test_env_vars import _lambroll_env_map

FUNCTION_JSON = {"ingress": "function.json", "sweeper": "sweeper/function.json"}
TIMEOUT = {"ingress": 10, "sweeper": 60}
MEMORY_VAR = {"ingress": "ingress_memory_size", "sweeper": "sweeper_memory_size"}


@pytest.mark.parametrize("fn", ["ingress", "sweeper"])
def test_function_json_runtime(fn, example):
    """Every setting Terraform also applies comes from its outputs, so a deploy never reverts a tfvars
    change; the rest is fixed by the package (handler, runtime)."""
    cfg = function_json(FUNCTION_JSON[fn])
    prefix = fn.upper()
    assert cfg["Handler"] == "bootstrap"
    assert cfg["Runtime"] == "provided.al2023"
    assert cfg["Architectures"] == ["{{ must_env `ARCH` | json_escape }}"]
    assert cfg["Timeout"] == f"{{{{ must_env `{prefix}_TIMEOUT` }}}}"
    assert cfg["MemorySize"] == f"{{{{ must_env `{prefix}_MEMORY_SIZE` }}}}"
    assert cfg["Description"] == f"{{{{ must_env `{prefix}_DESCRIPTION` | json_escape }}}}"
    assert cfg["FunctionName"] == f"{{{{ must_env `{prefix}_FUNCTION_NAME` | json_escape }}}}"
    assert cfg["Role"] == f"{{{{ must_env `{prefix}_ROLE_ARN` | json_escape }}}}"
    assert example.var_default("architecture") == "arm64"


@pytest.mark.parametrize("fn", ["ingress", "sweeper"])
def test_lambroll_gets_the_settings_terraform_created_the_function_with(fn, example):
    prefix = fn.upper()
    call = example.call(fn)  # locals resolved, as in the exported map
    exported = _lambroll_env_map(example)
    assert exported["ARCH"] == call["architecture"] == "${var.architecture}"
    assert exported[f"{prefix}_MEMORY_SIZE"] == call["memory_size"] == f"${{var.{MEMORY_VAR[fn]}}}"
    assert exported[f"{prefix}_TIMEOUT"] == call["timeout"] == TIMEOUT[fn]
    assert example.modules[fn]["timeout"] == f"${{local.{fn}_timeout}}"
    assert exported[f"{prefix}_DESCRIPTION"] == call["description"]
    assert example.modules[fn]["description"] == f"${{local.{fn}_description}}"
    assert exported[f"{prefix}_FUNCTION_NAME"] == f"${{module.{fn}.function_name}}"
    assert exported[f"{prefix}_ROLE_ARN"] == f"${{module.{fn}.role_arn}}"


def test_terraform_creates_what_lambroll_deploys(modules):
    fn = modules["lambda"].of_type("aws_lambda_function")["this"]
    assert fn["handler"] == "bootstrap" and fn["runtime"] == "provided.al2023"
    ignored = set(fn["lifecycle"][0]["ignore_changes"])
    for attr in ("filename", "source_code_hash", "runtime", "handler", "environment", "architectures",
                 "memory_size", "timeout"):
        assert attr in ignored, f"aws_lambda_function.this must ignore {attr} (owned by lambroll)"


def test_function_url_is_public_on_the_alias(modules, example):
    url = modules["lambda"].of_type("aws_lambda_function_url")["this"]
    assert url["authorization_type"] == "NONE"
    assert url["qualifier"] == "${aws_lambda_alias.this.name}"
    assert example.modules["ingress"]["create_function_url"] is True
    assert example.modules["sweeper"].get("create_function_url", False) is False


def test_secret_value_is_left_to_the_operator(modules, example):
    """Created once with a placeholder through the write-only value_wo, then never touched; under the shared
    secrets key; or, adopted, not created at all."""
    param = modules["secret-parameter"].of_type("aws_ssm_parameter")["this"]
    assert param["type"] == "SecureString"
    assert param["key_id"] == "${var.kms_key_arn}"
    assert param["count"] == "${var.create ? 1 : 0}"
    assert param["lifecycle"][0]["ignore_changes"] == "all"
    call = example.modules["secret"]
    assert call["kms_key_arn"] == "${var.shared.secrets_kms_key_arn}"
    assert call["create"] == "${!var.adopt_existing_parameters}"
    assert modules["webhook-shared"].of_type("aws_kms_key")["secrets"]["enable_key_rotation"] is True


def test_log_groups_have_retention(modules):
    group = modules["lambda"].of_type("aws_cloudwatch_log_group")["this"]
    assert group["name"] == "/aws/lambda/${var.function_name}"
    assert group["retention_in_days"] == "${var.log_retention_days}"


RECONCILER_METRICS = [
    "ReconcileListed", "ReconcileMissing", "ReconcileRecovered", "ReconcileUnrecoverable",
    "ReconcileCheckpointAgeSeconds", "ReconcileOldestMissingAgeSeconds",
]
DASHBOARD_FLOW = ["1. Ingress Lambda", "2. Ingress outcomes", "3. Outbox", "4. Sweeper", "5. Queues", "6. DLQs"]
DASHBOARD_METRICS = [
    "Invocations", "Duration", "Errors", "Throttles", "Received", "Accepted", "Rejected", "Duplicate",
    "EnqueueDeferred", "OutboxWriteFailed", "Failed", "LatencyMs", "PendingCount", "OldestPendingAgeSeconds",
    "ParkedCount", "Parked", "NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted",
    "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesVisible", "Resent", "ResendFailed",
]
BAND = ROOT / "terraform" / "modules" / "monitoring" / "band.tf"


def test_each_source_s_band_follows_the_data_flow():
    """A band per source: its header and alarms, then ingress, outbox, the sweeper that drains it into the
    queues, the queues, their DLQs, left to right in one row."""
    text = BAND.read_text(encoding="utf-8")
    positions = [text.index(f'"{title}') for title in DASHBOARD_FLOW]
    assert positions == sorted(positions)
    for metric in DASHBOARD_METRICS:
        assert f'"{metric}"' in text, f"dashboard band lacks {metric}"
    assert re.search(r'type\s+= "metric", x = local.flow_width \* i, y = 5, width = local.flow_width, height = 6', text), \
        "the flow is one row"
    assert "flow_width = floor(24 / length(local.flow_widgets))" in text, "the row spans the dashboard's 24 columns"
    # The reconciler, when a source runs one, sits between the ingress and the outbox.
    assert "concat(slice(local.pipeline_widgets, 0, 2), local.reconciler_widgets, slice(local.pipeline_widgets, 2, 6))" in text
    for metric in RECONCILER_METRICS:
        assert f'"{metric}"' in text, f"the reconciler's widget lacks {metric}"
    assert re.search(r'\{ type = "text", x = 0, y = 0,', text), "the band starts with its header"


def test_the_band_shows_every_routed_queue_and_its_dlq(modules, example):
    text = BAND.read_text(encoding="utf-8")
    assert "for q in var.routed_queues" in text
    for lines in ("queue_lines", "dlq_lines"):
        assert re.search(lines + r" = \[for p in setproduct\(range\(length\(local.queues\)\)", text), lines
    call = example.modules["monitoring"]["routed_queues"]
    assert call.startswith("${[for r in var.routes : {"), call
    for field in ("queue_name = module.routed_queue[r.name].queue_name", "dlq_name = module.routed_queue[r.name].dlq_name"):
        assert field in call


def test_one_dashboard_stacks_a_band_per_source(root, modules):
    dashboard = modules["dashboard"]
    assert "merge(w, { y = w.y + local.band_y[i] })" in (ROOT / "terraform" / "modules" / "dashboard" / "main.tf").read_text()
    assert root.modules["dashboard"]["bands"] == "${[for key in keys(var.sources) : module.source[key].dashboard_band]}"
    assert len(dashboard.of_type("aws_cloudwatch_dashboard")) == 1
    height = modules["monitoring"].outputs["dashboard_band_height"]["value"]
    # The band's widgets end where its declared height says (header 5, flow 6, detail 6).
    assert height == 5 + 6 + 6

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


def test_secret_value_is_left_to_the_operator(modules):
    param = modules["secret-parameter"].of_type("aws_ssm_parameter")["secret"]
    assert param["type"] == "SecureString"
    assert param["key_id"] == "${aws_kms_key.secret.arn}"
    assert param["lifecycle"][0]["ignore_changes"] == ["value"]
    assert modules["secret-parameter"].of_type("aws_kms_key")["secret"]["enable_key_rotation"] is True


def test_log_groups_have_retention(modules):
    group = modules["lambda"].of_type("aws_cloudwatch_log_group")["this"]
    assert group["name"] == "/aws/lambda/${var.function_name}"
    assert group["retention_in_days"] == "${var.log_retention_days}"


DASHBOARD_SECTIONS = ["Ingress Lambda", "Outbox", "Sweeper", "Queues", "DLQs"]
DASHBOARD_METRICS = [
    "Invocations", "Duration", "Errors", "Throttles", "Received", "Accepted", "Rejected", "Duplicate",
    "EnqueueDeferred", "OutboxWriteFailed", "Failed", "LatencyMs", "PendingCount", "OldestPendingAgeSeconds",
    "ParkedCount", "Parked", "NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted",
    "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesVisible", "Resent", "ResendFailed",
]


def test_dashboard_follows_the_data_flow():
    """Ingress, outbox, the sweeper that drains it into the queues, the queues, their DLQs."""
    text = (ROOT / "terraform" / "modules" / "monitoring" / "dashboard.tf").read_text(encoding="utf-8")
    # From the widget list on: its first widget, then the sections (local.sections) with their metrics.
    widgets = text[text.index("widgets = "):]
    assert re.search(r'\{\s*type = "text", x = 0, y = 0', widgets), "the first widget is the architecture text"
    positions = [widgets.index(f"## {i}. {s}") for i, s in enumerate(DASHBOARD_SECTIONS, start=1)]
    assert positions == sorted(positions)
    for metric in DASHBOARD_METRICS:
        assert f'"{metric}"' in widgets, f"dashboard lacks {metric}"
    # Positions are computed from the sections above, whatever the number of routed queues.
    assert "section_y[n]" in widgets and re.search(r"section_y\s*=", widgets)


def test_dashboard_shows_every_routed_queue_and_its_dlq(modules, example):
    text = (ROOT / "terraform" / "modules" / "monitoring" / "dashboard.tf").read_text(encoding="utf-8")
    assert "for q in var.routed_queues" in text
    assert text.count("rows = [for q in local.queues") == 2, "one row per queue in Queues and in DLQs"
    call = example.modules["monitoring"]["routed_queues"]
    assert call.startswith("${[for r in var.routes : {"), call
    for field in ("queue_name = module.routed_queue[r.name].queue_name", "dlq_name = module.routed_queue[r.name].dlq_name"):
        assert field in call

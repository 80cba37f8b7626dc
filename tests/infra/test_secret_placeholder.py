"""The placeholder Terraform writes into the secret parameter is the one `outboxctl status` looks for:
if the two drift apart, status stops telling on-call that every delivery is rejected for that reason."""
import re

from conftest import ROOT


def test_outboxctl_looks_for_the_placeholder_terraform_writes(modules):
    parameter = modules["secret-parameter"].resources[("aws_ssm_parameter", "this")]
    source = (ROOT / "outboxctl" / "src" / "status.rs").read_text(encoding="utf-8")
    constant = re.search(r'pub const SECRET_PLACEHOLDER: &str = "([^"]*)";', source)
    assert constant, "outboxctl/src/status.rs no longer declares SECRET_PLACEHOLDER"
    # Written through the write-only argument, so the placeholder is the only value Terraform ever sends.
    assert parameter["value_wo"] == "${local.placeholder}"
    assert modules["secret-parameter"].locals["placeholder"] == constant.group(1)

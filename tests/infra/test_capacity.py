"""The settings docs/CAPACITY.md tells a high-volume user to change exist in the Terraform example and
reach the resources they name: warm throughput on the table and on the unsent-index, reserved
concurrency on the ingress, PENDING_SHARDS on both functions."""
import re

import pytest

from conftest import ROOT

CAPACITY = (ROOT / "docs" / "CAPACITY.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def table(modules):
    return modules["outbox-table"].of_type("aws_dynamodb_table")["outbox"]


def _dynamic(block, name):
    """The body of `dynamic "NAME"` in `block`, its `content` as one block."""
    [dynamic] = [d[name] for d in block.get("dynamic", []) if name in d]
    content = dynamic["content"]
    return {**dynamic, "content": content[0] if isinstance(content, list) else content}


def test_table_and_index_warm_throughput_come_from_the_variables(table):
    table_warm = _dynamic(table, "warm_throughput")
    assert "var.warm_write_units_per_second" in table_warm["for_each"]
    assert table_warm["content"]["write_units_per_second"] == "${warm_throughput.value}"
    [gsi] = table["global_secondary_index"]
    index_warm = _dynamic(gsi, "warm_throughput")
    assert "var.index_warm_write_units_per_second" in index_warm["for_each"]
    assert index_warm["content"]["write_units_per_second"] == "${warm_throughput.value}"
    # Warm throughput is never set below a new on-demand table's own (12,000 reads, 4,000 writes).
    assert table_warm["content"]["read_units_per_second"] >= 12000
    assert index_warm["content"]["read_units_per_second"] >= 12000


@pytest.mark.parametrize("variable", ["warm_write_units_per_second", "index_warm_write_units_per_second"])
def test_warm_throughput_is_off_by_default_and_never_below_the_default(modules, variable):
    body = modules["outbox-table"].variables[variable]
    assert body["default"] is None
    [validation] = body["validation"]
    # Above 4,000: 4,000 itself is a new table's own, which the provider reads back as unset (a permanent diff).
    assert "> 4000" in validation["condition"] and ">= 4000" not in validation["condition"]


def test_the_example_wires_the_capacity_settings(example, root, modules):
    outbox = modules["webhook-shared"].modules["outbox"]
    assert outbox["warm_write_units_per_second"] == "${var.table_warm_write_units_per_second}"
    assert outbox["index_warm_write_units_per_second"] == "${var.index_warm_write_units_per_second}"
    for name in ("table_warm_write_units_per_second", "index_warm_write_units_per_second"):
        assert root.variables[name]["default"] is None, name
        assert root.modules["shared"][name] == f"${{var.{name}}}"
    assert root.modules["source"]["ingress_reserved_concurrency"] == "${each.value.ingress_reserved_concurrency}"
    assert example.modules["ingress"]["reserved_concurrency"] == (
        "${var.ingress_reserved_concurrency == -1 ? null : var.ingress_reserved_concurrency}")


def test_the_ingress_reserves_concurrency_by_default_and_says_why(example, root):
    """Issue: forged requests must not start enough instances to throttle the account's SSM quota."""
    variable = example.variables["ingress_reserved_concurrency"]
    assert variable["default"] == 50
    assert "SSM GetParameter quota" in variable["description"] and "forged" in variable["description"]
    assert "ingress_reserved_concurrency = optional(number, 50)" in root.variables["sources"]["type"]
    assert "reserved_concurrency" not in example.modules["sweeper"]


def test_every_setting_the_capacity_guide_recommends_is_an_example_variable(root):
    section = CAPACITY.split("## The settings to change", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z][a-z0-9_]+)`", section)) - {"terraform", "aws"}
    terraform_names = {n for n in named if not n.isupper() and "_" in n}
    assert {"pending_shards", "table_warm_write_units_per_second",
            "index_warm_write_units_per_second", "ingress_reserved_concurrency"} <= terraform_names
    # A deployment variable, or a field of a source's entry (var.sources: settings, the function sizes).
    source_fields = set(re.findall(r"(\w+)\s+= optional\(", root.variables["sources"]["type"]))
    missing = sorted(n for n in terraform_names if n not in root.variables and n not in source_fields)
    assert not missing, f"docs/CAPACITY.md recommends {missing}, which the example does not have"


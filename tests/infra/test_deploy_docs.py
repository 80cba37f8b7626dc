"""docs/deploy.md names every Terraform variable of the example and every environment variable lambroll
templates, so that its tables stay complete as the files grow."""
import re

from conftest import ROOT

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def _table_names(heading):
    """The `code` names in the first column of the first table after heading."""
    section = DOC[DOC.index(heading):]
    table = []
    for line in section[section.index("\n| "):].splitlines()[1:]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert table, heading
    return {name for line in table for name in re.findall(r"`([A-Za-z0-9_]+)`", line.split("|")[1])}


def test_every_example_variable_is_in_the_variables_table(example):
    documented = _table_names("## 3. Create the infrastructure")
    missing = set(example.variables) - documented
    assert not missing, f"docs/deploy.md section 3 lacks {sorted(missing)}"


def test_every_templated_environment_variable_is_in_the_environment_table():
    templated = set()
    for path in ("function.json", "sweeper/function.json"):
        templated |= set(re.findall(r"env `([A-Z0-9_]+)`", (ROOT / path).read_text(encoding="utf-8")))
    documented = _table_names("## 5. Build and deploy with lambroll")
    missing = templated - documented
    assert not missing, f"docs/deploy.md section 5 lacks {sorted(missing)}"


def test_the_versions_named_are_the_files():
    assert "`required_version = \">= 1.10.0, < 2.0.0\"`" in DOC
    assert "`>= 6.28, < 7.0`" in DOC


def test_the_tfvars_example_sets_only_variables_the_example_has(example):
    import hcl2
    with open(ROOT / "terraform" / "examples" / "webhook-ingress" / "terraform.tfvars.example", encoding="utf-8") as f:
        values = {k: v for k, v in hcl2.load(f).items() if not k.startswith("__")}
    assert {"region", "source_name"} <= set(values)
    assert set(values) <= set(example.variables), sorted(set(values) - set(example.variables))

"""docs/deploy.md names every Terraform variable of the example and every environment variable lambroll
templates, so that its tables stay complete as the files grow."""
import re

from conftest import ROOT

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def _table_names(heading, nth=0):
    """The `code` names in the first column of the nth table after heading."""
    section = DOC[DOC.index(heading):]
    for _ in range(nth):
        start = section.index("\n| ")
        section = section[start + 3:]
        section = section[section.index("\n\n"):]
    table = []
    for line in section[section.index("\n| "):].splitlines()[1:]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert table, heading
    return {name for line in table for name in re.findall(r"`([A-Za-z0-9_]+)`", line.split("|")[1])}


def test_every_example_variable_is_in_the_variables_table(root):
    documented = _table_names("## 3. Create the infrastructure")
    missing = set(root.variables) - documented
    assert not missing, f"docs/deploy.md section 3 lacks {sorted(missing)}"


def test_every_field_of_a_source_entry_is_in_the_source_table(root):
    fields = set(re.findall(r"^    (\w+)\s+= optional\(", root.variables["sources"]["type"], re.M))
    fields |= set(re.findall(r"[{,]\s*(\w+) = optional\(", root.variables["sources"]["type"]))
    top = {f for f in fields if f in ("name_prefix", "signature", "event", "routes", "settings", "alarms",
                                       "backfill_provider", "adopt_existing_parameters", "ingress_memory_size",
                                       "sweeper_memory_size", "ingress_reserved_concurrency")}
    assert len(top) == 11, sorted(fields)
    documented = _table_names("## 3. Create the infrastructure", nth=1)
    missing = top - documented
    assert not missing, f"docs/deploy.md section 3's source table lacks {sorted(missing)}"


def test_every_templated_environment_variable_is_in_the_environment_table():
    templated = set()
    for path in ("function.json", "sweeper/function.json"):
        templated |= set(re.findall(r"env `([A-Z0-9_]+)`", (ROOT / path).read_text(encoding="utf-8")))
    documented = _table_names("## 5. Build and deploy with lambroll")
    missing = templated - documented
    assert not missing, f"docs/deploy.md section 5 lacks {sorted(missing)}"


def test_the_versions_named_are_the_files():
    assert "`required_version = \">= 1.11.0, < 2.0.0\"`" in DOC
    assert "`>= 6.29, < 7.0`" in DOC


def test_the_tfvars_example_sets_only_variables_the_example_has(root):
    import hcl2
    with open(ROOT / "terraform" / "examples" / "webhook-ingress" / "terraform.tfvars.example", encoding="utf-8") as f:
        values = {k: v for k, v in hcl2.load(f).items() if not k.startswith("__")}
    assert {"region", "sources"} <= set(values)
    assert len(values["sources"]) >= 2, "the example deploys two sources"
    assert set(values) <= set(root.variables), sorted(set(values) - set(root.variables))


def _deployer_row(service):
    section = DOC[DOC.index("### The deployer's permissions"):DOC.index("## 2. Where each setting lives")]
    [row] = [line for line in section.splitlines() if line.startswith(f"| {service} |")]
    return row


def test_the_deployer_may_do_what_the_first_apply_does():
    """The calls a scoped deployer is refused on a first apply unless the table names them: DynamoDB's grant
    on the table's key, the sweeper's invoke settings, the ingress's reserved concurrency, queue policies."""
    assert "`CreateGrant`" in _deployer_row("KMS")
    lambda_row = _deployer_row("Lambda")
    for action in ("PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig", "PutFunctionConcurrency"):
        assert f"`{action}`" in lambda_row, action
    assert "`SetQueueAttributes`" in _deployer_row("SQS")
    assert "four keys for the whole deployment" in _deployer_row("KMS")


def test_the_runbook_sends_rollbacks_to_the_rollback_section():
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    mentions = re.findall(r"lambroll rollback[^\n]*\n?[^\n]*docs/deploy\.md section (\d+)", runbook)
    assert mentions and set(mentions) == {"10"}, mentions
    assert "## 10. Rollback" in DOC
    assert "lambroll_rollback_policy_arn" in runbook

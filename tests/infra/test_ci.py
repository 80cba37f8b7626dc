"""Continuous delivery: the GitHub Actions workflow and the roles it assumes (terraform/examples/webhook-ingress/
ci.tf) fit together. actionlint and zizmor (scripts/check-infra.sh) check the workflow's own rules; these
tests check what only this project knows: which jobs run when, with which role and which lambroll calls."""
import re

import pytest
import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# The Lambda calls lambroll v1 makes: `deploy` (no function URL file, no --keep-versions) and `diff`.
LAMBROLL_DEPLOY = {"lambda:GetFunction", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode",
                   "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:ListVersionsByFunction",
                   "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"}
LAMBROLL_DIFF = {"lambda:GetFunction", "lambda:ListTags"}
FUNCTIONS = ["${module.ingress.function_arn}", "${module.ingress.function_arn}:*",
             "${module.sweeper.function_arn}", "${module.sweeper.function_arn}:*"]


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


def test_every_run_is_make_test(workflow):
    job = workflow["jobs"]["test"]
    assert "if" not in job
    assert run_lines(job).strip() == "make test"


def test_pull_requests_diff_both_functions_with_the_read_only_role(workflow):
    job = workflow["jobs"]["diff"]
    assert "github.event_name == 'pull_request'" in job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    [creds] = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert creds["with"]["role-to-assume"] == "${{ vars.CI_DIFF_ROLE_ARN }}"
    script = run_lines(job)
    assert "lambroll diff --function function.json" in script
    assert "lambroll diff --function sweeper/function.json" in script
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
    assert "$ARCH != arm64" in script, "a deploy of arm64 packages checks Terraform's architecture"


@pytest.mark.parametrize("job", ["diff", "deploy"])
def test_the_jobs_read_the_terraform_outputs_as_the_docs_do(job, workflow, example):
    script = run_lines(workflow["jobs"][job])
    assert 'aws s3 cp "$TF_STATE_S3_URI" - | jq -er \'.outputs.lambroll_env.value\'' in script
    assert script.index('eval "$lambroll_env"') < script.index("lambroll ")
    # The output is one string of `export` lines: what `terraform output -raw lambroll_env` prints.
    assert example.outputs["lambroll_env"]["value"].startswith('${join("\\n", [for k, v in merge(')
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert 'eval "$(tf output -raw lambroll_env)"' in docs
    assert ".outputs.lambroll_env.value" in docs


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


def test_the_ci_roles_trust_only_this_repository_main_and_its_pull_requests(example):
    trust = _ci_documents(example)["ci_trust"]
    assert trust["for_each"]["deploy"] == "repo:${coalesce(var.github_repository, \"none\")}:ref:refs/heads/main"
    assert trust["for_each"]["diff"] == "repo:${coalesce(var.github_repository, \"none\")}:pull_request"
    [statement] = trust["statement"]
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in statement["condition"]}
    assert conditions["${local.github_oidc_issuer}:aud"] == ("StringEquals", ["sts.amazonaws.com"])
    assert conditions["${local.github_oidc_issuer}:sub"] == ("StringEquals", ["${each.value}"])
    assert example.locals["github_oidc_issuer"] == "token.actions.githubusercontent.com"


def test_the_ci_roles_may_do_exactly_what_lambroll_does_on_the_two_functions(example):
    policy = _ci_documents(example)["ci"]
    assert set(policy["for_each"]["deploy"]) == LAMBROLL_DEPLOY
    assert set(policy["for_each"]["diff"]) == LAMBROLL_DIFF
    [statement] = policy["statement"]
    assert statement["resources"] == "${local.deployed_functions}"
    assert example.locals["deployed_functions"] == FUNCTIONS
    dynamic = {d["statement"]["content"][0]["sid"]: d["statement"] for d in policy["dynamic"]}
    pass_role = dynamic["PassTheFunctionRoles"]["content"][0]
    assert pass_role["actions"] == ["iam:PassRole"]
    assert pass_role["resources"] == ["${module.ingress.role_arn}", "${module.sweeper.role_arn}"]
    assert pass_role["condition"][0]["values"] == ["lambda.amazonaws.com"]
    assert "each.key == \"deploy\"" in dynamic["PassTheFunctionRoles"]["for_each"]
    assert dynamic["ReadTerraformOutputs"]["content"][0]["actions"] == ["s3:GetObject"]
    assert dynamic["ReadTerraformOutputs"]["content"][0]["resources"] == ["${local.state_object}"]


def test_the_workflow_names_the_outputs_it_needs(example):
    text = WORKFLOW.read_text(encoding="utf-8")
    for variable, output in (("CI_DEPLOY_ROLE_ARN", "ci_deploy_role_arn"), ("CI_DIFF_ROLE_ARN", "ci_diff_role_arn")):
        assert re.search(rf"#\s+{variable}\s+output {output}$", text, re.M), variable
        assert output in example.outputs

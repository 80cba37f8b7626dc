"""The environment variable names agree: the code's ENV_VARS, lambroll's function.json and Terraform."""
import re

import pytest

from conftest import ROOT, function_json, rust_str_array, rust_str_array_optional

# must_env: the variables without which the cold start stops, and those Terraform always outputs (ROUTES is
# "[]" without routes, LARGE_BODY_PREFIX may be empty): a deploy without the outputs' `eval` stops instead of
# deploying a function without routes or bucket.
ALWAYS_FROM_TERRAFORM = {"ROUTES", "LARGE_BODY_BUCKET", "LARGE_BODY_PREFIX", "LARGE_BODY_KMS_KEY"}
REQUIRED = {
    "ingress": {"SOURCE_NAME", "OUTBOX_TABLE", "QUEUE_URL", "SECRET_PARAMETER"} | ALWAYS_FROM_TERRAFORM,
    "sweeper": {"SOURCE_NAME", "OUTBOX_TABLE", "QUEUE_URL"} | ALWAYS_FROM_TERRAFORM,
    # A recovered Stripe event over what a row holds goes through the claim check (docs/backfill.md).
    "reconciler": {"SOURCE_NAME", "OUTBOX_TABLE", "QUEUE_URL", "RECONCILE_PROVIDER",
                   "BACKFILL_CREDENTIAL_PARAMETER"} | ALWAYS_FROM_TERRAFORM,
}
FUNCTION_JSON = {"ingress": "function.json", "sweeper": "sweeper/function.json",
                 "reconciler": "reconciler/function.json"}
LIB_RS = {"ingress": ROOT / "ingress" / "src" / "lib.rs", "sweeper": ROOT / "sweeper" / "src" / "lib.rs",
          "reconciler": ROOT / "reconciler" / "src" / "lib.rs"}

# Every value is JSON-escaped: it lands inside a JSON string, and several hold quotes or backslashes
# (ROUTES is JSON itself; SIGNATURE_PREFIX, EVENT_ID_POINTER and LARGE_BODY_PREFIX are free text).
MUST_ENV = re.compile(r"^\{\{ must_env `([A-Z0-9_]+)` \| json_escape \}\}$")
OPT_ENV = re.compile(r"^\{\{ env `([A-Z0-9_]+)` `` \| json_escape \}\}$")

FUNCTIONS = ["ingress", "sweeper", "reconciler"]


def code_env_vars(fn):
    return rust_str_array(LIB_RS[fn], "ENV_VARS")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_function_json_templates_each_variable_by_its_own_name(fn):
    variables = function_json(FUNCTION_JSON[fn])["Environment"]["Variables"]
    required, optional = set(), set()
    for name, value in variables.items():
        if m := MUST_ENV.match(value):
            required.add(name)
        elif m := OPT_ENV.match(value):
            optional.add(name)
        else:
            pytest.fail(f"{FUNCTION_JSON[fn]}: {name} = {value!r} is neither "
                        f"{{{{ must_env `{name}` | json_escape }}}} nor {{{{ env `{name}` `` | json_escape }}}}")
        assert m.group(1) == name, f"{FUNCTION_JSON[fn]}: {name} reads the environment variable {m.group(1)}"
    assert required == REQUIRED[fn], f"{FUNCTION_JSON[fn]}: must_env variables"


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_function_json_has_exactly_the_code_env_vars(fn):
    code = set(code_env_vars(fn))
    lambroll = set(function_json(FUNCTION_JSON[fn])["Environment"]["Variables"])
    assert lambroll == code, (
        f"{FUNCTION_JSON[fn]} vs {LIB_RS[fn].relative_to(ROOT)} ENV_VARS: "
        f"missing in function.json {sorted(code - lambroll)}, not read by the code {sorted(lambroll - code)}")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_terraform_environment_has_exactly_the_code_env_vars(fn, example):
    code = set(code_env_vars(fn))
    terraform = set(example.environment(fn))
    assert terraform == code, (
        f"terraform module.{fn}.environment vs ENV_VARS: missing in Terraform {sorted(code - terraform)}, "
        f"not read by the code {sorted(terraform - code)}")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_terraform_environment_equals_function_json(fn, example):
    # Holds even before the Rust constants exist.
    terraform = set(example.environment(fn))
    lambroll = set(function_json(FUNCTION_JSON[fn])["Environment"]["Variables"])
    assert terraform == lambroll


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_local_only_variables_are_not_deployed(fn, example):
    local_only = set(rust_str_array_optional(LIB_RS[fn], "LOCAL_ONLY_ENV_VARS")) | {"INGRESS_LISTEN"}
    lambroll = set(function_json(FUNCTION_JSON[fn])["Environment"]["Variables"])
    terraform = set(example.environment(fn))
    assert not local_only & lambroll, f"{FUNCTION_JSON[fn]} sets local-only variables"
    assert not local_only & terraform, f"terraform module.{fn} sets local-only variables"


def test_lambroll_env_output_exports_every_templated_variable(example):
    """Sourcing the parameter lambroll_env (what CI and docs/deploy.md eval) must give lambroll everything
    the templates read."""
    exported = set(_lambroll_env_map(example))
    templated = set()
    for path in FUNCTION_JSON.values():
        templated |= set(re.findall(r"env `([A-Z0-9_]+)`", (ROOT / path).read_text(encoding="utf-8")))
    assert templated <= exported, f"not exported by output lambroll_env: {sorted(templated - exported)}"


def _lambroll_env_map(example):
    """The map output lambroll_env exports (`[for k, v in MAP : "export ..."]`), local references resolved."""
    value = example.locals["lambroll_env"]
    assert example.outputs["lambroll_env"]["value"] == "${local.lambroll_env}"
    m = re.search(r"\[for k, v in (.*) : \"export \$\{k\}=", value, re.S)
    assert m, f'local "lambroll_env" is not [for k, v in MAP : "export ${{k}}=..."]: {value!r}'
    exported = example.resolve("${" + m.group(1) + "}")
    assert isinstance(exported, dict), f"local lambroll_env: cannot resolve {m.group(1)!r}"
    return exported

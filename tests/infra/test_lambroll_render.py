"""function.json and sweeper/function.json rendered as lambroll renders them, from the environment that
`eval "$(terraform output -raw lambroll_env)"` gives, and decoded as lambroll decodes them.

The renderer (tests/infra/lambroll_render, Go) is Go's own text/template with kayac/go-config's template
functions (`env`, `must_env`, `json_escape`) and encoding/json into the SDK's field types; it knows no
other function, so a template using one fails to parse. Values carry quotes, backslashes, `'`, `<&>`,
non-ASCII text and a real ROUTES array as Terraform's jsonencode writes it, and must come back byte for
byte in the function's environment.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from test_env_vars import _lambroll_env_map

RENDERER = ROOT / "tests" / "infra" / "lambroll_render"
FUNCTION_JSON = {"ingress": ROOT / "function.json", "sweeper": ROOT / "sweeper" / "function.json",
                 "reconciler": ROOT / "reconciler" / "function.json"}
KNOWN_FUNCTIONS = {"env", "must_env", "json_escape"}


def terraform_jsonencode(value):
    """Terraform's jsonencode: compact, object keys sorted, and `<`, `>`, `&` escaped as Go's encoder does."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# What routes_json (main.tf) gives for two routes: every field present, unset ones null.
ROUTES = terraform_jsonencode([
    {"name": "orders", "pointer": "/type", "header": None, "equals": 'order "paid"', "prefix": None,
     "group_pointer": None, "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/wh-orders"},
    {"name": "fifo", "pointer": None, "header": "X-Kind", "equals": None, "prefix": "a\\b<&>",
     "group_pointer": "/account/id", "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/wh-fifo.fifo"},
])

# A value for every name output lambroll_env exports; the free-text ones are hostile.
VALUES = {
    "ARCH": "arm64",
    "INGRESS_FUNCTION_NAME": "wh-ingress",
    "INGRESS_ROLE_ARN": "arn:aws:iam::123456789012:role/wh-ingress-lambda",
    "INGRESS_DESCRIPTION": 'Webhook ingress (market "place"): verify, record in the outbox, enqueue',
    "INGRESS_MEMORY_SIZE": "256",
    "INGRESS_TIMEOUT": "10",
    "SWEEPER_FUNCTION_NAME": "wh-sweeper",
    "SWEEPER_ROLE_ARN": "arn:aws:iam::123456789012:role/wh-sweeper-lambda",
    "SWEEPER_DESCRIPTION": "Webhook outbox sweeper (it's \\ here): re-sends pending events",
    "SWEEPER_MEMORY_SIZE": "512",
    "SWEEPER_TIMEOUT": "60",
    "RECONCILER_FUNCTION_NAME": "wh-reconciler",
    "RECONCILER_ROLE_ARN": "arn:aws:iam::123456789012:role/wh-reconciler-lambda",
    "RECONCILER_DESCRIPTION": 'Webhook reconciler ("market"): recovers what the provider emitted \\ never stored',
    "RECONCILER_MEMORY_SIZE": "256",
    "RECONCILER_TIMEOUT": "300",
    "RECONCILE_PROVIDER": "github",
    "RECONCILE_GITHUB_HOOK": "repos/acme/shop's/42",
    "RECONCILE_LOOKBACK_SECS": "86400",
    "RECONCILE_SETTLE_SECS": "",
    "RECONCILE_OVERLAP_SECS": "",
    "RECONCILE_LEASE_SECS": "",
    "RECONCILE_STRIPE_VERSION": '2024-06-20 "<&>"',
    "BACKFILL_CREDENTIAL_PARAMETER": "/wh/backfill-credential",
    "STRIPE_API_BASE": "",
    "GITHUB_API_BASE": "https://ghe.example.com/api/v3",
    "RECONCILE_GITLAB_HOOK": "projects/acme%2Fshop/42",
    "RECONCILE_PADDLE_DESTINATION": "ntfset_01h",
    "GITLAB_API_BASE": "https://gitlab.example.com/api/v4",
    "PADDLE_API_BASE": "",
    "SOURCE_NAME": "marketplace",
    "OUTBOX_TABLE": "wh-outbox",
    "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/wh-events",
    "ROUTES": ROUTES,
    "LARGE_BODY_BUCKET": "wh-body-20261204",
    "LARGE_BODY_PREFIX": 'bodies/"quoted"\\back/',
    "LARGE_BODY_KMS_KEY": "arn:aws:kms:eu-west-1:123456789012:key/0b3c",
    "SECRET_PARAMETER": "/wh/secret",
    "SIGNATURE_SCHEME": "hmac-sha256",
    "SIGNATURE_HEADER": "X-Signature",
    "SIGNATURE_ENCODING": "hex",
    "SIGNATURE_PREFIX": 'sha256="',
    "SIGNATURE_SPEC": '{"algorithm": "sha256", "signed": ["body", {"literal": "\\"."}]}',
    "EVENT_ID_HEADER": "",
    "EVENT_ID_POINTER": "/data/i\\d~1\"x\"",
    "EVENT_TYPE_POINTER": "/type",
    "PUBLIC_URL": "https://hooks.example.com/in",
    "MAX_BODY_BYTES": "6291456",
    "TIMESTAMP_TOLERANCE_SECS": "",
    "SECRET_REFRESH_SECS": "",
    "PENDING_SHARDS": "",
    "RETENTION_DAYS": "14",
    "RESPONSE_BUDGET_MS": "",
    "METRICS_NAMESPACE": "Webhook'Ingress",
    "GRACE_SECS": "",
    "MAX_ATTEMPTS": "",
    "SWEEP_CONCURRENCY": "8",
}


def shell_export(name, value):
    """One line of lambroll_env: `export K='V'` with `'` written as `'\\''` (modules/webhook-source)."""
    return "export %s='%s'" % (name, value.replace("'", "'\\''"))


@pytest.fixture(scope="session")
def renderer(tmp_path_factory):
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not installed: scripts/check-infra.sh installs Debian's golang-go")
    out = tmp_path_factory.mktemp("lambroll") / "lambroll_render"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "on", "CGO_ENABLED": "0"}
    env.setdefault("GOCACHE", str(ROOT / ".venv-cache" / "go-build"))
    build = subprocess.run([go, "build", "-o", str(out), "."], cwd=RENDERER, env=env, capture_output=True,
                           text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    return out


def render(renderer, template, exports):
    """Run the renderer on template in a shell that evaluated exports (and nothing else of ours)."""
    script = "\n".join(exports) + f'\nexec "{renderer}" "{template}"\n'
    result = subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                            text=True, timeout=60)
    return result


def rendered(renderer, template, values):
    result = render(renderer, template, [shell_export(k, v) for k, v in values.items()])
    assert result.returncode == 0, f"{template.name} does not render:\n{result.stderr}"
    return json.loads(result.stdout)


def test_the_values_cover_exactly_what_terraform_exports(example):
    assert set(VALUES) == set(_lambroll_env_map(example))


def test_the_shell_quoting_is_the_outputs(example):
    value = example.locals["lambroll_env"]
    assert value.endswith(''' : "export ${k}='${replace(v, "'", "'\\\\''")}'"])}'''), value


@pytest.mark.parametrize("fn", ["ingress", "sweeper", "reconciler"])
def test_function_json_uses_only_template_functions_lambroll_has(fn):
    text = FUNCTION_JSON[fn].read_text(encoding="utf-8")
    actions = re.findall(r"\{\{(.*?)\}\}", text)
    assert actions
    used = {word for action in actions for word in re.findall(r"(?:^|\|)\s*([a-z_]+)", action)}
    assert used <= KNOWN_FUNCTIONS, f"{fn}: unknown template functions {sorted(used - KNOWN_FUNCTIONS)}"


@pytest.mark.parametrize("fn", ["ingress", "sweeper", "reconciler"])
def test_every_environment_value_round_trips_exactly(fn, renderer):
    cfg = rendered(renderer, FUNCTION_JSON[fn], VALUES)
    variables = cfg["Environment"]["Variables"]
    assert variables == {name: VALUES[name] for name in variables}
    # ROUTES reaches the code as the JSON array Terraform wrote.
    assert json.loads(variables["ROUTES"])[0]["equals"] == 'order "paid"'


@pytest.mark.parametrize("fn", ["ingress", "sweeper", "reconciler"])
def test_runtime_settings_come_from_terraform(fn, renderer):
    cfg = rendered(renderer, FUNCTION_JSON[fn], VALUES)
    prefix = fn.upper()
    assert cfg["FunctionName"] == VALUES[f"{prefix}_FUNCTION_NAME"]
    assert cfg["Role"] == VALUES[f"{prefix}_ROLE_ARN"]
    # lambroll sets an absent Description to "" on every deploy: it must be Terraform's.
    assert cfg["Description"] == VALUES[f"{prefix}_DESCRIPTION"]
    assert cfg["MemorySize"] == int(VALUES[f"{prefix}_MEMORY_SIZE"])
    assert cfg["Timeout"] == int(VALUES[f"{prefix}_TIMEOUT"])
    assert cfg["Architectures"] == [VALUES["ARCH"]]
    assert (cfg["Handler"], cfg["Runtime"]) == ("bootstrap", "provided.al2023")


@pytest.mark.parametrize("missing", ["ROUTES", "LARGE_BODY_BUCKET", "INGRESS_MEMORY_SIZE", "ARCH"])
def test_a_deploy_without_the_terraform_outputs_stops(missing, renderer):
    values = {k: v for k, v in VALUES.items() if k != missing}
    result = render(renderer, FUNCTION_JSON["ingress"], [shell_export(k, v) for k, v in values.items()])
    assert result.returncode == 1
    assert f"environment variable {missing} is not defined" in result.stderr


def test_an_empty_optional_value_reaches_the_function_as_empty(renderer):
    values = {k: v for k, v in VALUES.items() if k != "SIGNATURE_PREFIX"}
    variables = rendered(renderer, FUNCTION_JSON["ingress"], values)["Environment"]["Variables"]
    assert variables["SIGNATURE_PREFIX"] == "" and variables["EVENT_ID_HEADER"] == ""


def test_a_quoted_number_is_refused_as_lambroll_refuses_it(renderer, tmp_path):
    template = tmp_path / "function.json"
    template.write_text('{"FunctionName": "x", "MemorySize": "{{ must_env `INGRESS_MEMORY_SIZE` }}"}')
    result = render(renderer, template, [shell_export("INGRESS_MEMORY_SIZE", "256")])
    assert result.returncode == 1 and "cannot unmarshal string" in result.stderr


def test_a_template_function_the_renderer_does_not_know_fails(renderer, tmp_path):
    template = tmp_path / "function.json"
    template.write_text('{"FunctionName": "{{ tfstate `output.name` }}"}')
    result = render(renderer, template, [])
    assert result.returncode == 1 and 'function "tfstate" not defined' in result.stderr


def test_env_and_json_escape_behave_as_go_config_defines_them(renderer, tmp_path):
    template = tmp_path / "function.json"
    template.write_text('{"Description": "{{ env `UNSET` `fall back` }}|{{ env `EMPTY` `` }}|{{ env `PLAIN` `no` }}|'
                        '{{ env `UNSET` }}|{{ must_env `EMPTY` }}|{{ must_env `SET` | json_escape }}"}')
    cfg = rendered(renderer, template, {"EMPTY": "", "PLAIN": "yes", "SET": 'a"b\\c\n<&>'})
    # env: the first set name's value, else its last argument, so a lone unset name comes back as itself.
    assert cfg["Description"] == 'fall back||yes|UNSET||a"b\\c\n<&>'


def test_the_unescaped_routes_template_of_before_would_have_failed(renderer, tmp_path):
    """The check catches the original defect: ROUTES pasted raw into a JSON string."""
    template = tmp_path / "function.json"
    template.write_text('{"Environment": {"Variables": {"ROUTES": "{{ env `ROUTES` `` }}"}}}')
    result = render(renderer, template, [shell_export("ROUTES", ROUTES)])
    assert result.returncode == 1 and "invalid character" in result.stderr


def test_every_function_json_of_the_repository_is_rendered_here():
    """A new function.json (the reconciler's, say) fails here until it is rendered by the tests above, with
    its variables in output lambroll_env."""
    tracked = subprocess.run(["git", "ls-files", "*function.json", "**/function.json"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    found = {ROOT / path for path in tracked}
    assert found, "git ls-files found no function.json"
    assert found == set(FUNCTION_JSON.values()), sorted(str(p.relative_to(ROOT)) for p in found ^ set(FUNCTION_JSON.values()))

"""What a first apply would otherwise meet half-way through: no secret value in the state, names within
IAM's, Lambda's, SQS's and S3's rules, environments within Lambda's 4 KB, alarm descriptions within
CloudWatch's 1,024 characters. Each rule is checked at plan time by the modules (validations,
preconditions); these tests check that the checks are there and that the largest values they allow fit."""
import json
import re

import pytest

from conftest import MODULES, ROOT, TERRAFORM, TfDir, all_tf_files, load_tf_file

# --- secrets ----------------------------------------------------------------------------------------

def _resources(rtype):
    for path in all_tf_files():
        for block in load_tf_file(path).get("resource", []):
            for name, body in block.get(rtype, {}).items():
                yield path, name, body


def test_no_secret_value_is_ever_given_to_terraform():
    """A SecureString gets no `value`/`insecure_value` (the provider would store it and re-read it into the
    state on every refresh), only the placeholder through the write-only `value_wo`; no data source reads a
    parameter or a secret; no secret version or New Relic key is created."""
    secure = [(p, n, b) for p, n, b in _resources("aws_ssm_parameter") if b["type"] == "SecureString"]
    assert secure, "no SecureString found: the test lost what it guards"
    for path, name, body in secure:
        where = f"{path.relative_to(ROOT)} aws_ssm_parameter.{name}"
        assert "value" not in body and "insecure_value" not in body, f"{where} sets a value"
        assert body["value_wo"] == "${local.placeholder}", where
    for path in all_tf_files():
        doc = load_tf_file(path)
        read = [(t, body) for block in doc.get("data", []) for t, named in block.items()
                if t in ("aws_ssm_parameter", "aws_ssm_parameters_by_path", "aws_secretsmanager_secret_version")
                for body in named.values()]
        # The one parameter read: the deployment's monitoring manifest, a String of names.
        read = [t for t, body in read if not (t == "aws_ssm_parameter" and body.get("name", "").endswith("/monitoring-manifest"))]
        assert not read, f"{path.relative_to(ROOT)} reads {read} into the state"
        made = [t for block in doc.get("resource", []) for t in block
                if t in ("aws_secretsmanager_secret_version", "newrelic_api_access_key")]
        assert not made, f"{path.relative_to(ROOT)} creates {made}, whose secret the state would hold"
    for _, name, body in _resources("aws_kinesis_firehose_delivery_stream"):
        for endpoint in body.get("http_endpoint_configuration", []):
            assert "access_key" not in endpoint, f"firehose {name}: the access key would be in the state"


def test_what_is_stored_in_plain_parameters_is_no_secret():
    """The String parameters (lambroll settings, monitoring manifest) hold names and settings: none of their
    values names a secret parameter's value, only, for SECRET_PARAMETER, its name."""
    source = TfDir(MODULES / "webhook-source")
    assert source.resources[("aws_ssm_parameter", "lambroll_env")]["type"] == "String"
    exported = source.resolve(source.locals["ingress_env"])
    assert exported["SECRET_PARAMETER"] == "${module.secret.parameter_name}"
    text = json.dumps(source.locals["lambroll_env"])
    assert "value_wo" not in text and "parameter_arn" not in text


# --- names --------------------------------------------------------------------------------------------

LIMITS = {"iam_role": 64, "lambda": 64, "schedule": 64, "sqs": 80, "iam_policy": 128}


def _validation_max(tf, variable):
    """The longest value a variable's regex validation `^[a-z]...{0,N}[a-z0-9]$` allows."""
    condition = tf.variables[variable]["validation"][0]["condition"]
    m = re.search(r"\{0,(\d+)\}", condition)
    assert m, f"{variable}: no length in {condition}"
    return int(m.group(1)) + 2


def test_the_name_checks_keep_every_derived_name_within_its_service_limit():
    """The longest prefix the source module accepts, with the longest suffix its modules append, within IAM's
    64 (roles), Lambda's 64, EventBridge Scheduler's 64 and SQS's 80; and the deployment name's default
    source prefix (`<name>-<source>`) within the source module's own limit."""
    source = TfDir(MODULES / "webhook-source")
    prefix = "p" * _validation_max(source, "name")
    # The suffixes as the modules write them (each asserted in its file below, so a change is seen here).
    suffixes = {
        "lambda": ("-ingress", "-sweeper"),
        "iam_role": ("-ingress-lambda", "-sweeper-lambda", "-sweeper-scheduler"),
        "schedule": ("-sweeper",),
        "sqs": ("-events-dlq", "-events"),
        "iam_policy": ("-outboxctl-read-only", "-outboxctl-repair"),
    }
    texts = {m: (MODULES / m / "main.tf").read_text(encoding="utf-8") for m in ("lambda", "lambda-schedule", "sqs-with-dlq", "webhook-source")}
    assert 'name               = "${var.function_name}-lambda"' in texts["lambda"]
    assert 'name               = "${var.name}-scheduler"' in texts["lambda-schedule"]
    assert '"${var.name}-dlq.fifo" : "${var.name}-dlq"' in texts["sqs-with-dlq"]
    assert 'ingress_name = "${var.name}-ingress"' in texts["webhook-source"]
    for kind, ends in suffixes.items():
        for end in ends:
            assert len(prefix + end) <= LIMITS[kind], f"{kind} {prefix + end}: over {LIMITS[kind]}"
    # Routes: `<prefix>-<route>-dlq.fifo` within 80 when the validation's sum (70) holds.
    routes = source.variables["routes"]["validation"][0]["condition"]
    assert "length(var.name) + length(r.name) <= 70" in routes
    assert 70 + len("-") + len("-dlq.fifo") == LIMITS["sqs"]
    # The deployment's name: lowercase for the S3 bucket; its own resources' names within IAM's 64. (A
    # default prefix `<name>-<source>` past 46 fails the source module's check: the next test.)
    shared = TfDir(MODULES / "webhook-shared")
    name = _validation_max(shared, "name")
    assert "^[a-z]" in shared.variables["name"]["validation"][0]["condition"], "S3 needs lowercase"
    assert len("n" * name + "-alarms-chatbot") <= LIMITS["iam_role"]
    assert len("n" * name + "-ci-deploy") <= LIMITS["iam_role"]


def test_a_too_long_default_prefix_fails_at_plan():
    """`<name>-<source>` over 46 characters fails the source module's validation at plan time, before any
    resource is created: the root passes it as the module's `name`."""
    root = TfDir(TERRAFORM / "examples" / "webhook-ingress")
    assert root.locals["prefixes"] == '${{for key, s in var.sources : key => coalesce(s.name_prefix, "${var.name}-${key}")}}'
    assert root.modules["source"]["name"] == "${local.prefixes[each.key]}"
    condition = TfDir(MODULES / "webhook-source").variables["name"]["validation"][0]["condition"]
    pattern = re.search(r'regex\("(.*)", var.name\)', condition).group(1).replace("\\\\", "\\")
    assert re.fullmatch(pattern, "webhook-" + "s" * 38)
    assert not re.fullmatch(pattern, "webhook-" + "s" * 39)
    assert not re.fullmatch(pattern, "Webhook-stripe"), "uppercase would break the S3 bucket and the log key's pattern"


# --- sizes --------------------------------------------------------------------------------------------

def test_every_environment_is_checked_against_lambda_s_4_kb():
    text = (MODULES / "lambda" / "main.tf").read_text(encoding="utf-8")
    assert "condition     = length(jsonencode(var.environment)) <= 4096" in text


def test_a_realistic_ingress_environment_with_ten_routes_fits():
    """What fits: the ingress's variables at realistic lengths and 10 routes, as Terraform's jsonencode
    writes them (the module's precondition measures the same)."""
    route = {"name": "orders-paid", "pointer": "/type", "header": None, "equals": "order.paid", "prefix": None,
             "group_pointer": None, "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-stripe-orders-paid"}
    env = {
        "SOURCE_NAME": "stripe", "OUTBOX_TABLE": "webhook-outbox",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-stripe-events",
        "ROUTES": json.dumps([route] * 10, separators=(",", ":")), "PENDING_SHARDS": "8", "RETENTION_DAYS": "14",
        "METRICS_NAMESPACE": "WebhookIngress", "LARGE_BODY_BUCKET": "webhook-body-20261204123456789012345678",
        "LARGE_BODY_PREFIX": "", "LARGE_BODY_KMS_KEY": "arn:aws:kms:eu-west-1:123456789012:key/0b3c1d2e-1111-2222-3333-444455556666",
        "SECRET_PARAMETER": "/webhook-stripe/secret", "SIGNATURE_SCHEME": "stripe", "SIGNATURE_HEADER": "",
        "SIGNATURE_ENCODING": "", "SIGNATURE_PREFIX": "", "SIGNATURE_SPEC": "", "PUBLIC_URL": "", "EVENT_ID_HEADER": "",
        "EVENT_ID_POINTER": "", "EVENT_TYPE_POINTER": "", "MAX_BODY_BYTES": "6291456",
        "TIMESTAMP_TOLERANCE_SECS": "", "SECRET_REFRESH_SECS": "", "RESPONSE_BUDGET_MS": "",
    }
    source = TfDir(MODULES / "webhook-source")
    assert set(env) == set(source.environment("ingress"))
    size = len(json.dumps(env, separators=(",", ":")))
    assert size <= 4096, f"{size} bytes"


ALARM_MODULES = ["lambda", "sqs-with-dlq", "monitoring"]


@pytest.mark.parametrize("module", ALARM_MODULES)
def test_every_alarm_description_is_checked_and_fits_at_the_longest_allowed_values(module):
    """Each description, with the longest runbook_url the source module accepts (200), the longest
    outboxctl command (a 46-character prefix) and large thresholds, within CloudWatch's 1,024."""
    tf = TfDir(MODULES / module)
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((MODULES / module).glob("*.tf")))
    assert text.count("<= 1024") >= 1 and "precondition" in text
    worst = {
        "runbook_url": "h" * 200, "outboxctl_command": "outboxctl --function " + "p" * 46 + "-ingress:current",
        "function_name": "p" * 46 + "-ingress", "name": "p" * 46 + "-events", "source_name": "s" * 32,
        "runbook_section": "ingress", "outboxctl_dlq": "dlq --route " + "r" * 24, "max_receive_count": "5",
        "rejected_burst_threshold": "100000", "rejected_burst_period_seconds": "3600", "rejected_rate_percent": "100",
        "rejected_rate_min_requests": "100000", "oldest_pending_age_threshold_seconds": "86400",
        "accepted_anomaly_band_width": "10", "backfill_provider": "stripe",
    }
    backfill = "outboxctl --function " + "p" * 46 + "-ingress:current backfill --provider stripe|github|gitlab|paddle --since <when it started>"
    descriptions = []
    for a in tf.instances("aws_cloudwatch_metric_alarm").values():
        descriptions.append(tf.resolve(a["alarm_description"]))
    assert descriptions
    for d in descriptions:
        d = d.replace("${local.backfill_command}", backfill).replace("${var.rejected_burst_period_seconds / 60}", "60")
        d = re.sub(r"\$\{var\.(\w+)\}", lambda m: worst[m.group(1)], d)
        assert "${" not in d, d
        assert len(d) <= 1024, f"{len(d)} characters: {d[:80]}..."

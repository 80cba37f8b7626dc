"""Least privilege: each function's role allows exactly the actions its code calls (IAM_ACTIONS), each on
exactly its resource, plus the documented extras that AWS services use on the function's behalf; and the
sources sharing one table stay apart: every row a role reads or writes starts with its own `<source>:`,
its secret key grant names its own parameter, its bodies are under its own keys, its queues admit only
its own functions and the on-call repair roles."""
import re

import pytest

from conftest import ROOT, rust_str_array

LIB_RS = {"ingress": ROOT / "ingress" / "src" / "lib.rs", "sweeper": ROOT / "sweeper" / "src" / "lib.rs"}
LIB_RS_WITH_RECONCILER = {**LIB_RS, "reconciler": ROOT / "reconciler" / "src" / "lib.rs"}

# Documented extras (docs/deploy.md, terraform/README.md): not SDK calls of the code but permissions used on
# its behalf: KMS through SSM (SecureString) and DynamoDB (table CMK), and the Lambda service writing logs.
EXTRAS = {"kms:Decrypt", "kms:GenerateDataKey", "logs:CreateLogStream", "logs:PutLogEvents"}

TABLE = "${var.shared.table_arn}"
INDEX = "${var.shared.unsent_index_arn}"
# The main queue and every routed queue (ROUTES), and nothing else: test_queue_actions_cover_exactly_the_routed_queues.
QUEUES = "${concat([module.queue.queue_arn], [for r in var.routes : module.routed_queue[r.name].queue_arn])}"
PARAMETER = "${module.secret.parameter_arn}"
# The large-body bucket's objects of this source (its keys start with `<prefix><source>:`), never the bucket.
LARGE_BODY_OBJECTS = "${var.shared.large_body_bucket_arn}/${var.settings.large_body_prefix}${var.source_name}:*"
# A row of this source: the table's hash key is `<source>:<event id>` (shared/src/primitives.rs outbox_key).
OWN_ROWS = {"test": "ForAllValues:StringLike", "variable": "dynamodb:LeadingKeys", "values": ["${var.source_name}:*"]}
# Calls that name no item: nothing to condition on.
KEYLESS = {"dynamodb:DescribeTable", "dynamodb:Query"}
RESOURCE_OF = {
    "dynamodb:PutItem": TABLE,
    "dynamodb:UpdateItem": TABLE,
    "dynamodb:DescribeTable": TABLE,
    "dynamodb:BatchGetItem": TABLE,
    "dynamodb:Query": INDEX,
    "sqs:SendMessage": QUEUES,
    "sqs:GetQueueAttributes": QUEUES,
    "ssm:GetParameter": PARAMETER,
    "s3:PutObject": LARGE_BODY_OBJECTS,
    "s3:PutObjectTagging": LARGE_BODY_OBJECTS,
    "s3:GetObject": LARGE_BODY_OBJECTS,
}
# The bodies in S3 are encrypted with the table's key.
KMS_KEY_VIA = {"ssm": "${var.shared.secrets_kms_key_arn}", "dynamodb": "${var.shared.table_kms_key_arn}",
               "s3": "${var.shared.table_kms_key_arn}"}

FUNCTIONS = ["ingress", "sweeper"]


def statements(example, fn):
    return example.policy_statements(fn)


def module_log_statement(modules):
    doc = modules["lambda"].data[("aws_iam_policy_document", "this")]
    static = doc["statement"]
    static = static if isinstance(static, list) else [static]
    return static


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_role_actions_equal_code_iam_actions(fn, example, modules):
    code = set(rust_str_array(LIB_RS[fn], "IAM_ACTIONS")) | set(rust_str_array(LIB_RS[fn], "LARGE_BODY_IAM_ACTIONS"))
    terraform = {a for s in statements(example, fn) for a in s["actions"]}
    terraform |= {a for s in module_log_statement(modules) for a in s["actions"]}
    assert terraform - EXTRAS == code - EXTRAS, (
        f"{fn}: Terraform allows {sorted(terraform - code - EXTRAS)} that the code does not call; "
        f"the code calls {sorted(code - terraform - EXTRAS)} that Terraform does not allow")
    assert terraform & EXTRAS <= EXTRAS


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_each_action_on_exactly_its_resource(fn, example):
    for s in statements(example, fn):
        assert "*" not in s["resources"], f"{fn} {s['sid']}: wildcard resource"
        for action in s["actions"]:
            if action.startswith("kms:"):
                conditions = s.get("conditions", [])
                via = [c for c in conditions if c["variable"] == "kms:ViaService"]
                assert len(via) == 1 and via[0]["test"] == "StringEquals", f"{fn} {s['sid']}: kms without ViaService"
                service = via[0]["values"][0].split(".")[0]
                assert s["resources"] == [KMS_KEY_VIA[service]], f"{fn} {s['sid']}: kms via {service} on the wrong key"
                assert set(s["actions"]) <= {"kms:Decrypt", "kms:GenerateDataKey"}
                if service == "ssm":
                    assert s["actions"] == ["kms:Decrypt"], "the secret's key needs kms:Decrypt only"
                    # The shared secrets key decrypts this source's own parameter only.
                    context = [c for c in conditions if c["variable"] == "kms:EncryptionContext:PARAMETER_ARN"]
                    assert context == [{"test": "StringEquals", "variable": "kms:EncryptionContext:PARAMETER_ARN",
                                        "values": [PARAMETER]}], f"{fn} {s['sid']}: {conditions}"
            else:
                assert action in RESOURCE_OF, f"{fn}: unexpected action {action}"
                expected = RESOURCE_OF[action]
                # The queue list is one expression (a list already); every other resource is a single ARN.
                expected = expected if expected == QUEUES else [expected]
                assert s["resources"] == expected, f"{fn} {action}: on {s['resources']}"
                if action.startswith("dynamodb:") and action not in KEYLESS:
                    assert s.get("conditions") == [OWN_ROWS], f"{fn} {action}: not limited to this source's rows"


def test_the_ingress_reads_the_secret_through_ssm_and_the_sweeper_does_not(example):
    ingress = {a for s in statements(example, "ingress") for a in s["actions"]}
    sweeper = {a for s in statements(example, "sweeper") for a in s["actions"]}
    assert "ssm:GetParameter" in ingress
    assert not {a for a in sweeper if a.startswith("ssm:")}


def test_module_adds_only_its_own_log_group(modules):
    [log] = module_log_statement(modules)
    assert sorted(log["actions"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert log["resources"] == ["${aws_cloudwatch_log_group.this.arn}:*"]


def test_unsent_index_arn_names_the_index(modules):
    value = modules["outbox-table"].outputs["unsent_index_arn"]["value"]
    assert value == "${aws_dynamodb_table.outbox.arn}/index/unsent-index"


def test_scheduler_role_may_only_invoke_the_sweeper(example, modules):
    schedule = modules["lambda-schedule"]
    doc = schedule.data[("aws_iam_policy_document", "invoke")]
    [stmt] = doc["statement"] if isinstance(doc["statement"], list) else [doc["statement"]]
    assert stmt["actions"] == ["lambda:InvokeFunction"]
    assert stmt["resources"] == ["${var.function_arn}"]
    [role_policy] = schedule.of_type("aws_iam_role_policy").values()
    assert role_policy["policy"] == "${data.aws_iam_policy_document.invoke.json}"
    call = example.modules["sweeper_schedule"]
    # Lambda's own retries of the schedule's asynchronous invocation: none, and no event older than a minute.
    assert example.modules["sweeper"]["async_invoke"] == {"maximum_retry_attempts": 0, "maximum_event_age_in_seconds": 60}
    [config] = modules["lambda"].of_type("aws_lambda_function_event_invoke_config").values()
    assert config["qualifier"] == "${aws_lambda_alias.this.name}"
    assert config["maximum_retry_attempts"] == "${var.async_invoke.maximum_retry_attempts}"
    assert config["maximum_event_age_in_seconds"] == "${var.async_invoke.maximum_event_age_in_seconds}"
    assert "async_invoke" not in example.modules["ingress"]
    assert call["function_arn"] == "${module.sweeper.alias_arn}"
    assert call["schedule_expression"] == "rate(1 minute)"
    [target] = schedule.of_type("aws_scheduler_schedule")["this"]["target"]
    assert target["arn"] == "${var.function_arn}"


def test_queue_actions_cover_exactly_the_routed_queues(example):
    """ROUTES names the queues of module.routed_queue, one per route, and the IAM queue list holds exactly
    those and the main queue: a route cannot point where the functions may not send, nor may they send
    anywhere no route points."""
    routed = example.modules["routed_queue"]
    assert routed["for_each"] == "${{for r in var.routes : r.name => r}}"
    assert routed["source"] == "../sqs-with-dlq"
    assert routed["fifo"] == "${each.value.fifo}"
    routes_json = example.locals["routes_json"]
    assert routes_json.startswith("${jsonencode([for r in var.routes : {"), routes_json
    assert "queue_url = module.routed_queue[r.name].queue_url}" in routes_json, routes_json
    assert example.locals["queue_arns"] == QUEUES
    for fn in FUNCTIONS:
        assert example.environment(fn)["ROUTES"] == routes_json
        sends = [s for s in statements(example, fn) if "sqs:SendMessage" in s["actions"]]
        assert [s["resources"] for s in sends] == [QUEUES], f"{fn}: SendMessage on {sends}"


def test_the_queues_admit_only_the_functions_and_the_on_call_repair_roles(example, modules):
    """Each queue's policy denies sqs:SendMessage to every principal but the source's two functions and the
    roles in queue_sender_arns; its DLQ's to everyone (SQS itself moves messages there)."""
    queue = modules["sqs-with-dlq"]
    main = queue.data[("aws_iam_policy_document", "main")]["statement"]
    [deny] = main if isinstance(main, list) else [main]
    assert (deny["effect"], deny["actions"], deny["resources"]) == ("Deny", ["sqs:SendMessage"], ["${aws_sqs_queue.main.arn}"])
    assert deny["principals"] == [{"type": "*", "identifiers": ["*"]}]
    assert deny["condition"] == [{"test": "ArnNotEquals", "variable": "aws:PrincipalArn", "values": "${var.sender_arns}"}]
    dlq = queue.data[("aws_iam_policy_document", "dlq")]["statement"]
    [deny_all] = dlq if isinstance(dlq, list) else [dlq]
    assert (deny_all["effect"], deny_all["actions"], deny_all["resources"]) == ("Deny", ["sqs:SendMessage"], ["${aws_sqs_queue.dlq.arn}"])
    assert "condition" not in deny_all
    policies = queue.of_type("aws_sqs_queue_policy")
    assert policies["main"]["queue_url"] == "${aws_sqs_queue.main.id}"
    assert policies["dlq"]["queue_url"] == "${aws_sqs_queue.dlq.id}"
    assert example.locals["queue_senders"] == (
        "${concat([module.ingress.role_arn, module.sweeper.role_arn], module.reconciler[*].role_arn, var.queue_sender_arns)}")
    for call in ("queue", "routed_queue"):
        assert example.modules[call]["sender_arns"] == "${local.queue_senders}", call


def test_the_sources_stay_apart_in_the_shared_table(example):
    """Rows: every item call of both functions is conditioned on `<source>:*`; the index Query is not (a
    KEYS_ONLY index returns no body); the key the rows are named by is the code's."""
    text = (ROOT / "shared" / "src" / "primitives.rs").read_text(encoding="utf-8")
    assert 'format!("{source}:{event_id}")' in text, "the outbox key is no longer <source>:<event id>"
    for fn in FUNCTIONS:
        item_calls = [s for s in statements(example, fn)
                      if any(a.startswith("dynamodb:") and a not in KEYLESS for a in s["actions"])]
        assert item_calls and all(s["conditions"] == [OWN_ROWS] for s in item_calls), fn
    table = (ROOT / "terraform" / "modules" / "outbox-table" / "main.tf").read_text(encoding="utf-8")
    assert 'projection_type = "KEYS_ONLY"' in table


@pytest.mark.parametrize("fn", FUNCTIONS + ["reconciler"])
def test_large_body_actions_are_exactly_the_codes_and_on_the_bucket_objects_only(fn, example):
    """LARGE_BODY_IAM_ACTIONS (the S3 claim check) are granted in one statement on the bucket's objects,
    with the table's key through S3 for their encryption."""
    code = set(rust_str_array(LIB_RS_WITH_RECONCILER[fn], "LARGE_BODY_IAM_ACTIONS"))
    assert code, f"{fn}: LARGE_BODY_IAM_ACTIONS is empty"
    s3 = [s for s in statements(example, fn) if any(a.startswith("s3:") for a in s["actions"])]
    assert [set(s["actions"]) for s in s3] == [code], f"{fn}: {s3}"
    assert s3[0]["resources"] == [LARGE_BODY_OBJECTS]
    via_s3 = [s for s in statements(example, fn)
              if any(c["variable"] == "kms:ViaService" and c["values"][0].startswith("s3.")
                     for c in s.get("conditions", []))]
    assert [set(s["actions"]) for s in via_s3] == [{"kms:Decrypt", "kms:GenerateDataKey"}], f"{fn}: {via_s3}"


def test_the_bucket_expires_only_sent_bodies_and_outlives_every_message(root, modules):
    """The lifecycle rule expires objects tagged sent only (the tag the code writes after the mark), after
    the longest row retention plus the longest queue and DLQ retention of any source; the bucket is
    KMS-encrypted with the table's key, private, and TLS-only; every source gets its name and key."""
    text = (ROOT / "shared" / "src" / "large_body.rs").read_text(encoding="utf-8")
    tag = re.search(r'pub const STATE_TAG: &str = "([^"]+)"', text).group(1)
    sent = re.search(r'pub const STATE_SENT: &str = "([^"]+)"', text).group(1)
    assert re.search(r'format!\("\{prefix\}\{outbox_key\}/\{body_sha256\}"\)', text), "object keys no longer start with the outbox key"
    bucket = modules["large-body-bucket"]
    [lifecycle] = bucket.of_type("aws_s3_bucket_lifecycle_configuration").values()
    [expire] = [r for r in lifecycle["rule"] if r.get("expiration")]
    assert expire["filter"] == [{"tag": [{"key": tag, "value": sent}]}], "only sent-tagged objects expire"
    assert expire["expiration"] == [{"days": "${var.expire_sent_after_days}"}]
    [sse] = bucket.of_type("aws_s3_bucket_server_side_encryption_configuration").values()
    [default] = sse["rule"][0]["apply_server_side_encryption_by_default"]
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.kms_key_arn}"}
    [block] = bucket.of_type("aws_s3_bucket_public_access_block").values()
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                             "restrict_public_buckets"))
    [tls] = bucket.data[("aws_iam_policy_document", "tls_only")]["statement"]
    assert tls["effect"] == "Deny" and tls["condition"][0]["variable"] == "aws:SecureTransport"
    assert tls["condition"][0]["values"] == ["false"]
    call = modules["webhook-shared"].modules["large_bodies"]
    assert call["kms_key_arn"] == "${module.outbox.kms_key_arn}"
    assert call["expire_sent_after_days"] == "${var.large_body_expire_after_days}"
    expiry = root.locals["large_body_expiry_days"]
    for part in ("s.retention.retention_days", "s.retention.max_queue_seconds", "s.retention.max_dlq_queue_seconds"):
        assert part in expiry, expiry
    assert root.modules["shared"]["large_body_expire_after_days"] == "${local.large_body_expiry_days}"
    source = modules["webhook-source"]
    for fn in FUNCTIONS + ["reconciler"]:
        env = source.environment(fn)
        assert env["LARGE_BODY_BUCKET"] == "${var.shared.large_body_bucket_name}"
        assert env["LARGE_BODY_KMS_KEY"] == "${var.shared.table_kms_key_arn}"


def test_the_reconcilers_role_is_its_iam_actions_on_its_own_rows_queues_and_credential(example):
    """The reconciler (reconciler.tf): exactly reconciler IAM_ACTIONS (plus the keys' kms actions), its
    source's rows and its checkpoint row only, its source's queues, and the backfill credential."""
    code = set(rust_str_array(ROOT / "reconciler" / "src" / "lib.rs", "IAM_ACTIONS"))
    code |= set(rust_str_array(ROOT / "reconciler" / "src" / "lib.rs", "LARGE_BODY_IAM_ACTIONS"))
    stmts = example.policy_statements("reconciler")
    actions = {a for s in stmts for a in s["actions"]}
    assert actions - {"kms:Decrypt", "kms:GenerateDataKey"} == code
    by_sid = {s["sid"]: s for s in stmts}
    assert by_sid["OutboxReadWrite"]["conditions"][0]["values"] == [
        "${var.source_name}:*", "reconciler#${var.source_name}"]
    assert by_sid["QueueSend"]["resources"] == example.resolve("${local.queue_arns}")
    assert by_sid["CredentialRead"]["resources"] == ['${try(module.backfill_credential[0].parameter_arn, "")}']
    assert by_sid["CredentialKey"]["conditions"][1]["values"] == by_sid["CredentialRead"]["resources"]
    for s in stmts:
        assert "*" not in s["resources"], s["sid"]
    assert example.modules["reconciler"]["count"] == "${local.reconciler_enabled ? 1 : 0}"
    assert example.locals["reconciler_enabled"] == "${var.reconciler.enabled && var.backfill_provider != null}"
    assert example.var_default("reconciler") == {}

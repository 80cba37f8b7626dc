"""Least privilege: each function's role allows exactly the actions its code calls (IAM_ACTIONS), each on
exactly its resource, plus the documented extras that AWS services use on the function's behalf."""
import re

import pytest

from conftest import ROOT, rust_str_array

LIB_RS = {"ingress": ROOT / "ingress" / "src" / "lib.rs", "sweeper": ROOT / "sweeper" / "src" / "lib.rs"}

# Documented extras (docs/deploy.md, terraform/README.md): not SDK calls of the code but permissions used on
# its behalf: KMS through SSM (SecureString) and DynamoDB (table CMK), and the Lambda service writing logs.
EXTRAS = {"kms:Decrypt", "kms:GenerateDataKey", "logs:CreateLogStream", "logs:PutLogEvents"}

TABLE = "${module.outbox.table_arn}"
INDEX = "${module.outbox.unsent_index_arn}"
# The main queue and every routed queue (ROUTES), and nothing else: test_queue_actions_cover_exactly_the_routed_queues.
QUEUES = "${concat([module.queue.queue_arn], [for r in var.routes : module.routed_queue[r.name].queue_arn])}"
PARAMETER = "${module.secret.parameter_arn}"
# The large-body bucket's (prefixed) objects, never the bucket itself.
LARGE_BODY_OBJECTS = "${module.large_bodies.bucket_arn}/${var.large_body_prefix}*"
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
KMS_KEY_VIA = {"ssm": "${module.secret.kms_key_arn}", "dynamodb": "${module.outbox.kms_key_arn}",
               "s3": "${module.outbox.kms_key_arn}"}

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
            else:
                assert action in RESOURCE_OF, f"{fn}: unexpected action {action}"
                expected = RESOURCE_OF[action]
                # The queue list is one expression (a list already); every other resource is a single ARN.
                expected = expected if expected == QUEUES else [expected]
                assert s["resources"] == expected, f"{fn} {action}: on {s['resources']}"


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
    assert routed["source"] == "../../modules/sqs-with-dlq"
    assert routed["fifo"] == "${each.value.fifo}"
    routes_json = example.locals["routes_json"]
    assert routes_json.startswith("${jsonencode([for r in var.routes : {"), routes_json
    assert "queue_url = module.routed_queue[r.name].queue_url}" in routes_json, routes_json
    assert example.locals["queue_arns"] == QUEUES
    for fn in FUNCTIONS:
        assert example.environment(fn)["ROUTES"] == routes_json
        sends = [s for s in statements(example, fn) if "sqs:SendMessage" in s["actions"]]
        assert [s["resources"] for s in sends] == [QUEUES], f"{fn}: SendMessage on {sends}"


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_large_body_actions_are_exactly_the_codes_and_on_the_bucket_objects_only(fn, example):
    """LARGE_BODY_IAM_ACTIONS (the S3 claim check) are granted in one statement on the bucket's objects,
    with the table's key through S3 for their encryption."""
    code = set(rust_str_array(LIB_RS[fn], "LARGE_BODY_IAM_ACTIONS"))
    assert code, f"{fn}: LARGE_BODY_IAM_ACTIONS is empty"
    s3 = [s for s in statements(example, fn) if any(a.startswith("s3:") for a in s["actions"])]
    assert [set(s["actions"]) for s in s3] == [code], f"{fn}: {s3}"
    assert s3[0]["resources"] == [LARGE_BODY_OBJECTS]
    via_s3 = [s for s in statements(example, fn)
              if any(c["variable"] == "kms:ViaService" and c["values"][0].startswith("s3.")
                     for c in s.get("conditions", []))]
    assert [set(s["actions"]) for s in via_s3] == [{"kms:Decrypt", "kms:GenerateDataKey"}], f"{fn}: {via_s3}"


def test_the_bucket_expires_only_sent_bodies_and_outlives_every_message(example, modules):
    """The lifecycle rule expires objects tagged sent only (the tag the code writes after the mark), after
    the row's retention plus the main queue's and the DLQ's retention; the bucket is KMS-encrypted with the
    stack's key, private, and TLS-only; the functions get its name and key."""
    text = (ROOT / "shared" / "src" / "large_body.rs").read_text(encoding="utf-8")
    tag = re.search(r'pub const STATE_TAG: &str = "([^"]+)"', text).group(1)
    sent = re.search(r'pub const STATE_SENT: &str = "([^"]+)"', text).group(1)
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
    call = example.modules["large_bodies"]
    assert call["kms_key_arn"] == "${module.outbox.kms_key_arn}"
    assert call["expire_sent_after_days"] == "${local.large_body_expiry_days}"
    expiry = example.locals["large_body_expiry_days"]
    for part in ("var.retention_days", "module.queue.message_retention_seconds",
                 "module.queue.dlq_message_retention_seconds"):
        assert part in expiry, expiry
    for fn in FUNCTIONS:
        env = example.environment(fn)
        assert env["LARGE_BODY_BUCKET"] == "${module.large_bodies.bucket_name}"
        assert env["LARGE_BODY_KMS_KEY"] == "${module.outbox.kms_key_arn}"

"""scripts/localstack.py (the local stack) and Terraform create the same table, index, TTL and queues."""
import pytest

from conftest import localstack_constants

LS = localstack_constants()


def test_localstack_constants_were_found():
    for name in ("TABLE_HASH_KEY", "TTL_ATTRIBUTE", "UNSENT_INDEX", "UNSENT_INDEX_HASH_KEY",
                 "UNSENT_INDEX_RANGE_KEY", "UNSENT_INDEX_PROJECTION", "MAX_RECEIVE_COUNT",
                 "QUEUE_VISIBILITY_TIMEOUT_SECS", "QUEUE_RETENTION_SECS", "DLQ_RETENTION_SECS",
                 "MAX_MESSAGE_BYTES"):
        assert name in LS, f"scripts/localstack.py no longer defines {name}"


@pytest.fixture(scope="module")
def table(modules):
    return modules["outbox-table"].of_type("aws_dynamodb_table")["outbox"]


def test_table_key(table):
    attributes = {a["name"]: a["type"] for a in table["attribute"]}
    assert table["hash_key"] == LS["TABLE_HASH_KEY"]
    assert "range_key" not in table
    assert attributes == {LS["TABLE_HASH_KEY"]: "S", LS["UNSENT_INDEX_HASH_KEY"]: "S",
                          LS["UNSENT_INDEX_RANGE_KEY"]: "N"}
    assert table["billing_mode"] == "PAY_PER_REQUEST"


def test_unsent_index(table):
    [gsi] = table["global_secondary_index"]
    assert gsi["name"] == LS["UNSENT_INDEX"]
    assert gsi["hash_key"] == LS["UNSENT_INDEX_HASH_KEY"]
    assert gsi["range_key"] == LS["UNSENT_INDEX_RANGE_KEY"]
    assert gsi["projection_type"] == LS["UNSENT_INDEX_PROJECTION"]


def test_ttl_pitr_encryption_protection(table, modules):
    [ttl] = table["ttl"]
    assert ttl == {"attribute_name": LS["TTL_ATTRIBUTE"], "enabled": True}
    assert table["point_in_time_recovery"] == [{"enabled": True}]
    [sse] = table["server_side_encryption"]
    assert sse["enabled"] is True and sse["kms_key_arn"] == "${aws_kms_key.table.arn}"
    assert table["deletion_protection_enabled"] == "${var.deletion_protection}"
    assert modules["outbox-table"].var_default("deletion_protection") is True
    assert modules["outbox-table"].of_type("aws_kms_key")["table"]["enable_key_rotation"] is True


def _queue_setting(example, modules, name):
    """The value the example root gets: its override if any, else the module default."""
    return example.modules["queue"].get(name, modules["sqs-with-dlq"].var_default(name))


@pytest.mark.parametrize("variable,constant", [
    ("max_receive_count", "MAX_RECEIVE_COUNT"),
    ("visibility_timeout_seconds", "QUEUE_VISIBILITY_TIMEOUT_SECS"),
    ("message_retention_seconds", "QUEUE_RETENTION_SECS"),
    ("dlq_message_retention_seconds", "DLQ_RETENTION_SECS"),
    ("max_message_size", "MAX_MESSAGE_BYTES"),
])
def test_queue_settings(example, modules, variable, constant):
    assert _queue_setting(example, modules, variable) == LS[constant]


def test_queues_use_the_settings(modules):
    queues = modules["sqs-with-dlq"].of_type("aws_sqs_queue")
    main, dlq = queues["main"], queues["dlq"]
    assert main["max_message_size"] == dlq["max_message_size"] == "${var.max_message_size}"
    assert main["visibility_timeout_seconds"] == "${var.visibility_timeout_seconds}"
    assert main["message_retention_seconds"] == "${var.message_retention_seconds}"
    assert dlq["message_retention_seconds"] == "${var.dlq_message_retention_seconds}"
    assert "maxReceiveCount = var.max_receive_count" in main["redrive_policy"]
    assert "deadLetterTargetArn = aws_sqs_queue.dlq.arn" in main["redrive_policy"]
    assert main["sqs_managed_sse_enabled"] is True and dlq["sqs_managed_sse_enabled"] is True


def test_local_bucket_expires_only_sent_bodies_like_the_code_tags_them(modules):
    """The local stack's large-body bucket uses the tag the code writes and the Terraform module filters on."""
    import re
    from conftest import ROOT
    text = (ROOT / "shared" / "src" / "large_body.rs").read_text(encoding="utf-8")
    assert LS["LARGE_BODY_STATE_TAG"] == re.search(r'pub const STATE_TAG: &str = "([^"]+)"', text).group(1)
    assert LS["LARGE_BODY_SENT"] == re.search(r'pub const STATE_SENT: &str = "([^"]+)"', text).group(1)
    [lifecycle] = modules["large-body-bucket"].of_type("aws_s3_bucket_lifecycle_configuration").values()
    tags = [r["filter"][0]["tag"][0] for r in lifecycle["rule"] if r.get("expiration")]
    assert tags == [{"key": LS["LARGE_BODY_STATE_TAG"], "value": LS["LARGE_BODY_SENT"]}]
    # RETENTION_DAYS' code default, plus the queue's and the DLQ's retention.
    expiry = LS["RETENTION_DAYS"] + (LS["QUEUE_RETENTION_SECS"] + LS["DLQ_RETENTION_SECS"]) // 86400
    assert (LS["RETENTION_DAYS"], expiry) == (14, 32)


def test_the_deployed_stack_admits_the_bodies_the_local_stack_admits(example, root):
    """make up (scripts/stack.sh) and the Terraform example default to the same MAX_BODY_BYTES, and both
    have the large-body bucket that makes a body that size admissible: a deployment answers 413 to no
    body that passes locally."""
    import re
    from conftest import ROOT
    stack = (ROOT / "scripts" / "stack.sh").read_text(encoding="utf-8")
    local = re.search(r"^MAX_BODY_BYTES=\$\{MAX_BODY_BYTES:-(\d+)\}$", stack, re.M)
    assert local, "scripts/stack.sh no longer defaults MAX_BODY_BYTES"
    assert re.search(r"^LARGE_BODY_BUCKET=\S", stack, re.M), "the local stack runs without a bucket"
    assert f'max_body_bytes = optional(string, "{local.group(1)}")' in example.variables["settings"]["type"]
    assert f'max_body_bytes = optional(string, "{local.group(1)}")' in root.variables["sources"]["type"]
    for fn in ("ingress", "sweeper"):
        assert example.environment(fn)["LARGE_BODY_BUCKET"] == "${var.shared.large_body_bucket_name}"
    assert example.environment("ingress")["MAX_BODY_BYTES"] == "${var.settings.max_body_bytes}"

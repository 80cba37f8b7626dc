"""The on-call policies of each source (terraform/modules/webhook-source/oncall.tf) grant exactly what
outboxctl calls: the read-only one OUTBOXCTL_READ_ONLY_IAM_ACTIONS, the repair one OUTBOXCTL_IAM_ACTIONS,
each action on exactly its resource, rows of the source only where IAM can tell them apart, KMS only
through the service that needs it, the shared secrets key for the source's own parameters only."""
from conftest import ROOT, rust_str_array

LIB_RS = ROOT / "outboxctl" / "src" / "lib.rs"
KMS = {"kms:Decrypt", "kms:GenerateDataKey"}

FUNCTION = ["${module.ingress.function_arn}", "${module.ingress.function_arn}:*"]
TABLE = ["${var.shared.table_arn}"]
# Every queue and every DLQ, the routed ones (ROUTES) included: status, resend, replay and the DLQ
# commands reach each of them.
QUEUES = ["${local.queue_arns}"]
DLQS = ["${local.dlq_arns}"]
RESOURCES_OF = {
    "lambda:GetFunctionConfiguration": FUNCTION,
    "lambda:GetFunctionUrlConfig": FUNCTION,
    "dynamodb:Query": ["${var.shared.unsent_index_arn}"],
    "dynamodb:GetItem": TABLE,
    "dynamodb:BatchGetItem": TABLE,
    "dynamodb:Scan": TABLE,
    "dynamodb:UpdateItem": TABLE,
    "dynamodb:PutItem": TABLE,
    "sqs:GetQueueAttributes": ["${concat(local.queue_arns, local.dlq_arns)}"],
    "sqs:GetQueueUrl": ["${concat(local.queue_arns, local.dlq_arns)}"],
    "sqs:ReceiveMessage": DLQS,
    "sqs:ChangeMessageVisibility": DLQS,
    "sqs:DeleteMessage": DLQS,
    "sqs:StartMessageMoveTask": DLQS,
    "sqs:SendMessage": QUEUES,
    "ssm:GetParameter": ["${module.secret.parameter_arn}"],
    "s3:GetObject": ["${local.large_body_objects}"],
    "s3:PutObject": ["${local.large_body_objects}"],
    "s3:PutObjectTagging": ["${local.large_body_objects}"],
}
# Statements whose action is granted on another resource than RESOURCES_OF's, by sid: backfill's own
# credential, which only the repair policy may read.
RESOURCES_OF_SID = {
    "BackfillCredential": ["${statement.value.parameter_arn}"],
    "BackfillCredentialKey": ["${var.shared.secrets_kms_key_arn}"],
}
KMS_KEY_VIA = {"ssm": "${var.shared.secrets_kms_key_arn}", "dynamodb": "${var.shared.table_kms_key_arn}",
               "s3": "${var.shared.table_kms_key_arn}"}
# Item calls: limited to this source's rows (`<source>:*`); Scan and Query name no item.
ITEM_CALLS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"}
OWN_ROWS = [{"test": "ForAllValues:StringLike", "variable": "dynamodb:LeadingKeys", "values": ["${var.source_name}:*"]}]


def _list(value):
    return value if isinstance(value, list) else [value]


def statements(example, name):
    doc = example.data[("aws_iam_policy_document", name)]
    found = _list(doc.get("statement", []))
    # dynamic "statement" blocks (the backfill credential's, one per credential): their content.
    for dynamic in _list(doc.get("dynamic", [])):
        found += _list(dynamic["statement"]["content"])
    for source in _list(doc.get("source_policy_documents", [])):
        found += statements(example, source.split(".")[2])
    return found


def actions(example, name):
    return {a for s in statements(example, name) for a in s["actions"]}


def test_read_only_policy_is_exactly_the_read_actions(example):
    code = set(rust_str_array(LIB_RS, "OUTBOXCTL_READ_ONLY_IAM_ACTIONS"))
    granted = actions(example, "outboxctl_read_only")
    assert granted - KMS == code, (f"Terraform grants {sorted(granted - KMS - code)} that outboxctl's reads do not "
                                   f"call; they call {sorted(code - granted)} that it does not grant")
    assert granted & KMS == {"kms:Decrypt"}, "read-only decrypts, never encrypts"


def test_repair_policy_is_exactly_every_action(example):
    code = set(rust_str_array(LIB_RS, "OUTBOXCTL_IAM_ACTIONS"))
    granted = actions(example, "outboxctl_repair")
    assert granted - KMS == code, (f"Terraform grants {sorted(granted - KMS - code)} that outboxctl does not call; "
                                   f"it calls {sorted(code - granted)} that the repair policy does not grant")
    assert set(rust_str_array(LIB_RS, "OUTBOXCTL_READ_ONLY_IAM_ACTIONS")) <= code


def test_each_action_on_exactly_its_resource(example):
    for name in ("outboxctl_read_only", "outboxctl_repair"):
        for s in statements(example, name):
            if s.get("sid") in RESOURCES_OF_SID:
                assert name == "outboxctl_repair", f"{name} {s['sid']}: the backfill credential is repair-only"
                assert _list(s["resources"]) == RESOURCES_OF_SID[s["sid"]], f"{name} {s['sid']}: {s['resources']}"
                if s["sid"] == "BackfillCredentialKey":
                    contexts = [c["values"] for c in _list(s["condition"]) if c["variable"] == "kms:EncryptionContext:PARAMETER_ARN"]
                    assert contexts == [["${statement.value.parameter_arn}"]], f"{name}: the credential's key grant is not its own"
                continue
            for action in s["actions"]:
                if action in KMS:
                    [via] = [c for c in _list(s["condition"]) if c["variable"] == "kms:ViaService"]
                    service = via["values"][0].split(".")[0]
                    assert s["resources"] == [KMS_KEY_VIA[service]], f"{name} {s['sid']}: kms on the wrong key"
                    if service == "ssm":
                        assert s["actions"] == ["kms:Decrypt"]
                        [context] = [c for c in _list(s["condition"]) if c["variable"] == "kms:EncryptionContext:PARAMETER_ARN"]
                        assert context["values"] == ["${module.secret.parameter_arn}"], f"{name} {s['sid']}: {context}"
                else:
                    assert sorted(_list(s["resources"])) == sorted(RESOURCES_OF[action]), f"{name} {action}: {s['resources']}"
                    if action in ITEM_CALLS:
                        assert _list(s.get("condition", [])) == OWN_ROWS, f"{name} {action}: not this source's rows only"


def test_the_main_queue_is_never_received_from(example):
    """Receiving from the main queue counts towards the DLQ's maxReceiveCount and hides messages from workers."""
    for s in statements(example, "outboxctl_repair"):
        if "sqs:ReceiveMessage" in s["actions"]:
            assert _list(s["resources"]) == DLQS


def test_the_dlq_list_is_every_queue_s_dlq(example):
    """dlq_arns pairs with queue_arns: the main queue's DLQ and each routed queue's, nothing else."""
    assert example.locals["dlq_arns"] == (
        "${concat([module.queue.dlq_arn], [for r in var.routes : module.routed_queue[r.name].dlq_arn])}")


def test_both_policies_are_outputs(example, root):
    assert example.outputs["outboxctl_read_only_policy_arn"]["value"] == "${aws_iam_policy.outboxctl_read_only.arn}"
    assert example.outputs["outboxctl_repair_policy_arn"]["value"] == "${aws_iam_policy.outboxctl_repair.arn}"
    assert "s.outboxctl_repair_policy_arn" in root.outputs["outboxctl_repair_policy_arns"]["value"]
    assert "s.outboxctl_read_only_policy_arn" in root.outputs["outboxctl_read_only_policy_arns"]["value"]

"""Least privilege: each function's role allows exactly the actions its code calls (IAM_ACTIONS), each on
exactly its resource, plus the documented extras that AWS services use on the function's behalf."""
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
RESOURCE_OF = {
    "dynamodb:PutItem": TABLE,
    "dynamodb:UpdateItem": TABLE,
    "dynamodb:DescribeTable": TABLE,
    "dynamodb:BatchGetItem": TABLE,
    "dynamodb:Query": INDEX,
    "sqs:SendMessage": QUEUES,
    "sqs:GetQueueAttributes": QUEUES,
    "ssm:GetParameter": PARAMETER,
}
KMS_KEY_VIA = {"ssm": "${module.secret.kms_key_arn}", "dynamodb": "${module.outbox.kms_key_arn}"}

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
    code = set(rust_str_array(LIB_RS[fn], "IAM_ACTIONS"))
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

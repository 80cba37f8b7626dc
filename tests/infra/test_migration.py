"""Moving a one-source deployment to the multi-source layout (docs/deploy.md section 13): every `moved`
block's destination and every `terraform state mv` destination is a module or resource of the new layout,
and the table keeps the name it had (`<name>-outbox`), so nothing that holds events is replaced."""
import re

import hcl2

from conftest import MODULES, ROOT, TfDir

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## 13. Moving a one-source deployment"):]


def _resolve(address, root):
    """Walk `module.a["k"].module.b.aws_x.y` through the module calls from the example root: the resource
    or module call it names, or None."""
    tf, parts = root, re.findall(r'module\.(\w+)(?:\["[^"]+"\])?|(\w+)\.(\w+)', address)
    for i, (module, rtype, rname) in enumerate(parts):
        if module:
            if module not in tf.modules:
                return None
            if i == len(parts) - 1:
                return tf.modules[module]
            tf = TfDir((tf.path / tf.modules[module]["source"]).resolve())
        else:
            return tf.resources.get((rtype, rname))
    return None


def test_every_moved_destination_exists_in_the_new_layout(root):
    [block] = [b for b in re.findall(r"```hcl\n(.*?)```", SECTION, re.S) if "moved {" in b]
    moves = hcl2.loads(block)["moved"]
    assert len(moves) >= 10
    for move in moves:
        target = move["to"].strip("${}")
        assert _resolve(target, root) is not None, f"moved to {target}, which the new layout does not have"


def test_every_state_mv_destination_exists(root):
    mvs = re.findall(r"terraform state mv (\S+) (\S+)", SECTION)
    assert mvs
    for _, target in mvs:
        assert _resolve(target, root) is not None, target


def test_the_table_keeps_its_name_and_cannot_be_replaced(root):
    shared = TfDir(MODULES / "webhook-shared")
    assert shared.modules["outbox"]["name"] == "${var.name}-outbox"
    table = TfDir(MODULES / "outbox-table").resources[("aws_dynamodb_table", "outbox")]
    assert table["lifecycle"][0]["prevent_destroy"] is True
    assert 'name_prefix               = "webhook-marketplace"' in SECTION
    assert "adopt_existing_parameters = true" in SECTION

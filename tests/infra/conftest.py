"""Shared helpers for the infrastructure checks (scripts/check-infra.sh runs them).

They read the Terraform (python-hcl2), the lambroll function.json files, the Rust constants
(`ENV_VARS`, `IAM_ACTIONS`, `LOCAL_ONLY_ENV_VARS`) and scripts/localstack.py (with `ast`, so boto3 is not
needed) and check that all of them describe the same system.
"""
import ast
import json
import re
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
EXAMPLE = TERRAFORM / "examples" / "webhook-ingress"
MODULES = TERRAFORM / "modules"

_OPTS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def all_tf_files():
    return sorted(TERRAFORM.rglob("*.tf"))


def load_tf_file(path):
    with open(path, encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=_OPTS)


class TfDir:
    """Every block of one Terraform directory (module), merged over its .tf files."""

    def __init__(self, path):
        self.path = Path(path)
        self.resources = {}  # (type, name) -> body
        self.data = {}
        self.modules = {}  # name -> body
        self.variables = {}
        self.locals = {}
        self.outputs = {}
        for tf in sorted(self.path.glob("*.tf")):
            doc = load_tf_file(tf)
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.resources[(rtype, name)] = body
            for block in doc.get("data", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.data[(rtype, name)] = body
            for kind, target in (("module", self.modules), ("variable", self.variables),
                                 ("output", self.outputs)):
                for block in doc.get(kind, []):
                    target.update(block)
            for block in doc.get("locals", []):
                self.locals.update(block)

    def of_type(self, rtype):
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def var_default(self, name):
        return self.variables[name].get("default")


@pytest.fixture(scope="session")
def example():
    return TfDir(EXAMPLE)


@pytest.fixture(scope="session")
def modules():
    return {p.name: TfDir(p) for p in sorted(MODULES.iterdir()) if p.is_dir()}


# --- Rust constants -------------------------------------------------------------------------------------

def rust_str_array(path, const):
    """The strings of `pub const CONST: &[&str] = &[ "A", "B", ... ];` in a Rust file.

    Fails (not skips) with a readable message when the file or the constant is missing.
    """
    path = Path(path)
    rel = path.relative_to(ROOT)
    if not path.exists():
        pytest.fail(f"{rel} does not exist: the crate must expose `pub const {const}: &[&str]` there "
                    f"(DESIGN.md section 12, issue 4)")
    text = path.read_text(encoding="utf-8")
    m = re.search(r"pub\s+const\s+" + re.escape(const) + r"\s*:\s*&(?:'static\s+)?\[\s*&(?:'static\s+)?str\s*\]"
                  r"\s*=\s*&\[(.*?)\]\s*;", text, re.S)
    if not m:
        pytest.fail(f"{rel}: no `pub const {const}: &[&str] = &[...];` found")
    body = "\n".join(line.split("//", 1)[0] for line in m.group(1).splitlines())
    values = re.findall(r'"([^"\\]*)"', body)
    if not values:
        pytest.fail(f"{rel}: {const} is empty")
    if len(values) != len(set(values)):
        pytest.fail(f"{rel}: {const} has duplicates: {values}")
    return values


def rust_str_array_optional(path, const):
    """Like rust_str_array, but [] when the file exists without the constant (e.g. LOCAL_ONLY_ENV_VARS)."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if not re.search(r"pub\s+const\s+" + re.escape(const) + r"\b", text):
        return []
    return rust_str_array(path, const)


# --- function.json ---------------------------------------------------------------------------------------

def function_json(relpath):
    path = ROOT / relpath
    if not path.exists():
        pytest.fail(f"{relpath} does not exist")
    return json.loads(path.read_text(encoding="utf-8"))


# --- scripts/localstack.py constants, without importing it (it imports boto3 at the top) ----------------

def localstack_constants():
    tree = ast.parse((ROOT / "scripts" / "localstack.py").read_text(encoding="utf-8"))
    consts = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper():
                try:
                    consts[name] = eval(compile(ast.Expression(node.value), "localstack.py", "eval"), {})
                except Exception:  # noqa: BLE001 - only literal arithmetic is of interest
                    pass
    return consts

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
# Where one source's functions, queues and policies are declared (the example root calls it per source).
SOURCE = MODULES / "webhook-source"

_OPTS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def all_tf_files():
    return sorted(TERRAFORM.rglob("*.tf"))


def load_tf_file(path):
    with open(path, encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=_OPTS)


class TfDir:
    """Every block of one Terraform directory (module), merged over its .tf files."""

    def __init__(self, path):
        self.path = Path(path).resolve()
        self.resources = {}  # (type, name) -> body
        self.data = {}
        self.modules = {}  # name -> body
        self.variables = {}
        self.locals = {}
        self.outputs = {}
        self.moved = []  # [{"from": "${addr}", "to": "${addr}"}]
        self.checks = []  # check blocks' bodies
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
            self.moved += doc.get("moved", [])
            for block in doc.get("check", []):
                self.checks += list(block.values())

    def of_type(self, rtype):
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def call(self, name):
        """The arguments of `module "NAME"`, with references to locals (and merges of them) resolved."""
        return self.resolve(self.modules[name])

    def environment(self, name):
        env = self.call(name)["environment"]
        assert isinstance(env, dict), f"{self.path}: module.{name}.environment is not resolvable: {env!r}"
        return env

    def policy_statements(self, name):
        statements = self.call(name)["policy_statements"]
        for s in statements:
            assert isinstance(s, dict), f"{self.path}: module.{name} policy statement not resolvable: {s!r}"
        return statements

    def var_default(self, name):
        return self.variables[name].get("default")

    def instances(self, rtype):
        """The resources of rtype by address: `name`, or `name["key"]` for each instance of a resource with
        `for_each = { for x in local.LIST : x.KEY => x }` (or `=> merge(local.DEFAULTS, x)`), with
        `each.key` and `each.value.ATTR` resolved as Terraform would."""
        found = {}
        for name, body in self.of_type(rtype).items():
            if "for_each" not in body:
                found[name] = body
                continue
            body = dict(body)
            for key, value in self._for_each(body.pop("for_each")).items():
                found[f'{name}["{key}"]'] = {attr: _substitute_each(v, key, value) for attr, v in body.items()}
        return found

    def resolve(self, value):
        """value with `${local.NAME}` and `${merge(...)}` of locals and object literals resolved (recursively)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if not isinstance(value, str) or not (value.startswith("${") and value.endswith("}")):
            return value
        expr = value[2:-1].strip()
        if m := re.fullmatch(r"local\.(\w+)", expr):
            return self.resolve(self.locals[m.group(1)])
        if m := re.fullmatch(r"merge\((.*)\)", expr, re.S):
            merged = {}
            for arg in _split_args(m.group(1)):
                part = self.resolve(_literal(arg))
                assert isinstance(part, dict), f"{self.path}: cannot resolve merge argument {arg!r}"
                merged.update(part)
            return merged
        return value

    def _for_each(self, expr):
        m = re.fullmatch(r"\$\{\{for (\w+) in local\.(\w+) : \1\.(\w+) => (?:\1|merge\(local\.(\w+), \1\))\}\}",
                         expr)
        assert m, f"{self.path}: for_each {expr!r} is not of a form the tests resolve"
        _, items, key_attr, defaults = m.groups()
        defaults = self.resolve(self.locals[defaults]) if defaults else {}
        result = {}
        for item in self.resolve(self.locals[items]):
            key = item[key_attr]
            assert key not in result, f"{self.path}: for_each key {key!r} twice"
            result[key] = {**defaults, **item}
        return result


def _literal(text):
    """An HCL expression as python-hcl2 gives it: a nested `${...}` reference or a parsed literal."""
    text = text.strip()
    if text.startswith(("{", "[")):
        return hcl2.loads(f"x = {text}\n", serialization_options=_OPTS)["x"]
    return "${" + text + "}"


def _split_args(text):
    """Split a function's argument list at its top-level commas."""
    args, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"' and text[i - 1] != "\\":
            quoted = not quoted
        elif not quoted and ch in "{[(":
            depth += 1
        elif not quoted and ch in "}])":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            args.append(text[start:i]); start = i + 1
    args.append(text[start:])
    return [a for a in (a.strip() for a in args) if a]


def _substitute_each(value, key, item):
    """value with `each.key` and `each.value.ATTR` replaced by this instance's key and item."""
    if isinstance(value, list):
        return [_substitute_each(v, key, item) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_each(v, key, item) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    if m := re.fullmatch(r"\$\{each\.value\.(\w+)\}", value):
        assert m.group(1) in item, f"for_each item {key!r} has no {m.group(1)!r}"
        return item[m.group(1)]
    if value == "${each.key}":
        return key

    def inline(m):
        v = key if m.group(1) == "key" else item[m.group(2)]
        assert isinstance(v, (str, int, float)), f"each.{m.group(0)} is not a string or number"
        return str(v)
    return re.sub(r"\$\{each\.(key|value\.(\w+))\}", inline, value)


@pytest.fixture(scope="session")
def example():
    """modules/webhook-source: one source's functions, environment, IAM, queues and on-call policies."""
    return TfDir(SOURCE)


@pytest.fixture(scope="session")
def root():
    """terraform/examples/webhook-ingress: the deployment (shared pieces, a source per map entry, CI)."""
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
        pytest.fail(f"{rel} does not exist: the crate must expose `pub const {const}: &[&str]` there")
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
    """The template's structure, each `{{ ... }}` action kept as a string: a value written bare in the
    template (MemorySize, Timeout: numbers once rendered) is quoted here so that the file parses.
    What lambroll makes of the actions is checked by test_lambroll_render.py, with Go's text/template."""
    path = ROOT / relpath
    if not path.exists():
        pytest.fail(f"{relpath} does not exist")
    text = re.sub(r'(?<!")(\{\{.*?\}\})(?!")', r'"\1"', path.read_text(encoding="utf-8"))
    return json.loads(text)


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

"""Every reference in terraform/ resolves, as `terraform validate` would check it without a provider:
each `var.X` is declared, `local.X` defined, `data.T.N` and `T.N` declared in the same module, each
`module.M.O` names a module call of the directory and an output of the module it calls, and each module
call passes only variables the module declares and every variable it requires (no default).

No terraform binary or provider can run here (scripts/check-infra.sh); this is the part of validation that
needs neither, over the files as python-hcl2 reads them."""
import re

import pytest

from conftest import ROOT, TERRAFORM, TfDir

DIRS = sorted({p.parent for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts})
META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on", "__comments__", "__inline_comments__"}
# Reference prefixes that are not declarations of the module: Terraform's own objects.
BUILTIN = {"each", "count", "self", "path", "terraform", "var", "local", "module", "data"}
REFERENCE = re.compile(r"(?<![\w.])(var|local|module|data)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?(?:\.([A-Za-z_][\w-]*))?")
RESOURCE_REFERENCE = re.compile(r"(?<![\w.])((?:aws|newrelic|archive|terraform)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _expressions(value):
    """The interpolated parts of every string: what Terraform evaluates."""
    for s in _strings(value):
        if "${" in s:
            yield s


def _everything(tf):
    """Every body of the directory (resources, data, module calls, locals, outputs, variables' validations)."""
    yield from tf.resources.values()
    yield from tf.data.values()
    yield from tf.modules.values()
    yield from tf.locals.values()
    yield from tf.outputs.values()
    for body in tf.variables.values():
        yield body.get("validation", [])
    yield from tf.checks


@pytest.fixture(scope="module")
def dirs():
    return {d: TfDir(d) for d in DIRS}


@pytest.mark.parametrize("directory", DIRS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_reference_resolves(directory, dirs):
    tf = dirs[directory]
    declared_resources = {f"{t}.{n}" for (t, n) in tf.resources}
    declared_data = {f"{t}.{n}" for (t, n) in tf.data}
    problems = []
    for body in _everything(tf):
        for expr in _expressions(body):
            for kind, name, attr, attr2 in REFERENCE.findall(expr):
                if kind == "var" and name not in tf.variables:
                    problems.append(f"var.{name} is not declared")
                elif kind == "local" and name not in tf.locals:
                    problems.append(f"local.{name} is not defined")
                elif kind == "data" and f"{name}.{attr}" not in declared_data:
                    problems.append(f"data.{name}.{attr} is not declared")
                elif kind == "module":
                    if name not in tf.modules:
                        problems.append(f"module.{name} is not called here")
                        continue
                    child = dirs[(directory / tf.modules[name]["source"]).resolve()]
                    # module.M[...].O, module.M.O, module.M[*].O: the output is the first attribute.
                    output = attr
                    if output and output not in child.outputs:
                        problems.append(f"module.{name}.{output}: {child.path.relative_to(ROOT)} has no such output")
            for rtype, name in RESOURCE_REFERENCE.findall(expr):
                if f"{rtype}.{name}" not in declared_resources:
                    problems.append(f"{rtype}.{name} is not declared")
    assert not problems, f"{directory.relative_to(ROOT)}: " + "; ".join(sorted(set(problems)))


@pytest.mark.parametrize("directory", DIRS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_module_call_matches_the_module(directory, dirs):
    tf = dirs[directory]
    for name, call in tf.modules.items():
        child = dirs[(directory / call["source"]).resolve()]
        passed = set(call) - META_ARGUMENTS
        unknown = passed - set(child.variables)
        assert not unknown, f"module.{name} passes {sorted(unknown)}, which {child.path.relative_to(ROOT)} does not declare"
        required = {v for v, body in child.variables.items() if "default" not in body}
        missing = required - passed
        assert not missing, f"module.{name} does not pass {sorted(missing)}, which {child.path.relative_to(ROOT)} requires"


def test_the_checker_finds_what_it_looks_for(dirs):
    """The patterns see real references: the lambda module's role is referenced, its variables used."""
    lambda_dir = dirs[(TERRAFORM / "modules" / "lambda").resolve()]
    found = {m for body in _everything(lambda_dir) for e in _expressions(body) for m in RESOURCE_REFERENCE.findall(e)}
    assert ("aws_iam_role", "this") in found
    bad = "${var.nope} ${module.x.y} ${aws_s3_bucket.none.arn}"
    assert REFERENCE.findall(bad)[0][:2] == ("var", "nope") and RESOURCE_REFERENCE.findall(bad) == [("aws_s3_bucket", "none")]

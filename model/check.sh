#!/usr/bin/env bash
# Model-checks model/outbox.pml with spin: the real protocol in every configuration (no
# counterexample allowed), and every known-wrong variant (a counterexample required). Prints, per
# check, the verdict, the states stored, the search depth and the time; exits 1 if any check does
# not end as expected. Trails of the counterexamples are kept in model/out/ (replay command
# printed). docs/MODEL.md explains the configurations, the bounds and what is proven.
set -euo pipefail
cd "$(dirname "$0")"

for tool in spin cc; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool is missing (make model installs it)" >&2; exit 1; }
done

out=out
rm -rf "$out"
mkdir -p "$out"
# Hard cap per pan run (MB): the machine is shared and CI has 2 cores; the largest check needs ~250.
memlim=1024
failed=0

# check NAME EXPECT MODE DEFINES...
#   EXPECT: pass | counterexample;  MODE: safety (assertions, invalid end states) | liveness (LTL p1,
#   weak fairness). DEFINES go to spin and to the C compiler alike.
check() {
  local name=$1 expect=$2 mode=$3
  shift 3
  local dir="$out/$name"
  mkdir -p "$dir"
  cp outbox.pml "$dir/"
  # -O0: compiling pan.c takes longer than any of these searches at -O2.
  local cflags=(-O0 -w -DVECTORSZ=512 -DCOLLAPSE "-DMEMLIM=$memlim")
  local runflags=(-m200000)
  if [[ $mode == safety ]]; then
    cflags+=(-DSAFETY)
  else
    cflags+=(-DNOREDUCE -DNFAIR=4)
    runflags+=(-a -f)
  fi
  local started=$SECONDS
  if ! (cd "$dir" && spin -a "$@" outbox.pml >spin.log 2>&1 && cc "${cflags[@]}" -o pan pan.c >cc.log 2>&1); then
    echo "FAIL  $name: spin or cc failed, see model/$dir/spin.log and cc.log"
    failed=1
    return
  fi
  # pan exits non-zero when it finds a counterexample: the log says what it found.
  (cd "$dir" && ./pan "${runflags[@]}" >pan.log 2>&1) || true
  local log="$dir/pan.log"
  local errors states depth seconds
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | head -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" | head -1)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log" | head -1)
  seconds=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds/\1/p' "$log" | head -1)
  local figures
  figures=$(printf 'states %9s  depth %4s  pan %5ss  total %3ss' "${states:-?}" "${depth:-?}" "${seconds:-?}" $((SECONDS - started)))
  # A "pass" must come from a complete search: no truncation by depth or memory.
  if [[ -z $errors ]] || { [[ $errors == 0 ]] && grep -qE 'out of memory|max search depth too small|Search not completed' "$log"; }; then
    echo "FAIL  $name: the search did not complete, see model/$log"
    failed=1
    return
  fi
  if [[ $expect == pass && $errors == 0 ]]; then
    echo "ok    $name: no counterexample   $figures"
  elif [[ $expect == counterexample && $errors != 0 ]]; then
    local what
    what=$(grep -m1 -oE 'assertion violated .*|acceptance cycle .*|invalid end state .*' "$log" || echo "?")
    echo "ok    $name: counterexample found   $figures"
    echo "        $what; replay: (cd model/$dir && spin -t -p $* outbox.pml)"
  else
    echo "FAIL  $name: expected $expect, pan reported $errors error(s)   $figures; see model/$log"
    failed=1
  fi
}

echo "spin $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p'): the real protocol (no counterexample allowed)"
one_source=(-DSWEEPERS_A=2 -DDUPLICATE_DELIVERY -DMAX_FAULTS=4 -DMAX_CRASHES=2)
two_sources=(-DSWEEPERS_A=1 -DWITH_SOURCE_B -DMAX_FAULTS=3 -DMAX_CRASHES=1)
two_sources_stray=("${two_sources[@]}" -DSTRAY_INDEX_ENTRIES)
conflict_any_ttl=(-DSWEEPERS_A=2 -DCONFLICTING_BODY -DMAX_FAULTS=3 -DMAX_CRASHES=1)
conflict=("${conflict_any_ttl[@]}" -DRETENTION_OUTLIVES_PROCESSES)
oncall=(-DSWEEPERS_A=1 -DWITH_ONCALL -DMAX_FAULTS=3 -DMAX_CRASHES=1)
live=(-DLIVENESS -DSWEEPERS_A=2 -DWITH_ONCALL -DMAX_FAULTS=2 -DMAX_CRASHES=1)
check one-source pass safety "${one_source[@]}"
check two-sources pass safety "${two_sources_stray[@]}"
check conflicting-body pass safety "${conflict[@]}"
check on-call pass safety "${oncall[@]}"
check liveness-p1 pass liveness "${live[@]}"

echo "known-wrong variants (a counterexample required)"
check wrong-mark-before-send counterexample safety "${one_source[@]}" -DWRONG_MARK_BEFORE_SEND
check wrong-ttl-at-insert counterexample safety "${one_source[@]}" -DWRONG_TTL_AT_INSERT
check wrong-unconditional-mark counterexample safety "${one_source[@]}" -DWRONG_UNCONDITIONAL_MARK
check wrong-2xx-when-nothing-took-it counterexample safety "${one_source[@]}" -DWRONG_2XX_WHEN_NOTHING_TOOK_IT
check wrong-sourceless-index counterexample safety "${two_sources[@]}" -DWRONG_SOURCELESS_INDEX
check wrong-redrive-delete-first counterexample safety "${oncall[@]}" -DWRONG_REDRIVE_DELETE_FIRST
check wrong-no-sweeper counterexample liveness -DLIVENESS -DSWEEPERS_A=0 -DMAX_FAULTS=2 -DMAX_CRASHES=1

echo "known gaps of the real protocol (a counterexample expected until closed; see docs/MODEL.md)"
check gap-first-body-without-outbox counterexample safety "${conflict[@]}" -DSTRICT_FIRST_BODY
check gap-mark-sent-outlives-retention counterexample safety "${conflict_any_ttl[@]}"
check gap-discarded-event-redelivered counterexample safety "${oncall[@]}" -DDUPLICATE_DELIVERY -DDISCARD_IS_FINAL

if [[ $failed != 0 ]]; then
  echo "model check FAILED" >&2
  exit 1
fi
echo "model check passed"

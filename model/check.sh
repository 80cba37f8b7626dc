#!/usr/bin/env bash
# Model-checks model/outbox.pml (and model/reconciler.pml, the scheduled reconciler) with spin: the real protocol in every configuration (no
# counterexample allowed), every known-wrong variant (a counterexample required), and the known
# gap of the real protocol (a counterexample expected until it is closed). Prints, per check,
# the verdict, the states stored, the search depth and the time; exits 1 if any check does not end
# as expected. Trails of the counterexamples stay in model/out/ (the replay command is printed).
# docs/MODEL.md explains the configurations, the bounds and what is proven.
set -euo pipefail
cd "$(dirname "$0")"

for tool in spin cc; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool is missing (make model installs it)" >&2; exit 1; }
done

out=out
rm -rf "$out"
mkdir -p "$out"
# Per pan run (MB): the largest check needs about 200; the machine may be shared.
memlim=1024
# Checks run side by side, one per core (CI has 2).
jobs=$(nproc 2>/dev/null || echo 2)
started_all=$SECONDS

# check NAME EXPECT MODE DEFINES... writes its verdict to out/NAME/report and out/NAME/failed.
#   EXPECT: pass | counterexample;  MODE: safety (assertions, invalid end states) | liveness (LTL p1,
#   weak fairness). DEFINES go to spin and to the C compiler alike.
check() {
  local name=$1 expect=$2 mode=$3
  shift 3
  local dir="$out/$name"
  local report="$dir/report"
  # A complete search (expect pass) runs about twice as fast compiled at -O1, which compiles in
  # well under a second of CPU (-O2 takes twice that and searches little faster); a counterexample
  # is found sooner than that.
  local optimize=-O0
  [[ $expect == counterexample ]] || optimize=-O1
  local cflags=("$optimize" -w -DVECTORSZ=512 -DCOLLAPSE "-DMEMLIM=$memlim")
  local runflags=(-m200000 -w22)
  if [[ $mode == safety ]]; then
    cflags+=(-DSAFETY)
  else
    cflags+=(-DNOREDUCE -DNFAIR=4)
    runflags+=(-a -f)
  fi
  local started=$SECONDS
  local model=${MODEL:-outbox.pml}
  if ! (cd "$dir" && spin -a "$@" "$model" >spin.log 2>&1 && cc "${cflags[@]}" -o pan pan.c >cc.log 2>&1); then
    echo "FAIL  $name: spin or cc failed, see model/$dir/spin.log and cc.log" >"$report"
    touch "$dir/failed"
    return
  fi
  # pan exits non-zero when it finds a counterexample: its log says what it found.
  (cd "$dir" && ./pan "${runflags[@]}" >pan.log 2>&1) || true
  local log="$dir/pan.log"
  local errors states depth seconds figures
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | head -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" | head -1)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log" | head -1)
  seconds=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds/\1/p' "$log" | head -1)
  figures=$(printf 'states %8s  depth %3s  search %5ss  with compile %3ss' \
    "${states:-?}" "${depth:-?}" "${seconds:-?}" $((SECONDS - started)))
  # A "no counterexample" must come from a complete search: no truncation by depth or memory.
  if [[ -z $errors ]] || { [[ $errors == 0 ]] && grep -qE 'out of memory|max search depth too small|Search not completed' "$log"; }; then
    echo "FAIL  $name: the search did not complete, see model/$log" >"$report"
    touch "$dir/failed"
  elif [[ $expect == pass && $errors == 0 ]]; then
    printf '%-6s%-36s%-26s%s\n' ok "$name" "no counterexample" "$figures" >"$report"
  elif [[ $expect == counterexample && $errors != 0 ]]; then
    local what
    what=$(grep -m1 -oE 'assertion violated .*|acceptance cycle .*|invalid end state .*' "$log" || echo "?")
    {
      printf '%-6s%-36s%-26s%s\n' ok "$name" "counterexample found" "$figures"
      echo "        $what"
      echo "        replay: (cd model/$dir && spin -t -p $* $model)"
    } >"$report"
  else
    echo "FAIL  $name: expected $expect, pan reported $errors error(s): $figures; see model/$log" >"$report"
    touch "$dir/failed"
  fi
}

order=()
# section TITLE: a heading in the report, in order.
section() { order+=("#$1"); }
# run NAME EXPECT MODE DEFINES...: starts a check, at most $jobs at once.
run() {
  mkdir -p "$out/$1"
  cp "${MODEL:-outbox.pml}" "$out/$1/"
  order+=("$1")
  while (($(jobs -rp | wc -l) >= jobs)); do
    wait -n || true
  done
  check "$@" &
}

one_source=(-DSWEEPERS_A=2 -DDUPLICATE_DELIVERY -DMAX_FAULTS=4 -DMAX_CRASHES=2)
two_sources=(-DSWEEPERS_A=1 -DWITH_SOURCE_B -DMAX_FAULTS=3 -DMAX_CRASHES=1)
conflict=(-DSWEEPERS_A=2 -DCONFLICTING_BODY -DMAX_FAULTS=3 -DMAX_CRASHES=1)
routes=(-DSWEEPERS_A=1 -DDUPLICATE_DELIVERY -DROUTE_MAY_CHANGE -DMAX_FAULTS=4 -DMAX_CRASHES=2)
oncall=(-DSWEEPERS_A=1 -DWITH_ONCALL -DONCALL_OPS=3 -DMAX_FAULTS=3 -DMAX_CRASHES=1)
live=(-DLIVENESS -DSWEEPERS_A=2 -DWITH_ONCALL -DMAX_FAULTS=2 -DMAX_CRASHES=1)

section "the real protocol (no counterexample allowed)"
run one-source pass safety "${one_source[@]}"
run two-sources pass safety "${two_sources[@]}" -DSTRAY_INDEX_ENTRIES
run conflicting-body pass safety "${conflict[@]}"
run route-changes pass safety "${routes[@]}"
run on-call pass safety "${oncall[@]}"
run liveness-p1 pass liveness "${live[@]}"
run liveness-unknown-route pass liveness -DLIVENESS -DSWEEPERS_A=1 -DROUTE_UNKNOWN_TO_SWEEPER -DMAX_FAULTS=2 -DMAX_CRASHES=1

section "reachability: each situation occurs in its configuration (the checks are not vacuous)"
run reach-parked counterexample safety "${one_source[@]}" -DREACH_PARKED
run reach-ttl-deleted counterexample safety "${one_source[@]}" -DREACH_TTL_DELETED
run reach-2xx-only-in-outbox counterexample safety "${one_source[@]}" -DREACH_2XX_ONLY_IN_OUTBOX
run reach-both-sources-delivered counterexample safety "${two_sources[@]}" -DSTRAY_INDEX_ENTRIES -DREACH_BOTH_SOURCES_DELIVERED
run reach-second-body-first counterexample safety "${conflict[@]}" -DREACH_SECOND_BODY_FIRST
run reach-both-bodies-queued counterexample safety "${conflict[@]}" -DREACH_BOTH_BODIES_QUEUED
run reach-newer-row counterexample safety "${conflict[@]}" -DREACH_NEWER_ROW
run reach-route-changed counterexample safety "${routes[@]}" -DREACH_ROUTE_CHANGED
run reach-discarded counterexample safety "${oncall[@]}" -DREACH_DISCARDED
run reach-discard-redelivered counterexample safety "${oncall[@]}" -DREACH_DISCARD_REDELIVERED
run reach-redriven counterexample safety "${oncall[@]}" -DREACH_REDRIVEN
run reach-parked-resent counterexample safety "${oncall[@]}" -DREACH_PARKED_RESENT

section "known-wrong variants (a counterexample required)"
run wrong-mark-before-send counterexample safety "${one_source[@]}" -DWRONG_MARK_BEFORE_SEND
run wrong-ttl-at-insert counterexample safety "${one_source[@]}" -DWRONG_TTL_AT_INSERT
run wrong-unconditional-mark counterexample safety "${one_source[@]}" -DWRONG_UNCONDITIONAL_MARK
run wrong-mark-without-received-at counterexample safety "${conflict[@]}" -DWRONG_MARK_WITHOUT_RECEIVED_AT
run wrong-drop-id-conflict counterexample safety "${conflict[@]}" -DWRONG_DROP_ID_CONFLICT
run wrong-discard-revived counterexample safety "${oncall[@]}" -DWRONG_DISCARD_REVIVED
run wrong-duplicate-recomputes-route counterexample safety "${routes[@]}" -DWRONG_DUPLICATE_RECOMPUTES_ROUTE
run wrong-2xx-when-nothing-took-it counterexample safety "${one_source[@]}" -DWRONG_2XX_WHEN_NOTHING_TOOK_IT
run wrong-sourceless-index counterexample safety "${two_sources[@]}" -DWRONG_SOURCELESS_INDEX
run wrong-no-source-recheck counterexample safety "${two_sources[@]}" -DSTRAY_INDEX_ENTRIES -DWRONG_NO_SOURCE_RECHECK
run wrong-redrive-delete-first counterexample safety "${oncall[@]}" -DWRONG_REDRIVE_DELETE_FIRST
run wrong-no-sweeper counterexample liveness -DLIVENESS -DSWEEPERS_A=0 -DMAX_FAULTS=2 -DMAX_CRASHES=1

section "the reconciler (model/reconciler.pml): every emitted event gets its row"
MODEL=reconciler.pml run reconciler pass safety
MODEL=reconciler.pml run reach-reconciler-crash-and-failure counterexample safety -DREACH_CRASH_AND_FAILURE
MODEL=reconciler.pml run wrong-checkpoint-before-recovery counterexample safety -DWRONG_ADVANCE_FIRST

section "known gap of the real protocol, the degraded mode (a counterexample expected; docs/MODEL.md)"
run gap-first-body-without-outbox counterexample safety "${conflict[@]}" -DSTRICT_FIRST_BODY

wait

failed=0
echo "spin $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p'), $jobs checks at a time"
for entry in "${order[@]}"; do
  if [[ $entry == \#* ]]; then
    echo "${entry#\#}"
    continue
  fi
  cat "$out/$entry/report" 2>/dev/null || { echo "FAIL  $entry: no report"; failed=1; }
  [[ ! -e $out/$entry/failed ]] || failed=1
done
if [[ $failed != 0 ]]; then
  echo "model check FAILED ($((SECONDS - started_all)) s)" >&2
  exit 1
fi
echo "model check passed ($((SECONDS - started_all)) s)"

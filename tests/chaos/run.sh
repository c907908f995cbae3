#!/bin/sh
# Chaos runs: run the unit suites and the stress suite (reduced sizes) of a
# WSE_CHAOS build again and again, with 1, 2, 3 and 8 workers (more
# workers than cores on purpose) and a different WSE_CHAOS_SEED every run, until
# the time budget is spent. Stops at the first failure and prints the command
# that replays it.
#
#   tests/chaos/run.sh <build-dir>/tests [budget-seconds]
#
# Environment: WSE_CHAOS_BUDGET (seconds, default 150; the argument wins),
# WSE_CHAOS_FIRST_SEED (default: from the clock), WSE_CHAOS_SUITES (the suites to
# run, default all of those below). Prints the total iterations.
# WSE_TEST_WORKERS reaches the stress suite and the unit tests that do not depend
# on the worker count (8 in check_future/check_executor; never fewer than they
# need). Tests that saturate a pool with gate tasks (the check_wait_* suites)
# keep their count, and check_loops makes its own executors of 1 to 4 workers:
# its runs differ by seed only. check_scope's races and stress case take the
# count; its rule tests keep theirs.
set -u

bindir=${1:?usage: run.sh <build-dir>/tests [budget-seconds]}
budget=${2:-${WSE_CHAOS_BUDGET:-150}}
seed=${WSE_CHAOS_FIRST_SEED:-$(date +%s)}
suites=${WSE_CHAOS_SUITES:-"check_deque check_future check_wait_rules check_wait_python check_wait_helping check_executor check_loops check_scope check_stress"}
# Stress sizes under chaos (every atomic op may yield), for every suite.
sizes="WSE_STRESS_OPS=${WSE_CHAOS_STRESS_OPS:-300000} WSE_STRESS_ROUNDS=40 WSE_STRESS_ITEMS=20000 WSE_PARK_ROUNDS=200"

for s in $suites; do
    if [ ! -x "$bindir/$s" ]; then
        echo "chaos: $bindir/$s not found (build with -DWSE_CHAOS=ON)" >&2
        exit 2
    fi
done

start=$(date +%s)
runs=0
passes=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while :; do
    for w in 1 2 3 8; do
        for s in $suites; do
            seed=$((seed + 1))
            cmd="env WSE_CHAOS_SEED=$seed WSE_TEST_WORKERS=$w CK_TIMEOUT_MULTIPLIER=4 $sizes $bindir/$s"
            t0=$(date +%s)
            if ! $cmd >"$log" 2>&1; then
                cat "$log"
                echo "chaos: FAILED after $runs runs: $s workers=$w WSE_CHAOS_SEED=$seed"
                echo "chaos: replay with: $cmd"
                exit 1
            fi
            runs=$((runs + 1))
            echo "chaos: ok $s workers=$w WSE_CHAOS_SEED=$seed ($(($(date +%s) - t0)) s)"
        done
    done
    passes=$((passes + 1))
    elapsed=$(($(date +%s) - start))
    if [ "$elapsed" -ge "$budget" ]; then
        break
    fi
done
echo "chaos: $runs runs ($passes passes over $suites with 1, 2, 3 and 8 workers)" \
     "in $elapsed s, no failure"

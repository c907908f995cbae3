#!/bin/sh
# tests/load/run.sh BUILD_DIR [SECONDS]: hunt flaky tests under CPU load.
#
# Starts one busy-loop process per CPU (WSE_LOAD_HOGS overrides the count), then runs
# rounds of `ctest -L unit` and `ctest -L '^mpi$'` on BUILD_DIR (a build configured with
# WSE_BUILD_TESTS=ON, and WSE_MPI=ON for the MPI tests) until SECONDS (default 240) are
# used: at least one full round, and no new round that would not fit, as long as the
# longest round so far. Exits 1 if any test failed in any round, and lists each failure
# with its round; 2 on a usage error.
#
# Left out:
#   - the packaging tests (label packaging, mpi_packaging): they configure, build and
#     install consumer projects and time nothing, so load tells nothing about them, and
#     they would take a third of every round;
#   - mpi_balance: it asserts a speed, an ANY_RANK batch within 1.15 x work/workers,
#     which needs free CPUs. With one task in flight per remote worker, every remote
#     task costs its worker a round trip, and under this hog the layer's round trip
#     grows from ~0.5 ms to 4-8 ms (its progress thread probes with sched_yield for
#     200 us after activity, and a yielding thread waits out a hog's time slice): the
#     batch then takes 1.3-2 x. It runs unloaded in the MPI steps of CI, unchanged.
#
# CK_TIMEOUT_MULTIPLIER is not set here. Tests scale their hang guards with it, but
# some scale a timing they assert as well (mpi_balance's slack, mpi_idle's CPU limit,
# check_helping's overshoot), which would be weakened silently; the hang guards (5 s
# to 60 s) leave room for a loaded machine. A value set by the caller is passed on.
#
# The hogs are children of this script, killed on exit (and on INT, TERM, HUP); each
# also ends by itself within a fraction of a second once this script is gone, even
# after a SIGKILL.
set -u

usage() {
    echo "usage: tests/load/run.sh BUILD_DIR [SECONDS]" >&2
    exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    usage
fi
build=$1
budget=${2:-240}
case $budget in '' | *[!0-9]*) usage ;; esac
[ -f "$build/CTestTestfile.cmake" ] || {
    echo "load: $build is not a CMake build directory with tests" >&2
    exit 2
}
hogs=${WSE_LOAD_HOGS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
case $hogs in '' | *[!0-9]*) hogs=2 ;; esac

work=$(mktemp -d) || exit 2
hog_pids=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    for p in $hog_pids; do
        kill "$p" 2>/dev/null
    done
    for p in $hog_pids; do
        wait "$p" 2>/dev/null
    done
    hog_pids=""
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A busy loop that looks every 200,000 turns whether this script still runs.
me=$$
i=0
while [ "$i" -lt "$hogs" ]; do
    # shellcheck disable=SC2016 # $1 and n are the hog's own
    sh -c 'n=0; while :; do n=$((n + 1)); if [ "$n" -ge 200000 ]; then n=0; kill -0 "$1" 2>/dev/null || exit 0; fi; done' \
        load-hog "$me" &
    hog_pids="$hog_pids $!"
    i=$((i + 1))
done
echo "load: $hogs CPU hog(s) (pids$hog_pids), budget ${budget} s, build $build"
echo "load: left out: the packaging tests; mpi_balance (asserts a speed that needs free CPUs)"
[ -n "${CK_TIMEOUT_MULTIPLIER:-}" ] && echo "load: CK_TIMEOUT_MULTIPLIER=$CK_TIMEOUT_MULTIPLIER (from the caller)"

failures="$work/failures"
: >"$failures"
t0=$(date +%s)
round=0
longest=0
while :; do
    round=$((round + 1))
    r0=$(date +%s)
    for suite in unit mpi; do
        if [ "$suite" = unit ]; then
            set -- -L unit -LE packaging
        else
            set -- -L '^mpi$' -E '^(mpi_packaging|mpi_balance_np[0-9]+)$'
        fi
        echo "load: round $round: ctest $*"
        ctest --test-dir "$build" "$@" --output-on-failure >"$work/log" 2>&1
        rc=$?
        # One line per test; all of ctest's output (the failed tests' too) on a failure.
        if [ "$rc" -eq 0 ]; then
            grep -E '^ *[0-9]+/[0-9]+ Test +#' "$work/log"
        else
            cat "$work/log"
            failed=$(sed -n '/^The following tests FAILED:/,$ s/^[[:space:]]*[0-9][0-9]* - \(.*\)$/\1/p' \
                "$work/log")
            [ -n "$failed" ] || failed="(ctest exit $rc)"
            echo "$failed" | while IFS= read -r t; do
                echo "round $round: $suite: $t" >>"$failures"
                echo "load: FAILED in round $round: $t"
            done
        fi
    done
    now=$(date +%s)
    took=$((now - r0))
    [ "$took" -gt "$longest" ] && longest=$took
    echo "load: round $round took ${took} s ($((now - t0)) s of ${budget} s)"
    [ $((now - t0 + longest)) -le "$budget" ] || break
done

echo "load: $round round(s) in $(($(date +%s) - t0)) s under $hogs CPU hog(s)"
if [ -s "$failures" ]; then
    echo "load: FAIL: $(wc -l <"$failures") failure(s):"
    cat "$failures"
    exit 1
fi
echo "load: PASS"
exit 0

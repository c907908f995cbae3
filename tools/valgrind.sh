#!/bin/sh
# Run the unit suites under valgrind memcheck; fail on any memory error or any
# definite/indirect leak.
#
#   tools/valgrind.sh BUILD_DIR [SUITE...]
#
# BUILD_DIR: a plain (unsanitized) build with the tests, e.g.
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug && cmake --build build
# SUITE: default check_deque check_future check_wait_rules check_wait_python
#   check_wait_helping check_executor.
# Check runs every test in its own process (fork mode; valgrind follows forks and
# checks leaks in each child at its exit). Stress sizes are reduced through the
# variables the suites honour (override them from the environment); Check's
# per-test timeouts are scaled by CK_TIMEOUT_MULTIPLIER. Logs: BUILD_DIR/valgrind/.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [SUITE...]" >&2; exit 2; }
build=$(cd "$1" && pwd)
shift
suites=${*:-check_deque check_future check_wait_rules check_wait_python check_wait_helping check_executor}
command -v valgrind >/dev/null 2>&1 || { echo "valgrind: not found (tools/setup.sh --verify)"; exit 2; }

export WSE_STRESS_ITEMS="${WSE_STRESS_ITEMS:-20000}"
export WSE_STRESS_ROUNDS="${WSE_STRESS_ROUNDS:-50}"
export WSE_PARK_ROUNDS="${WSE_PARK_ROUNDS:-200}"
export CK_TIMEOUT_MULTIPLIER="${CK_TIMEOUT_MULTIPLIER:-20}"
export CK_VERBOSITY="${CK_VERBOSITY:-normal}"

logs="$build/valgrind"
mkdir -p "$logs"
status=0
for suite in $suites; do
    bin=$(find "$build" -type f -name "$suite" -perm -u+x | head -n 1)
    [ -n "$bin" ] || { echo "valgrind: $suite not found under $build"; status=1; continue; }
    rm -f "$logs/$suite".*.log
    start=$(date +%s)
    rc=0
    valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=yes \
        --child-silent-after-fork=no --fair-sched=yes --num-callers=30 \
        --log-file="$logs/$suite.%p.log" "$bin" >"$logs/$suite.out" 2>&1 || rc=$?
    secs=$(( $(date +%s) - start ))
    # Each forked test writes its own log: any error summary that is not zero fails.
    bad=$(grep -lE 'ERROR SUMMARY: [1-9]' "$logs/$suite".*.log 2>/dev/null || true)
    if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
        status=1
        echo "valgrind: $suite FAILED (exit $rc, ${secs}s)"
        tail -n 20 "$logs/$suite.out"
        for f in $bad; do
            echo "--- $f"
            grep -E '^==[0-9]+== ' "$f" | head -n 60
        done
    else
        echo "valgrind: $suite passed (${secs}s, $(ls "$logs/$suite".*.log | wc -l) processes)"
    fi
done
exit "$status"

#!/usr/bin/env bash
# Check the Promela models of the park/wake handshake and the waiter latch
# (park.pml), of a waiting worker blocking with a spare (spares.pml), of a
# submission's wake meeting a retiring spare (retire.pml) and of a scope's
# owner count taken by another joiner (scope_owner.pml) with
# spin (Debian package "spin"), and check that every mutant is caught.
#
#   tests/model/run.sh [WORKDIR]
#
# Each line: expected result, spin -D flags. "pass": spin must report 0 errors
# over the whole state space; "fail": spin must find an error (the mutant's hang).
# Exits 77 (CTest: skipped) when spin is not installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v spin >/dev/null; then
    echo "model: SKIPPED: spin not found; install the Debian package 'spin'" \
        "(tools/setup.sh --verify)" >&2
    exit 77
fi

work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
cc=${CC:-cc}

# Each case: expected result, model (park.pml unless spares:), spin -D flags.
# spares.pml: a waiting worker blocking with a spare in its place (worker.c).
# retire.pml: a submission's wake taken by a spare that then retires (worker.c).
# scope_owner.pml: a scope's owner count merged by a joiner on another thread,
# across an asymmetric fence; and the owner's join closing with a plain store
# while threads outside the scope's children submit (scope.c).
cases=(
    "pass -DPARK_ONLY -DNW=2 -DNS=1"
    "pass -DPARK_ONLY -DNW=1 -DNS=2"
    "pass -DLATCH_ONLY -DNF=3"
    "fail -DPARK_ONLY -DNW=1 -DNS=1 -DNO_FENCE_PARK"
    "fail -DPARK_ONLY -DNW=1 -DNS=1 -DNO_FENCE_SUBMIT"
    "fail -DPARK_ONLY -DNW=1 -DNS=2 -DNO_FENCE_PARK"
    "fail -DPARK_ONLY -DNW=1 -DNS=2 -DNO_FENCE_SUBMIT"
    "fail -DLATCH_ONLY -DNF=2 -DCHECK_OUTSIDE_LOCK"
    "pass spares: -DSPARES"
    "fail spares: -DTRIPPED_OUTSIDE_LOCK"
    "fail spares: -DRETIRED_OUTSIDE_LOCK"
    "fail spares: -DCOUNT_AFTER"
    "pass retire: -DRETIRE"
    "fail retire: -DNO_PASS_ON"
    "pass scope: -DNK=2"
    "pass scope: -DNK=3"
    "fail scope: -DNO_MEMBARRIER"
    "fail scope: -DNO_INOP_WAIT"
    "pass scope: -DOWNER_JOINS -DNK=2 -DNF=1"
    "pass scope: -DOWNER_JOINS -DNK=1 -DNF=2"
    "fail scope: -DOWNER_JOINS -DNK=2 -DNF=1 -DNO_SUBMIT_CLAIM"
    "fail scope: -DOWNER_JOINS -DNK=2 -DNF=1 -DNO_MEMBARRIER"
    "fail scope: -DOWNER_JOINS -DNK=1 -DNF=2 -DNO_MERGED_WAIT"
)

failed=0
total_states=0
for c in "${cases[@]}"; do
    expect=${c%% *}
    flags=${c#* }
    model=$here/park.pml
    case "$flags" in
    spares:*) model=$here/spares.pml; flags=${flags#spares: } ;;
    retire:*) model=$here/retire.pml; flags=${flags#retire: } ;;
    scope:*) model=$here/scope_owner.pml; flags=${flags#scope: } ;;
    esac
    rm -f pan pan.* ./*.trail
    # shellcheck disable=SC2086
    spin -a $flags "$model" >spin.out 2>&1 || { cat spin.out; exit 1; }
    "$cc" -O1 -DSAFETY -DCOLLAPSE -w -o pan pan.c
    ./pan -m1000000 >pan.out 2>&1 || true
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -n1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -n1)
    if grep -q "Search not completed" pan.out && [ "$expect" = pass ]; then
        echo "FAIL  $flags: search not completed"; failed=1; continue
    fi
    what=$(grep -m1 -oE 'invalid end state|assertion violated.*' pan.out | head -n1 || true)
    if [ "$expect" = pass ] && [ "$errors" = 0 ]; then
        echo "ok    $(basename "$model") $flags: verified, $states states"
    elif [ "$expect" = fail ] && [ "${errors:-0}" -gt 0 ]; then
        echo "ok    $(basename "$model") $flags: mutant caught ($what) after $states states"
    else
        echo "FAIL  $flags: expected $expect, spin reported ${errors:-?} errors"
        cat pan.out
        failed=1
    fi
    total_states=$(awk -v a="$total_states" -v b="${states:-0}" 'BEGIN { printf "%d", a + b }')
done
echo "model: ${#cases[@]} cases, $total_states states explored in all"
exit $failed

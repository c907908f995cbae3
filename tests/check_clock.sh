#!/bin/sh
# Runs check_clock under libfaketime with the monotonic clock left alone; the
# test moves the wall clock by rewriting the timestamp file mid-wait.
#   tests/check_clock.sh <check_clock binary> <libfaketimeMT.so.1> [shim.so]
# When the given libfaketime does not exist (configure did not find it), looks
# for it in the usual directories; exits 77 (CTest: skipped) if it is not
# installed (Debian package 'faketime', tools/setup.sh --verify).
# shim.so (tests/clock_shim.c) goes first: it routes pthread_cond_timedwait past
# libfaketime 0.9.10's broken wrapper (see clock_shim.c). Without it the
# clock_faketime_condvar_probe test shows whether the installed libfaketime has
# that bug.
set -eu
bin=${1:?usage: check_clock.sh <binary> <libfaketime>}
lib=${2:?usage: check_clock.sh <binary> <libfaketime>}
shim=${3:-}
if [ ! -f "$lib" ]; then
    lib=""
    for d in /usr/lib/x86_64-linux-gnu/faketime /usr/lib/faketime /usr/local/lib/faketime; do
        if [ -f "$d/libfaketimeMT.so.1" ]; then
            lib="$d/libfaketimeMT.so.1"
            break
        fi
    done
    if [ -z "$lib" ]; then
        echo "clock: SKIPPED: libfaketimeMT.so.1 not found; install the Debian package" \
            "'faketime' (tools/setup.sh --verify)"
        exit 77
    fi
fi
[ -n "$shim" ] && lib="$shim $lib"
rc=$(mktemp)
trap 'rm -f "$rc"' EXIT
echo "+0" >"$rc"
FAKETIME_TIMESTAMP_FILE=$rc FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
    LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}" "$bin"

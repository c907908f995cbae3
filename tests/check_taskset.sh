#!/bin/sh
# `taskset -c CPU` a program that prints wse_executor_workers() of a default
# executor: it must print 1. Then WSE_WORKERS=3 under the same pinning: 3.
#   tests/check_taskset.sh PRINT_WORKERS
# Exit 77 (CTest: skipped) without taskset.
set -eu
prog=$1
command -v taskset >/dev/null 2>&1 || { echo "taskset not found: skipped"; exit 77; }
# The first CPU this process may run on (CPU 0 may be outside a container's set).
cpu=$(taskset -cp $$ | sed 's/.*: *//; s/[-,].*//')
got=$(env -u WSE_WORKERS taskset -c "$cpu" "$prog")
echo "taskset -c $cpu: $got worker(s)"
[ "$got" = 1 ] || { echo "expected 1 worker under taskset -c $cpu" >&2; exit 1; }
got=$(WSE_WORKERS=3 taskset -c "$cpu" "$prog")
echo "WSE_WORKERS=3 taskset -c $cpu: $got worker(s)"
[ "$got" = 3 ] || { echo "expected WSE_WORKERS=3 to give 3 workers" >&2; exit 1; }

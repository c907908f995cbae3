#!/bin/sh
# The layering of src/ (docs/design.md, "Layers"): each file may include only the
# headers of lower layers, plus its own module's header. Fails, naming the
# include, if a file reaches up or sideways.
#   tools/check_layers.sh [SRC_DIR]     check src/ (or SRC_DIR)
#   tools/check_layers.sh --self-test   also prove the check fails on a copy of
#                                       src/ with one upward include added
#
# A call upward then cannot compile either: its prototype is out of sight, and
# the library builds with -Werror=implicit-function-declaration.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = "--self-test" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp "$here"/../src/*.c "$here"/../src/*.h "$tmp"/
    "$0" "$tmp" >/dev/null || { echo "check_layers: the clean tree fails" >&2; exit 1; }
    # future.c (layer 3) reaching up to the worker layer (6).
    printf '#include "worker.h"\n' >>"$tmp/future.c"
    if "$0" "$tmp" 2>"$tmp/err"; then
        echo "check_layers: an upward include was not caught" >&2
        exit 1
    fi
    echo "check_layers: self-test: the mutant was caught: $(cat "$tmp/err")"
    exec "$0" "$here/../src"
fi
src=${1:-$here/../src}

# layer MODULE: the layer number of a module (a .h/.c pair, or a lone header).
layer() {
    case "$1" in
    clock | cpus | version | tune) echo 0 ;; # CLOCK_MONOTONIC deadlines; the default
                                        # worker count; the version string;
                                        # the tuning constants
    atomic | sync) echo 1 ;;            # the atomics layer; mutex/condvar helpers
    alloc) echo 2 ;;                    # allocation, fault injection
    deque | latch | future) echo 3 ;;   # Chase-Lev deque; waiter latch; futures
                                        # and their completion-node interface
    inject) echo 4 ;;                   # the injection queue
    park) echo 5 ;;                     # parking, wake-ups, termination
    worker) echo 6 ;;                   # workers, the pool, finding and running tasks
    spares | callers) echo 7 ;;         # spare threads for blocked waiters; plain
                                        # threads that run what they wait on
    help) echo 8 ;;                     # what a waiting thread may run
    wait | executor) echo 9 ;;          # wse_wait(); create/submit/shutdown/destroy
    after | as_completed | loop | scope) echo 10 ;; # wse_submit_after(); as_completed
                                        # iterators; parallel loops; scopes
    *) echo "" ;;
    esac
}

status=0
checked=0
for file in "$src"/*.c "$src"/*.h; do
    base=$(basename "$file")
    mod=${base%.*}
    # chaos.c implements the chaos points that atomic.h declares (test builds).
    [ "$mod" = chaos ] && mod=atomic
    me=$(layer "$mod")
    if [ -z "$me" ]; then
        echo "check_layers: $base: not in the layer table (tools/check_layers.sh)" >&2
        status=1
        continue
    fi
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file"); do
        case "$inc" in
        wsexec.h) continue ;;   # the public header is below everything
        esac
        imod=${inc%.h}
        them=$(layer "$imod")
        checked=$((checked + 1))
        if [ -z "$them" ]; then
            echo "check_layers: $base includes \"$inc\", which is in no layer" >&2
            status=1
        elif [ "$imod" = "$mod" ]; then
            :   # a module's own header
        elif [ "$them" -ge "$me" ]; then
            echo "check_layers: $base (layer $me) includes \"$inc\" (layer $them): not below it" >&2
            status=1
        fi
    done
done
if [ "$status" -eq 0 ]; then
    echo "check_layers: $checked includes in $src checked: every one points down"
fi
exit $status

#!/bin/sh
# The layering of src/ and of the MPI layer in src/mpi/ (docs/design.md, "Layers" and
# section 10): each file may include only the headers of lower layers of its own
# tree, plus its own module's header, and a function defined in X.c is declared in
# no header but X.h. Fails, naming the include or the prototype, if a file reaches
# up or sideways.
#   tools/check_layers.sh                  check src/ and src/mpi/
#   tools/check_layers.sh core|mpi DIR     check DIR with the table of src/ or src/mpi/
#   tools/check_layers.sh --self-test      also prove the check fails on copies of the
#                                          trees with one upward include (src/ and
#                                          src/mpi/) or one misplaced prototype added
#
# A call upward then cannot compile either: its prototype is out of sight, and
# the libraries build with -Werror=implicit-function-declaration.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

# mutant TABLE DIR WHAT FILE TEXT [FILE TEXT]: a copy of DIR with each TEXT appended
# to its FILE must fail the check of TABLE.
mutant() {
    table=$1
    dir=$2
    what=$3
    shift 3
    rm -rf "$tmp/tree"
    mkdir "$tmp/tree"
    cp "$dir"/*.c "$dir"/*.h "$tmp/tree"/
    "$0" "$table" "$tmp/tree" >/dev/null || { echo "check_layers: the clean $dir fails" >&2; exit 1; }
    while [ $# -ge 2 ]; do
        printf '%s\n' "$2" >>"$tmp/tree/$1"
        shift 2
    done
    if "$0" "$table" "$tmp/tree" 2>"$tmp/err"; then
        echo "check_layers: $what was not caught" >&2
        exit 1
    fi
    echo "check_layers: self-test: $what was caught: $(cat "$tmp/err")"
}

if [ "${1:-}" = "--self-test" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # future.c (layer 3) reaching up to the worker layer (6).
    mutant core "$root/src" "an upward include in src/" future.c '#include "worker.h"'
    # result.c (layer 1) reaching up to the progress thread (2).
    mutant mpi "$root/src/mpi" "an upward include in src/mpi/" result.c '#include "progress.h"'
    # A function of mpi.c (the API, layer 3) declared in the shared header, where the
    # progress thread below could call it: the shape of a call cycle.
    mutant mpi "$root/src/mpi" "a function of mpi.c declared in internal.h" \
        internal.h 'int wse__mpi_api_helper(struct wse_mpi *m);' \
        mpi.c "$(printf 'int\nwse__mpi_api_helper(struct wse_mpi *m)\n{\n    return m == NULL;\n}')"
    exec "$0"
fi

if [ $# -eq 0 ]; then
    "$0" core "$root/src"
    exec "$0" mpi "$root/src/mpi"
fi
table=$1
src=$2

# layer MODULE: the layer number of a module (a .h/.c pair, or a lone header) in the
# table of this tree.
layer() {
    if [ "$table" = mpi ]; then
        case "$1" in
        internal) echo 0 ;;             # types, wire format, allocation, registry lookup
        result) echo 1 ;;               # the values of DONE remote futures
        progress) echo 2 ;;             # the progress thread: every MPI call after create
        mpi) echo 3 ;;                  # the API: create, register, submit, destroy
        *) echo "" ;;
        esac
        return
    fi
    case "$1" in
    clock | cpus | version | tune) echo 0 ;; # CLOCK_MONOTONIC deadlines; the default
                                        # worker count; the version string;
                                        # the tuning constants
    atomic | sync) echo 1 ;;            # the atomics layer; mutex/condvar helpers
    alloc) echo 2 ;;                    # allocation, fault injection
    deque | latch | future | stats | trace) echo 3 ;; # Chase-Lev deque; waiter
                                        # latch; futures and their completion-node
                                        # interface; per-thread counters; the
                                        # flight recorder's rings
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

# module FILE: the module a file belongs to.
module() {
    mod=$(basename "$1")
    mod=${mod%.*}
    # chaos.c implements the chaos points that atomic.h declares (test builds).
    [ "$table" = core ] && [ "$mod" = chaos ] && mod=atomic
    echo "$mod"
}

status=0
checked=0
for file in "$src"/*.c "$src"/*.h; do
    base=$(basename "$file")
    mod=$(module "$file")
    me=$(layer "$mod")
    if [ -z "$me" ]; then
        echo "check_layers: $base: not in the layer table of $table (tools/check_layers.sh)" >&2
        status=1
        continue
    fi
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file"); do
        case "$inc" in
        wsexec.h | wsexec_mpi.h) continue ;;   # the public headers are below everything
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

# A function defined in X.c (the house style puts its name at the start of a line)
# is declared in X.h only: a header of a lower layer that declared it would let the
# files below call up without including anything above them. One awk pass: the
# prototypes of every header (lines that are not comments), then the definitions.
defs=$(awk -v table="$table" '
    function module(f) {
        sub(/.*\//, "", f)
        sub(/\.[ch]$/, "", f)
        if (table == "core" && f == "chaos")
            f = "atomic"
        return f
    }
    FILENAME ~ /\.h$/ && $0 !~ /^[ \t*\/#]/ {
        line = $0
        while (match(line, /wse__[A-Za-z0-9_]*\(/)) {
            name = substr(line, RSTART, RLENGTH - 1)
            decl[name] = decl[name] " " module(FILENAME)
            line = substr(line, RSTART + RLENGTH)
        }
    }
    FILENAME ~ /\.c$/ && match($0, /^wse__[A-Za-z0-9_]*\(/) {
        def[substr($0, 1, RLENGTH - 1)] = module(FILENAME)
    }
    END {
        n = 0
        for (name in def) {
            n++
            k = split(decl[name], mods, " ")
            for (i = 1; i <= k; i++)
                if (mods[i] != def[name])
                    printf "error %s.c defines %s, declared in %s.h: declare it in %s.h\n", def[name], name, mods[i], def[name]
        }
        print "count", n
    }' "$src"/*.h "$src"/*.c)
checked=$((checked + $(echo "$defs" | sed -n 's/^count //p')))
if echo "$defs" | grep -q '^error '; then
    echo "$defs" | sed -n 's/^error /check_layers: /p' >&2
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "check_layers: $checked includes and definitions in $src checked: every one points down"
fi
exit $status

#!/bin/sh
# mpi_batch.sh [NP_LIST [RUNS [MODE]]]: the imbalanced batch of bench/mpi_batch.h with
# every system that is built, side by side, and a markdown table of the results.
#
#   bench/mpi_batch.sh "1 2 3 4" 5 sleep
#
# NP_LIST: rank counts (default "2 3 4"); RUNS: rounds per rank count (default 5), each
# running every system once, in turn (wsexec-any, wsexec-static, mpi-omp-cyclic,
# mpi-omp-block, starpu-mpi); MODE: sleep (default) or cpu. One worker thread per rank
# everywhere. Runs go through tests/mpi/run.sh (loopback, oversubscribed), one job at a
# time. The executables come from $BUILD_DIR/bench (default: build, from the top of the
# tree); those not built are reported as skipped. The raw result lines go to stderr,
# the table (median time, median x ideal, min-max time over the runs) to stdout.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
np_list=${1:-"2 3 4"}
runs=${2:-5}
mode=${3:-sleep}
case "$mode" in sleep | cpu) ;; *)
    echo "usage: bench/mpi_batch.sh [NP_LIST [RUNS [sleep|cpu]]]" >&2
    exit 2
    ;;
esac
case "$runs" in '' | *[!0-9]*)
    echo "mpi_batch.sh: RUNS must be a number, not '$runs'" >&2
    exit 2
    ;;
esac
bin=${BUILD_DIR:-$root/build}/bench
run="$root/tests/mpi/run.sh"
command -v mpirun >/dev/null 2>&1 || {
    echo "mpi_batch.sh: mpirun not found (tools/setup.sh --bench-mpi)" >&2
    exit 1
}

# One worker per rank; StarPU: one CPU worker, no accelerators, no banner, no binding
# (every rank would bind its worker to the same core).
systems="wsexec-any wsexec-static mpi-omp-cyclic mpi-omp-block starpu-mpi"
exe_of() {
    case "$1" in
    wsexec-*) echo "$bin/wse-mpi-batch-bench" ;;
    mpi-omp-*) echo "$bin/wse-mpi-batch-omp" ;;
    starpu-mpi) echo "$bin/wse-mpi-batch-starpu" ;;
    esac
}
# A job that hangs is ended after 5 minutes (timeout is in coreutils).
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 300"
run_one() { # run_one SYSTEM NP: the job's output on stdout
    exe=$(exe_of "$1")
    case "$1" in
    wsexec-any) $limit "$run" "$2" "$exe" "$mode" ;;
    wsexec-static) $limit "$run" "$2" "$exe" "$mode" --static ;;
    mpi-omp-cyclic) OMP_NUM_THREADS=1 $limit "$run" "$2" "$exe" "$mode" ;;
    mpi-omp-block) OMP_NUM_THREADS=1 $limit "$run" "$2" "$exe" "$mode" --block ;;
    starpu-mpi)
        STARPU_NCPU=1 STARPU_NCUDA=0 STARPU_NOPENCL=0 STARPU_SILENT=1 STARPU_WORKERS_NOBIND=1 \
            STARPU_MPI_NOBIND=1 $limit "$run" "$2" "$exe" "$mode"
        ;;
    esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/results"
available=""
for s in $systems; do
    if [ -x "$(exe_of "$s")" ]; then
        available="$available $s"
    else
        echo "skipped: $s ($(exe_of "$s") is not built)" >&2
        echo "skipped system=$s" >>"$tmp/results"
    fi
done

for np in $np_list; do
    i=0
    while [ "$i" -lt "$runs" ]; do
        i=$((i + 1))
        for s in $available; do
            if run_one "$s" "$np" >"$tmp/out" 2>"$tmp/err" && grep -q '^system=' "$tmp/out"; then
                grep '^system=' "$tmp/out" | tee -a "$tmp/results" >&2
            else
                echo "failed: $s on $np ranks (run $i):" >&2
                tail -n 5 "$tmp/err" >&2
                echo "failed system=$s ranks=$np" >>"$tmp/results"
            fi
        done
    done
done

python3 - "$tmp/results" <<'EOF'
import statistics
import sys

order = ["wsexec-any", "wsexec-static", "mpi-omp-cyclic", "mpi-omp-block", "starpu-mpi"]
runs, failed, skipped = {}, {}, []
for line in open(sys.argv[1]):
    words = line.split()
    kv = dict(w.split("=", 1) for w in words if "=" in w)
    if words[0] == "skipped":
        skipped.append(kv["system"])
    elif words[0] == "failed":
        key = (int(kv["ranks"]), kv["system"])
        failed[key] = failed.get(key, 0) + 1
    else:
        key = (int(kv["ranks"]), kv["system"])
        runs.setdefault(key, []).append(kv)

mode = next((r[0]["mode"] for r in runs.values()), "?")
print(f"| ranks | system | runs | median time (s) | median x ideal | min–max (s) |")
print("|---:|---|---:|---:|---:|---:|")
keys = sorted(set(runs) | set(failed), key=lambda k: (k[0], order.index(k[1])))
for key in keys:
    rs = runs.get(key, [])
    nfail = failed.get(key, 0)
    note = f" ({nfail} failed)" if nfail else ""
    if not rs:
        print(f"| {key[0]} | {key[1]} | 0{note} | – | – | – |")
        continue
    t = [float(r["time_s"]) for r in rs]
    x = [float(r["x_ideal"]) for r in rs]
    print(f"| {key[0]} | {key[1]} | {len(rs)}{note} | {statistics.median(t):.3f} | "
          f"{statistics.median(x):.3f} | {min(t):.3f}–{max(t):.3f} |")
for s in skipped:
    print(f"| – | {s} | skipped (not built) | | | |")
print()
print(f"Mode {mode}; ideal = total work / (ranks x workers per rank), one worker per rank.")
EOF

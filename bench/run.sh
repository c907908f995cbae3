#!/bin/sh
# The wsexec benchmark, one command, from a clone of the repository:
#   bench/run.sh              full run (RUNS=5, about 10 minutes on 2 cores)
#   QUICK=1 bench/run.sh      smoke run (under a minute)
# Knobs (environment): RUNS, WORKERS, FIB_N ("30 32"), FLAT_N, PY_FLAT_N, RT_HOT_N,
# RT_GAP_N, FC_N, FF_N, PY_FF_N, FF_TASKS, WAITN_MAX, PY_WAITN_MAX, IDLE_MS, BUILD_DIR,
# ROUNDS_US (task durations of the rounds sweep, "1024 256 64 16 4 1"), ROUNDS_S (steps,
# 1000), ROUNDS_MIN_MS (a run lasts at least this, 100), ROUND2_S (20000), ASC_N (tasks
# of the ascompleted workload, 10000).
# WORKLOADS="rounds round2" runs only those workloads; its files get a suffix
# (results-rounds-round2.md, raw-..., summary-...) and replace no whole run's files.
# Results (results.md, raw.csv, summary.csv, one PNG per workload): a full run (no
# QUICK, no knob set) writes bench/results/, the committed results docs/performance.md
# shows; any other run writes bench/results-quick/ (not committed). RESULTS_DIR
# overrides both. Redraw the plots of a run without running it again:
#   python3 bench/driver.py --replot bench/results
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$here/build}

"$root/tools/setup.sh" --bench
command -v clang >/dev/null 2>&1 ||
    echo "run.sh: clang not found: the OpenMP/libomp peer is skipped (apt-get install clang)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec python3 "$here/driver.py" "$build" ${RESULTS_DIR:+"$RESULTS_DIR"}

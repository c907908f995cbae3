#!/bin/sh
# The wsexec benchmark, one command, from a clone of the repository:
#   bench/run.sh              full run (RUNS=5, about 15 minutes on 2 cores, 4 of them
#                             the loop workloads)
#   QUICK=1 bench/run.sh      smoke run (about a minute)
# Knobs (environment): RUNS, WORKERS, FIB_N ("30 32"), FLAT_N, PY_FLAT_N, RT_HOT_N,
# RT_GAP_N, FC_N, FF_N, PY_FF_N, FF_TASKS, WAITN_MAX, PY_WAITN_MAX, IDLE_MS, BUILD_DIR,
# ROUNDS_US (task durations of the rounds sweep, "1024 256 64 16 4 1"), ROUNDS_S (steps,
# 1000), ROUNDS_MIN_MS (a run lasts at least this, 100), ROUND2_S (20000), ASC_N (tasks
# of the ascompleted workload, 10000).
# The parallel-loop workloads (forempty forflat forirr mandel reduce, bench/loops.h) run
# every peer with 1 and WORKERS threads (wsexec-Kw: K workers plus the main thread,
# which takes part in wse_for / wse_reduce). Their knobs (QUICK value in brackets):
# FOREMPTY_B (batches of 1000 calls of an empty 2-iteration loop, 200 [30]); FORFLAT
# (the flat loops as <body ns>ns-<iterations>, "5ns-1e6 5ns-1e8 50ns-1e6 50ns-1e7"
# ["5ns-1e6 5ns-1e7 50ns-1e6"]: 10^8 only for the 5 ns body, the 50 ns one stops at
# 10^7, both 0.5 s sequential); FORIRR_N (iterations of the irregular loop, 100000
# [20000]), FORIRR_US (the cost of its last iteration, 8 us: N * 4 us in all); MANDEL
# (image, 1024x768 [512x384]), MANDEL_MAXIT (256); REDUCE_N (doubles summed, 1e8 [1e7]);
# TBB_DET_GRAIN (grainsize of tbb::parallel_deterministic_reduce, 65536); LOOP_MIN_MS
# (a timed loop repeats for this long, the median run counts, 200 [50]).
# The scope workloads (wsexec alone: no peer has the construct): scopestop (a
# FIRST_COMPLETED scope's deciding child returns; the time until a running sibling,
# spinning on wse_stop_requested(), sees the stop; median and p99 over SCOPESTOP_N
# trials, 2000 [200], on at least 2 workers), scopecost (SCOPECOST_N tiny tasks, 10000,
# from the main thread: one ALL_COMPLETED scope, submit + join, against futures,
# submit + wait + release; ns per task, the best of SCOPECOST_R repetitions, 5 [3];
# the scope configuration runs SCOPECOST_PAIRS alternating pairs of both in one
# process, 15 [5], and gives the median of the per-pair ratios);
# and fib with one ALL_COMPLETED scope per call (config wsexec-scope-Kw in the fib
# table: FIBSCOPE_R pairs, 9, of the scope and the futures version alternating in one
# process; also wsexec-scope-futures-Kw and the ratio wsexec-scope/futures-Kw).
# WORKLOADS="rounds round2" runs only those workloads (the loops: WORKLOADS="forempty
# forflat forirr mandel reduce"); its files get a suffix (results-rounds-round2.md,
# raw-..., summary-...) and replace no whole run's files.
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

#!/usr/bin/env python3
"""Runs every benchmark configuration RUNS times, interleaved (shuffled within each
round), then writes {raw.csv,summary.csv,results.md,*.png} and prints the tables.

  driver.py BUILD_DIR [RESULTS_DIR]   run (bench/run.sh calls it)
  driver.py --replot RESULTS_DIR      redraw the PNGs from RESULTS_DIR/raw.csv, no run

WORKLOADS="rounds round2" (names from ORDER, space- or comma-separated) runs only
those; the run's files then carry the names as a suffix (raw-rounds-round2.csv,
summary-..., results-....md), so a partial run never replaces a whole run's files.
The rounds workload also writes rounds.csv and rounds.png (efficiency against task
duration). The loop workloads (forempty forflat forirr mandel reduce: parallel loops,
bench/loops.h) run every peer with 1 and WORKERS threads.

Only a full run (no QUICK, no knob in the environment) writes bench/results/, the
committed results that docs/performance.md shows; any other run writes
bench/results-quick/ (not committed), unless RESULTS_DIR says otherwise."""
import csv
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
QUICK = os.environ.get("QUICK") == "1"
KNOBS = ["RUNS", "WORKERS", "FIB_N", "FLAT_N", "PY_FLAT_N", "FF_TASKS", "WAITN_MAX",
         "PY_WAITN_MAX", "RT_HOT_N", "RT_GAP_N", "FC_N", "FF_N", "PY_FF_N", "IDLE_MS",
         "ROUNDS_US", "ROUNDS_S", "ROUNDS_MIN_MS", "ROUND2_S", "ASC_N", "FOREMPTY_B",
         "FORFLAT", "FORIRR_N", "FORIRR_US", "MANDEL", "MANDEL_MAXIT", "REDUCE_N",
         "TBB_DET_GRAIN", "LOOP_MIN_MS", "SCOPESTOP_N", "SCOPECOST_N", "SCOPECOST_R"]
FULL = not QUICK and not any(os.environ.get(k) for k in KNOBS)
REPLOT = len(sys.argv) > 1 and sys.argv[1] == "--replot"
if REPLOT:
    BUILD, RESULTS = None, sys.argv[2]
else:
    BUILD = sys.argv[1]
    RESULTS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        HERE, "results" if FULL else "results-quick")


def env(name, default, quick):
    v = os.environ.get(name)
    return v if v else (quick if QUICK else default)


RUNS = int(env("RUNS", "5", "1"))
FIB_N = env("FIB_N", "30 32", "25").split()
FLAT_N = env("FLAT_N", "1000000", "100000")
PY_FLAT_N = env("PY_FLAT_N", "20000", "2000")
FF_TASKS = env("FF_TASKS", "10000", "10000")
WAITN_MAX = int(env("WAITN_MAX", "1000000", "10000"))
PY_WAITN_MAX = int(env("PY_WAITN_MAX", "100000", "10000"))
ASC_N = env("ASC_N", "10000", "10000")
WORKERS = env("WORKERS", "2", "2")
CHILD_ENV = dict(os.environ)
for k, d, q in [("RT_HOT_N", "20000", "2000"), ("RT_GAP_N", "200", "20"),
                ("FC_N", "100", "20"), ("FF_N", "20", "3"), ("IDLE_MS", "2000", "300")]:
    CHILD_ENV[k] = env(k, d, q)
# rounds: task durations in us (the kernel's length is calibrated to them), steps
# per run (at least; more for short tasks, so that a run lasts ROUNDS_MIN_MS).
ROUNDS_US = [float(x) for x in env("ROUNDS_US", "1024 256 64 16 4 1", "1024 64 4 1").split()]
for k, d, q in [("ROUNDS_S", "1000", "200"), ("ROUNDS_MIN_MS", "100", "20"),
                ("ROUND2_S", "20000", "2000")]:
    CHILD_ENV[k] = env(k, d, q)
# The loop workloads (bench/loops.h). forflat: "<body ns>ns-<iterations>"; 10^8 only
# for the 5 ns body (0.5 s sequential), the 50 ns body stops at 10^7 (also 0.5 s).
# forirr: iterations, the last one costing FORIRR_US us (the loop: N * FORIRR_US / 2 us
# sequential). mandel: "WxH", at most MANDEL_MAXIT iterations per pixel. reduce:
# doubles summed. Timed loops repeat for LOOP_MIN_MS (the median run is reported);
# forempty: FOREMPTY_B batches of 1000 calls.
FORFLAT = env("FORFLAT", "5ns-1e6 5ns-1e8 50ns-1e6 50ns-1e7", "5ns-1e6 5ns-1e7 50ns-1e6").split()
FORIRR_N = env("FORIRR_N", "100000", "20000")
MANDEL = env("MANDEL", "1024x768", "512x384")
REDUCE_N = env("REDUCE_N", "1e8", "1e7")
TBB_DET_GRAIN = env("TBB_DET_GRAIN", "65536", "65536")
for k, d, q in [("FOREMPTY_B", "200", "30"), ("FORIRR_US", "8", "8"),
                ("MANDEL_MAXIT", "256", "256"), ("LOOP_MIN_MS", "200", "50")]:
    CHILD_ENV[k] = env(k, d, q)
# Scopes: scopestop trials (a settle to a running sibling's sight of the stop);
# scopecost children (tiny tasks, best of SCOPECOST_R repetitions; SCOPECOST_PAIRS
# alternating pairs in the scope configuration).
SCOPECOST_N = env("SCOPECOST_N", "10000", "10000")
for k, d, q in [("SCOPESTOP_N", "2000", "200"), ("SCOPECOST_R", "5", "3"),
                ("SCOPECOST_PAIRS", "15", "5")]:
    CHILD_ENV[k] = env(k, d, q)
PY_ENV = dict(CHILD_ENV, FF_N=env("PY_FF_N", "5", "2"))

BIN = {peer: os.path.join(BUILD or "", exe) for peer, exe in [
    ("wsexec", "wse_bench"), ("wsexec-c++", "cxx_bench"), ("tbb", "tbb_bench"),
    ("omp-gcc", "omp_gcc_bench"), ("omp-clang", "omp_clang_bench"),
    ("condvar-pool", "cv_bench"), ("sequential", "seq_bench")]}


LOOP_WORKLOADS = ["forempty", "forflat", "forirr", "mandel", "reduce"]
ALL_WORKLOADS = ["fib", "flat", "rt", "fc", "ff", "waitn", "ascompleted", "idle", "rounds",
                 "round2"] + LOOP_WORKLOADS + ["scopestop", "scopecost"]
_sel = os.environ.get("WORKLOADS", "").replace(",", " ").split()
for _w in _sel:
    if _w not in ALL_WORKLOADS:
        sys.exit(f"driver.py: unknown workload {_w} in WORKLOADS (known: {' '.join(ALL_WORKLOADS)})")
SELECTED = [w for w in ALL_WORKLOADS if w in _sel] if _sel else ALL_WORKLOADS
SUFFIX = "" if SELECTED == ALL_WORKLOADS else "-" + "-".join(SELECTED)
ROUNDS_CONFIGS = [("wsexec", "wsexec-batch"), ("wsexec", "wsexec-caller"),
                  ("wsexec", "wsexec-ondone"), ("wsexec", "wsexec-for"),
                  ("wsexec", "wsexec-after"), ("omp-gcc", "omp-gcc-for"),
                  ("omp-clang", "omp-clang-for"), ("omp-gcc", "omp-gcc-task"),
                  ("omp-clang", "omp-clang-task"), ("tbb", "tbb-for"), ("tbb", "tbb-graph")]
ROUNDS_K = []  # iterations of the kernel per task, one per ROUNDS_US (calibrate())


def calibrate():
    """Measures the kernel's ns per iteration once (seq_bench calib) and sets the
    iteration counts of the rounds sweep; the children get it too (rounds_steps)."""
    p = subprocess.run([BIN["sequential"], "calib", "-", "sequential", "1"],
                       capture_output=True, text=True, check=True)
    nspi = float(p.stdout.strip().split(",")[-1])
    CHILD_ENV["ROUNDS_NS_PER_ITER"] = f"{nspi:.6g}"
    ROUNDS_K[:] = sorted({max(1, round(us * 1000 / nspi)) for us in ROUNDS_US}, reverse=True)
    print(f"rounds: {nspi:.3g} ns per kernel iteration; k = "
          + " ".join(str(k) for k in ROUNDS_K), flush=True)


def calibrate_loops():
    """Measures the cost model of the loop body once (seq_bench loopcalib: ns per step
    and per iteration) and passes it to the children, so that every peer runs the same
    step counts."""
    p = subprocess.run([BIN["sequential"], "loopcalib", "-", "sequential", "1"],
                       capture_output=True, text=True, check=True)
    m = {line.split(",")[3]: float(line.split(",")[4]) for line in p.stdout.split()}
    CHILD_ENV["LOOP_NS_PER_STEP"] = f"{m['ns_per_step']:.6g}"
    CHILD_ENV["LOOP_NS_PER_ITER"] = f"{m['ns_per_iter']:.6g}"
    steps = lambda ns: max(1, int((ns - m["ns_per_iter"]) / m["ns_per_step"] + 0.5))
    bodies = sorted({float(p.split("ns-")[0]) for p in FORFLAT})
    print(f"loops: {m['ns_per_step']:.3g} ns per step + {m['ns_per_iter']:.3g} ns per "
          "iteration; forflat steps " + " ".join(f"{b:g}ns={steps(b)}" for b in bodies) +
          f"; forirr at most {steps(1000.0 * float(CHILD_ENV['FORIRR_US']))}", flush=True)


def cmd(peer, workload, param, config, workers):
    if peer == "cpython":
        return [sys.executable, os.path.join(HERE, "py_bench.py"), workload, param, config,
                workers]
    return [BIN[peer], workload, param, config, workers]


def jobs():
    """(peer, workload, param, config, workers) for every configuration."""
    j = []
    w = WORKERS
    for n in FIB_N:
        for k in ("1", w):
            for peer in ("wsexec", "tbb", "omp-gcc", "omp-clang"):
                j.append((peer, "fib", n, f"{peer}-{k}w", k))
            # The C++ interface and the C API in one process: wsexec-c++-Kw,
            # wsexec-c-Kw and their ratio (wsexec-c++/c-Kw).
            j.append(("wsexec-c++", "fib", n, f"wsexec-cxx-{k}w", k))
            # The same fib with one ALL_COMPLETED scope per call (children with
            # out == NULL, results in the caller's frame).
            j.append(("wsexec", "fib", n, f"wsexec-scope-{k}w", k))
        j.append(("sequential", "fib", n, "sequential", "1"))
    for peer in ("wsexec", "tbb", "omp-gcc", "omp-clang", "condvar-pool", "sequential"):
        j.append((peer, "flat", FLAT_N, peer, w))
    j.append(("wsexec", "flat", FLAT_N, "wsexec-batch", w))
    j.append(("cpython", "flat", PY_FLAT_N, "cpython", w))
    for p in ("hot", "gap5ms"):
        for peer in ("wsexec", "tbb", "omp-gcc", "omp-clang", "condvar-pool", "cpython"):
            j.append((peer, "rt", p, peer, w))
    for peer in ("wsexec", "condvar-pool", "cpython"):
        j.append((peer, "fc", "64", peer, w))
    for peer in ("wsexec", "cpython"):
        j.append((peer, "ff", FF_TASKS, peer, w))
    n = 1
    while n <= WAITN_MAX:
        j.append(("wsexec", "waitn", str(n), "wsexec", w))
        if n <= PY_WAITN_MAX:
            j.append(("cpython", "waitn", str(n), "cpython", w))
        n *= 10
    for peer in ("wsexec", "cpython"):
        j.append((peer, "ascompleted", ASC_N, peer, w))
    for peer in ("wsexec", "tbb", "omp-gcc", "omp-clang", "condvar-pool", "cpython"):
        j.append((peer, "idle", "-", peer, w))
    for k in ROUNDS_K:
        for peer, config in ROUNDS_CONFIGS:
            j.append((peer, "rounds", str(k), config, w))
        j.append(("sequential", "rounds", str(k), "sequential", "1"))
    for peer, config in [("wsexec", "wsexec-batch"), ("wsexec", "wsexec-caller"),
                         ("wsexec", "wsexec-for"), ("omp-gcc", "omp-gcc-for"),
                         ("omp-clang", "omp-clang-for"), ("tbb", "tbb-for")]:
        j.append((peer, "round2", "2", config, w))
    # The loops: every peer with 1 and w threads; CONFIG ends in -<threads>w. wsexec-Kw:
    # an executor of K workers, the main thread taking part (out == NULL).
    for k in sorted({"1", w}, key=int):
        for peer in ("wsexec", "omp-gcc", "omp-clang", "tbb"):
            j.append((peer, "forempty", "2", f"{peer}-{k}w", k))
        for p in FORFLAT:
            for peer, c in [("wsexec", "wsexec"), ("omp-gcc", "omp-gcc-static"),
                            ("omp-clang", "omp-clang-static"), ("tbb", "tbb-auto")]:
                j.append((peer, "forflat", p, f"{c}-{k}w", k))
        for wl, p in [("forirr", FORIRR_N), ("mandel", MANDEL)]:
            for peer, c in [("wsexec", "wsexec"), ("omp-gcc", "omp-gcc-dynamic"),
                            ("omp-gcc", "omp-gcc-guided"), ("omp-clang", "omp-clang-dynamic"),
                            ("omp-clang", "omp-clang-guided"), ("tbb", "tbb-auto")]:
                j.append((peer, wl, p, f"{c}-{k}w", k))
        for peer, c in [("wsexec", "wsexec"), ("omp-gcc", "omp-gcc-static"),
                        ("omp-clang", "omp-clang-static"),
                        ("tbb", f"tbb-det-g{TBB_DET_GRAIN}"), ("tbb", "tbb-auto")]:
            j.append((peer, "reduce", REDUCE_N, f"{c}-{k}w", k))
    # Scopes (wsexec only; no peer has the construct): the stop latency needs two
    # workers (the deciding child and the spinning sibling run at once).
    j.append(("wsexec", "scopestop", "-", "wsexec", max(w, "2", key=int)))
    for c in ("wsexec-scope", "wsexec-futures"):
        j.append(("wsexec", "scopecost", SCOPECOST_N, c, w))
    for wl, ps in [("forflat", FORFLAT), ("forirr", [FORIRR_N]), ("mandel", [MANDEL]),
                   ("reduce", [REDUCE_N])]:
        for p in ps:
            j.append(("sequential", wl, p, "sequential", "1"))
    return [x for x in j if x[1] in SELECTED and
            (x[0] == "cpython" or os.path.exists(BIN[x[0]]))]


def run_all():
    rows = []
    todo = jobs()
    t_start = time.monotonic()
    for r in range(1, RUNS + 1):
        order = list(todo)
        random.Random(r).shuffle(order)
        for peer, workload, param, config, workers in order:
            c = cmd(peer, workload, param, config, workers)
            try:
                p = subprocess.run(c, capture_output=True, text=True, timeout=600,
                                   env=PY_ENV if peer == "cpython" else CHILD_ENV)
            except subprocess.TimeoutExpired:
                print(f"  TIMEOUT: {' '.join(c)}", file=sys.stderr)
                continue
            if p.returncode != 0:
                print(f"  FAILED ({p.returncode}): {' '.join(c)}\n{p.stderr}", file=sys.stderr)
                continue
            for line in p.stdout.splitlines():
                wl, pa, co, metric, value = line.split(",")
                rows.append((r, wl, pa, co, metric, float(value)))
        print(f"round {r}/{RUNS} done, {time.monotonic() - t_start:.0f} s", flush=True)
    with open(os.path.join(RESULTS, f"raw{SUFFIX}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "workload", "param", "config", "metric", "value"])
        w.writerows(rows)
    return rows, time.monotonic() - t_start


# workload -> (title, primary metric, higher is better, unit note)
META = {
    "fib": ("Fork-join fib(n), no cutoff: wall time", "time_ms", False),
    "flat": ("Flat batch of tiny tasks (~50 ns) from the main thread, one wait for all",
             "warm_Mtasks_s", True),
    "rt": ("Round trip: submit one task and wait for it (hot, and after 5 ms gaps)",
           "median_us", False),
    "fc": ("First-completed wake-up: 64 tasks, one finishes after 1 ms, 63 spin; "
           "its completion to the waiter's return", "median_us", False),
    "ff": ("Fail-fast: 10,000 tasks of 50 us, one fails; failure to the return of "
           "wait(FIRST_EXCEPTION); tasks started after the failure", "median_us", False),
    "waitn": ("Wait cost against n: ns per future", None, False),
    "ascompleted": ("as_completed throughput: n tasks returning their index, consumed one "
                    "by one from the main thread; first submission to last result",
                    "ns_per_result", False),
    "idle": ("Idle executor: CPU over the idle period (% of one core)", "cpu_pct", False),
    "rounds": ("Rounds: steps of one compute-bound task per worker (1-D stencil)", None,
               True),
    "round2": ("One round of 2 empty tasks from the main thread: time per step",
               "median_us", False),
    "forempty": ("Empty parallel loop of 2 iterations called again and again from the main "
                 "thread (EPCC-style `parallel for` overhead): ns per call",
                 "ns_per_call", False),
    "forflat": ("Flat loop, N iterations of a ~5 ns or ~50 ns body (param: body-N), "
                "summed: million iterations per second", "Mit_s", True),
    "forirr": ("Irregular loop: iteration i costs i / N of the last one (param N): wall time",
               "time_ms", False),
    "mandel": ("Mandelbrot image, parallel over rows (param WxH), checked against a "
               "sequential run: wall time", "time_ms", False),
    "reduce": ("Sum of N order-sensitive doubles: wall time; wsexec also bit-identical "
               "across 1 and 2 workers (bitident) and equal to its chunks replayed "
               "sequentially (replay)", "time_ms", False),
    "scopestop": ("Scope stop latency: a FIRST_COMPLETED scope's deciding child returns; "
                  "from then to the moment a running sibling, polling wse_stop_requested() "
                  "in a tight loop, sees the stop", "median_us", False),
    "scopecost": ("Scope cost: n tiny tasks (~50 ns) from the main thread as one "
                  "ALL_COMPLETED scope (submit, join) or as futures (submit, wait, "
                  "release): ns per task; wsexec-scope runs both alternately in one "
                  "process (wsexec-scope-futures) and gives the median of the per-pair "
                  "ratios (wsexec-scope/futures)", "ns_per_task", False),
}
LOOP_NOTE = ("Configurations: -Kw: K threads. OpenMP and oneTBB: a team / arena of K "
             "threads, the main thread one of them. **wsexec-Kw**: an executor of K "
             "workers (default options) and wse_for / wse_reduce with out == NULL, grain 0: "
             "the main thread takes part too, so up to K + 1 threads run chunks. OpenMP "
             "schedules and the oneTBB partitioner and grainsize are in the name (tbb-auto: "
             "auto_partitioner, grainsize 1; tbb-det-gN: parallel_deterministic_reduce, "
             "simple_partitioner, grainsize N). The ratio compares with the best peer of "
             "the same thread count; sequential is the plain loop on one thread.\n")
ORDER = ALL_WORKLOADS


def is_peer(config):
    return not config.startswith("wsexec") and config != "sequential"


def group_key(workload, param, config):
    if workload in LOOP_WORKLOADS:
        m = re.search(r"-(\d+)w$", config)
        return (param, m.group(1) if m else None)
    if workload == "fib":
        return (param, config.rsplit("-", 1)[-1] if config != "sequential" else None)
    if workload == "rt":
        return param
    return None


def param_key(workload, p):
    """Sort key of a param: numerically for the loop workloads ("5ns-1e8", "1024x768")."""
    if workload in LOOP_WORKLOADS:
        nums = re.findall(r"\d+(?:\.\d+)?(?:e\d+)?", p)
        if nums:
            return (0, tuple(float(x) for x in nums), p)
        return (1, (), p)
    return (0, (int(p),), p) if p.isdigit() else (1, (), p)


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def collect(rows):
    """(workload, param, config, metric) -> the values of every run."""
    vals = defaultdict(list)
    for _, wl, pa, co, metric, v in rows:
        vals[(wl, pa, co, metric)].append(v)
    return vals


def summarize(vals):
    med = {k: statistics.median(v) for k, v in vals.items()}
    with open(os.path.join(RESULTS, f"summary{SUFFIX}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "param", "config", "metric", "median", "runs"])
        for k in sorted(med):
            w.writerow(list(k) + [f"{med[k]:.6g}", len(vals[k])])
    return med


def read_raw(path):
    with open(path, newline="") as f:
        return [(int(r["run"]), r["workload"], r["param"], r["config"], r["metric"],
                 float(r["value"])) for r in csv.DictReader(f)]


def tables(med):
    out = []
    for wl in ORDER:
        keys = [k for k in med if k[0] == wl]
        if not keys:
            continue
        title, primary, higher = META[wl]
        out.append(f"### {wl}: {title}\n")
        if wl == "rounds":
            out.append(rounds_table(med))
            continue
        if wl == "waitn":
            series = sorted({(k[2], k[3]) for k in keys})
            ns = sorted({int(k[1]) for k in keys})
            out.append("| n | " + " | ".join(f"{c} {m}" for c, m in series) + " |")
            out.append("|---:|" + "---:|" * len(series))
            for n in ns:
                out.append(f"| {n:,} | " + " | ".join(
                    fmt(med.get((wl, str(n), c, m))) for c, m in series) + " |")
            out.append("")
            continue
        if wl in LOOP_WORKLOADS:
            out.append(LOOP_NOTE)
        metrics = [m for m in ["ns_per_call", "p90_ns_per_call", "ns_per_task", "Mit_s", "time_ms",
                               "Melem_s", "cold_Mtasks_s", "warm_Mtasks_s", "median_us",
                               "p99_us", "cpu_pct", "in_vain", "ratio", "ns_per_result",
                               "Mresults_s", "reldiff_seq", "bitident", "replay", "chunks"]
                   if any(k[3] == m for k in keys)]
        rowsk = sorted({(k[1], k[2]) for k in keys},
                       key=lambda x: (param_key(wl, x[0]), x[1]))
        best = {}
        for pa, co in rowsk:
            v = med.get((wl, pa, co, primary))
            g = group_key(wl, pa, co)
            if v is not None and is_peer(co):
                b = best.get(g)
                best[g] = v if b is None else (max(b, v) if higher else min(b, v))
        better = "higher" if higher else "lower"
        out.append(f"| param | configuration | " + " | ".join(metrics) +
                   f" | {primary} / best peer ({better} is better) |")
        out.append("|---|---|" + "---:|" * (len(metrics) + 1))
        for pa, co in rowsk:
            v = med.get((wl, pa, co, primary))
            b = best.get(group_key(wl, pa, co))
            ratio = f"{v / b:.2f}" if v is not None and b else "–"
            name = f"**{co}**" if co.startswith("wsexec") else co
            out.append(f"| {pa} | {name} | " + " | ".join(
                fmt(med.get((wl, pa, co, m))) for m in metrics) + f" | {ratio} |")
        out.append("")
    return "\n".join(out)


def y_axis(lo, hi, labels):
    """gnuplot y-axis settings for values in [lo, hi]: linear from 0 when the range
    allows it (hi / lo <= 25, or a value <= 0), otherwise log with a floor a decade
    boundary strictly below lo, so that the smallest bar still shows. labels: leave
    room above hi for the value labels."""
    room = 1.25 if labels else 1.08
    if lo > 0 and hi / lo > 25:
        floor = 10 ** math.floor(math.log10(lo))
        if floor >= lo:
            floor /= 10
        ceil = 10 ** math.ceil(math.log10(hi * room * room))
        return True, f"set logscale y\nset yrange [{floor:g}:{ceil:g}]\n", floor
    top = hi * room if hi > 0 else 1
    return False, f"unset logscale y\nset yrange [0:{top:g}]\n", 0


def runs_note(vals_lists, mode):
    counts = sorted({len(v) for v in vals_lists})
    if counts[-1] == 1:
        return f"{mode}: one run per point, so no spread is shown"
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f"{mode}: median of {n} runs per point; error bars: min-max over the runs"


def plots(vals, mode):
    """One PNG per workload. Bars: the median; error bars: min and max over the runs;
    the median printed above each bar. The title names the mode and the run count."""
    made = []
    tmp = tempfile.mkdtemp(prefix="wse_plots_")
    for wl in ORDER:
        keys = [k for k in vals if k[0] == wl]
        if not keys:
            continue
        if wl == "rounds":
            if rounds_plot(vals, mode, tmp):
                made.append("rounds.png")
            continue
        title, primary, higher = META[wl]
        dat = os.path.join(tmp, f"{wl}.dat")
        gp = os.path.join(tmp, f"{wl}.gp")
        png = f"{wl}.png"
        with open(dat, "w") as f:
            if wl == "waitn":
                series = sorted({(k[2], k[3]) for k in keys})
                ns = sorted({int(k[1]) for k in keys})
                used = [vals[k] for k in keys]
                for n in ns:
                    cols = []
                    for c, m in series:
                        v = vals.get((wl, str(n), c, m))
                        cols += ([statistics.median(v), min(v), max(v)] if v
                                 else ["NaN"] * 3)
                    f.write(f"{n} " + " ".join(str(x) for x in cols) + "\n")
                lo = min(min(v) for v in used)
                hi = max(max(v) for v in used)
                _, yset, _ = y_axis(lo, hi, False)
                if "logscale" not in yset:  # n spans decades: log x, and log y too
                    yset = f"set logscale y\nset yrange [{lo / 2:g}:{hi * 2:g}]\n"
                plot = ", ".join(
                    f"'{dat}' using 1:{3 * i + 2}:{3 * i + 3}:{3 * i + 4} with yerrorlines "
                    f"title '{c} {m}'" for i, (c, m) in enumerate(series))
                width = 900
                head = ("set logscale x\nset xlabel 'n futures'\n"
                        "set ylabel 'ns per future (log)'\nset key top left\n" + yset)
            else:
                sel = sorted(((k[1], k[2]) for k in keys if k[3] == primary),
                             key=lambda x: (param_key(wl, x[0]), x[1]))
                width = max(900, 30 * len(sel) + 200)
                used = [vals[(wl, pa, co, primary)] for pa, co in sel]
                lo = min(min(v) for v in used)
                hi = max(max(v) for v in used)
                log, yset, _ = y_axis(lo, hi, True)
                for i, (pa, co) in enumerate(sel):
                    v = vals[(wl, pa, co, primary)]
                    label = co if len({p for p, _ in sel}) == 1 else f"{co} ({pa})"
                    color = 7 if co.startswith("wsexec") else 3
                    med = statistics.median(v)
                    at = max(v)  # the label sits just above the error bar's top
                    f.write(f"{i} \"{label}\" {med} {min(v)} {max(v)} {color} {at} "
                            f"\"{fmt(med)}\"\n")
                plot = (f"'{dat}' using 1:3:6:xtic(2) with boxes lc variable notitle, "
                        f"'' using 1:4:(0):($5 - $4) with vectors heads size 0.08,90 lc rgb 'black' lw 1.5 notitle, "
                        f"'' using 1:7:8 with labels offset 0,0.9 font ',8' notitle")
                ylabel = (primary + (", log" if log else "") +
                          (": higher is better" if higher else ": lower is better"))
                head = (f"set ylabel '{ylabel}'\n{yset}"
                        "set style fill solid 0.6\nset boxwidth 0.7\n"
                        "set xtics rotate by -40 font ',8'\nset bmargin 9\n"
                        "set offsets 0.5, 0.5, 0, 0\nset rmargin 12\n")
        with open(gp, "w") as f:
            f.write(f"set terminal pngcairo size {width},560 noenhanced\n"
                    f"set output '{os.path.join(RESULTS, png)}'\n"
                    f"set title \"{title}\\n{runs_note(used, mode)}\" font ',10'\n"
                    f"set grid ytics\n{head}plot {plot}\n")
        p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if p.returncode != 0 or p.stderr.strip():
            print(f"gnuplot on {gp}: {p.stderr}", file=sys.stderr)
        if p.returncode == 0:
            made.append(png)
    return made


def rounds_analysis(med):
    """Per configuration and task size: the task's sequential duration, the time per
    step, the per-step overhead (step - task), the FLOP rate and the efficiency (rate /
    peak; peak: the best rate of any configuration at the largest task). Returns
    (rows, peak, metg): rows are dicts sorted by configuration, then task size
    (largest first); metg maps a configuration to (interpolated us or None, smallest
    sweep point reaching 50 % or None, a note)."""
    ks = sorted({int(k[1]) for k in med if k[0] == "rounds"}, reverse=True)
    configs = [c for _, c in ROUNDS_CONFIGS
               if any(k[0] == "rounds" and k[2] == c for k in med)]
    if not ks or not configs:
        return [], None, {}
    rate = lambda c, k: med.get(("rounds", str(k), c, "gflops"))
    peak = max((rate(c, ks[0]) for c in configs if rate(c, ks[0]) is not None), default=None)
    rows, metg = [], {}
    for c in configs:
        pts = []
        for k in ks:
            task = med.get(("rounds", str(k), "sequential", "task_us"))
            step = med.get(("rounds", str(k), c, "step_us"))
            g = rate(c, k)
            if step is None or g is None:
                continue
            eff = g / peak if peak else None
            rows.append({"config": c, "k": k, "task_us": task, "step_us": step,
                         "overhead_us": step - task if task is not None else None,
                         "gflops": g, "efficiency": eff})
            if task is not None and eff is not None:
                pts.append((task, eff))
        metg[c] = metg50(pts)
    return rows, peak, metg


def metg50(pts):
    """pts: (task us, efficiency), largest task first. Returns (interpolated, sweep,
    note): interpolated: walking down from the largest task, the first crossing below
    50 %, interpolated linearly in log(duration) between the two sweep points around
    it (None if there is no crossing); sweep: the smallest sweep point whose efficiency
    is >= 50 % (None if none is). The two differ when noise makes the curve dip below
    50 % and come back."""
    if not pts:
        return None, None, "no data"
    ok = [d for d, e in pts if e >= 0.5]
    sweep = min(ok) if ok else None
    if pts[0][1] < 0.5:
        return None, sweep, f"below 50 % already at {pts[0][0]:.3g} us"
    for (d0, e0), (d1, e1) in zip(pts, pts[1:]):
        if e1 < 0.5:
            t = (0.5 - e1) / (e0 - e1)
            d = math.exp(math.log(d1) + t * (math.log(d0) - math.log(d1)))
            note = "" if sweep == d0 else "the curve comes back above 50 % below the crossing"
            return d, sweep, note
    return None, sweep, f"still >= 50 % at the smallest task ({pts[-1][0]:.3g} us)"


def rounds_table(med):
    rows, peak, metg = rounds_analysis(med)
    if not rows:
        return ""
    out = [f"Peak: {fmt(peak)} GFLOP/s (the best configuration at the largest task). "
           "overhead = time per step - the task's duration run alone sequentially.\n",
           "| configuration | k | task us | step us | overhead us | GFLOP/s | efficiency |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = f"**{r['config']}**" if r["config"].startswith("wsexec") else r["config"]
        out.append(f"| {name} | {r['k']:,} | {fmt(r['task_us'])} | {fmt(r['step_us'])} | "
                   f"{fmt(r['overhead_us'])} | {fmt(r['gflops'])} | "
                   f"{fmt(r['efficiency'])} |")
    out += ["", "METG(50 %): the smallest task duration at which the efficiency is still "
            ">= 50 %: interpolated in log(duration) between the sweep points around the "
            "first crossing below 50 % (walking down from the largest task); and the "
            "smallest sweep point anywhere that reaches 50 %.\n",
            "| configuration | METG(50 %) us, interpolated | smallest sweep point >= 50 %, us | note |",
            "|---|---:|---:|---|"]
    for c, (d, p, note) in metg.items():
        name = f"**{c}**" if c.startswith("wsexec") else c
        out.append(f"| {name} | {fmt(d)} | {fmt(p)} | {note} |")
    out.append("")
    with open(os.path.join(RESULTS, "rounds.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["config", "k", "task_us", "step_us", "overhead_us", "gflops",
                    "efficiency", "metg50_us", "metg50_sweep_us"])
        for r in rows:
            d, p, _ = metg[r["config"]]
            w.writerow([r["config"], r["k"]] + [
                "" if r[x] is None else f"{r[x]:.6g}"
                for x in ("task_us", "step_us", "overhead_us", "gflops", "efficiency")] +
                ["" if d is None else f"{d:.4g}", "" if p is None else f"{p:.4g}"])
    return "\n".join(out)


def rounds_plot(vals, mode, tmp):
    """Efficiency (median, error bars min-max over the runs) against the task's
    sequential duration, log x, one line per configuration."""
    med = {k: statistics.median(v) for k, v in vals.items()}
    rows, peak, _ = rounds_analysis(med)
    if not rows or not peak:
        return False
    plots_, used = [], []
    for i, c in enumerate(dict.fromkeys(r["config"] for r in rows)):
        dat = os.path.join(tmp, f"rounds-{c}.dat")
        with open(dat, "w") as f:
            for r in sorted((r for r in rows if r["config"] == c), key=lambda r: r["k"]):
                v = vals[("rounds", str(r["k"]), c, "gflops")]
                used.append(v)
                if r["task_us"] is not None:
                    f.write(f"{r['task_us']} {r['efficiency']} {min(v) / peak} "
                            f"{max(v) / peak}\n")
        lw = 2.5 if c.startswith("wsexec") else 1.5
        plots_.append(f"'{dat}' using 1:2:3:4 with yerrorlines lw {lw} pt {i + 4} "
                      f"title '{c}'")
    width = WORKERS if not REPLOT else os.environ.get("WORKERS", "2")
    gp = os.path.join(tmp, "rounds.gp")
    with open(gp, "w") as f:
        f.write("set terminal pngcairo size 1000,560 noenhanced\n"
                f"set output '{os.path.join(RESULTS, 'rounds.png')}'\n"
                f"set title \"Rounds: {width} tasks per step (one per worker), 1-D stencil; "
                f"efficiency = FLOP rate / peak ({fmt(peak)} GFLOP/s)\\n"
                f"{runs_note(used, mode)}\" font ',10'\n"
                "set logscale x\nset xlabel 'task duration, run alone (us, log)'\n"
                "set ylabel 'efficiency'\nset yrange [0:1.1]\nset grid\n"
                "set key outside right top font ',9'\n"
                "set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 2 lc rgb 'gray40'\n"
                "plot " + ", ".join(plots_) + "\n")
    p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if p.returncode != 0 or p.stderr.strip():
        print(f"gnuplot on {gp}: {p.stderr}", file=sys.stderr)
    return p.returncode == 0


def main():
    os.makedirs(RESULTS, exist_ok=True)
    if REPLOT:
        vals = collect(read_raw(os.path.join(RESULTS, f"raw{SUFFIX}.csv")))
        mode = os.environ.get("MODE", "full run")
        print(f"redrawn ({mode}): " + ", ".join(plots(vals, mode)))
        return
    mode = "full run" if FULL else ("QUICK run" if QUICK else "partial run (knobs set)")
    print(f"RUNS={RUNS} QUICK={int(QUICK)} FIB_N={' '.join(FIB_N)} FLAT_N={FLAT_N} "
          f"workers={WORKERS} workloads={' '.join(SELECTED)}; {mode}: results in {RESULTS}",
          flush=True)
    if "rounds" in SELECTED:
        calibrate()
    if "forflat" in SELECTED or "forirr" in SELECTED:
        calibrate_loops()
    rows, secs = run_all()
    vals = collect(rows)
    med = summarize(vals)
    md = tables(med)
    pngs = plots(vals, mode)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    with open(os.path.join(RESULTS, f"results{SUFFIX}.md"), "w") as f:
        f.write(f"# wsexec benchmark results\n\n{stamp}; {mode}; {RUNS} interleaved runs per "
                f"configuration, medians over runs (p99: median of the per-run p99s); "
                f"{secs:.0f} s; workloads: {' '.join(SELECTED)}. Raw data: raw{SUFFIX}.csv, "
                f"medians: summary{SUFFIX}.csv.\n\n{md}\n"
                + "".join(f"![{p}]({p})\n" for p in pngs))
    print("\n" + md)
    print(f"written: {RESULTS}/results{SUFFIX}.md, raw{SUFFIX}.csv, summary{SUFFIX}.csv, "
          + ", ".join(pngs) + (", rounds.csv" if "rounds" in SELECTED else ""))


main()

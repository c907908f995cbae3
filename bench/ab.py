#!/usr/bin/env python3
"""Two builds of the benchmark, interleaved: the before/after figure of a change.

    bench/ab.py [--pairs N] [--env K=V ...] BUILD_A BUILD_B JOB...

BUILD_A and BUILD_B are benchmark build directories (cmake -S bench -B DIR), for
example one of the commit before a change and one of the change. A JOB is
PROGRAM:WORKLOAD:PARAM:CONFIG:WORKERS[:METRIC], e.g. wse_bench:fib:30:wsexec:2 or
wse_bench:flat:1000000:wsexec-batch:2:cold_Mtasks_s; without METRIC every metric the
program prints is kept. Each of the N pairs runs every job once with A and once with
B, in the order AB on even pairs and BA on odd ones, so that drift of a shared host
falls on both sides. Prints, per job and metric, the median of A, the median of B
and the median of the per-pair ratios B/A, then "better" or "worse" by the metric's
direction (throughputs *_s and gflops up, times down) when the ratio is beyond 2 %.
Check the host's load (uptime) before and after.
"""
import os
import statistics
import subprocess
import sys

HIGHER_IS_BETTER = ("_s", "gflops", "Mtasks_s", "ratio")


def run(build, job, env):
    prog, workload, param, config, workers = job[:5]
    p = subprocess.run([os.path.join(build, prog), workload, param, config, workers],
                       capture_output=True, text=True, timeout=900, env=env)
    if p.returncode != 0:
        sys.exit(f"ab.py: {build}/{prog} {' '.join(job[1:5])} failed ({p.returncode}):\n"
                 f"{p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        parts = line.split(",")
        if len(parts) != 5:
            continue
        metric = parts[3]
        if len(job) > 5 and metric != job[5]:
            continue
        out[(parts[2], metric)] = float(parts[4])
    return out


def main(argv):
    pairs = 5
    env = dict(os.environ)
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--pairs":
            pairs = int(argv[i + 1])
            i += 2
        elif argv[i] == "--env":
            k, v = argv[i + 1].split("=", 1)
            env[k] = v
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) < 3:
        sys.exit(__doc__)
    a, b = args[0], args[1]
    jobs = [tuple(j.split(":")) for j in args[2:]]
    for j in jobs:
        if len(j) not in (5, 6):
            sys.exit(f"ab.py: bad job {':'.join(j)} (PROGRAM:WORKLOAD:PARAM:CONFIG:WORKERS[:METRIC])")
    res = {}  # (job, config, metric) -> {"A": [...], "B": [...]}
    for p in range(pairs):
        for j in jobs:
            order = (("A", a), ("B", b)) if p % 2 == 0 else (("B", b), ("A", a))
            for side, build in order:
                for (config, metric), v in run(build, j, env).items():
                    res.setdefault((j, config, metric), {"A": [], "B": []})[side].append(v)
        print(f"pair {p + 1}/{pairs} done", file=sys.stderr, flush=True)
    print(f"A = {a}\nB = {b}\n{pairs} interleaved pairs; medians; ratio = median of per-pair B/A\n")
    print("| job | metric | A | B | B/A | |")
    print("|---|---|---:|---:|---:|---|")
    for (j, config, metric), v in res.items():
        n = min(len(v["A"]), len(v["B"]))
        ratios = [v["B"][k] / v["A"][k] for k in range(n) if v["A"][k] != 0]
        r = statistics.median(ratios) if ratios else float("nan")
        up = metric.endswith(HIGHER_IS_BETTER)
        verdict = ""
        if r == r and abs(r - 1) > 0.02:
            verdict = "better" if (r > 1) == up else "worse"
        name = f"{j[1]} {j[2]} {config} {j[4]}w"
        print(f"| {name} | {metric} | {statistics.median(v['A']):.4g} | "
              f"{statistics.median(v['B']):.4g} | {r:.3f} | {verdict} |")


if __name__ == "__main__":
    main(sys.argv[1:])

"""CPython concurrent.futures.ThreadPoolExecutor, the semantics wsexec implements.

Usage: py_bench.py WORKLOAD PARAM CONFIG WORKERS (flat rt fc ff waitn ascompleted idle);
prints the same CSV lines as the C programs (workload,param,config,metric,value).
"""
import os
import resource
import sys
import threading
import time
from concurrent.futures import (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION,
                                ThreadPoolExecutor, as_completed, wait)

CLOCK = time.CLOCK_MONOTONIC
workload, param, config, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def now():
    return time.clock_gettime_ns(CLOCK)


def env(name, default):
    return int(os.environ.get(name) or default)


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (ru.ru_utime + ru.ru_stime) * 1e9


def emit(metric, value):
    print(f"{workload},{param},{config},{metric},{value:.6g}")


def emit_latency(samples):
    samples.sort()
    n = len(samples)
    emit("median_us", samples[n // 2] / 1e3)
    emit("p99_us", samples[min(n - 1, int(0.99 * n))] / 1e3)


def tiny(x):
    return x * 3 + 1


def spin_until(t):
    while now() < t:
        pass


def bench_flat():
    n = int(param)
    with ThreadPoolExecutor(workers) as ex:
        for metric in ("cold_Mtasks_s", "warm_Mtasks_s"):
            t0 = now()
            fs = [ex.submit(tiny, i) for i in range(n)]
            wait(fs)
            emit(metric, n / ((now() - t0) / 1e9) / 1e6)


def bench_rt():
    gap = param != "hot"
    n = env("RT_GAP_N", 200) if gap else env("RT_HOT_N", 20000) // 4
    gap_s = env("RT_GAP_US", 5000) / 1e6
    lat = []
    with ThreadPoolExecutor(workers) as ex:
        for _ in range(100):
            ex.submit(tiny, 1).result()
        c0, w0 = cpu(), now()
        for _ in range(n):
            if gap:
                time.sleep(gap_s)
            t0 = now()
            ex.submit(tiny, 1).result()
            lat.append(now() - t0)
        c1, w1 = cpu(), now()
    emit_latency(lat)
    emit("cpu_pct", 100.0 * (c1 - c0) / (w1 - w0))


def bench_fc():
    n = env("FC_N", 100)
    early_ns = env("FC_EARLY_US", 1000) * 1000
    lat = []
    state = {}

    def task(early):
        start = now()
        if early:
            spin_until(start + early_ns)
            state["done_at"] = now()
            return 1
        while not state["stop"] and now() - start < 20_000_000:
            pass
        return 0

    with ThreadPoolExecutor(workers) as ex:
        for s in range(n + 5):
            state["stop"] = False
            fs = [ex.submit(task, i == 0) for i in range(64)]
            done, _ = wait(fs, return_when=FIRST_COMPLETED)
            t = now()
            assert fs[0] in done
            if s >= 5:
                lat.append(t - state["done_at"])
            state["stop"] = True
            wait(fs)
    emit_latency(lat)


def bench_ff():
    tasks = int(param)
    n = env("FF_N", 20)
    fail_after = env("FF_FAIL_AFTER_US", 1000) * 1000
    task_ns = env("FF_TASK_US", 50) * 1000
    lat, vain = [], []
    for s in range(n + 1):
        st = {"submitted": False, "failed": False, "in_vain": 0, "failed_at": 0}
        lock = threading.Lock()

        def task(failing):
            if failing:
                while not st["submitted"]:
                    time.sleep(0)
                spin_until(now() + fail_after)
                st["failed_at"] = now()
                st["failed"] = True
                raise OSError("the failing task")
            if st["failed"]:
                with lock:
                    st["in_vain"] += 1
            spin_until(now() + task_ns)

        ex = ThreadPoolExecutor(workers)
        fs = [ex.submit(task, i == 0) for i in range(tasks)]
        st["submitted"] = True
        wait(fs, return_when=FIRST_EXCEPTION)
        t = now()
        ex.shutdown(wait=True, cancel_futures=True)
        assert fs[0].exception() is not None
        if s >= 1:
            lat.append(t - st["failed_at"])
            vain.append(st["in_vain"])
    emit_latency(lat)
    vain.sort()
    emit("in_vain", vain[len(vain) // 2])


def bench_waitn():
    n = int(param)
    with ThreadPoolExecutor(workers) as ex:
        fs = [ex.submit(tiny, i) for i in range(n)]
        wait(fs)
        reps = 3 if n >= 100000 else max(1, 30000 // n)
        v = []
        for _ in range(reps):
            t0 = now()
            wait(fs)
            v.append(now() - t0)
        v.sort()
        emit("done_ns_per_future", v[len(v) // 2] / n)


def ident(i):
    return i


def bench_ascompleted():
    """n tiny tasks returning their index, consumed with as_completed; the clock runs
    from the first submission to the last result. One untimed round warms up."""
    n = int(param)
    with ThreadPoolExecutor(workers) as ex:
        for _ in range(2):
            t0 = now()
            fs = [ex.submit(ident, i) for i in range(n)]
            seen = set()
            for f in as_completed(fs):
                seen.add(f.result())
            ns = now() - t0
            assert seen == set(range(n))
    emit("ns_per_result", ns / n)
    emit("Mresults_s", n / (ns / 1e9) / 1e6)


def bench_idle():
    idle_s = env("IDLE_MS", 2000) / 1e3
    with ThreadPoolExecutor(workers) as ex:
        wait([ex.submit(tiny, i) for i in range(1000)])
        c0, w0 = cpu(), now()
        time.sleep(idle_s)
        c1, w1 = cpu(), now()
    emit("cpu_pct", 100.0 * (c1 - c0) / (w1 - w0))


globals()["bench_" + workload]()

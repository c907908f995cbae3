// oneTBB task_group. Usage: tbb_bench WORKLOAD PARAM CONFIG WORKERS (fib flat rt idle).
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include <string>
#include <vector>

#include "common.h"

static const char *workload, *param, *config;
static volatile uint64_t sink;

static long
fib(int n)
{
    if (n < 2)
        return n;
    long a, b;
    tbb::task_group g;
    g.run([&] { a = fib(n - 1); });
    g.run([&] { b = fib(n - 2); });
    g.wait();
    return a + b;
}

static void
bench_fib()
{
    int n = atoi(param);
    fib(n > 25 ? 25 : n);
    int64_t t0 = now_ns();
    long v = fib(n);
    int64_t t1 = now_ns();
    if (v != fib_expected(n))
        exit(1);
    emit(workload, param, config, "time_ms", (double)(t1 - t0) / 1e6);
}

static void
bench_flat()
{
    size_t n = (size_t)atol(param);
    std::vector<uint64_t> res(n);
    tbb::task_group g;
    for (int round = 0; round < 2; round++) {
        int64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            g.run([&res, i] { res[i] = tiny_work(i + 1); });
        g.wait();
        int64_t t1 = now_ns();
        emit(workload, param, config, round == 0 ? "cold_Mtasks_s" : "warm_Mtasks_s",
             (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
    }
    sink = res[n / 2];
}

static void
bench_rt()
{
    bool gap = strcmp(param, "hot") != 0;
    size_t n = (size_t)env_long(gap ? "RT_GAP_N" : "RT_HOT_N", gap ? 200 : 20000);
    int64_t gap_ns = env_long("RT_GAP_US", 5000) * 1000;
    std::vector<int64_t> lat(n);
    tbb::task_group g;
    int64_t c0 = 0, w0 = 0;
    for (size_t i = 0; i < 100 + n; i++) {
        if (i == 100) {
            c0 = process_cpu_ns();
            w0 = now_ns();
        }
        if (gap && i >= 100)
            sleep_ns(gap_ns);
        int64_t t0 = now_ns();
        uint64_t r = 0;
        g.run([&r] { r = 1; });
        g.wait();
        if (i >= 100)
            lat[i - 100] = now_ns() - t0;
        sink = r;
    }
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit_latency(workload, param, config, lat.data(), n);
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
}

static void
bench_idle()
{
    int64_t idle_ns = env_long("IDLE_MS", 2000) * 1000000;
    tbb::task_group g;
    for (int i = 0; i < 1000; i++)
        g.run([i] { sink = tiny_work((uint64_t)i); });
    g.wait();
    int64_t c0 = process_cpu_ns(), w0 = now_ns();
    sleep_ns(idle_ns);
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
}

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s WORKLOAD PARAM CONFIG WORKERS\n", argv[0]);
        return 2;
    }
    workload = argv[1];
    param = argv[2];
    config = argv[3];
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)atoi(argv[4]));
    std::string w = workload;
    if (w == "fib")
        bench_fib();
    else if (w == "flat")
        bench_flat();
    else if (w == "rt")
        bench_rt();
    else if (w == "idle")
        bench_idle();
    else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], workload);
        return 2;
    }
    return fflush(stdout) != 0;
}

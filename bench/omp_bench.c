/* OpenMP tasks; built twice: gcc -fopenmp (libgomp) and clang -fopenmp=libomp.
 * Usage: omp_bench WORKLOAD PARAM CONFIG WORKERS (fib flat rt idle rounds
 * round2). */
#include <omp.h>

#include "common.h"

static const char *workload, *param, *config;
static volatile uint64_t sink;

static long
fib(int n)
{
    if (n < 2)
        return n;
    long a, b;
#pragma omp task shared(a)
    a = fib(n - 1);
#pragma omp task shared(b)
    b = fib(n - 2);
#pragma omp taskwait
    return a + b;
}

static long
fib_par(int n)
{
    long v = 0;
#pragma omp parallel
#pragma omp single
    v = fib(n);
    return v;
}

static void
bench_fib(void)
{
    int n = atoi(param);
    fib_par(n > 25 ? 25 : n);
    int64_t t0 = now_ns();
    long v = fib_par(n);
    int64_t t1 = now_ns();
    if (v != fib_expected(n))
        exit(1);
    emit(workload, param, config, "time_ms", (double)(t1 - t0) / 1e6);
}

static void
bench_flat(void)
{
    size_t n = (size_t)atol(param);
    uint64_t *res = malloc(n * sizeof *res);
    if (!res)
        exit(1);
#pragma omp parallel
#pragma omp single
    for (int round = 0; round < 2; round++) {
        int64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
            res[i] = tiny_work(i + 1);
        }
#pragma omp taskwait
        int64_t t1 = now_ns();
        emit(workload, param, config, round == 0 ? "cold_Mtasks_s" : "warm_Mtasks_s",
             (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
    }
    sink = res[n / 2];
    free(res);
}

static void
bench_rt(void)
{
    int gap = strcmp(param, "hot") != 0;
    size_t n = (size_t)env_long(gap ? "RT_GAP_N" : "RT_HOT_N", gap ? 200 : 20000);
    int64_t gap_ns = env_long("RT_GAP_US", 5000) * 1000;
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    int64_t c0 = 0, w0 = 0, c1 = 0, w1 = 0;
#pragma omp parallel
#pragma omp single
    {
        for (size_t i = 0; i < 100 + n; i++) {
            if (i == 100) {
                c0 = process_cpu_ns();
                w0 = now_ns();
            }
            if (gap && i >= 100)
                sleep_ns(gap_ns);
            int64_t t0 = now_ns();
            uint64_t r = 0;
#pragma omp task shared(r)
            r = 1;
#pragma omp taskwait
            if (i >= 100)
                lat[i - 100] = now_ns() - t0;
            sink = r;
        }
        c1 = process_cpu_ns();
        w1 = now_ns();
    }
    emit_latency(workload, param, config, lat, n);
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
    free(lat);
}

static void
bench_idle(void)
{
    int64_t idle_ns = env_long("IDLE_MS", 2000) * 1000000;
#pragma omp parallel
#pragma omp single
    for (int i = 0; i < 1000; i++) {
#pragma omp task firstprivate(i)
        sink = tiny_work((uint64_t)i);
    }
    int64_t c0 = process_cpu_ns(), w0 = now_ns();
    sleep_ns(idle_ns);
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
}

/* rounds (common.h): (for) the usual loop-parallel code, a `parallel for` per step
 * (the runtime keeps its thread team between regions); (task) the stencil as `task
 * depend` from one thread, in/out on the result slots, then one taskwait. */
static struct rounds rd;

static void
rounds_for(int64_t *lat)
{
    long w = (long)rd.width;
    for (size_t s = 1; s <= rd.steps; s++) {
        int64_t t0 = lat ? now_ns() : 0;
#pragma omp parallel for schedule(static)
        for (long i = 0; i < w; i++)
            rounds_run(&rd, s, (size_t)i);
        if (lat)
            lat[s - 1] = now_ns() - t0;
    }
}

static void
rounds_task(void)
{
    double *v = rd.val;
    size_t w = rd.width;
    for (size_t s = 1; s <= rd.steps; s++)
        for (size_t i = 0; i < w; i++) {
            size_t lo, hi, up = (s - 1) * w, c = up + i, me = s * w + i;
            rounds_neighbours(&rd, i, &lo, &hi);
            lo += up;
            hi += up;
#pragma omp task firstprivate(s, i) depend(in : v[lo], v[c], v[hi]) depend(out : v[me])
            rounds_run(&rd, s, i);
        }
#pragma omp taskwait
}

static void
bench_rounds(void)
{
    int task = strstr(config, "task") != NULL;
    rd.k = atol(param);
    rd.width = (size_t)omp_get_max_threads();
    size_t steps = rounds_steps(rd.k);
    int64_t t0 = 0, t1 = 0;
    if (task) {
#pragma omp parallel
#pragma omp single
        {
            rounds_reset(&rd, 10); /* warm-up */
            rounds_task();
            rounds_reset(&rd, steps);
            t0 = now_ns();
            rounds_task();
            t1 = now_ns();
        }
    } else {
        rounds_reset(&rd, 10);
        rounds_for(NULL);
        rounds_reset(&rd, steps);
        t0 = now_ns();
        rounds_for(NULL);
        t1 = now_ns();
    }
    rounds_check(&rd, config);
    rounds_emit(workload, param, config, &rd, t1 - t0);
    free(rd.val);
}

static void
bench_round2(void)
{
    size_t n = (size_t)env_long("ROUND2_S", 20000);
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    rd.k = 0;
    rd.width = 2;
    rounds_reset(&rd, 100);
    rounds_for(NULL);
    rounds_reset(&rd, n);
    rounds_for(lat);
    rounds_check(&rd, config);
    emit_latency(workload, param, config, lat, n);
    free(lat);
    free(rd.val);
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
    omp_set_num_threads(atoi(argv[4]));
    if (strcmp(workload, "fib") == 0)
        bench_fib();
    else if (strcmp(workload, "flat") == 0)
        bench_flat();
    else if (strcmp(workload, "rt") == 0)
        bench_rt();
    else if (strcmp(workload, "idle") == 0)
        bench_idle();
    else if (strcmp(workload, "rounds") == 0)
        bench_rounds();
    else if (strcmp(workload, "round2") == 0)
        bench_round2();
    else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], workload);
        return 2;
    }
    return fflush(stdout) != 0;
}

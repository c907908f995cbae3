/* OpenMP tasks; built twice: gcc -fopenmp (libgomp) and clang -fopenmp=libomp.
 * Usage: omp_bench WORKLOAD PARAM CONFIG WORKERS (fib flat rt idle rounds
 * round2 forempty forflat forirr mandel reduce). */
#include <omp.h>

#include "common.h"
#include "loops.h"

static const char *workload, *param, *config;
static volatile uint64_t sink;
static volatile double dsink;

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

/* ---- The loop workloads (loops.h): `parallel for` regions from the main thread, which
 * is one of the WORKERS threads of the team (the runtime keeps the team between
 * regions). forflat and reduce: schedule(static); forirr and mandel: schedule(dynamic)
 * or schedule(guided) (default chunk sizes), as CONFIG says. */
static int
loop_sched(void)
{
    if (strstr(config, "guided"))
        return 2;
    if (strstr(config, "dynamic"))
        return 1;
    return 0;
}

static void
forempty_call(void *arg)
{
    (void)arg;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < 2; i++)
        loop_empty((size_t)i);
}

static void
bench_forempty(void)
{
    forempty_run(workload, param, config, forempty_call, NULL);
}

static uint64_t
forflat_par(uint64_t n, uint64_t m)
{
    uint64_t s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (uint64_t i = 0; i < n; i++)
        s += loop_work(i, m, s);
    return s;
}

static void
bench_forflat(void)
{
    double ns;
    uint64_t n, m;
    forflat_param(param, &ns, &n);
    m = loop_steps(ns);
    uint64_t want = forflat_expect(n, m);
    struct loop_reps r;
    loop_check(workload, config, forflat_par(loop_warm_n(n), m), forflat_expect(loop_warm_n(n), m));
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        uint64_t s = forflat_par(n, m);
        loop_reps_add(&r, now_ns() - t0);
        loop_check(workload, config, s, want);
    } while (loop_reps_more(&r));
    loop_emit(workload, param, config, loop_reps_median(&r), n);
}

static uint64_t
forirr_par(uint64_t n, uint64_t kmax, int sched)
{
    uint64_t s = 0;
    if (sched == 2) {
#pragma omp parallel for schedule(guided) reduction(+ : s)
        for (uint64_t i = 0; i < n; i++)
            s += loop_work(i, forirr_steps(i, n, kmax), s);
    } else {
#pragma omp parallel for schedule(dynamic) reduction(+ : s)
        for (uint64_t i = 0; i < n; i++)
            s += loop_work(i, forirr_steps(i, n, kmax), s);
    }
    return s;
}

static void
bench_forirr(void)
{
    uint64_t n = (uint64_t)strtod(param, NULL), kmax = forirr_kmax(), wn = loop_warm_n(n);
    int sched = loop_sched();
    uint64_t want = forirr_expect(n, kmax);
    struct loop_reps r;
    loop_check(workload, config, forirr_par(wn, kmax, sched), forirr_expect(wn, kmax));
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        uint64_t s = forirr_par(n, kmax, sched);
        loop_reps_add(&r, now_ns() - t0);
        loop_check(workload, config, s, want);
    } while (loop_reps_more(&r));
    loop_emit(workload, param, config, loop_reps_median(&r), 0);
}

static void
mandel_par(struct mandel *m, int sched)
{
    if (sched == 2) {
#pragma omp parallel for schedule(guided)
        for (int y = 0; y < m->h; y++)
            m->row[y] = mandel_row(m, y);
    } else {
#pragma omp parallel for schedule(dynamic)
        for (int y = 0; y < m->h; y++)
            m->row[y] = mandel_row(m, y);
    }
}

static void
bench_mandel(void)
{
    struct mandel m;
    struct loop_reps r;
    int sched = loop_sched();
    mandel_init(&m, param);
    mandel_par(&m, sched); /* warm-up */
    loop_reps_init(&r);
    do {
        mandel_clear(&m);
        int64_t t0 = now_ns();
        mandel_par(&m, sched);
        loop_reps_add(&r, now_ns() - t0);
    } while (loop_reps_more(&r));
    mandel_check(&m, config);
    loop_emit(workload, param, config, loop_reps_median(&r), 0);
    free(m.row);
}

static double
reduce_par(const double *v, uint64_t n)
{
    double s = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (uint64_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

static void
bench_reduce(void)
{
    uint64_t n = reduce_n(param);
    double *v = reduce_array(n), s = 0.0, first = 0.0;
    struct loop_reps r;
    dsink = reduce_par(v, loop_warm_n(n)); /* warm-up */
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        s = reduce_par(v, n);
        loop_reps_add(&r, now_ns() - t0);
        if (r.n == 1)
            first = s;
        else if (memcmp(&s, &first, sizeof s) != 0) /* static: the same chunks each time */
            fprintf(stderr, "%s: reduce: the result changed between runs\n", config);
    } while (loop_reps_more(&r));
    reduce_emit(workload, param, config, loop_reps_median(&r), n, s, reduce_seq(v, n));
    free(v);
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
    else if (strcmp(workload, "forempty") == 0)
        bench_forempty();
    else if (strcmp(workload, "forflat") == 0)
        bench_forflat();
    else if (strcmp(workload, "forirr") == 0)
        bench_forirr();
    else if (strcmp(workload, "mandel") == 0)
        bench_mandel();
    else if (strcmp(workload, "reduce") == 0)
        bench_reduce();
    else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], workload);
        return 2;
    }
    return fflush(stdout) != 0;
}

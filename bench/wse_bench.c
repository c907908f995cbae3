/* wsexec side of the benchmark. Usage: wse_bench WORKLOAD PARAM CONFIG WORKERS
 * Prints CSV lines (see common.h). Workloads: fib flat rt fc ff waitn ascompleted idle
 * stoppoll stoplat rounds round2 forempty forflat forirr mandel reduce scopestop
 * scopecost (and fib with a scope per call: config wsexec-scope-Kw). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wsexec.h>

#include "common.h"
#include "loops.h"

static const char *workload, *param, *config;
static unsigned workers;

static wse_executor *
make_executor_of(unsigned n)
{
    wse_options o = {0};
    o.workers = n;
    /* "caller": the main thread runs tasks it waits on (wse_options.caller_runs)
     * and counts as one of the `workers` threads, as OpenMP's master and
     * oneTBB's calling thread do. */
    if (strstr(config, "caller") != NULL && n > 1) {
        o.workers = n - 1;
        o.caller_runs = true;
    }
    /* WSE_BENCH_SPIN_US: wse_options.spin_us, for trying other budgets. */
    o.spin_us = (unsigned)env_long("WSE_BENCH_SPIN_US", 0);
    wse_executor *ex;
    BENCH_CHECK(wse_executor_create(&ex, &o));
    /* "trace": the flight recorder runs for the whole measurement (its cost per
     * event; rings of 2^16 events, so that they wrap as a long run's would). */
    if (strstr(config, "trace") != NULL)
        BENCH_CHECK(wse_trace_start(ex, (size_t)1 << 16));
    return ex;
}

static wse_executor *
make_executor(void)
{
    return make_executor_of(workers);
}

static void
release_all(wse_future **f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wse_future_release(f[i]);
}

static int
noop_task(void *arg, void **res)
{
    *res = arg;
    return 0;
}

/* ---- 1. fork-join fib: a future per spawned task, wait(ALL_COMPLETED) inside */
static int
fib_task(void *arg, void **res)
{
    intptr_t n = (intptr_t)arg;
    if (n < 2) {
        *res = (void *)n;
        return 0;
    }
    wse_executor *ex = wse_current();
    wse_future *f[2];
    BENCH_CHECK(wse_submit(ex, fib_task, (void *)(n - 1), &f[0]));
    BENCH_CHECK(wse_submit(ex, fib_task, (void *)(n - 2), &f[1]));
    BENCH_CHECK(wse_wait(f, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    *res = (void *)((intptr_t)wse_future_value(f[0]) + (intptr_t)wse_future_value(f[1]));
    release_all(f, 2);
    return 0;
}

static long
fib_run(wse_executor *ex, int n)
{
    wse_future *f;
    BENCH_CHECK(wse_submit(ex, fib_task, (void *)(intptr_t)n, &f));
    BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
    long v = (long)(intptr_t)wse_future_value(f);
    wse_future_release(f);
    return v;
}

/* The same fib with one ALL_COMPLETED scope per call: the two children are submitted
 * with out == NULL and write their results into the caller's frame, which the join
 * keeps alive (nothing outlives it). */
struct fib_call {
    long n;
    long result;
};

static int
fib_scope_task(void *arg, void **res)
{
    struct fib_call *c = arg;
    (void)res;
    if (c->n < 2) {
        c->result = c->n;
        return 0;
    }
    struct fib_call kids[2] = {{c->n - 1, 0}, {c->n - 2, 0}};
    wse_scope *s;
    BENCH_CHECK(wse_scope_create(&s, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER));
    BENCH_CHECK(wse_scope_submit(s, fib_scope_task, &kids[0], NULL));
    BENCH_CHECK(wse_scope_submit(s, fib_scope_task, &kids[1], NULL));
    BENCH_CHECK(wse_scope_join(s, NULL));
    wse_scope_destroy(s);
    c->result = kids[0].result + kids[1].result;
    return 0;
}

static long
fib_scope_run(wse_executor *ex, int n)
{
    struct fib_call c = {n, 0};
    wse_future *f;
    BENCH_CHECK(wse_submit(ex, fib_scope_task, &c, &f));
    BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
    wse_future_release(f);
    return c.result;
}

/* One run of fib(n) by run(): ms. */
static double
fib_time_ms(wse_executor *ex, long (*run)(wse_executor *, int), int n)
{
    int64_t t0 = now_ns();
    long v = run(ex, n);
    int64_t t1 = now_ns();
    if (v != fib_expected(n)) {
        fprintf(stderr, "fib(%d) = %ld, wrong\n", n, v);
        exit(1);
    }
    return (double)(t1 - t0) / 1e6;
}

/* Config wsexec-scope-Kw: the scope version and the futures version in one
 * process, alternating (each pair in the other order than the one before),
 * FIBSCOPE_R pairs (9): the median time of each (wsexec-scope-Kw,
 * wsexec-scope-futures-Kw) and the median of the per-pair ratios
 * (wsexec-scope/futures-Kw). Separate processes differ by more than the
 * difference measured (where the scheduler puts the worker). */
static void
bench_fib_scope_pairs(wse_executor *ex, int n)
{
    long r = env_long("FIBSCOPE_R", 9);
    int64_t *scope = malloc((size_t)r * sizeof *scope);
    int64_t *futures = malloc((size_t)r * sizeof *futures);
    int64_t *ratio = malloc((size_t)r * sizeof *ratio);
    char name[128];
    if (!scope || !futures || !ratio || r < 1) {
        fprintf(stderr, "fib: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < r; i++) {
        double a, b; /* futures, scope: in microseconds below, for quantile() */
        if (i % 2 == 0) {
            a = fib_time_ms(ex, fib_run, n);
            b = fib_time_ms(ex, fib_scope_run, n);
        } else {
            b = fib_time_ms(ex, fib_scope_run, n);
            a = fib_time_ms(ex, fib_run, n);
        }
        futures[i] = (int64_t)(a * 1e3);
        scope[i] = (int64_t)(b * 1e3);
        ratio[i] = (int64_t)(b / a * 1e6);
    }
    emit(workload, param, config, "time_ms", (double)quantile(scope, (size_t)r, 0.5) / 1e3);
    const char *k = strstr(config, "scope-");
    snprintf(name, sizeof name, "wsexec-scope-futures-%s", k != NULL ? k + 6 : config);
    emit(workload, param, name, "time_ms", (double)quantile(futures, (size_t)r, 0.5) / 1e3);
    snprintf(name, sizeof name, "wsexec-scope/futures-%s", k != NULL ? k + 6 : config);
    emit(workload, param, name, "ratio", (double)quantile(ratio, (size_t)r, 0.5) / 1e6);
    free(scope);
    free(futures);
    free(ratio);
}

static void
bench_fib(void)
{
    int n = atoi(param);
    long (*run)(wse_executor *, int) = strstr(config, "scope") != NULL ? fib_scope_run : fib_run;
    wse_executor *ex = make_executor();
    run(ex, n > 25 ? 25 : n); /* warm-up */
    if (run == fib_scope_run) {
        fib_run(ex, n > 25 ? 25 : n);
        bench_fib_scope_pairs(ex, n);
        BENCH_CHECK(wse_executor_destroy(ex));
        return;
    }
    emit(workload, param, config, "time_ms", fib_time_ms(ex, run, n));
    BENCH_CHECK(wse_executor_destroy(ex));
}

/* ---- 2. flat batch of tiny tasks from the main thread, one wait for all */
static int
tiny_task(void *arg, void **res)
{
    *res = (void *)(uintptr_t)tiny_work((uintptr_t)arg);
    return 0;
}

static void
bench_flat(void)
{
    size_t n = (size_t)atol(param);
    bool batch = strstr(config, "batch") != NULL;
    void **args = malloc(n * sizeof *args);
    wse_future **f = malloc(n * sizeof *f);
    if (!args || !f) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        args[i] = (void *)(uintptr_t)(i + 1);
    wse_executor *ex = make_executor();
    for (int round = 0; round < 2; round++) {
        int64_t t0 = now_ns();
        if (batch) {
            BENCH_CHECK(wse_submit_batch(ex, tiny_task, args, n, f));
        } else {
            for (size_t i = 0; i < n; i++)
                BENCH_CHECK(wse_submit(ex, tiny_task, args[i], &f[i]));
        }
        BENCH_CHECK(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
        int64_t t1 = now_ns();
        emit(workload, param, config, round == 0 ? "cold_Mtasks_s" : "warm_Mtasks_s",
             (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
        release_all(f, n);
    }
    BENCH_CHECK(wse_executor_destroy(ex));
    free(args);
    free(f);
}

/* ---- 3. round trip: submit one task, wait for it; hot, or with gaps */
static void
bench_rt(void)
{
    bool gap = strcmp(param, "hot") != 0;
    size_t n = (size_t)env_long(gap ? "RT_GAP_N" : "RT_HOT_N", gap ? 200 : 20000);
    int64_t gap_ns = env_long("RT_GAP_US", 5000) * 1000;
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    wse_executor *ex = make_executor();
    for (int i = 0; i < 100; i++) { /* warm-up */
        wse_future *f;
        BENCH_CHECK(wse_submit(ex, noop_task, NULL, &f));
        BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
        wse_future_release(f);
    }
    int64_t c0 = process_cpu_ns(), w0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        if (gap)
            sleep_ns(gap_ns);
        wse_future *f;
        int64_t t0 = now_ns();
        BENCH_CHECK(wse_submit(ex, noop_task, NULL, &f));
        BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
        lat[i] = now_ns() - t0;
        wse_future_release(f);
    }
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit_latency(workload, param, config, lat, n);
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
    BENCH_CHECK(wse_executor_destroy(ex));
    free(lat);
}

/* ---- 4. first-completed wake-up: 64 tasks, one finishes early */
#define FC_TASKS 64
static atomic_int fc_stop;
static _Atomic int64_t fc_done_at;

static int
fc_task(void *arg, void **res)
{
    (void)res;
    int64_t start = now_ns();
    if (arg) { /* the early one */
        spin_until_ns(start + env_long("FC_EARLY_US", 1000) * 1000);
        atomic_store(&fc_done_at, now_ns());
        return 0;
    }
    while (!atomic_load_explicit(&fc_stop, memory_order_relaxed) && now_ns() - start < 20000000) {
    }
    return 0;
}

static void
bench_fc(void)
{
    size_t n = (size_t)env_long("FC_N", 100);
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    wse_executor *ex = make_executor();
    for (size_t s = 0; s < n + 5; s++) { /* 5 warm-up samples */
        wse_future *f[FC_TASKS], *out[FC_TASKS];
        size_t n_done;
        atomic_store(&fc_stop, 0);
        atomic_store(&fc_done_at, 0);
        for (int i = 0; i < FC_TASKS; i++)
            BENCH_CHECK(wse_submit(ex, fc_task, (void *)(intptr_t)(i == 0), &f[i]));
        BENCH_CHECK(wse_wait(f, FC_TASKS, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &n_done));
        int64_t t = now_ns();
        if (n_done < 1 || out[0] != f[0]) {
            fprintf(stderr, "fc: the early task was not the first done\n");
            exit(1);
        }
        if (s >= 5)
            lat[s - 5] = t - atomic_load(&fc_done_at);
        atomic_store(&fc_stop, 1);
        BENCH_CHECK(wse_wait(f, FC_TASKS, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
        release_all(f, FC_TASKS);
    }
    emit_latency(workload, param, config, lat, n);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(lat);
}

/* ---- 5. fail-fast: one task of many fails; FIRST_EXCEPTION, then cancel */
static atomic_int ff_submitted, ff_failed, ff_in_vain;
static _Atomic int64_t ff_failed_at;

static int
ff_task(void *arg, void **res)
{
    (void)res;
    if (arg) { /* the failing one: fails 1 ms after the last submission */
        while (!atomic_load(&ff_submitted)) {
        }
        spin_until_ns(now_ns() + env_long("FF_FAIL_AFTER_US", 1000) * 1000);
        atomic_store(&ff_failed_at, now_ns());
        atomic_store(&ff_failed, 1);
        return EIO;
    }
    if (atomic_load(&ff_failed))
        atomic_fetch_add(&ff_in_vain, 1);
    spin_until_ns(now_ns() + env_long("FF_TASK_US", 50) * 1000);
    return 0;
}

static void
bench_ff(void)
{
    size_t tasks = (size_t)atol(param);
    size_t n = (size_t)env_long("FF_N", 20);
    int64_t *lat = malloc(n * sizeof *lat), *vain = malloc(n * sizeof *vain);
    wse_future **f = malloc(tasks * sizeof *f);
    if (!lat || !vain || !f)
        exit(1);
    for (size_t s = 0; s < n + 1; s++) { /* 1 warm-up sample */
        atomic_store(&ff_submitted, 0);
        atomic_store(&ff_failed, 0);
        atomic_store(&ff_in_vain, 0);
        wse_executor *ex = make_executor();
        for (size_t i = 0; i < tasks; i++)
            BENCH_CHECK(wse_submit(ex, ff_task, (void *)(intptr_t)(i == 0), &f[i]));
        atomic_store(&ff_submitted, 1);
        BENCH_CHECK(wse_wait(f, tasks, WSE_FOREVER, WSE_FIRST_EXCEPTION, NULL, NULL));
        int64_t t = now_ns();
        BENCH_CHECK(wse_shutdown(ex, false, true));
        BENCH_CHECK(wse_executor_destroy(ex));
        if (wse_future_error(f[0]) != EIO) {
            fprintf(stderr, "ff: the failing task did not fail\n");
            exit(1);
        }
        if (s >= 1) {
            lat[s - 1] = t - atomic_load(&ff_failed_at);
            vain[s - 1] = atomic_load(&ff_in_vain);
        }
        release_all(f, tasks);
    }
    emit_latency(workload, param, config, lat, n);
    emit(workload, param, config, "in_vain", (double)quantile(vain, n, 0.5));
    free(lat);
    free(vain);
    free(f);
}

/* ---- 6. wait cost against n: done futures (fast path) and pending ones */
static atomic_int gate_open, gates_running;

static int
gate_task(void *arg, void **res)
{
    (void)arg;
    (void)res;
    atomic_fetch_add(&gates_running, 1);
    while (!atomic_load(&gate_open)) {
    }
    return 0;
}

static void *
opener(void *arg)
{
    sleep_ns(*(int64_t *)arg);
    atomic_store(&gate_open, 1);
    return NULL;
}

static void
bench_waitn(void)
{
    size_t n = (size_t)atol(param);
    wse_future **f = malloc(n * sizeof *f), **out = malloc(n * sizeof *out);
    wse_future *gates[1024];
    if (!f || !out)
        exit(1);
    wse_executor *ex = make_executor();

    /* Pending futures, completed by a gate: the waiter's own CPU time per future.
     * Three rounds (the first one warms up), the median is reported. */
    int64_t cpu[3];
    for (int round = 0; round < 3; round++) {
        atomic_store(&gate_open, 0);
        atomic_store(&gates_running, 0);
        for (unsigned i = 0; i < workers; i++)
            BENCH_CHECK(wse_submit(ex, gate_task, NULL, &gates[i]));
        while (atomic_load(&gates_running) < (int)workers) {
        }
        for (size_t i = 0; i < n; i++)
            BENCH_CHECK(wse_submit(ex, noop_task, NULL, &f[i]));
        int64_t delay = 2000000 + (int64_t)n * 200;
        pthread_t th;
        BENCH_CHECK(pthread_create(&th, NULL, opener, &delay));
        int64_t c0 = thread_cpu_ns();
        BENCH_CHECK(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, out, NULL));
        cpu[round] = thread_cpu_ns() - c0;
        BENCH_CHECK(pthread_join(th, NULL));
        BENCH_CHECK(wse_wait(gates, workers, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
        release_all(gates, workers);
        if (round < 2)
            release_all(f, n);
    }
    emit(workload, param, config, "pending_cpu_ns_per_future",
         (double)quantile(cpu, 3, 0.5) / (double)n);

    /* The same futures, now done: the fast path, wall time per future. */
    size_t reps = n >= 100000 ? 3 : 300000 / n;
    int64_t *v = malloc(reps * sizeof *v);
    if (!v)
        exit(1);
    for (size_t r = 0; r < reps; r++) {
        int64_t t0 = now_ns();
        BENCH_CHECK(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, out, NULL));
        v[r] = now_ns() - t0;
    }
    emit(workload, param, config, "done_ns_per_future", (double)quantile(v, reps, 0.5) / (double)n);
    release_all(f, n);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(v);
    free(f);
    free(out);
}

/* ---- 6b. ascompleted: n tiny tasks (each returns its index) submitted from the main
 * thread, consumed one by one with wse_as_completed_next(); the clock runs from the
 * first submission to the last result. One untimed round warms up. */
static void
bench_ascompleted(void)
{
    size_t n = (size_t)atol(param);
    wse_future **f = malloc(n * sizeof *f);
    unsigned char *seen = malloc(n);
    if (!f || !seen || n == 0) {
        fprintf(stderr, "ascompleted: bad n or out of memory\n");
        exit(1);
    }
    wse_executor *ex = make_executor();
    int64_t ns = 0;
    for (int round = 0; round < 2; round++) {
        memset(seen, 0, n);
        int64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            BENCH_CHECK(wse_submit(ex, noop_task, (void *)(uintptr_t)i, &f[i]));
        wse_as_completed *it;
        BENCH_CHECK(wse_as_completed_create(&it, f, n, WSE_FOREVER));
        wse_future *d;
        size_t idx, got = 0;
        int rc;
        while ((rc = wse_as_completed_next(it, &d, &idx)) == 0) {
            if ((size_t)(uintptr_t)wse_future_value(d) != idx || seen[idx]) {
                fprintf(stderr, "ascompleted: entry %zu wrong or returned twice\n", idx);
                exit(1);
            }
            seen[idx] = 1;
            got++;
        }
        ns = now_ns() - t0;
        if (rc != ENOENT || got != n) {
            fprintf(stderr, "ascompleted: %zu of %zu results, then %s\n", got, n, strerror(rc));
            exit(1);
        }
        wse_as_completed_destroy(it);
        release_all(f, n);
    }
    emit(workload, param, config, "ns_per_result", (double)ns / (double)n);
    emit(workload, param, config, "Mresults_s", (double)n / ((double)ns / 1e9) / 1e6);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(f);
    free(seen);
}

/* ---- 7. idle: CPU used by an idle executor (after one small batch) */
static void
bench_idle(void)
{
    int64_t idle_ns = env_long("IDLE_MS", 2000) * 1000000;
    wse_executor *ex = make_executor();
    wse_future *f[1000];
    for (int i = 0; i < 1000; i++)
        BENCH_CHECK(wse_submit(ex, tiny_task, (void *)(intptr_t)i, &f[i]));
    BENCH_CHECK(wse_wait(f, 1000, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    release_all(f, 1000);
    int64_t c0 = process_cpu_ns(), w0 = now_ns();
    sleep_ns(idle_ns);
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
    BENCH_CHECK(wse_executor_destroy(ex));
}

/* ---- 8. stoppoll: the cost of one wse_stop_requested() inside a task, before any stop
 * and after one was requested of an unrelated task (the stop epoch is then non-zero) */
static atomic_int spin_started;
static _Atomic int64_t spin_saw_stop_at;

static int
stop_spinner(void *arg, void **res)
{
    (void)arg;
    (void)res;
    atomic_store(&spin_started, 1);
    while (!wse_stop_requested()) {
    }
    atomic_store(&spin_saw_stop_at, now_ns());
    return ECANCELED;
}

static int
poll_task(void *arg, void **res)
{
    long n = (long)(intptr_t)arg, hits = 0;
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        hits += wse_stop_requested();
    int64_t t1 = now_ns();
    if (hits != 0) {
        fprintf(stderr, "stoppoll: a task nobody stopped saw a stop\n");
        exit(1);
    }
    *res = (void *)(intptr_t)(t1 - t0);
    return 0;
}

static double
poll_ns_per_call(wse_executor *ex, long n)
{
    wse_future *f;
    BENCH_CHECK(wse_submit(ex, poll_task, (void *)(intptr_t)n, &f));
    BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
    double ns = (double)(intptr_t)wse_future_value(f) / (double)n;
    wse_future_release(f);
    return ns;
}

/* Run a spinner, ask it to stop, wait; returns the ns from the request to the moment
 * the spinner saw it. */
static int64_t
stop_one(wse_executor *ex)
{
    wse_future *f;
    atomic_store(&spin_started, 0);
    BENCH_CHECK(wse_submit(ex, stop_spinner, NULL, &f));
    while (!atomic_load(&spin_started)) {
    }
    int64_t t0 = now_ns();
    if (!wse_future_request_stop(f)) {
        fprintf(stderr, "stop: the spinner was already done\n");
        exit(1);
    }
    BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
    if (wse_future_state(f) != WSE_CANCELLED) {
        fprintf(stderr, "stop: the stopped spinner did not end CANCELLED\n");
        exit(1);
    }
    wse_future_release(f);
    return atomic_load(&spin_saw_stop_at) - t0;
}

static void
bench_stoppoll(void)
{
    long n = env_long("STOPPOLL_N", 10000000);
    wse_executor *ex = make_executor();
    poll_ns_per_call(ex, n / 10); /* warm-up */
    emit(workload, param, config, "before_ns_per_call", poll_ns_per_call(ex, n));
    stop_one(ex);
    emit(workload, param, config, "after_ns_per_call", poll_ns_per_call(ex, n));
    BENCH_CHECK(wse_executor_destroy(ex));
}

/* Median and p99 of n trials (the environment variable `knob`, else dflt) of one(),
 * which returns a latency in ns, after 5 for warm-up. */
static void
latency_trials(const char *knob, long dflt, int64_t (*one)(wse_executor *))
{
    size_t n = (size_t)env_long(knob, dflt);
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    wse_executor *ex = make_executor();
    for (int i = 0; i < 5; i++) /* warm-up */
        one(ex);
    for (size_t i = 0; i < n; i++)
        lat[i] = one(ex);
    emit_latency(workload, param, config, lat, n);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(lat);
}

/* ---- 9. stoplat: wse_future_request_stop() to the moment the running task sees it
 * (it spins on wse_stop_requested() and then returns ECANCELED) */
static void
bench_stoplat(void)
{
    latency_trials("STOPLAT_N", 200, stop_one);
}

/* ---- 10. rounds: `steps` steps of `workers` compute-bound tasks (common.h), three
 * ways: a batch and a wait per step; a dependency graph driven by wse_future_on_done()
 * counters; the same graph built up front with wse_submit_after(). The task of (s, i)
 * gets s * width + i as its argument. */
static struct rounds rd;

static int
round_task(void *arg, void **res)
{
    (void)res;
    size_t id = (size_t)(uintptr_t)arg;
    rounds_run(&rd, id / rd.width, id % rd.width);
    return 0;
}

#define ROUND_ARG(s, i) ((void *)(uintptr_t)((s)*rd.width + (i)))

/* (a) The main thread submits each step as a batch and waits for all of it. With
 * lat, each step's time is stored there. */
static void
rounds_batch(wse_executor *ex, int64_t *lat)
{
    size_t w = rd.width;
    void **args = malloc(w * sizeof *args);
    wse_future **f = malloc(w * sizeof *f);
    if (!args || !f)
        exit(1);
    for (size_t s = 1; s <= rd.steps; s++) {
        int64_t t0 = lat ? now_ns() : 0;
        for (size_t i = 0; i < w; i++)
            args[i] = ROUND_ARG(s, i);
        BENCH_CHECK(wse_submit_batch(ex, round_task, args, w, f));
        BENCH_CHECK(wse_wait(f, w, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
        release_all(f, w);
        if (lat)
            lat[s - 1] = now_ns() - t0;
    }
    free(args);
    free(f);
}

/* (b) Each task (s, i), s >= 2, has a counter of its inputs not yet done; the on_done
 * callback of an input decrements it, and the one that takes it to zero submits the
 * task. The callbacks of the last row complete one promise each, the main thread
 * waits on those. */
static wse_executor *ondone_ex;
static atomic_int *ondone_left;
static wse_future **ondone_last;

static void ondone_submit(size_t s, size_t i);

static void
ondone_cb(wse_future *f, void *arg)
{
    size_t id = (size_t)(uintptr_t)arg, s = id / rd.width, i = id % rd.width, lo, hi;
    wse_future_release(f); /* the callback's thread holds its own reference */
    if (s == rd.steps) {
        BENCH_CHECK(wse_promise_set_value(ondone_last[i], NULL));
        return;
    }
    rounds_neighbours(&rd, i, &lo, &hi);
    for (size_t j = lo; j <= hi; j++)
        /* acq_rel: releases this task's result to the thread that takes the counter to
         * zero, which acquires every other input's release on the same counter */
        if (atomic_fetch_sub_explicit(&ondone_left[(s + 1) * rd.width + j], 1,
                                      memory_order_acq_rel) == 1)
            ondone_submit(s + 1, j);
}

static void
ondone_submit(size_t s, size_t i)
{
    wse_future *f;
    BENCH_CHECK(wse_submit(ondone_ex, round_task, ROUND_ARG(s, i), &f));
    BENCH_CHECK(wse_future_on_done(f, ondone_cb, ROUND_ARG(s, i)));
}

static void
rounds_ondone(wse_executor *ex)
{
    size_t w = rd.width, lo, hi;
    ondone_ex = ex;
    ondone_left = malloc((rd.steps + 1) * w * sizeof *ondone_left);
    ondone_last = malloc(w * sizeof *ondone_last);
    if (!ondone_left || !ondone_last)
        exit(1);
    for (size_t i = 0; i < w; i++) {
        rounds_neighbours(&rd, i, &lo, &hi);
        for (size_t s = 2; s <= rd.steps; s++)
            atomic_init(&ondone_left[s * w + i], (int)(hi - lo + 1));
        BENCH_CHECK(wse_promise_create(&ondone_last[i], NULL));
    }
    for (size_t i = 0; i < w; i++)
        ondone_submit(1, i);
    BENCH_CHECK(wse_wait(ondone_last, w, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    release_all(ondone_last, w);
    free(ondone_left);
    free(ondone_last);
}

/* (c) The main thread submits the whole graph up front: each task after its inputs,
 * which are the contiguous futures prev[lo .. hi] of the row before; then it waits on
 * the last row. */
static void
rounds_after(wse_executor *ex)
{
    size_t w = rd.width, lo, hi;
    wse_future **prev = malloc(w * sizeof *prev), **cur = malloc(w * sizeof *cur);
    if (!prev || !cur)
        exit(1);
    for (size_t i = 0; i < w; i++)
        BENCH_CHECK(wse_submit(ex, round_task, ROUND_ARG(1, i), &prev[i]));
    for (size_t s = 2; s <= rd.steps; s++) {
        for (size_t i = 0; i < w; i++) {
            rounds_neighbours(&rd, i, &lo, &hi);
            BENCH_CHECK(
                wse_submit_after(ex, &prev[lo], hi - lo + 1, round_task, ROUND_ARG(s, i), &cur[i]));
        }
        release_all(prev, w); /* the library keeps what it still needs */
        wse_future **t = prev;
        prev = cur;
        cur = t;
    }
    BENCH_CHECK(wse_wait(prev, w, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    release_all(prev, w);
    free(prev);
    free(cur);
}

/* (d) "wsexec-for": each step is one wse_for(ex, 0, width, 1, ...) from the main
 * thread, which takes part and returns when the step is done: the loop-parallel
 * idiom of OpenMP's and oneTBB's `for` configurations (grain 1: a chunk per index). */
static int
round_for_fn(size_t b, size_t e, void *ctx)
{
    size_t s = *(const size_t *)ctx;
    for (size_t i = b; i < e; i++)
        rounds_run(&rd, s, i);
    return 0;
}

static void
rounds_for(wse_executor *ex, int64_t *lat)
{
    for (size_t s = 1; s <= rd.steps; s++) {
        int64_t t0 = lat ? now_ns() : 0;
        BENCH_CHECK(wse_for(ex, 0, rd.width, 1, round_for_fn, &s, NULL));
        if (lat)
            lat[s - 1] = now_ns() - t0;
    }
}

static void
rounds_once(wse_executor *ex, size_t steps)
{
    rounds_reset(&rd, steps);
    if (strstr(config, "ondone"))
        rounds_ondone(ex);
    else if (strstr(config, "after"))
        rounds_after(ex);
    else if (strstr(config, "-for"))
        rounds_for(ex, NULL);
    else
        rounds_batch(ex, NULL);
}

static void
bench_rounds(void)
{
    rd.k = atol(param);
    rd.width = workers;
    wse_executor *ex = make_executor();
    rounds_once(ex, 10); /* warm-up */
    size_t steps = rounds_steps(rd.k);
    int64_t t0 = now_ns();
    rounds_once(ex, steps);
    int64_t t1 = now_ns();
    rounds_check(&rd, config);
    rounds_emit(workload, param, config, &rd, t1 - t0);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(rd.val);
}

/* ---- 11. round2: the time of one 2-task round of empty tasks (k = 0) from the main
 * thread, step by step: the per-step overhead of the batch-and-wait idiom, or with
 * "wsexec-for" of one wse_for over the 2 indices */
static void
bench_round2(void)
{
    size_t n = (size_t)env_long("ROUND2_S", 20000);
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    rd.k = 0;
    rd.width = 2;
    wse_executor *ex = make_executor();
    bool loop = strstr(config, "-for") != NULL;
    rounds_reset(&rd, 100); /* warm-up */
    if (loop)
        rounds_for(ex, NULL);
    else
        rounds_batch(ex, NULL);
    rounds_reset(&rd, n);
    if (loop)
        rounds_for(ex, lat);
    else
        rounds_batch(ex, lat);
    rounds_check(&rd, config);
    emit_latency(workload, param, config, lat, n);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(lat);
    free(rd.val);
}

/* ---- 12. The loop workloads (loops.h): wse_for / wse_reduce from the main thread with
 * out == NULL (the main thread takes part until the loop is done), grain 0 (the
 * library chooses), on an executor of WORKERS worker threads (default wse_options
 * otherwise): so "wsexec-2w" is 2 workers plus the participating main thread, where
 * OpenMP's and oneTBB's 2 threads are the main thread plus 1. */
static int
forempty_fn(size_t b, size_t e, void *ctx)
{
    (void)ctx;
    for (size_t i = b; i < e; i++)
        loop_empty(i);
    return 0;
}

static void
forempty_call(void *ex)
{
    BENCH_CHECK(wse_for((wse_executor *)ex, 0, 2, 0, forempty_fn, NULL, NULL));
}

static void
bench_forempty(void)
{
    wse_executor *ex = make_executor();
    forempty_run(workload, param, config, forempty_call, ex);
    BENCH_CHECK(wse_executor_destroy(ex));
}

/* forflat and forirr: each chunk adds its sum to one atomic counter. */
struct loop_ctx {
    uint64_t n, m; /* iterations; steps (forflat) or the most steps (forirr) */
    bool irr;
    _Atomic uint64_t sum;
};

static int
loop_fn(size_t b, size_t e, void *ctx)
{
    struct loop_ctx *c = ctx;
    uint64_t s = c->irr ? forirr_chunk(b, e, c->n, c->m) : forflat_chunk(b, e, c->m);
    atomic_fetch_add_explicit(&c->sum, s, memory_order_relaxed);
    return 0;
}

static uint64_t
loop_run(wse_executor *ex, struct loop_ctx *c, uint64_t n)
{
    c->n = n;
    atomic_store(&c->sum, 0);
    BENCH_CHECK(wse_for(ex, 0, n, 0, loop_fn, c, NULL));
    return atomic_load(&c->sum);
}

static void
bench_forflat_irr(void)
{
    struct loop_ctx c = {0};
    double ns = 0;
    uint64_t n;
    c.irr = strcmp(workload, "forirr") == 0;
    if (c.irr) {
        n = (uint64_t)strtod(param, NULL);
        c.m = forirr_kmax();
    } else {
        forflat_param(param, &ns, &n);
        c.m = loop_steps(ns);
    }
    uint64_t wn = loop_warm_n(n);
    uint64_t want = c.irr ? forirr_expect(n, c.m) : forflat_expect(n, c.m);
    uint64_t want_wn = c.irr ? forirr_expect(wn, c.m) : forflat_expect(wn, c.m);
    wse_executor *ex = make_executor();
    loop_check(workload, config, loop_run(ex, &c, wn), want_wn); /* warm-up */
    struct loop_reps r;
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        uint64_t s = loop_run(ex, &c, n);
        loop_reps_add(&r, now_ns() - t0);
        loop_check(workload, config, s, want);
    } while (loop_reps_more(&r));
    loop_emit(workload, param, config, loop_reps_median(&r), c.irr ? 0 : n);
    BENCH_CHECK(wse_executor_destroy(ex));
}

static int
mandel_fn(size_t b, size_t e, void *ctx)
{
    struct mandel *m = ctx;
    for (size_t y = b; y < e; y++)
        m->row[y] = mandel_row(m, (int)y);
    return 0;
}

static void
bench_mandel(void)
{
    struct mandel m;
    struct loop_reps r;
    mandel_init(&m, param);
    wse_executor *ex = make_executor();
    BENCH_CHECK(wse_for(ex, 0, (size_t)m.h, 0, mandel_fn, &m, NULL)); /* warm-up */
    loop_reps_init(&r);
    do {
        mandel_clear(&m);
        int64_t t0 = now_ns();
        BENCH_CHECK(wse_for(ex, 0, (size_t)m.h, 0, mandel_fn, &m, NULL));
        loop_reps_add(&r, now_ns() - t0);
    } while (loop_reps_more(&r));
    mandel_check(&m, config);
    loop_emit(workload, param, config, loop_reps_median(&r), 0);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(m.row);
}

/* reduce, timed: a double accumulator, fn folds left to right, combine adds. */
static int
reduce_fn(size_t b, size_t e, void *acc, void *ctx)
{
    const double *v = ctx;
    double s = *(double *)acc;
    for (size_t i = b; i < e; i++)
        s += v[i];
    *(double *)acc = s;
    return 0;
}

static void
reduce_combine(void *acc, const void *next, void *ctx)
{
    (void)ctx;
    *(double *)acc += *(const double *)next;
}

static double
reduce_run(wse_executor *ex, const double *v, uint64_t n)
{
    double r = 0.0; /* the identity */
    BENCH_CHECK(wse_reduce(ex, 0, n, 0, &r, sizeof r, reduce_fn, reduce_combine, (void *)v, NULL));
    return r;
}

/* reduce, checked: the accumulator also carries the range it holds, and every fold and
 * combine is logged, so that the sum can be replayed sequentially in the same chunks
 * and the same combine tree, and the contract checked on the way: a fold extends its
 * accumulator's range at its end, a combine joins adjacent ranges, left then right. An
 * empty accumulator (the identity) has lo == hi == RANGE_NONE; combining with it is
 * not logged (0.0 + x == x). */
#define RANGE_NONE SIZE_MAX
struct racc {
    double s;
    size_t lo, hi;
};

enum { EV_FOLD, EV_COMBINE };
struct rev {
    int kind;
    size_t lo, mid, hi; /* fold: [lo, mid) was there, [mid, hi) folded in (lo == mid:
                           a fresh accumulator); combine: [lo, mid) + [mid, hi) */
    double val;         /* replay: the value of [lo, hi) */
};

static struct {
    const double *v;
    struct rev *ev;
    size_t cap;
    atomic_size_t n;
    atomic_int bad; /* a contract violation seen */
} rlog;

static void
rlog_add(int kind, size_t lo, size_t mid, size_t hi)
{
    size_t k = atomic_fetch_add(&rlog.n, 1);
    if (k < rlog.cap)
        rlog.ev[k] = (struct rev){kind, lo, mid, hi, 0.0};
}

static int
reduce_fn_logged(size_t b, size_t e, void *acc, void *ctx)
{
    struct racc *a = acc;
    (void)ctx;
    if (b >= e)
        return 0;
    if (a->lo == RANGE_NONE)
        a->lo = a->hi = b;
    else if (a->hi != b)
        atomic_store(&rlog.bad, 1);
    for (size_t i = b; i < e; i++)
        a->s += rlog.v[i];
    rlog_add(EV_FOLD, a->lo, b, e);
    a->hi = e;
    return 0;
}

static void
reduce_combine_logged(void *acc, const void *next, void *ctx)
{
    struct racc *a = acc;
    const struct racc *b = next;
    (void)ctx;
    if (b->lo == RANGE_NONE) {
        a->s += b->s;
        return;
    }
    if (a->lo == RANGE_NONE) {
        a->s += b->s;
        a->lo = b->lo;
        a->hi = b->hi;
        return;
    }
    if (a->hi != b->lo)
        atomic_store(&rlog.bad, 1);
    rlog_add(EV_COMBINE, a->lo, a->hi, b->hi);
    a->s += b->s;
    a->hi = b->hi;
}

static int
rev_by_len(const void *x, const void *y)
{
    const struct rev *a = x, *b = y;
    size_t la = a->hi - a->lo, lb = b->hi - b->lo;
    return (la > lb) - (la < lb);
}

static int
rev_by_range(const void *x, const void *y)
{
    const struct rev *a = *(const struct rev *const *)x, *b = *(const struct rev *const *)y;
    if (a->lo != b->lo)
        return (a->lo > b->lo) - (a->lo < b->lo);
    return (a->hi > b->hi) - (a->hi < b->hi);
}

/* The value the replay gave [lo, hi) (by[] sorted by range), or 0 with *ok = 0 if no
 * event produced it or it was not replayed yet (done[k]: event k was). */
static double
rev_value(struct rev **by, size_t n, const struct rev *base, const unsigned char *done, size_t lo,
          size_t hi, int *ok)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (by[m]->lo < lo || (by[m]->lo == lo && by[m]->hi < hi))
            a = m + 1;
        else
            b = m;
    }
    if (a < n && by[a]->lo == lo && by[a]->hi == hi && done[by[a] - base])
        return by[a]->val;
    *ok = 0;
    return 0.0;
}

/* Runs the logged reduce on ex and replays it sequentially. Returns 1 if the contract
 * held and the replay gives the bits of `timed` (the plain double run), 0 if not, -1
 * if the log overflowed; *chunks: the folds. */
static int
reduce_replay(wse_executor *ex, const double *v, uint64_t n, double timed, size_t *chunks)
{
    rlog.v = v;
    rlog.cap = 1u << 21;
    rlog.ev = malloc(rlog.cap * sizeof *rlog.ev);
    if (!rlog.ev)
        exit(1);
    atomic_store(&rlog.n, 0);
    atomic_store(&rlog.bad, 0);
    struct racc r = {0.0, RANGE_NONE, RANGE_NONE};
    BENCH_CHECK(
        wse_reduce(ex, 0, n, 0, &r, sizeof r, reduce_fn_logged, reduce_combine_logged, NULL, NULL));
    size_t ne = atomic_load(&rlog.n);
    *chunks = ne;
    if (ne > rlog.cap) {
        free(rlog.ev);
        return -1;
    }
    int ok =
        !atomic_load(&rlog.bad) && r.lo == 0 && r.hi == n && memcmp(&r.s, &timed, sizeof r.s) == 0;
    /* A fold or a combine producing [lo, hi) needs only shorter ranges: replay by
     * length, looking the inputs up by range. */
    qsort(rlog.ev, ne, sizeof *rlog.ev, rev_by_len);
    struct rev **by = malloc((ne ? ne : 1) * sizeof *by);
    unsigned char *done = calloc(ne ? ne : 1, 1);
    if (!by || !done)
        exit(1);
    for (size_t k = 0; k < ne; k++)
        by[k] = &rlog.ev[k];
    qsort(by, ne, sizeof *by, rev_by_range);
    *chunks = 0;
    for (size_t k = 0; k < ne; k++) {
        struct rev *e = &rlog.ev[k];
        double s = 0.0; /* a fresh accumulator: the identity */
        if (e->kind == EV_COMBINE || e->lo != e->mid)
            s = rev_value(by, ne, rlog.ev, done, e->lo, e->mid, &ok);
        if (e->kind == EV_FOLD) {
            *chunks += 1;
            for (size_t i = e->mid; i < e->hi; i++)
                s += v[i];
        } else {
            s += rev_value(by, ne, rlog.ev, done, e->mid, e->hi, &ok);
        }
        e->val = s;
        done[k] = 1;
    }
    double whole = rev_value(by, ne, rlog.ev, done, 0, n, &ok);
    ok = ok && memcmp(&whole, &timed, sizeof whole) == 0;
    free(by);
    free(done);
    free(rlog.ev);
    return ok;
}

static void
bench_reduce(void)
{
    uint64_t n = reduce_n(param);
    double *v = reduce_array(n), s = 0.0;
    wse_executor *ex = make_executor();
    volatile double warm = reduce_run(ex, v, loop_warm_n(n));
    (void)warm;
    struct loop_reps r;
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        double x = reduce_run(ex, v, n);
        loop_reps_add(&r, now_ns() - t0);
        if (r.n > 1 && memcmp(&x, &s, sizeof x) != 0) {
            fprintf(stderr, "%s: reduce: the result changed between runs\n", config);
            exit(1);
        }
        s = x;
    } while (loop_reps_more(&r));
    reduce_emit(workload, param, config, loop_reps_median(&r), n, s, reduce_seq(v, n));
    /* bitident: the same sum, bit for bit, on an executor of the other worker count
     * (1 <-> WORKERS; 2 when WORKERS is 1) */
    wse_executor *other = make_executor_of(workers == 1 ? 2 : 1);
    double o = reduce_run(other, v, n);
    BENCH_CHECK(wse_executor_destroy(other));
    emit(workload, param, config, "bitident", memcmp(&o, &s, sizeof o) == 0);
    /* replay: the sequential fold in the library's chunks and combine order gives the
     * same bits (1), or not (0), or the log overflowed (-1); chunks: how many */
    size_t chunks;
    int rep = reduce_replay(ex, v, n, s, &chunks);
    emit(workload, param, config, "replay", rep);
    emit(workload, param, config, "chunks", (double)chunks);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(v);
}

/* ---- scopestop: a FIRST_COMPLETED scope settles; from the deciding child's return to
 * the moment a running sibling (spinning on wse_stop_requested()) sees the stop. The
 * decider records the time just before it returns; the scope's settle then runs on its
 * thread and requests the stop for the sibling. Needs 2 workers (both children run). */
static _Atomic int64_t decider_done_at;

static int
decider_task(void *arg, void **res)
{
    (void)arg;
    (void)res;
    atomic_store(&decider_done_at, now_ns());
    return 0;
}

static int64_t
scope_stop_one(wse_executor *ex)
{
    wse_scope *s;
    wse_future *spinner;
    BENCH_CHECK(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, WSE_FOREVER));
    atomic_store(&spin_started, 0);
    BENCH_CHECK(wse_scope_submit(s, stop_spinner, NULL, &spinner));
    while (!atomic_load(&spin_started)) {
    }
    BENCH_CHECK(wse_scope_submit(s, decider_task, NULL, NULL));
    BENCH_CHECK(wse_scope_join(s, NULL));
    if (wse_future_state(spinner) != WSE_CANCELLED) {
        fprintf(stderr, "scopestop: the stopped sibling did not end CANCELLED\n");
        exit(1);
    }
    wse_future_release(spinner);
    wse_scope_destroy(s);
    return atomic_load(&spin_saw_stop_at) - atomic_load(&decider_done_at);
}

static void
bench_scopestop(void)
{
    if (workers < 2) {
        fprintf(stderr, "scopestop: needs 2 workers\n");
        exit(1);
    }
    latency_trials("SCOPESTOP_N", 500, scope_stop_one);
}

/* ---- scopecost: param tiny tasks (~50 ns) from the main thread, as the children of
 * one ALL_COMPLETED scope (wse_scope_submit with out == NULL, then wse_scope_join) or
 * as futures (wse_submit, then wse_wait(ALL_COMPLETED), then wse_future_release of
 * each: config wsexec-futures, the best of SCOPECOST_R repetitions after a warm-up);
 * ns per task, from the first submit to the return of the join, or to the last
 * release. Config wsexec-scope runs the two alternately in one process, as fib's
 * wsexec-scope-Kw does (SCOPECOST_PAIRS pairs, 15; each pair in the other order than
 * the one before): the medians of each (wsexec-scope, wsexec-scope-futures) and the
 * median of the per-pair ratios (wsexec-scope/futures). One run of this workload is
 * a few milliseconds: separate runs on a shared host differ by more than the two. */
static double
scopecost_once(wse_executor *ex, size_t n, bool scope, wse_future **f)
{
    int64_t t0 = now_ns();
    if (scope) {
        wse_scope *s;
        BENCH_CHECK(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, WSE_FOREVER));
        for (size_t i = 0; i < n; i++)
            BENCH_CHECK(wse_scope_submit(s, tiny_task, (void *)(uintptr_t)(i + 1), NULL));
        BENCH_CHECK(wse_scope_join(s, NULL));
        int64_t t1 = now_ns();
        wse_scope_destroy(s);
        return (double)(t1 - t0) / (double)n;
    }
    for (size_t i = 0; i < n; i++)
        BENCH_CHECK(wse_submit(ex, tiny_task, (void *)(uintptr_t)(i + 1), &f[i]));
    BENCH_CHECK(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    int64_t t1 = now_ns();
    release_all(f, n);
    int64_t t2 = now_ns();
    /* The futures' releases are part of what a plain submit costs (a scope's
     * children need none: they are freed as they complete): SCOPECOST_RELEASE=0
     * leaves them out, as this workload did at first. */
    return (double)((env_long("SCOPECOST_RELEASE", 1) ? t2 : t1) - t0) / (double)n;
}

static void
scopecost_pairs(wse_executor *ex, size_t n, wse_future **f)
{
    long r = env_long("SCOPECOST_PAIRS", 15);
    int64_t *scope = malloc((size_t)r * sizeof *scope);
    int64_t *futures = malloc((size_t)r * sizeof *futures);
    int64_t *ratio = malloc((size_t)r * sizeof *ratio);
    if (!scope || !futures || !ratio || r < 1) {
        fprintf(stderr, "scopecost: out of memory\n");
        exit(1);
    }
    (void)scopecost_once(ex, n, true, f); /* warm-up, both */
    (void)scopecost_once(ex, n, false, f);
    for (long i = 0; i < r; i++) {
        double a, b; /* futures, scope: ns per task */
        if (i % 2 == 0) {
            a = scopecost_once(ex, n, false, f);
            b = scopecost_once(ex, n, true, f);
        } else {
            b = scopecost_once(ex, n, true, f);
            a = scopecost_once(ex, n, false, f);
        }
        futures[i] = (int64_t)(a * 1e3);
        scope[i] = (int64_t)(b * 1e3);
        ratio[i] = (int64_t)(b / a * 1e6);
    }
    emit(workload, param, config, "ns_per_task", (double)quantile(scope, (size_t)r, 0.5) / 1e3);
    emit(workload, param, "wsexec-scope-futures", "ns_per_task",
         (double)quantile(futures, (size_t)r, 0.5) / 1e3);
    emit(workload, param, "wsexec-scope/futures", "ratio",
         (double)quantile(ratio, (size_t)r, 0.5) / 1e6);
    free(scope);
    free(futures);
    free(ratio);
}

static void
bench_scopecost(void)
{
    size_t n = (size_t)atol(param);
    long reps = env_long("SCOPECOST_R", 5);
    bool scope = strstr(config, "scope") != NULL;
    wse_future **f = malloc(n * sizeof *f);
    if (!f) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    wse_executor *ex = make_executor();
    if (scope) {
        scopecost_pairs(ex, n, f);
        BENCH_CHECK(wse_executor_destroy(ex));
        free(f);
        return;
    }
    double best = scopecost_once(ex, n, scope, f); /* warm-up */
    for (long r = 0; r < reps; r++) {
        double ns = scopecost_once(ex, n, scope, f);
        best = r == 0 || ns < best ? ns : best;
    }
    emit(workload, param, config, "ns_per_task", best);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(f);
}

/* ---- trace: write a trace of about PARAM events (a flat batch of PARAM / 2
 * tasks: a submit and a run each), into rings big enough to keep them all;
 * the time of wse_trace_write() and the file's bytes per event. */
static void
bench_tracewrite(void)
{
    size_t events = (size_t)atol(param);
    size_t n = events / 2;
    size_t ring = 1;
    wse_future **f = malloc(n * sizeof *f);
    char path[64];
    struct stat st;

    if (f == NULL)
        exit(1);
    while (ring < events)
        ring <<= 1;
    wse_executor *ex = make_executor();
    BENCH_CHECK(wse_trace_start(ex, ring));
    BENCH_CHECK(wse_submit_batch(ex, tiny_task, NULL, n, f));
    BENCH_CHECK(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    release_all(f, n);
    BENCH_CHECK(wse_trace_stop(ex));
    snprintf(path, sizeof path, "/tmp/wse-bench-trace-%ld.json", (long)getpid());
    int64_t t0 = now_ns();
    BENCH_CHECK(wse_trace_write(ex, path));
    int64_t t1 = now_ns();
    if (stat(path, &st) != 0)
        exit(1);
    emit(workload, param, config, "write_ms", (double)(t1 - t0) / 1e6);
    emit(workload, param, config, "MB", (double)st.st_size / 1e6);
    emit(workload, param, config, "bytes_per_task", (double)st.st_size / (double)n);
    remove(path);
    BENCH_CHECK(wse_executor_destroy(ex));
    free(f);
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
    workers = (unsigned)atoi(argv[4]);
    static const struct {
        const char *name;
        void (*fn)(void);
    } table[] = {{"fib", bench_fib},
                 {"flat", bench_flat},
                 {"rt", bench_rt},
                 {"fc", bench_fc},
                 {"ff", bench_ff},
                 {"waitn", bench_waitn},
                 {"ascompleted", bench_ascompleted},
                 {"idle", bench_idle},
                 {"stoppoll", bench_stoppoll},
                 {"stoplat", bench_stoplat},
                 {"rounds", bench_rounds},
                 {"round2", bench_round2},
                 {"forempty", bench_forempty},
                 {"forflat", bench_forflat_irr},
                 {"forirr", bench_forflat_irr},
                 {"mandel", bench_mandel},
                 {"reduce", bench_reduce},
                 {"scopestop", bench_scopestop},
                 {"scopecost", bench_scopecost},
                 {"tracewrite", bench_tracewrite}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(workload, table[i].name) == 0) {
            table[i].fn();
            return fflush(stdout) != 0;
        }
    fprintf(stderr, "%s: unknown workload %s\n", argv[0], workload);
    return 2;
}

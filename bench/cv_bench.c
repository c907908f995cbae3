/* The thread pool most C programs hand-roll: one shared FIFO queue under a mutex, a
 * condition variable for the workers, N threads; a future per task with its own
 * mutex + condvar, and an optional counter latch shared by many tasks (one wait for
 * all, or for the first). Usage: cv_bench WORKLOAD PARAM CONFIG WORKERS
 * (flat rt fc idle). fib is not run: a task blocking on its children's futures
 * holds its thread, so nested fork-join deadlocks once all threads wait. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"

typedef struct latch {
    pthread_mutex_t m;
    pthread_cond_t c;
    size_t count;
} latch;

typedef struct future {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    uint64_t value;
} future;

typedef struct job {
    struct job *next;
    uint64_t (*fn)(uint64_t);
    uint64_t arg;
    future *fut;  /* may be NULL */
    latch *latch; /* may be NULL */
} job;

typedef struct pool {
    pthread_mutex_t m;
    pthread_cond_t c;
    job *head, *tail;
    bool stop;
    unsigned n;
    pthread_t th[64];
} pool;

static void
latch_init(latch *l, size_t count)
{
    BENCH_CHECK(pthread_mutex_init(&l->m, NULL));
    BENCH_CHECK(pthread_cond_init(&l->c, NULL));
    l->count = count;
}

static void
latch_count_down(latch *l)
{
    BENCH_CHECK(pthread_mutex_lock(&l->m));
    if (l->count > 0 && --l->count == 0)
        BENCH_CHECK(pthread_cond_broadcast(&l->c));
    BENCH_CHECK(pthread_mutex_unlock(&l->m));
}

static void
latch_wait(latch *l)
{
    BENCH_CHECK(pthread_mutex_lock(&l->m));
    while (l->count > 0)
        BENCH_CHECK(pthread_cond_wait(&l->c, &l->m));
    BENCH_CHECK(pthread_mutex_unlock(&l->m));
}

static void
latch_destroy(latch *l)
{
    BENCH_CHECK(pthread_cond_destroy(&l->c));
    BENCH_CHECK(pthread_mutex_destroy(&l->m));
}

static future *
future_new(void)
{
    future *f = calloc(1, sizeof *f);
    if (!f)
        exit(1);
    BENCH_CHECK(pthread_mutex_init(&f->m, NULL));
    BENCH_CHECK(pthread_cond_init(&f->c, NULL));
    return f;
}

static uint64_t
future_get(future *f)
{
    BENCH_CHECK(pthread_mutex_lock(&f->m));
    while (!f->done)
        BENCH_CHECK(pthread_cond_wait(&f->c, &f->m));
    uint64_t v = f->value;
    BENCH_CHECK(pthread_mutex_unlock(&f->m));
    return v;
}

static void
future_free(future *f)
{
    BENCH_CHECK(pthread_cond_destroy(&f->c));
    BENCH_CHECK(pthread_mutex_destroy(&f->m));
    free(f);
}

static void *
worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        BENCH_CHECK(pthread_mutex_lock(&p->m));
        while (!p->head && !p->stop)
            BENCH_CHECK(pthread_cond_wait(&p->c, &p->m));
        job *j = p->head;
        if (!j) {
            BENCH_CHECK(pthread_mutex_unlock(&p->m));
            return NULL;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        BENCH_CHECK(pthread_mutex_unlock(&p->m));
        uint64_t v = j->fn(j->arg);
        if (j->latch) /* before the future: once every future is done, no latch is in use */
            latch_count_down(j->latch);
        if (j->fut) {
            BENCH_CHECK(pthread_mutex_lock(&j->fut->m));
            j->fut->value = v;
            j->fut->done = true;
            BENCH_CHECK(pthread_cond_broadcast(&j->fut->c));
            BENCH_CHECK(pthread_mutex_unlock(&j->fut->m));
        }
        free(j);
    }
}

static void
pool_init(pool *p, unsigned n)
{
    memset(p, 0, sizeof *p);
    BENCH_CHECK(pthread_mutex_init(&p->m, NULL));
    BENCH_CHECK(pthread_cond_init(&p->c, NULL));
    p->n = n;
    for (unsigned i = 0; i < n; i++)
        BENCH_CHECK(pthread_create(&p->th[i], NULL, worker, p));
}

static void
pool_submit(pool *p, uint64_t (*fn)(uint64_t), uint64_t arg, future *fut, latch *l)
{
    job *j = malloc(sizeof *j);
    if (!j)
        exit(1);
    *j = (job){NULL, fn, arg, fut, l};
    BENCH_CHECK(pthread_mutex_lock(&p->m));
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    BENCH_CHECK(pthread_cond_signal(&p->c));
    BENCH_CHECK(pthread_mutex_unlock(&p->m));
}

static void
pool_destroy(pool *p)
{
    BENCH_CHECK(pthread_mutex_lock(&p->m));
    p->stop = true;
    BENCH_CHECK(pthread_cond_broadcast(&p->c));
    BENCH_CHECK(pthread_mutex_unlock(&p->m));
    for (unsigned i = 0; i < p->n; i++)
        BENCH_CHECK(pthread_join(p->th[i], NULL));
    BENCH_CHECK(pthread_cond_destroy(&p->c));
    BENCH_CHECK(pthread_mutex_destroy(&p->m));
}

static const char *workload, *param, *config;
static unsigned workers;
static volatile uint64_t sink;

static uint64_t
one(uint64_t x)
{
    return x + 1;
}

static void
bench_flat(void)
{
    size_t n = (size_t)atol(param);
    pool p;
    pool_init(&p, workers);
    for (int round = 0; round < 2; round++) {
        latch l;
        latch_init(&l, n);
        int64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            pool_submit(&p, tiny_work, i + 1, NULL, &l);
        latch_wait(&l);
        int64_t t1 = now_ns();
        latch_destroy(&l);
        emit(workload, param, config, round == 0 ? "cold_Mtasks_s" : "warm_Mtasks_s",
             (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
    }
    pool_destroy(&p);
}

static void
bench_rt(void)
{
    bool gap = strcmp(param, "hot") != 0;
    size_t n = (size_t)env_long(gap ? "RT_GAP_N" : "RT_HOT_N", gap ? 200 : 20000);
    int64_t gap_ns = env_long("RT_GAP_US", 5000) * 1000;
    int64_t *lat = malloc(n * sizeof *lat);
    if (!lat)
        exit(1);
    pool p;
    pool_init(&p, workers);
    int64_t c0 = 0, w0 = 0;
    for (size_t i = 0; i < 100 + n; i++) {
        if (i == 100) {
            c0 = process_cpu_ns();
            w0 = now_ns();
        }
        if (gap && i >= 100)
            sleep_ns(gap_ns);
        int64_t t0 = now_ns();
        future *f = future_new();
        pool_submit(&p, one, i, f, NULL);
        sink = future_get(f);
        future_free(f);
        if (i >= 100)
            lat[i - 100] = now_ns() - t0;
    }
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit_latency(workload, param, config, lat, n);
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
    pool_destroy(&p);
    free(lat);
}

/* first-completed: the natural way with this pool is a latch of count 1 shared by
 * all 64 tasks (each task also has its own future) */
#define FC_TASKS 64
static atomic_int fc_stop;
static _Atomic int64_t fc_done_at;

static uint64_t
fc_task(uint64_t early)
{
    int64_t start = now_ns();
    if (early) {
        spin_until_ns(start + env_long("FC_EARLY_US", 1000) * 1000);
        atomic_store(&fc_done_at, now_ns());
        return 1;
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
    pool p;
    pool_init(&p, workers);
    for (size_t s = 0; s < n + 5; s++) {
        future *f[FC_TASKS];
        latch first;
        latch_init(&first, 1);
        atomic_store(&fc_stop, 0);
        atomic_store(&fc_done_at, 0);
        for (int i = 0; i < FC_TASKS; i++) {
            f[i] = future_new();
            pool_submit(&p, fc_task, i == 0, f[i], &first);
        }
        latch_wait(&first);
        int64_t t = now_ns();
        if (s >= 5)
            lat[s - 5] = t - atomic_load(&fc_done_at);
        atomic_store(&fc_stop, 1);
        for (int i = 0; i < FC_TASKS; i++) {
            sink = future_get(f[i]);
            future_free(f[i]);
        }
        latch_destroy(&first);
    }
    emit_latency(workload, param, config, lat, n);
    pool_destroy(&p);
    free(lat);
}

static void
bench_idle(void)
{
    int64_t idle_ns = env_long("IDLE_MS", 2000) * 1000000;
    pool p;
    pool_init(&p, workers);
    latch l;
    latch_init(&l, 1000);
    for (int i = 0; i < 1000; i++)
        pool_submit(&p, tiny_work, (uint64_t)i, NULL, &l);
    latch_wait(&l);
    latch_destroy(&l);
    int64_t c0 = process_cpu_ns(), w0 = now_ns();
    sleep_ns(idle_ns);
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
    pool_destroy(&p);
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
    if (workers < 1 || workers > 64)
        return 2;
    if (strcmp(workload, "flat") == 0)
        bench_flat();
    else if (strcmp(workload, "rt") == 0)
        bench_rt();
    else if (strcmp(workload, "fc") == 0)
        bench_fc();
    else if (strcmp(workload, "idle") == 0)
        bench_idle();
    else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], workload);
        return 2;
    }
    return fflush(stdout) != 0;
}

/*
 * Stress tests (ctest label "stress"): the unit suites' races,
 * bigger and longer. Sizes come from the environment so that CI runs short and a
 * soak runs long:
 *   WSE_STRESS_OPS     deque operations (push + pop + steal calls), default 10^8
 *   WSE_STRESS_ROUNDS  rounds of each executor race, default 2000 (the wait
 *                      race: 1000)
 *   WSE_PARK_ROUNDS    rounds of the submit-while-parked tests, default 5000
 *   WSE_TEST_WORKERS   workers of the executor races, default 2
 * Threads start at a barrier. Every wait that could hang is a timed wait (the
 * watchdog), and fails the test when it times out.
 */
#include "wse_test.h"

#include "deque.h"
#include "executor.h"

/* Seconds any single wait may take before the watchdog calls it a hang (scaled by
 * CK_TIMEOUT_MULTIPLIER). */
#define HANG_S wse_test_scale(20.0)

#if WSE__TSAN || defined(__SANITIZE_ADDRESS__)
#define OPS_DEFAULT 10000000L
#define ROUNDS_DEFAULT 300L
#else
#define OPS_DEFAULT 100000000L
#define ROUNDS_DEFAULT 2000L
#endif

static long
rounds(void)
{
    return env_long("WSE_STRESS_ROUNDS", ROUNDS_DEFAULT);
}

static unsigned
workers(void)
{
    return wse_test_workers(2);
}

/* ---- Deque: one owner, three thieves, >= WSE_STRESS_OPS operations --------------- */

#define THIEVES 3
#define ROUND_ITEMS (1L << 20)
#define ITEM(i) ((void *)(uintptr_t)((i) + 1))
#define INDEX(p) ((uintptr_t)(p) - (uintptr_t)1)

static struct wse__deque g_dq;
static unsigned char g_taken[ROUND_ITEMS];
static long g_ops;       /* push, pop and steal calls, all threads */
static long g_total;     /* items taken */
static long g_bad;       /* items out of range */
static int g_round_done; /* the owner pushed and drained this round */
static int g_quit;
static pthread_barrier_t g_bar;

static void
take(void *item)
{
    uintptr_t i = INDEX(item);
    if (item == NULL || i >= ROUND_ITEMS) {
        __atomic_add_fetch(&g_bad, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_add_fetch(&g_taken[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_total, 1, __ATOMIC_RELAXED);
}

static void *
thief_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&g_bar); /* round start */
        if (flag_get(&g_quit))
            return NULL;
        long ops = 0;
        unsigned idle = 0;
        for (;;) {
            void *item = NULL;
            ops++;
            enum wse__deque_steal_result r = wse__deque_steal(&g_dq, &item);
            if (r == WSE__DEQUE_STOLEN) {
                take(item);
                idle = 0;
            } else if (r == WSE__DEQUE_EMPTY) {
                if (flag_get(&g_round_done))
                    break;
                if (++idle % 64 == 0)
                    sched_yield();
            }
        }
        __atomic_add_fetch(&g_ops, ops, __ATOMIC_RELAXED);
        pthread_barrier_wait(&g_bar); /* round end */
    }
}

START_TEST(stress_deque_owner_three_thieves_ops)
{
    long target = env_long("WSE_STRESS_OPS", OPS_DEFAULT);
    ck_assert_int_eq(wse__deque_init(&g_dq, 2), 0);
    ck_assert_int_eq(pthread_barrier_init(&g_bar, NULL, THIEVES + 1), 0);
    pthread_t th[THIEVES];
    for (int t = 0; t < THIEVES; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, thief_main, NULL), 0);

    double t0 = now_s();
    uint32_t rnd = 12345u;
    long items_total = 0, nrounds = 0;
    g_ops = 0;
    while (__atomic_load_n(&g_ops, __ATOMIC_RELAXED) < target) {
        memset(g_taken, 0, sizeof g_taken);
        g_total = 0;
        g_round_done = 0;
        pthread_barrier_wait(&g_bar);
        long ops = 0, i = 0;
        while (i < ROUND_ITEMS) {
            rnd = rnd * 1103515245u + 12345u;
            long burst = 1 + (long)((rnd >> 16) % 128);
            if (burst > ROUND_ITEMS - i)
                burst = ROUND_ITEMS - i;
            for (long k = 0; k < burst; k++) {
                ops++;
                if (wse__deque_push(&g_dq, ITEM(i + k)) != 0)
                    ck_abort_msg("push failed");
            }
            i += burst;
            long pops = (long)((rnd >> 8) % (unsigned)(burst + 1));
            for (long k = 0; k < pops; k++) {
                ops++;
                void *p = wse__deque_pop(&g_dq);
                if (p == NULL)
                    break;
                take(p);
            }
        }
        void *p;
        while (ops++, (p = wse__deque_pop(&g_dq)) != NULL)
            take(p);
        __atomic_add_fetch(&g_ops, ops, __ATOMIC_RELAXED);
        flag_set(&g_round_done);
        pthread_barrier_wait(&g_bar);

        ck_assert_int_eq(g_bad, 0);
        ck_assert_int_eq(g_total, ROUND_ITEMS);
        for (long j = 0; j < ROUND_ITEMS; j++) {
            if (g_taken[j] != 1)
                ck_abort_msg("round %ld: item %ld taken %d times", nrounds, j, g_taken[j]);
        }
        ck_assert_int_eq(wse__deque_size_hint(&g_dq), 0);
        items_total += ROUND_ITEMS;
        nrounds++;
    }
    flag_set(&g_quit);
    pthread_barrier_wait(&g_bar);
    for (int t = 0; t < THIEVES; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&g_bar);
    wse__deque_destroy(&g_dq);
    printf("stress: deque %ld operations (%ld items pushed, each taken exactly once) "
           "by 1 owner + %d thieves in %.1f s\n",
           g_ops, items_total, THIEVES, now_s() - t0);
    fflush(stdout);
}
END_TEST

/* ---- Submit while every worker is parked, from several outside threads ----------- */

#define SUBMITTERS 3

struct parked_ctx {
    wse_executor *ex;
    pthread_barrier_t bar;
    int ran;
    int hung; /* a timed wait timed out */
    int errors;
};

static void
wait_all_parked(wse_executor *ex)
{
    double limit = now_s() + HANG_S;
    struct wse__pool *pool = wse__executor_pool(ex);
    while (wse__atomic_load_u32_acquire(&pool->park.n_sleeping) < pool->n_workers) {
        if (now_s() > limit)
            ck_abort_msg("workers did not park");
        sched_yield();
    }
}

static void *
parked_submitter(void *arg)
{
    struct parked_ctx *c = arg;
    for (long r = 0; r < rounds(); r++) {
        pthread_barrier_wait(&c->bar); /* the main thread saw every worker parked */
        wse_future *f = NULL;
        if (wse_submit(c->ex, task_count, &c->ran, &f) != 0) {
            counter_add(&c->errors, 1);
        } else {
            if (wse_future_wait(f, HANG_S) != 0)
                counter_add(&c->hung, 1);
            wse_future_release(f);
        }
        pthread_barrier_wait(&c->bar);
    }
    return NULL;
}

START_TEST(stress_submit_while_all_parked)
{
    struct parked_ctx c = {0};
    wse_options o = {0};
    o.workers = workers();
    o.spin_rounds = 1; /* park soon */
    ck_assert_int_eq(wse_executor_create(&c.ex, &o), 0);
    ck_assert_int_eq(pthread_barrier_init(&c.bar, NULL, SUBMITTERS + 1), 0);
    pthread_t th[SUBMITTERS];
    for (int t = 0; t < SUBMITTERS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, parked_submitter, &c), 0);
    for (long r = 0; r < rounds(); r++) {
        wait_all_parked(c.ex);
        pthread_barrier_wait(&c.bar);
        pthread_barrier_wait(&c.bar);
        ck_assert_int_eq(counter_get(&c.hung), 0);
    }
    for (int t = 0; t < SUBMITTERS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    ck_assert_int_eq(c.errors, 0);
    ck_assert_int_eq(c.hung, 0);
    ck_assert_int_eq(counter_get(&c.ran), (int)(rounds() * SUBMITTERS));
    ck_assert_int_eq(wse_executor_destroy(c.ex), 0);
    pthread_barrier_destroy(&c.bar);
}
END_TEST

/* ---- Wait racing completion --------------------------------------------------------- */

#define WAITERS 3

struct race_ctx {
    wse_executor *ex;
    pthread_barrier_t bar;
    wse_future *f;
    int go;
    int bad;
    char why[120]; /* the first failure */
};

static void
race_bad(struct race_ctx *c, const char *what, long round, int rc, long v)
{
    if (counter_add(&c->bad, 1) == 1)
        snprintf(c->why, sizeof c->why, "round %ld: %s (rc %d, %ld)", round, what, rc, v);
}

/* Spins until the round's go flag: completes while the waiters arrive. */
static int
task_go(void *arg, void **result)
{
    struct race_ctx *c = arg;
    while (!flag_get(&c->go))
        ;
    *result = c;
    return 0;
}

static void *
race_waiter(void *arg)
{
    struct race_ctx *c = arg;
    for (long r = 0; r < rounds(); r++) {
        pthread_barrier_wait(&c->bar);
        wse_future *f = c->f;
        int rc;
        if ((int)(r % 3) == 0) {
            rc = wse_future_wait(f, HANG_S);
        } else {
            wse_future *set[2] = {f, f};
            size_t nd = 0;
            rc = wse_wait(set, 2, HANG_S, r % 3 == 1 ? WSE_FIRST_COMPLETED : WSE_ALL_COMPLETED,
                          NULL, &nd);
            /* The result is one stable snapshot: the two entries of a duplicate
             * are on the same side, so a satisfied wait reports both done. */
            if (rc == 0 && nd != 2)
                race_bad(c, "duplicate entries split by the partition", r, rc, (long)nd);
        }
        if (rc != 0)
            race_bad(c, "wait failed", r, rc, 0);
        else if (wse_future_state(f) != WSE_DONE || wse_future_value(f) != c)
            race_bad(c, "returned before DONE", r, rc, (long)wse_future_state(f));
        pthread_barrier_wait(&c->bar);
    }
    return NULL;
}

START_TEST(stress_wait_racing_completion)
{
    struct race_ctx c = {0};
    c.ex = make_executor(workers());
    ck_assert_int_eq(pthread_barrier_init(&c.bar, NULL, WAITERS + 1), 0);
    pthread_t th[WAITERS];
    for (int t = 0; t < WAITERS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, race_waiter, &c), 0);
    for (long r = 0; r < rounds(); r++) {
        c.go = 0;
        ck_assert_int_eq(wse_submit(c.ex, task_go, &c, &c.f), 0);
        pthread_barrier_wait(&c.bar);
        flag_set(&c.go); /* completes while the waiters register */
        pthread_barrier_wait(&c.bar);
        wse_future_release(c.f);
    }
    for (int t = 0; t < WAITERS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    ck_assert_msg(c.bad == 0, "%d failures; first: %s", c.bad, c.why);
    ck_assert_int_eq(wse_executor_destroy(c.ex), 0);
    pthread_barrier_destroy(&c.bar);
}
END_TEST

/* ---- Cancel racing start --------------------------------------------------------------- */

#define BATCH 64

struct cancel_ctx {
    pthread_barrier_t bar;
    wse_future *f[BATCH];
    int ran[BATCH];
    int cancelled[BATCH]; /* wse_future_cancel() returned true */
};

static void *
canceller(void *arg)
{
    struct cancel_ctx *c = arg;
    for (long r = 0; r < rounds(); r++) {
        pthread_barrier_wait(&c->bar);
        if (r % 2 == 0) {
            for (int i = BATCH - 1; i >= 0; i--) /* against the workers' order */
                c->cancelled[i] = wse_future_cancel(c->f[i]);
        } else {
            /* Let the workers get ahead by a varying amount. */
            for (volatile long d = 0; d < (r % 64) * 50; d++)
                ;
            for (int i = 0; i < BATCH; i++) /* chasing the workers */
                c->cancelled[i] = wse_future_cancel(c->f[i]);
        }
        pthread_barrier_wait(&c->bar);
    }
    return NULL;
}

START_TEST(stress_cancel_racing_start)
{
    static struct cancel_ctx c;
    memset(&c, 0, sizeof c);
    wse_executor *ex = make_executor(workers());
    ck_assert_int_eq(pthread_barrier_init(&c.bar, NULL, 2), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, canceller, &c), 0);
    long n_cancelled = 0, n_ran = 0;
    for (long r = 0; r < rounds(); r++) {
        void *args[BATCH];
        for (int i = 0; i < BATCH; i++) {
            c.ran[i] = 0;
            args[i] = &c.ran[i];
        }
        ck_assert_int_eq(wse_submit_batch(ex, task_count, args, BATCH, c.f), 0);
        pthread_barrier_wait(&c.bar);
        pthread_barrier_wait(&c.bar);
        ck_assert_int_eq(wse_wait(c.f, BATCH, HANG_S, WSE_ALL_COMPLETED, NULL, NULL), 0);
        for (int i = 0; i < BATCH; i++) {
            wse_state s = wse_future_state(c.f[i]);
            int ran = counter_get(&c.ran[i]);
            /* Exactly one of ran / cancelled; cancel() true iff CANCELLED. */
            ck_assert_msg((s == WSE_DONE && ran == 1 && !c.cancelled[i]) ||
                              (s == WSE_CANCELLED && ran == 0 && c.cancelled[i]),
                          "round %ld future %d: state %d ran %d cancel() %d", r, i, (int)s, ran,
                          c.cancelled[i]);
            ck_assert(!wse_future_cancel(c.f[i])); /* done: a second cancel is false */
            n_cancelled += c.cancelled[i];
            n_ran += ran;
            wse_future_release(c.f[i]);
        }
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    pthread_barrier_destroy(&c.bar);
    printf("stress: cancel racing start: %ld ran, %ld cancelled\n", n_ran, n_cancelled);
    fflush(stdout);
}
END_TEST

/* ---- Shutdown racing submit and wait ----------------------------------------------------- */

#define SD_THREADS 3
#define SD_MAXF 4096

struct sd_thread {
    struct sd_ctx *c;
    wse_future *f[SD_MAXF];
    int n;
    int bad;
};

struct sd_ctx {
    wse_executor *ex;
    pthread_barrier_t bar;
    int ran;
};

static void *
sd_submitter(void *arg)
{
    struct sd_thread *t = arg;
    t->n = 0;
    t->bad = 0;
    pthread_barrier_wait(&t->c->bar);
    while (t->n < SD_MAXF) {
        wse_future *f = SENTINEL;
        int rc = wse_submit(t->c->ex, task_count, &t->c->ran, &f);
        if (rc == ESHUTDOWN) {
            if (f != SENTINEL)
                t->bad++;
            break;
        }
        if (rc != 0) {
            t->bad++;
            break;
        }
        t->f[t->n++] = f;
        /* Now and then wait on the last few (racing the shutdown). */
        if (t->n % 16 == 0) {
            size_t nd;
            int w = wse_wait(&t->f[t->n - 16], 16, HANG_S, (wse_return_when)(1 + t->n / 16 % 3),
                             NULL, &nd);
            if (w != 0)
                t->bad++;
        }
    }
    /* Every accepted future reaches a final state; the waiters return. */
    if (t->n > 0 && wse_wait(t->f, (size_t)t->n, HANG_S, WSE_ALL_COMPLETED, NULL, NULL) != 0)
        t->bad++;
    return NULL;
}

START_TEST(stress_shutdown_racing_submit_and_wait)
{
    static struct sd_thread th[SD_THREADS];
    long total = 0, cancelled = 0;
    long n = rounds() / 10 + 1;
    for (long r = 0; r < n; r++) {
        struct sd_ctx c = {0};
        c.ex = make_executor(workers());
        ck_assert_int_eq(pthread_barrier_init(&c.bar, NULL, SD_THREADS + 1), 0);
        pthread_t tid[SD_THREADS];
        for (int t = 0; t < SD_THREADS; t++) {
            th[t].c = &c;
            ck_assert_int_eq(pthread_create(&tid[t], NULL, sd_submitter, &th[t]), 0);
        }
        pthread_barrier_wait(&c.bar);
        for (int spin = 0; spin < (int)(r % 7) * 100; spin++)
            sched_yield(); /* vary how much gets in first */
        ck_assert_int_eq(wse_shutdown(c.ex, r % 2 == 0, r % 3 == 0), 0);
        ck_assert_int_eq(wse_submit(c.ex, task_count, &c.ran, NULL), ESHUTDOWN);
        for (int t = 0; t < SD_THREADS; t++)
            ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
        ck_assert_int_eq(wse_executor_destroy(c.ex), 0);
        long done = 0;
        for (int t = 0; t < SD_THREADS; t++) {
            ck_assert_int_eq(th[t].bad, 0);
            for (int i = 0; i < th[t].n; i++) {
                wse_state s = wse_future_state(th[t].f[i]);
                ck_assert(s == WSE_DONE || s == WSE_CANCELLED);
                done += s == WSE_DONE;
                cancelled += s == WSE_CANCELLED;
                wse_future_release(th[t].f[i]);
            }
            total += th[t].n;
        }
        /* Fire-and-forget or refused submissions never ran: DONE == runs. */
        ck_assert_int_eq(counter_get(&c.ran), done);
        pthread_barrier_destroy(&c.bar);
    }
    printf("stress: shutdown racing submit: %ld rounds, %ld accepted, %ld cancelled\n", n, total,
           cancelled);
    fflush(stdout);
}
END_TEST

/* ---- Many threads waiting on overlapping sets, all three modes ---------------------------- */

#define POOL 48
#define OV_THREADS 4

struct ov_ctx {
    wse_future *pool[POOL];
    pthread_barrier_t bar;
    int bad;
    char why[160]; /* the first inconsistency */
};

static void
ov_bad(struct ov_ctx *c, const char *what, size_t n, int mode, int rc, size_t nd)
{
    if (counter_add(&c->bad, 1) == 1)
        snprintf(c->why, sizeof c->why, "%s: n=%zu mode=%d rc=%d n_done=%zu", what, n, mode, rc,
                 nd);
}

static void
ov_check(struct ov_ctx *c, wse_future *const set[], size_t n, wse_return_when mode, int rc,
         wse_future *out[], size_t nd)
{
    /* Both parts in input order: out is a stable partition of set. With
     * duplicates the match is ambiguous, so search it: ok[i][a] = the first i
     * entries can be split into out[0..a) and out[nd..nd+i-a). */
    if (nd > n) {
        ov_bad(c, "n_done > n", n, (int)mode, rc, nd);
        return;
    }
    bool ok[POOL + 1][POOL + 1];
    memset(ok, 0, sizeof ok);
    ok[0][0] = true;
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a <= i && a <= nd; a++) {
            if (!ok[i][a])
                continue;
            size_t b = nd + (i - a);
            if (a < nd && out[a] == set[i])
                ok[i + 1][a + 1] = true;
            if (b < n && out[b] == set[i])
                ok[i + 1][a] = true;
        }
    }
    if (!ok[n][nd]) {
        ov_bad(c, "not a stable partition", n, (int)mode, rc, nd);
        return;
    }
    size_t failed = 0;
    for (size_t i = 0; i < nd; i++) {
        if (!wse_future_done(out[i]))
            ov_bad(c, "reported done, is not", n, (int)mode, rc, nd);
        failed += wse_future_state(out[i]) == WSE_FAILED;
    }
    bool holds = mode == WSE_FIRST_COMPLETED ? nd >= 1
                 : mode == WSE_ALL_COMPLETED ? nd == n
                                             : (failed > 0 || nd == n);
    if ((rc == 0) != holds || (rc != 0 && rc != ETIMEDOUT))
        ov_bad(c, "result does not match the partition", n, (int)mode, rc, nd);
}

static void *
ov_thread(void *arg)
{
    struct ov_ctx *c = arg;
    uint32_t rnd = (uint32_t)(uintptr_t)pthread_self() | 1u;
    for (long r = 0; r < rounds() / 4 + 1; r++) {
        pthread_barrier_wait(&c->bar);
        for (int q = 0; q < 4; q++) {
            wse_future *set[POOL], *out[POOL];
            rnd = rnd * 1103515245u + 12345u;
            size_t n = 1 + (rnd >> 8) % 24;
            size_t start = (rnd >> 16) % POOL;
            for (size_t i = 0; i < n; i++)
                set[i] = c->pool[(start + i * 3) % POOL]; /* overlaps, maybe duplicates */
            wse_return_when mode = (wse_return_when)(1 + (rnd >> 4) % 3);
            double timeout = q == 0 ? 0.0 : q == 1 ? 0.0005 : HANG_S;
            size_t nd = SENTINEL_N;
            int rc = wse_wait(set, n, timeout, mode, out, &nd);
            if (q >= 2 && rc != 0) /* watchdog: HANG_S must suffice */
                ov_bad(c, "hung", n, (int)mode, rc, nd);
            ov_check(c, set, n, mode, rc, out, nd);
        }
        pthread_barrier_wait(&c->bar);
    }
    return NULL;
}

/* Finishes after a pseudo-random short spin; every fifth fails. */
static int
task_jitter(void *arg, void **result)
{
    uintptr_t v = (uintptr_t)arg;
    for (volatile unsigned i = 0; i < (unsigned)(v * 2654435761u) % 20000u; i++)
        ;
    *result = arg;
    return v % 5 == 0 ? 42 : 0;
}

START_TEST(stress_overlapping_waits_all_modes)
{
    static struct ov_ctx c;
    memset(&c, 0, sizeof c);
    wse_executor *ex = make_executor(workers());
    ck_assert_int_eq(pthread_barrier_init(&c.bar, NULL, OV_THREADS + 1), 0);
    pthread_t th[OV_THREADS];
    for (int t = 0; t < OV_THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, ov_thread, &c), 0);
    for (long r = 0; r < rounds() / 4 + 1; r++) {
        void *args[POOL];
        for (int i = 0; i < POOL; i++)
            args[i] = (void *)(uintptr_t)(r * POOL + i + 1);
        ck_assert_int_eq(wse_submit_batch(ex, task_jitter, args, POOL, c.pool), 0);
        pthread_barrier_wait(&c.bar);
        pthread_barrier_wait(&c.bar);
        ck_assert_int_eq(wse_wait(c.pool, POOL, HANG_S, WSE_ALL_COMPLETED, NULL, NULL), 0);
        release_all(c.pool, POOL);
    }
    for (int t = 0; t < OV_THREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    ck_assert_msg(c.bad == 0, "%d inconsistent waits; first: %s", c.bad, c.why);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    pthread_barrier_destroy(&c.bar);
}
END_TEST

/* ---- Futures released from another thread than the one that created them ---------------- */

#define RING 256

struct rel_ctx {
    wse_future *ring[RING];
    long head; /* written by the producer */
    long tail; /* written by the consumer */
    long n;
    int cb_runs;
    int bad;
};

static void
cb_release(wse_future *f, void *arg)
{
    struct rel_ctx *c = arg;
    if (!wse_future_done(f))
        counter_add(&c->bad, 1);
    counter_add(&c->cb_runs, 1);
    wse_future_release(f); /* the reference retained for the callback */
}

static void *
releaser(void *arg)
{
    struct rel_ctx *c = arg;
    for (long i = 0; i < c->n; i++) {
        double limit = now_s() + HANG_S;
        while (__atomic_load_n(&c->head, __ATOMIC_ACQUIRE) == i) {
            if (now_s() > limit) {
                counter_add(&c->bad, 1);
                return NULL;
            }
            sched_yield();
        }
        wse_future *f = c->ring[i % RING];
        if (i % 3 == 0 && wse_future_wait(f, HANG_S) != 0)
            counter_add(&c->bad, 1);
        wse_future_release(f); /* maybe still pending, maybe the last reference */
        __atomic_store_n(&c->tail, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

START_TEST(stress_release_from_other_thread)
{
    static struct rel_ctx c;
    memset(&c, 0, sizeof c);
    c.n = rounds() * 50;
    int ran = 0;
    wse_executor *ex = make_executor(workers());
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, releaser, &c), 0);
    for (long i = 0; i < c.n; i++) {
        double limit = now_s() + HANG_S;
        while (i - __atomic_load_n(&c.tail, __ATOMIC_ACQUIRE) >= RING) {
            ck_assert_msg(now_s() < limit, "releaser hung");
            sched_yield();
        }
        wse_future *f = NULL;
        ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
        if (i % 2 == 0) {
            wse_future_retain(f); /* dropped by the callback, on whichever thread */
            ck_assert_int_eq(wse_future_on_done(f, cb_release, &c), 0);
        }
        if (i % 7 == 0)
            (void)wse_future_cancel(f);
        c.ring[i % RING] = f;
        __atomic_store_n(&c.head, i + 1, __ATOMIC_RELEASE);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0); /* joins: every callback has run */
    ck_assert_int_eq(c.bad, 0);
    ck_assert_int_eq(c.cb_runs, (int)((c.n + 1) / 2));
    ck_assert_int_le(ran, (int)c.n);
}
END_TEST

/* ---- wse_wait: FIRST_COMPLETED racing completions, submit racing parking ---------- */

struct gate_releaser {
    pthread_t thread;
    pthread_barrier_t bar;
    struct gate *gates;
    long rounds;
};

static void *
gate_releaser_main(void *arg)
{
    struct gate_releaser *r = arg;
    for (long i = 0; i < r->rounds; i++) {
        pthread_barrier_wait(&r->bar);
        gate_open(&r->gates[i]);
    }
    return NULL;
}

/* N tasks released by one flag at once, racing a FIRST_COMPLETED wait's
 * registration. Every reported-done future must be done; the partition must be
 * a permutation of the input. */
START_TEST(wait_first_completed_race_stress)
{
    enum { N = 8 };
    long n_rounds = env_long("WSE_STRESS_ROUNDS", 1000);
    wse_executor *ex = make_executor(4);
    struct gate_releaser r = {.rounds = n_rounds};
    r.gates = calloc((size_t)n_rounds, sizeof *r.gates);
    ck_assert_ptr_nonnull(r.gates);
    ck_assert_int_eq(pthread_barrier_init(&r.bar, NULL, 2), 0);
    ck_assert_int_eq(pthread_create(&r.thread, NULL, gate_releaser_main, &r), 0);
    for (long i = 0; i < n_rounds; i++) {
        wse_future *f[N], *out[N];
        for (int k = 0; k < N; k++)
            ck_assert_int_eq(wse_submit(ex, gate_task, &r.gates[i], &f[k]), 0);
        pthread_barrier_wait(&r.bar);
        size_t nd = SENTINEL_N;
        int rc;
        if (i % 3 == 0) {
            rc = wse_wait(f, N, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd);
        } else if (i % 3 == 1) {
            rc = wse_wait(f, N, wse_test_scale(60.0), WSE_FIRST_COMPLETED, out, &nd);
        } else {
            struct timespec dl = mono_in(wse_test_scale(60.0));
            rc = wse_wait_until(f, N, &dl, WSE_FIRST_COMPLETED, out, &nd);
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_ge(nd, 1);
        ck_assert_uint_le(nd, N);
        for (size_t k = 0; k < nd; k++)
            ck_assert_msg(wse_future_done(out[k]), "round %ld: out[%zu] reported done", i, k);
        for (int k = 0; k < N; k++) {
            int seen = 0;
            for (int j = 0; j < N; j++)
                seen += out[j] == f[k];
            ck_assert_int_eq(seen, 1);
        }
        ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd), 0);
        ck_assert_uint_eq(nd, N);
        release_all(f, N);
    }
    ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
    pthread_barrier_destroy(&r.bar);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    free(r.gates);
}
END_TEST

/* A plain thread submits one task and waits forever for it, round after round;
 * now and then it pauses so that every worker parks. A lost wake-up hangs a
 * round: the watchdog (tests/wse_test.h) fails the test when one takes more
 * than 10 s (scaled). */
/*
 * Each round: a probe task runs and the test polls (without sleeping) until it
 * is done, so it knows within a fraction of a microsecond when the worker went
 * back to look for work; after a random delay of 0 to ~100 us it submits the
 * real task and waits forever for it. The delays sweep the submission across the
 * worker's last search, its announce and its re-check before it sleeps: the
 * window where a lost wake-up would strand the task. Every 100th round the test
 * sleeps first, so that the submission also finds workers deeply parked.
 */
static void
submit_while_parked(unsigned n_workers, unsigned spin_rounds)
{
    long n_rounds = env_long("WSE_PARK_ROUNDS", 5000);
    wse_options o = {0};
    o.workers = n_workers;
    o.spin_rounds = spin_rounds;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    struct watchdog w;
    watchdog_start(&w, 10.0);
    int ran = 0;
    uint32_t rnd = 2463534242u;
    for (long i = 0; i < n_rounds; i++) {
        wse_future *f;
        if (i % 100 == 99) {
            usleep(2000); /* let every worker park */
        } else {
            ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
            while (!wse_future_done(f))
                ;
            wse_future_release(f);
            rnd ^= rnd << 13;
            rnd ^= rnd >> 17;
            rnd ^= rnd << 5;
            spin_for(rnd % 4 == 0 ? (double)((rnd >> 8) % 100) : (double)((rnd >> 8) % 1600) / 100);
        }
        ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
        if (i % 2 == 0) {
            ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        } else {
            ck_assert_int_eq(wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        }
        ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        wse_future_release(f);
        watchdog_progress(&w, i + 1);
    }
    watchdog_stop(&w);
    ck_assert_int_eq(counter_get(&ran), n_rounds + n_rounds - n_rounds / 100);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}

START_TEST(wait_submit_while_workers_parked_one_worker)
{
    submit_while_parked(1, 0);
}
END_TEST

START_TEST(wait_submit_while_workers_parked_four_workers)
{
    submit_while_parked(4, 0);
}
END_TEST

/* spin_rounds 1: workers go to park almost at once, so submissions race the
 * announce/re-check of parking far more often. */
START_TEST(wait_submit_while_workers_parked_short_spin)
{
    submit_while_parked(1, 1);
    submit_while_parked(2, 1);
}
END_TEST

/* A thread submits big batches, one after another, until ESHUTDOWN, while
 * the main thread shuts the executor down. When shutdown(wait) returns, every
 * batch accepted before it has its out filled and every task done (run, or
 * with cancel_pending run or cancelled): the batch holds the shutdown off while
 * it queues its chunks (without that hold this fails: out half filled, tasks
 * still pending). A refused batch leaves out untouched and runs nothing. */
enum { RACE_BATCHES = 12 };

struct big_race {
    wse_executor *ex;
    size_t n;
    void **args[RACE_BATCHES];
    wse_future **out[RACE_BATCHES];
    int counts[RACE_BATCHES];
    int accepted; /* batches accepted (atomic) */
    int bad;
};

static void *
big_race_submitter(void *arg)
{
    struct big_race *r = arg;

    for (int b = 0; b < RACE_BATCHES; b++) {
        int rc = wse_submit_batch(r->ex, task_count, r->args[b], r->n, r->out[b]);
        if (rc == ESHUTDOWN)
            return NULL;
        if (rc != 0) {
            r->bad++;
            return NULL;
        }
        counter_add(&r->accepted, 1);
    }
    return NULL;
}

/* Every batch: untouched and never run, or filled and done; the number of
 * batches found accepted. (Plain comparisons in the loops: a Check assertion
 * costs a system call.) */
static int
big_race_check(struct big_race *r, bool cancel)
{
    int accepted = 0;

    for (int b = 0; b < RACE_BATCHES; b++) {
        size_t untouched = 0;
        size_t done = 0;
        size_t bad = 0;
        for (size_t i = 0; i < r->n; i++)
            untouched += r->out[b][i] == SENTINEL;
        if (untouched == r->n) {
            ck_assert_int_eq(counter_get(&r->counts[b]), 0);
            continue;
        }
        ck_assert_msg(untouched == 0, "batch %d: %zu of %zu futures missing from out", b, untouched,
                      r->n);
        accepted++;
        for (size_t i = 0; i < r->n; i++) {
            wse_state st = wse_future_state(r->out[b][i]);
            done += st == WSE_DONE;
            bad += st != WSE_DONE && !(cancel && st == WSE_CANCELLED);
        }
        ck_assert_msg(bad == 0, "batch %d: %zu tasks not done after shutdown(wait)", b, bad);
        ck_assert_int_eq(counter_get(&r->counts[b]), (int)done);
    }
    return accepted;
}

START_TEST(stress_big_batch_racing_shutdown)
{
    bool cancel = (_i & 1) != 0;
    static struct big_race r;
    pthread_t th;

    memset(&r, 0, sizeof r);
    r.n = 17000; /* three chunks: 8176, 8176, 648 */
    r.ex = make_executor_any(2);
    for (int b = 0; b < RACE_BATCHES; b++) {
        r.args[b] = malloc(r.n * sizeof(void *));
        r.out[b] = malloc(r.n * sizeof(wse_future *));
        ck_assert_ptr_nonnull(r.args[b]);
        ck_assert_ptr_nonnull(r.out[b]);
        for (size_t i = 0; i < r.n; i++) {
            r.args[b][i] = &r.counts[b];
            r.out[b][i] = SENTINEL;
        }
    }
    ck_assert_int_eq(pthread_create(&th, NULL, big_race_submitter, &r), 0);
    while (counter_get(&r.accepted) < 1 + _i / 2)
        sched_yield();
    ck_assert_int_eq(wse_shutdown(r.ex, true, cancel), 0);
    /* The submitter may still run: what the library wrote for an accepted
     * batch happened before the shutdown's return (the hold's release). */
    int accepted = big_race_check(&r, cancel);
    ck_assert_int_ge(accepted, 1 + _i / 2);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(big_race_check(&r, cancel), accepted);
    ck_assert_int_eq(counter_get(&r.accepted), accepted);
    for (int b = 0; b < accepted; b++)
        release_all(r.out[b], r.n);
    ck_assert_int_eq(wse_executor_destroy(r.ex), 0);
    for (int b = 0; b < RACE_BATCHES; b++) {
        free(r.args[b]);
        free(r.out[b]);
    }
}
END_TEST

static Suite *
stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("deque");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, stress_deque_owner_three_thieves_ops);
    suite_add_tcase(s, tc);

    tc = tcase_create("executor");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, stress_submit_while_all_parked);
    tcase_add_test(tc, stress_wait_racing_completion);
    tcase_add_test(tc, stress_cancel_racing_start);
    tcase_add_test(tc, stress_shutdown_racing_submit_and_wait);
    tcase_add_loop_test(tc, stress_big_batch_racing_shutdown, 0, 6);
    tcase_add_test(tc, stress_overlapping_waits_all_modes);
    tcase_add_test(tc, stress_release_from_other_thread);
    suite_add_tcase(s, tc);

    /* Sizes: WSE_STRESS_ROUNDS (default 1000) and WSE_PARK_ROUNDS (default 5000). */
    tc = tcase_create("wait");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wait_first_completed_race_stress);
    tcase_add_test(tc, wait_submit_while_workers_parked_one_worker);
    tcase_add_test(tc, wait_submit_while_workers_parked_four_workers);
    tcase_add_test(tc, wait_submit_while_workers_parked_short_spin);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(stress_suite());
}

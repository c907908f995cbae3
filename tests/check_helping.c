/*
 * A waiting worker is safe at any depth and in any acyclic wait pattern: deep
 * chains of nested waits (the stack guard and spare workers), waits that are
 * acyclic but would deadlock if a waiter ran an unrelated task on top of itself
 * (the helping rule), deadlines on workers, spin limits and shutdown, fork(),
 * and the in-place partition of wse_wait().
 *
 * WSE_HELPING_DEPTH (default 100000; 20000 under ThreadSanitizer, whose
 * per-thread state fills most of a small stack) is the deepest chain of the unit run; the
 * stress entry of CTest sets it to 1000000. WSE_HELPING_DAGS (default 2000) is
 * the number of random wait graphs.
 */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "wse_test.h"

/* ---- Deep chains ---------------------------------------------------------- */

/* task(d) submits task(d - 1) and waits for it; task(0) returns 0. */
static int
chain_task(void *arg, void **result)
{
    long d = (long)(intptr_t)arg;
    wse_future *f;
    int rc;

    (void)result;
    if (d == 0)
        return 0;
    rc = wse_submit(wse_current(), chain_task, (void *)(intptr_t)(d - 1), &f);
    if (rc != 0)
        return rc;
    rc = wse_future_wait(f, WSE_FOREVER);
    if (rc == 0)
        rc = wse_future_error(f);
    wse_future_release(f);
    return rc;
}

/* ThreadSanitizer cannot record a stack of more than 65536 frames (its stack
 * depot aborts): under it, 2 MiB stacks keep every thread's chain shorter, and
 * the spares carry the rest. */
/* Each level a thief takes leaves its waiter blocked (the child runs on the
 * thief) with most of its stack unused, and a spare takes its place; on a
 * loaded machine thieves win often, so the chain needs more threads than its
 * frames fill. With the default cap (4 * workers + 64) a TSan chain of 10^4
 * on two workers then ran out of spares and failed with EAGAIN, as documented,
 * in 4 runs of 6 beside a CPU hog: the cap is raised here so the test checks
 * depth, not the machine's load. */
#if defined(__SANITIZE_THREAD__)
#define CHAIN_STACK ((size_t)2 << 20)
#define CHAIN_DEPTH 20000 /* 69 threads of 2 MiB, most of it TSan's own */
#define CHAIN_SPARES 1024u
#else
#define CHAIN_STACK ((size_t)0)
#define CHAIN_DEPTH 100000
#define CHAIN_SPARES 0u
#endif

static void
run_chain(unsigned workers, long depth)
{
    wse_options o = {0};
    wse_executor *ex;
    wse_future *f;

    o.workers = workers;
    o.stack_size = CHAIN_STACK;
    o.max_spare_workers = CHAIN_SPARES;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    double t0 = now_s();

    ck_assert_int_eq(wse_submit(ex, chain_task, (void *)(intptr_t)depth, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_msg(wse_future_state(f) == WSE_DONE,
                  "chain of %ld on %u worker(s): state %d, error %d", depth, workers,
                  (int)wse_future_state(f), wse_future_error(f));
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    fprintf(stderr, "chain: %u worker(s), depth %ld: %.2f s\n", workers, depth, now_s() - t0);
}

START_TEST(chain_depth_1e4_one_worker)
{
    run_chain(1, 10000);
}
END_TEST

/* The deepest chain the build's stacks carry: WSE_HELPING_DEPTH (the stress
 * entry asks for 10^6), capped under the sanitizers, whose frames are several
 * times bigger (10^5 under AddressSanitizer; CHAIN_DEPTH under ThreadSanitizer,
 * whose 2 MiB stacks are mostly its own state). */
#if defined(__SANITIZE_THREAD__)
#define CHAIN_DEPTH_MAX CHAIN_DEPTH
#elif defined(__SANITIZE_ADDRESS__)
#define CHAIN_DEPTH_MAX 100000L
#else
#define CHAIN_DEPTH_MAX 1000000000L
#endif
START_TEST(chain_depth_env_one_worker)
{
    long depth = env_long("WSE_HELPING_DEPTH", CHAIN_DEPTH);

    run_chain(1, depth < CHAIN_DEPTH_MAX ? depth : CHAIN_DEPTH_MAX);
}
END_TEST

START_TEST(chain_depth_1e4_two_workers)
{
    run_chain(2, 10000);
}
END_TEST

/* Past the ceiling: one worker, one spare, a chain far deeper than two stacks
 * hold. The thread at its stack limit with no spare left gets EAGAIN from its
 * wait (no crash, no hang); the chain fails with it. */
START_TEST(chain_past_the_ceiling_fails_with_eagain)
{
    wse_options o = {0};
    wse_executor *ex;
    wse_future *f;

    o.workers = 1;
    o.max_spare_workers = 1;
    o.stack_size = CHAIN_STACK != 0 ? CHAIN_STACK : (size_t)4 << 20;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_int_eq(wse_submit(ex, chain_task, (void *)(intptr_t)200000, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, 300.0), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(f), EAGAIN);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A small stack (the minimum) with the default spares (68 for one worker): the
 * guard and the spares still carry a deep chain. Sanitizer frames are several
 * times bigger, so fewer levels fit in 69 stacks of 1 MiB there (and under
 * ThreadSanitizer its per-thread state takes much of each stack). */
#if defined(__SANITIZE_THREAD__)
#define SMALL_STACK_DEPTH 2000
#define SMALL_STACK ((size_t)4 << 20) /* its per-thread state fills 1 MiB */
#elif defined(__SANITIZE_ADDRESS__)
#define SMALL_STACK_DEPTH 5000
#else
#define SMALL_STACK_DEPTH 20000
#endif
#ifndef SMALL_STACK
#define SMALL_STACK WSE_MIN_STACK_SIZE
#endif
START_TEST(chain_small_stacks)
{
    wse_options o = {0};
    wse_executor *ex;
    wse_future *f;

    o.workers = 1;
    o.stack_size = SMALL_STACK;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_int_eq(wse_submit(ex, chain_task, (void *)(intptr_t)SMALL_STACK_DEPTH, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, 300.0), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    o.stack_size = WSE_MIN_STACK_SIZE - 1;
    ck_assert_int_eq(wse_executor_create(&ex, &o), EINVAL);
    o.stack_size = 0;
    o.max_spare_workers = 65537;
    ck_assert_int_eq(wse_executor_create(&ex, &o), EINVAL);
}
END_TEST

/* ---- Nested fork-join and EDEADLK stay as they were ------------------------ */

static int
fib_task(void *arg, void **result)
{
    long n = (long)(intptr_t)arg;
    wse_future *f;
    void *a = NULL;
    int rc;

    if (n < 2) {
        *result = (void *)(intptr_t)n;
        return 0;
    }
    rc = wse_submit(wse_current(), fib_task, (void *)(intptr_t)(n - 1), &f);
    if (rc != 0)
        return rc;
    rc = fib_task((void *)(intptr_t)(n - 2), &a);
    if (rc == 0)
        rc = wse_future_wait(f, WSE_FOREVER);
    if (rc == 0)
        rc = wse_future_error(f);
    if (rc == 0)
        *result = (void *)((intptr_t)a + (intptr_t)wse_future_value(f));
    wse_future_release(f);
    return rc;
}

START_TEST(fork_join_one_worker)
{
    wse_executor *ex = make_executor(1);
    wse_future *f;

    ck_assert_int_eq(wse_submit(ex, fib_task, (void *)(intptr_t)20, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_int_eq((intptr_t)wse_future_value(f), 6765);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A task whose child waits on the parent's future: the child runs on top of
 * its parent (it is what the parent waits for) and must get EDEADLK. */
struct ancestor {
    wse_future *parent;
    int child_rc;
    int self_rc;
};

static int
ancestor_child(void *arg, void **result)
{
    struct ancestor *a = arg;

    (void)result;
    a->child_rc = wse_future_wait(__atomic_load_n(&a->parent, __ATOMIC_ACQUIRE), WSE_FOREVER);
    return 0;
}

static int
ancestor_parent(void *arg, void **result)
{
    struct ancestor *a = arg;
    wse_future *f;
    int rc;

    (void)result;
    while (__atomic_load_n(&a->parent, __ATOMIC_ACQUIRE) == NULL)
        sched_yield();
    a->self_rc = wse_future_wait(a->parent, 0.5);
    rc = wse_submit(wse_current(), ancestor_child, a, &f);
    if (rc != 0)
        return rc;
    rc = wse_future_wait(f, WSE_FOREVER);
    wse_future_release(f);
    return rc;
}

START_TEST(edeadlk_own_and_ancestor)
{
    wse_executor *ex = make_executor(1);
    struct ancestor a = {0};
    wse_future *f;

    ck_assert_int_eq(wse_submit(ex, ancestor_parent, &a, &f), 0);
    __atomic_store_n(&a.parent, f, __ATOMIC_RELEASE);
    ck_assert_int_eq(wse_future_wait(f, 30.0), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_int_eq(a.self_rc, EDEADLK);
    ck_assert_int_eq(a.child_rc, EDEADLK);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Acyclic waits that helping used to deadlock -------------------------- */

/*
 * A waits only on B; B is held by a gate and, once it opens, submits Z; X waits
 * only on Z; Z waits only on A. Acyclic. If the worker running A picked up X
 * while it waits (X above A on its stack), X's wait on Z, Z's on A and A's
 * return would wait on each other.
 */
struct xzab {
    wse_future *a; /* published before anything runs */
    wse_future *b;
    wse_future *z; /* published by B (atomic) */
    int open;      /* B's gate */
    int rc_a, rc_x, rc_z;
};

static int
xzab_z(void *arg, void **result)
{
    struct xzab *s = arg;

    (void)result;
    while (__atomic_load_n(&s->a, __ATOMIC_ACQUIRE) == NULL)
        sched_yield();
    s->rc_z = wse_future_wait(s->a, WSE_FOREVER);
    return s->rc_z;
}

static int
xzab_b(void *arg, void **result)
{
    struct xzab *s = arg;
    wse_future *z;
    int rc;

    (void)result;
    while (!flag_get(&s->open))
        sched_yield();
    rc = wse_submit(wse_current(), xzab_z, s, &z);
    if (rc != 0)
        return rc;
    __atomic_store_n(&s->z, z, __ATOMIC_RELEASE);
    return 0;
}

static int
xzab_a(void *arg, void **result)
{
    struct xzab *s = arg;

    (void)result;
    while (__atomic_load_n(&s->b, __ATOMIC_ACQUIRE) == NULL)
        sched_yield();
    s->rc_a = wse_future_wait(s->b, WSE_FOREVER);
    return s->rc_a;
}

static int
xzab_x(void *arg, void **result)
{
    struct xzab *s = arg;
    wse_future *z;

    (void)result;
    while ((z = __atomic_load_n(&s->z, __ATOMIC_ACQUIRE)) == NULL)
        sched_yield();
    s->rc_x = wse_future_wait(z, WSE_FOREVER);
    return s->rc_x;
}

static void
run_xzab(unsigned workers)
{
    wse_executor *ex = make_executor(workers);
    struct xzab s = {0};
    wse_future *a, *b, *x;
    double limit;

    /* B held on one worker and A waiting on another before X exists, so that
     * X can only be found by a worker that waits (or by a spare). */
    ck_assert_int_eq(wse_submit(ex, xzab_b, &s, &b), 0);
    __atomic_store_n(&s.b, b, __ATOMIC_RELEASE);
    spin_until_state(b, WSE_RUNNING);
    ck_assert_int_eq(wse_submit(ex, xzab_a, &s, &a), 0);
    __atomic_store_n(&s.a, a, __ATOMIC_RELEASE);
    limit = now_s() + 0.05;
    while (wse_future_state(a) != WSE_RUNNING && now_s() < limit)
        sched_yield();
    usleep(2000); /* A is in its wait */
    ck_assert_int_eq(wse_submit(ex, xzab_x, &s, &x), 0);
    limit = now_s() + 0.05;
    while (wse_future_state(x) != WSE_RUNNING && now_s() < limit)
        sched_yield();
    flag_set(&s.open);
    wse_future *all[3] = {a, b, x};
    ck_assert_int_eq(wse_wait(all, 3, 20.0, WSE_ALL_COMPLETED, NULL, NULL), 0);
    ck_assert_int_eq(s.rc_a, 0);
    ck_assert_int_eq(s.rc_x, 0);
    ck_assert_int_eq(wse_future_wait(s.z, 20.0), 0);
    ck_assert_int_eq(s.rc_z, 0);
    wse_future_release(s.z);
    release_all(all, 3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}

START_TEST(xzab_workers)
{
    run_xzab((unsigned)_i);
}
END_TEST

/* A grid: task (r, c) waits on (r - 1, c) and (r, c - 1) with ALL_COMPLETED. */
#define GRID 24

struct stencil {
    wse_future *f[GRID * GRID];
    int bad;
};

/* The future in *slot, once the test thread has stored it (it submits in a
 * random order, so a task may start before its inputs are submitted). */
static wse_future *
published(wse_future *const *slot)
{
    wse_future *f;

    while ((f = __atomic_load_n(slot, __ATOMIC_ACQUIRE)) == NULL)
        sched_yield();
    return f;
}

static uint32_t
rnd_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A random permutation of 0 .. n-1. */
static void
shuffle(int *order, int n, uint32_t *seed)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd_next(seed) % (uint32_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

struct cell {
    struct stencil *s;
    int r, c;
};

static int
stencil_task(void *arg, void **result)
{
    struct cell *cell = arg;
    struct stencil *s = cell->s;
    wse_future *deps[2];
    size_t n = 0;
    int rc;

    (void)result;
    if (cell->r > 0)
        deps[n++] = published(&s->f[(cell->r - 1) * GRID + cell->c]);
    if (cell->c > 0)
        deps[n++] = published(&s->f[cell->r * GRID + cell->c - 1]);
    if (n == 0)
        return 0;
    rc = wse_wait(deps, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
    if (rc != 0)
        counter_add(&s->bad, 1);
    return rc;
}

START_TEST(stencil_workers)
{
    unsigned workers = (unsigned)_i;
    wse_executor *ex = make_executor(workers);
    static struct cell cells[GRID * GRID];
    struct stencil *s = calloc(1, sizeof(*s));
    static int order[GRID * GRID];
    uint32_t seed = 12345u + workers;
    int round;

    for (round = 0; round < 20; round++) {
        memset(s, 0, sizeof(*s));
        shuffle(order, GRID * GRID, &seed);
        for (int i = 0; i < GRID * GRID; i++)
            cells[i] = (struct cell){s, i / GRID, i % GRID};
        for (int k = 0; k < GRID * GRID; k++) {
            int i = order[k];
            wse_future *f;
            ck_assert_int_eq(wse_submit(ex, stencil_task, &cells[i], &f), 0);
            __atomic_store_n(&s->f[i], f, __ATOMIC_RELEASE);
        }
        ck_assert_int_eq(wse_wait(s->f, GRID * GRID, 20.0, WSE_ALL_COMPLETED, NULL, NULL), 0);
        ck_assert_int_eq(s->bad, 0);
        for (int i = 0; i < GRID * GRID; i++) {
            ck_assert_int_eq(wse_future_error(s->f[i]), 0);
            wse_future_release(s->f[i]);
        }
    }
    free(s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Random acyclic wait graphs: task i waits on a random set of earlier tasks,
 * with a random mode; the tasks are submitted in a random order. */
#define DAG_MAX 40

struct dag {
    wse_future *f[DAG_MAX];
    int n;
    uint32_t deps[DAG_MAX][4];
    int n_deps[DAG_MAX];
    int mode[DAG_MAX];
    int bad;
};

struct dag_arg {
    struct dag *d;
    int i;
};

static int
dag_task(void *arg, void **result)
{
    struct dag_arg *a = arg;
    struct dag *d = a->d;
    wse_future *deps[4];
    int k, rc = 0;

    (void)result;
    for (k = 0; k < d->n_deps[a->i]; k++)
        deps[k] = published(&d->f[d->deps[a->i][k]]);
    if (k == 0)
        return 0;
    switch (d->mode[a->i]) {
    case 0:
        rc = wse_wait(deps, (size_t)k, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
        break;
    case 1:
        for (int j = 0; j < k && rc == 0; j++)
            rc = wse_future_wait(deps[j], WSE_FOREVER);
        break;
    default:
        rc = wse_wait(deps, (size_t)k, WSE_FOREVER, WSE_FIRST_COMPLETED, NULL, NULL);
        break;
    }
    if (rc != 0)
        counter_add(&d->bad, 1);
    return rc;
}

START_TEST(random_acyclic_waits)
{
    long dags = env_long("WSE_HELPING_DAGS", 2000);
    unsigned workers = 1 + (unsigned)_i;
    wse_executor *ex = make_executor(workers);
    struct dag *d = calloc(1, sizeof(*d));
    struct dag_arg args[DAG_MAX];
    int order[DAG_MAX];
    uint32_t seed = 0x9e3779b9u ^ workers;

    for (long g = 0; g < dags; g++) {
        memset(d, 0, sizeof(*d));
        d->n = 2 + (int)(rnd_next(&seed) % (DAG_MAX - 1));
        for (int i = 0; i < d->n; i++) {
            d->n_deps[i] = i == 0 ? 0 : (int)(rnd_next(&seed) % 5);
            if (d->n_deps[i] > 4)
                d->n_deps[i] = 4;
            for (int k = 0; k < d->n_deps[i]; k++)
                d->deps[i][k] = rnd_next(&seed) % (uint32_t)i;
            d->mode[i] = (int)(rnd_next(&seed) % 3);
            args[i] = (struct dag_arg){d, i};
        }
        shuffle(order, d->n, &seed);
        for (int k = 0; k < d->n; k++) {
            int i = order[k];
            wse_future *f;
            ck_assert_int_eq(wse_submit(ex, dag_task, &args[i], &f), 0);
            __atomic_store_n(&d->f[i], f, __ATOMIC_RELEASE);
        }
        /* The watchdog: an acyclic graph of short tasks finishes in far less. */
        int rc = wse_wait(d->f, (size_t)d->n, 20.0, WSE_ALL_COMPLETED, NULL, NULL);
        ck_assert_msg(rc == 0, "graph %ld (%d tasks, %u workers) hung: %d", g, d->n, workers, rc);
        ck_assert_msg(d->bad == 0, "graph %ld: %d waits failed", g, d->bad);
        release_all(d->f, (size_t)d->n);
    }
    free(d);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Leapfrogging --------------------------------------------------------- */

/*
 * R waits on T, which a second worker took; T submits children and waits on
 * them. R's worker may run T's children (they are what T's wait, and so R's,
 * waits on) but never a child T does not wait on. "On R's thread while R
 * waits" is what the children check: a spare standing in for R's worker runs
 * on another thread.
 */
#define LEAP_KIDS 8

struct leap {
    pthread_t r_thread;
    int r_waiting;   /* R is inside its wait (atomic) */
    int t_waits_all; /* T waits on every child, else on all but the first */
    int t_submitted; /* T has submitted its children and is about to wait */
    int on_r;        /* awaited children run on R's thread during R's wait */
    int stray_on_r;  /* the unawaited child did */
    int bad;
};

struct leap_kid {
    struct leap *s;
    bool awaited;
};

static bool
on_r_during_wait(struct leap *s)
{
    return pthread_equal(pthread_self(), s->r_thread) && flag_get(&s->r_waiting);
}

static int
leap_kid(void *arg, void **result)
{
    struct leap_kid *k = arg;
    double until = now_s() + 0.005;

    (void)result;
    if (on_r_during_wait(k->s))
        counter_add(k->awaited ? &k->s->on_r : &k->s->stray_on_r, 1);
    while (now_s() < until) /* busy: the thief's deque keeps the rest */
        ;
    if (on_r_during_wait(k->s) && !k->awaited)
        counter_add(&k->s->stray_on_r, 1);
    return 0;
}

static int
leap_t(void *arg, void **result)
{
    struct leap *s = arg;
    struct leap_kid kids[LEAP_KIDS];
    wse_future *f[LEAP_KIDS];
    size_t n_wait = flag_get(&s->t_waits_all) ? LEAP_KIDS : LEAP_KIDS - 1;

    (void)result;
    for (int i = 0; i < LEAP_KIDS; i++) {
        /* The unawaited child is pushed first: the oldest, the one a thief
         * takes first. */
        kids[i] = (struct leap_kid){s, n_wait == LEAP_KIDS || i != 0};
        if (wse_submit(wse_current(), leap_kid, &kids[i], &f[i]) != 0)
            return EIO;
    }
    flag_set(&s->t_submitted);
    if (wse_wait(n_wait == LEAP_KIDS ? f : f + 1, n_wait, WSE_FOREVER, WSE_ALL_COMPLETED, NULL,
                 NULL) != 0)
        counter_add(&s->bad, 1);
    /* The unawaited one too, before its argument leaves this frame. */
    if (wse_future_wait(f[0], WSE_FOREVER) != 0)
        counter_add(&s->bad, 1);
    release_all(f, LEAP_KIDS);
    return 0;
}

static int
leap_r(void *arg, void **result)
{
    struct leap *s = arg;
    wse_future *t;
    double limit = now_s() + wse_test_scale(5.0);
    int rc;

    (void)result;
    s->r_thread = pthread_self();
    if (wse_submit(wse_current(), leap_t, s, &t) != 0)
        return EIO;
    /* The other worker steals T; R does not wait until it has. */
    while (wse_future_state(t) == WSE_PENDING && now_s() < limit)
        sched_yield();
    /* ... and is inside its wait (marked) before R waits, so R's worker does
     * not give up and block while T is still submitting (slow builds). */
    while (!flag_get(&s->t_submitted) && now_s() < limit)
        sched_yield();
    usleep(1000);
    flag_set(&s->r_waiting);
    rc = wse_future_wait(t, WSE_FOREVER);
    __atomic_store_n(&s->r_waiting, 0, __ATOMIC_RELEASE);
    wse_future_release(t);
    return rc;
}

static void
run_leap(struct leap *s)
{
    wse_executor *ex = make_executor(2);
    wse_future *r;

    ck_assert_int_eq(wse_submit(ex, leap_r, s, &r), 0);
    ck_assert_int_eq(wse_future_wait(r, 20.0), 0);
    ck_assert_int_eq(wse_future_error(r), 0);
    ck_assert_int_eq(s->bad, 0);
    wse_future_release(r);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}

START_TEST(leapfrog_runs_what_the_awaited_task_waits_on)
{
    struct leap s = {0};

    flag_set(&s.t_waits_all);
    run_leap(&s);
    /* Seven children sat in the other worker's deque for 5 ms each while R's
     * worker had nothing else it may run. */
    ck_assert_msg(counter_get(&s.on_r) >= 1, "no child of T ran on R's worker");
}
END_TEST

START_TEST(leapfrog_never_runs_an_unawaited_child)
{
    for (int round = 0; round < 5; round++) {
        struct leap s = {0};

        run_leap(&s);
        ck_assert_msg(counter_get(&s.stray_on_r) == 0,
                      "a child T did not wait on ran on top of R's wait");
    }
}
END_TEST

/*
 * Nested fork-join trees whose leaves also wait on an earlier tree's root: the
 * waits are acyclic (root i waits, through its tree, only on roots before it),
 * and every inner task waits on all its children, so waiting workers leapfrog
 * across trees. With a watchdog.
 */
#define FOREST 40

struct forest {
    wse_future *root[FOREST];
    int bad;
};

struct node_arg {
    struct forest *fs;
    int tree;
    int depth;
    uint32_t seed;
};

static int
forest_node(void *arg, void **result)
{
    struct node_arg *a = arg;
    struct node_arg kids[3];
    wse_future *f[3];
    uint32_t seed = a->seed;
    int n = a->depth < 4 ? (int)(rnd_next(&seed) % 4) : 0;
    int rc = 0;

    (void)result;
    if (n == 0) {
        if (a->tree > 0) {
            int j = (int)(rnd_next(&seed) % (uint32_t)a->tree);
            rc = wse_future_wait(published(&a->fs->root[j]), WSE_FOREVER);
        }
    } else {
        for (int i = 0; i < n; i++) {
            kids[i] = (struct node_arg){a->fs, a->tree, a->depth + 1, rnd_next(&seed)};
            if (wse_submit(wse_current(), forest_node, &kids[i], &f[i]) != 0)
                return EIO;
        }
        rc = wse_wait(f, (size_t)n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
        release_all(f, (size_t)n);
    }
    if (rc != 0)
        counter_add(&a->fs->bad, 1);
    return rc;
}

START_TEST(leapfrog_across_acyclic_trees)
{
    unsigned workers = 1 + (unsigned)_i;
    wse_options o = {0};
    wse_executor *ex;

    /* Room for the threads the forest can block at once. On a slow schedule
     * (ThreadSanitizer, about 1 run in 100) every one of the default ceiling's
     * threads (4 x workers + 64 spares) was blocked in a wait, with tasks still
     * queued: the ceiling, which bounds the threads of any pool, not a lost
     * wake-up. This test is about leapfrogging. */
    o.workers = workers;
    o.max_spare_workers = 512;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    uint32_t seed = 0x51ed27u ^ workers;

    for (int round = 0; round < 20; round++) {
        struct forest fs = {0};
        struct node_arg args[FOREST];

        for (int i = 0; i < FOREST; i++) {
            wse_future *f;

            args[i] = (struct node_arg){&fs, i, 0, rnd_next(&seed)};
            ck_assert_int_eq(wse_submit(ex, forest_node, &args[i], &f), 0);
            __atomic_store_n(&fs.root[i], f, __ATOMIC_RELEASE);
        }
        int rc = wse_wait(fs.root, FOREST, 20.0, WSE_ALL_COMPLETED, NULL, NULL);
        wse_stats st = {0};
        (void)wse_executor_stats(ex, &st, sizeof st);
        ck_assert_msg(rc == 0, "round %d (%u workers) hung: %d (%llu spares started)", round,
                      workers, rc, (unsigned long long)st.spares);
        ck_assert_int_eq(fs.bad, 0);
        release_all(fs.root, FOREST);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Deadlines on workers ------------------------------------------------- */

static int
long_task(void *arg, void **result)
{
    (void)result;
    double end = now_s() + (double)(intptr_t)arg / 1000.0;
    while (now_s() < end)
        ;
    return 0;
}

struct deadline_probe {
    wse_future *held; /* running on another worker, behind a gate */
    double worst;     /* seconds past the 10 ms deadline */
    int rc;
};

static int
deadline_task(void *arg, void **result)
{
    struct deadline_probe *p = arg;
    int rc;

    (void)result;
    for (int i = 0; i < 20; i++) {
        double t0 = now_s();
        rc = wse_future_wait(p->held, 0.010);
        double over = now_s() - t0 - 0.010;
        if (over > p->worst)
            p->worst = over;
        if (rc != ETIMEDOUT)
            p->rc = rc == 0 ? -1 : rc;
    }
    return 0;
}

START_TEST(worker_deadline_overshoot)
{
    wse_executor *ex = make_executor(2);
    struct gate g = {0};
    struct deadline_probe p = {NULL, 0.0, 0};
    wse_future *busy[16];
    wse_future *probe;

    /* One worker held by a gate; the probe waits on it from the other, with
     * 16 tasks of 250 ms each queued behind it. */
    ck_assert_int_eq(wse_submit(ex, gate_task, &g, &p.held), 0);
    gate_wait_entered(&g, 1);
    ck_assert_int_eq(wse_submit(ex, deadline_task, &p, &probe), 0);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(wse_submit(ex, long_task, (void *)(intptr_t)250, &busy[i]), 0);
    ck_assert_int_eq(wse_future_wait(probe, 60.0), 0);
    gate_open(&g);
    fprintf(stderr, "worker wait(10 ms) on a busy executor: worst overshoot %.2f ms\n",
            p.worst * 1e3);
    ck_assert_int_eq(p.rc, 0);
    /* The waiter runs none of the 250 ms tasks (it does not wait on them); what
     * remains is the scheduler's latency on a loaded machine. */
    ck_assert_msg(p.worst < 0.100 * wse_test_timeout_scale(), "overshoot %.1f ms", p.worst * 1e3);
    ck_assert_int_eq(wse_wait(busy, 16, 60.0, WSE_ALL_COMPLETED, NULL, NULL), 0);
    release_all(busy, 16);
    ck_assert_int_eq(wse_future_wait(p.held, 10.0), 0);
    wse_future_release(p.held);
    wse_future_release(probe);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- spin_rounds and shutdown --------------------------------------------- */

START_TEST(spin_rounds_above_max_is_einval)
{
    wse_options o = {0};
    wse_executor *ex = SENTINEL_EX;

    o.workers = 1;
    o.spin_rounds = UINT_MAX;
    ck_assert_int_eq(wse_executor_create(&ex, &o), EINVAL);
    ck_assert_ptr_eq(ex, SENTINEL_EX);
    o.spin_rounds = WSE_MAX_SPIN_ROUNDS + 1;
    ck_assert_int_eq(wse_executor_create(&ex, &o), EINVAL);
    o.spin_rounds = WSE_MAX_SPIN_ROUNDS;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(destroy_of_spinning_executor_is_prompt)
{
    wse_options o = {0};
    wse_executor *ex;
    wse_future *f;
    int ran = 0;

    o.workers = 2;
    /* The longest spin either knob allows: rounds, then time. */
    if (_i == 0)
        o.spin_rounds = WSE_MAX_SPIN_ROUNDS;
    else
        o.spin_us = WSE_MAX_SPIN_US;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    /* Make both workers search: they spin for a long time after this. */
    ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, 10.0), 0);
    wse_future_release(f);
    double t0 = now_s();
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    double took = now_s() - t0;
    fprintf(stderr, "destroy of a spinning executor: %.3f ms\n", took * 1e3);
    ck_assert_msg(took < 0.020 * wse_test_timeout_scale(), "destroy took %.1f ms", took * 1e3);
}
END_TEST

/* ---- wse_wait's partition with overlapping arrays ------------------------- */

START_TEST(partition_out_overlaps_futures)
{
    wse_executor *ex = make_executor(1);
    wse_future *arr[5];
    wse_future *orig[4];
    struct gate g = {0};
    size_t n_done = 0;

    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(wse_submit(ex, task_value, (void *)(intptr_t)i, &orig[i]), 0);
    ck_assert_int_eq(wse_wait(orig, 4, 10.0, WSE_ALL_COMPLETED, NULL, NULL), 0);
    /* All done (the fast path): out = futures + 1 and out = futures - 1. */
    memcpy(arr, orig, sizeof(orig));
    ck_assert_int_eq(wse_wait(arr, 4, 0, WSE_ALL_COMPLETED, arr + 1, &n_done), 0);
    ck_assert_uint_eq(n_done, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_eq(arr[i + 1], orig[i]);
    memcpy(arr + 1, orig, sizeof(orig));
    ck_assert_int_eq(wse_wait(arr + 1, 4, 0, WSE_ALL_COMPLETED, arr, &n_done), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_eq(arr[i], orig[i]);

    /* One pending (the slow path): the done ones first, in input order. */
    wse_future *p;
    ck_assert_int_eq(wse_submit(ex, gate_task, &g, &p), 0);
    wse_future *mix[4] = {orig[0], p, orig[1], orig[2]};
    memcpy(arr, mix, sizeof(mix));
    ck_assert_int_eq(wse_wait(arr, 4, 0, WSE_ALL_COMPLETED, arr + 1, &n_done), ETIMEDOUT);
    ck_assert_uint_eq(n_done, 3);
    ck_assert_ptr_eq(arr[1], orig[0]);
    ck_assert_ptr_eq(arr[2], orig[1]);
    ck_assert_ptr_eq(arr[3], orig[2]);
    ck_assert_ptr_eq(arr[4], p);
    gate_open(&g);
    ck_assert_int_eq(wse_future_wait(p, 10.0), 0);
    wse_future_release(p);
    release_all(orig, 4);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- fork() --------------------------------------------------------------- */

static int
child_checks(wse_executor *ex, wse_future *parent_pending)
{
    wse_future *f = SENTINEL;
    wse_executor *mine;
    int rc;

    if (wse_submit(ex, task_value, NULL, &f) != EOWNERDEAD || f != SENTINEL)
        return 10;
    void *args[2] = {NULL, NULL};
    wse_future *out[2] = {SENTINEL, SENTINEL};
    if (wse_submit_batch(ex, task_value, args, 2, out) != EOWNERDEAD || out[0] != SENTINEL)
        return 11;
    if (wse_shutdown(ex, true, false) != EOWNERDEAD)
        return 12;
    if (wse_executor_workers(ex) != 0)
        return 13;
    (void)parent_pending;
    if (wse_executor_destroy(ex) != EOWNERDEAD)
        return 14;
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer ends a child that starts threads after a multithreaded
     * fork (die_after_fork): the new-executor part runs in the other builds. */
    (void)mine;
    (void)rc;
    return 0;
#endif
    /* A new executor in the child works. */
    if (wse_executor_create(&mine, NULL) != 0)
        return 15;
    if (wse_submit(mine, task_value, (void *)(intptr_t)7, &f) != 0)
        return 16;
    rc = wse_future_wait(f, 10.0);
    if (rc != 0 || (intptr_t)wse_future_value(f) != 7)
        return 17;
    wse_future_release(f);
    if (wse_executor_destroy(mine) != 0)
        return 18;
    return 0;
}

/* Spares that retire must not swallow a submission's wake: rounds of a fork-join
 * whose FIRST_COMPLETED waits block (spares start, resume and retire), each
 * followed by a plain thread's submission that only a woken worker can run. A
 * round that does not finish in time is a wake-up lost to a retiring spare. */
static int
fib_first(void *arg, void **result)
{
    intptr_t n = (intptr_t)arg;
    wse_future *f[2];
    int rc = 0;

    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    if (wse_submit(wse_current(), fib_first, (void *)(n - 1), &f[0]) != 0)
        return EIO;
    if (wse_submit(wse_current(), fib_first, (void *)(n - 2), &f[1]) != 0) {
        wse_future_release(f[0]);
        return EIO;
    }
    /* Not a leapfrogging wait: it may block with a spare started. */
    if (wse_wait(f, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, NULL, NULL) != 0 ||
        wse_wait(f, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL) != 0)
        rc = EIO;
    *result = (void *)((intptr_t)wse_future_value(f[0]) + (intptr_t)wse_future_value(f[1]));
    release_all(f, 2);
    return rc;
}

START_TEST(retiring_spares_pass_wakeups_on)
{
    static const intptr_t fib_of[] = {377, 610, 987, 1597}; /* fib(14..17) */
    wse_executor *ex = make_executor(2);

    for (int round = 0; round < 200; round++) {
        wse_future *f;
        ck_assert_int_eq(wse_submit(ex, fib_first, (void *)(intptr_t)(14 + round % 4), &f), 0);
        ck_assert_msg(wse_future_wait(f, wse_test_scale(10.0)) == 0, "round %d never finished",
                      round);
        ck_assert_int_eq(wse_future_error(f), 0);
        ck_assert_int_eq((intptr_t)wse_future_value(f), fib_of[round % 4]);
        wse_future_release(f);
        if (round % 3 != 0)
            usleep(200); /* let the workers and spares park */
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(fork_child_gets_eownerdead)
{
    wse_executor *ex = make_executor(2);
    struct gate g = {0};
    wse_future *held;
    int status;
    pid_t pid;

    /* A worker is busy at the fork, and a task is queued behind it. */
    ck_assert_int_eq(wse_submit(ex, gate_task, &g, &held), 0);
    gate_wait_entered(&g, 1);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(30);
        _exit(child_checks(ex, held));
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "child died (status %d)", status);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    /* The parent's executor is untouched. */
    gate_open(&g);
    ck_assert_int_eq(wse_future_wait(held, 10.0), 0);
    wse_future_release(held);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static Suite *
helping_suite(void)
{
    Suite *s = suite_create("helping");
    TCase *tc;

    tc = tcase_create("depth");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, chain_depth_1e4_one_worker);
    tcase_add_test(tc, chain_depth_1e4_two_workers);
    tcase_add_test(tc, chain_depth_env_one_worker);
    tcase_add_test(tc, chain_past_the_ceiling_fails_with_eagain);
    tcase_add_test(tc, chain_small_stacks);
    tcase_add_test(tc, fork_join_one_worker);
    tcase_add_test(tc, edeadlk_own_and_ancestor);
    suite_add_tcase(s, tc);

    tc = tcase_create("acyclic");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, xzab_workers, 1, 5);
    tcase_add_loop_test(tc, stencil_workers, 1, 5);
    tcase_add_loop_test(tc, random_acyclic_waits, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("leapfrog");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, leapfrog_runs_what_the_awaited_task_waits_on);
    tcase_add_test(tc, leapfrog_never_runs_an_unawaited_child);
    tcase_add_loop_test(tc, leapfrog_across_acyclic_trees, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadline");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, worker_deadline_overshoot);
    suite_add_tcase(s, tc);

    tc = tcase_create("spin");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, spin_rounds_above_max_is_einval);
    tcase_add_loop_test(tc, destroy_of_spinning_executor_is_prompt, 0, 2);
    tcase_add_test(tc, retiring_spares_pass_wakeups_on);
    suite_add_tcase(s, tc);

    tc = tcase_create("partition");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, partition_out_overlaps_futures);
    suite_add_tcase(s, tc);

    tc = tcase_create("fork");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, fork_child_gets_eownerdead);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(helping_suite());
}

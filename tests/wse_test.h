/*
 * Helpers shared by the Check suites: a monotonic clock, flags and counters on
 * __atomic builtins, gate tasks that block a worker until the test opens them,
 * and "blocked executors" whose every worker is held by a gate, so that later
 * submissions are guaranteed to stay PENDING.
 *
 * Tasks never call ck_assert (they run on worker threads); they return codes or
 * store values, and the test thread checks them.
 */
#ifndef WSE_TEST_H
#define WSE_TEST_H

#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsexec.h"

/* Seconds a helper spins for a condition before it fails the test (scaled by
 * wse_test_scale()). */
#define WSE_TEST_SPIN_LIMIT 30.0

/* Per-test-case timeout (seconds); Check itself multiplies it by
 * CK_TIMEOUT_MULTIPLIER. */
#define WSE_TEST_TIMEOUT 30

/* A pointer that is never a real future: pre-fills out arrays to prove "untouched". */
#define SENTINEL ((wse_future *)(uintptr_t)0x5e5e5e5eu)
#define SENTINEL_N ((size_t)0xdeadbeefu)

static inline double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A time bound that only guards against a hang, or leaves slack for a slow run,
 * scaled like Check's own test-case timeouts: seconds * CK_TIMEOUT_MULTIPLIER (set
 * to 5 or more under ThreadSanitizer and valgrind). Never below `seconds`. Not for
 * timeouts whose length a test asserts (an ETIMEDOUT after at least 20 ms stays
 * 20 ms): only for the bounds around them.
 */
static inline double
wse_test_scale(double seconds)
{
    const char *s = getenv("CK_TIMEOUT_MULTIPLIER");
    if (s == NULL || *s == '\0')
        return seconds;
    char *end;
    double m = strtod(s, &end);
    return (*end == '\0' && m > 1.0 && isfinite(m)) ? seconds * m : seconds;
}

static inline struct timespec
mono_in(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ns %= 1000000000LL;
    if (ns < 0) {
        ns += 1000000000LL;
        ts.tv_sec -= 1;
    }
    ts.tv_nsec = (long)ns;
    return ts;
}

static inline void
flag_set(int *f)
{
    __atomic_store_n(f, 1, __ATOMIC_SEQ_CST);
}

static inline int
flag_get(const int *f)
{
    return __atomic_load_n(f, __ATOMIC_SEQ_CST);
}

static inline int
counter_add(int *c, int v)
{
    return __atomic_add_fetch(c, v, __ATOMIC_SEQ_CST);
}

static inline int
counter_get(const int *c)
{
    return __atomic_load_n(c, __ATOMIC_SEQ_CST);
}

/* Spin (yielding) until *c >= n; fail the test after WSE_TEST_SPIN_LIMIT seconds
 * (scaled). */
static inline void
spin_until_at_least(const int *c, int n, const char *what)
{
    double limit = now_s() + wse_test_scale(WSE_TEST_SPIN_LIMIT);
    while (counter_get(c) < n) {
        if (now_s() > limit)
            ck_abort_msg("timed out waiting for %s (%d < %d)", what, counter_get(c), n);
        sched_yield();
    }
}

/* Spin until f reaches state s. */
static inline void
spin_until_state(const wse_future *f, wse_state s)
{
    double limit = now_s() + wse_test_scale(WSE_TEST_SPIN_LIMIT);
    while (wse_future_state(f) != s) {
        if (now_s() > limit)
            ck_abort_msg("timed out waiting for state %d (is %d)", (int)s,
                         (int)wse_future_state(f));
        sched_yield();
    }
}

/* ---- Tasks ------------------------------------------------------------------- */

/* A gate: tasks on it count themselves in `entered`, then spin until `open`,
 * then store `value` and return `code`. */
struct gate {
    int open;
    int entered;
    int code;
    void *value;
};

static inline int
gate_task(void *arg, void **result)
{
    struct gate *g = arg;
    counter_add(&g->entered, 1);
    while (!flag_get(&g->open))
        sched_yield();
    *result = g->value;
    return g->code;
}

static inline void
gate_wait_entered(struct gate *g, int n)
{
    spin_until_at_least(&g->entered, n, "gate tasks to start");
}

static inline void
gate_open(struct gate *g)
{
    flag_set(&g->open);
}

/* Submit a task on gate g to ex and wait until it runs: its future is RUNNING
 * until gate_open(g). */
static inline wse_future *
start_gate(wse_executor *ex, struct gate *g)
{
    int before = counter_get(&g->entered);
    wse_future *f = NULL;
    ck_assert_int_eq(wse_submit(ex, gate_task, g, &f), 0);
    spin_until_at_least(&g->entered, before + 1, "a gate task to start");
    ck_assert_int_eq(wse_future_state(f), WSE_RUNNING);
    return f;
}

/* *result = arg; return 0. */
static inline int
task_value(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* Return (int)arg: a failure when nonzero. Also stores a value, which must be
 * ignored when the task fails. */
static inline int
task_code(void *arg, void **result)
{
    *result = (void *)(uintptr_t)0xbad;
    return (int)(intptr_t)arg;
}

/* Count one run in *(int *)arg. */
static inline int
task_count(void *arg, void **result)
{
    (void)result;
    counter_add(arg, 1);
    return 0;
}

/* ---- Threads that make "later" happen ---------------------------------------- */

/* Sets *flag after usec microseconds, from its own thread. The delay only makes
 * it likely that the event happens while the test thread waits; no test result
 * depends on it. */
struct delayed_flag {
    pthread_t thread;
    int *flag;
    unsigned usec;
};

static inline void *
delayed_flag_main(void *arg)
{
    struct delayed_flag *d = arg;
    usleep(d->usec);
    flag_set(d->flag);
    return NULL;
}

static inline void
delayed_flag_start(struct delayed_flag *d, int *flag, unsigned usec)
{
    d->flag = flag;
    d->usec = usec;
    ck_assert_int_eq(pthread_create(&d->thread, NULL, delayed_flag_main, d), 0);
}

static inline void
delayed_flag_join(struct delayed_flag *d)
{
    ck_assert_int_eq(pthread_join(d->thread, NULL), 0);
}

/* Cancels f after usec microseconds; `result` records wse_future_cancel()'s answer. */
struct delayed_cancel {
    pthread_t thread;
    wse_future *f;
    unsigned usec;
    int result;
};

static inline void *
delayed_cancel_main(void *arg)
{
    struct delayed_cancel *d = arg;
    usleep(d->usec);
    __atomic_store_n(&d->result, wse_future_cancel(d->f) ? 1 : 0, __ATOMIC_SEQ_CST);
    return NULL;
}

static inline void
delayed_cancel_start(struct delayed_cancel *d, wse_future *f, unsigned usec)
{
    d->f = f;
    d->usec = usec;
    d->result = -1;
    ck_assert_int_eq(pthread_create(&d->thread, NULL, delayed_cancel_main, d), 0);
}

static inline int
delayed_cancel_join(struct delayed_cancel *d)
{
    ck_assert_int_eq(pthread_join(d->thread, NULL), 0);
    return __atomic_load_n(&d->result, __ATOMIC_SEQ_CST);
}

/* ---- Executors whose workers are all held by a gate --------------------------- */

#define BLOCKED_MAX_WORKERS 8

struct blocked {
    wse_executor *ex;
    unsigned workers;
    struct gate gate;
    wse_future *gate_f[BLOCKED_MAX_WORKERS];
};

/* Create an executor of `workers` workers and occupy every one with a gate task.
 * Anything submitted afterwards stays PENDING until blocked_release(). */
static inline void
blocked_create(struct blocked *b, unsigned workers)
{
    memset(b, 0, sizeof *b);
    ck_assert_uint_le(workers, BLOCKED_MAX_WORKERS);
    wse_options o = {0};
    o.workers = workers;
    ck_assert_int_eq(wse_executor_create(&b->ex, &o), 0);
    b->workers = workers;
}

/* Occupy every worker of b with a gate task. */
static inline void
blocked_block(struct blocked *b)
{
    for (unsigned i = 0; i < b->workers; i++)
        ck_assert_int_eq(wse_submit(b->ex, gate_task, &b->gate, &b->gate_f[i]), 0);
    gate_wait_entered(&b->gate, (int)b->workers);
}

static inline void
blocked_start(struct blocked *b, unsigned workers)
{
    blocked_create(b, workers);
    blocked_block(b);
}

static inline void
blocked_release(struct blocked *b)
{
    gate_open(&b->gate);
}

/* Open the gate, destroy the executor, release the gate futures. */
static inline void
blocked_finish(struct blocked *b)
{
    gate_open(&b->gate);
    ck_assert_int_eq(wse_executor_destroy(b->ex), 0);
    for (unsigned i = 0; i < b->workers && b->gate_f[i]; i++) {
        ck_assert_int_eq(wse_future_state(b->gate_f[i]), WSE_DONE);
        wse_future_release(b->gate_f[i]);
    }
    b->ex = NULL;
}

/* ---- Futures in a given final state ------------------------------------------- */

static inline wse_executor *
make_executor(unsigned workers)
{
    wse_executor *ex = NULL;
    wse_options o = {0};
    o.workers = workers;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_ptr_nonnull(ex);
    return ex;
}

/* A future that is DONE with value v. */
static inline wse_future *
make_done(wse_executor *ex, void *v)
{
    wse_future *f = NULL;
    ck_assert_int_eq(wse_submit(ex, task_value, v, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    return f;
}

/* A future that is FAILED with code. */
static inline wse_future *
make_failed(wse_executor *ex, int code)
{
    wse_future *f = NULL;
    ck_assert_int_eq(wse_submit(ex, task_code, (void *)(intptr_t)code, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_FAILED);
    return f;
}

/* A future that stays PENDING: b's workers must all be blocked. */
static inline wse_future *
make_pending(struct blocked *b, int *counter)
{
    wse_future *f = NULL;
    ck_assert_int_eq(wse_submit(b->ex, task_count, counter, &f), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_PENDING);
    return f;
}

/* A CANCELLED future: b's workers must all be blocked. */
static inline wse_future *
make_cancelled(struct blocked *b, int *counter)
{
    wse_future *f = make_pending(b, counter);
    ck_assert(wse_future_cancel(f));
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    return f;
}

static inline void
release_all(wse_future *const f[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        wse_future_release(f[i]);
}

/* ---- Checking a wait's out array ---------------------------------------------- */

/* out[0..n) is exactly expected[0..n). */
static inline void
expect_out(wse_future *const out[], wse_future *const expected[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == expected[i], "out[%zu] is %p, expected %p", i, (void *)out[i],
                      (void *)expected[i]);
}

/* Pre-fill out with SENTINEL, to check later that a call left it alone. */
static inline void
fill_sentinels(wse_future *out[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = SENTINEL;
}

static inline void
expect_sentinels(wse_future *const out[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == SENTINEL, "out[%zu] was written (%p)", i, (void *)out[i]);
}

/* -1, 0 or 1 as a is before, equal to or after b. */
static inline int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

/* ---- Hang detection for long loops --------------------------------------------- */

/* A thread that fails the test when `progress` (rounds completed, stored by the
 * test with __atomic_store_n) stays the same for more than `stall_s` seconds
 * (scaled by wse_test_scale()): a lost wake-up hangs a round. Set `stall_s`,
 * then watchdog_start(); watchdog_stop() when done. */
struct watchdog {
    pthread_t thread;
    double stall_s;
    long progress; /* atomic */
    int stop;      /* atomic */
};

static inline void *
watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    double stall = wse_test_scale(w->stall_s);
    long last = -1;
    double last_t = now_s();
    while (!flag_get(&w->stop)) {
        usleep(10000);
        long p = __atomic_load_n(&w->progress, __ATOMIC_SEQ_CST);
        double t = now_s();
        if (p != last) {
            last = p;
            last_t = t;
        } else if (t - last_t > stall) {
            fprintf(stderr, "watchdog: round %ld stuck for more than %.0f s\n", p, stall);
            ck_abort_msg("round %ld stuck for more than %.0f s (lost wake-up?)", p, stall);
        }
    }
    return NULL;
}

static inline void
watchdog_start(struct watchdog *w, double stall_s)
{
    w->stall_s = stall_s;
    w->progress = 0;
    w->stop = 0;
    ck_assert_int_eq(pthread_create(&w->thread, NULL, watchdog_main, w), 0);
}

static inline void
watchdog_progress(struct watchdog *w, long rounds_done)
{
    __atomic_store_n(&w->progress, rounds_done, __ATOMIC_SEQ_CST);
}

static inline void
watchdog_stop(struct watchdog *w)
{
    flag_set(&w->stop);
    ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
}

/* Busy-wait about usec microseconds (no sleep: for fine timing). */
static inline void
spin_for(double usec)
{
    double end = now_s() + usec / 1e6;
    while (now_s() < end)
        ;
}

/* Size knobs from the environment (CI short, soaks long). */
static inline long
env_long(const char *name, long dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end == '\0' && v > 0) ? v : dflt;
}

/* Worker count for tests that work with any count: WSE_TEST_WORKERS (1..1024)
 * if set, else dflt. The chaos runner (tests/chaos/run.sh) sets it to run the
 * same tests with 1, 2, 3 and 8 workers. Tests that need an exact count use
 * make_executor(n) / blocked_start(b, n) directly. */
static inline unsigned
wse_test_workers(unsigned dflt)
{
    long v = env_long("WSE_TEST_WORKERS", (long)dflt);
    return v >= 1 && v <= 1024 ? (unsigned)v : dflt;
}

/* An executor with WSE_TEST_WORKERS workers (the chaos runner sets it), but never
 * fewer than `least`, the count the test needs (a gate may hold one worker). */
static inline wse_executor *
make_executor_any(unsigned least)
{
    unsigned n = wse_test_workers(least);
    return make_executor(n > least ? n : least);
}

/* Run one suite in Check's default (fork) mode; exit status for CTest. */
static inline int
run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* WSE_TEST_H */

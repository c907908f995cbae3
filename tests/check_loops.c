/*
 * Parallel loops: wse_for() and wse_reduce(). Coverage (every index exactly
 * once, chunks within grain), failure and stop, the loop's future with waits,
 * as_completed and dependencies, lineage, nesting, determinism of reductions.
 */
#include "wse_test.h"

static wse_executor *
make(unsigned workers)
{
    wse_options o = {0};
    wse_executor *ex;

    o.workers = workers;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    return ex;
}

/* ---- coverage ------------------------------------------------------------- */

struct cover {
    size_t begin;
    size_t end;
    size_t grain;
    int *hits; /* per index */
    int bad;   /* chunks out of range, empty or over grain */
    int chunks;
};

static int
cover_fn(size_t b, size_t e, void *ctx)
{
    struct cover *c = ctx;
    size_t i;

    if (b >= e || b < c->begin || e > c->end || (c->grain != 0 && e - b > c->grain))
        counter_add(&c->bad, 1);
    for (i = b; i < e && i < c->end; i++)
        counter_add(&c->hits[i - c->begin], 1);
    counter_add(&c->chunks, 1);
    return 0;
}

static void
check_cover(wse_executor *ex, size_t begin, size_t n, size_t grain, bool with_future)
{
    struct cover c = {begin, begin + n, grain, calloc(n + 1, sizeof(int)), 0, 0};
    wse_future *f = SENTINEL;
    size_t i;

    ck_assert_ptr_nonnull(c.hits);
    if (with_future) {
        ck_assert_int_eq(wse_for(ex, begin, begin + n, grain, cover_fn, &c, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        ck_assert_ptr_null(wse_future_value(f));
        wse_future_release(f);
    } else {
        ck_assert_int_eq(wse_for(ex, begin, begin + n, grain, cover_fn, &c, NULL), 0);
    }
    ck_assert_int_eq(c.bad, 0);
    for (i = 0; i < n; i++)
        ck_assert_msg(c.hits[i] == 1, "n %zu grain %zu: index %zu visited %d times", n, grain, i,
                      c.hits[i]);
    if (grain != 0)
        ck_assert_int_ge(c.chunks, (int)((n + grain - 1) / grain));
    free(c.hits);
}

START_TEST(chunks_cover_the_range_once)
{
    static const size_t sizes[] = {1, 2, 3, 7, 100, 1000, 10007};
    static const size_t grains[] = {0, 1, 3, 64};
    unsigned w;
    size_t s;
    size_t g;

    for (w = 1; w <= 4; w++) {
        wse_executor *ex = make(w);
        for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            for (g = 0; g < sizeof grains / sizeof grains[0]; g++) {
                check_cover(ex, 5, sizes[s], grains[g], false);
                check_cover(ex, 1000, sizes[s], grains[g], true);
            }
        }
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* Near the top of size_t: no index arithmetic overflows. */
START_TEST(a_range_at_the_top_of_size_t)
{
    wse_executor *ex = make(2);

    check_cover(ex, SIZE_MAX - 1000, 1000, 0, false);
    check_cover(ex, SIZE_MAX - 1000, 1000, 7, true);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static int
never_fn(size_t b, size_t e, void *ctx)
{
    (void)b;
    (void)e;
    counter_add(ctx, 1);
    return 0;
}

START_TEST(an_empty_range_runs_nothing)
{
    wse_executor *ex = make(2);
    int calls = 0;
    wse_future *f = NULL;
    double acc = 1.5;

    ck_assert_int_eq(wse_for(ex, 7, 7, 0, never_fn, &calls, NULL), 0);
    ck_assert_int_eq(wse_for(ex, 7, 7, 3, never_fn, &calls, &f), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    wse_future_release(f);
    ck_assert_int_eq(calls, 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    (void)acc;
}
END_TEST

static int
sum_fn(size_t b, size_t e, void *acc, void *ctx)
{
    double *a = acc;
    size_t i;

    (void)ctx;
    for (i = b; i < e; i++)
        *a += 1.0 / (double)(i + 1) * ((i & 1) ? -1.0 : 1.0) * (double)(i % 7 + 1);
    return 0;
}

static void
sum_combine(void *acc, const void *next, void *ctx)
{
    (void)ctx;
    *(double *)acc += *(const double *)next;
}

START_TEST(bad_arguments)
{
    wse_executor *ex = make(1);
    wse_future *f = SENTINEL;
    double acc = 0;
    int calls = 0;

    ck_assert_int_eq(wse_for(NULL, 0, 1, 0, never_fn, &calls, NULL), EINVAL);
    ck_assert_int_eq(wse_for(ex, 0, 1, 0, NULL, &calls, &f), EINVAL);
    ck_assert_int_eq(wse_for(ex, 2, 1, 0, never_fn, &calls, &f), EINVAL);
    ck_assert_int_eq(wse_reduce(NULL, 0, 1, 0, &acc, sizeof acc, sum_fn, sum_combine, NULL, &f),
                     EINVAL);
    ck_assert_int_eq(wse_reduce(ex, 0, 1, 0, NULL, sizeof acc, sum_fn, sum_combine, NULL, &f),
                     EINVAL);
    ck_assert_int_eq(wse_reduce(ex, 0, 1, 0, &acc, 0, sum_fn, sum_combine, NULL, &f), EINVAL);
    ck_assert_int_eq(wse_reduce(ex, 0, 1, 0, &acc, sizeof acc, NULL, sum_combine, NULL, &f),
                     EINVAL);
    ck_assert_int_eq(wse_reduce(ex, 0, 1, 0, &acc, sizeof acc, sum_fn, NULL, NULL, &f), EINVAL);
    ck_assert_int_eq(wse_reduce(ex, 3, 1, 0, &acc, sizeof acc, sum_fn, sum_combine, NULL, &f),
                     EINVAL);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
    ck_assert_int_eq(wse_for(ex, 0, 10, 0, never_fn, &calls, &f), ESHUTDOWN);
    ck_assert_int_eq(wse_for(ex, 0, 10, 0, never_fn, &calls, NULL), ESHUTDOWN);
    ck_assert_int_eq(wse_reduce(ex, 0, 10, 0, &acc, sizeof acc, sum_fn, sum_combine, NULL, NULL),
                     ESHUTDOWN);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_int_eq(calls, 0);
    ck_assert(acc == 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- failure and stop ------------------------------------------------------ */

struct failing {
    size_t fail_at;
    int failed;        /* set just before the failing chunk returns */
    int after_failure; /* chunks that saw the loop's stop as they started */
    int saw_stop;      /* chunks that saw wse_stop_requested() */
    int code;
    int started;
};

static int
failing_fn(size_t b, size_t e, void *ctx)
{
    struct failing *s = ctx;
    double limit;

    counter_add(&s->started, 1);
    /* The failure requests a stop for the loop right after it is recorded; a
     * chunk that starts once the stop is visible started after the failure.
     * Only a chunk whose participant checked just before the failure was
     * recorded can: at most one per participant. */
    if (wse_stop_requested())
        counter_add(&s->after_failure, 1);
    if (b <= s->fail_at && s->fail_at < e) {
        flag_set(&s->failed);
        return s->code;
    }
    if (b == s->fail_at + 1) {
        /* A neighbour that runs long: it must see the stop. */
        limit = now_s() + wse_test_scale(10);
        while (!wse_stop_requested() && now_s() < limit)
            sched_yield();
        if (wse_stop_requested())
            counter_add(&s->saw_stop, 1);
    }
    return 0;
}

START_TEST(the_first_failure_stops_the_loop)
{
    unsigned w;

    for (w = 1; w <= 4; w++) {
        wse_executor *ex = make(w);
        struct failing s = {.fail_at = 100, .code = EIO};
        wse_future *f;

        ck_assert_int_eq(wse_for(ex, 0, 100000, 1, failing_fn, &s, NULL), EIO);
        ck_assert_int_le(s.after_failure, (int)w + 1);
        ck_assert_int_lt(s.started, 100000);

        memset(&s, 0, sizeof s);
        s.fail_at = 3;
        s.code = ENOSPC;
        ck_assert_int_eq(wse_for(ex, 0, 50000, 1, failing_fn, &s, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_state(f), WSE_FAILED);
        ck_assert_int_eq(wse_future_error(f), ENOSPC);
        wse_future_release(f);
        ck_assert_int_le(s.after_failure, (int)w + 1);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* Two participants: the chunk after the failing one runs on the other and
 * polls; the failure's stop must reach it. */
START_TEST(a_failure_stops_running_chunks)
{
    wse_executor *ex = make(2);
    struct failing s = {.fail_at = 0, .code = EIO};
    int i;

    for (i = 0; i < 20; i++) {
        memset(&s, 0, sizeof s);
        s.code = EIO;
        ck_assert_int_eq(wse_for(ex, 0, 2, 1, failing_fn, &s, NULL), EIO);
        /* Index 1 either ran (and saw the stop) or never started. */
        ck_assert_int_eq(s.saw_stop, s.started - 1);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ECANCELED from a chunk with no stop requested is a failure like any other. */
START_TEST(ecanceled_without_a_stop_is_a_failure)
{
    wse_executor *ex = make(2);
    struct failing s = {.fail_at = 5, .code = ECANCELED};
    wse_future *f;

    ck_assert_int_eq(wse_for(ex, 0, 100, 1, failing_fn, &s, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(f), ECANCELED);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

struct polling {
    int started;
    int saw_stop;
    int go;
};

/* Spin until a stop is requested; then give up with ECANCELED. */
static int
poll_fn(size_t b, size_t e, void *ctx)
{
    struct polling *p = ctx;
    double limit = now_s() + wse_test_scale(20);

    (void)b;
    (void)e;
    counter_add(&p->started, 1);
    while (!wse_stop_requested()) {
        if (now_s() > limit)
            return ETIMEDOUT;
        sched_yield();
    }
    counter_add(&p->saw_stop, 1);
    return ECANCELED;
}

START_TEST(request_stop_cancels_the_loop)
{
    wse_executor *ex = make(2);
    struct polling p = {0};
    wse_future *f;

    ck_assert_int_eq(wse_for(ex, 0, 1000, 1, poll_fn, &p, &f), 0);
    spin_until_at_least(&p.started, 1, "a chunk to start");
    ck_assert_int_eq(wse_future_state(f), WSE_RUNNING);
    ck_assert(wse_future_request_stop(f));
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    ck_assert_int_eq(p.saw_stop, p.started);
    ck_assert_int_le(p.started, 3);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(cancel_while_pending_runs_nothing)
{
    struct blocked b;
    struct polling p = {0};
    wse_future *f;

    blocked_start(&b, 2);
    ck_assert_int_eq(wse_for(b.ex, 0, 100, 0, poll_fn, &p, &f), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_PENDING);
    ck_assert(wse_future_cancel(f));
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    blocked_release(&b);
    ck_assert_int_eq(wse_shutdown(b.ex, true, false), 0);
    ck_assert_int_eq(p.started, 0);
    wse_future_release(f);
    blocked_finish(&b);
}
END_TEST

/* shutdown(cancel_pending) while the loop's runners are queued: the loop
 * still ends (CANCELLED, nothing ran). */
START_TEST(shutdown_cancel_pending_ends_a_queued_loop)
{
    struct blocked b;
    struct polling p = {0};
    wse_future *f;

    blocked_start(&b, 2);
    ck_assert_int_eq(wse_for(b.ex, 0, 100, 0, poll_fn, &p, &f), 0);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(f, wse_test_scale(20)), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    ck_assert_int_eq(p.started, 0);
    wse_future_release(f);
    blocked_finish(&b);
}
END_TEST

/* A loop inside a task is its child: stopping the task stops the loop, and
 * the task sees ECANCELED from wse_for(). */
static int
task_with_loop(void *arg, void **result)
{
    int rc = wse_for(wse_current(), 0, 64, 1, poll_fn, arg, NULL);

    *result = (void *)(intptr_t)rc;
    return rc;
}

START_TEST(a_stopped_task_stops_its_loop)
{
    wse_executor *ex = make(3);
    struct polling p = {0};
    wse_future *t;

    ck_assert_int_eq(wse_submit(ex, task_with_loop, &p, &t), 0);
    spin_until_at_least(&p.started, 1, "a chunk to start");
    ck_assert(wse_future_request_stop(t));
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_error(t), ECANCELED);
    ck_assert_int_eq(p.saw_stop, p.started);
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A task submitted from a chunk is the loop's child: a stop of the loop
 * reaches it. */
struct child_ctx {
    wse_future *child;
    int submitted;
    struct polling p;
};

static int
child_poll_task(void *arg, void **result)
{
    struct polling *p = arg;
    double limit = now_s() + wse_test_scale(20);

    *result = NULL;
    counter_add(&p->started, 1);
    while (!wse_stop_requested()) {
        if (now_s() > limit)
            return ETIMEDOUT;
        sched_yield();
    }
    counter_add(&p->saw_stop, 1);
    return ECANCELED;
}

static int
submit_child_fn(size_t b, size_t e, void *ctx)
{
    struct child_ctx *c = ctx;

    (void)e;
    if (b == 0) {
        if (wse_submit(wse_current(), child_poll_task, &c->p, &c->child) != 0)
            return EIO;
        flag_set(&c->submitted);
    }
    while (!wse_stop_requested())
        sched_yield();
    return ECANCELED;
}

START_TEST(tasks_submitted_from_a_chunk_are_the_loops_children)
{
    wse_executor *ex = make(3);
    struct child_ctx c = {0};
    wse_future *f;

    ck_assert_int_eq(wse_for(ex, 0, 2, 1, submit_child_fn, &c, &f), 0);
    spin_until_at_least(&c.submitted, 1, "the child to be submitted");
    spin_until_at_least(&c.p.started, 1, "the child to start");
    ck_assert(wse_future_request_stop(f));
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_wait(c.child, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(c.child), WSE_CANCELLED);
    ck_assert_int_eq(c.p.saw_stop, 1);
    wse_future_release(c.child);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- a plain caller's helpers ------------------------------------------------ */

/* Each of the two chunks waits for the other: the loop ends only if a worker
 * joins the calling thread (a chunk that waits in vain says ETIMEDOUT). */
struct meet {
    int entered;
    int lonely;
};

static int
meet_fn(size_t b, size_t e, void *ctx)
{
    struct meet *m = ctx;
    double limit = now_s() + wse_test_scale(10.0);

    (void)b;
    (void)e;
    counter_add(&m->entered, 1);
    while (counter_get(&m->entered) < 2) {
        if (now_s() > limit) {
            counter_add(&m->lonely, 1);
            return ETIMEDOUT;
        }
        sched_yield();
    }
    return 0;
}

/* A loop from a plain thread offers its runner to the workers, which must take
 * it whether they spin (hot, back to back) or sleep (spin_us none: every loop
 * must wake one). Two workers, so that a runner is offered on any CPU count. */
START_TEST(a_plain_callers_loop_gets_a_worker)
{
    wse_options o = {0};
    wse_executor *ex;
    struct meet m;
    int i;

    o.workers = 2;
    o.spin_us = _i == 0 ? 0 : WSE_SPIN_US_NONE;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    for (i = 0; i < 200; i++) {
        memset(&m, 0, sizeof m);
        if (_i == 1 && i % 20 == 0)
            usleep(2000); /* let both workers go to sleep */
        ck_assert_int_eq(wse_for(ex, 0, 2, 1, meet_fn, &m, NULL), 0);
        ck_assert_int_eq(m.entered, 2);
        ck_assert_int_eq(m.lonely, 0);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A grain-0 loop too cheap to share runs on its caller alone once the caller
 * has seen what its function costs: no runner offered, so a sleeping worker is
 * not woken for it (spin_us none: an offer wakes one). The same function
 * grown costly is measured on the way and shared again. */
struct costly {
    double us_per_index; /* 0: an empty body */
    int on_workers;
};

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int
costly_fn(size_t b, size_t e, void *ctx)
{
    struct costly *c = ctx;

    if (c->us_per_index > 0)
        spin_for((double)(e - b) * c->us_per_index);
    if (wse_worker_index() >= 0)
        counter_add(&c->on_workers, 1);
    return 0;
}

START_TEST(a_cheap_loop_runs_on_its_caller_alone)
{
    wse_options o = {0};
    wse_executor *ex;
    struct costly c = {0, 0};
    wse_stats a;
    wse_stats b;
    int i;

    o.workers = 1;
    o.spin_us = WSE_SPIN_US_NONE;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    /* A one-index loop always runs alone: what it costs, in the conditions of
     * the loops below (each after 2 ms of other work), says whether this
     * build and host are fast enough for a two-index loop to look cheap.
     * Sanitizers, valgrind and chaos builds are 10-100 times slower; and on a
     * busy shared host a one-index loop after a 2 ms pause took 1-5 us (120 ns
     * in a tight batch): then the loops below may be judged costly and shared,
     * and only their completion is checked. */
    double cost[9];
    int rc = 0;
    for (int k = 0; k < 9; k++) {
        spin_for(2000);
        double t0 = now_s();
        rc |= wse_for(ex, 0, 1, 0, costly_fn, &c, NULL); /* no ck_assert: it logs */
        cost[k] = now_s() - t0;
    }
    ck_assert_int_eq(rc, 0);
    qsort(cost, 9, sizeof cost[0], cmp_double);
    bool fast = cost[4] < 400e-9;
    /* The first loop of a function is shared and teaches its cost; each loop
     * measures it again (the first ones, cold, may look costly). */
    for (i = 0; i < 5; i++)
        rc |= wse_for(ex, 0, 2, 0, costly_fn, &c, NULL);
    /* The worker parks (spin_us none) while this thread stays busy. */
    spin_for(20000);
    ck_assert_int_eq(wse_executor_stats(ex, &a, sizeof a), 0);
    for (i = 0; i < 20; i++) {
        spin_for(2000); /* parked again (it stays up a while after work) */
        rc |= wse_for(ex, 0, 2, 0, costly_fn, &c, NULL);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(wse_executor_stats(ex, &b, sizeof b), 0);
    /* Shared, each would wake the worker (19-20 of 20: tried); a loop that a
     * preemption made look costly shares the next one. */
    if (fast)
        ck_assert_uint_le(b.wakeups - a.wakeups, 5);
    /* Now 2 ms an index: the first such loop still runs alone and measures it;
     * later ones are offered, and the woken worker takes a share. */
    c.us_per_index = 2000;
    c.on_workers = 0;
    for (i = 0; i < 20 && counter_get(&c.on_workers) == 0; i++)
        ck_assert_int_eq(wse_for(ex, 0, 4, 0, costly_fn, &c, NULL), 0);
    ck_assert_int_gt(counter_get(&c.on_workers), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Plain threads that loop at once share one offer slot: the others queue their
 * runners. Every loop still covers its range exactly once. */
struct looper {
    wse_executor *ex;
    unsigned seed;
    int bad;
};

static void *
looper_main(void *arg)
{
    struct looper *l = arg;
    int hits[16];
    struct cover c = {0, 0, 0, hits, 0, 0};
    size_t n;
    size_t i;
    int k;

    for (k = 0; k < 2000; k++) {
        n = 1 + rand_r(&l->seed) % 16;
        memset(hits, 0, sizeof hits);
        c.end = n;
        c.grain = rand_r(&l->seed) % 3;
        if (wse_for(l->ex, 0, n, c.grain, cover_fn, &c, NULL) != 0)
            l->bad++;
        for (i = 0; i < n; i++)
            if (hits[i] != 1)
                l->bad++;
    }
    if (c.bad != 0)
        l->bad++;
    return NULL;
}

START_TEST(plain_threads_loop_at_once)
{
    wse_executor *ex = make(2);
    struct looper l[3];
    pthread_t t[3];
    int i;

    for (i = 0; i < 3; i++) {
        l[i] = (struct looper){ex, (unsigned)i + 1, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, looper_main, &l[i]), 0);
    }
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_int_eq(l[i].bad, 0);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- composition ----------------------------------------------------------- */

START_TEST(the_loops_future_composes_with_waits)
{
    wse_executor *ex = make(2);
    struct blocked b;
    struct cover c = {0, 5000, 0, calloc(5000, sizeof(int)), 0, 0};
    wse_future *f[3];
    wse_future *done[3];
    size_t n_done = 0;
    wse_as_completed *it;
    wse_future *got;
    size_t index;
    struct polling p = {0};

    /* Deadline: a loop that cannot start (every worker held) times out. */
    blocked_start(&b, 1);
    ck_assert_int_eq(wse_for(b.ex, 0, 10, 0, poll_fn, &p, &f[0]), 0);
    ck_assert_int_eq(wse_wait(f, 1, 0.02, WSE_ALL_COMPLETED, NULL, NULL), ETIMEDOUT);
    ck_assert(wse_future_request_stop(f[0])); /* PENDING: cancelled */
    blocked_release(&b);
    wse_future_release(f[0]);
    blocked_finish(&b);

    /* FIRST_COMPLETED among a loop and a task held by a gate. */
    struct gate g = {0};
    ck_assert_int_eq(wse_for(ex, 0, 5000, 0, cover_fn, &c, &f[0]), 0);
    ck_assert_int_eq(wse_submit(ex, gate_task, &g, &f[1]), 0);
    ck_assert_int_eq(wse_wait(f, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, done, &n_done), 0);
    ck_assert_uint_eq(n_done, 1);
    ck_assert_ptr_eq(done[0], f[0]);
    gate_open(&g);

    /* as_completed and a dependent task. */
    ck_assert_int_eq(wse_submit_after(ex, f, 1, task_value, (void *)(intptr_t)7, &f[2]), 0);
    ck_assert_int_eq(wse_as_completed_create(&it, f, 3, WSE_FOREVER), 0);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(wse_as_completed_next(it, &got, &index), 0);
    ck_assert_int_eq(wse_as_completed_next(it, &got, &index), ENOENT);
    wse_as_completed_destroy(it);
    ck_assert_int_eq(wse_future_state(f[2]), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(f[2]), (void *)(intptr_t)7);
    for (int k = 0; k < 3; k++)
        wse_future_release(f[k]);
    free(c.hits);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- nesting --------------------------------------------------------------- */

struct nest {
    size_t inner;
    long long sum; /* atomic */
    int errors;
};

static int
inner_fn(size_t b, size_t e, void *ctx)
{
    struct nest *n = ctx;
    long long s = 0;
    size_t i;

    for (i = b; i < e; i++)
        s += (long long)i;
    __atomic_fetch_add(&n->sum, s, __ATOMIC_RELAXED);
    return 0;
}

static int
outer_fn(size_t b, size_t e, void *ctx)
{
    struct nest *n = ctx;
    size_t i;
    wse_future *f;

    for (i = b; i < e; i++) {
        /* Alternate the blocking form and a future waited on. */
        if (i % 2 == 0) {
            if (wse_for(wse_current(), 0, n->inner, 0, inner_fn, n, NULL) != 0)
                counter_add(&n->errors, 1);
        } else {
            if (wse_for(wse_current(), 0, n->inner, 3, inner_fn, n, &f) != 0 ||
                wse_future_wait(f, WSE_FOREVER) != 0 || wse_future_state(f) != WSE_DONE)
                counter_add(&n->errors, 1);
            wse_future_release(f);
        }
    }
    return 0;
}

START_TEST(loops_nest)
{
    unsigned w;

    for (w = 1; w <= 4; w++) {
        wse_executor *ex = make(w);
        struct nest n = {100, 0, 0};
        long long want = 50LL * (100 * 99 / 2);

        ck_assert_int_eq(wse_for(ex, 0, 50, 1, outer_fn, &n, NULL), 0);
        ck_assert_int_eq(n.errors, 0);
        ck_assert_int_eq(n.sum, want);
        /* From inside a task too. */
        n.sum = 0;
        ck_assert_int_eq(wse_for(ex, 0, 50, 0, outer_fn, &n, NULL), 0);
        ck_assert_int_eq(n.sum, want);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* ---- reductions -------------------------------------------------------------- */

static double
reduce_sum(wse_executor *ex, size_t n, size_t grain, bool with_future)
{
    double acc = 0.0;
    wse_future *f;

    if (with_future) {
        ck_assert_int_eq(
            wse_reduce(ex, 0, n, grain, &acc, sizeof acc, sum_fn, sum_combine, NULL, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        wse_future_release(f);
    } else {
        ck_assert_int_eq(
            wse_reduce(ex, 0, n, grain, &acc, sizeof acc, sum_fn, sum_combine, NULL, NULL), 0);
    }
    return acc;
}

START_TEST(double_sums_are_bit_identical_on_any_executor)
{
    static const size_t grains[] = {0, 1, 97, 4096};
    static const size_t sizes[] = {1, 5, 1000, 300007};
    double first[4][4];
    unsigned w;
    size_t g;
    size_t s;
    int rep;

    for (w = 1; w <= 4; w++) {
        wse_executor *ex = make(w);
        for (g = 0; g < 4; g++) {
            for (s = 0; s < 4; s++) {
                if (grains[g] == 1 && sizes[s] > 1000)
                    continue;
                for (rep = 0; rep < 3; rep++) {
                    double v = reduce_sum(ex, sizes[s], grains[g], rep == 1);
                    if (w == 1 && rep == 0)
                        first[g][s] = v;
                    else
                        ck_assert_msg(memcmp(&v, &first[g][s], sizeof v) == 0,
                                      "n %zu grain %zu on %u workers: %.17g != %.17g", sizes[s],
                                      grains[g], w, v, first[g][s]);
                }
            }
        }
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* A non-commutative combine: the accumulator is the interval it covers; a
 * combination out of index order is detected. */
struct interval {
    size_t lo;
    size_t hi; /* [lo, hi); lo == hi: the identity */
    int bad;
};

static int
interval_fn(size_t b, size_t e, void *acc, void *ctx)
{
    struct interval *a = acc;

    (void)ctx;
    if (a->lo != a->hi || a->bad)
        a->bad = 1; /* a chunk's accumulator starts as the identity */
    a->lo = b;
    a->hi = e;
    return 0;
}

static void
interval_combine(void *acc, const void *next, void *ctx)
{
    struct interval *a = acc;
    const struct interval *nx = next;

    (void)ctx;
    if (a->hi != nx->lo || nx->bad)
        a->bad = 1;
    a->hi = nx->hi;
}

START_TEST(combination_follows_index_order)
{
    static const size_t grains[] = {0, 1, 3, 1000};
    unsigned w;
    size_t g;

    for (w = 1; w <= 4; w++) {
        wse_executor *ex = make(w);
        for (g = 0; g < 4; g++) {
            struct interval r = {0, 0, 0};
            ck_assert_int_eq(wse_reduce(ex, 10, 100010, grains[g], &r, sizeof r, interval_fn,
                                        interval_combine, NULL, NULL),
                             0);
            ck_assert_int_eq(r.bad, 0);
            ck_assert_uint_eq(r.lo, 10);
            ck_assert_uint_eq(r.hi, 100010);
        }
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

static int
failing_reduce_fn(size_t b, size_t e, void *acc, void *ctx)
{
    (void)acc;
    (void)ctx;
    return b <= 5000 && 5000 < e ? EDOM : 0;
}

START_TEST(a_failed_reduction_leaves_the_result_untouched)
{
    wse_executor *ex = make(2);
    double acc = 42.0;
    wse_future *f;
    struct polling p = {0};

    ck_assert_int_eq(
        wse_reduce(ex, 0, 10000, 10, &acc, sizeof acc, failing_reduce_fn, sum_combine, NULL, NULL),
        EDOM);
    ck_assert(acc == 42.0);
    ck_assert_int_eq(
        wse_reduce(ex, 0, 10000, 0, &acc, sizeof acc, failing_reduce_fn, sum_combine, NULL, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(f), EDOM);
    ck_assert(acc == 42.0);
    wse_future_release(f);
    (void)p;
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static Suite *
loops_suite(void)
{
    Suite *s = suite_create("loops");
    TCase *tc = tcase_create("for");
    TCase *tr = tcase_create("reduce");

    tcase_set_timeout(tc, WSE_TEST_TIMEOUT * 4);
    tcase_set_timeout(tr, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(tc, chunks_cover_the_range_once);
    tcase_add_test(tc, a_range_at_the_top_of_size_t);
    tcase_add_test(tc, an_empty_range_runs_nothing);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, the_first_failure_stops_the_loop);
    tcase_add_test(tc, a_failure_stops_running_chunks);
    tcase_add_test(tc, ecanceled_without_a_stop_is_a_failure);
    tcase_add_test(tc, request_stop_cancels_the_loop);
    tcase_add_test(tc, cancel_while_pending_runs_nothing);
    tcase_add_test(tc, shutdown_cancel_pending_ends_a_queued_loop);
    tcase_add_test(tc, a_stopped_task_stops_its_loop);
    tcase_add_test(tc, tasks_submitted_from_a_chunk_are_the_loops_children);
    tcase_add_loop_test(tc, a_plain_callers_loop_gets_a_worker, 0, 2);
    tcase_add_test(tc, plain_threads_loop_at_once);
    tcase_add_test(tc, a_cheap_loop_runs_on_its_caller_alone);
    tcase_add_test(tc, the_loops_future_composes_with_waits);
    tcase_add_test(tc, loops_nest);
    tcase_add_test(tr, double_sums_are_bit_identical_on_any_executor);
    tcase_add_test(tr, combination_follows_index_order);
    tcase_add_test(tr, a_failed_reduction_leaves_the_result_untouched);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tr);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(loops_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Check suite for wse_submit_after(): a task that runs once every dependency is
 * done (in any final state), PENDING until then; dependencies from any executor
 * and promises, repeated; where the task is queued; errors; cancel and shutdown of
 * a waiting task; long chains and wide fan-in; and races between the last
 * dependency completing and a cancel or a shutdown.
 */
#include "wse_test.h"

#define V(x) ((void *)(uintptr_t)(x))

static int freed;

static void
count_free(void *v)
{
    (void)v;
    counter_add(&freed, 1);
}

static void
cb_count(wse_future *f, void *arg)
{
    (void)f;
    counter_add(arg, 1);
}

/* Inspect the dependencies: every one must be done; the result is the sum of
 * their states plus 10 * the sum of their values. */
struct inspect {
    wse_future **deps;
    size_t n;
    int ran;
};

static int
task_inspect(void *arg, void **result)
{
    struct inspect *in = arg;
    uintptr_t sum = 0;
    counter_add(&in->ran, 1);
    for (size_t i = 0; i < in->n; i++) {
        if (!wse_future_done(in->deps[i]))
            return EPROTO;
        sum += (uintptr_t)wse_future_state(in->deps[i]);
        sum += 10 * (uintptr_t)wse_future_value(in->deps[i]);
    }
    *result = (void *)sum;
    return 0;
}

START_TEST(after_zero_deps_is_submit)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *f = SENTINEL;
    ck_assert_int_eq(wse_submit_after(ex, NULL, 0, task_value, V(5), &f), 0);
    ck_assert_ptr_ne(f, SENTINEL);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(f), V(5));
    wse_future_release(f);
    /* A non-NULL deps array with n 0, and out NULL. */
    int ran = 0;
    wse_future *dummy[1] = {NULL};
    ck_assert_int_eq(wse_submit_after(ex, dummy, 0, task_count, &ran, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 1);
}
END_TEST

START_TEST(after_runs_after_deps_in_every_state)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_executor *ex = make_executor_any(2);
    wse_future *done = make_done(ex, V(3));
    wse_future *failed = make_failed(ex, EIO);
    wse_future *cancelled = make_pending(&b, &ran);
    wse_future *pending = make_pending(&b, &ran);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *deps[5] = {done, failed, cancelled, pending, p};
    struct inspect in = {deps, 5, 0};
    wse_future *t = SENTINEL;
    /* Runs on ex; its deps are on ex, on b's executor, and a promise. */
    ck_assert_int_eq(wse_submit_after(ex, deps, 5, task_inspect, &in, &t), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    ck_assert(wse_future_cancel(cancelled));
    usleep(2000);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0);
    usleep(2000);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    ck_assert_int_eq(counter_get(&in.ran), 0);
    blocked_release(&b); /* pending runs: DONE, the last dep */
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(t), 0);
    ck_assert_int_eq(counter_get(&in.ran), 1);
    uintptr_t want = WSE_DONE + WSE_FAILED + WSE_CANCELLED + WSE_DONE + WSE_DONE + 10 * (3 + 1);
    ck_assert_ptr_eq(wse_future_value(t), (void *)want);
    blocked_finish(&b);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(t);
    for (int i = 0; i < 5; i++)
        wse_future_release(deps[i]);
}
END_TEST

START_TEST(after_all_deps_already_done)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *d1 = make_done(ex, V(1));
    wse_future *d2 = make_failed(ex, EPERM);
    wse_future *deps[2] = {d1, d2};
    struct inspect in = {deps, 2, 0};
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(ex, deps, 2, task_inspect, &in, &t), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_ptr_eq(wse_future_value(t), (void *)(uintptr_t)(WSE_DONE + WSE_FAILED + 10));
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(d1);
    wse_future_release(d2);
}
END_TEST

START_TEST(after_repeated_deps_and_release_at_once)
{
    wse_executor *ex = make_executor_any(2);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    wse_future *deps[4] = {p, p, p, p};
    int ran = 0;
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(ex, deps, 4, task_count, &ran, &t), 0);
    /* The library holds its own references: ours goes now. The pointer stays
     * valid until the task is queued, which only our set can cause. */
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(counter_get(&ran), 1);
    ck_assert_int_eq(wse_future_state(t), WSE_DONE);
    /* The library dropped its references when it queued the task. */
    ck_assert_int_eq(counter_get(&freed), 1);
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(after_task_deps_released_at_once)
{
    struct blocked b;
    blocked_start(&b, 1);
    wse_executor *ex = make_executor_any(1);
    int ran = 0;
    wse_future *deps[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_submit(b.ex, task_value, V(i + 1), &deps[i]), 0);
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(ex, deps, 3, task_count, &ran, &t), 0);
    release_all(deps, 3);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(counter_get(&ran), 1);
    blocked_finish(&b);
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Where the task is queued ------------------------------------------------- */

/* One worker. order[] records the order in which tasks ran. */
static int order_n;
static int order[8];

static int
task_record(void *arg, void **result)
{
    (void)result;
    int i = counter_add(&order_n, 1) - 1;
    if (i < 8)
        order[i] = (int)(intptr_t)arg;
    *result = V(wse_worker_index() + 100);
    return 0;
}

struct parent_ctx {
    wse_executor *ex;
    wse_future *p;
    wse_future *dependent;
    wse_future *sibling;
};

/* On the worker: submit a sibling (own deque), then a dependent on a promise,
 * then complete the promise here. The dependent goes on this worker's own deque,
 * above the sibling: LIFO runs it first. */
static int
task_parent_sets(void *arg, void **result)
{
    struct parent_ctx *c = arg;
    (void)result;
    int rc = wse_submit(c->ex, task_record, V(1), &c->sibling);
    if (rc != 0)
        return rc;
    wse_future *deps[1] = {c->p};
    rc = wse_submit_after(c->ex, deps, 1, task_record, V(2), &c->dependent);
    if (rc != 0)
        return rc;
    return wse_promise_set_value(c->p, NULL);
}

START_TEST(after_queued_on_completing_workers_deque)
{
    wse_executor *ex = make_executor(1);
    struct parent_ctx c = {.ex = ex};
    ck_assert_int_eq(wse_promise_create(&c.p, NULL), 0);
    wse_future *t;
    ck_assert_int_eq(wse_submit(ex, task_parent_sets, &c, &t), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(t), 0);
    ck_assert_int_eq(wse_future_wait(c.dependent, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_wait(c.sibling, WSE_FOREVER), 0);
    ck_assert_int_eq(counter_get(&order_n), 2);
    ck_assert_int_eq(order[0], 2); /* the dependent: on top of the own deque */
    ck_assert_int_eq(order[1], 1);
    ck_assert_ptr_eq(wse_future_value(c.dependent), V(100));
    wse_future_release(t);
    wse_future_release(c.dependent);
    wse_future_release(c.sibling);
    wse_future_release(c.p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(after_queued_on_injection_queue_from_plain_thread)
{
    /* Completed by a plain thread: the injection queue, FIFO behind a task
     * submitted before. */
    struct blocked b;
    blocked_start(&b, 1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *deps[1] = {p};
    wse_future *dependent, *first;
    ck_assert_int_eq(wse_submit_after(b.ex, deps, 1, task_record, V(2), &dependent), 0);
    ck_assert_int_eq(wse_submit(b.ex, task_record, V(1), &first), 0);
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(dependent, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_wait(first, WSE_FOREVER), 0);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 2);
    blocked_finish(&b);
    wse_future_release(dependent);
    wse_future_release(first);
    wse_future_release(p);
}
END_TEST

/* ---- Errors ------------------------------------------------------------------- */

START_TEST(after_einval)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *deps[2] = {p, NULL};
    wse_future *out = SENTINEL;
    int ran = 0;
    ck_assert_int_eq(wse_submit_after(NULL, deps, 1, task_count, &ran, &out), EINVAL);
    ck_assert_int_eq(wse_submit_after(NULL, NULL, 0, task_count, &ran, &out), EINVAL);
    ck_assert_int_eq(wse_submit_after(ex, deps, 1, NULL, &ran, &out), EINVAL);
    ck_assert_int_eq(wse_submit_after(ex, NULL, 0, NULL, &ran, &out), EINVAL);
    ck_assert_int_eq(wse_submit_after(ex, NULL, 1, task_count, &ran, &out), EINVAL);
    ck_assert_int_eq(wse_submit_after(ex, deps, 2, task_count, &ran, &out), EINVAL);
    wse_future *nulls[1] = {NULL};
    ck_assert_int_eq(wse_submit_after(ex, nulls, 1, task_count, &ran, &out), EINVAL);
    ck_assert_ptr_eq(out, SENTINEL);
    /* Nothing was linked on p: completing it runs nothing. */
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(p);
}
END_TEST

START_TEST(after_eshutdown)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_shutdown(ex, false, false), 0);
    wse_future *deps[1] = {p};
    wse_future *out = SENTINEL;
    int ran = 0;
    ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_count, &ran, &out), ESHUTDOWN);
    ck_assert_ptr_eq(out, SENTINEL);
    ck_assert_int_eq(wse_submit_after(ex, NULL, 0, task_count, &ran, &out), ESHUTDOWN);
    ck_assert_ptr_eq(out, SENTINEL);
    /* No reference kept on p: our release frees it (and the value). */
    ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 1);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
}
END_TEST

/* ---- Cancel and shutdown ---------------------------------------------------------- */

START_TEST(after_cancel_pending_dependent_releases_deps)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *p1, *p2;
    ck_assert_int_eq(wse_promise_create(&p1, count_free), 0);
    ck_assert_int_eq(wse_promise_create(&p2, count_free), 0);
    ck_assert_int_eq(wse_promise_set_value(p1, V(1)), 0);
    wse_future *deps[3] = {p1, p2, p2};
    int ran = 0;
    int cbs = 0;
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(ex, deps, 3, task_count, &ran, &t), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    ck_assert_int_eq(wse_future_on_done(t, cb_count, &cbs), 0);
    ck_assert(wse_future_cancel(t));
    ck_assert_int_eq(wse_future_state(t), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_error(t), ECANCELED);
    ck_assert(!wse_future_cancel(t));
    ck_assert_int_eq(counter_get(&cbs), 1);
    /* The library let go of p1 at once. */
    wse_future_release(p1);
    ck_assert_int_eq(counter_get(&freed), 1);
    /* p2 completing later runs nothing. */
    ck_assert_int_eq(wse_promise_set_value(p2, V(2)), 0);
    wse_future_release(p2);
    ck_assert_int_eq(counter_get(&freed), 2);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(t);
}
END_TEST

START_TEST(after_request_stop_pending_dependent)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *deps[1] = {p};
    int ran = 0;
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_count, &ran, &t), 0);
    ck_assert(wse_future_request_stop(t));
    ck_assert_int_eq(wse_future_state(t), WSE_CANCELLED);
    /* A promise never set and the dependent cancelled: destroy returns. */
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(t);
    wse_future_release(p);
}
END_TEST

/*
 * A dependent whose dependencies completed is queued, then cancelled before a
 * worker starts it (the worker is held by a gate), after the caller released the
 * dependencies: the library must not touch them again.
 */
START_TEST(after_cancel_after_queued_deps_gone)
{
    struct blocked b;
    blocked_start(&b, 1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    wse_future *deps[1] = {p};
    int ran = 0;
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(b.ex, deps, 1, task_count, &ran, &t), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0); /* queues t */
    wse_future_release(p);                               /* p is freed now */
    ck_assert_int_eq(counter_get(&freed), 1);
    ck_assert(wse_future_cancel(t)); /* t still queued */
    ck_assert_int_eq(wse_future_state(t), WSE_CANCELLED);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(t);
}
END_TEST

START_TEST(after_shutdown_cancel_after_queued_deps_gone)
{
    struct blocked b;
    blocked_start(&b, 1);
    wse_executor *other = make_executor(1);
    wse_future *d;
    ck_assert_int_eq(wse_submit(other, task_value, V(1), &d), 0);
    ck_assert_int_eq(wse_future_wait(d, WSE_FOREVER), 0);
    wse_future *deps[1] = {d};
    int ran = 0;
    wse_future *t;
    /* d is done: t is queued at once, behind the gate. */
    ck_assert_int_eq(wse_submit_after(b.ex, deps, 1, task_count, &ran, &t), 0);
    wse_future_release(d);
    ck_assert_int_eq(wse_executor_destroy(other), 0);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_CANCELLED);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(t);
}
END_TEST

START_TEST(after_shutdown_cancel_pending_cancels_waiting)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *deps[1] = {p};
    int ran = 0;
    int cbs = 0;
    wse_future *t[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_count, &ran, &t[i]), 0);
        ck_assert_int_eq(wse_future_on_done(t[i], cb_count, &cbs), 0);
    }
    ck_assert_int_eq(wse_shutdown(ex, true, true), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(wse_future_state(t[i]), WSE_CANCELLED);
    }
    ck_assert_int_eq(counter_get(&cbs), 4);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    /* Setting p after all that runs nothing. */
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(t, 4);
    wse_future_release(p);
}
END_TEST

struct delayed_set {
    pthread_t thread;
    wse_future *p;
    unsigned usec;
};

static void *
delayed_set_main(void *arg)
{
    struct delayed_set *d = arg;
    usleep(d->usec);
    (void)wse_promise_set_value(d->p, V(1));
    return NULL;
}

START_TEST(after_destroy_waits_for_dependent)
{
    for (int mode = 0; mode < 2; mode++) {
        wse_executor *ex = make_executor_any(1);
        wse_future *p;
        ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
        wse_future *deps[1] = {p};
        int ran = 0;
        wse_future *t;
        ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_count, &ran, &t), 0);
        struct delayed_set d = {.p = p, .usec = 50000};
        ck_assert_int_eq(pthread_create(&d.thread, NULL, delayed_set_main, &d), 0);
        if (mode == 0)
            ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
        else
            ck_assert_int_eq(wse_executor_destroy(ex), 0);
        ck_assert_int_eq(wse_future_state(t), WSE_DONE);
        ck_assert_int_eq(counter_get(&ran), 1);
        if (mode == 0)
            ck_assert_int_eq(wse_executor_destroy(ex), 0);
        ck_assert_int_eq(pthread_join(d.thread, NULL), 0);
        wse_future_release(t);
        wse_future_release(p);
    }
}
END_TEST

/* ---- Scale --------------------------------------------------------------------- */

static int
task_chain_check(void *arg, void **result)
{
    /* The previous link must be done. */
    wse_future *prev = arg;
    if (prev != NULL && !wse_future_done(prev))
        return EPROTO;
    *result = V(1);
    return 0;
}

START_TEST(after_long_chain)
{
    long n = env_long("WSE_AFTER_CHAIN", 100000);
    wse_executor *ex = make_executor_any(2);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future **f = malloc((size_t)n * sizeof(*f));
    ck_assert_ptr_nonnull(f);
    wse_future *prev = p;
    for (long i = 0; i < n; i++) {
        wse_future *deps[1] = {prev};
        ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_chain_check, prev, &f[i]), 0);
        prev = f[i];
    }
    ck_assert_int_eq(wse_future_state(f[n - 1]), WSE_PENDING);
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    ck_assert_int_eq(wse_future_wait(f[n - 1], WSE_FOREVER), 0);
    for (long i = 0; i < n; i++) {
        ck_assert_int_eq(wse_future_state(f[i]), WSE_DONE);
        wse_future_release(f[i]);
    }
    free(f);
    wse_future_release(p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(after_long_chain_cancelled_head)
{
    /* Cancelling the head of a chain: every link still runs (a CANCELLED dep
     * is done), one after the other. */
    long n = env_long("WSE_AFTER_CHAIN", 100000);
    wse_executor *ex = make_executor_any(2);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *prev = p;
    wse_future *last = NULL;
    for (long i = 0; i < n; i++) {
        wse_future *deps[1] = {prev};
        wse_future *f;
        ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_value, NULL, &f), 0);
        if (prev != p)
            wse_future_release(prev);
        prev = f;
    }
    last = prev;
    ck_assert(wse_future_cancel(p));
    ck_assert_int_eq(wse_future_wait(last, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(last), WSE_DONE);
    wse_future_release(last);
    wse_future_release(p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(after_wide_fan_in)
{
    long n = env_long("WSE_AFTER_FANIN", 100000);
    wse_executor *ex = make_executor_any(2);
    wse_future **deps = malloc((size_t)n * sizeof(*deps));
    ck_assert_ptr_nonnull(deps);
    for (long i = 0; i < n; i++)
        ck_assert_int_eq(wse_promise_create(&deps[i], NULL), 0);
    int ran = 0;
    wse_future *t;
    ck_assert_int_eq(wse_submit_after(ex, deps, (size_t)n, task_count, &ran, &t), 0);
    for (long i = 0; i < n - 1; i++)
        ck_assert_int_eq(wse_promise_set_value(deps[i], NULL), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_PENDING);
    ck_assert_int_eq(wse_promise_set_error(deps[n - 1], EIO), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(counter_get(&ran), 1);
    /* A second one, cancelled while waiting on half of them. */
    wse_future **more = malloc((size_t)n * sizeof(*more));
    ck_assert_ptr_nonnull(more);
    for (long i = 0; i < n; i++) {
        ck_assert_int_eq(wse_promise_create(&more[i], NULL), 0);
        if (i % 2)
            ck_assert_int_eq(wse_promise_set_value(more[i], NULL), 0);
    }
    wse_future *u;
    ck_assert_int_eq(wse_submit_after(ex, more, (size_t)n, task_count, &ran, &u), 0);
    ck_assert(wse_future_cancel(u));
    release_all(more, (size_t)n);
    free(more);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 1);
    wse_future_release(t);
    wse_future_release(u);
    release_all(deps, (size_t)n);
    free(deps);
}
END_TEST

/* ---- Races ------------------------------------------------------------------------ */

struct race {
    pthread_t thread;
    wse_future *p;
    int *go;
};

static void *
race_set_main(void *arg)
{
    struct race *r = arg;
    while (!flag_get(r->go))
        ;
    (void)wse_promise_set_value(r->p, V(1));
    return NULL;
}

START_TEST(after_race_last_dep_vs_cancel)
{
    long rounds = env_long("WSE_AFTER_ROUNDS", 2000);
    wse_executor *ex = make_executor_any(2);
    int ran = 0;
    int cancelled = 0;
    for (long k = 0; k < rounds; k++) {
        wse_future *p, *q;
        ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
        ck_assert_int_eq(wse_promise_create(&q, count_free), 0);
        ck_assert_int_eq(wse_promise_set_value(q, V(2)), 0);
        wse_future *deps[2] = {q, p};
        wse_future *t;
        ck_assert_int_eq(wse_submit_after(ex, deps, 2, task_count, &ran, &t), 0);
        wse_future_release(q);
        int go = 0;
        struct race r = {.p = p, .go = &go};
        ck_assert_int_eq(pthread_create(&r.thread, NULL, race_set_main, &r), 0);
        flag_set(&go);
        bool c = wse_future_cancel(t);
        ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
        wse_future_release(p);
        ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
        if (c) {
            cancelled++;
            ck_assert_int_eq(wse_future_state(t), WSE_CANCELLED);
        } else {
            ck_assert_int_eq(wse_future_state(t), WSE_DONE);
        }
        wse_future_release(t);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran) + cancelled, (int)rounds);
    ck_assert_int_eq(counter_get(&freed), (int)(2 * rounds));
}
END_TEST

START_TEST(after_race_last_dep_vs_shutdown_cancel)
{
    long rounds = env_long("WSE_AFTER_ROUNDS", 500);
    for (long k = 0; k < rounds; k++) {
        wse_executor *ex = make_executor_any(2);
        int ran = 0;
        wse_future *p;
        ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
        wse_future *deps[1] = {p};
        wse_future *t[3];
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(wse_submit_after(ex, deps, 1, task_count, &ran, &t[i]), 0);
        int go = 0;
        struct race r = {.p = p, .go = &go};
        ck_assert_int_eq(pthread_create(&r.thread, NULL, race_set_main, &r), 0);
        flag_set(&go);
        ck_assert_int_eq(wse_shutdown(ex, false, true), 0);
        ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
        wse_future_release(p);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
        int n_cancelled = 0;
        for (int i = 0; i < 3; i++) {
            wse_state s = wse_future_state(t[i]);
            ck_assert_msg(s == WSE_DONE || s == WSE_CANCELLED, "state %d", (int)s);
            n_cancelled += s == WSE_CANCELLED;
        }
        ck_assert_int_eq(counter_get(&ran) + n_cancelled, 3);
        release_all(t, 3);
    }
    ck_assert_int_eq(counter_get(&freed), (int)rounds);
}
END_TEST

static Suite *
after_suite(void)
{
    Suite *s = suite_create("after");
    TCase *tc = tcase_create("after");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, after_zero_deps_is_submit);
    tcase_add_test(tc, after_runs_after_deps_in_every_state);
    tcase_add_test(tc, after_all_deps_already_done);
    tcase_add_test(tc, after_repeated_deps_and_release_at_once);
    tcase_add_test(tc, after_task_deps_released_at_once);
    tcase_add_test(tc, after_queued_on_completing_workers_deque);
    tcase_add_test(tc, after_queued_on_injection_queue_from_plain_thread);
    tcase_add_test(tc, after_einval);
    tcase_add_test(tc, after_eshutdown);
    tcase_add_test(tc, after_cancel_pending_dependent_releases_deps);
    tcase_add_test(tc, after_request_stop_pending_dependent);
    tcase_add_test(tc, after_cancel_after_queued_deps_gone);
    tcase_add_test(tc, after_shutdown_cancel_after_queued_deps_gone);
    tcase_add_test(tc, after_shutdown_cancel_pending_cancels_waiting);
    tcase_add_test(tc, after_destroy_waits_for_dependent);
    suite_add_tcase(s, tc);
    TCase *big = tcase_create("scale");
    tcase_set_timeout(big, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(big, after_long_chain);
    tcase_add_test(big, after_long_chain_cancelled_head);
    tcase_add_test(big, after_wide_fan_in);
    tcase_add_test(big, after_race_last_dep_vs_cancel);
    tcase_add_test(big, after_race_last_dep_vs_shutdown_cancel);
    suite_add_tcase(s, big);
    return s;
}

int
main(void)
{
    return run_suite(after_suite());
}

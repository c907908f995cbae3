/*
 * Check suite for promises: futures with no task that the program completes with
 * wse_promise_set_value() / wse_promise_set_error(). Creation and its errors, the
 * one-winner rule (EALREADY, the losing value still the caller's), who frees the
 * value (exactly once, only for DONE with a non-NULL value), waking waiters and
 * running callbacks from any thread, mixing promises with task futures in
 * wse_wait(), and promises outliving executors.
 */
#include "wse_test.h"

/* Counts calls of free_value, and remembers the last value freed. */
static int freed;
static void *freed_last;

static void
count_free(void *v)
{
    counter_add(&freed, 1);
    __atomic_store_n(&freed_last, v, __ATOMIC_SEQ_CST);
}

#define V(x) ((void *)(uintptr_t)(x))

/* ---- Create and states -------------------------------------------------------- */

START_TEST(promise_create_einval_out_null)
{
    ck_assert_int_eq(wse_promise_create(NULL, NULL), EINVAL);
    ck_assert_int_eq(wse_promise_create(NULL, count_free), EINVAL);
    ck_assert_int_eq(counter_get(&freed), 0);
}
END_TEST

START_TEST(promise_create_pending)
{
    wse_future *p = SENTINEL;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_ptr_ne(p, SENTINEL);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(wse_future_state(p), WSE_PENDING);
    ck_assert(!wse_future_done(p));
    ck_assert_ptr_null(wse_future_value(p));
    ck_assert_int_eq(wse_future_error(p), 0);
    ck_assert_int_eq(wse_future_wait(p, 0), ETIMEDOUT);
    wse_future_release(p);
}
END_TEST

START_TEST(promise_set_value_done)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(42)), 0);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    ck_assert(wse_future_done(p));
    ck_assert_ptr_eq(wse_future_value(p), V(42));
    ck_assert_int_eq(wse_future_error(p), 0);
    ck_assert_int_eq(wse_future_wait(p, 0), 0);
    ck_assert_int_eq(counter_get(&freed), 0);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 1);
    ck_assert_ptr_eq(freed_last, V(42));
}
END_TEST

START_TEST(promise_set_error_failed)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_promise_set_error(p, EIO), 0);
    ck_assert_int_eq(wse_future_state(p), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(p), EIO);
    ck_assert_ptr_null(wse_future_value(p));
    /* Any nonzero code, negative too. */
    wse_future *q;
    ck_assert_int_eq(wse_promise_create(&q, count_free), 0);
    ck_assert_int_eq(wse_promise_set_error(q, -3), 0);
    ck_assert_int_eq(wse_future_error(q), -3);
    /* ECANCELED set by the program is a failure like any other. */
    wse_future *r;
    ck_assert_int_eq(wse_promise_create(&r, count_free), 0);
    ck_assert_int_eq(wse_promise_set_error(r, ECANCELED), 0);
    ck_assert_int_eq(wse_future_state(r), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(r), ECANCELED);
    wse_future_release(p);
    wse_future_release(q);
    wse_future_release(r);
    ck_assert_int_eq(counter_get(&freed), 0); /* FAILED: no value to free */
}
END_TEST

START_TEST(promise_set_error_zero_einval_any_state)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_int_eq(wse_promise_set_error(p, 0), EINVAL);
    ck_assert_int_eq(wse_future_state(p), WSE_PENDING);
    ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0);
    /* Done: still EINVAL (checked first), not EALREADY. */
    ck_assert_int_eq(wse_promise_set_error(p, 0), EINVAL);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(p), V(1));
    wse_future_release(p);
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert(wse_future_cancel(p));
    ck_assert_int_eq(wse_promise_set_error(p, 0), EINVAL);
    wse_future_release(p);
}
END_TEST

START_TEST(promise_set_null_einval)
{
    ck_assert_int_eq(wse_promise_set_value(NULL, V(1)), EINVAL);
    ck_assert_int_eq(wse_promise_set_value(NULL, NULL), EINVAL);
    ck_assert_int_eq(wse_promise_set_error(NULL, EIO), EINVAL);
    ck_assert_int_eq(wse_promise_set_error(NULL, 0), EINVAL);
}
END_TEST

START_TEST(promise_second_set_ealready_value_not_freed)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(2)), EALREADY);
    ck_assert_int_eq(wse_promise_set_error(p, EIO), EALREADY);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(p), V(1));
    ck_assert_int_eq(counter_get(&freed), 0);
    wse_future_release(p);
    /* Only the winner's value is freed. */
    ck_assert_int_eq(counter_get(&freed), 1);
    ck_assert_ptr_eq(freed_last, V(1));

    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_promise_set_error(p, EIO), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(3)), EALREADY);
    ck_assert_int_eq(wse_promise_set_error(p, EPERM), EALREADY);
    ck_assert_int_eq(wse_future_state(p), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(p), EIO);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 1);
}
END_TEST

START_TEST(promise_cancel_then_set_ealready)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert(wse_future_cancel(p));
    ck_assert_int_eq(wse_future_state(p), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_error(p), ECANCELED);
    ck_assert(!wse_future_cancel(p));
    ck_assert_int_eq(wse_promise_set_value(p, V(5)), EALREADY);
    ck_assert_int_eq(wse_promise_set_error(p, EIO), EALREADY);
    ck_assert_int_eq(wse_future_state(p), WSE_CANCELLED);
    ck_assert_ptr_null(wse_future_value(p));
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 0); /* CANCELLED: nothing freed */
}
END_TEST

START_TEST(promise_request_stop_pending_cancels)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert(wse_future_request_stop(p));
    ck_assert_int_eq(wse_future_state(p), WSE_CANCELLED);
    ck_assert(!wse_future_request_stop(p));
    ck_assert_int_eq(wse_promise_set_value(p, V(5)), EALREADY);
    wse_future_release(p);
    /* A done promise: request_stop is false and changes nothing. */
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(6)), 0);
    ck_assert(!wse_future_request_stop(p));
    ck_assert(!wse_future_cancel(p));
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(p), V(6));
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 1);
}
END_TEST

START_TEST(promise_set_on_task_future_einval)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *pending = make_pending(&b, &ran);
    /* Pending, running and done task futures alike. */
    ck_assert_int_eq(wse_promise_set_value(pending, V(1)), EINVAL);
    ck_assert_int_eq(wse_promise_set_error(pending, EIO), EINVAL);
    ck_assert_int_eq(wse_promise_set_value(b.gate_f[0], V(1)), EINVAL);
    ck_assert_int_eq(wse_future_state(pending), WSE_PENDING);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    blocked_finish(&b);
    ck_assert_int_eq(wse_promise_set_value(pending, V(1)), EINVAL);
    ck_assert_int_eq(wse_promise_set_error(pending, EIO), EINVAL);
    ck_assert_int_eq(wse_future_state(pending), WSE_DONE);
    ck_assert_ptr_null(wse_future_value(pending));
    ck_assert_int_eq(counter_get(&ran), 1);
    wse_future_release(pending);
}
END_TEST

START_TEST(promise_free_value_rules)
{
    wse_future *p;
    /* NULL value: not freed. */
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 0);
    /* Never set: not freed. */
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 0);
    /* NULL free_value: nothing called (a real heap value the test frees). */
    void *heap = malloc(16);
    ck_assert_ptr_nonnull(heap);
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_int_eq(wse_promise_set_value(p, heap), 0);
    wse_future_release(p);
    free(heap);
    /* Several references: freed once, at the last release. */
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    wse_future_retain(p);
    wse_future_retain(p);
    ck_assert_int_eq(wse_promise_set_value(p, V(9)), 0);
    wse_future_release(p);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 0);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 1);
    /* free() itself as free_value: LeakSanitizer sees a leak if it is not called. */
    ck_assert_int_eq(wse_promise_create(&p, free), 0);
    ck_assert_int_eq(wse_promise_set_value(p, malloc(32)), 0);
    wse_future_release(p);
}
END_TEST

/* ---- Waking waiters and running callbacks ----------------------------------- */

struct setter {
    pthread_t thread;
    wse_future *p;
    unsigned usec;
    void *value;
    int error;
    int rc;
};

static void *
setter_main(void *arg)
{
    struct setter *s = arg;
    if (s->usec)
        usleep(s->usec);
    int rc =
        s->error ? wse_promise_set_error(s->p, s->error) : wse_promise_set_value(s->p, s->value);
    __atomic_store_n(&s->rc, rc, __ATOMIC_SEQ_CST);
    return NULL;
}

static void
setter_start(struct setter *s, wse_future *p, unsigned usec, void *value, int error)
{
    s->p = p;
    s->usec = usec;
    s->value = value;
    s->error = error;
    s->rc = -1;
    ck_assert_int_eq(pthread_create(&s->thread, NULL, setter_main, s), 0);
}

static int
setter_join(struct setter *s)
{
    ck_assert_int_eq(pthread_join(s->thread, NULL), 0);
    return __atomic_load_n(&s->rc, __ATOMIC_SEQ_CST);
}

static void
cb_count(wse_future *f, void *arg)
{
    (void)f;
    counter_add(arg, 1);
}

START_TEST(promise_wakes_waiter_from_plain_thread)
{
    wse_future *p;
    int cbs = 0;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_int_eq(wse_future_on_done(p, cb_count, &cbs), 0);
    ck_assert_int_eq(counter_get(&cbs), 0);
    struct setter s;
    setter_start(&s, p, 20000, V(77), 0);
    ck_assert_int_eq(wse_future_wait(p, WSE_FOREVER), 0);
    ck_assert_ptr_eq(wse_future_value(p), V(77));
    ck_assert_int_eq(setter_join(&s), 0);
    ck_assert_int_eq(counter_get(&cbs), 1);
    /* wse_wait on many (waiter block) with set_error from a thread. */
    enum { N = 12 };
    wse_future *ps[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_promise_create(&ps[i], NULL), 0);
    struct setter ss;
    setter_start(&ss, ps[7], 20000, NULL, EIO);
    wse_future *out[N];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(ps, N, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], ps[7]);
    ck_assert_int_eq(setter_join(&ss), 0);
    for (int i = 0; i < N; i++)
        wse_future_cancel(ps[i]);
    release_all(ps, N);
    wse_future_release(p);
}
END_TEST

static int
task_set_promise(void *arg, void **result)
{
    (void)result;
    return wse_promise_set_value(arg, V(0x51));
}

static void
cb_record_worker(wse_future *f, void *arg)
{
    (void)f;
    __atomic_store_n((int *)arg, wse_worker_index() + 100, __ATOMIC_SEQ_CST);
}

START_TEST(promise_set_from_worker_wakes_and_runs_callbacks)
{
    wse_executor *ex = make_executor(1);
    wse_future *p;
    int where = 0;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_int_eq(wse_future_on_done(p, cb_record_worker, &where), 0);
    wse_future *t;
    ck_assert_int_eq(wse_submit(ex, task_set_promise, p, &t), 0);
    ck_assert_int_eq(wse_future_wait(p, WSE_FOREVER), 0);
    ck_assert_ptr_eq(wse_future_value(p), V(0x51));
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_DONE);
    /* The callback ran on the setting thread: worker 0. */
    ck_assert_int_eq(__atomic_load_n(&where, __ATOMIC_SEQ_CST), 100);
    wse_future_release(t);
    wse_future_release(p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A worker task waiting on a promise that a plain thread sets later: the worker
 * helps / parks, then wakes. */
static int
task_wait_promise(void *arg, void **result)
{
    int rc = wse_future_wait(arg, WSE_FOREVER);
    *result = wse_future_value(arg);
    return rc;
}

START_TEST(promise_worker_waiter_woken_by_plain_thread)
{
    wse_executor *ex = make_executor(1);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *t;
    ck_assert_int_eq(wse_submit(ex, task_wait_promise, p, &t), 0);
    struct setter s;
    setter_start(&s, p, 30000, V(3), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(t), V(3));
    ck_assert_int_eq(setter_join(&s), 0);
    wse_future_release(t);
    wse_future_release(p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A callback of one promise sets the next: a chain completed from callbacks. */
static wse_future *chain[8];
static int chain_cbs;

static void
cb_set_next(wse_future *f, void *arg)
{
    int i = (int)(intptr_t)arg;
    counter_add(&chain_cbs, 1);
    if (i + 1 < 8) {
        int rc = wse_promise_set_value(chain[i + 1], wse_future_value(f));
        if (rc != 0)
            counter_add(&chain_cbs, 1000);
        /* A second set from inside the callback loses. */
        if (wse_promise_set_value(chain[i], V(0xdead)) != EALREADY)
            counter_add(&chain_cbs, 1000);
    }
}

START_TEST(promise_set_from_inside_callback)
{
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(wse_promise_create(&chain[i], count_free), 0);
        ck_assert_int_eq(wse_future_on_done(chain[i], cb_set_next, (void *)(intptr_t)i), 0);
    }
    struct setter s;
    setter_start(&s, chain[0], 10000, V(123), 0);
    ck_assert_int_eq(wse_future_wait(chain[7], WSE_FOREVER), 0);
    ck_assert_int_eq(setter_join(&s), 0);
    ck_assert_int_eq(counter_get(&chain_cbs), 8);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(wse_future_state(chain[i]), WSE_DONE);
        ck_assert_ptr_eq(wse_future_value(chain[i]), V(123));
    }
    release_all(chain, 8);
    ck_assert_int_eq(counter_get(&freed), 8);
}
END_TEST

/* A callback that drops the owner's reference: the last one. The completing
 * call (set or cancel) must not touch the promise after its callbacks. */
static void
cb_release(wse_future *f, void *arg)
{
    counter_add(arg, 1);
    wse_future_release(f);
}

START_TEST(promise_callback_releases_last_reference)
{
    for (int how = 0; how < 3; how++) {
        wse_future *p;
        int cbs = 0;
        ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
        ck_assert_int_eq(wse_future_on_done(p, cb_count, &cbs), 0);
        ck_assert_int_eq(wse_future_on_done(p, cb_release, &cbs), 0);
        ck_assert_int_eq(wse_future_on_done(p, cb_count, &cbs), 0);
        if (how == 0)
            ck_assert_int_eq(wse_promise_set_value(p, V(1)), 0);
        else if (how == 1)
            ck_assert_int_eq(wse_promise_set_error(p, EIO), 0);
        else
            ck_assert(wse_future_cancel(p));
        ck_assert_int_eq(counter_get(&cbs), 3);
    }
    ck_assert_int_eq(counter_get(&freed), 1);
}
END_TEST

/* ---- wse_wait mixing promises and tasks ----------------------------------------- */

START_TEST(promise_wait_mixed_all_modes)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p1, *p2;
    ck_assert_int_eq(wse_promise_create(&p1, NULL), 0);
    ck_assert_int_eq(wse_promise_create(&p2, NULL), 0);
    wse_future *t = make_pending(&b, &ran);
    wse_future *fs[3] = {t, p1, p2};
    wse_future *out[3];
    size_t nd = SENTINEL_N;

    /* Nothing done. */
    ck_assert_int_eq(wse_wait(fs, 3, 0, WSE_FIRST_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 0);
    /* FIRST_COMPLETED: a promise set from another thread wins. */
    struct setter s;
    setter_start(&s, p2, 20000, V(2), 0);
    ck_assert_int_eq(wse_wait(fs, 3, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], p2);
    ck_assert_int_eq(setter_join(&s), 0);
    /* FIRST_EXCEPTION: DONE is not enough; a promise failing is. */
    ck_assert_int_eq(wse_wait(fs, 3, 0, WSE_FIRST_EXCEPTION, out, &nd), ETIMEDOUT);
    setter_start(&s, p1, 20000, NULL, EIO);
    ck_assert_int_eq(wse_wait(fs, 3, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_ptr_eq(out[0], p1);
    ck_assert_ptr_eq(out[1], p2);
    ck_assert_ptr_eq(out[2], t);
    ck_assert_int_eq(setter_join(&s), 0);
    /* ALL_COMPLETED: the task too. */
    ck_assert_int_eq(wse_wait(fs, 3, 0, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    blocked_release(&b);
    ck_assert_int_eq(wse_wait(fs, 3, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    ck_assert_int_eq(wse_future_state(t), WSE_DONE);
    blocked_finish(&b);
    wse_future_release(t);
    wse_future_release(p1);
    wse_future_release(p2);
}
END_TEST

/* A worker waits (ALL_COMPLETED) on a promise and a sibling task. */
struct mixed {
    wse_future *p;
    wse_executor *ex;
};

static int
task_wait_mixed(void *arg, void **result)
{
    struct mixed *m = arg;
    wse_future *c;
    int rc = wse_submit(m->ex, task_value, V(8), &c);
    if (rc != 0)
        return rc;
    wse_future *fs[2] = {m->p, c};
    size_t nd = 0;
    rc = wse_wait(fs, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd);
    *result = wse_future_value(c);
    wse_future_release(c);
    if (rc == 0 && nd != 2)
        rc = EPROTO;
    return rc;
}

START_TEST(promise_wait_mixed_on_worker)
{
    wse_executor *ex = make_executor(1);
    struct mixed m = {.ex = ex};
    ck_assert_int_eq(wse_promise_create(&m.p, NULL), 0);
    wse_future *t;
    ck_assert_int_eq(wse_submit(ex, task_wait_mixed, &m, &t), 0);
    struct setter s;
    setter_start(&s, m.p, 20000, V(1), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(t), 0);
    ck_assert_ptr_eq(wse_future_value(t), V(8));
    ck_assert_int_eq(setter_join(&s), 0);
    wse_future_release(t);
    wse_future_release(m.p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(promise_outlives_executor)
{
    wse_executor *ex = make_executor(2);
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
    wse_future *t;
    ck_assert_int_eq(wse_submit(ex, task_value, V(1), &t), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    /* No executor left: the promise still works, as do the wait and callbacks. */
    int cbs = 0;
    ck_assert_int_eq(wse_future_on_done(p, cb_count, &cbs), 0);
    ck_assert_int_eq(wse_promise_set_value(p, V(4)), 0);
    ck_assert_int_eq(counter_get(&cbs), 1);
    wse_future *fs[2] = {p, t};
    ck_assert_int_eq(wse_wait(fs, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    ck_assert_ptr_eq(wse_future_value(p), V(4));
    wse_future_release(t);
    wse_future_release(p);
    ck_assert_int_eq(counter_get(&freed), 1);
    /* And one created with no executor ever existing in this process part. */
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_int_eq(wse_promise_set_error(p, EPIPE), 0);
    ck_assert_int_eq(wse_future_wait(p, WSE_FOREVER), 0);
    wse_future_release(p);
}
END_TEST

/* ---- Races -------------------------------------------------------------------- */

struct racer {
    pthread_t thread;
    wse_future *p;
    int *go;
    void *value;
    int error;
    int cancel;
    int rc;
};

static void *
racer_main(void *arg)
{
    struct racer *r = arg;
    while (!flag_get(r->go))
        ;
    int rc;
    if (r->cancel)
        rc = wse_future_cancel(r->p) ? 0 : EALREADY;
    else if (r->error)
        rc = wse_promise_set_error(r->p, r->error);
    else
        rc = wse_promise_set_value(r->p, r->value);
    __atomic_store_n(&r->rc, rc, __ATOMIC_SEQ_CST);
    return NULL;
}

static void
race_round(struct racer r[2], wse_future *p)
{
    int go = 0;
    for (int i = 0; i < 2; i++) {
        r[i].p = p;
        r[i].go = &go;
        r[i].rc = -1;
        ck_assert_int_eq(pthread_create(&r[i].thread, NULL, racer_main, &r[i]), 0);
    }
    flag_set(&go);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(r[i].thread, NULL), 0);
}

START_TEST(promise_two_setters_race)
{
    long rounds = env_long("WSE_PROMISE_ROUNDS", 2000);
    for (long k = 0; k < rounds; k++) {
        wse_future *p;
        int before = counter_get(&freed);
        ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
        int waiters_cb = 0;
        ck_assert_int_eq(wse_future_on_done(p, cb_count, &waiters_cb), 0);
        struct racer r[2] = {{.value = V(1)}, {.value = V(2), .error = (k & 1) ? EIO : 0}};
        race_round(r, p);
        ck_assert_msg((r[0].rc == 0) + (r[1].rc == 0) == 1, "rc %d %d", r[0].rc, r[1].rc);
        ck_assert((r[0].rc == EALREADY) + (r[1].rc == EALREADY) == 1);
        ck_assert_int_eq(counter_get(&waiters_cb), 1);
        if (r[0].rc == 0) {
            ck_assert_int_eq(wse_future_state(p), WSE_DONE);
            ck_assert_ptr_eq(wse_future_value(p), V(1));
        } else if (r[1].error) {
            ck_assert_int_eq(wse_future_state(p), WSE_FAILED);
            ck_assert_int_eq(wse_future_error(p), EIO);
        } else {
            ck_assert_int_eq(wse_future_state(p), WSE_DONE);
            ck_assert_ptr_eq(wse_future_value(p), V(2));
        }
        bool done_value = wse_future_state(p) == WSE_DONE;
        void *v = wse_future_value(p);
        wse_future_release(p);
        ck_assert_int_eq(counter_get(&freed), before + (done_value ? 1 : 0));
        if (done_value)
            ck_assert_ptr_eq(freed_last, v);
    }
}
END_TEST

START_TEST(promise_set_races_cancel)
{
    long rounds = env_long("WSE_PROMISE_ROUNDS", 2000);
    for (long k = 0; k < rounds; k++) {
        wse_future *p;
        int before = counter_get(&freed);
        ck_assert_int_eq(wse_promise_create(&p, count_free), 0);
        struct racer r[2] = {{.value = V(1)}, {.cancel = 1}};
        race_round(r, p);
        ck_assert_msg((r[0].rc == 0) + (r[1].rc == 0) == 1, "rc %d %d", r[0].rc, r[1].rc);
        ck_assert_int_eq(wse_future_state(p), r[0].rc == 0 ? WSE_DONE : WSE_CANCELLED);
        wse_future_release(p);
        ck_assert_int_eq(counter_get(&freed), before + (r[0].rc == 0 ? 1 : 0));
    }
}
END_TEST

static Suite *
promise_suite(void)
{
    Suite *s = suite_create("promise");
    TCase *tc = tcase_create("promise");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, promise_create_einval_out_null);
    tcase_add_test(tc, promise_create_pending);
    tcase_add_test(tc, promise_set_value_done);
    tcase_add_test(tc, promise_set_error_failed);
    tcase_add_test(tc, promise_set_error_zero_einval_any_state);
    tcase_add_test(tc, promise_set_null_einval);
    tcase_add_test(tc, promise_second_set_ealready_value_not_freed);
    tcase_add_test(tc, promise_cancel_then_set_ealready);
    tcase_add_test(tc, promise_request_stop_pending_cancels);
    tcase_add_test(tc, promise_set_on_task_future_einval);
    tcase_add_test(tc, promise_free_value_rules);
    tcase_add_test(tc, promise_wakes_waiter_from_plain_thread);
    tcase_add_test(tc, promise_set_from_worker_wakes_and_runs_callbacks);
    tcase_add_test(tc, promise_worker_waiter_woken_by_plain_thread);
    tcase_add_test(tc, promise_set_from_inside_callback);
    tcase_add_test(tc, promise_callback_releases_last_reference);
    tcase_add_test(tc, promise_wait_mixed_all_modes);
    tcase_add_test(tc, promise_wait_mixed_on_worker);
    tcase_add_test(tc, promise_outlives_executor);
    suite_add_tcase(s, tc);
    TCase *race = tcase_create("race");
    tcase_set_timeout(race, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(race, promise_two_setters_race);
    tcase_add_test(race, promise_set_races_cancel);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    return run_suite(promise_suite());
}

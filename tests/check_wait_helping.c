/*
 * Check suite: waits from inside a worker. A worker that waits helps instead of
 * blocking: it runs its own children, tasks of the injection queue and tasks it
 * steals (nested fork-join with 1, 2 and 4 workers), and its timed waits still
 * time out. A wait that could only deadlock (on the task's own future, or on an
 * enclosing task's) returns EDEADLK and touches nothing.
 */
#include "wse_test.h"

/* ---- Waiting from a worker --------------------------------------------------------- */

static int
task_fib(void *arg, void **result)
{
    long n = (long)(intptr_t)arg;
    if (n < 2) {
        *result = (void *)(intptr_t)n;
        return 0;
    }
    wse_executor *ex = wse_current();
    if (ex == NULL)
        return EPROTO;
    wse_future *f[2];
    int rc = wse_submit(ex, task_fib, (void *)(intptr_t)(n - 1), &f[0]);
    if (rc != 0)
        return rc;
    rc = wse_submit(ex, task_fib, (void *)(intptr_t)(n - 2), &f[1]);
    if (rc != 0) {
        wse_future_release(f[0]);
        return rc;
    }
    size_t nd = 0;
    rc = wse_wait(f, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd);
    if (rc == 0 && nd != 2)
        rc = EPROTO;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = wse_future_error(f[i]);
    if (rc == 0)
        *result = (void *)((intptr_t)wse_future_value(f[0]) + (intptr_t)wse_future_value(f[1]));
    wse_future_release(f[0]);
    wse_future_release(f[1]);
    return rc;
}

static void
run_fib(unsigned workers, long n, long expected)
{
    wse_executor *ex = make_executor(workers);
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_fib, (void *)(intptr_t)n, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    ck_assert_int_eq((intptr_t)wse_future_value(f), expected);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}

START_TEST(wait_nested_fib_one_worker)
{
    run_fib(1, 20, 6765);
}
END_TEST

START_TEST(wait_nested_fib_two_workers)
{
    run_fib(2, 20, 6765);
}
END_TEST

START_TEST(wait_nested_fib_four_workers)
{
    run_fib(4, 22, 17711);
}
END_TEST

/* With one worker, a task waits on a future submitted later from outside (on
 * the injection queue): the waiting worker must run it itself. */
struct helper_arg {
    wse_future *target; /* published by the test thread */
    int ready;
    int rc;
    double elapsed;
};

static int
task_wait_for_target(void *arg, void **result)
{
    struct helper_arg *h = arg;
    (void)result;
    flag_set(&h->ready);
    wse_future *t;
    while ((t = __atomic_load_n(&h->target, __ATOMIC_ACQUIRE)) == NULL)
        sched_yield();
    return wse_future_wait(t, WSE_FOREVER);
}

START_TEST(wait_in_worker_helps_injection_queue)
{
    wse_executor *ex = make_executor(1);
    struct helper_arg h = {0};
    wse_future *parent, *target;
    ck_assert_int_eq(wse_submit(ex, task_wait_for_target, &h, &parent), 0);
    spin_until_at_least(&h.ready, 1, "the parent task");
    int ran = 0;
    ck_assert_int_eq(wse_submit(ex, task_count, &ran, &target), 0);
    __atomic_store_n(&h.target, target, __ATOMIC_RELEASE);
    ck_assert_int_eq(wse_future_wait(parent, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(parent), WSE_DONE);
    ck_assert_int_eq(wse_future_state(target), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 1);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(parent);
    wse_future_release(target);
}
END_TEST

/* One worker: a task submits children and waits; the children run on the same
 * worker during the wait. */
static int
task_spawn_and_wait(void *arg, void **result)
{
    int *ran = arg;
    wse_executor *ex = wse_current();
    wse_future *f[10];
    for (int i = 0; i < 10; i++) {
        int rc = wse_submit(ex, task_count, ran, &f[i]);
        if (rc != 0)
            return rc;
    }
    size_t nd = 0;
    int rc = wse_wait(f, 10, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd);
    *result = (void *)(uintptr_t)nd;
    for (int i = 0; i < 10; i++)
        wse_future_release(f[i]);
    return rc;
}

/* Waits from a worker with a deadline: on a future that never completes (held by
 * another executor's gate), FIRST_COMPLETED times out after the deadline. */
struct timed_arg {
    wse_future *never;
    int rc;
    size_t nd;
    double elapsed;
};

static int
task_timed_wait(void *arg, void **result)
{
    struct timed_arg *t = arg;
    (void)result;
    double t0 = now_s();
    wse_future *in[1] = {t->never};
    t->rc = wse_wait(in, 1, 0.05, WSE_FIRST_COMPLETED, NULL, &t->nd);
    t->elapsed = now_s() - t0;
    return 0;
}

START_TEST(wait_in_worker_timeout)
{
    struct blocked other;
    blocked_start(&other, 1);
    wse_executor *ex = make_executor(1);
    struct timed_arg t = {.never = other.gate_f[0], .rc = -1, .nd = SENTINEL_N};
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_timed_wait, &t, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    ck_assert_int_eq(t.rc, ETIMEDOUT);
    ck_assert_uint_eq(t.nd, 0);
    ck_assert_double_ge(t.elapsed, 0.05 - 1e-6);
    ck_assert_double_lt(t.elapsed, wse_test_scale(5.0));
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
    blocked_finish(&other);
}
END_TEST

START_TEST(wait_in_worker_one_worker_runs_children)
{
    wse_executor *ex = make_executor(1);
    int ran = 0;
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_spawn_and_wait, &ran, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_ptr_eq(wse_future_value(f), (void *)(uintptr_t)10);
    ck_assert_int_eq(counter_get(&ran), 10);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}
END_TEST

/* Two workers, both busy: A pushes children on its own deque and blocks; B waits
 * (on a future that completes only when the test says so). The children can only
 * run if B's wait keeps the executor's parallelism: B does not run them itself
 * (it does not wait on them), so a spare worker takes its place and steals them. */
struct steal_help {
    int ran;
    int b_started;        /* atomic: B runs (so both workers are busy) */
    int pushed;           /* atomic: A pushed its children */
    int a_gate;           /* atomic: A may return */
    wse_future *child[3]; /* written before `pushed` */
    wse_future *release;  /* B waits on this */
    int rc_a;
    int rc_b;
};

static int
task_push_and_block(void *arg, void **result)
{
    struct steal_help *h = arg;
    (void)result;
    /* Push only once B holds the other worker: pushed earlier, a free worker could
     * steal the children before it ever picks B up. */
    while (!flag_get(&h->b_started))
        sched_yield();
    for (int i = 0; i < 3 && h->rc_a == 0; i++)
        h->rc_a = wse_submit(wse_current(), task_count, &h->ran, &h->child[i]);
    flag_set(&h->pushed);
    while (!flag_get(&h->a_gate))
        sched_yield();
    return h->rc_a;
}

static int
task_wait_release(void *arg, void **result)
{
    struct steal_help *h = arg;
    (void)result;
    flag_set(&h->b_started);
    while (!flag_get(&h->pushed))
        sched_yield();
    h->rc_b = wse_future_wait(h->release, wse_test_scale(30.0));
    return 0;
}

START_TEST(wait_in_worker_helps_by_stealing)
{
    struct blocked other;
    blocked_start(&other, 1);
    wse_executor *ex = make_executor(2);
    struct steal_help h = {.release = other.gate_f[0], .rc_b = -1};
    wse_future *a, *bf;
    ck_assert_int_eq(wse_submit(ex, task_push_and_block, &h, &a), 0);
    ck_assert_int_eq(wse_submit(ex, task_wait_release, &h, &bf), 0);
    spin_until_at_least(&h.pushed, 1, "the children");
    ck_assert_int_eq(h.rc_a, 0);
    ck_assert_int_eq(wse_wait(h.child, 3, wse_test_scale(10.0), WSE_ALL_COMPLETED, NULL, NULL), 0);
    ck_assert_int_eq(counter_get(&h.ran), 3);
    ck_assert_int_eq(wse_future_state(a), WSE_RUNNING);
    ck_assert_int_eq(wse_future_state(bf), WSE_RUNNING);
    blocked_release(&other);
    ck_assert_int_eq(wse_future_wait(bf, WSE_FOREVER), 0);
    ck_assert_int_eq(h.rc_b, 0);
    flag_set(&h.a_gate);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(wse_future_state(a), WSE_DONE);
    wse_future_release(a);
    wse_future_release(bf);
    release_all(h.child, 3);
    blocked_finish(&other);
}
END_TEST

/* ---- EDEADLK ----------------------------------------------------------------------- */

struct self_arg {
    wse_future *self;  /* the task's own future, published by the test */
    wse_future *other; /* a done future */
    int rc_future_wait;
    int rc_wait_all_self;
    int rc_wait_all_mixed;
    int rc_wait_first_mixed;
    size_t nd_first;
    wse_future *out[2];
    size_t nd;
};

static int
task_wait_self(void *arg, void **result)
{
    struct self_arg *s = arg;
    (void)result;
    wse_future *self;
    while ((self = __atomic_load_n(&s->self, __ATOMIC_ACQUIRE)) == NULL)
        sched_yield();
    s->rc_future_wait = wse_future_wait(self, WSE_FOREVER);
    wse_future *one[1] = {self};
    s->rc_wait_all_self = wse_wait(one, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
    wse_future *two[2] = {s->other, self};
    s->rc_wait_all_mixed = wse_wait(two, 2, WSE_FOREVER, WSE_ALL_COMPLETED, s->out, &s->nd);
    /* FIRST_COMPLETED with a done future holds at once: no deadlock to report. */
    wse_future *out2[2];
    s->rc_wait_first_mixed = wse_wait(two, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out2, &s->nd_first);
    return 0;
}

START_TEST(wait_own_future_edeadlk)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        wse_executor *ex = make_executor(workers);
        struct self_arg s = {0};
        s.other = make_done(ex, NULL);
        s.out[0] = s.out[1] = SENTINEL;
        s.nd = SENTINEL_N;
        wse_future *f;
        ck_assert_int_eq(wse_submit(ex, task_wait_self, &s, &f), 0);
        __atomic_store_n(&s.self, f, __ATOMIC_RELEASE);
        ck_assert_int_eq(wse_future_wait(f, wse_test_scale(30.0)), 0);
        ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        ck_assert_int_eq(s.rc_future_wait, EDEADLK);
        ck_assert_int_eq(s.rc_wait_all_self, EDEADLK);
        ck_assert_int_eq(s.rc_wait_all_mixed, EDEADLK);
        /* Errors touch nothing. */
        ck_assert_ptr_eq(s.out[0], SENTINEL);
        ck_assert_ptr_eq(s.out[1], SENTINEL);
        ck_assert_uint_eq(s.nd, SENTINEL_N);
        ck_assert_int_eq(s.rc_wait_first_mixed, 0);
        ck_assert_uint_eq(s.nd_first, 1);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
        wse_future_release(f);
        wse_future_release(s.other);
    }
}
END_TEST

/* A child running nested inside its parent's wait (one worker) waits on the
 * parent's future: EDEADLK as well. */
struct nest_arg {
    wse_future *parent;
    int rc_future_wait;
    int rc_wait_all;
};

static int
task_child_waits_parent(void *arg, void **result)
{
    struct nest_arg *n = arg;
    (void)result;
    wse_future *p = __atomic_load_n(&n->parent, __ATOMIC_ACQUIRE);
    n->rc_future_wait = wse_future_wait(p, WSE_FOREVER);
    wse_future *one[1] = {p};
    n->rc_wait_all = wse_wait(one, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
    return 0;
}

static int
task_parent(void *arg, void **result)
{
    struct nest_arg *n = arg;
    (void)result;
    while (__atomic_load_n(&n->parent, __ATOMIC_ACQUIRE) == NULL)
        sched_yield();
    wse_future *c;
    int rc = wse_submit(wse_current(), task_child_waits_parent, n, &c);
    if (rc != 0)
        return rc;
    rc = wse_future_wait(c, WSE_FOREVER);
    wse_future_release(c);
    return rc;
}

START_TEST(wait_enclosing_future_edeadlk)
{
    wse_executor *ex = make_executor(1);
    struct nest_arg n = {0};
    wse_future *p;
    ck_assert_int_eq(wse_submit(ex, task_parent, &n, &p), 0);
    __atomic_store_n(&n.parent, p, __ATOMIC_RELEASE);
    ck_assert_int_eq(wse_future_wait(p, wse_test_scale(30.0)), 0);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    ck_assert_int_eq(n.rc_future_wait, EDEADLK);
    ck_assert_int_eq(n.rc_wait_all, EDEADLK);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(p);
}
END_TEST

static Suite *
wait_helping_suite(void)
{
    Suite *s = suite_create("wait_helping");

    TCase *tc = tcase_create("worker");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, wait_nested_fib_one_worker);
    tcase_add_test(tc, wait_nested_fib_two_workers);
    tcase_add_test(tc, wait_nested_fib_four_workers);
    tcase_add_test(tc, wait_in_worker_helps_injection_queue);
    tcase_add_test(tc, wait_in_worker_one_worker_runs_children);
    tcase_add_test(tc, wait_in_worker_timeout);
    tcase_add_test(tc, wait_in_worker_helps_by_stealing);
    tcase_add_test(tc, wait_own_future_edeadlk);
    tcase_add_test(tc, wait_enclosing_future_edeadlk);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(wait_helping_suite());
}

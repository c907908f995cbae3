/*
 * Check suite for wse_worker_index() and the on_worker_start / on_worker_stop
 * hooks: indices, where and when the hooks run, create returning after every
 * start hook, stop hooks after the last task, a start hook that submits.
 */
#include "wse_test.h"

#define MAXW 8

struct hooks {
    int start_calls[MAXW];
    int stop_calls[MAXW];
    int start_bad; /* a start hook saw a wrong index or executor */
    int stop_bad;
    int started_flag[MAXW]; /* set after a 50 ms sleep in the start hook */
    int tasks_run;          /* tasks run (counted by the tasks) */
    int tasks_at_stop;      /* tasks_run seen by the last stop hook */
    int first_task_saw_all_started;
    unsigned sleep_us;
    wse_executor *submit_to_self; /* start hook of worker 0 submits here if set */
    wse_future *hook_task;
};

static void
on_start(wse_executor *ex, unsigned index, void *ctx)
{
    struct hooks *h = ctx;
    if (index >= MAXW || wse_worker_index() != (int)index || wse_current() != ex)
        counter_add(&h->start_bad, 1);
    if (index < MAXW) {
        if (h->sleep_us)
            usleep(h->sleep_us);
        counter_add(&h->start_calls[index], 1);
        flag_set(&h->started_flag[index]);
    }
    if (index == 0 && h->submit_to_self != NULL) {
        /* from a start hook, the task queues normally */
        if (wse_submit(ex, task_count, &h->tasks_run, &h->hook_task) != 0)
            counter_add(&h->start_bad, 1);
    }
}

static void
on_stop(wse_executor *ex, unsigned index, void *ctx)
{
    struct hooks *h = ctx;
    if (index >= MAXW || wse_worker_index() != (int)index || wse_current() != ex)
        counter_add(&h->stop_bad, 1);
    if (index < MAXW)
        counter_add(&h->stop_calls[index], 1);
    __atomic_store_n(&h->tasks_at_stop, counter_get(&h->tasks_run), __ATOMIC_SEQ_CST);
}

static int
task_index(void *arg, void **result)
{
    (void)arg;
    *result = (void *)(intptr_t)(wse_worker_index() + 1);
    return 0;
}

START_TEST(hooks_worker_index_plain_thread)
{
    ck_assert_int_eq(wse_worker_index(), -1);
    wse_executor *ex = make_executor(2);
    ck_assert_int_eq(wse_worker_index(), -1);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(wse_worker_index(), -1);
}
END_TEST

/* Gate tasks occupying every worker report distinct indices 0..n-1. */
struct idx_gate {
    struct gate g;
    int seen[MAXW];
    int bad;
};

static int
task_idx_gate(void *arg, void **result)
{
    struct idx_gate *ig = arg;
    int i = wse_worker_index();
    if (i < 0 || i >= MAXW)
        counter_add(&ig->bad, 1);
    else
        counter_add(&ig->seen[i], 1);
    return gate_task(&ig->g, result);
}

START_TEST(hooks_worker_index_distinct_and_stable)
{
    enum { N = 4 };
    wse_executor *ex = make_executor(N);
    struct idx_gate ig;
    memset(&ig, 0, sizeof ig);
    wse_future *f[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_submit(ex, task_idx_gate, &ig, &f[i]), 0);
    gate_wait_entered(&ig.g, N);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(counter_get(&ig.seen[i]), 1);
    ck_assert_int_eq(counter_get(&ig.bad), 0);
    gate_open(&ig.g);
    release_all(f, N);
    /* Many tasks: every index in range. */
    wse_future *g[64];
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(wse_submit(ex, task_index, NULL, &g[i]), 0);
    for (int i = 0; i < 64; i++) {
        ck_assert_int_eq(wse_future_wait(g[i], WSE_FOREVER), 0);
        intptr_t v = (intptr_t)wse_future_value(g[i]);
        ck_assert(v >= 1 && v <= N);
    }
    release_all(g, 64);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static struct hooks *first_task_hooks;
static unsigned first_task_workers;

static int
task_check_started(void *arg, void **result)
{
    struct hooks *h = arg;
    (void)result;
    int ok = 1;
    for (unsigned i = 0; i < first_task_workers; i++)
        ok &= flag_get(&h->started_flag[i]);
    if (ok)
        counter_add(&h->first_task_saw_all_started, 1);
    counter_add(&h->tasks_run, 1);
    return 0;
}

START_TEST(hooks_start_and_stop)
{
    enum { N = 3 };
    struct hooks h;
    memset(&h, 0, sizeof h);
    h.sleep_us = 50000;
    first_task_hooks = &h;
    first_task_workers = N;
    wse_options o = {0};
    o.workers = N;
    o.on_worker_start = on_start;
    o.on_worker_stop = on_stop;
    o.hook_ctx = &h;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    /* Every start hook returned before create did. */
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(counter_get(&h.start_calls[i]), 1);
        ck_assert(flag_get(&h.started_flag[i]));
        ck_assert_int_eq(counter_get(&h.stop_calls[i]), 0);
    }
    ck_assert_int_eq(counter_get(&h.start_bad), 0);
    enum { T = 50 };
    wse_future *f[T];
    for (int i = 0; i < T; i++)
        ck_assert_int_eq(wse_submit(ex, task_check_started, &h, &f[i]), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(counter_get(&h.stop_calls[i]), 1);
    ck_assert_int_eq(counter_get(&h.stop_bad), 0);
    ck_assert_int_eq(counter_get(&h.first_task_saw_all_started), T);
    /* The stop hooks ran after the last task. */
    ck_assert_int_eq(counter_get(&h.tasks_at_stop), T);
    release_all(f, T);
}
END_TEST

START_TEST(hooks_start_hook_submits)
{
    struct hooks h;
    memset(&h, 0, sizeof h);
    h.submit_to_self = (wse_executor *)1;
    wse_options o = {0};
    o.workers = 2;
    o.on_worker_start = on_start;
    o.hook_ctx = &h;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_ptr_nonnull(h.hook_task);
    ck_assert_int_eq(wse_future_wait(h.hook_task, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(h.hook_task), WSE_DONE);
    ck_assert_int_eq(counter_get(&h.tasks_run), 1);
    ck_assert_int_eq(counter_get(&h.start_bad), 0);
    wse_future_release(h.hook_task);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(hooks_null_fine_and_only_one)
{
    struct hooks h;
    memset(&h, 0, sizeof h);
    wse_options o = {0};
    o.workers = 2;
    o.on_worker_stop = on_stop; /* start NULL */
    o.hook_ctx = &h;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    wse_future *f = make_done(ex, NULL);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&h.stop_calls[0]) + counter_get(&h.stop_calls[1]), 2);
    memset(&h, 0, sizeof h);
    o.on_worker_stop = NULL;
    o.on_worker_start = on_start;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_int_eq(counter_get(&h.start_calls[0]) + counter_get(&h.start_calls[1]), 2);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    o.on_worker_start = NULL;
    o.hook_ctx = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Fork-join that blocks (a stolen child), so spare threads stand in for waiting
 * workers: every task still sees an index in 0 .. workers-1, and the hooks run
 * once per worker, never for a spare. */
static int max_index_seen;

static int
fib_index(void *arg, void **result)
{
    long n = (long)(intptr_t)arg;
    int idx = wse_worker_index();
    int seen = __atomic_load_n(&max_index_seen, __ATOMIC_RELAXED);
    wse_future *f[2];
    int rc;

    while (idx > seen && !__atomic_compare_exchange_n(&max_index_seen, &seen, idx, false,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    if (idx < 0)
        return EINVAL;
    if (n < 2) {
        *result = (void *)(intptr_t)n;
        return 0;
    }
    rc = wse_submit(wse_current(), fib_index, (void *)(intptr_t)(n - 1), &f[0]);
    if (rc != 0)
        return rc;
    rc = wse_submit(wse_current(), fib_index, (void *)(intptr_t)(n - 2), &f[1]);
    if (rc != 0) {
        wse_future_release(f[0]);
        return rc;
    }
    rc = wse_wait(f, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
    if (rc == 0)
        rc = wse_future_error(f[0]) | wse_future_error(f[1]);
    if (rc == 0)
        *result = (void *)((intptr_t)wse_future_value(f[0]) + (intptr_t)wse_future_value(f[1]));
    wse_future_release(f[0]);
    wse_future_release(f[1]);
    return rc;
}

START_TEST(hooks_index_in_range_with_spares)
{
    struct hooks h = {0};
    wse_options o = {0};
    wse_executor *ex;
    wse_future *f;
    int round;

    o.workers = 2;
    o.on_worker_start = on_start;
    o.on_worker_stop = on_stop;
    o.hook_ctx = &h;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    __atomic_store_n(&max_index_seen, -1, __ATOMIC_RELAXED);
    for (round = 0; round < 5; round++) {
        ck_assert_int_eq(wse_submit(ex, fib_index, (void *)(intptr_t)24, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, wse_test_scale(60.0)), 0);
        ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        ck_assert_int_eq((intptr_t)wse_future_value(f), 46368);
        wse_future_release(f);
    }
    ck_assert_int_le(__atomic_load_n(&max_index_seen, __ATOMIC_RELAXED), 1);
    ck_assert_int_ge(__atomic_load_n(&max_index_seen, __ATOMIC_RELAXED), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(h.start_bad, 0);
    ck_assert_int_eq(h.stop_bad, 0);
    ck_assert_int_eq(h.start_calls[0] + h.start_calls[1], 2);
    ck_assert_int_eq(h.stop_calls[0] + h.stop_calls[1], 2);
    ck_assert_int_eq(h.start_calls[2] + h.stop_calls[2], 0);
}
END_TEST

static Suite *
hooks_suite(void)
{
    Suite *s = suite_create("hooks");
    TCase *tc = tcase_create("hooks");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, hooks_worker_index_plain_thread);
    tcase_add_test(tc, hooks_worker_index_distinct_and_stable);
    tcase_add_test(tc, hooks_start_and_stop);
    tcase_add_test(tc, hooks_start_hook_submits);
    tcase_add_test(tc, hooks_null_fine_and_only_one);
    tcase_add_test(tc, hooks_index_in_range_with_spares);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(hooks_suite());
}

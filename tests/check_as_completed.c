/*
 * Check suite for wse_as_completed_*(): errors, the order (done at create first
 * in input order, then completion order), duplicates, deadlines (ETIMEDOUT, then
 * later entries, then ETIMEDOUT again), ENOENT, references, destroy while
 * futures complete elsewhere, and a worker iterating over its own children.
 */
#include "wse_test.h"

#define V(x) ((void *)(uintptr_t)(x))

START_TEST(ac_einval)
{
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_future *fs[2] = {p, NULL};
    wse_as_completed *it = (wse_as_completed *)SENTINEL;
    ck_assert_int_eq(wse_as_completed_create(NULL, fs, 1, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_as_completed_create(&it, NULL, 1, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_as_completed_create(&it, fs, 0, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_as_completed_create(&it, fs, 2, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_as_completed_create(&it, fs, 1, NAN), EINVAL);
    ck_assert_ptr_eq(it, (wse_as_completed *)SENTINEL);
    wse_future *f = SENTINEL;
    size_t idx = SENTINEL_N;
    ck_assert_int_eq(wse_as_completed_next(NULL, &f, &idx), EINVAL);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_uint_eq(idx, SENTINEL_N);
    wse_as_completed_destroy(NULL);
    wse_future_release(p);
}
END_TEST

START_TEST(ac_done_first_in_input_order_then_completion_order)
{
    wse_future *p[6];
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(wse_promise_create(&p[i], NULL), 0);
    /* Done before create: 4, 1 (set in that order), 3 cancelled. */
    ck_assert_int_eq(wse_promise_set_value(p[4], V(4)), 0);
    ck_assert_int_eq(wse_promise_set_error(p[1], EIO), 0);
    ck_assert(wse_future_cancel(p[3]));
    wse_as_completed *it;
    ck_assert_int_eq(wse_as_completed_create(&it, p, 6, WSE_FOREVER), 0);
    /* Then: 5, 0, 2. */
    ck_assert_int_eq(wse_promise_set_value(p[5], V(5)), 0);
    ck_assert_int_eq(wse_promise_set_value(p[0], V(0)), 0);
    ck_assert_int_eq(wse_promise_set_error(p[2], EPIPE), 0);
    size_t want[6] = {1, 3, 4, 5, 0, 2};
    for (int k = 0; k < 6; k++) {
        wse_future *f = SENTINEL;
        size_t idx = SENTINEL_N;
        ck_assert_int_eq(wse_as_completed_next(it, &f, &idx), 0);
        ck_assert_uint_eq(idx, want[k]);
        ck_assert_ptr_eq(f, p[want[k]]);
    }
    wse_future *f = SENTINEL;
    ck_assert_int_eq(wse_as_completed_next(it, &f, NULL), ENOENT);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, NULL), ENOENT);
    wse_as_completed_destroy(it);
    release_all(p, 6);
}
END_TEST

START_TEST(ac_duplicates_once_per_entry_and_null_outputs)
{
    wse_future *a, *b;
    ck_assert_int_eq(wse_promise_create(&a, NULL), 0);
    ck_assert_int_eq(wse_promise_create(&b, NULL), 0);
    ck_assert_int_eq(wse_promise_set_value(b, NULL), 0);
    wse_future *fs[5] = {a, b, a, b, a};
    wse_as_completed *it;
    ck_assert_int_eq(wse_as_completed_create(&it, fs, 5, WSE_FOREVER), 0);
    size_t idx;
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
    ck_assert_uint_eq(idx, 3);
    ck_assert_int_eq(wse_promise_set_value(a, NULL), 0);
    int seen[5] = {0};
    for (int k = 0; k < 3; k++) {
        wse_future *f;
        ck_assert_int_eq(wse_as_completed_next(it, &f, &idx), 0);
        ck_assert_ptr_eq(f, a);
        ck_assert_uint_lt(idx, 5);
        seen[idx]++;
    }
    ck_assert_int_eq(seen[0] + seen[2] + seen[4], 3);
    ck_assert_int_eq(seen[0] * seen[2] * seen[4], 1);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, NULL), ENOENT);
    wse_as_completed_destroy(it);
    wse_future_release(a);
    wse_future_release(b);
}
END_TEST

START_TEST(ac_timeout_then_later_then_timeout)
{
    wse_future *p[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_promise_create(&p[i], NULL), 0);
    ck_assert_int_eq(wse_promise_set_value(p[2], NULL), 0);
    wse_as_completed *it;
    double t0 = now_s();
    ck_assert_int_eq(wse_as_completed_create(&it, p, 3, 0.05), 0);
    size_t idx = SENTINEL_N;
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
    ck_assert_uint_eq(idx, 2);
    idx = SENTINEL_N;
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), ETIMEDOUT);
    ck_assert_uint_eq(idx, SENTINEL_N);
    ck_assert(now_s() - t0 >= 0.049);
    /* Nothing cancelled. */
    ck_assert_int_eq(wse_future_state(p[0]), WSE_PENDING);
    ck_assert_int_eq(wse_promise_set_value(p[0], NULL), 0);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), ETIMEDOUT);
    ck_assert_int_eq(wse_promise_set_value(p[1], NULL), 0);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), ENOENT);
    wse_as_completed_destroy(it);
    release_all(p, 3);
}
END_TEST

START_TEST(ac_timeout_zero_only_done)
{
    wse_future *p[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_promise_create(&p[i], NULL), 0);
    ck_assert_int_eq(wse_promise_set_value(p[1], NULL), 0);
    wse_as_completed *it;
    ck_assert_int_eq(wse_as_completed_create(&it, p, 3, 0), 0);
    size_t idx;
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
    ck_assert_uint_eq(idx, 1);
    double t0 = now_s();
    ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), ETIMEDOUT);
    ck_assert(now_s() - t0 < 1.0); /* polled, never blocked */
    wse_as_completed_destroy(it);
    release_all(p, 3);
}
END_TEST

START_TEST(ac_plain_thread_blocks_until_completion)
{
    wse_executor *ex = make_executor_any(2);
    struct gate g = {0};
    wse_future *f[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_submit(ex, gate_task, &g, &f[i]), 0);
    wse_as_completed *it;
    ck_assert_int_eq(wse_as_completed_create(&it, f, 3, WSE_FOREVER), 0);
    struct delayed_flag d;
    delayed_flag_start(&d, &g.open, 20000);
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        size_t idx;
        wse_future *x;
        ck_assert_int_eq(wse_as_completed_next(it, &x, &idx), 0);
        ck_assert_ptr_eq(x, f[idx]);
        ck_assert(wse_future_done(x));
        seen |= 1 << idx;
    }
    ck_assert_int_eq(seen, 7);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, NULL), ENOENT);
    delayed_flag_join(&d);
    wse_as_completed_destroy(it);
    release_all(f, 3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static int freed;

static void
count_free(void *v)
{
    (void)v;
    counter_add(&freed, 1);
}

START_TEST(ac_holds_references_until_destroy)
{
    wse_future *p[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(wse_promise_create(&p[i], count_free), 0);
    ck_assert_int_eq(wse_promise_set_value(p[0], V(1)), 0);
    wse_as_completed *it;
    ck_assert_int_eq(wse_as_completed_create(&it, p, 2, WSE_FOREVER), 0);
    wse_future *keep1 = p[1];
    release_all(p, 2);
    ck_assert_int_eq(counter_get(&freed), 0);
    wse_future *f;
    size_t idx;
    ck_assert_int_eq(wse_as_completed_next(it, &f, &idx), 0);
    ck_assert_ptr_eq(wse_future_value(f), V(1));
    /* Still alive: the iterator's reference. */
    ck_assert_int_eq(wse_promise_set_value(keep1, V(2)), 0);
    ck_assert_int_eq(wse_as_completed_next(it, &f, &idx), 0);
    ck_assert_ptr_eq(f, keep1);
    ck_assert_ptr_eq(wse_future_value(f), V(2));
    ck_assert_int_eq(counter_get(&freed), 0);
    wse_as_completed_destroy(it);
    ck_assert_int_eq(counter_get(&freed), 2);
}
END_TEST

START_TEST(ac_destroy_pending_and_race_completions)
{
    long rounds = env_long("WSE_AC_ROUNDS", 500);
    wse_executor *ex = make_executor_any(2);
    for (long k = 0; k < rounds; k++) {
        enum { N = 8 };
        wse_future *f[N];
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(wse_submit(ex, task_value, V(i), &f[i]), 0);
        wse_as_completed *it;
        ck_assert_int_eq(wse_as_completed_create(&it, f, N, WSE_FOREVER), 0);
        release_all(f, N);
        if (k & 1) {
            size_t idx;
            ck_assert_int_eq(wse_as_completed_next(it, NULL, &idx), 0);
        }
        wse_as_completed_destroy(it);
    }
    /* Destroy with an entry never completing. */
    wse_future *p;
    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    wse_as_completed *it;
    ck_assert_int_eq(wse_as_completed_create(&it, &p, 1, 0), 0);
    ck_assert_int_eq(wse_as_completed_next(it, NULL, NULL), ETIMEDOUT);
    wse_as_completed_destroy(it);
    /* Completing after destroy touches nothing of the iterator. */
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    wse_future_release(p);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A task that submits children and iterates over them (one worker: it must help). */
static int
task_iterate_children(void *arg, void **result)
{
    (void)arg;
    enum { N = 16 };
    wse_executor *ex = wse_current();
    wse_future *kids[N];
    for (int i = 0; i < N; i++) {
        int rc = wse_submit(ex, task_value, V(i + 1), &kids[i]);
        if (rc != 0)
            return rc;
    }
    wse_as_completed *it;
    int rc = wse_as_completed_create(&it, kids, N, WSE_FOREVER);
    release_all(kids, N);
    if (rc != 0)
        return rc;
    uintptr_t sum = 0;
    size_t idx;
    wse_future *f;
    while ((rc = wse_as_completed_next(it, &f, &idx)) == 0)
        sum += (uintptr_t)wse_future_value(f);
    wse_as_completed_destroy(it);
    if (rc != ENOENT)
        return rc;
    *result = (void *)sum;
    return 0;
}

START_TEST(ac_worker_iterating_helps)
{
    wse_executor *ex = make_executor(1);
    wse_future *t;
    ck_assert_int_eq(wse_submit(ex, task_iterate_children, NULL, &t), 0);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(t), 0);
    ck_assert_ptr_eq(wse_future_value(t), V(16 * 17 / 2));
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

struct completer {
    pthread_t thread;
    wse_future **p;
    int n;
    int *go;
};

static void *
completer_main(void *arg)
{
    struct completer *c = arg;
    while (!flag_get(c->go))
        ;
    for (int i = 0; i < c->n; i++)
        (void)wse_promise_set_value(c->p[i], NULL);
    return NULL;
}

START_TEST(ac_destroy_while_completing_race)
{
    long rounds = env_long("WSE_AC_ROUNDS", 500);
    for (long k = 0; k < rounds; k++) {
        enum { N = 6 };
        wse_future *p[N];
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(wse_promise_create(&p[i], NULL), 0);
        wse_as_completed *it;
        ck_assert_int_eq(wse_as_completed_create(&it, p, N, WSE_FOREVER), 0);
        int go = 0;
        struct completer c = {.p = p, .n = N, .go = &go};
        ck_assert_int_eq(pthread_create(&c.thread, NULL, completer_main, &c), 0);
        flag_set(&go);
        if (k % 3 == 0) {
            ck_assert_int_eq(wse_as_completed_next(it, NULL, NULL), 0);
        }
        wse_as_completed_destroy(it);
        ck_assert_int_eq(pthread_join(c.thread, NULL), 0);
        release_all(p, N);
    }
}
END_TEST

static Suite *
ac_suite(void)
{
    Suite *s = suite_create("as_completed");
    TCase *tc = tcase_create("as_completed");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, ac_einval);
    tcase_add_test(tc, ac_done_first_in_input_order_then_completion_order);
    tcase_add_test(tc, ac_duplicates_once_per_entry_and_null_outputs);
    tcase_add_test(tc, ac_timeout_then_later_then_timeout);
    tcase_add_test(tc, ac_timeout_zero_only_done);
    tcase_add_test(tc, ac_plain_thread_blocks_until_completion);
    tcase_add_test(tc, ac_holds_references_until_destroy);
    tcase_add_test(tc, ac_worker_iterating_helps);
    suite_add_tcase(s, tc);
    TCase *race = tcase_create("race");
    tcase_set_timeout(race, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(race, ac_destroy_pending_and_race_completions);
    tcase_add_test(race, ac_destroy_while_completing_race);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    return run_suite(ac_suite());
}

/*
 * Check suite: wse_wait translations of CPython's concurrent.futures wait tests
 * (Lib/test/test_concurrent_futures/test_wait.py) and of asyncio's wait tests
 * (Lib/test/test_asyncio/test_tasks.py). Each test names the Python test it
 * follows; where wsexec deliberately differs from Python (a cancelled future is
 * done at once, duplicates get a slot each, n == 0 is EINVAL), the comment says
 * so.
 */
#include "wse_test.h"

/* ---- CPython Lib/test/test_concurrent_futures/test_wait.py ------------------------- */

START_TEST(py_test_first_completed)
{
    /* [f1 completes during the wait, f2 blocked] -> done {f1}, not_done {f2}. */
    wse_executor *ex = make_executor(2);
    struct gate g1 = {0}, g2 = {0};
    wse_future *f1 = start_gate(ex, &g1);
    wse_future *f2 = start_gate(ex, &g2);
    struct delayed_flag df;
    delayed_flag_start(&df, &g1.open, 20000);
    wse_future *in[2] = {f1, f2}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    expect_out(out, in, 2);
    ck_assert(!wse_future_done(f2));
    delayed_flag_join(&df);
    gate_open(&g2);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(py_test_first_completed_cancelled_counts_as_done)
{
    /* Python's CANCELLED_FUTURE (cancelled, not yet notified) is not done; in
     * wsexec a cancelled future is done at once (a deliberate difference). */
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *in[2] = {c, b.gate_f[0]}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    expect_out(out, in, 2);
    blocked_finish(&b);
    wse_future_release(c);
}
END_TEST

START_TEST(py_test_first_completed_some_already_completed)
{
    /* [CANCELLED_AND_NOTIFIED, SUCCESSFUL, blocked] -> the two returned at once. */
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *s = make_done(b.ex, (void *)(uintptr_t)42);
    blocked_block(&b);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *blocked_f = make_pending(&b, &ran);
    wse_future *in[3] = {c, s, blocked_f}, *out[3];
    size_t nd = SENTINEL_N;
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_double_lt(now_s() - t0, wse_test_scale(5.0));
    ck_assert_uint_eq(nd, 2);
    expect_out(out, in, 3);
    ck_assert_ptr_eq(wse_future_value(s), (void *)(uintptr_t)42);
    blocked_finish(&b);
    release_all(in, 3);
}
END_TEST

/* f2 fails after f1 finished. */
struct after_arg {
    wse_future *first; /* must be done before this task fails */
    int code;
};

static int
task_fail_after(void *arg, void **result)
{
    struct after_arg *a = arg;
    (void)result;
    usleep(10000); /* "later", as time.sleep(1.5 * SHORT_TIMEOUT) in the original */
    while (!wse_future_done(a->first))
        sched_yield();
    return a->code;
}

START_TEST(py_test_first_exception)
{
    /* f1 ok, f2 raises after f1, f3 blocked -> done {f1, f2}, pending {f3}.
     * Three workers: f1 and f2 may run in either order without deadlock. */
    wse_executor *ex = make_executor(3);
    struct gate g3 = {0};
    wse_future *f3 = start_gate(ex, &g3);
    wse_future *f1, *f2;
    ck_assert_int_eq(wse_submit(ex, task_value, (void *)(uintptr_t)1, &f1), 0);
    struct after_arg a = {.first = f1, .code = EDOM};
    ck_assert_int_eq(wse_submit(ex, task_fail_after, &a, &f2), 0);
    wse_future *in[3] = {f1, f2, f3}, *out[3];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 2);
    expect_out(out, in, 3);
    ck_assert_int_eq(wse_future_state(f1), WSE_DONE);
    ck_assert_int_eq(wse_future_state(f2), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(f2), EDOM);
    ck_assert_int_eq(wse_future_state(f3), WSE_RUNNING);
    gate_open(&g3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 3);
}
END_TEST

START_TEST(py_test_first_exception_some_already_complete)
{
    /* [SUCCESSFUL, CANCELLED, failing later, blocked] -> done {SUCCESSFUL,
     * CANCELLED, failing}, pending {blocked}. (Python's not-notified CANCELLED
     * would be pending; in wsexec it is done.) */
    wse_executor *ex = make_executor(2);
    wse_future *s = make_done(ex, (void *)(uintptr_t)42);
    struct gate gblock = {0}, gfail = {.code = EDOM};
    wse_future *blocked_f = start_gate(ex, &gblock);
    wse_future *failing = start_gate(ex, &gfail);
    int ran = 0;
    wse_future *c;
    ck_assert_int_eq(wse_submit(ex, task_count, &ran, &c), 0);
    ck_assert(wse_future_cancel(c));
    struct delayed_flag df;
    delayed_flag_start(&df, &gfail.open, 20000);
    wse_future *in[4] = {s, c, failing, blocked_f}, *out[4];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 4, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    expect_out(out, in, 4);
    ck_assert_int_eq(wse_future_state(failing), WSE_FAILED);
    delayed_flag_join(&df);
    gate_open(&gblock);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(in, 4);
}
END_TEST

START_TEST(py_test_first_exception_one_already_failed)
{
    /* [EXCEPTION_FUTURE, blocked] -> done {EXCEPTION_FUTURE} immediately. */
    struct blocked b;
    blocked_create(&b, 1);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *in[2] = {e, b.gate_f[0]}, *out[2];
    size_t nd = SENTINEL_N;
    /* Returns at once, well before the timeout would expire. */
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, wse_test_scale(5.0), WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_double_lt(now_s() - t0, wse_test_scale(4.0));
    ck_assert_uint_eq(nd, 1);
    expect_out(out, in, 2);
    blocked_finish(&b);
    wse_future_release(e);
}
END_TEST

START_TEST(py_test_all_completed)
{
    /* [SUCCESSFUL, CANCELLED, EXCEPTION, raising, ok] -> all done. */
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *s = make_done(b.ex, (void *)(uintptr_t)42);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *raising, *ok;
    ck_assert_int_eq(wse_submit(b.ex, task_code, (void *)(intptr_t)EDOM, &raising), 0);
    ck_assert_int_eq(wse_submit(b.ex, task_value, (void *)(uintptr_t)9, &ok), 0);
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    wse_future *in[5] = {s, c, e, raising, ok}, *out[5];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 5, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 5);
    expect_out(out, in, 5);
    ck_assert_int_eq(wse_future_error(raising), EDOM);
    ck_assert_ptr_eq(wse_future_value(ok), (void *)(uintptr_t)9);
    delayed_flag_join(&df);
    blocked_finish(&b);
    release_all(in, 5);
}
END_TEST

START_TEST(py_test_timeout)
{
    /* Three done + one blocked, timeout 0.05, ALL_COMPLETED: done = the three,
     * pending {blocked}, and no error beyond ETIMEDOUT. */
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *s = make_done(b.ex, (void *)(uintptr_t)42);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *in[4] = {s, c, e, b.gate_f[0]}, *out[4];
    size_t nd = SENTINEL_N;
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 4, 0.05, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.05 - 1e-6);
    ck_assert_uint_eq(nd, 3);
    expect_out(out, in, 4);
    blocked_finish(&b);
    release_all(in, 3);
}
END_TEST

START_TEST(py_test_20369)
{
    /* wait([f, f]): Python collapses duplicates; wsexec gives each a slot. */
    wse_executor *ex = make_executor(1);
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_value, NULL, &f), 0);
    wse_future *in[2] = {f, f}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 2);
    expect_out(out, in, 2);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}
END_TEST

START_TEST(py_test_pending_calls_race)
{
    /* 100 futures released at once; wait(ALL_COMPLETED) must return (bpo-14406). */
    enum { N = 100, ROUNDS = 20 };
    wse_executor *ex = make_executor(4);
    for (int r = 0; r < ROUNDS; r++) {
        struct gate g = {0};
        wse_future *f[N];
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(wse_submit(ex, gate_task, &g, &f[i]), 0);
        gate_open(&g);
        size_t nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd), 0);
        ck_assert_uint_eq(nd, N);
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(wse_future_state(f[i]), WSE_DONE);
        release_all(f, N);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- asyncio Lib/test/test_asyncio/test_tasks.py ---------------------------------- */

START_TEST(aio_test_wait_first_completed)
{
    /* a: long (blocked), b: short -> done {b}, pending {a}, a not done. */
    wse_executor *ex = make_executor(2);
    struct gate ga = {0};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf;
    ck_assert_int_eq(wse_submit(ex, task_value, (void *)(uintptr_t)2, &bf), 0);
    wse_future *in[2] = {a, bf}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], bf);
    ck_assert_ptr_eq(out[1], a);
    ck_assert(!wse_future_done(a));
    gate_open(&ga);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(aio_test_wait_first_exception)
{
    /* b raises at once, a runs long -> done {b}, pending {a}. */
    wse_executor *ex = make_executor(2);
    struct gate ga = {0};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf;
    ck_assert_int_eq(wse_submit(ex, task_code, (void *)(intptr_t)EBADMSG, &bf), 0);
    wse_future *in[2] = {a, bf}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], bf);
    ck_assert_ptr_eq(out[1], a);
    ck_assert_int_eq(wse_future_error(bf), EBADMSG);
    ck_assert(!wse_future_done(a));
    gate_open(&ga);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(aio_test_wait_first_exception_in_wait)
{
    /* b raises after a short delay, during the wait. */
    wse_executor *ex = make_executor(2);
    struct gate ga = {0}, gb = {.code = EBADMSG};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf = start_gate(ex, &gb);
    struct delayed_flag df;
    delayed_flag_start(&df, &gb.open, 10000);
    wse_future *in[2] = {a, bf}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], bf);
    ck_assert(!wse_future_done(a));
    delayed_flag_join(&df);
    gate_open(&ga);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(aio_test_wait_with_exception)
{
    /* ALL_COMPLETED where one raises: 2 done, exactly 1 failed. */
    wse_executor *ex = make_executor(2);
    struct gate ga = {0}, gb = {.code = EIO};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf = start_gate(ex, &gb);
    struct delayed_flag da, db;
    delayed_flag_start(&da, &ga.open, 10000);
    delayed_flag_start(&db, &gb.open, 15000);
    wse_future *in[2] = {bf, a}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 2);
    int failed = 0;
    for (int i = 0; i < 2; i++)
        failed += wse_future_state(out[i]) == WSE_FAILED;
    ck_assert_int_eq(failed, 1);
    delayed_flag_join(&da);
    delayed_flag_join(&db);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(aio_test_wait_with_timeout)
{
    /* a finishes during the wait, b outlasts the timeout: done {a}, pending {b},
     * ETIMEDOUT (not an error), nothing cancelled. */
    wse_executor *ex = make_executor(2);
    struct gate ga = {0}, gb = {0};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf = start_gate(ex, &gb);
    struct delayed_flag df;
    delayed_flag_start(&df, &ga.open, 10000);
    wse_future *in[2] = {bf, a}, *out[2];
    size_t nd = SENTINEL_N;
    /* The timeout is also the slack for a to finish: scaled, and asserted. */
    double timeout = wse_test_scale(1.0);
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, timeout, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, timeout - 1e-6);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], a);
    ck_assert_ptr_eq(out[1], bf);
    ck_assert_int_eq(wse_future_state(bf), WSE_RUNNING);
    delayed_flag_join(&df);
    gate_open(&gb);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(aio_test_wait_concurrent_complete)
{
    /* a completes about when the timeout expires. Whatever wins, the result is
     * consistent: b (blocked) is pending; a is in the done part only if done. */
    wse_executor *ex = make_executor(2);
    for (int round = 0; round < 10; round++) {
        struct gate ga = {0}, gb = {0};
        wse_future *a = start_gate(ex, &ga);
        wse_future *bf = start_gate(ex, &gb);
        struct delayed_flag df;
        delayed_flag_start(&df, &ga.open, 20000);
        wse_future *in[2] = {a, bf}, *out[2];
        size_t nd = SENTINEL_N;
        int rc = wse_wait(in, 2, 0.02, WSE_ALL_COMPLETED, out, &nd);
        ck_assert_int_eq(rc, ETIMEDOUT);
        ck_assert_uint_le(nd, 1);
        /* Either way a comes first: done part, or first of the pending part. */
        ck_assert_ptr_eq(out[0], a);
        ck_assert_ptr_eq(out[1], bf);
        if (nd == 1)
            ck_assert(wse_future_done(a));
        ck_assert(!wse_future_done(bf));
        delayed_flag_join(&df);
        gate_open(&gb);
        ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        release_all(in, 2);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(aio_test_wait_errors)
{
    /* wait(set()) -> ValueError; return_when=-1 -> ValueError. */
    wse_executor *ex = make_executor(1);
    wse_future *f = make_done(ex, NULL);
    wse_future *out[1] = {SENTINEL};
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(&f, 0, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), EINVAL);
    ck_assert_int_eq(wse_wait(&f, 1, WSE_FOREVER, (wse_return_when)-1, out, &nd), EINVAL);
    expect_sentinels(out, 1);
    ck_assert_uint_eq(nd, SENTINEL_N);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}
END_TEST

static Suite *
wait_python_suite(void)
{
    Suite *s = suite_create("wait_python");

    TCase *tc = tcase_create("python");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, py_test_first_completed);
    tcase_add_test(tc, py_test_first_completed_cancelled_counts_as_done);
    tcase_add_test(tc, py_test_first_completed_some_already_completed);
    tcase_add_test(tc, py_test_first_exception);
    tcase_add_test(tc, py_test_first_exception_some_already_complete);
    tcase_add_test(tc, py_test_first_exception_one_already_failed);
    tcase_add_test(tc, py_test_all_completed);
    tcase_add_test(tc, py_test_timeout);
    tcase_add_test(tc, py_test_20369);
    tcase_add_test(tc, py_test_pending_calls_race);
    tcase_add_test(tc, aio_test_wait_first_completed);
    tcase_add_test(tc, aio_test_wait_first_exception);
    tcase_add_test(tc, aio_test_wait_first_exception_in_wait);
    tcase_add_test(tc, aio_test_wait_with_exception);
    tcase_add_test(tc, aio_test_wait_with_timeout);
    tcase_add_test(tc, aio_test_wait_concurrent_complete);
    tcase_add_test(tc, aio_test_wait_errors);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(wait_python_suite());
}

/*
 * Bad-input rows of docs/errors.md that no other suite checks.
 */
#include "wse_test.h"

/* wse_future_retain(NULL) is ignored and returns NULL. */
START_TEST(errors_retain_null)
{
    ck_assert_ptr_null(wse_future_retain(NULL));
}
END_TEST

/* wse_future_on_done on a NULL future or callback: EINVAL, and cb never runs. */
static void
cb_count(wse_future *f, void *arg)
{
    (void)f;
    counter_add(arg, 1);
}

START_TEST(errors_on_done_einval_runs_nothing)
{
    wse_executor *ex = make_executor(1);
    wse_future *f = make_done(ex, NULL);
    int n = 0;
    ck_assert_int_eq(wse_future_on_done(NULL, cb_count, &n), EINVAL);
    ck_assert_int_eq(wse_future_on_done(f, NULL, &n), EINVAL);
    ck_assert_int_eq(counter_get(&n), 0);
    ck_assert_int_eq(wse_future_on_done(f, cb_count, &n), 0); /* done: runs now */
    ck_assert_int_eq(counter_get(&n), 1);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* submit_batch after shutdown: ESHUTDOWN, out untouched, nothing runs. */
START_TEST(errors_batch_eshutdown_out_untouched)
{
    wse_executor *ex = make_executor(1);
    ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
    int n = 0;
    void *args[3] = {&n, &n, &n};
    wse_future *out[3] = {SENTINEL, SENTINEL, SENTINEL};
    ck_assert_int_eq(wse_submit_batch(ex, task_count, args, 3, out), ESHUTDOWN);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_eq(out[i], SENTINEL);
    ck_assert_int_eq(wse_submit(ex, task_count, &n, NULL), ESHUTDOWN);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&n), 0);
}
END_TEST

static Suite *
errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("bad_input");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, errors_retain_null);
    tcase_add_test(tc, errors_on_done_einval_runs_nothing);
    tcase_add_test(tc, errors_batch_eshutdown_out_untouched);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(errors_suite());
}

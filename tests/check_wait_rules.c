/*
 * Check suite for the rules of wse_wait / wse_wait_until, each as its own test:
 * what FIRST_COMPLETED, FIRST_EXCEPTION and ALL_COMPLETED wait for, timeouts,
 * the stable partition into out and n_done, duplicates, deadlines, and the
 * EINVAL matrix (bad input touches nothing).
 *
 * Vocabulary: a "blocked" executor has every worker held by a gate task
 * (tests/wse_test.h), so futures submitted to it stay PENDING; its gate futures
 * are RUNNING until the test opens the gate. DONE/FAILED futures come from a
 * second, free executor.
 *
 * Where wsexec deliberately differs from Python (include/wsexec.h): n == 0 is
 * EINVAL; a cancelled future is done at once; duplicates get a slot each.
 */
#include "wse_test.h"

/* ---- FIRST_COMPLETED ------------------------------------------------------------- */

START_TEST(wait_first_completed_returns_already_done)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, (void *)(uintptr_t)1);
    blocked_block(&b);
    wse_future *p0 = make_pending(&b, &ran);
    wse_future *p1 = make_pending(&b, &ran);
    wse_future *in[3] = {p0, d, p1}, *out[3];
    size_t nd = SENTINEL_N;
    /* FOREVER: it must not block, the condition already holds. */
    ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    wse_future *exp[3] = {d, p0, p1};
    expect_out(out, exp, 3);
    ck_assert_int_eq(wse_future_state(p0), WSE_PENDING);
    ck_assert_int_eq(wse_future_state(p1), WSE_PENDING);
    blocked_finish(&b);
    release_all(in, 3);
}
END_TEST

START_TEST(wait_first_completed_wakes_on_completion)
{
    wse_executor *ex = make_executor(2);
    struct gate ga = {0}, gb = {0};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf = start_gate(ex, &gb);
    struct delayed_flag d;
    delayed_flag_start(&d, &gb.open, 20000);
    wse_future *in[2] = {a, bf}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    wse_future *exp[2] = {bf, a};
    expect_out(out, exp, 2);
    ck_assert_int_eq(wse_future_state(a), WSE_RUNNING);
    delayed_flag_join(&d);
    gate_open(&ga);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(wait_first_completed_counts_failed_and_cancelled)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *in1[2] = {p, e}, *in2[2] = {p, c}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in1, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], e);
    ck_assert_ptr_eq(out[1], p);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in2, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], c);
    ck_assert_ptr_eq(out[1], p);
    blocked_finish(&b);
    wse_future_release(e);
    wse_future_release(p);
    wse_future_release(c);
}
END_TEST

/* A plain thread's wait returns when another thread cancels a pending future. */
START_TEST(wait_cancel_during_wait_wakes)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p = make_pending(&b, &ran);
    struct delayed_cancel dc;
    delayed_cancel_start(&dc, p, 20000);
    wse_future *in[2] = {b.gate_f[0], p}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], p);
    ck_assert_ptr_eq(out[1], b.gate_f[0]);
    ck_assert_int_eq(wse_future_state(p), WSE_CANCELLED);
    ck_assert_int_eq(delayed_cancel_join(&dc), 1);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(p);
}
END_TEST

START_TEST(wait_all_completed_wakes_when_last_is_cancelled)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    struct delayed_cancel dc;
    delayed_cancel_start(&dc, p, 20000);
    wse_future *in[2] = {p, d}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 2);
    expect_out(out, in, 2);
    ck_assert_int_eq(delayed_cancel_join(&dc), 1);
    blocked_finish(&b);
    release_all(in, 2);
}
END_TEST

/* shutdown(cancel_pending) cancels the awaited future: the waiter wakes. */
struct shutdown_later {
    pthread_t thread;
    wse_executor *ex;
    int rc;
};

static void *
shutdown_later_main(void *arg)
{
    struct shutdown_later *s = arg;
    usleep(20000);
    s->rc = wse_shutdown(s->ex, false, true);
    return NULL;
}

START_TEST(wait_wakes_on_shutdown_cancel_pending)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = make_pending(&b, &ran);
    struct shutdown_later s = {.ex = b.ex, .rc = -1};
    ck_assert_int_eq(pthread_create(&s.thread, NULL, shutdown_later_main, &s), 0);
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(p, 3, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    ck_assert_int_eq(pthread_join(s.thread, NULL), 0);
    ck_assert_int_eq(s.rc, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(p, 3);
}
END_TEST

/* ---- FIRST_EXCEPTION ------------------------------------------------------------- */

START_TEST(wait_first_exception_returns_already_failed)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *p0 = make_pending(&b, &ran);
    wse_future *p1 = make_pending(&b, &ran);
    wse_future *in[4] = {p0, d, e, p1}, *out[4];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 4, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 2);
    wse_future *exp[4] = {d, e, p0, p1};
    expect_out(out, exp, 4);
    blocked_finish(&b);
    release_all(in, 4);
}
END_TEST

START_TEST(wait_first_exception_wakes_on_failure)
{
    wse_executor *ex = make_executor(2);
    struct gate ga = {0}, gb = {.code = EPIPE};
    wse_future *a = start_gate(ex, &ga);
    wse_future *bf = start_gate(ex, &gb);
    struct delayed_flag d;
    delayed_flag_start(&d, &gb.open, 20000);
    wse_future *in[2] = {a, bf}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], bf);
    ck_assert_ptr_eq(out[1], a);
    ck_assert_int_eq(wse_future_state(bf), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(bf), EPIPE);
    ck_assert_int_eq(wse_future_state(a), WSE_RUNNING);
    delayed_flag_join(&d);
    gate_open(&ga);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(in, 2);
}
END_TEST

START_TEST(wait_first_exception_ignores_cancelled)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[2] = {p, c}, *out[2];
    size_t nd = SENTINEL_N;
    /* Already cancelled: not an exception, so the wait times out. */
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, 0.05, WSE_FIRST_EXCEPTION, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.05 - 1e-6);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], c);
    ck_assert_ptr_eq(out[1], p);
    blocked_finish(&b);
    release_all(in, 2);
}
END_TEST

START_TEST(wait_first_exception_ignores_cancel_during_wait)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p0 = make_pending(&b, &ran);
    wse_future *p1 = make_pending(&b, &ran);
    struct delayed_cancel dc;
    delayed_cancel_start(&dc, p1, 10000);
    wse_future *in[2] = {p0, p1}, *out[2];
    size_t nd = SENTINEL_N;
    /* The timeout is also the slack for the cancel: scaled, and asserted. */
    double timeout = wse_test_scale(0.3);
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, timeout, WSE_FIRST_EXCEPTION, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, timeout - 1e-6);
    ck_assert_int_eq(delayed_cancel_join(&dc), 1);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], p1);
    ck_assert_ptr_eq(out[1], p0);
    blocked_finish(&b);
    release_all(in, 2);
}
END_TEST

START_TEST(wait_first_exception_without_failure_acts_as_all_completed)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 2);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[5] = {b.gate_f[0], d, c, p, b.gate_f[1]}, *out[5];
    size_t nd = SENTINEL_N;
    /* No failure, something pending: keeps waiting, then times out. */
    ck_assert_int_eq(wse_wait(in, 5, 0.05, WSE_FIRST_EXCEPTION, out, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 2);
    wse_future *exp[5] = {d, c, b.gate_f[0], p, b.gate_f[1]};
    expect_out(out, exp, 5);
    /* Every future completes without failure: returns when all are done. */
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 5, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 5);
    expect_out(out, in, 5);
    for (int i = 0; i < 5; i++)
        ck_assert(wse_future_done(in[i]));
    delayed_flag_join(&df);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 1);
    wse_future_release(d);
    wse_future_release(c);
    wse_future_release(p);
}
END_TEST

/* ---- ALL_COMPLETED ----------------------------------------------------------------- */

START_TEST(wait_all_completed_waits_for_every_future)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 2);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[3] = {b.gate_f[0], p, b.gate_f[1]}, *out[3];
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    expect_out(out, in, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_future_state(in[i]), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 1);
    delayed_flag_join(&df);
    blocked_finish(&b);
    wse_future_release(p);
}
END_TEST

START_TEST(wait_all_completed_failures_do_not_stop_it)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 2);
    wse_future *e = make_failed(b.ex, EIO);
    b.gate.code = ENOSPC; /* both gate tasks fail */
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[4] = {e, b.gate_f[0], b.gate_f[1], p}, *out[4];
    size_t nd = SENTINEL_N;
    /* A failure already present does not end an ALL_COMPLETED wait. */
    ck_assert_int_eq(wse_wait(in, 4, 0, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 1);
    /* Nor do failures during it: it returns once p (queued behind them) ran. */
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 4, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 4);
    expect_out(out, in, 4);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_FAILED);
    ck_assert_int_eq(wse_future_state(b.gate_f[1]), WSE_FAILED);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    delayed_flag_join(&df);
    /* blocked_finish expects DONE gates; finish by hand. */
    ck_assert_int_eq(wse_executor_destroy(b.ex), 0);
    release_all(in, 4);
}
END_TEST

START_TEST(wait_done_includes_failed_and_cancelled)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *in[3] = {c, e, d}, *out[3];
    for (int mode = WSE_FIRST_COMPLETED; mode <= WSE_ALL_COMPLETED; mode++) {
        size_t nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait(in, 3, 0, (wse_return_when)mode, out, &nd), 0);
        ck_assert_uint_eq(nd, 3);
        expect_out(out, in, 3);
    }
    blocked_finish(&b);
    release_all(in, 3);
}
END_TEST

/* ---- Timeouts ---------------------------------------------------------------------- */

START_TEST(wait_timeout_returns_etimedout_and_partitions)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    wse_future *e = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *g = b.gate_f[0];
    wse_future *in[5] = {d, p, e, g, c}, *out[5];
    size_t nd = SENTINEL_N;
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 5, 0.05, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    double dt = now_s() - t0;
    ck_assert_double_ge(dt, 0.05 - 1e-6);
    ck_assert_double_lt(dt, wse_test_scale(5.0));
    ck_assert_uint_eq(nd, 3);
    wse_future *exp[5] = {d, e, c, p, g};
    expect_out(out, exp, 5);
    blocked_finish(&b);
    wse_future_release(d);
    wse_future_release(e);
    wse_future_release(p);
    wse_future_release(c);
}
END_TEST

START_TEST(wait_timeout_cancels_nothing)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = make_pending(&b, &ran);
    wse_future *in[4] = {p[0], b.gate_f[0], p[1], p[2]};
    for (int mode = WSE_FIRST_COMPLETED; mode <= WSE_ALL_COMPLETED; mode++) {
        size_t nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait(in, 4, 0.02, (wse_return_when)mode, NULL, &nd), ETIMEDOUT);
        ck_assert_uint_eq(nd, 0);
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(wse_future_state(p[i]), WSE_PENDING);
        ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    }
    blocked_release(&b);
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 4, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd), 0);
    ck_assert_uint_eq(nd, 4);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 3);
    blocked_finish(&b);
    release_all(p, 3);
}
END_TEST

START_TEST(wait_zero_timeout_polls)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[3] = {p, b.gate_f[0], d}, *out[3];
    double t0 = now_s();
    for (int mode = WSE_FIRST_COMPLETED; mode <= WSE_ALL_COMPLETED; mode++) {
        size_t nd = SENTINEL_N;
        int want = mode == WSE_FIRST_COMPLETED ? 0 : ETIMEDOUT;
        ck_assert_int_eq(wse_wait(in, 3, 0, (wse_return_when)mode, out, &nd), want);
        ck_assert_uint_eq(nd, 1);
        wse_future *exp[3] = {d, p, b.gate_f[0]};
        expect_out(out, exp, 3);
        /* Nothing done at all. */
        nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait(in, 2, 0, (wse_return_when)mode, out, &nd), ETIMEDOUT);
        ck_assert_uint_eq(nd, 0);
        ck_assert_ptr_eq(out[0], p);
        ck_assert_ptr_eq(out[1], b.gate_f[0]);
    }
    ck_assert_double_lt(now_s() - t0, wse_test_scale(5.0));
    blocked_finish(&b);
    wse_future_release(p);
    wse_future_release(d);
}
END_TEST

START_TEST(wait_negative_timeout_is_forever)
{
    static const double timeouts[] = {WSE_FOREVER, -0.001, -1e9, -INFINITY};
    for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
        struct blocked b;
        blocked_start(&b, 1);
        struct delayed_flag df;
        delayed_flag_start(&df, &b.gate.open, 20000);
        size_t nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait(b.gate_f, 1, timeouts[k], WSE_ALL_COMPLETED, NULL, &nd), 0);
        ck_assert_uint_eq(nd, 1);
        delayed_flag_join(&df);
        blocked_finish(&b);
    }
}
END_TEST

/* Timeouts too large for a timespec must mean "a long time", not overflow. */
START_TEST(wait_huge_timeout_waits)
{
    static const double timeouts[] = {1e6, 1e12, 1e300, INFINITY};
    for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
        struct blocked b;
        blocked_start(&b, 1);
        struct delayed_flag df;
        delayed_flag_start(&df, &b.gate.open, 20000);
        size_t nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait(b.gate_f, 1, timeouts[k], WSE_ALL_COMPLETED, NULL, &nd), 0);
        ck_assert_uint_eq(nd, 1);
        delayed_flag_join(&df);
        blocked_finish(&b);
    }
}
END_TEST

/* ---- out / n_done ----------------------------------------------------------------- */

START_TEST(wait_out_stable_partition_input_order)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d0 = make_done(b.ex, NULL);
    wse_future *e1 = make_failed(b.ex, EIO);
    wse_future *d3 = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p0 = make_pending(&b, &ran);
    wse_future *p1 = make_pending(&b, &ran);
    wse_future *c2 = make_cancelled(&b, &ran);
    wse_future *p2 = make_pending(&b, &ran);
    wse_future *in[8] = {p0, d0, p1, e1, c2, b.gate_f[0], p2, d3}, *out[8];
    wse_future *exp[8] = {d0, e1, c2, d3, p0, p1, b.gate_f[0], p2};
    for (int mode = WSE_FIRST_COMPLETED; mode <= WSE_ALL_COMPLETED; mode++) {
        size_t nd = SENTINEL_N;
        fill_sentinels(out, 8);
        int rc = wse_wait(in, 8, 0, (wse_return_when)mode, out, &nd);
        ck_assert_int_eq(rc, mode == WSE_ALL_COMPLETED ? ETIMEDOUT : 0);
        ck_assert_uint_eq(nd, 4);
        expect_out(out, exp, 8);
    }
    /* The input array itself is not reordered. */
    ck_assert_ptr_eq(in[0], p0);
    ck_assert_ptr_eq(in[7], d3);
    blocked_finish(&b);
    release_all(in, 5);
    wse_future_release(p2);
    wse_future_release(d3);
}
END_TEST

START_TEST(wait_in_place_partition)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d0 = make_done(b.ex, NULL);
    wse_future *d1 = make_failed(b.ex, EIO);
    blocked_block(&b);
    wse_future *p0 = make_pending(&b, &ran);
    wse_future *d2 = make_cancelled(&b, &ran);
    wse_future *p1 = make_pending(&b, &ran);
    wse_future *f[5] = {p0, d0, p1, d1, d2};
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(f, 5, 0, WSE_ALL_COMPLETED, f, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 3);
    wse_future *exp[5] = {d0, d1, d2, p0, p1};
    expect_out(f, exp, 5);
    /* Again on the partitioned array, now with everything done. */
    blocked_release(&b);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(f, 5, WSE_FOREVER, WSE_ALL_COMPLETED, f, &nd), 0);
    ck_assert_uint_eq(nd, 5);
    expect_out(f, exp, 5);
    blocked_finish(&b);
    release_all(f, 5);
}
END_TEST

START_TEST(wait_out_null_and_n_done_null)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[2] = {p, d}, *out[2];
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 2, 0, WSE_ALL_COMPLETED, NULL, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 1);
    ck_assert_int_eq(wse_wait(in, 2, 0, WSE_FIRST_COMPLETED, out, NULL), 0);
    ck_assert_ptr_eq(out[0], d);
    ck_assert_ptr_eq(out[1], p);
    ck_assert_int_eq(wse_wait(in, 2, 0, WSE_FIRST_COMPLETED, NULL, NULL), 0);
    ck_assert_int_eq(wse_wait(in, 2, 0.01, WSE_ALL_COMPLETED, NULL, NULL), ETIMEDOUT);
    blocked_release(&b);
    ck_assert_int_eq(wse_wait(in, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    ck_assert(wse_future_done(p));
    blocked_finish(&b);
    release_all(in, 2);
}
END_TEST

START_TEST(wait_duplicates_each_slot)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[5] = {d, p, d, p, d}, *out[5];
    wse_future *exp[5] = {d, d, d, p, p};
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 5, 0, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 3);
    expect_out(out, exp, 5);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 5, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    expect_out(out, exp, 5);
    blocked_finish(&b);
    wse_future_release(d);
    wse_future_release(p);
}
END_TEST

/* Duplicates of a pending future: the count of pending entries must still reach
 * zero when it completes (one completion, several slots). */
START_TEST(wait_duplicates_all_completed_wakes)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p = make_pending(&b, &ran);
    wse_future *g = b.gate_f[0];
    wse_future *in[5] = {g, p, g, p, g}, *out[5];
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 5, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 5);
    expect_out(out, in, 5);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    delayed_flag_join(&df);
    blocked_finish(&b);
    wse_future_release(p);
}
END_TEST

START_TEST(wait_futures_of_two_executors)
{
    struct blocked b1, b2;
    blocked_start(&b1, 1);
    blocked_start(&b2, 2);
    wse_future *in[3] = {b1.gate_f[0], b2.gate_f[0], b2.gate_f[1]}, *out[3];
    struct delayed_flag df;
    delayed_flag_start(&df, &b2.gate.open, 20000);
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_ge(nd, 1);
    ck_assert_uint_le(nd, 2);
    ck_assert_ptr_eq(out[nd], b1.gate_f[0]); /* first pending entry */
    ck_assert_int_eq(wse_future_state(b1.gate_f[0]), WSE_RUNNING);
    delayed_flag_join(&df);
    delayed_flag_start(&df, &b1.gate.open, 20000);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    expect_out(out, in, 3);
    delayed_flag_join(&df);
    blocked_finish(&b1);
    blocked_finish(&b2);
}
END_TEST

/* More than a small fixed number of futures (the waiter block is allocated). */
START_TEST(wait_many_futures)
{
    enum { N = 1000 };
    wse_executor *ex = make_executor(4);
    struct gate g = {0};
    wse_future **f = malloc(sizeof *f * N);
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_submit(ex, gate_task, &g, &f[i]), 0);
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(f, N, 0.01, WSE_FIRST_COMPLETED, NULL, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 0);
    struct delayed_flag df;
    delayed_flag_start(&df, &g.open, 20000);
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_FIRST_COMPLETED, NULL, &nd), 0);
    ck_assert_uint_ge(nd, 1);
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, f, &nd), 0);
    ck_assert_uint_eq(nd, N);
    delayed_flag_join(&df);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(f, N);
    free(f);
}
END_TEST

/* A plain thread's ALL_COMPLETED wait on more than 8 futures waits for them one
 * after the other (wait.c, wait_all_in_turn()). Completions in the worst order
 * for it (last entry first), failed and cancelled entries among them, and a
 * deadline that passes in the middle of the pass: the partial result must be
 * the same stable partition as the general path's. */
struct reverse_setter {
    wse_future **p;
    int n;
};

static void *
reverse_setter_main(void *arg)
{
    struct reverse_setter *r = arg;
    for (int i = r->n - 1; i >= 0; i--) {
        usleep(200);
        if (i % 5 == 1)
            ck_assert_int_eq(wse_promise_set_error(r->p[i], EIO), 0);
        else if (i % 5 == 2)
            ck_assert_int_eq(wse_future_cancel(r->p[i]), true);
        else
            ck_assert_int_eq(wse_promise_set_value(r->p[i], NULL), 0);
    }
    return NULL;
}

START_TEST(wait_all_many_in_reverse_order_and_deadline_midway)
{
    enum { N = 40 };
    wse_future *p[N], *out[N], *exp[N];
    size_t nd = SENTINEL_N;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_promise_create(&p[i], NULL), 0);

    /* Done: 0..9 and every third entry after; the pass stops at entry 10. */
    size_t k = 0;
    for (int i = 0; i < N; i++) {
        if (i < 10 || i % 3 == 0) {
            ck_assert_int_eq(wse_promise_set_value(p[i], NULL), 0);
            exp[k++] = p[i];
        }
    }
    size_t done = k;
    for (int i = 0; i < N; i++)
        if (!(i < 10 || i % 3 == 0))
            exp[k++] = p[i];
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(p, N, 0.02, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.02 - 1e-6);
    ck_assert_uint_eq(nd, done);
    expect_out(out, exp, N);
    for (int i = 0; i < N; i++)
        wse_future_release(p[i]);

    /* Pending, completed last entry first, with failures and cancellations. */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_promise_create(&p[i], NULL), 0);
    struct reverse_setter r = {p, N};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, reverse_setter_main, &r), 0);
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait(p, N, wse_test_scale(10.0), WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, N);
    expect_out(out, p, N);
    for (int i = 0; i < N; i++)
        ck_assert(wse_future_state(p[i]) == WSE_DONE || wse_future_state(p[i]) == WSE_FAILED ||
                  wse_future_state(p[i]) == WSE_CANCELLED);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < N; i++)
        wse_future_release(p[i]);
}
END_TEST

/* A plain thread's wait on more than 8 futures returns without unlinking its
 * nodes from the futures still pending (wait.c, "detached" wait block). Those
 * futures must still work: a second wait on them, a callback, their completion
 * after every user reference is gone (which frees the block: ASan and valgrind
 * check that nothing leaks or is touched after the free). */
static int detached_cb_runs;

static void
detached_cb(wse_future *f, void *arg)
{
    (void)f;
    (void)arg;
    counter_add(&detached_cb_runs, 1);
}

START_TEST(wait_many_returns_leaving_pending_futures_usable)
{
    enum { N = 64 };
    struct blocked b;
    wse_future *f[N], *out[N];
    struct delayed_cancel dc;
    size_t nd = SENTINEL_N;

    blocked_start(&b, 2);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_submit(b.ex, task_value, (void *)(intptr_t)i, &f[i]), 0);
    delayed_cancel_start(&dc, f[N - 1], 20000);
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_int_eq(delayed_cancel_join(&dc), 1);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], f[N - 1]);
    ck_assert_ptr_eq(out[1], f[0]);
    /* The futures now carry the first wait's nodes; wait on them again. */
    ck_assert_int_eq(wse_wait(f, N, 0.01, WSE_ALL_COMPLETED, NULL, &nd), ETIMEDOUT);
    ck_assert_uint_eq(nd, 1);
    ck_assert_int_eq(wse_future_on_done(f[0], detached_cb, NULL), 0);
    ck_assert_int_eq(counter_get(&detached_cb_runs), 0);
    /* Drop every user reference while the tasks are still queued: only the
     * executor's keeps each future (and so the wait blocks) alive. */
    for (int i = 1; i < N; i++)
        wse_future_release(f[i]);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(f[0], WSE_FOREVER), 0);
    ck_assert_ptr_eq(wse_future_value(f[0]), (void *)0);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&detached_cb_runs), 1);
    wse_future_release(f[0]);
}
END_TEST

/* FIRST_EXCEPTION over many futures, then shutdown(cancel_pending): the pending
 * futures are cancelled with the wait's nodes still on them. */
START_TEST(wait_many_first_exception_then_cancel_pending)
{
    enum { N = 100 };
    struct blocked b;
    wse_executor *ex2 = make_executor(1);
    struct gate gf = {.code = EIO};
    struct delayed_flag df;
    wse_future *f[N];
    size_t nd = SENTINEL_N;

    blocked_start(&b, 1);
    f[0] = start_gate(ex2, &gf);
    for (int i = 1; i < N; i++)
        ck_assert_int_eq(wse_submit(b.ex, task_value, NULL, &f[i]), 0);
    delayed_flag_start(&df, &gf.open, 20000);
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_FIRST_EXCEPTION, NULL, &nd), 0);
    delayed_flag_join(&df);
    ck_assert_uint_eq(nd, 1);
    ck_assert_int_eq(wse_future_error(f[0]), EIO);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    blocked_finish(&b);
    for (int i = 1; i < N; i++)
        ck_assert_int_eq(wse_future_state(f[i]), WSE_CANCELLED);
    ck_assert_int_eq(wse_executor_destroy(ex2), 0);
    release_all(f, N);
}
END_TEST

/* ---- wse_wait_until ---------------------------------------------------------------- */

/* Also proves the deadline is on CLOCK_MONOTONIC: read on CLOCK_REALTIME, a
 * monotonic deadline lies decades in the past and the wait would return at once. */
START_TEST(wait_until_absolute_deadline)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[3] = {p, d, b.gate_f[0]}, *out[3];
    struct timespec deadline = mono_in(0.1), now;
    double t0 = now_s();
    size_t nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait_until(in, 3, &deadline, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &now);
    ck_assert_int_ge(ts_cmp(&now, &deadline), 0);
    ck_assert_double_lt(now_s() - t0, wse_test_scale(5.0));
    ck_assert_uint_eq(nd, 1);
    wse_future *exp[3] = {d, p, b.gate_f[0]};
    expect_out(out, exp, 3);
    /* A deadline the futures beat: returns 0. */
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    deadline = mono_in(wse_test_scale(60.0));
    nd = SENTINEL_N;
    ck_assert_int_eq(wse_wait_until(in, 3, &deadline, WSE_ALL_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 3);
    delayed_flag_join(&df);
    blocked_finish(&b);
    release_all(in, 2);
}
END_TEST

START_TEST(wait_until_null_deadline_forever)
{
    struct blocked b;
    blocked_start(&b, 1);
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 50000);
    size_t nd = SENTINEL_N;
    wse_future *out[1];
    ck_assert_int_eq(wse_wait_until(b.gate_f, 1, NULL, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], b.gate_f[0]);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    delayed_flag_join(&df);
    blocked_finish(&b);
}
END_TEST

START_TEST(wait_until_past_deadline_polls)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 1);
    wse_future *d = make_done(b.ex, NULL);
    blocked_block(&b);
    wse_future *p = make_pending(&b, &ran);
    wse_future *in[2] = {p, d}, *out[2];
    struct timespec past[3] = {{0, 0}, mono_in(-1.0), mono_in(0)};
    double t0 = now_s();
    for (int k = 0; k < 3; k++) {
        size_t nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait_until(in, 2, &past[k], WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
        ck_assert_uint_eq(nd, 1);
        ck_assert_ptr_eq(out[0], d);
        ck_assert_ptr_eq(out[1], p);
        nd = SENTINEL_N;
        ck_assert_int_eq(wse_wait_until(in, 2, &past[k], WSE_FIRST_COMPLETED, out, &nd), 0);
        ck_assert_uint_eq(nd, 1);
    }
    ck_assert_double_lt(now_s() - t0, wse_test_scale(5.0));
    ck_assert_int_eq(wse_future_state(p), WSE_PENDING);
    blocked_finish(&b);
    release_all(in, 2);
}
END_TEST

/* ---- EINVAL: bad input touches nothing --------------------------------------------- */

/* A done future and a fixture for the matrix. */
struct einval_fixture {
    wse_executor *ex;
    wse_future *f[3];
    wse_future *out[4];
    size_t nd;
};

static void
einval_setup(struct einval_fixture *x)
{
    x->ex = make_executor(1);
    for (int i = 0; i < 3; i++)
        x->f[i] = make_done(x->ex, NULL);
    fill_sentinels(x->out, 4);
    x->nd = SENTINEL_N;
}

static void
einval_check_untouched_and_teardown(struct einval_fixture *x)
{
    expect_sentinels(x->out, 4);
    ck_assert_uint_eq(x->nd, SENTINEL_N);
    ck_assert_int_eq(wse_executor_destroy(x->ex), 0);
    release_all(x->f, 3);
}

START_TEST(wait_einval_n_zero)
{
    struct einval_fixture x;
    einval_setup(&x);
    ck_assert_int_eq(wse_wait(x.f, 0, 0, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait(x.f, 0, WSE_FOREVER, WSE_FIRST_COMPLETED, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_einval_futures_null)
{
    struct einval_fixture x;
    einval_setup(&x);
    ck_assert_int_eq(wse_wait(NULL, 3, 0, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait(NULL, 0, 0, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_einval_null_entry)
{
    struct einval_fixture x;
    einval_setup(&x);
    for (int pos = 0; pos < 3; pos++) {
        wse_future *in[3] = {x.f[0], x.f[1], x.f[2]};
        in[pos] = NULL;
        for (int mode = WSE_FIRST_COMPLETED; mode <= WSE_ALL_COMPLETED; mode++)
            ck_assert_int_eq(wse_wait(in, 3, 0, (wse_return_when)mode, x.out, &x.nd), EINVAL);
        /* In place: the array is not partitioned either. */
        ck_assert_int_eq(wse_wait(in, 3, WSE_FOREVER, WSE_FIRST_COMPLETED, in, &x.nd), EINVAL);
        for (int i = 0; i < 3; i++)
            ck_assert_ptr_eq(in[i], i == pos ? NULL : x.f[i]);
    }
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_einval_return_when_zero)
{
    struct einval_fixture x;
    einval_setup(&x);
    /* All futures are done: still EINVAL (no silent success as in Python). */
    ck_assert_int_eq(wse_wait(x.f, 3, 0, (wse_return_when)0, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait(x.f, 3, WSE_FOREVER, (wse_return_when)0, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait(x.f, 3, 0, (wse_return_when)-1, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_einval_return_when_four)
{
    struct einval_fixture x;
    einval_setup(&x);
    ck_assert_int_eq(wse_wait(x.f, 3, 0, (wse_return_when)4, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait(x.f, 3, WSE_FOREVER, (wse_return_when)4, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait(x.f, 3, 0, (wse_return_when)1000, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_einval_nan_timeout)
{
    struct einval_fixture x;
    einval_setup(&x);
    for (int mode = WSE_FIRST_COMPLETED; mode <= WSE_ALL_COMPLETED; mode++) {
        ck_assert_int_eq(wse_wait(x.f, 3, NAN, (wse_return_when)mode, x.out, &x.nd), EINVAL);
        ck_assert_int_eq(wse_wait(x.f, 3, -NAN, (wse_return_when)mode, x.out, &x.nd), EINVAL);
    }
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_until_einval_tv_nsec_negative)
{
    struct einval_fixture x;
    einval_setup(&x);
    struct timespec ts = mono_in(1.0);
    ts.tv_nsec = -1;
    ck_assert_int_eq(wse_wait_until(x.f, 3, &ts, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait_until(x.f, 3, &ts, WSE_FIRST_COMPLETED, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_until_einval_tv_nsec_one_billion)
{
    struct einval_fixture x;
    einval_setup(&x);
    struct timespec ts = mono_in(1.0);
    ts.tv_nsec = 1000000000L;
    ck_assert_int_eq(wse_wait_until(x.f, 3, &ts, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ts.tv_nsec = 2000000000L;
    ck_assert_int_eq(wse_wait_until(x.f, 3, &ts, WSE_FIRST_EXCEPTION, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

START_TEST(wait_until_einval_bad_arguments)
{
    struct einval_fixture x;
    einval_setup(&x);
    struct timespec ts = mono_in(1.0);
    wse_future *with_null[2] = {x.f[0], NULL};
    ck_assert_int_eq(wse_wait_until(x.f, 0, &ts, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait_until(NULL, 3, &ts, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait_until(with_null, 2, &ts, WSE_ALL_COMPLETED, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait_until(x.f, 3, &ts, (wse_return_when)0, x.out, &x.nd), EINVAL);
    ck_assert_int_eq(wse_wait_until(x.f, 3, NULL, (wse_return_when)4, x.out, &x.nd), EINVAL);
    einval_check_untouched_and_teardown(&x);
}
END_TEST

static Suite *
wait_rules_suite(void)
{
    Suite *s = suite_create("wait_rules");

    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, wait_first_completed_returns_already_done);
    tcase_add_test(tc, wait_first_completed_wakes_on_completion);
    tcase_add_test(tc, wait_first_completed_counts_failed_and_cancelled);
    tcase_add_test(tc, wait_cancel_during_wait_wakes);
    tcase_add_test(tc, wait_all_completed_wakes_when_last_is_cancelled);
    tcase_add_test(tc, wait_wakes_on_shutdown_cancel_pending);
    tcase_add_test(tc, wait_first_exception_returns_already_failed);
    tcase_add_test(tc, wait_first_exception_wakes_on_failure);
    tcase_add_test(tc, wait_first_exception_ignores_cancelled);
    tcase_add_test(tc, wait_first_exception_ignores_cancel_during_wait);
    tcase_add_test(tc, wait_first_exception_without_failure_acts_as_all_completed);
    tcase_add_test(tc, wait_all_completed_waits_for_every_future);
    tcase_add_test(tc, wait_all_completed_failures_do_not_stop_it);
    tcase_add_test(tc, wait_done_includes_failed_and_cancelled);
    tcase_add_test(tc, wait_timeout_returns_etimedout_and_partitions);
    tcase_add_test(tc, wait_timeout_cancels_nothing);
    tcase_add_test(tc, wait_zero_timeout_polls);
    tcase_add_test(tc, wait_negative_timeout_is_forever);
    tcase_add_test(tc, wait_huge_timeout_waits);
    tcase_add_test(tc, wait_out_stable_partition_input_order);
    tcase_add_test(tc, wait_in_place_partition);
    tcase_add_test(tc, wait_out_null_and_n_done_null);
    tcase_add_test(tc, wait_duplicates_each_slot);
    tcase_add_test(tc, wait_duplicates_all_completed_wakes);
    tcase_add_test(tc, wait_futures_of_two_executors);
    tcase_add_test(tc, wait_many_futures);
    tcase_add_test(tc, wait_all_many_in_reverse_order_and_deadline_midway);
    tcase_add_test(tc, wait_many_returns_leaving_pending_futures_usable);
    tcase_add_test(tc, wait_many_first_exception_then_cancel_pending);
    tcase_add_test(tc, wait_until_absolute_deadline);
    tcase_add_test(tc, wait_until_null_deadline_forever);
    tcase_add_test(tc, wait_until_past_deadline_polls);
    suite_add_tcase(s, tc);

    tc = tcase_create("einval");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, wait_einval_n_zero);
    tcase_add_test(tc, wait_einval_futures_null);
    tcase_add_test(tc, wait_einval_null_entry);
    tcase_add_test(tc, wait_einval_return_when_zero);
    tcase_add_test(tc, wait_einval_return_when_four);
    tcase_add_test(tc, wait_einval_nan_timeout);
    tcase_add_test(tc, wait_until_einval_tv_nsec_negative);
    tcase_add_test(tc, wait_until_einval_tv_nsec_one_billion);
    tcase_add_test(tc, wait_until_einval_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(wait_rules_suite());
}

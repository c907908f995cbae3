/*
 * Check suite for wse_wait / wse_wait_until: every rule of SPEC.md "wait
 * semantics" as its own test, the EINVAL matrix, translations of CPython's
 * test_wait.py and asyncio's wait tests, waits from inside workers (nested
 * fork-join, EDEADLK), and race stresses.
 *
 * Vocabulary: a "blocked" executor has every worker held by a gate task
 * (tests/wse_test.h), so futures submitted to it stay PENDING; its gate futures
 * are RUNNING until the test opens the gate. DONE/FAILED futures come from a
 * second, free executor.
 *
 * Deviations from Python that SPEC makes on purpose and these tests follow:
 * n == 0 is EINVAL; a cancelled future is done at once; duplicates get a slot each.
 */
#include "wse_test.h"

static void
expect_out(wse_future *const out[], wse_future *const expected[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == expected[i], "out[%zu] is %p, expected %p", i, (void *)out[i],
                      (void *)expected[i]);
}

static void
fill_sentinels(wse_future *out[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = SENTINEL;
}

static void
expect_sentinels(wse_future *const out[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == SENTINEL, "out[%zu] was written (%p)", i, (void *)out[i]);
}

/* Submit a task on gate g and wait until it runs. */
static wse_future *
start_gate(wse_executor *ex, struct gate *g)
{
    int before = counter_get(&g->entered);
    wse_future *f = NULL;
    ck_assert_int_eq(wse_submit(ex, gate_task, g, &f), 0);
    spin_until_at_least(&g->entered, before + 1, "a gate task to start");
    ck_assert_int_eq(wse_future_state(f), WSE_RUNNING);
    return f;
}

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
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, 0.3, WSE_FIRST_EXCEPTION, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 0.3 - 1e-6);
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
    ck_assert_double_lt(dt, 5.0);
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
    ck_assert_double_lt(now_s() - t0, 5.0);
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

static int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

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
    ck_assert_double_lt(now_s() - t0, 5.0);
    ck_assert_uint_eq(nd, 1);
    wse_future *exp[3] = {d, p, b.gate_f[0]};
    expect_out(out, exp, 3);
    /* A deadline the futures beat: returns 0. */
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    deadline = mono_in(60.0);
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
    ck_assert_double_lt(now_s() - t0, 5.0);
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
     * wsexec a cancelled future is done at once (SPEC deviation). */
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
    ck_assert_double_lt(now_s() - t0, 5.0);
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
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, 5.0, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_double_lt(now_s() - t0, 4.0);
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
    double t0 = now_s();
    ck_assert_int_eq(wse_wait(in, 2, 1.0, WSE_ALL_COMPLETED, out, &nd), ETIMEDOUT);
    ck_assert_double_ge(now_s() - t0, 1.0 - 1e-6);
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
    ck_assert_double_lt(t.elapsed, 5.0);
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
 * run if B's wait helps by stealing them from A. */
struct steal_help {
    int ran;
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
    while (!flag_get(&h->pushed))
        sched_yield();
    h->rc_b = wse_future_wait(h->release, 30.0);
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
    ck_assert_int_eq(wse_wait(h.child, 3, 10.0, WSE_ALL_COMPLETED, NULL, NULL), 0);
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
        ck_assert_int_eq(wse_future_wait(f, 30.0), 0);
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
    ck_assert_int_eq(wse_future_wait(p, 30.0), 0);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    ck_assert_int_eq(n.rc_future_wait, EDEADLK);
    ck_assert_int_eq(n.rc_wait_all, EDEADLK);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(p);
}
END_TEST

/* ---- Stresses ---------------------------------------------------------------------- */

static long
stress_rounds(long dflt)
{
    return env_long("WSE_STRESS_ROUNDS", dflt);
}

struct releaser {
    pthread_t thread;
    pthread_barrier_t bar;
    struct gate *gates;
    long rounds;
};

static void *
releaser_main(void *arg)
{
    struct releaser *r = arg;
    for (long i = 0; i < r->rounds; i++) {
        pthread_barrier_wait(&r->bar);
        gate_open(&r->gates[i]);
    }
    return NULL;
}

/* N tasks released by one flag at once, racing a FIRST_COMPLETED wait's
 * registration. Every reported-done future must be done; the partition must be
 * a permutation of the input. */
START_TEST(wait_first_completed_race_stress)
{
    enum { N = 8 };
    long rounds = stress_rounds(1000);
    wse_executor *ex = make_executor(4);
    struct releaser r = {.rounds = rounds};
    r.gates = calloc((size_t)rounds, sizeof *r.gates);
    ck_assert_ptr_nonnull(r.gates);
    ck_assert_int_eq(pthread_barrier_init(&r.bar, NULL, 2), 0);
    ck_assert_int_eq(pthread_create(&r.thread, NULL, releaser_main, &r), 0);
    for (long i = 0; i < rounds; i++) {
        wse_future *f[N], *out[N];
        for (int k = 0; k < N; k++)
            ck_assert_int_eq(wse_submit(ex, gate_task, &r.gates[i], &f[k]), 0);
        pthread_barrier_wait(&r.bar);
        size_t nd = SENTINEL_N;
        int rc;
        if (i % 3 == 0) {
            rc = wse_wait(f, N, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd);
        } else if (i % 3 == 1) {
            rc = wse_wait(f, N, 60.0, WSE_FIRST_COMPLETED, out, &nd);
        } else {
            struct timespec dl = mono_in(60.0);
            rc = wse_wait_until(f, N, &dl, WSE_FIRST_COMPLETED, out, &nd);
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_ge(nd, 1);
        ck_assert_uint_le(nd, N);
        for (size_t k = 0; k < nd; k++)
            ck_assert_msg(wse_future_done(out[k]), "round %ld: out[%zu] reported done", i, k);
        for (int k = 0; k < N; k++) {
            int seen = 0;
            for (int j = 0; j < N; j++)
                seen += out[j] == f[k];
            ck_assert_int_eq(seen, 1);
        }
        ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd), 0);
        ck_assert_uint_eq(nd, N);
        release_all(f, N);
    }
    ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
    pthread_barrier_destroy(&r.bar);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    free(r.gates);
}
END_TEST

/* A plain thread submits one task and waits forever for it, round after round;
 * now and then it pauses so that every worker parks. A lost wake-up hangs a
 * round: the watchdog fails the test when one takes more than 10 s. */
struct watchdog {
    pthread_t thread;
    long progress; /* rounds completed (atomic) */
    int stop;
};

static void *
watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    long last = -1;
    double last_t = now_s();
    while (!flag_get(&w->stop)) {
        usleep(10000);
        long p = __atomic_load_n(&w->progress, __ATOMIC_SEQ_CST);
        double t = now_s();
        if (p != last) {
            last = p;
            last_t = t;
        } else if (t - last_t > 10.0) {
            fprintf(stderr, "watchdog: round %ld stuck for more than 10 s\n", p);
            ck_abort_msg("round %ld stuck for more than 10 s (lost wake-up?)", p);
        }
    }
    return NULL;
}

/* Busy-wait about usec microseconds (no sleep: the point is fine timing). */
static void
spin_for(double usec)
{
    double end = now_s() + usec / 1e6;
    while (now_s() < end)
        ;
}

/*
 * Each round: a probe task runs and the test polls (without sleeping) until it
 * is done, so it knows within a fraction of a microsecond when the worker went
 * back to look for work; after a random delay of 0 to ~100 us it submits the
 * real task and waits forever for it. The delays sweep the submission across the
 * worker's last search, its announce and its re-check before it sleeps: the
 * window where a lost wake-up would strand the task. Every 100th round the test
 * sleeps first, so that the submission also finds workers deeply parked.
 */
static void
submit_while_parked(unsigned workers, unsigned spin_rounds)
{
    long rounds = env_long("WSE_PARK_ROUNDS", 5000);
    wse_options o = {0};
    o.workers = workers;
    o.spin_rounds = spin_rounds;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    struct watchdog w = {0};
    ck_assert_int_eq(pthread_create(&w.thread, NULL, watchdog_main, &w), 0);
    int ran = 0;
    uint32_t rnd = 2463534242u;
    for (long i = 0; i < rounds; i++) {
        wse_future *f;
        if (i % 100 == 99) {
            usleep(2000); /* let every worker park */
        } else {
            ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
            while (!wse_future_done(f))
                ;
            wse_future_release(f);
            rnd ^= rnd << 13;
            rnd ^= rnd >> 17;
            rnd ^= rnd << 5;
            spin_for(rnd % 4 == 0 ? (double)((rnd >> 8) % 100) : (double)((rnd >> 8) % 1600) / 100);
        }
        ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
        if (i % 2 == 0) {
            ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        } else {
            ck_assert_int_eq(wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        }
        ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        wse_future_release(f);
        __atomic_store_n(&w.progress, i + 1, __ATOMIC_SEQ_CST);
    }
    flag_set(&w.stop);
    ck_assert_int_eq(pthread_join(w.thread, NULL), 0);
    ck_assert_int_eq(counter_get(&ran), rounds + rounds - rounds / 100);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}

START_TEST(wait_submit_while_workers_parked_one_worker)
{
    submit_while_parked(1, 0);
}
END_TEST

START_TEST(wait_submit_while_workers_parked_four_workers)
{
    submit_while_parked(4, 0);
}
END_TEST

/* spin_rounds 1: workers go to park almost at once, so submissions race the
 * announce/re-check of parking far more often. */
START_TEST(wait_submit_while_workers_parked_short_spin)
{
    submit_while_parked(1, 1);
    submit_while_parked(2, 1);
}
END_TEST

static Suite *
wait_suite(void)
{
    Suite *s = suite_create("wait");

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

    tc = tcase_create("python");
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

    tc = tcase_create("worker");
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

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wait_first_completed_race_stress);
    tcase_add_test(tc, wait_submit_while_workers_parked_one_worker);
    tcase_add_test(tc, wait_submit_while_workers_parked_four_workers);
    tcase_add_test(tc, wait_submit_while_workers_parked_short_spin);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(wait_suite());
}

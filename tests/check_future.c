/*
 * Check suite for futures: the state machine, value and error getters, cancel,
 * reference counting, completion callbacks, wse_future_wait, and futures that
 * outlive their executor.
 *
 * PENDING futures are made on a "blocked" executor whose every worker runs a gate
 * task the test controls (tests/wse_test.h), so they cannot start until the test
 * opens the gate.
 */
#include "wse_test.h"

/* ---- State machine and getters ------------------------------------------------ */

START_TEST(future_pending_running_done)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    b.gate.value = (void *)(uintptr_t)11;
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    ck_assert(!wse_future_done(b.gate_f[0]));
    wse_future *f = make_pending(&b, &ran);
    ck_assert(!wse_future_done(f));
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    ck_assert(wse_future_done(b.gate_f[0]));
    ck_assert_ptr_eq(wse_future_value(b.gate_f[0]), (void *)(uintptr_t)11);
    ck_assert_int_eq(wse_future_error(b.gate_f[0]), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 1);
    blocked_finish(&b);
    wse_future_release(f);
}
END_TEST

START_TEST(future_failed_reports_code_and_no_value)
{
    wse_executor *ex = make_executor(1);
    wse_future *f = make_failed(ex, EIO);
    ck_assert(wse_future_done(f));
    ck_assert_int_eq(wse_future_error(f), EIO);
    /* task_code stored a value before failing: it must be ignored. */
    ck_assert_ptr_null(wse_future_value(f));
    wse_future *g = make_failed(ex, -7);
    ck_assert_int_eq(wse_future_error(g), -7);
    ck_assert_ptr_null(wse_future_value(g));
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
    wse_future_release(g);
}
END_TEST

START_TEST(future_cancelled_reports_ecanceled_and_never_runs)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *f = make_pending(&b, &ran);
    ck_assert(wse_future_cancel(f));
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    ck_assert(wse_future_done(f));
    ck_assert_int_eq(wse_future_error(f), ECANCELED);
    ck_assert_ptr_null(wse_future_value(f));
    ck_assert_int_eq(wse_future_wait(f, 0), 0);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    wse_future_release(f);
}
END_TEST

START_TEST(future_value_and_error_zero_until_done)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    b.gate.value = (void *)(uintptr_t)5;
    wse_future *running = b.gate_f[0];
    wse_future *pending = make_pending(&b, &ran);
    ck_assert_ptr_null(wse_future_value(running));
    ck_assert_int_eq(wse_future_error(running), 0);
    ck_assert_ptr_null(wse_future_value(pending));
    ck_assert_int_eq(wse_future_error(pending), 0);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(running, WSE_FOREVER), 0);
    ck_assert_ptr_eq(wse_future_value(running), (void *)(uintptr_t)5);
    blocked_finish(&b);
    ck_assert_int_eq(wse_future_state(pending), WSE_DONE);
    ck_assert_ptr_null(wse_future_value(pending)); /* task_count stores nothing */
    ck_assert_int_eq(wse_future_error(pending), 0);
    wse_future_release(pending);
}
END_TEST

static int
task_check_result_null(void *arg, void **result)
{
    (void)arg;
    return *result == NULL ? 0 : EPROTO;
}

START_TEST(future_result_starts_null)
{
    wse_executor *ex = make_executor_any(2);
    wse_future *f[16];
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(wse_submit(ex, task_check_result_null, NULL, &f[i]), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(wse_future_state(f[i]), WSE_DONE);
        ck_assert_int_eq(wse_future_error(f[i]), 0);
        ck_assert_ptr_null(wse_future_value(f[i]));
    }
    release_all(f, 16);
}
END_TEST

START_TEST(future_done_value_visible_to_other_thread)
{
    /* Values written by the task before it returns are visible after wait. */
    wse_executor *ex = make_executor(4);
    enum { N = 200 };
    wse_future *f[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_submit(ex, task_value, (void *)(uintptr_t)(1000 + i), &f[i]), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(wse_future_wait(f[i], WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_state(f[i]), WSE_DONE);
        ck_assert_ptr_eq(wse_future_value(f[i]), (void *)(uintptr_t)(1000 + i));
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(f, N);
}
END_TEST

/* ---- Cancel --------------------------------------------------------------------- */

START_TEST(future_cancel_true_only_once)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *f = make_pending(&b, &ran);
    ck_assert(wse_future_cancel(f));
    ck_assert(!wse_future_cancel(f));
    ck_assert(!wse_future_cancel(f));
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    blocked_finish(&b);
    ck_assert(!wse_future_cancel(f));
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(f);
}
END_TEST

START_TEST(future_cancel_running_returns_false)
{
    struct blocked b;
    blocked_start(&b, 1);
    b.gate.value = (void *)(uintptr_t)3;
    wse_future *g = b.gate_f[0];
    ck_assert(!wse_future_cancel(g));
    ck_assert_int_eq(wse_future_state(g), WSE_RUNNING);
    ck_assert_int_eq(wse_future_error(g), 0);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(g, WSE_FOREVER), 0);
    /* The running task was not interrupted. */
    ck_assert_int_eq(wse_future_state(g), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(g), (void *)(uintptr_t)3);
    blocked_finish(&b);
}
END_TEST

START_TEST(future_cancel_done_or_failed_returns_false)
{
    wse_executor *ex = make_executor(1);
    wse_future *d = make_done(ex, (void *)(uintptr_t)9);
    wse_future *e = make_failed(ex, EPERM);
    ck_assert(!wse_future_cancel(d));
    ck_assert(!wse_future_cancel(e));
    ck_assert_int_eq(wse_future_state(d), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(d), (void *)(uintptr_t)9);
    ck_assert_int_eq(wse_future_state(e), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(e), EPERM);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(d);
    wse_future_release(e);
}
END_TEST

/* Several threads cancel the same PENDING future at once: exactly one wins. */
struct cancel_race {
    pthread_barrier_t *bar;
    wse_future **f;
    int rounds;
    int wins;
};

static void *
cancel_racer(void *arg)
{
    struct cancel_race *c = arg;
    for (int r = 0; r < c->rounds; r++) {
        pthread_barrier_wait(c->bar);
        if (wse_future_cancel(*c->f))
            c->wins++;
        pthread_barrier_wait(c->bar);
    }
    return NULL;
}

START_TEST(future_cancel_race_exactly_one_wins)
{
    enum { THREADS = 4, ROUNDS = 300 };
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    pthread_barrier_t bar;
    ck_assert_int_eq(pthread_barrier_init(&bar, NULL, THREADS + 1), 0);
    wse_future *f = NULL;
    struct cancel_race c[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        c[t] = (struct cancel_race){.bar = &bar, .f = &f, .rounds = ROUNDS, .wins = 0};
        ck_assert_int_eq(pthread_create(&th[t], NULL, cancel_racer, &c[t]), 0);
    }
    for (int r = 0; r < ROUNDS; r++) {
        f = make_pending(&b, &ran);
        pthread_barrier_wait(&bar); /* racers cancel */
        pthread_barrier_wait(&bar); /* racers done */
        ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
        wse_future_release(f);
    }
    int wins = 0;
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
        wins += c[t].wins;
    }
    ck_assert_int_eq(wins, ROUNDS);
    pthread_barrier_destroy(&bar);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
}
END_TEST

/* Cancel racing the worker that starts the task: either the cancel wins (and the
 * task never runs) or the run wins (and cancel returns false). */
START_TEST(future_cancel_race_with_start)
{
    enum { ROUNDS = 2000 };
    wse_executor *ex = make_executor_any(2);
    int ran = 0, cancelled = 0;
    for (int r = 0; r < ROUNDS; r++) {
        wse_future *f;
        ck_assert_int_eq(wse_submit(ex, task_count, &ran, &f), 0);
        bool won = wse_future_cancel(f);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        if (won) {
            cancelled++;
            ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
            ck_assert_int_eq(wse_future_error(f), ECANCELED);
        } else {
            ck_assert_int_eq(wse_future_state(f), WSE_DONE);
        }
        wse_future_release(f);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran) + cancelled, ROUNDS);
}
END_TEST

/* ---- References ----------------------------------------------------------------- */

START_TEST(future_retain_release)
{
    wse_executor *ex = make_executor(1);
    wse_future *f = make_done(ex, (void *)(uintptr_t)4);
    wse_future *g = wse_future_retain(f);
    ck_assert_ptr_eq(g, f);
    ck_assert_ptr_eq(wse_future_retain(f), f);
    wse_future_release(f);
    wse_future_release(f);
    /* g still holds one reference. */
    ck_assert_int_eq(wse_future_state(g), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(g), (void *)(uintptr_t)4);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_ptr_eq(wse_future_value(g), (void *)(uintptr_t)4);
    wse_future_release(g);
}
END_TEST

START_TEST(future_release_early_does_not_stop_task)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    for (int i = 0; i < 10; i++) {
        wse_future *f = make_pending(&b, &ran);
        wse_future_release(f);
    }
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 10);
}
END_TEST

START_TEST(future_null_arguments)
{
    ck_assert_int_eq(wse_future_state(NULL), WSE_PENDING);
    ck_assert(!wse_future_done(NULL));
    ck_assert_ptr_null(wse_future_value(NULL));
    ck_assert_int_eq(wse_future_error(NULL), EINVAL);
    ck_assert(!wse_future_cancel(NULL));
    ck_assert_int_eq(wse_future_wait(NULL, 0), EINVAL);
    ck_assert_int_eq(wse_future_wait(NULL, WSE_FOREVER), EINVAL);
    wse_future_release(NULL);
}
END_TEST

/* ---- Callbacks ------------------------------------------------------------------- */

struct cb_log {
    int count;             /* callbacks run (atomic) */
    int order[32];         /* ids in the order they ran */
    pthread_t thread;      /* thread of the last run */
    wse_executor *current; /* wse_current() during the last run */
    wse_state state;       /* state seen by the last run */
    void *value;           /* value seen by the last run */
    int error;             /* error seen by the last run */
};

struct cb_arg {
    struct cb_log *log;
    int id;
};

static void
cb_record(wse_future *f, void *arg)
{
    struct cb_arg *a = arg;
    struct cb_log *log = a->log;
    int n = __atomic_load_n(&log->count, __ATOMIC_SEQ_CST);
    if (n < 32)
        log->order[n] = a->id;
    log->thread = pthread_self();
    log->current = wse_current();
    log->state = wse_future_state(f);
    log->value = wse_future_value(f);
    log->error = wse_future_error(f);
    counter_add(&log->count, 1);
}

START_TEST(on_done_runs_once_at_completion_on_worker)
{
    struct blocked b;
    blocked_start(&b, 1);
    b.gate.value = (void *)(uintptr_t)21;
    struct cb_log log = {0};
    struct cb_arg a = {&log, 0};
    ck_assert_int_eq(wse_future_on_done(b.gate_f[0], cb_record, &a), 0);
    ck_assert_int_eq(counter_get(&log.count), 0);
    blocked_release(&b);
    spin_until_at_least(&log.count, 1, "the callback");
    wse_executor *ex = b.ex;
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&log.count), 1);
    ck_assert(!pthread_equal(log.thread, pthread_self()));
    ck_assert_ptr_eq(log.current, ex);
    ck_assert_int_eq(log.state, WSE_DONE);
    ck_assert_ptr_eq(log.value, (void *)(uintptr_t)21);
    ck_assert_int_eq(log.error, 0);
}
END_TEST

START_TEST(on_done_runs_in_registration_order)
{
    struct blocked b;
    blocked_start(&b, 1);
    struct cb_log log = {0};
    struct cb_arg a[9];
    for (int i = 0; i < 9; i++)
        a[i] = (struct cb_arg){&log, i};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(wse_future_on_done(b.gate_f[0], cb_record, &a[i]), 0);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], WSE_FOREVER), 0);
    spin_until_at_least(&log.count, 5, "the callbacks");
    /* Added after completion: each runs after the earlier ones, at once on this
     * thread, or, while the completing worker has not yet left its callback loop
     * (it re-checks the list after the last callback returns), queued to run
     * there next. Either way the order holds. */
    for (int i = 5; i < 8; i++) {
        ck_assert_int_eq(wse_future_on_done(b.gate_f[0], cb_record, &a[i]), 0);
        spin_until_at_least(&log.count, i + 1, "the late callback");
    }
    wse_future *f = wse_future_retain(b.gate_f[0]);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&log.count), 8);
    /* The completing worker is gone (destroyed): now it runs here, at once. */
    ck_assert_int_eq(wse_future_on_done(f, cb_record, &a[8]), 0);
    ck_assert_int_eq(counter_get(&log.count), 9);
    ck_assert(pthread_equal(log.thread, pthread_self()));
    wse_future_release(f);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(log.order[i], i);
}
END_TEST

START_TEST(on_done_after_completion_runs_now_on_caller)
{
    wse_executor *ex = make_executor(1);
    wse_future *f = make_done(ex, (void *)(uintptr_t)8);
    struct cb_log log = {0};
    struct cb_arg a = {&log, 0};
    ck_assert_int_eq(wse_future_on_done(f, cb_record, &a), 0);
    ck_assert_int_eq(counter_get(&log.count), 1);
    ck_assert(pthread_equal(log.thread, pthread_self()));
    ck_assert_ptr_null(log.current);
    ck_assert_int_eq(log.state, WSE_DONE);
    ck_assert_ptr_eq(log.value, (void *)(uintptr_t)8);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    /* Also after the executor is gone. */
    ck_assert_int_eq(wse_future_on_done(f, cb_record, &a), 0);
    ck_assert_int_eq(counter_get(&log.count), 2);
    wse_future_release(f);
}
END_TEST

START_TEST(on_done_failed_future)
{
    wse_executor *ex = make_executor(1);
    wse_future *f = make_failed(ex, EDOM);
    struct cb_log log = {0};
    struct cb_arg a = {&log, 0};
    ck_assert_int_eq(wse_future_on_done(f, cb_record, &a), 0);
    ck_assert_int_eq(counter_get(&log.count), 1);
    ck_assert_int_eq(log.state, WSE_FAILED);
    ck_assert_int_eq(log.error, EDOM);
    ck_assert_ptr_null(log.value);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}
END_TEST

START_TEST(on_done_cancelled_runs_on_cancelling_thread)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *f = make_pending(&b, &ran);
    struct cb_log log = {0};
    struct cb_arg a[2] = {{&log, 0}, {&log, 1}};
    ck_assert_int_eq(wse_future_on_done(f, cb_record, &a[0]), 0);
    ck_assert_int_eq(wse_future_on_done(f, cb_record, &a[1]), 0);
    ck_assert_int_eq(counter_get(&log.count), 0);
    ck_assert(wse_future_cancel(f));
    ck_assert_int_eq(counter_get(&log.count), 2);
    ck_assert_int_eq(log.order[0], 0);
    ck_assert_int_eq(log.order[1], 1);
    ck_assert(pthread_equal(log.thread, pthread_self()));
    ck_assert_int_eq(log.state, WSE_CANCELLED);
    ck_assert_int_eq(log.error, ECANCELED);
    /* A cancelled future's callbacks do not run again later. */
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&log.count), 2);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(f);
}
END_TEST

static void
cb_release(wse_future *f, void *arg)
{
    counter_add(arg, 1);
    wse_future_release(f);
}

START_TEST(on_done_callback_may_release_its_reference)
{
    struct blocked b;
    int ran = 0, calls = 0;
    blocked_start(&b, 1);
    wse_future *f = make_pending(&b, &ran);
    /* The callback owns the submit reference; the test keeps none. */
    ck_assert_int_eq(wse_future_on_done(f, cb_release, &calls), 0);
    wse_future *c = make_pending(&b, &ran);
    ck_assert_int_eq(wse_future_on_done(c, cb_release, &calls), 0);
    ck_assert(wse_future_cancel(c));
    ck_assert_int_eq(counter_get(&calls), 1);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&calls), 2);
    ck_assert_int_eq(counter_get(&ran), 1);
}
END_TEST

struct nested_cb {
    struct cb_log *log;
    int rc;              /* wse_future_on_done() inside the outer callback */
    int outer_returned;  /* atomic: the outer callback has returned */
    int inner_saw_outer; /* the inner callback saw outer_returned set */
    pthread_t outer_thread;
    pthread_t inner_thread;
};

static void
cb_inner_check(wse_future *f, void *arg)
{
    struct nested_cb *n = arg;
    (void)f;
    n->inner_saw_outer = __atomic_load_n(&n->outer_returned, __ATOMIC_SEQ_CST);
    n->inner_thread = pthread_self();
    counter_add(&n->log->count, 1);
}

static void
cb_add_another(wse_future *f, void *arg)
{
    struct nested_cb *n = arg;
    /* f is done and its callbacks are running: the new one is queued behind
     * this one, to keep the order in which callbacks were added. */
    n->rc = wse_future_on_done(f, cb_inner_check, n);
    n->outer_thread = pthread_self();
    counter_add(&n->log->count, 100);
    __atomic_store_n(&n->outer_returned, 1, __ATOMIC_SEQ_CST);
}

START_TEST(on_done_added_inside_callback_runs_after_it)
{
    struct blocked b;
    blocked_start(&b, 1);
    struct cb_log log = {0};
    struct nested_cb n = {.log = &log, .rc = -1};
    ck_assert_int_eq(wse_future_on_done(b.gate_f[0], cb_add_another, &n), 0);
    blocked_release(&b);
    spin_until_at_least(&log.count, 101, "the nested callback");
    blocked_finish(&b);
    ck_assert_int_eq(n.rc, 0);
    ck_assert_int_eq(counter_get(&log.count), 101);
    ck_assert_int_eq(n.inner_saw_outer, 1);
    ck_assert(pthread_equal(n.inner_thread, n.outer_thread));
}
END_TEST

struct slow_cb {
    int started;  /* atomic: the slow callback is running */
    int release;  /* atomic: let it return */
    int order[2]; /* ids in the order the callbacks ran */
    int count;    /* atomic */
};

static void
cb_slow_first(wse_future *f, void *arg)
{
    struct slow_cb *s = arg;
    (void)f;
    __atomic_store_n(&s->started, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&s->release, __ATOMIC_SEQ_CST))
        sched_yield();
    s->order[__atomic_fetch_add(&s->count, 1, __ATOMIC_SEQ_CST)] = 1;
}

static void
cb_second(wse_future *f, void *arg)
{
    struct slow_cb *s = arg;
    (void)f;
    s->order[__atomic_fetch_add(&s->count, 1, __ATOMIC_SEQ_CST)] = 2;
}

/* A callback added from another thread while the completing thread is still
 * running an earlier one waits for it: callbacks run in the order added. */
START_TEST(on_done_added_during_callbacks_keeps_order)
{
    struct blocked b;
    blocked_start(&b, 1);
    struct slow_cb s = {0};
    ck_assert_int_eq(wse_future_on_done(b.gate_f[0], cb_slow_first, &s), 0);
    blocked_release(&b);
    while (!__atomic_load_n(&s.started, __ATOMIC_SEQ_CST))
        sched_yield();
    ck_assert(wse_future_done(b.gate_f[0]));
    ck_assert_int_eq(wse_future_on_done(b.gate_f[0], cb_second, &s), 0);
    /* Queued, not run on this thread: the first callback has not returned. */
    ck_assert_int_eq(__atomic_load_n(&s.count, __ATOMIC_SEQ_CST), 0);
    __atomic_store_n(&s.release, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&s.count, __ATOMIC_SEQ_CST) < 2)
        sched_yield();
    blocked_finish(&b);
    ck_assert_int_eq(s.order[0], 1);
    ck_assert_int_eq(s.order[1], 2);
}
END_TEST

/* on_done racing completion: every callback runs exactly once. */
START_TEST(on_done_race_with_completion_runs_exactly_once)
{
    enum { ROUNDS = 2000 };
    wse_executor *ex = make_executor_any(2);
    struct cb_log log = {0};
    struct cb_arg a = {&log, 0};
    for (int r = 0; r < ROUNDS; r++) {
        wse_future *f;
        ck_assert_int_eq(wse_submit(ex, task_value, NULL, &f), 0);
        ck_assert_int_eq(wse_future_on_done(f, cb_record, &a), 0);
        spin_until_at_least(&log.count, r + 1, "the callback");
        wse_future_release(f);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&log.count), ROUNDS);
}
END_TEST

START_TEST(on_done_null_arguments_einval)
{
    wse_executor *ex = make_executor(1);
    wse_future *f = make_done(ex, NULL);
    struct cb_log log = {0};
    struct cb_arg a = {&log, 0};
    ck_assert_int_eq(wse_future_on_done(NULL, cb_record, &a), EINVAL);
    ck_assert_int_eq(wse_future_on_done(f, NULL, &a), EINVAL);
    ck_assert_int_eq(counter_get(&log.count), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}
END_TEST

/* ---- wse_future_wait ----------------------------------------------------------- */

START_TEST(future_wait_done_returns_zero)
{
    wse_executor *ex = make_executor(1);
    wse_future *d = make_done(ex, NULL);
    wse_future *e = make_failed(ex, EIO);
    ck_assert_int_eq(wse_future_wait(d, 0), 0);
    ck_assert_int_eq(wse_future_wait(d, 0.01), 0);
    ck_assert_int_eq(wse_future_wait(d, WSE_FOREVER), 0);
    /* A failed task is done: wait reports 0, the error stays in the future. */
    ck_assert_int_eq(wse_future_wait(e, 0), 0);
    ck_assert_int_eq(wse_future_wait(e, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(d);
    wse_future_release(e);
}
END_TEST

START_TEST(future_wait_zero_timeout_polls)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p = make_pending(&b, &ran);
    double t0 = now_s();
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], 0), ETIMEDOUT);
    ck_assert_int_eq(wse_future_wait(p, 0), ETIMEDOUT);
    ck_assert_double_lt(now_s() - t0, wse_test_scale(5.0));
    /* Nothing was cancelled. */
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    ck_assert_int_eq(wse_future_state(p), WSE_PENDING);
    blocked_finish(&b);
    ck_assert_int_eq(wse_future_state(p), WSE_DONE);
    wse_future_release(p);
}
END_TEST

START_TEST(future_wait_timeout_elapses)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p = make_pending(&b, &ran);
    double t0 = now_s();
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], 0.05), ETIMEDOUT);
    double t1 = now_s();
    ck_assert_int_eq(wse_future_wait(p, 0.03), ETIMEDOUT);
    double t2 = now_s();
    ck_assert_double_ge(t1 - t0, 0.05 - 1e-6);
    ck_assert_double_ge(t2 - t1, 0.03 - 1e-6);
    ck_assert_double_lt(t2 - t0, wse_test_scale(5.0));
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    ck_assert_int_eq(wse_future_state(p), WSE_PENDING);
    blocked_finish(&b);
    wse_future_release(p);
}
END_TEST

START_TEST(future_wait_nan_einval)
{
    wse_executor *ex = make_executor(1);
    wse_future *d = make_done(ex, NULL);
    ck_assert_int_eq(wse_future_wait(d, NAN), EINVAL);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(d);
}
END_TEST

START_TEST(future_wait_forever_wakes_on_completion)
{
    struct blocked b;
    blocked_start(&b, 1);
    struct delayed_flag d;
    delayed_flag_start(&d, &b.gate.open, 20000);
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    delayed_flag_join(&d);
    blocked_finish(&b);
}
END_TEST

START_TEST(future_wait_negative_timeout_is_forever)
{
    struct blocked b;
    blocked_start(&b, 1);
    struct delayed_flag d;
    delayed_flag_start(&d, &b.gate.open, 20000);
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], -0.5), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    delayed_flag_join(&d);
    blocked_finish(&b);
}
END_TEST

START_TEST(future_wait_wakes_on_cancel)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p = make_pending(&b, &ran);
    struct delayed_cancel c;
    delayed_cancel_start(&c, p, 20000);
    ck_assert_int_eq(wse_future_wait(p, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(p), WSE_CANCELLED);
    ck_assert_int_eq(delayed_cancel_join(&c), 1);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(p);
}
END_TEST

/* Many plain threads wait on one future; one completion wakes them all. */
struct waiter_thread {
    pthread_t thread;
    wse_future *f;
    double timeout;
    int rc;
};

static void *
waiter_main(void *arg)
{
    struct waiter_thread *w = arg;
    w->rc = wse_future_wait(w->f, w->timeout);
    return NULL;
}

START_TEST(future_wait_many_threads_all_wake)
{
    enum { THREADS = 8 };
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p = make_pending(&b, &ran);
    struct waiter_thread w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct waiter_thread){.f = t % 2 ? p : b.gate_f[0],
                                      .timeout = t % 4 < 2 ? WSE_FOREVER : wse_test_scale(60.0),
                                      .rc = -1};
        ck_assert_int_eq(pthread_create(&w[t].thread, NULL, waiter_main, &w[t]), 0);
    }
    blocked_release(&b);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(pthread_join(w[t].thread, NULL), 0);
        ck_assert_int_eq(w[t].rc, 0);
    }
    ck_assert(wse_future_done(p));
    blocked_finish(&b);
    wse_future_release(p);
}
END_TEST

/* ---- Futures outlive their executor ------------------------------------------- */

START_TEST(future_outlives_executor)
{
    struct blocked b;
    int ran = 0;
    blocked_create(&b, 2);
    wse_future *d = make_done(b.ex, (void *)(uintptr_t)77);
    wse_future *e = make_failed(b.ex, ENOENT);
    blocked_block(&b);
    wse_future *c = make_cancelled(&b, &ran);
    wse_future *q = make_pending(&b, &ran); /* runs during destroy */
    blocked_finish(&b);
    ck_assert_int_eq(wse_future_state(d), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(d), (void *)(uintptr_t)77);
    ck_assert_int_eq(wse_future_state(e), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(e), ENOENT);
    ck_assert_int_eq(wse_future_state(c), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_error(c), ECANCELED);
    ck_assert_int_eq(wse_future_state(q), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 1);
    ck_assert_int_eq(wse_future_wait(q, WSE_FOREVER), 0);
    ck_assert(!wse_future_cancel(q));
    wse_future *r = wse_future_retain(d);
    wse_future_release(d);
    ck_assert_ptr_eq(wse_future_value(r), (void *)(uintptr_t)77);
    wse_future_release(r);
    wse_future_release(e);
    wse_future_release(c);
    wse_future_release(q);
}
END_TEST

START_TEST(future_cancelled_by_shutdown_outlives_executor)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = make_pending(&b, &ran);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    blocked_finish(&b);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
        ck_assert_int_eq(wse_future_error(p[i]), ECANCELED);
    }
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(p, 4);
}
END_TEST

static Suite *
future_suite(void)
{
    Suite *s = suite_create("future");

    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, future_pending_running_done);
    tcase_add_test(tc, future_failed_reports_code_and_no_value);
    tcase_add_test(tc, future_cancelled_reports_ecanceled_and_never_runs);
    tcase_add_test(tc, future_value_and_error_zero_until_done);
    tcase_add_test(tc, future_result_starts_null);
    tcase_add_test(tc, future_done_value_visible_to_other_thread);
    tcase_add_test(tc, future_null_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, future_cancel_true_only_once);
    tcase_add_test(tc, future_cancel_running_returns_false);
    tcase_add_test(tc, future_cancel_done_or_failed_returns_false);
    tcase_add_test(tc, future_cancel_race_exactly_one_wins);
    tcase_add_test(tc, future_cancel_race_with_start);
    suite_add_tcase(s, tc);

    tc = tcase_create("refcount");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, future_retain_release);
    tcase_add_test(tc, future_release_early_does_not_stop_task);
    tcase_add_test(tc, future_outlives_executor);
    tcase_add_test(tc, future_cancelled_by_shutdown_outlives_executor);
    suite_add_tcase(s, tc);

    tc = tcase_create("on_done");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, on_done_runs_once_at_completion_on_worker);
    tcase_add_test(tc, on_done_runs_in_registration_order);
    tcase_add_test(tc, on_done_after_completion_runs_now_on_caller);
    tcase_add_test(tc, on_done_failed_future);
    tcase_add_test(tc, on_done_cancelled_runs_on_cancelling_thread);
    tcase_add_test(tc, on_done_callback_may_release_its_reference);
    tcase_add_test(tc, on_done_added_inside_callback_runs_after_it);
    tcase_add_test(tc, on_done_added_during_callbacks_keeps_order);
    tcase_add_test(tc, on_done_race_with_completion_runs_exactly_once);
    tcase_add_test(tc, on_done_null_arguments_einval);
    suite_add_tcase(s, tc);

    tc = tcase_create("wait");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, future_wait_done_returns_zero);
    tcase_add_test(tc, future_wait_zero_timeout_polls);
    tcase_add_test(tc, future_wait_timeout_elapses);
    tcase_add_test(tc, future_wait_nan_einval);
    tcase_add_test(tc, future_wait_forever_wakes_on_completion);
    tcase_add_test(tc, future_wait_negative_timeout_is_forever);
    tcase_add_test(tc, future_wait_wakes_on_cancel);
    tcase_add_test(tc, future_wait_many_threads_all_wake);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(future_suite());
}

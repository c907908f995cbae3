/*
 * Check suite for scopes (wse_scope_*): errors; the empty scope; FIRST_COMPLETED
 * (losers stopped from the completing thread, pending children never run);
 * FIRST_EXCEPTION (fail-fast, and no failure); ALL_COMPLETED (everything runs,
 * the first failure reported); deadlines in a join and passed before it;
 * submits after settling and after a join; children submitting siblings;
 * joins from a worker and from a plain thread; the stop lineage of a scope made
 * in a task; destroy without join and inside a child; a second join; EDEADLK;
 * and races of submits with the settling (the stress case repeats them with
 * children that submit siblings, on 1 to 4 workers).
 *
 * Tasks never call ck_assert: they count what they saw, and record anything
 * unexpected in `bad`, which the test thread checks.
 */
#include "wse_test.h"

#define V(x) ((void *)(uintptr_t)(x))

/* ---- Tasks ------------------------------------------------------------------- */

/*
 * A loser: counts itself in `entered`, spins until wse_stop_requested(), counts
 * itself in `stopped`, then, if `after` is set, waits until each of those
 * futures is CANCELLED (children that must never run: they are cancelled by the
 * same stop walk, so a loser that returns first cannot hand its worker to one),
 * then returns ECANCELED. A stop that never comes is recorded in `bad` after
 * WSE_TEST_SPIN_LIMIT seconds (the task then returns ETIME).
 */
struct losers {
    int entered;
    int stopped;
    int bad;
    wse_future **after; /* atomic pointer; n_after entries */
    int n_after;
};

static bool
all_cancelled(wse_future **fs, int n)
{
    for (int i = 0; i < n; i++) {
        if (wse_future_state(fs[i]) != WSE_CANCELLED)
            return false;
    }
    return true;
}

static int
loser_task(void *arg, void **result)
{
    struct losers *l = arg;
    double limit = now_s() + wse_test_scale(WSE_TEST_SPIN_LIMIT);
    (void)result;
    counter_add(&l->entered, 1);
    while (!wse_stop_requested()) {
        if (now_s() > limit) {
            counter_add(&l->bad, 1);
            return ETIME;
        }
        sched_yield();
    }
    counter_add(&l->stopped, 1);
    wse_future **after = __atomic_load_n(&l->after, __ATOMIC_SEQ_CST);
    while (after != NULL && !all_cancelled(after, l->n_after)) {
        if (now_s() > limit) {
            counter_add(&l->bad, 1);
            return ETIME;
        }
        sched_yield();
    }
    return ECANCELED;
}

/* Waits until *(int *)flag, then returns code (in the gate's struct). */
struct trigger {
    int go;
    int code;
    int ran;
};

static int
trigger_task(void *arg, void **result)
{
    struct trigger *t = arg;
    counter_add(&t->ran, 1);
    while (!flag_get(&t->go))
        sched_yield();
    *result = V(42);
    return t->code;
}

static wse_future *
submit_ok(wse_scope *s, wse_task_fn fn, void *arg)
{
    wse_future *f = SENTINEL;
    ck_assert_int_eq(wse_scope_submit(s, fn, arg, &f), 0);
    ck_assert_ptr_ne(f, SENTINEL);
    return f;
}

/* ---- Errors and the empty scope ------------------------------------------------ */

START_TEST(scope_einval)
{
    wse_executor *ex = make_executor(1);
    wse_scope *s = (wse_scope *)SENTINEL;
    ck_assert_int_eq(wse_scope_create(NULL, ex, WSE_ALL_COMPLETED, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_scope_create(&s, NULL, WSE_ALL_COMPLETED, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_scope_create(&s, ex, (wse_return_when)0, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_scope_create(&s, ex, (wse_return_when)4, WSE_FOREVER), EINVAL);
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, NAN), EINVAL);
    ck_assert_ptr_eq(s, (wse_scope *)SENTINEL);

    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    wse_future *f = SENTINEL;
    ck_assert_int_eq(wse_scope_submit(NULL, task_value, NULL, &f), EINVAL);
    ck_assert_int_eq(wse_scope_submit(s, NULL, NULL, &f), EINVAL);
    ck_assert_ptr_eq(f, SENTINEL);
    wse_future *d = SENTINEL;
    ck_assert_int_eq(wse_scope_join(NULL, &d), EINVAL);
    ck_assert_ptr_eq(d, SENTINEL);
    wse_scope_destroy(NULL);
    wse_scope_destroy(s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* No child: 0 at once for every policy, even with a deadline already passed;
 * decided NULL; a second join says the same; then EINVAL for submits. */
START_TEST(scope_empty_joins_at_once)
{
    wse_executor *ex = make_executor(1);
    wse_return_when modes[3] = {WSE_FIRST_COMPLETED, WSE_FIRST_EXCEPTION, WSE_ALL_COMPLETED};
    for (int m = 0; m < 3; m++) {
        for (int t = 0; t < 2; t++) {
            wse_scope *s;
            ck_assert_int_eq(wse_scope_create(&s, ex, modes[m], t == 0 ? WSE_FOREVER : 0), 0);
            wse_future *d = SENTINEL;
            double t0 = now_s();
            ck_assert_int_eq(wse_scope_join(s, &d), 0);
            ck_assert_ptr_null(d);
            ck_assert(now_s() - t0 < wse_test_scale(1.0));
            d = SENTINEL;
            ck_assert_int_eq(wse_scope_join(s, &d), 0);
            ck_assert_ptr_null(d);
            wse_future *f = SENTINEL;
            ck_assert_int_eq(wse_scope_submit(s, task_value, NULL, &f), EINVAL);
            ck_assert_ptr_eq(f, SENTINEL);
            wse_scope_destroy(s);
        }
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- FIRST_COMPLETED ------------------------------------------------------------ */

/* Two losers run; the winner completes once both are in; the losers see the
 * stop before anyone joins (it comes from the winner's completion) and end
 * CANCELLED; join names the winner. */
START_TEST(scope_first_completed_race)
{
    wse_executor *ex = make_executor(3);
    struct losers l = {0};
    struct trigger w = {0};
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, WSE_FOREVER), 0);
    wse_future *l1 = submit_ok(s, loser_task, &l);
    wse_future *l2 = submit_ok(s, loser_task, &l);
    wse_future *wf = submit_ok(s, trigger_task, &w);
    spin_until_at_least(&l.entered, 2, "losers to start");
    flag_set(&w.go);
    /* No join yet: the stop reaches the losers from the completing thread. */
    spin_until_state(l1, WSE_CANCELLED);
    spin_until_state(l2, WSE_CANCELLED);
    ck_assert_int_eq(counter_get(&l.stopped), 2);
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_eq(d, wf);
    ck_assert_int_eq(wse_future_state(wf), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(wf), V(42));
    ck_assert_int_eq(wse_future_error(l1), ECANCELED);
    ck_assert_int_eq(counter_get(&l.bad), 0);
    wse_scope_destroy(s);
    wse_future_release(l1);
    wse_future_release(l2);
    wse_future_release(wf);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* One worker, busy with the winner; five children queued behind it. The
 * winner's completion cancels them on the worker before it looks for another
 * task: they never run. */
START_TEST(scope_pending_children_never_run)
{
    wse_executor *ex = make_executor(1);
    struct trigger w = {0};
    int runs = 0;
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, WSE_FOREVER), 0);
    wse_future *wf = submit_ok(s, trigger_task, &w);
    spin_until_at_least(&w.ran, 1, "the winner to start");
    wse_future *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = submit_ok(s, task_count, &runs);
        ck_assert_int_eq(wse_future_state(p[i]), WSE_PENDING);
    }
    flag_set(&w.go);
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_eq(d, wf);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
    /* The worker is free now: anything still queued would have run. */
    wse_future *probe = make_done(ex, V(1));
    ck_assert_int_eq(counter_get(&runs), 0);
    wse_future_release(probe);
    wse_scope_destroy(s);
    release_all(p, 5);
    wse_future_release(wf);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- FIRST_EXCEPTION ------------------------------------------------------------ */

/* Fail-fast: two running losers, one failing child, three pending children.
 * The failure stops the losers (CANCELLED, not FAILED) and cancels the pending
 * ones before they run; join names the failure. */
START_TEST(scope_first_exception_fail_fast)
{
    wse_executor *ex = make_executor(3);
    struct losers l = {0};
    struct trigger fail = {.code = EIO};
    int runs = 0;
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_EXCEPTION, WSE_FOREVER), 0);
    wse_future *l1 = submit_ok(s, loser_task, &l);
    wse_future *l2 = submit_ok(s, loser_task, &l);
    wse_future *ff = submit_ok(s, trigger_task, &fail);
    spin_until_at_least(&l.entered, 2, "losers to start");
    spin_until_at_least(&fail.ran, 1, "the failing child to start");
    wse_future *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = submit_ok(s, task_count, &runs);
    l.n_after = 3;
    __atomic_store_n(&l.after, p, __ATOMIC_SEQ_CST);
    flag_set(&fail.go);
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_eq(d, ff);
    ck_assert_int_eq(wse_future_state(ff), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(ff), EIO);
    ck_assert_int_eq(wse_future_state(l1), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_state(l2), WSE_CANCELLED);
    ck_assert_int_eq(counter_get(&l.stopped), 2);
    ck_assert_int_eq(counter_get(&l.bad), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
    ck_assert_int_eq(counter_get(&runs), 0);
    wse_scope_destroy(s);
    release_all(p, 3);
    wse_future_release(l1);
    wse_future_release(l2);
    wse_future_release(ff);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Without a failure FIRST_EXCEPTION behaves as ALL_COMPLETED: everything runs,
 * 0, decided NULL. */
START_TEST(scope_first_exception_without_failure)
{
    wse_executor *ex = make_executor(2);
    int runs = 0;
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_EXCEPTION, WSE_FOREVER), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, NULL), 0);
    wse_future *d = SENTINEL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(counter_get(&runs), 20);
    wse_scope_destroy(s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- ALL_COMPLETED -------------------------------------------------------------- */

/* Nothing is stopped by a failure: all ten run; one worker runs them in
 * submission order, so the first failure is child 3. */
START_TEST(scope_all_completed_runs_everything)
{
    wse_executor *ex = make_executor(1);
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    wse_future *f[10];
    for (int i = 0; i < 10; i++) {
        int code = i == 3 ? EIO : i == 7 ? EPIPE : 0;
        f[i] = submit_ok(s, task_code, V(code));
    }
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_eq(d, f[3]);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(wse_future_state(f[i]), i == 3 || i == 7 ? WSE_FAILED : WSE_DONE);
    wse_scope_destroy(s);
    release_all(f, 10);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Children kept only by the scope (out == NULL): decided is borrowed and valid
 * until destroy. */
static int
fail_eio(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return EIO;
}

START_TEST(scope_decided_borrowed_until_destroy)
{
    wse_executor *ex = make_executor(2);
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_scope_submit(s, fail_eio, NULL, NULL), 0);
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(wse_future_state(d), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(d), EIO);
    wse_scope_destroy(s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Deadlines ------------------------------------------------------------------ */

/* The deadline passes during the join: ETIMEDOUT after it, every child stopped
 * (running ones see the flag, pending ones never run), decided NULL, for both
 * an ALL_COMPLETED and a FIRST_COMPLETED scope. */
START_TEST(scope_deadline_in_join)
{
    wse_return_when modes[2] = {WSE_ALL_COMPLETED, WSE_FIRST_COMPLETED};
    for (int m = 0; m < 2; m++) {
        wse_executor *ex = make_executor(2);
        struct losers l = {0};
        int runs = 0;
        wse_scope *s;
        double t0 = now_s();
        ck_assert_int_eq(wse_scope_create(&s, ex, modes[m], 0.05), 0);
        wse_future *l1 = submit_ok(s, loser_task, &l);
        wse_future *l2 = submit_ok(s, loser_task, &l);
        spin_until_at_least(&l.entered, 2, "losers to start");
        wse_future *p[2];
        for (int i = 0; i < 2; i++)
            p[i] = submit_ok(s, task_count, &runs);
        l.n_after = 2;
        __atomic_store_n(&l.after, p, __ATOMIC_SEQ_CST);
        wse_future *d = SENTINEL;
        ck_assert_int_eq(wse_scope_join(s, &d), ETIMEDOUT);
        ck_assert(now_s() - t0 >= 0.049);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(wse_future_state(l1), WSE_CANCELLED);
        ck_assert_int_eq(wse_future_state(l2), WSE_CANCELLED);
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
        ck_assert_int_eq(counter_get(&runs), 0);
        ck_assert_int_eq(counter_get(&l.bad), 0);
        /* The join has returned: submits are refused. */
        wse_future *f = SENTINEL;
        ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, &f), EINVAL);
        ck_assert_ptr_eq(f, SENTINEL);
        wse_scope_destroy(s);
        release_all(p, 2);
        wse_future_release(l1);
        wse_future_release(l2);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* A deadline that passed before the join counts as passing at its start:
 * ETIMEDOUT at once, the running children stopped. */
START_TEST(scope_deadline_passed_before_join)
{
    wse_executor *ex = make_executor(2);
    struct losers l = {0};
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, 0.02), 0);
    wse_future *l1 = submit_ok(s, loser_task, &l);
    spin_until_at_least(&l.entered, 1, "a loser to start");
    usleep(40000);
    /* Not settled yet: the deadline acts in a join only. */
    ck_assert_int_eq(wse_future_state(l1), WSE_RUNNING);
    double t0 = now_s();
    ck_assert_int_eq(wse_scope_join(s, NULL), ETIMEDOUT);
    ck_assert(now_s() - t0 < wse_test_scale(2.0));
    ck_assert_int_eq(wse_future_state(l1), WSE_CANCELLED);
    ck_assert_int_eq(counter_get(&l.bad), 0);
    wse_scope_destroy(s);
    wse_future_release(l1);

    /* timeout 0: the deadline has passed at create. */
    struct losers l0 = {0};
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_EXCEPTION, 0), 0);
    ck_assert_int_eq(wse_scope_submit(s, loser_task, &l0, NULL), 0);
    ck_assert_int_eq(wse_scope_join(s, NULL), ETIMEDOUT);
    ck_assert_int_eq(counter_get(&l0.bad), 0);
    wse_scope_destroy(s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* The deadline passed before the join, but the policy's condition held then: 0
 * (the condition is checked first, as wse_wait() with a zero timeout does). */
START_TEST(scope_deadline_passed_condition_holds)
{
    wse_executor *ex = make_executor(2);
    wse_return_when modes[2] = {WSE_ALL_COMPLETED, WSE_FIRST_EXCEPTION};
    for (int m = 0; m < 2; m++) {
        wse_scope *s;
        ck_assert_int_eq(wse_scope_create(&s, ex, modes[m], 0.02), 0);
        wse_future *f[4];
        for (int i = 0; i < 4; i++)
            f[i] = submit_ok(s, task_value, V(i));
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(wse_future_wait(f[i], WSE_FOREVER), 0);
        usleep(40000);
        wse_future *d = SENTINEL;
        ck_assert_int_eq(wse_scope_join(s, &d), 0);
        ck_assert_ptr_null(d);
        wse_scope_destroy(s);
        release_all(f, 4);
    }
    /* FIRST_COMPLETED: a child done before the deadline decided it. */
    struct losers l = {0};
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, 0.02), 0);
    wse_future *lf = submit_ok(s, loser_task, &l);
    spin_until_at_least(&l.entered, 1, "a loser to start");
    wse_future *w = submit_ok(s, task_value, V(5));
    spin_until_state(lf, WSE_CANCELLED);
    usleep(40000);
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_eq(d, w);
    wse_scope_destroy(s);
    wse_future_release(lf);
    wse_future_release(w);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A negative timeout other than WSE_FOREVER means no deadline, as in wse_wait(). */
static int
sleep_30ms(void *arg, void **result)
{
    (void)arg;
    (void)result;
    usleep(30000);
    return 0;
}

START_TEST(scope_negative_timeout_is_forever)
{
    wse_executor *ex = make_executor(1);
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, -5.0), 0);
    wse_future *f = submit_ok(s, sleep_30ms, NULL);
    ck_assert_int_eq(wse_scope_join(s, NULL), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    wse_scope_destroy(s);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Submits after settling, after a join; errors ------------------------------- */

START_TEST(scope_submit_after_settle_and_after_join)
{
    wse_executor *ex = make_executor(2);
    struct losers l = {0};
    int runs = 0;
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, WSE_FOREVER), 0);
    wse_future *lf = submit_ok(s, loser_task, &l);
    spin_until_at_least(&l.entered, 1, "a loser to start");
    wse_future *w = submit_ok(s, task_value, NULL);
    /* The loser's stop comes after the settle: from now on ECANCELED. */
    spin_until_state(lf, WSE_CANCELLED);
    wse_future *f = SENTINEL;
    ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, &f), ECANCELED);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, NULL), ECANCELED);
    ck_assert_int_eq(wse_scope_join(s, NULL), 0);
    ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, &f), EINVAL);
    ck_assert_ptr_eq(f, SENTINEL);
    wse_scope_destroy(s);
    /* ALL_COMPLETED: accepted until its join, EINVAL after. */
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, NULL), 0);
    ck_assert_int_eq(wse_scope_join(s, NULL), 0);
    ck_assert_int_eq(wse_scope_submit(s, task_count, &runs, &f), EINVAL);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_int_eq(counter_get(&runs), 1);
    wse_scope_destroy(s);
    wse_future_release(lf);
    wse_future_release(w);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(scope_submit_eshutdown)
{
    wse_executor *ex = make_executor(1);
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
    wse_future *f = SENTINEL;
    ck_assert_int_eq(wse_scope_submit(s, task_value, NULL, &f), ESHUTDOWN);
    ck_assert_ptr_eq(f, SENTINEL);
    ck_assert_int_eq(wse_scope_join(s, NULL), 0);
    wse_scope_destroy(s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Children that submit siblings ----------------------------------------------- */

struct tree {
    wse_scope *s;
    int depth;
    int runs;
    int running;
    int bad;
};

struct node_arg {
    struct tree *t;
    int depth;
};

static struct node_arg node_args[64];

static int
tree_task(void *arg, void **result)
{
    struct node_arg *a = arg;
    struct tree *t = a->t;
    (void)result;
    counter_add(&t->running, 1);
    counter_add(&t->runs, 1);
    if (a->depth < t->depth) {
        /* node i's children are 2i+1 and 2i+2 (a heap): each has its own arg. */
        int i = (int)(a - node_args);
        for (int c = 1; c <= 2; c++) {
            if (wse_scope_submit(t->s, tree_task, &node_args[2 * i + c], NULL) != 0)
                counter_add(&t->bad, 1);
        }
    }
    usleep(1000);
    counter_add(&t->running, -1);
    return 0;
}

START_TEST(scope_children_submit_siblings)
{
    wse_executor *ex = make_executor(2);
    struct tree t = {.depth = 4}; /* 31 nodes */
    ck_assert_int_eq(wse_scope_create(&t.s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    for (int i = 0; i < 31; i++) {
        node_args[i].t = &t;
        node_args[i].depth = 0;
    }
    for (int i = 1; i < 31; i++)
        node_args[i].depth = node_args[(i - 1) / 2].depth + 1;
    ck_assert_int_eq(wse_scope_submit(t.s, tree_task, &node_args[0], NULL), 0);
    ck_assert_int_eq(wse_scope_join(t.s, NULL), 0);
    /* Nothing outlives the join. */
    ck_assert_int_eq(counter_get(&t.runs), 31);
    ck_assert_int_eq(counter_get(&t.running), 0);
    ck_assert_int_eq(counter_get(&t.bad), 0);
    wse_scope_destroy(t.s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Joins from a worker ----------------------------------------------------------- */

struct sum_arg {
    long lo, hi;
};

static int
sum_range(void *arg, void **result)
{
    struct sum_arg *a = arg;
    long s = 0;
    for (long i = a->lo; i < a->hi; i++)
        s += i;
    *result = V(s);
    return 0;
}

/* A task that makes a scope of 16 children, joins it (on its worker), and
 * sums their values. With one worker the join must run them itself (or have a
 * spare run them). */
static int
scope_parent_task(void *arg, void **result)
{
    wse_return_when mode = (wse_return_when)(intptr_t)arg;
    struct sum_arg parts[16];
    wse_future *f[16];
    wse_scope *s;
    int rc = wse_scope_create(&s, wse_current(), mode, WSE_FOREVER);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 16; i++) {
        parts[i] = (struct sum_arg){i * 100, (i + 1) * 100};
        f[i] = NULL;
        rc = wse_scope_submit(s, sum_range, &parts[i], &f[i]);
        /* A FIRST_COMPLETED scope settles as soon as a child is done (another
         * worker may run one): later submits are refused. */
        if (rc == ECANCELED && mode == WSE_FIRST_COMPLETED)
            break;
        if (rc != 0)
            return rc;
    }
    wse_future *d = SENTINEL;
    rc = wse_scope_join(s, &d);
    long total = 0;
    for (int i = 0; i < 16 && f[i] != NULL; i++) {
        if (wse_future_state(f[i]) == WSE_DONE)
            total += (long)(intptr_t)wse_future_value(f[i]);
        else if (mode == WSE_ALL_COMPLETED || !wse_future_done(f[i]))
            rc = rc != 0 ? rc : EPROTO;
    }
    if (mode == WSE_FIRST_COMPLETED && (d == NULL || wse_future_state(d) != WSE_DONE))
        rc = rc != 0 ? rc : ENOENT;
    wse_scope_destroy(s);
    for (int i = 0; i < 16 && f[i] != NULL; i++)
        wse_future_release(f[i]);
    *result = V(total);
    return rc;
}

START_TEST(scope_join_from_worker)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        wse_executor *ex = make_executor(workers);
        wse_future *f = NULL;
        ck_assert_int_eq(wse_submit(ex, scope_parent_task, V(WSE_ALL_COMPLETED), &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_error(f), 0);
        ck_assert_int_eq((long)(intptr_t)wse_future_value(f), 1600L * 1599 / 2);
        wse_future_release(f);
        ck_assert_int_eq(wse_submit(ex, scope_parent_task, V(WSE_FIRST_COMPLETED), &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_error(f), 0);
        ck_assert_int_gt((long)(intptr_t)wse_future_value(f), 0);
        wse_future_release(f);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* A child joining its own scope: EDEADLK (nothing changes); the plain thread's
 * join then works. */
struct self_join {
    wse_scope *s;
    int rc;
};

static int
self_join_task(void *arg, void **result)
{
    struct self_join *j = arg;
    (void)result;
    __atomic_store_n(&j->rc, wse_scope_join(j->s, NULL), __ATOMIC_SEQ_CST);
    return 0;
}

START_TEST(scope_join_inside_child_edeadlk)
{
    wse_executor *ex = make_executor(1);
    struct self_join j = {.rc = -1};
    ck_assert_int_eq(wse_scope_create(&j.s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    wse_future *f = submit_ok(j.s, self_join_task, &j);
    ck_assert_int_eq(wse_scope_join(j.s, NULL), 0);
    ck_assert_int_eq(__atomic_load_n(&j.rc, __ATOMIC_SEQ_CST), EDEADLK);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    wse_scope_destroy(j.s);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* The same from a child far past the first ones (the 15th of 20): a scope made
 * from a plain thread with no deadline keeps no list of its children, so the
 * join finds it in its own running chain. */
struct many_join {
    wse_scope *s;
    int rc;
    int done;
};

static int
many_join_task(void *arg, void **result)
{
    struct many_join *j = arg;
    (void)result;
    __atomic_store_n(&j->rc, wse_scope_join(j->s, NULL), __ATOMIC_SEQ_CST);
    counter_add(&j->done, 1);
    return 0;
}

static int
count_task(void *arg, void **result)
{
    (void)result;
    counter_add(arg, 1);
    return 0;
}

START_TEST(scope_join_inside_late_child_edeadlk)
{
    wse_executor *ex = make_executor(2);
    struct many_join j = {.rc = -1};
    int ran = 0;
    ck_assert_int_eq(wse_scope_create(&j.s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(wse_scope_submit(j.s, i == 14 ? many_join_task : count_task,
                                          i == 14 ? (void *)&j : (void *)&ran, NULL),
                         0);
    ck_assert_int_eq(wse_scope_join(j.s, NULL), 0);
    ck_assert_int_eq(__atomic_load_n(&j.rc, __ATOMIC_SEQ_CST), EDEADLK);
    ck_assert_int_eq(counter_get(&j.done), 1);
    ck_assert_int_eq(counter_get(&ran), 19);
    wse_scope_destroy(j.s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Joined by a thread that is not the task that made the scope ------------- */

/* The scope a task stores in *p once it has made it (spins, yielding; fails
 * the test after WSE_TEST_SPIN_LIMIT seconds, scaled). */
static wse_scope *
await_scope(wse_scope **p, const char *what)
{
    double limit = now_s() + wse_test_scale(WSE_TEST_SPIN_LIMIT);
    wse_scope *s;

    while ((s = __atomic_load_n(p, __ATOMIC_SEQ_CST)) == NULL) {
        ck_assert_msg(now_s() < limit, "%s", what);
        sched_yield();
    }
    return s;
}

/* Sleeps 20 ms, then counts itself done (or fails with EIO if told to). */
struct slow_child {
    int *done;
    int code;
};

static int
slow_child_task(void *arg, void **result)
{
    struct slow_child *c = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    (void)result;
    nanosleep(&ts, NULL);
    counter_add(c->done, 1);
    return c->code;
}

/*
 * A task makes an ALL_COMPLETED scope (it is then the scope's owner, whose
 * submits count without a read-modify-write), submits 3 slow children (one of
 * which fails), hands the scope to the test thread, and blocks on a plain gate
 * until that thread's join has returned. The join must wait for all three and
 * report the failure, although the owner never touches the scope again until
 * then; a join that relied on the owner would hang.
 */
struct handoff {
    wse_scope *s; /* atomic */
    int done;
    int gate;
    int bad;
    struct slow_child kids[3];
};

static int
handoff_task(void *arg, void **result)
{
    struct handoff *h = arg;
    wse_scope *s;
    (void)result;
    if (wse_scope_create(&s, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER) != 0)
        return ENOMEM;
    for (int i = 0; i < 3; i++) {
        h->kids[i] = (struct slow_child){&h->done, i == 1 ? EIO : 0};
        if (wse_scope_submit(s, slow_child_task, &h->kids[i], NULL) != 0)
            counter_add(&h->bad, 1);
    }
    __atomic_store_n(&h->s, s, __ATOMIC_SEQ_CST);
    while (!flag_get(&h->gate))
        sched_yield();
    return 0;
}

START_TEST(scope_joined_by_another_thread_while_owner_blocks)
{
    for (int round = 0; round < 5; round++) {
        wse_executor *ex = make_executor(2);
        struct handoff h = {0};
        wse_future *t = NULL;
        ck_assert_int_eq(wse_submit(ex, handoff_task, &h, &t), 0);
        (void)await_scope(&h.s, "the task never handed the scope over");
        wse_future *d = NULL;
        ck_assert_int_eq(wse_scope_join(h.s, &d), 0);
        ck_assert_int_eq(counter_get(&h.done), 3);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(wse_future_error(d), EIO);
        /* The owner's submits after the join are refused. */
        ck_assert_int_eq(wse_scope_submit(h.s, count_task, &h.bad, NULL), EINVAL);
        flag_set(&h.gate);
        ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_error(t), 0);
        ck_assert_int_eq(counter_get(&h.bad), 0);
        wse_future_release(t);
        wse_scope_destroy(h.s);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* Made and filled outside any task (the owning thread is then the test
 * thread), joined on another thread. */
struct plain_join {
    wse_scope *s;
    int rc;
};

static void *
plain_join_thread(void *arg)
{
    struct plain_join *j = arg;
    j->rc = wse_scope_join(j->s, NULL);
    return NULL;
}

START_TEST(scope_made_on_one_thread_joined_on_another)
{
    wse_executor *ex = make_executor(2);
    int done = 0;
    struct slow_child kids[4];
    struct plain_join j = {.rc = -1};
    pthread_t t;
    ck_assert_int_eq(wse_scope_create(&j.s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    for (int i = 0; i < 4; i++) {
        kids[i] = (struct slow_child){&done, 0};
        ck_assert_int_eq(wse_scope_submit(j.s, slow_child_task, &kids[i], NULL), 0);
    }
    ck_assert_int_eq(pthread_create(&t, NULL, plain_join_thread, &j), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(j.rc, 0);
    ck_assert_int_eq(counter_get(&done), 4);
    ck_assert_int_eq(wse_scope_submit(j.s, count_task, &done, NULL), EINVAL);
    wse_scope_destroy(j.s);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/*
 * The owner keeps submitting while the test thread joins: every submit that
 * was accepted is of a child that is done when the join returns; the owner's
 * submits after that are refused (EINVAL); none is lost or counted twice (a
 * miscount would hang the join or return it early).
 */
struct racing_owner {
    wse_scope *s; /* atomic */
    int ran;
    int accepted;
    int refused;
    int bad;
    int stop;
};

static int
racing_owner_task(void *arg, void **result)
{
    struct racing_owner *o = arg;
    wse_scope *s;
    (void)result;
    if (wse_scope_create(&s, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER) != 0)
        return ENOMEM;
    __atomic_store_n(&o->s, s, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 100000 && !flag_get(&o->stop); i++) {
        int rc = wse_scope_submit(s, count_task, &o->ran, NULL);
        if (rc == EINVAL) {
            counter_add(&o->refused, 1);
            break;
        }
        if (rc != 0)
            counter_add(&o->bad, 1);
        else
            counter_add(&o->accepted, 1);
    }
    return 0;
}

START_TEST(scope_owner_submits_while_another_thread_joins)
{
    long rounds = env_long("WSE_SCOPE_ROUNDS", 40);
    for (long round = 0; round < rounds; round++) {
        wse_executor *ex = make_executor(1 + (unsigned)round % 3);
        struct racing_owner o = {0};
        wse_future *t = NULL;
        ck_assert_int_eq(wse_submit(ex, racing_owner_task, &o, &t), 0);
        (void)await_scope(&o.s, "the task never made its scope");
        for (int spin = 0; spin < round * 50; spin++)
            sched_yield();
        ck_assert_int_eq(wse_scope_join(o.s, NULL), 0);
        int ran_at_join = counter_get(&o.ran);
        flag_set(&o.stop);
        ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
        ck_assert_int_eq(counter_get(&o.bad), 0);
        ck_assert_int_eq(ran_at_join, counter_get(&o.accepted));
        ck_assert_int_eq(counter_get(&o.ran), counter_get(&o.accepted));
        wse_future_release(t);
        wse_scope_destroy(o.s);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/*
 * The other way round: the owning task joins while the test thread, which is
 * not one of the scope's children, keeps submitting. The owner's join may
 * close the scope with a plain store when every child it counted ran on its
 * thread; a submit from outside must then either come first (and be waited
 * for) or be refused (EINVAL), never be accepted and left out of the join.
 */
struct outside_submits {
    wse_scope *s; /* atomic */
    long spins;   /* the owner's pause before its join */
    int ran;
    int ran_at_join;
    int join_rc;
    int submitting_done;
};

static int
joining_owner_task(void *arg, void **result)
{
    struct outside_submits *o = arg;
    wse_scope *s;
    (void)result;
    if (wse_scope_create(&s, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER) != 0)
        return ENOMEM;
    for (int i = 0; i < 2; i++) {
        if (wse_scope_submit(s, count_task, &o->ran, NULL) != 0)
            return EIO;
    }
    __atomic_store_n(&o->s, s, __ATOMIC_SEQ_CST);
    for (volatile long spin = 0; spin < o->spins; spin++)
        ;
    __atomic_store_n(&o->join_rc, wse_scope_join(s, NULL), __ATOMIC_SEQ_CST);
    counter_add(&o->ran_at_join, counter_get(&o->ran));
    /* Submits after the join returned are refused; the scope lives until the
     * test thread stops. */
    while (!flag_get(&o->submitting_done))
        sched_yield();
    wse_scope_destroy(s);
    return 0;
}

START_TEST(scope_outside_submits_while_the_owner_joins)
{
    /* A round is short, and the window narrow: 200 rounds caught a submit
     * that skipped the claim every time here, 40 one time in 4. */
    long rounds = env_long("WSE_SCOPE_ROUNDS", 40) * 5;
    for (long round = 0; round < rounds; round++) {
        wse_executor *ex = make_executor(1 + (unsigned)round % 3);
        struct outside_submits o = {0};
        wse_future *t = NULL;
        int accepted = 0;
        int rc = 0;
        o.spins = (round % 8) * 64;
        ck_assert_int_eq(wse_submit(ex, joining_owner_task, &o, &t), 0);
        wse_scope *s = await_scope(&o.s, "the task never made its scope");
        /* Bounded: a join waits for every accepted child, so an endless
         * stream of them could keep it from ever closing. */
        while (accepted < 2000 && (rc = wse_scope_submit(s, count_task, &o.ran, NULL)) == 0)
            accepted++;
        ck_assert(accepted == 2000 || rc == EINVAL);
        flag_set(&o.submitting_done);
        ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
        ck_assert_int_eq(wse_future_error(t), 0);
        ck_assert_int_eq(__atomic_load_n(&o.join_rc, __ATOMIC_SEQ_CST), 0);
        ck_assert_int_eq(counter_get(&o.ran_at_join), 2 + accepted);
        ck_assert_int_eq(counter_get(&o.ran), 2 + accepted);
        wse_future_release(t);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/* ---- Lineage ----------------------------------------------------------------------- */

/*
 * A task makes a scope and submits a loser from inside; the test thread submits
 * another through the same scope from outside. A stop requested for the task
 * reaches both (the outside one through the scope's lineage), and a child
 * submitted from outside after the stop never runs.
 */
struct lineage {
    wse_scope *s; /* atomic */
    wse_future *inner;
    struct losers l;
    int go_join;
    int join_rc;
};

static int
lineage_task(void *arg, void **result)
{
    struct lineage *g = arg;
    wse_scope *s;
    (void)result;
    int rc = wse_scope_create(&s, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER);
    if (rc != 0)
        return rc;
    rc = wse_scope_submit(s, loser_task, &g->l, &g->inner);
    if (rc != 0)
        return rc;
    __atomic_store_n(&g->s, s, __ATOMIC_SEQ_CST);
    while (!flag_get(&g->go_join))
        sched_yield();
    __atomic_store_n(&g->join_rc, wse_scope_join(s, NULL), __ATOMIC_SEQ_CST);
    wse_scope_destroy(s);
    return 0;
}

START_TEST(scope_lineage_stop_reaches_children)
{
    wse_executor *ex = make_executor(3);
    struct lineage g = {.join_rc = -1};
    int runs = 0;
    wse_future *t = NULL;
    ck_assert_int_eq(wse_submit(ex, lineage_task, &g, &t), 0);
    (void)await_scope(&g.s, "the task never made its scope");
    wse_future *outer = submit_ok(g.s, loser_task, &g.l);
    spin_until_at_least(&g.l.entered, 2, "both losers to start");
    ck_assert(wse_future_request_stop(t));
    spin_until_state(g.inner, WSE_CANCELLED);
    spin_until_state(outer, WSE_CANCELLED);
    /* From outside, after the stop: its lineage is stopped, so a worker
     * cancels it instead of running it. */
    wse_future *late = submit_ok(g.s, task_count, &runs);
    flag_set(&g.go_join);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(__atomic_load_n(&g.join_rc, __ATOMIC_SEQ_CST), 0);
    ck_assert_int_eq(wse_future_state(late), WSE_CANCELLED);
    ck_assert_int_eq(counter_get(&runs), 0);
    ck_assert_int_eq(counter_get(&g.l.stopped), 2);
    ck_assert_int_eq(counter_get(&g.l.bad), 0);
    wse_future_release(g.inner);
    wse_future_release(outer);
    wse_future_release(late);
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/*
 * The anchor is freed by the task that made the scope: the child from outside
 * is gone first (its reference on the anchor with it), so the scope's
 * reference is the last, dropped in the task's own destroy, on its own thread.
 * The anchor's reference on the task is a real one and must go as one: taken
 * off the task's plain count of its own children instead, that count would go
 * below zero and the task's future would never be freed (LeakSanitizer, in the
 * ASan build, reports it).
 */
struct anchored {
    wse_scope *s; /* atomic */
    int go;
    int ran;
    int join_rc;
};

static int
anchored_owner_task(void *arg, void **result)
{
    struct anchored *a = arg;
    wse_scope *s;
    (void)result;
    if (wse_scope_create(&s, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER) != 0)
        return ENOMEM;
    __atomic_store_n(&a->s, s, __ATOMIC_SEQ_CST);
    while (!flag_get(&a->go))
        sched_yield();
    __atomic_store_n(&a->join_rc, wse_scope_join(s, NULL), __ATOMIC_SEQ_CST);
    wse_scope_destroy(s);
    return 0;
}

START_TEST(scope_anchor_freed_by_its_creator)
{
    wse_executor *ex = make_executor(2);
    struct anchored a = {.join_rc = -1};
    wse_future *t = NULL;
    ck_assert_int_eq(wse_submit(ex, anchored_owner_task, &a, &t), 0);
    wse_scope *s = await_scope(&a.s, "the task never made its scope");
    wse_future *c = submit_ok(s, task_count, &a.ran);
    ck_assert_int_eq(wse_future_wait(c, WSE_FOREVER), 0);
    wse_future_release(c);
    flag_set(&a.go);
    ck_assert_int_eq(wse_future_wait(t, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(t), WSE_DONE);
    ck_assert_int_eq(__atomic_load_n(&a.join_rc, __ATOMIC_SEQ_CST), 0);
    ck_assert_int_eq(counter_get(&a.ran), 1);
    wse_future_release(t);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Destroy ----------------------------------------------------------------------- */

/* Destroy without a join waits for every child. */
START_TEST(scope_destroy_without_join)
{
    wse_executor *ex = make_executor(2);
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, WSE_FOREVER), 0);
    wse_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = submit_ok(s, sleep_30ms, NULL);
    wse_scope_destroy(s);
    for (int i = 0; i < 4; i++)
        ck_assert(wse_future_done(f[i]));
    release_all(f, 4);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Destroy inside one of its own children returns at once; the last child frees
 * the scope (LeakSanitizer checks that it is freed, ASan that nothing touches it
 * after). */
struct self_destroy {
    wse_scope *s;
    int done;
};

static int
self_destroy_task(void *arg, void **result)
{
    struct self_destroy *d = arg;
    (void)result;
    wse_scope_destroy(d->s);
    flag_set(&d->done);
    return 0;
}

START_TEST(scope_destroy_inside_child)
{
    wse_executor *ex = make_executor(2);
    struct self_destroy sd = {0};
    struct trigger other = {0};
    ck_assert_int_eq(wse_scope_create(&sd.s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
    wse_future *o = submit_ok(sd.s, trigger_task, &other);
    spin_until_at_least(&other.ran, 1, "the other child to start");
    wse_future *d = submit_ok(sd.s, self_destroy_task, &sd);
    ck_assert_int_eq(wse_future_wait(d, WSE_FOREVER), 0);
    ck_assert(flag_get(&sd.done));
    ck_assert_int_eq(wse_future_state(o), WSE_RUNNING);
    flag_set(&other.go);
    ck_assert_int_eq(wse_future_wait(o, WSE_FOREVER), 0);
    wse_future_release(o);
    wse_future_release(d);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A second join returns what the first did, at once. */
START_TEST(scope_second_join_same)
{
    wse_executor *ex = make_executor(2);
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_EXCEPTION, WSE_FOREVER), 0);
    wse_future *ff = submit_ok(s, fail_eio, NULL);
    wse_future *d1 = NULL, *d2 = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d1), 0);
    ck_assert_int_eq(wse_scope_join(s, &d2), 0);
    ck_assert_ptr_eq(d1, ff);
    ck_assert_ptr_eq(d2, ff);
    ck_assert_int_eq(wse_scope_join(s, NULL), 0);
    wse_scope_destroy(s);
    /* And a timed-out join: ETIMEDOUT again. */
    struct losers l = {0};
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, 0.01), 0);
    ck_assert_int_eq(wse_scope_submit(s, loser_task, &l, NULL), 0);
    d1 = SENTINEL;
    ck_assert_int_eq(wse_scope_join(s, &d1), ETIMEDOUT);
    ck_assert_ptr_null(d1);
    d1 = SENTINEL;
    ck_assert_int_eq(wse_scope_join(s, &d1), ETIMEDOUT);
    ck_assert_ptr_null(d1);
    wse_scope_destroy(s);
    wse_future_release(ff);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Submits racing with the settling ---------------------------------------------- */

/*
 * A FIRST_COMPLETED scope whose first child returns at once, while the test
 * thread keeps submitting losers until a submit says ECANCELED. Every accepted
 * loser must get the stop (a loser that does not would spin to its limit and
 * count itself bad), and nothing outlives the join.
 */
struct race_round {
    struct losers l;
    int accepted;
};

static void
submit_race_round(wse_executor *ex, struct race_round *r)
{
    wse_scope *s;
    ck_assert_int_eq(wse_scope_create(&s, ex, WSE_FIRST_COMPLETED, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_scope_submit(s, task_value, V(1), NULL), 0);
    for (;;) {
        int rc = wse_scope_submit(s, loser_task, &r->l, NULL);
        if (rc == ECANCELED)
            break;
        ck_assert_int_eq(rc, 0);
        r->accepted++;
        ck_assert_int_lt(r->accepted, 1000000);
    }
    wse_future *d = NULL;
    ck_assert_int_eq(wse_scope_join(s, &d), 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(counter_get(&r->l.bad), 0);
    /* Every loser that started saw the stop and returned. */
    ck_assert_int_eq(counter_get(&r->l.entered), counter_get(&r->l.stopped));
    wse_scope_destroy(s);
}

START_TEST(scope_submit_races_settle)
{
    long rounds = env_long("WSE_SCOPE_ROUNDS", 40);
    wse_executor *ex = make_executor(wse_test_workers(2));
    for (long k = 0; k < rounds; k++) {
        struct race_round r = {0};
        submit_race_round(ex, &r);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/*
 * Submits racing with a shutdown: each returns 0 or ESHUTDOWN (a submit that
 * passed the shut-down check and then found the queue closed gives its slot
 * back), every accepted child runs (a shutdown without cancel_pending runs what
 * is queued), and the join counts exactly those.
 */
struct shut_race {
    wse_scope *s;
    int accepted;
    int runs;
    int bad;
};

static void *
shut_race_submitter(void *arg)
{
    struct shut_race *r = arg;
    for (;;) {
        int rc = wse_scope_submit(r->s, task_count, &r->runs, NULL);
        if (rc == ESHUTDOWN)
            break;
        if (rc != 0) {
            counter_add(&r->bad, 1);
            break;
        }
        counter_add(&r->accepted, 1);
    }
    return NULL;
}

START_TEST(scope_submit_races_shutdown)
{
    long rounds = env_long("WSE_SCOPE_ROUNDS", 40);
    for (long k = 0; k < rounds; k++) {
        wse_executor *ex = make_executor(2);
        struct shut_race r = {0};
        pthread_t th[2];
        ck_assert_int_eq(wse_scope_create(&r.s, ex, WSE_ALL_COMPLETED, WSE_FOREVER), 0);
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, shut_race_submitter, &r), 0);
        spin_for(20.0 * (double)(k % 10));
        ck_assert_int_eq(wse_shutdown(ex, false, false), 0);
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(wse_scope_join(r.s, NULL), 0);
        ck_assert_int_eq(counter_get(&r.bad), 0);
        ck_assert_int_eq(counter_get(&r.runs), counter_get(&r.accepted));
        wse_scope_destroy(r.s);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
}
END_TEST

/*
 * Stress: children that submit siblings (more of themselves and losers) while
 * the scope settles: a decider submitted from outside completes (or, for
 * FIRST_EXCEPTION, fails), or an ALL_COMPLETED scope's short deadline passes.
 * Losers here spin at most a millisecond (so one worker still gets to the
 * decider). After each join: nothing runs any more, every submit said 0 or
 * ECANCELED, the decided child is consistent with the policy.
 */
struct storm {
    wse_scope *s;
    int entered;
    int exited;
    int bad;
    int budget; /* siblings left to submit */
};

static int
storm_loser(void *arg, void **result)
{
    struct storm *st = arg;
    double end = now_s() + 0.001;
    (void)result;
    counter_add(&st->entered, 1);
    while (!wse_stop_requested() && now_s() < end)
        sched_yield();
    bool stopped = wse_stop_requested();
    counter_add(&st->exited, 1);
    return stopped ? ECANCELED : 0;
}

static int
storm_breeder(void *arg, void **result)
{
    struct storm *st = arg;
    (void)result;
    counter_add(&st->entered, 1);
    for (int i = 0; i < 4; i++) {
        if (counter_add(&st->budget, -1) < 0)
            break;
        int rc = wse_scope_submit(st->s, i % 2 == 0 ? storm_breeder : storm_loser, st, NULL);
        if (rc == ECANCELED)
            break;
        if (rc != 0)
            counter_add(&st->bad, 1);
    }
    double end = now_s() + 0.001;
    while (!wse_stop_requested() && now_s() < end)
        sched_yield();
    bool stopped = wse_stop_requested();
    counter_add(&st->exited, 1);
    return stopped ? ECANCELED : 0;
}

static int
storm_decider(void *arg, void **result)
{
    (void)result;
    return (int)(intptr_t)arg;
}

START_TEST(scope_stress_siblings_while_settling)
{
    long rounds = env_long("WSE_SCOPE_STRESS_ROUNDS", 30);
    unsigned lo = 1, hi = 4;
    if (getenv("WSE_TEST_WORKERS") != NULL)
        lo = hi = wse_test_workers(2);
    struct watchdog wd;
    watchdog_start(&wd, 60.0);
    long done_rounds = 0;
    for (unsigned workers = lo; workers <= hi; workers++) {
        wse_executor *ex = make_executor(workers);
        for (long k = 0; k < rounds; k++) {
            int kind = (int)(k % 3);
            wse_return_when mode = kind == 0   ? WSE_FIRST_COMPLETED
                                   : kind == 1 ? WSE_FIRST_EXCEPTION
                                               : WSE_ALL_COMPLETED;
            struct storm st = {.budget = 200};
            double timeout = kind == 2 ? 0.002 : WSE_FOREVER;
            ck_assert_int_eq(wse_scope_create(&st.s, ex, mode, timeout), 0);
            for (int b = 0; b < 3; b++) {
                /* A FIRST_COMPLETED scope settles on any completion, a
                 * breeder's included. */
                int brc = wse_scope_submit(st.s, storm_breeder, &st, NULL);
                ck_assert(brc == 0 || (brc == ECANCELED && mode == WSE_FIRST_COMPLETED));
            }
            if (k % 2 == 0)
                spin_for(50.0 * (double)(k % 7));
            wse_future *dec = NULL;
            int code = mode == WSE_FIRST_EXCEPTION ? EIO : 0;
            int rc = wse_scope_submit(st.s, storm_decider, V(code), &dec);
            /* A FIRST_COMPLETED scope may have settled already (a child done). */
            ck_assert(rc == 0 || (rc == ECANCELED && mode == WSE_FIRST_COMPLETED));
            wse_future *d = SENTINEL;
            int jr = wse_scope_join(st.s, &d);
            ck_assert_int_eq(counter_get(&st.bad), 0);
            ck_assert_int_eq(counter_get(&st.entered), counter_get(&st.exited));
            switch (mode) {
            case WSE_FIRST_COMPLETED:
                ck_assert_int_eq(jr, 0);
                ck_assert_ptr_nonnull(d);
                ck_assert_int_eq(wse_future_state(d), WSE_DONE);
                break;
            case WSE_FIRST_EXCEPTION:
                ck_assert_int_eq(jr, 0);
                ck_assert_ptr_eq(d, dec);
                ck_assert_int_eq(wse_future_state(dec), WSE_FAILED);
                break;
            default:
                ck_assert(jr == 0 || jr == ETIMEDOUT);
                ck_assert_ptr_null(d);
                break;
            }
            if (dec != NULL)
                ck_assert(wse_future_done(dec));
            wse_scope_destroy(st.s);
            wse_future_release(dec);
            watchdog_progress(&wd, ++done_rounds);
        }
        /* The unstoppable race too, with a worker count the race needs. */
        if (workers >= 2) {
            struct race_round r = {0};
            submit_race_round(ex, &r);
        }
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
    watchdog_stop(&wd);
}
END_TEST

static Suite *
scope_suite(void)
{
    Suite *s = suite_create("scope");
    TCase *tc = tcase_create("scope");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, scope_einval);
    tcase_add_test(tc, scope_empty_joins_at_once);
    tcase_add_test(tc, scope_first_completed_race);
    tcase_add_test(tc, scope_pending_children_never_run);
    tcase_add_test(tc, scope_first_exception_fail_fast);
    tcase_add_test(tc, scope_first_exception_without_failure);
    tcase_add_test(tc, scope_all_completed_runs_everything);
    tcase_add_test(tc, scope_decided_borrowed_until_destroy);
    tcase_add_test(tc, scope_deadline_in_join);
    tcase_add_test(tc, scope_deadline_passed_before_join);
    tcase_add_test(tc, scope_deadline_passed_condition_holds);
    tcase_add_test(tc, scope_negative_timeout_is_forever);
    tcase_add_test(tc, scope_submit_after_settle_and_after_join);
    tcase_add_test(tc, scope_submit_eshutdown);
    tcase_add_test(tc, scope_children_submit_siblings);
    tcase_add_test(tc, scope_join_from_worker);
    tcase_add_test(tc, scope_join_inside_child_edeadlk);
    tcase_add_test(tc, scope_join_inside_late_child_edeadlk);
    tcase_add_test(tc, scope_joined_by_another_thread_while_owner_blocks);
    tcase_add_test(tc, scope_made_on_one_thread_joined_on_another);
    tcase_add_test(tc, scope_lineage_stop_reaches_children);
    tcase_add_test(tc, scope_anchor_freed_by_its_creator);
    tcase_add_test(tc, scope_destroy_without_join);
    tcase_add_test(tc, scope_destroy_inside_child);
    tcase_add_test(tc, scope_second_join_same);
    suite_add_tcase(s, tc);
    TCase *race = tcase_create("race");
    tcase_set_timeout(race, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(race, scope_submit_races_settle);
    tcase_add_test(race, scope_submit_races_shutdown);
    tcase_add_test(race, scope_owner_submits_while_another_thread_joins);
    tcase_add_test(race, scope_outside_submits_while_the_owner_joins);
    suite_add_tcase(s, race);
    TCase *stress = tcase_create("stress");
    tcase_set_timeout(stress, WSE_TEST_TIMEOUT * 10);
    tcase_add_test(stress, scope_stress_siblings_while_settling);
    suite_add_tcase(s, stress);
    return s;
}

int
main(void)
{
    return run_suite(scope_suite());
}

/*
 * Check suite for cooperative stop: wse_future_request_stop() on pending, running
 * and done futures, wse_stop_requested() in the stopped task, its descendants
 * (wse_submit, wse_submit_batch, wse_submit_after, transitively), unrelated
 * tasks and plain threads; the ECANCELED -> CANCELLED rule; races of a stop
 * against a task starting; and the race and fail-fast patterns.
 */
#include "wse_test.h"

#define V(x) ((void *)(uintptr_t)(x))

/* A task that announces it runs, then spins until it sees a stop (or `give_up`
 * is set), and returns `code` after a stop, 0 otherwise. */
struct poller {
    int entered;
    int saw_stop;
    int give_up;
    int code;
    int linger; /* after the stop, wait for give_up too */
};

static int
task_poll_stop(void *arg, void **result)
{
    struct poller *p = arg;
    counter_add(&p->entered, 1);
    while (!wse_stop_requested()) {
        if (flag_get(&p->give_up))
            return 0;
        sched_yield();
    }
    flag_set(&p->saw_stop);
    while (p->linger && !flag_get(&p->give_up))
        sched_yield();
    *result = V(1);
    return p->code;
}

START_TEST(stop_null_false)
{
    ck_assert(!wse_future_request_stop(NULL));
    ck_assert(!wse_stop_requested());
}
END_TEST

START_TEST(stop_pending_is_cancel)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *f = make_pending(&b, &ran);
    ck_assert(wse_future_request_stop(f));
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_error(f), ECANCELED);
    ck_assert(!wse_future_request_stop(f));
    ck_assert(!wse_future_cancel(f));
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(f);
}
END_TEST

static void
cb_count(wse_future *f, void *arg)
{
    (void)f;
    counter_add(arg, 1);
}

START_TEST(stop_pending_runs_callbacks)
{
    struct blocked b;
    int ran = 0;
    int cbs = 0;
    blocked_start(&b, 1);
    wse_future *f = make_pending(&b, &ran);
    ck_assert_int_eq(wse_future_on_done(f, cb_count, &cbs), 0);
    ck_assert(wse_future_request_stop(f));
    ck_assert_int_eq(counter_get(&cbs), 1);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    wse_future_release(f);
}
END_TEST

static void
stop_running_ends(int code, wse_state want, int want_error)
{
    wse_executor *ex = make_executor_any(1);
    struct poller p = {.code = code, .linger = 1};
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_poll_stop, &p, &f), 0);
    spin_until_at_least(&p.entered, 1, "the poller to start");
    ck_assert_int_eq(wse_future_state(f), WSE_RUNNING);
    usleep(1000);
    ck_assert(!flag_get(&p.saw_stop)); /* no stop yet: the flag is false */
    ck_assert(wse_future_request_stop(f));
    spin_until_at_least(&p.saw_stop, 1, "the poller to see the stop");
    ck_assert_int_eq(wse_future_state(f), WSE_RUNNING);
    ck_assert(wse_future_request_stop(f)); /* again, still running: true */
    flag_set(&p.give_up);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert(flag_get(&p.saw_stop));
    ck_assert_int_eq(wse_future_state(f), want);
    ck_assert_int_eq(wse_future_error(f), want_error);
    ck_assert_ptr_eq(wse_future_value(f), want == WSE_DONE ? V(1) : NULL);
    /* Done: false, nothing changes. */
    ck_assert(!wse_future_request_stop(f));
    ck_assert_int_eq(wse_future_state(f), want);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}

START_TEST(stop_running_ecanceled_is_cancelled)
{
    stop_running_ends(ECANCELED, WSE_CANCELLED, ECANCELED);
}
END_TEST

START_TEST(stop_running_zero_is_done)
{
    stop_running_ends(0, WSE_DONE, 0);
}
END_TEST

START_TEST(stop_running_other_code_is_failed)
{
    stop_running_ends(EIO, WSE_FAILED, EIO);
}
END_TEST

START_TEST(stop_ecanceled_without_request_is_failed)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *f = make_failed(ex, ECANCELED);
    ck_assert_int_eq(wse_future_error(f), ECANCELED);
    /* FIRST_EXCEPTION counts it. */
    size_t nd = 0;
    ck_assert_int_eq(wse_wait(&f, 1, 0, WSE_FIRST_EXCEPTION, NULL, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(stop_done_false)
{
    wse_executor *ex = make_executor_any(1);
    wse_future *d = make_done(ex, V(3));
    wse_future *e = make_failed(ex, EIO);
    ck_assert(!wse_future_request_stop(d));
    ck_assert(!wse_future_request_stop(e));
    ck_assert_int_eq(wse_future_state(d), WSE_DONE);
    ck_assert_ptr_eq(wse_future_value(d), V(3));
    ck_assert_int_eq(wse_future_state(e), WSE_FAILED);
    ck_assert_int_eq(wse_future_error(e), EIO);
    wse_future_release(d);
    wse_future_release(e);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(stop_requested_false_on_plain_thread_and_hooks)
{
    ck_assert(!wse_stop_requested());
    wse_executor *ex = make_executor_any(1);
    struct poller p = {.code = ECANCELED};
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_poll_stop, &p, &f), 0);
    spin_until_at_least(&p.entered, 1, "the poller");
    ck_assert(wse_future_request_stop(f));
    /* The stop is for f, not for this thread. */
    ck_assert(!wse_stop_requested());
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert(!wse_stop_requested());
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Lineage --------------------------------------------------------------------- */

/*
 * One worker, so the root's descendants stay queued behind it. The root submits
 * pending children with wse_submit, wse_submit_batch and wse_submit_after (on a
 * promise the test completes later), then a child that submits a polling
 * grandchild, and waits for the child: the worker runs child and grandchild
 * while it helps. The test stops the root once the grandchild polls: the
 * grandchild and the child see the stop, then the root, back from its wait. A
 * child the root submits after the stop, and the pending ones, never run.
 */
struct lineage {
    wse_executor *ex;
    wse_future *promise;
    struct poller grandchild;
    int child_saw;
    int pending_ran; /* pending descendants that ran (must stay 0) */
    wse_future *pending[5];
    wse_future *running_child;
    int root_after_wait; /* stop_requested() back in the root */
};

static struct lineage L;

static int
task_pending_child(void *arg, void **result)
{
    (void)arg;
    (void)result;
    counter_add(&L.pending_ran, 1);
    return 0;
}

static int
task_child_with_grandchild(void *arg, void **result)
{
    (void)arg;
    (void)result;
    wse_future *g;
    int rc = wse_submit(L.ex, task_poll_stop, &L.grandchild, &g);
    if (rc != 0)
        return rc;
    rc = wse_future_wait(g, WSE_FOREVER);
    int gs = wse_future_state(g);
    wse_future_release(g);
    if (rc != 0)
        return rc;
    if (gs != WSE_CANCELLED)
        return EPROTO;
    if (wse_stop_requested())
        flag_set(&L.child_saw);
    return ECANCELED;
}

static int
task_root(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc;
    rc = wse_submit(L.ex, task_pending_child, NULL, &L.pending[0]);
    if (rc != 0)
        return rc;
    void *args[2] = {NULL, NULL};
    rc = wse_submit_batch(L.ex, task_pending_child, args, 2, &L.pending[1]);
    if (rc != 0)
        return rc;
    wse_future *deps[1] = {L.promise};
    rc = wse_submit_after(L.ex, deps, 1, task_pending_child, NULL, &L.pending[3]);
    if (rc != 0)
        return rc;
    rc = wse_submit(L.ex, task_child_with_grandchild, NULL, &L.running_child);
    if (rc != 0)
        return rc;
    rc = wse_future_wait(L.running_child, WSE_FOREVER);
    if (rc != 0)
        return rc;
    if (wse_stop_requested())
        flag_set(&L.root_after_wait);
    /* Submitted after the stop: stopped too, never runs. */
    rc = wse_submit(L.ex, task_pending_child, NULL, &L.pending[4]);
    if (rc != 0)
        return rc;
    return ECANCELED;
}

START_TEST(stop_reaches_descendants)
{
    memset(&L, 0, sizeof L);
    L.ex = make_executor(1);
    L.grandchild.code = ECANCELED;
    ck_assert_int_eq(wse_promise_create(&L.promise, NULL), 0);
    wse_future *root;
    ck_assert_int_eq(wse_submit(L.ex, task_root, NULL, &root), 0);
    spin_until_at_least(&L.grandchild.entered, 1, "the grandchild");
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(wse_future_state(L.pending[i]), WSE_PENDING);
    ck_assert_int_eq(wse_future_state(L.running_child), WSE_RUNNING);
    ck_assert(wse_future_request_stop(root));
    ck_assert_int_eq(wse_future_wait(root, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(root), WSE_CANCELLED);
    ck_assert(flag_get(&L.grandchild.saw_stop));
    ck_assert(flag_get(&L.child_saw));
    ck_assert(flag_get(&L.root_after_wait));
    ck_assert_int_eq(wse_future_state(L.running_child), WSE_CANCELLED);
    /* The root finished: its dependent becomes runnable now, and never runs. */
    ck_assert_int_eq(wse_promise_set_value(L.promise, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(L.ex), 0);
    ck_assert_int_eq(counter_get(&L.pending_ran), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(wse_future_state(L.pending[i]), WSE_CANCELLED);
        wse_future_release(L.pending[i]);
    }
    wse_future_release(L.running_child);
    wse_future_release(root);
    wse_future_release(L.promise);
}
END_TEST

/* A grandchild whose parent already finished still sees the grandparent's stop. */
struct orphan {
    wse_executor *ex;
    struct poller grandchild;
    wse_future *parent;
    wse_future *grandchild_f;
    int parent_done;
    int root_entered;
    int go;
};

static struct orphan O;

static int
task_orphan_parent(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* Fire and forget the grandchild on another worker of ex; this parent ends now. */
    return wse_submit(O.ex, task_poll_stop, &O.grandchild, &O.grandchild_f);
}

static int
task_orphan_root(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = wse_submit(O.ex, task_orphan_parent, NULL, &O.parent);
    if (rc != 0)
        return rc;
    rc = wse_future_wait(O.parent, WSE_FOREVER);
    if (rc != 0)
        return rc;
    counter_add(&O.root_entered, 1);
    while (!flag_get(&O.go))
        sched_yield();
    return 0;
}

START_TEST(stop_reaches_grandchild_of_finished_parent)
{
    memset(&O, 0, sizeof O);
    O.ex = make_executor(2);
    O.grandchild.code = ECANCELED;
    wse_future *root;
    ck_assert_int_eq(wse_submit(O.ex, task_orphan_root, NULL, &root), 0);
    spin_until_at_least(&O.root_entered, 1, "the root");
    ck_assert_int_eq(wse_future_state(O.parent), WSE_DONE);
    /* The grandchild runs (the other worker steals it) or is still queued. */
    ck_assert(wse_future_request_stop(root));
    ck_assert_int_eq(wse_future_wait(O.grandchild_f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(O.grandchild_f), WSE_CANCELLED);
    flag_set(&O.go);
    ck_assert_int_eq(wse_future_wait(root, WSE_FOREVER), 0);
    /* The root returned 0 after the stop: DONE. */
    ck_assert_int_eq(wse_future_state(root), WSE_DONE);
    wse_future_release(O.grandchild_f);
    wse_future_release(O.parent);
    wse_future_release(root);
    ck_assert_int_eq(wse_executor_destroy(O.ex), 0);
}
END_TEST

/*
 * Helping: one worker. The stopped task waits on an unrelated task that was
 * submitted from outside (queued behind it on the injection queue); the worker
 * runs it while it helps: there wse_stop_requested() is false; back in the
 * stopped task it is true again.
 */
struct help {
    wse_future *unrelated;
    int entered;
    int unrelated_saw; /* 1: false as it must be, 2: true */
    int back_saw;
    int go;
};

static struct help H;

static int
task_unrelated(void *arg, void **result)
{
    (void)arg;
    (void)result;
    __atomic_store_n(&H.unrelated_saw, wse_stop_requested() ? 2 : 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int
task_stopped_helper(void *arg, void **result)
{
    (void)arg;
    (void)result;
    counter_add(&H.entered, 1);
    while (!wse_stop_requested())
        sched_yield();
    while (!flag_get(&H.go))
        sched_yield();
    int rc = wse_future_wait(H.unrelated, WSE_FOREVER);
    if (rc != 0)
        return rc;
    if (wse_stop_requested())
        flag_set(&H.back_saw);
    return ECANCELED;
}

START_TEST(stop_not_seen_by_unrelated_task_run_while_helping)
{
    memset(&H, 0, sizeof H);
    wse_executor *ex = make_executor(1);
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_stopped_helper, NULL, &f), 0);
    spin_until_at_least(&H.entered, 1, "the stopped task");
    ck_assert_int_eq(wse_submit(ex, task_unrelated, NULL, &H.unrelated), 0);
    ck_assert(wse_future_request_stop(f));
    flag_set(&H.go);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_state(H.unrelated), WSE_DONE);
    ck_assert_int_eq(__atomic_load_n(&H.unrelated_saw, __ATOMIC_SEQ_CST), 1);
    ck_assert(flag_get(&H.back_saw));
    wse_future_release(H.unrelated);
    wse_future_release(f);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Races ------------------------------------------------------------------------ */

START_TEST(stop_race_against_start)
{
    long rounds = env_long("WSE_STOP_ROUNDS", 3000);
    wse_executor *ex = make_executor_any(2);
    int before = 0, seen = 0;
    for (long k = 0; k < rounds; k++) {
        struct poller *p = calloc(1, sizeof *p);
        ck_assert_ptr_nonnull(p);
        p->code = ECANCELED;
        wse_future *f;
        ck_assert_int_eq(wse_submit(ex, task_poll_stop, p, &f), 0);
        if (k & 1)
            sched_yield();
        ck_assert(wse_future_request_stop(f));
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        /* Never lost: cancelled before start, or it saw the flag. */
        ck_assert_int_eq(wse_future_state(f), WSE_CANCELLED);
        if (counter_get(&p->entered) == 0) {
            before++;
        } else {
            ck_assert(flag_get(&p->saw_stop));
            seen++;
        }
        wse_future_release(f);
        free(p);
    }
    ck_assert_int_eq(before + seen, (int)rounds);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* The race pattern: n pollers, one finishes on its own; wait FIRST_COMPLETED,
 * then stop all: the losers end CANCELLED, the winner stays DONE. */
START_TEST(stop_race_pattern_first_completed)
{
    enum { N = 4 };
    wse_executor *ex = make_executor(N);
    struct poller p[N];
    memset(p, 0, sizeof p);
    wse_future *f[N];
    for (int i = 0; i < N; i++) {
        p[i].code = ECANCELED;
        ck_assert_int_eq(wse_submit(ex, task_poll_stop, &p[i], &f[i]), 0);
    }
    for (int i = 0; i < N; i++)
        spin_until_at_least(&p[i].entered, 1, "pollers");
    flag_set(&p[2].give_up);
    wse_future *out[N];
    size_t nd;
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd), 0);
    ck_assert_uint_ge(nd, 1);
    ck_assert_ptr_eq(out[0], f[2]);
    for (int i = 0; i < N; i++)
        ck_assert(wse_future_request_stop(f[i]) == (i != 2));
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, out, &nd), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_future_state(f[i]), i == 2 ? WSE_DONE : WSE_CANCELLED);
    /* FIRST_EXCEPTION over them: nothing FAILED (CANCELLED is no exception). */
    ck_assert_int_eq(wse_wait(f, N, 0, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, N);
    release_all(f, N);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Fail-fast: one task fails; FIRST_EXCEPTION returns; stop the rest. */
START_TEST(stop_fail_fast_pattern)
{
    enum { N = 3 };
    wse_executor *ex = make_executor(N + 1);
    struct poller p[N];
    memset(p, 0, sizeof p);
    wse_future *f[N + 1];
    for (int i = 0; i < N; i++) {
        p[i].code = ECANCELED;
        ck_assert_int_eq(wse_submit(ex, task_poll_stop, &p[i], &f[i]), 0);
    }
    for (int i = 0; i < N; i++)
        spin_until_at_least(&p[i].entered, 1, "pollers");
    ck_assert_int_eq(wse_submit(ex, task_code, (void *)(intptr_t)EIO, &f[N]), 0);
    wse_future *out[N + 1];
    size_t nd;
    ck_assert_int_eq(wse_wait(f, N + 1, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &nd), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(out[0], f[N]);
    for (int i = 0; i <= N; i++)
        ck_assert(wse_future_request_stop(f[i]) == (i != N));
    ck_assert_int_eq(wse_wait(f, N + 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_future_state(f[i]), WSE_CANCELLED);
    ck_assert_int_eq(wse_future_state(f[N]), WSE_FAILED);
    release_all(f, N + 1);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static Suite *
stop_suite(void)
{
    Suite *s = suite_create("stop");
    TCase *tc = tcase_create("stop");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, stop_null_false);
    tcase_add_test(tc, stop_pending_is_cancel);
    tcase_add_test(tc, stop_pending_runs_callbacks);
    tcase_add_test(tc, stop_running_ecanceled_is_cancelled);
    tcase_add_test(tc, stop_running_zero_is_done);
    tcase_add_test(tc, stop_running_other_code_is_failed);
    tcase_add_test(tc, stop_ecanceled_without_request_is_failed);
    tcase_add_test(tc, stop_done_false);
    tcase_add_test(tc, stop_requested_false_on_plain_thread_and_hooks);
    tcase_add_test(tc, stop_reaches_descendants);
    tcase_add_test(tc, stop_reaches_grandchild_of_finished_parent);
    tcase_add_test(tc, stop_not_seen_by_unrelated_task_run_while_helping);
    tcase_add_test(tc, stop_race_pattern_first_completed);
    tcase_add_test(tc, stop_fail_fast_pattern);
    suite_add_tcase(s, tc);
    TCase *race = tcase_create("race");
    tcase_set_timeout(race, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(race, stop_race_against_start);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    return run_suite(stop_suite());
}

/*
 * Check suite for executors: create and options, wse_current, submit (also fire
 * and forget and from workers), shutdown in all its forms, destroy, EDEADLK from
 * a worker, wse_submit_batch, and bad input for every public function.
 */
#include <limits.h>

#include "wse_test.h"

#define EX_SENTINEL ((wse_executor *)(uintptr_t)0x5e5e5e5eu)

/* ---- Create and options --------------------------------------------------------- */

struct where {
    int runs;               /* atomic */
    int wrong_executor;     /* atomic: runs where wse_current() != expected */
    wse_executor *expected; /* set before the first submit */
};

static int
task_where(void *arg, void **result)
{
    struct where *w = arg;
    (void)result;
    if (wse_current() != w->expected)
        counter_add(&w->wrong_executor, 1);
    counter_add(&w->runs, 1);
    return 0;
}

static unsigned
online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > 1024 ? 1024 : (unsigned)n;
}

START_TEST(executor_create_null_opts_defaults)
{
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, NULL), 0);
    ck_assert_ptr_nonnull(ex);
    ck_assert_uint_eq(wse_executor_workers(ex), online_cpus());
    struct where w = {.expected = ex};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(wse_submit(ex, task_where, &w, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&w.runs), 20);
    ck_assert_int_eq(counter_get(&w.wrong_executor), 0);
}
END_TEST

START_TEST(executor_create_zeroed_opts_defaults)
{
    wse_executor *ex = NULL;
    wse_options o;
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    ck_assert_uint_eq(wse_executor_workers(ex), online_cpus());
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(executor_create_workers_1_2_8)
{
    static const unsigned counts[] = {1, 2, 8};
    for (size_t k = 0; k < 3; k++) {
        wse_executor *ex = make_executor(counts[k]);
        ck_assert_uint_eq(wse_executor_workers(ex), counts[k]);
        struct where w = {.expected = ex};
        wse_future *f[64];
        for (int i = 0; i < 64; i++)
            ck_assert_int_eq(wse_submit(ex, task_where, &w, &f[i]), 0);
        ck_assert_int_eq(wse_wait(f, 64, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        ck_assert_int_eq(counter_get(&w.runs), 64);
        ck_assert_int_eq(counter_get(&w.wrong_executor), 0);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
        release_all(f, 64);
    }
}
END_TEST

START_TEST(executor_create_einval)
{
    wse_options o = {0};
    ck_assert_int_eq(wse_executor_create(NULL, NULL), EINVAL);
    ck_assert_int_eq(wse_executor_create(NULL, &o), EINVAL);
    wse_executor *ex = EX_SENTINEL;
    o.workers = 1025;
    ck_assert_int_eq(wse_executor_create(&ex, &o), EINVAL);
    ck_assert_ptr_eq(ex, EX_SENTINEL);
    o.workers = UINT_MAX;
    ck_assert_int_eq(wse_executor_create(&ex, &o), EINVAL);
    ck_assert_ptr_eq(ex, EX_SENTINEL);
}
END_TEST

START_TEST(executor_create_destroy_idle)
{
    for (unsigned w = 1; w <= 8; w++) {
        wse_executor *ex = make_executor(w);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
    }
    /* Repeatedly, with a little work each time. */
    for (int i = 0; i < 50; i++) {
        wse_executor *ex = make_executor_any(2);
        int ran = 0;
        ck_assert_int_eq(wse_submit(ex, task_count, &ran, NULL), 0);
        ck_assert_int_eq(wse_executor_destroy(ex), 0);
        ck_assert_int_eq(counter_get(&ran), 1);
    }
}
END_TEST

static int
task_thread_name(void *arg, void **result)
{
    char *buf = arg;
    (void)result;
    return pthread_getname_np(pthread_self(), buf, 16);
}

static void
expect_thread_name_prefix(const char *opt, const char *prefix)
{
    wse_options o = {0};
    o.workers = 2;
    o.thread_name = opt;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    char name[16] = {0};
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_thread_name, name, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_msg(strncmp(name, prefix, strlen(prefix)) == 0, "thread name '%s', prefix '%s'", name,
                  prefix);
    /* Then the worker index (possibly after a separator): ends in a digit, and
     * the prefix was cut at 10 bytes. */
    size_t len = strlen(name);
    ck_assert_msg(len > strlen(prefix) && name[len - 1] >= '0' && name[len - 1] <= '9',
                  "thread name '%s' lacks the index after '%s'", name, prefix);
    ck_assert_msg(strchr("0123456789-_.:#", name[strlen(prefix)]) != NULL,
                  "thread name '%s' continues the prefix '%s'", name, prefix);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}

START_TEST(executor_option_thread_name)
{
    expect_thread_name_prefix(NULL, "wse");
    expect_thread_name_prefix("abc", "abc");
    expect_thread_name_prefix("abcdefghijklmnop", "abcdefghij");
}
END_TEST

/* A task that submits `n` children from its worker (to its own deque) and waits. */
struct spawner {
    int n;
    int ran;
};

static int
task_spawn_many(void *arg, void **result)
{
    struct spawner *s = arg;
    wse_executor *ex = wse_current();
    wse_future **f = malloc(sizeof *f * (size_t)s->n);
    if (f == NULL)
        return ENOMEM;
    int rc = 0, made = 0;
    for (; made < s->n; made++) {
        rc = wse_submit(ex, task_count, &s->ran, &f[made]);
        if (rc != 0)
            break;
    }
    size_t nd = 0;
    if (rc == 0)
        rc = wse_wait(f, (size_t)made, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd);
    *result = (void *)(uintptr_t)nd;
    release_all(f, (size_t)made);
    free(f);
    return rc;
}

START_TEST(executor_option_small_deque_grows)
{
    wse_options o = {0};
    o.workers = 1;
    o.deque_capacity = 1;
    o.spin_rounds = 1;
    wse_executor *ex = NULL;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    struct spawner s = {.n = 10000};
    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, task_spawn_many, &s, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_error(f), 0);
    ck_assert_ptr_eq(wse_future_value(f), (void *)(uintptr_t)10000);
    ck_assert_int_eq(counter_get(&s.ran), 10000);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    wse_future_release(f);
}
END_TEST

START_TEST(executor_version)
{
    ck_assert_uint_eq(wse_version(), WSE_VERSION_HEX);
}
END_TEST

/* ---- wse_current / workers ------------------------------------------------------- */

static void *
plain_thread_current(void *arg)
{
    *(wse_executor **)arg = wse_current();
    return NULL;
}

START_TEST(current_null_on_plain_threads)
{
    ck_assert_ptr_null(wse_current());
    wse_executor *ex = make_executor_any(2);
    ck_assert_ptr_null(wse_current());
    wse_executor *seen = EX_SENTINEL;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, plain_thread_current, &seen), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_ptr_null(seen);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_ptr_null(wse_current());
}
END_TEST

START_TEST(current_is_executor_inside_task)
{
    wse_executor *a = make_executor_any(2), *b = make_executor(3);
    struct where wa = {.expected = a}, wb = {.expected = b};
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(wse_submit(a, task_where, &wa, NULL), 0);
        ck_assert_int_eq(wse_submit(b, task_where, &wb, NULL), 0);
    }
    ck_assert_int_eq(wse_executor_destroy(a), 0);
    ck_assert_int_eq(wse_executor_destroy(b), 0);
    ck_assert_int_eq(counter_get(&wa.runs), 50);
    ck_assert_int_eq(counter_get(&wb.runs), 50);
    ck_assert_int_eq(counter_get(&wa.wrong_executor), 0);
    ck_assert_int_eq(counter_get(&wb.wrong_executor), 0);
}
END_TEST

START_TEST(workers_null_is_zero)
{
    ck_assert_uint_eq(wse_executor_workers(NULL), 0);
}
END_TEST

/* ---- Submit ------------------------------------------------------------------------ */

START_TEST(submit_einval)
{
    wse_executor *ex = make_executor(1);
    int ran = 0;
    wse_future *out = SENTINEL;
    ck_assert_int_eq(wse_submit(NULL, task_count, &ran, &out), EINVAL);
    ck_assert_ptr_eq(out, SENTINEL);
    ck_assert_int_eq(wse_submit(ex, NULL, &ran, &out), EINVAL);
    ck_assert_ptr_eq(out, SENTINEL);
    ck_assert_int_eq(wse_submit(NULL, task_count, &ran, NULL), EINVAL);
    ck_assert_int_eq(wse_submit(ex, NULL, &ran, NULL), EINVAL);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
}
END_TEST

START_TEST(submit_fire_and_forget)
{
    wse_executor *ex = make_executor(4);
    int ran = 0;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(wse_submit(ex, task_count, &ran, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 1000);
}
END_TEST

/* Fire-and-forget tree from inside workers: every node runs once. */
static int g_tree_nodes;

static int
task_tree(void *arg, void **result)
{
    (void)result;
    intptr_t depth = (intptr_t)arg;
    counter_add(&g_tree_nodes, 1);
    if (depth > 0) {
        for (int i = 0; i < 2; i++) {
            int rc = wse_submit(wse_current(), task_tree, (void *)(depth - 1), NULL);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

START_TEST(submit_from_workers_tree)
{
    wse_executor *ex = make_executor(4);
    g_tree_nodes = 0;
    ck_assert_int_eq(wse_submit(ex, task_tree, (void *)(intptr_t)12, NULL), 0);
    spin_until_at_least(&g_tree_nodes, (1 << 13) - 1, "the task tree");
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&g_tree_nodes), (1 << 13) - 1);
}
END_TEST

/* Children pushed on one worker's deque must reach the idle (parked) workers:
 * four children can only meet if four workers run them at once. */
struct meet {
    int started;
    int met;
    int finished;
};

static int
task_meet_child(void *arg, void **result)
{
    struct meet *m = arg;
    (void)result;
    counter_add(&m->started, 1);
    double limit = now_s() + wse_test_scale(10.0);
    while (counter_get(&m->started) < 4 && now_s() < limit)
        sched_yield();
    if (counter_get(&m->started) >= 4)
        counter_add(&m->met, 1);
    counter_add(&m->finished, 1);
    return 0;
}

static int
task_meet_parent(void *arg, void **result)
{
    (void)result;
    for (int i = 0; i < 4; i++) {
        int rc = wse_submit(wse_current(), task_meet_child, arg, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

START_TEST(submit_from_worker_reaches_idle_workers)
{
    wse_executor *ex = make_executor(4);
    usleep(20000); /* let the workers park */
    struct meet m = {0};
    ck_assert_int_eq(wse_submit(ex, task_meet_parent, &m, NULL), 0);
    spin_until_at_least(&m.finished, 4, "the children");
    ck_assert_int_eq(counter_get(&m.met), 4);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* ---- Shutdown and destroy ----------------------------------------------------------- */

START_TEST(destroy_runs_queued_tasks)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(wse_submit(b.ex, task_count, &ran, NULL), 0);
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    ck_assert_int_eq(wse_executor_destroy(b.ex), 0);
    ck_assert_int_eq(counter_get(&ran), 50);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    delayed_flag_join(&df);
    wse_future_release(b.gate_f[0]);
}
END_TEST

START_TEST(shutdown_wait_runs_queued_tasks)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 2);
    wse_future *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = make_pending(&b, &ran);
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    ck_assert_int_eq(wse_shutdown(b.ex, true, false), 0);
    /* Returned only after the queues emptied and every started task finished. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_DONE);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    ck_assert_int_eq(wse_future_state(b.gate_f[1]), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 10);
    wse_future *out = SENTINEL;
    ck_assert_int_eq(wse_submit(b.ex, task_count, &ran, &out), ESHUTDOWN);
    ck_assert_ptr_eq(out, SENTINEL);
    delayed_flag_join(&df);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 10);
    release_all(p, 10);
}
END_TEST

START_TEST(shutdown_cancel_pending_nowait)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = make_pending(&b, &ran);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    /* Cancelled by the time shutdown returns; the running task goes on. */
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
        ck_assert_int_eq(wse_future_error(p[i]), ECANCELED);
    }
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    blocked_release(&b);
    ck_assert_int_eq(wse_future_wait(b.gate_f[0], WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(p, 10);
}
END_TEST

static void
cb_count_cancelled(wse_future *f, void *arg)
{
    if (wse_future_state(f) == WSE_CANCELLED)
        counter_add(arg, 1);
}

START_TEST(shutdown_cancel_pending_runs_callbacks)
{
    struct blocked b;
    int ran = 0, calls = 0;
    blocked_start(&b, 1);
    wse_future *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = make_pending(&b, &ran);
        ck_assert_int_eq(wse_future_on_done(p[i], cb_count_cancelled, &calls), 0);
    }
    ck_assert_int_eq(counter_get(&calls), 0);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    /* "its waiters and callbacks run" by the time shutdown returns. */
    ck_assert_int_eq(counter_get(&calls), 3);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&calls), 3);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(p, 3);
}
END_TEST

/* Tasks a worker pushed on its own deque are cancelled by shutdown(cancel_pending)
 * too, by the time it returns, although their worker is busy. */
struct local_children {
    int ran;
    int pushed;           /* atomic: children submitted */
    int gate;             /* atomic: the parent may return */
    wse_future *child[3]; /* written before `pushed` */
    int rc;
};

static int
task_push_children_then_block(void *arg, void **result)
{
    struct local_children *c = arg;
    (void)result;
    for (int i = 0; i < 3; i++) {
        c->rc = wse_submit(wse_current(), task_count, &c->ran, &c->child[i]);
        if (c->rc != 0)
            break;
    }
    flag_set(&c->pushed);
    while (!flag_get(&c->gate))
        sched_yield();
    return c->rc;
}

START_TEST(shutdown_cancel_pending_cancels_worker_deque_tasks)
{
    wse_executor *ex = make_executor(1);
    struct local_children c = {0};
    wse_future *parent;
    ck_assert_int_eq(wse_submit(ex, task_push_children_then_block, &c, &parent), 0);
    spin_until_at_least(&c.pushed, 1, "the children");
    ck_assert_int_eq(c.rc, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_future_state(c.child[i]), WSE_PENDING);
    ck_assert_int_eq(wse_shutdown(ex, false, true), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(wse_future_state(c.child[i]), WSE_CANCELLED);
        ck_assert_int_eq(wse_future_error(c.child[i]), ECANCELED);
    }
    ck_assert_int_eq(wse_future_state(parent), WSE_RUNNING);
    flag_set(&c.gate);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(wse_future_state(parent), WSE_DONE);
    ck_assert_int_eq(counter_get(&c.ran), 0);
    wse_future_release(parent);
    release_all(c.child, 3);
}
END_TEST

START_TEST(shutdown_wait_and_cancel_pending)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = make_pending(&b, &ran);
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    ck_assert_int_eq(wse_shutdown(b.ex, true, true), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
    delayed_flag_join(&df);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(p, 5);
}
END_TEST

START_TEST(shutdown_nowait_keeps_queued_tasks)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = make_pending(&b, &ran);
    ck_assert_int_eq(wse_shutdown(b.ex, false, false), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_RUNNING);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_PENDING);
    ck_assert_int_eq(wse_submit(b.ex, task_count, &ran, NULL), ESHUTDOWN);
    blocked_finish(&b);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_DONE);
    ck_assert_int_eq(counter_get(&ran), 5);
    release_all(p, 5);
}
END_TEST

START_TEST(shutdown_twice_later_call_adds_cancel)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    wse_future *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = make_pending(&b, &ran);
    ck_assert_int_eq(wse_shutdown(b.ex, false, false), 0);
    ck_assert_int_eq(wse_shutdown(b.ex, false, false), 0);
    ck_assert_int_eq(wse_future_state(p[0]), WSE_PENDING);
    ck_assert_int_eq(wse_shutdown(b.ex, false, true), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(wse_future_state(p[i]), WSE_CANCELLED);
    struct delayed_flag df;
    delayed_flag_start(&df, &b.gate.open, 20000);
    ck_assert_int_eq(wse_shutdown(b.ex, true, true), 0);
    ck_assert_int_eq(wse_future_state(b.gate_f[0]), WSE_DONE);
    ck_assert_int_eq(wse_shutdown(b.ex, true, false), 0);
    delayed_flag_join(&df);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
    release_all(p, 3);
}
END_TEST

START_TEST(submit_after_shutdown_eshutdown)
{
    wse_executor *ex = make_executor_any(2);
    int ran = 0;
    ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
    wse_future *out = SENTINEL;
    ck_assert_int_eq(wse_submit(ex, task_count, &ran, &out), ESHUTDOWN);
    ck_assert_ptr_eq(out, SENTINEL);
    ck_assert_int_eq(wse_submit(ex, task_count, &ran, NULL), ESHUTDOWN);
    void *args[3] = {&ran, &ran, &ran};
    wse_future *outs[3] = {SENTINEL, SENTINEL, SENTINEL};
    ck_assert_int_eq(wse_submit_batch(ex, task_count, args, 3, outs), ESHUTDOWN);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_eq(outs[i], SENTINEL);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
}
END_TEST

START_TEST(shutdown_destroy_einval_null)
{
    ck_assert_int_eq(wse_shutdown(NULL, false, false), EINVAL);
    ck_assert_int_eq(wse_shutdown(NULL, true, true), EINVAL);
    ck_assert_int_eq(wse_executor_destroy(NULL), EINVAL);
}
END_TEST

/* From a worker: destroy and shutdown(wait) are EDEADLK and change nothing. */
struct from_worker {
    int go;
    int rc_destroy;
    int rc_shutdown_wait;
    int rc_shutdown_wait_cancel;
    int rc_submit_after;
    int rc_shutdown_nowait;
    int rc_submit_after_nowait;
    int ran;
    bool shutdown_nowait;
    bool cancel;
};

static int
task_from_worker(void *arg, void **result)
{
    struct from_worker *w = arg;
    (void)result;
    while (!flag_get(&w->go))
        sched_yield();
    wse_executor *ex = wse_current();
    if (!w->shutdown_nowait) {
        w->rc_destroy = wse_executor_destroy(ex);
        w->rc_shutdown_wait = wse_shutdown(ex, true, false);
        w->rc_shutdown_wait_cancel = wse_shutdown(ex, true, true);
        w->rc_submit_after = wse_submit(ex, task_count, &w->ran, NULL);
    } else {
        w->rc_shutdown_nowait = wse_shutdown(ex, false, w->cancel);
        w->rc_submit_after_nowait = wse_submit(ex, task_count, &w->ran, NULL);
    }
    return 0;
}

START_TEST(destroy_and_shutdown_wait_from_worker_edeadlk)
{
    wse_executor *ex = make_executor(1);
    struct from_worker w = {0};
    wse_future *f, *q;
    ck_assert_int_eq(wse_submit(ex, task_from_worker, &w, &f), 0);
    spin_until_state(f, WSE_RUNNING);
    ck_assert_int_eq(wse_submit(ex, task_count, &w.ran, &q), 0); /* queued behind */
    flag_set(&w.go);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(w.rc_destroy, EDEADLK);
    ck_assert_int_eq(w.rc_shutdown_wait, EDEADLK);
    ck_assert_int_eq(w.rc_shutdown_wait_cancel, EDEADLK);
    /* Nothing changed: still accepting work, the queued task was not cancelled. */
    ck_assert_int_eq(w.rc_submit_after, 0);
    ck_assert_int_eq(wse_future_wait(q, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(q), WSE_DONE);
    ck_assert_int_eq(wse_submit(ex, task_count, &w.ran, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&w.ran), 3);
    wse_future_release(f);
    wse_future_release(q);
}
END_TEST

START_TEST(shutdown_nowait_from_worker_ok)
{
    wse_executor *ex = make_executor(1);
    struct from_worker w = {.shutdown_nowait = true, .cancel = false};
    wse_future *f, *q;
    ck_assert_int_eq(wse_submit(ex, task_from_worker, &w, &f), 0);
    spin_until_state(f, WSE_RUNNING);
    ck_assert_int_eq(wse_submit(ex, task_count, &w.ran, &q), 0);
    flag_set(&w.go);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    ck_assert_int_eq(w.rc_shutdown_nowait, 0);
    ck_assert_int_eq(w.rc_submit_after_nowait, ESHUTDOWN);
    ck_assert_int_eq(wse_submit(ex, task_count, &w.ran, NULL), ESHUTDOWN);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(wse_future_state(q), WSE_DONE); /* queued tasks still ran */
    ck_assert_int_eq(counter_get(&w.ran), 1);
    wse_future_release(f);
    wse_future_release(q);
}
END_TEST

START_TEST(shutdown_nowait_cancel_from_worker)
{
    wse_executor *ex = make_executor(1);
    struct from_worker w = {.shutdown_nowait = true, .cancel = true};
    wse_future *f, *q;
    ck_assert_int_eq(wse_submit(ex, task_from_worker, &w, &f), 0);
    spin_until_state(f, WSE_RUNNING);
    ck_assert_int_eq(wse_submit(ex, task_count, &w.ran, &q), 0);
    flag_set(&w.go);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq(w.rc_shutdown_nowait, 0);
    /* The calling task itself was running: not cancelled. */
    ck_assert_int_eq(wse_future_state(f), WSE_DONE);
    ck_assert_int_eq(wse_future_state(q), WSE_CANCELLED);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&w.ran), 0);
    wse_future_release(f);
    wse_future_release(q);
}
END_TEST

/* ---- wse_submit_batch -------------------------------------------------------------- */

START_TEST(submit_batch_runs_all)
{
    enum { N = 100 };
    wse_executor *ex = make_executor(4);
    void *args[N];
    wse_future *out[N];
    for (int i = 0; i < N; i++)
        args[i] = (void *)(uintptr_t)(i + 1);
    ck_assert_int_eq(wse_submit_batch(ex, task_value, args, N, out), 0);
    ck_assert_int_eq(wse_wait(out, N, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(wse_future_state(out[i]), WSE_DONE);
        ck_assert_ptr_eq(wse_future_value(out[i]), args[i]);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(out, N);
}
END_TEST

static int
task_arg_is_null(void *arg, void **result)
{
    (void)result;
    return arg == NULL ? 0 : EPROTO;
}

START_TEST(submit_batch_args_null)
{
    wse_executor *ex = make_executor_any(2);
    wse_future *out[10];
    ck_assert_int_eq(wse_submit_batch(ex, task_arg_is_null, NULL, 10, out), 0);
    ck_assert_int_eq(wse_wait(out, 10, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(wse_future_state(out[i]), WSE_DONE);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    release_all(out, 10);
}
END_TEST

START_TEST(submit_batch_out_null)
{
    enum { N = 500 };
    wse_executor *ex = make_executor(4);
    int ran = 0;
    void *args[N];
    for (int i = 0; i < N; i++)
        args[i] = &ran;
    ck_assert_int_eq(wse_submit_batch(ex, task_count, args, N, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), N);
}
END_TEST

START_TEST(submit_batch_einval)
{
    wse_executor *ex = make_executor(1);
    int ran = 0;
    void *args[2] = {&ran, &ran};
    wse_future *out[2] = {SENTINEL, SENTINEL};
    ck_assert_int_eq(wse_submit_batch(ex, task_count, args, 0, out), EINVAL);
    ck_assert_int_eq(wse_submit_batch(NULL, task_count, args, 2, out), EINVAL);
    ck_assert_int_eq(wse_submit_batch(ex, NULL, args, 2, out), EINVAL);
    ck_assert_int_eq(wse_submit_batch(ex, task_count, args, 0, NULL), EINVAL);
    ck_assert_ptr_eq(out[0], SENTINEL);
    ck_assert_ptr_eq(out[1], SENTINEL);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&ran), 0);
}
END_TEST

START_TEST(submit_batch_after_shutdown_eshutdown)
{
    struct blocked b;
    int ran = 0;
    blocked_start(&b, 1);
    ck_assert_int_eq(wse_shutdown(b.ex, false, false), 0);
    void *args[4] = {&ran, &ran, &ran, &ran};
    wse_future *out[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    ck_assert_int_eq(wse_submit_batch(b.ex, task_count, args, 4, out), ESHUTDOWN);
    ck_assert_int_eq(wse_submit_batch(b.ex, task_count, args, 4, NULL), ESHUTDOWN);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_eq(out[i], SENTINEL);
    blocked_finish(&b);
    ck_assert_int_eq(counter_get(&ran), 0);
}
END_TEST

/* A batch of job->n tasks from a worker, waited for there. */
struct batch_job {
    int ran;
    int n;
};

static int
task_batch_from_worker(void *arg, void **result)
{
    struct batch_job *job = arg;
    void **args = malloc((size_t)job->n * sizeof *args);
    wse_future **out = malloc((size_t)job->n * sizeof *out);
    size_t nd = 0;
    int rc = ENOMEM;

    if (args != NULL && out != NULL) {
        for (int i = 0; i < job->n; i++)
            args[i] = &job->ran;
        rc = wse_submit_batch(wse_current(), task_count, args, (size_t)job->n, out);
        if (rc == 0) {
            rc = wse_wait(out, (size_t)job->n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd);
            release_all(out, (size_t)job->n);
        }
    }
    *result = (void *)(uintptr_t)nd;
    free(args);
    free(out);
    return rc;
}

/* 50 tasks, and 3000 (a big batch: six blocks, one chunk). */
START_TEST(submit_batch_from_worker)
{
    static const int sizes[] = {50, 3000};
    for (unsigned workers = 1; workers <= 3; workers += 2) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            wse_executor *ex = make_executor(workers);
            struct batch_job job = {0, sizes[s]};
            wse_future *f;
            ck_assert_int_eq(wse_submit(ex, task_batch_from_worker, &job, &f), 0);
            ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
            ck_assert_int_eq(wse_future_error(f), 0);
            ck_assert_ptr_eq(wse_future_value(f), (void *)(uintptr_t)job.n);
            ck_assert_int_eq(counter_get(&job.ran), job.n);
            ck_assert_int_eq(wse_executor_destroy(ex), 0);
            wse_future_release(f);
        }
    }
}
END_TEST

/* Big batches (from 256 tasks) keep their futures in blocks of 511 and are
 * queued in chunks of 8176: every size around a block or chunk edge runs each
 * task once with its own argument, in out's order; the futures outlive the
 * executor and may be released in any order (a block is freed with its last
 * future: ASan and valgrind see a use after free or a leak). */
START_TEST(submit_batch_big_sizes)
{
    static const size_t sizes[] = {255, 256, 511, 512, 1022, 1023, 8176, 8177, 20007};
    const size_t n_sizes = sizeof sizes / sizeof sizes[0];
    wse_executor *ex = make_executor_any(2);

    for (size_t s = 0; s < n_sizes; s++) {
        size_t n = sizes[s];
        size_t keep = n / 2 & ~(size_t)1; /* even */
        void **args = malloc(n * sizeof *args);
        wse_future **out = malloc(n * sizeof *out);
        ck_assert_ptr_nonnull(args);
        ck_assert_ptr_nonnull(out);
        for (size_t i = 0; i < n; i++)
            args[i] = (void *)(uintptr_t)(i + 1);
        ck_assert_int_eq(wse_submit_batch(ex, task_value, args, n, out), 0);
        ck_assert_int_eq(wse_wait(out, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        size_t wrong = 0; /* plain comparisons: a Check assertion costs a system call */
        for (size_t i = 0; i < n; i++)
            wrong += wse_future_state(out[i]) != WSE_DONE || wse_future_value(out[i]) != args[i];
        ck_assert_msg(wrong == 0, "%zu of %zu tasks wrong", wrong, n);
        /* Odd positions first, then the even ones but one, which outlives the
         * others (and, for the last size, the executor). */
        for (size_t i = 1; i < n; i += 2)
            wse_future_release(out[i]);
        for (size_t i = 0; i < n; i += 2) {
            if (i != keep)
                wse_future_release(out[i]);
        }
        if (s + 1 == n_sizes)
            ck_assert_int_eq(wse_executor_destroy(ex), 0);
        ck_assert_ptr_eq(wse_future_value(out[keep]), args[keep]);
        wse_future_release(out[keep]);
        free(args);
        free(out);
    }
}
END_TEST

static int big_ran;

static int
task_count_null_arg(void *arg, void **result)
{
    (void)result;
    counter_add(&big_ran, arg == NULL ? 1 : 1000000);
    return 0;
}

/* args NULL and out NULL together on a big batch. */
START_TEST(submit_batch_big_args_and_out_null)
{
    wse_executor *ex = make_executor_any(2);

    __atomic_store_n(&big_ran, 0, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(wse_submit_batch(ex, task_count_null_arg, NULL, 9000, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(counter_get(&big_ran), 9000);
}
END_TEST

static Suite *
executor_suite(void)
{
    Suite *s = suite_create("executor");

    TCase *tc = tcase_create("create");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, executor_create_null_opts_defaults);
    tcase_add_test(tc, executor_create_zeroed_opts_defaults);
    tcase_add_test(tc, executor_create_workers_1_2_8);
    tcase_add_test(tc, executor_create_einval);
    tcase_add_test(tc, executor_create_destroy_idle);
    tcase_add_test(tc, executor_option_thread_name);
    tcase_add_test(tc, executor_option_small_deque_grows);
    tcase_add_test(tc, executor_version);
    tcase_add_test(tc, current_null_on_plain_threads);
    tcase_add_test(tc, current_is_executor_inside_task);
    tcase_add_test(tc, workers_null_is_zero);
    suite_add_tcase(s, tc);

    tc = tcase_create("submit");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, submit_einval);
    tcase_add_test(tc, submit_fire_and_forget);
    tcase_add_test(tc, submit_from_workers_tree);
    tcase_add_test(tc, submit_from_worker_reaches_idle_workers);
    suite_add_tcase(s, tc);

    tc = tcase_create("shutdown");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, destroy_runs_queued_tasks);
    tcase_add_test(tc, shutdown_wait_runs_queued_tasks);
    tcase_add_test(tc, shutdown_cancel_pending_nowait);
    tcase_add_test(tc, shutdown_cancel_pending_runs_callbacks);
    tcase_add_test(tc, shutdown_cancel_pending_cancels_worker_deque_tasks);
    tcase_add_test(tc, shutdown_wait_and_cancel_pending);
    tcase_add_test(tc, shutdown_nowait_keeps_queued_tasks);
    tcase_add_test(tc, shutdown_twice_later_call_adds_cancel);
    tcase_add_test(tc, submit_after_shutdown_eshutdown);
    tcase_add_test(tc, shutdown_destroy_einval_null);
    tcase_add_test(tc, destroy_and_shutdown_wait_from_worker_edeadlk);
    tcase_add_test(tc, shutdown_nowait_from_worker_ok);
    tcase_add_test(tc, shutdown_nowait_cancel_from_worker);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, submit_batch_runs_all);
    tcase_add_test(tc, submit_batch_args_null);
    tcase_add_test(tc, submit_batch_out_null);
    tcase_add_test(tc, submit_batch_einval);
    tcase_add_test(tc, submit_batch_after_shutdown_eshutdown);
    tcase_add_test(tc, submit_batch_from_worker);
    tcase_add_test(tc, submit_batch_big_sizes);
    tcase_add_test(tc, submit_batch_big_args_and_out_null);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(executor_suite());
}

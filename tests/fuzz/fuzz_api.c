/*
 * libFuzzer target for the public API of wsexec.
 *
 * The input is a program: byte 0 configures the executor, then each operation is
 * one opcode byte followed by its operand bytes (a missing byte reads as 0, so
 * every input is valid). At most MAX_OPS operations run per input. Every result
 * is checked against a small model of the semantics documented in
 * include/wsexec.h; a violation calls CHECK(), which prints the failed condition
 * and aborts, so libFuzzer saves the input.
 *
 * Layout (see tests/fuzz/gen_corpus.py, which writes the seed corpus):
 *   byte 0            workers = 1 + (b & 3); bit 2: spin_rounds = 1 (park fast);
 *                     bit 3: deque_capacity = 2 (deques grow)
 *   op = byte % OP_COUNT, operands:
 *   OP_SUBMIT         kind, param        task: kind%7 = value, fail, sleep,
 *                                        children, deadlock probe, self wait,
 *                                        wait on up to 3 earlier futures
 *   OP_SUBMIT_BATCH   count, kind, param 1..4 tasks of one kind
 *   OP_CANCEL         slot
 *   OP_ON_DONE        slot
 *   OP_WAIT           count, mode, timeout, outmode, slot x count
 *   OP_WAIT_UNTIL     count, mode, timeout, outmode, slot x count
 *   OP_FUTURE_WAIT    slot, timeout
 *   OP_OBSERVE        slot               state/value/error consistency
 *   OP_SHUTDOWN       flags              bit0 wait, bit1 cancel_pending
 *   OP_RECREATE       (none)             destroy the executor, create a new one
 *   OP_RETAIN         slot
 *   OP_RELEASE        slot
 *   OP_BAD_INPUT      which              deliberate EINVAL cases
 * A slot byte selects one of the live futures (modulo their number).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsexec.h"

#define MAX_OPS 64
#define MAX_FUT 48
#define MAX_CB 96
#define MAX_WAIT 12
#define MAX_EXEC 3
#define MAX_CHILDREN 4

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_api.c:%d: model violation: %s\n", __LINE__, #c);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- Input reader ------------------------------------------------------------ */

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t
rd(struct reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

/* ---- Tasks ------------------------------------------------------------------- */

enum kind { K_VALUE, K_FAIL, K_SLEEP, K_CHILDREN, K_DEADLOCK, K_SELF_WAIT, K_WAIT_OTHERS, K_COUNT };

struct exec_rec {
    wse_executor *ex;
    atomic_int shut; /* set before wse_shutdown() is called */
};

struct task {
    enum kind kind;
    uint8_t param;
    struct exec_rec *exr;
    _Atomic(wse_future *) self; /* K_SELF_WAIT: published by the submitter */
    atomic_int ran;
    wse_future *held[3]; /* K_WAIT_OTHERS: earlier futures (our references) */
    size_t n_held;
};

static void
sleep_us(long us)
{
    struct timespec ts = {0, us * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
fail_code(uint8_t param)
{
    int c = (int8_t)param;

    return c == 0 ? 1 : c;
}

static void *
value_of(uint8_t param)
{
    return (void *)(uintptr_t)(0x1000u + param);
}

static int
child_fn(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int
task_fn(void *arg, void **result)
{
    struct task *t = arg;
    wse_executor *cur = wse_current();

    CHECK(atomic_fetch_add(&t->ran, 1) == 0);
    CHECK(cur == t->exr->ex);
    switch (t->kind) {
    case K_VALUE:
        *result = value_of(t->param);
        return 0;
    case K_FAIL:
        *result = (void *)1; /* ignored by a failing task */
        return fail_code(t->param);
    case K_SLEEP: {
        static const long us[4] = {20, 100, 300, 1000};
        sleep_us(us[t->param & 3]);
        *result = value_of(t->param);
        return 0;
    }
    case K_CHILDREN: {
        wse_future *kids[MAX_CHILDREN];
        wse_future *out[MAX_CHILDREN];
        size_t n = 1 + (t->param & 3), nd = 99, i, k = 0;
        int rc;

        for (i = 0; i < n; i++) {
            wse_future *sentinel = (wse_future *)(uintptr_t)0x1;
            wse_future *f = sentinel;
            rc = wse_submit(cur, child_fn, (void *)(uintptr_t)(0x100 + i), &f);
            if (rc == ESHUTDOWN) {
                CHECK(atomic_load(&t->exr->shut));
                CHECK(f == sentinel);
                continue;
            }
            CHECK(rc == 0);
            kids[k++] = f;
        }
        if ((t->param & 4) && cur != NULL) /* fire and forget */
            CHECK(wse_submit(cur, child_fn, NULL, NULL) == 0 || atomic_load(&t->exr->shut));
        if (k > 0) {
            /* From a worker: helps, so it cannot deadlock even with one worker. */
            wse_return_when mode = (wse_return_when)(1 + ((t->param >> 3) % 3));
            rc = wse_wait(kids, k, WSE_FOREVER, mode, (t->param & 32) ? kids : out, &nd);
            CHECK(rc == 0);
            CHECK(nd >= 1 && nd <= k);
            if (mode == WSE_ALL_COMPLETED || mode == WSE_FIRST_EXCEPTION)
                CHECK(nd == k); /* children never fail */
            CHECK(wse_wait(kids, k, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd) == 0);
            CHECK(nd == k);
            for (i = 0; i < k; i++) {
                wse_state s = wse_future_state(kids[i]);
                CHECK(s == WSE_DONE || s == WSE_CANCELLED);
                if (s == WSE_DONE)
                    CHECK((uintptr_t)wse_future_value(kids[i]) >= 0x100);
                else
                    CHECK(wse_future_error(kids[i]) == ECANCELED);
                wse_future_release(kids[i]);
            }
        }
        *result = value_of(t->param);
        return 0;
    }
    case K_DEADLOCK:
        /* Shutdown(wait) and destroy from one of ex's own workers: EDEADLK,
         * nothing changed. */
        CHECK(wse_shutdown(cur, true, (t->param & 1) != 0) == EDEADLK);
        CHECK(wse_executor_destroy(cur) == EDEADLK);
        CHECK(wse_shutdown(NULL, false, false) == EINVAL);
        *result = value_of(t->param);
        return 0;
    case K_SELF_WAIT: {
        wse_future *self;
        wse_future *set[2];
        size_t nd = 77;

        while ((self = atomic_load(&t->self)) == NULL)
            sched_yield();
        CHECK(wse_future_state(self) == WSE_RUNNING);
        CHECK(wse_future_wait(self, (t->param & 1) ? 0.0 : WSE_FOREVER) == EDEADLK);
        set[0] = self;
        set[1] = self;
        CHECK(wse_wait(set, 1 + (t->param & 1), WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &nd) ==
              EDEADLK);
        CHECK(nd == 77);
        /* FIRST_COMPLETED over it is allowed: a poll just times out. */
        CHECK(wse_wait(set, 1, 0.0, WSE_FIRST_COMPLETED, NULL, &nd) == ETIMEDOUT);
        CHECK(nd == 0);
        *result = value_of(t->param);
        return 0;
    }
    case K_WAIT_OTHERS: {
        /* A worker waiting on futures completed elsewhere: it helps, then parks
         * until their completers wake it. Bounded timeout: one of them may be a
         * task this worker is nested in (FIRST_* modes then wait the deadline). */
        static const double to[3] = {0.0, 0.0005, 0.002};
        wse_return_when mode = (wse_return_when)(1 + (t->param % 3));
        wse_future *out[3];
        size_t nd = 99, i, nf = 0;
        int rc;

        if (t->n_held > 0) {
            rc = wse_wait(t->held, t->n_held, to[(t->param >> 2) % 3], mode, out, &nd);
            if (rc == EDEADLK) {
                CHECK(mode == WSE_ALL_COMPLETED && nd == 99);
            } else {
                CHECK(rc == 0 || rc == ETIMEDOUT);
                CHECK(nd <= t->n_held);
                for (i = 0; i < nd; i++) {
                    CHECK(wse_future_done(out[i]));
                    nf += wse_future_state(out[i]) == WSE_FAILED;
                }
                CHECK((rc == 0) == (mode == WSE_FIRST_COMPLETED ? nd >= 1
                                    : mode == WSE_ALL_COMPLETED ? nd == t->n_held
                                                                : nf >= 1 || nd == t->n_held));
            }
        }
        *result = value_of(t->param);
        return 0;
    }
    default:
        CHECK(0);
    }
    return 0;
}

/* ---- The model --------------------------------------------------------------- */

struct fut {
    wse_future *f;     /* NULL: slot freed */
    int refs;          /* references we hold */
    struct task *task; /* owned by the run (freed at its end) */
    struct exec_rec *exr;
    int last_rank;  /* 0 pending, 1 running, 2 done */
    wse_state last; /* last observed state */
};

struct cb_rec {
    wse_future *f;
    atomic_int runs;
};

struct run {
    struct exec_rec execs[MAX_EXEC];
    int n_exec;
    struct exec_rec *cur; /* NULL after the last executor is gone */
    struct fut futs[MAX_FUT];
    int n_fut;
    struct task *tasks[MAX_FUT * 2];
    int n_tasks;
    struct cb_rec cbs[MAX_CB];
    int n_cb;
    uint8_t cfg;
};

static int
rank_of(wse_state s)
{
    switch (s) {
    case WSE_PENDING:
        return 0;
    case WSE_RUNNING:
        return 1;
    case WSE_DONE:
    case WSE_FAILED:
    case WSE_CANCELLED:
        return 2;
    }
    CHECK(0);
    return -1;
}

/* Observe a future's state: moves only forward, and once done never changes. */
static wse_state
observe(struct fut *m)
{
    wse_state s = wse_future_state(m->f);
    int r = rank_of(s);

    CHECK(r >= m->last_rank);
    if (m->last_rank == 2)
        CHECK(s == m->last);
    m->last_rank = r;
    m->last = s;
    if (r == 2) {
        void *v = wse_future_value(m->f);
        int e = wse_future_error(m->f);

        CHECK(wse_future_done(m->f));
        if (s == WSE_CANCELLED) {
            CHECK(v == NULL && e == ECANCELED);
        } else if (s == WSE_FAILED) {
            CHECK(m->task->kind == K_FAIL);
            CHECK(v == NULL && e == fail_code(m->task->param));
        } else {
            CHECK(m->task->kind != K_FAIL);
            CHECK(e == 0 && v == value_of(m->task->param));
        }
        if (s != WSE_CANCELLED)
            CHECK(atomic_load(&m->task->ran) == 1);
    } else {
        CHECK(!wse_future_done(m->f) || rank_of(wse_future_state(m->f)) == 2);
    }
    return s;
}

static void
on_done_cb(wse_future *f, void *arg)
{
    struct cb_rec *c = arg;

    CHECK(c->f == f);
    CHECK(wse_future_done(f));
    CHECK(atomic_fetch_add(&c->runs, 1) == 0);
}

static bool
new_executor(struct run *r)
{
    wse_options o;
    struct exec_rec *e;

    if (r->n_exec == MAX_EXEC) {
        r->cur = NULL;
        return false;
    }
    memset(&o, 0, sizeof(o));
    o.workers = 1 + (r->cfg & 3);
    if (r->cfg & 4)
        o.spin_rounds = 1;
    if (r->cfg & 8)
        o.deque_capacity = 2;
    o.thread_name = "fz";
    e = &r->execs[r->n_exec++];
    atomic_store(&e->shut, 0);
    CHECK(wse_executor_create(&e->ex, &o) == 0);
    CHECK(wse_executor_workers(e->ex) == o.workers);
    r->cur = e;
    return true;
}

static struct fut *
pick(struct run *r, struct reader *in)
{
    uint8_t b = rd(in);
    int live[MAX_FUT], n = 0, i;

    for (i = 0; i < r->n_fut; i++) {
        if (r->futs[i].f != NULL)
            live[n++] = i;
    }
    if (n == 0)
        return NULL;
    return &r->futs[live[b % n]];
}

static struct task *
new_task(struct run *r, enum kind k, uint8_t param)
{
    struct task *t = calloc(1, sizeof(*t));

    CHECK(t != NULL);
    t->kind = k;
    t->param = param;
    t->exr = r->cur;
    atomic_init(&t->self, NULL);
    atomic_init(&t->ran, 0);
    r->tasks[r->n_tasks++] = t;
    return t;
}

static void
track(struct run *r, wse_future *f, struct task *t)
{
    struct fut *m = &r->futs[r->n_fut++];

    m->f = f;
    m->refs = 1;
    m->task = t;
    m->exr = r->cur;
    m->last_rank = 0;
    m->last = WSE_PENDING;
    observe(m);
}

static void
op_submit(struct run *r, struct reader *in)
{
    enum kind k = (enum kind)(rd(in) % K_COUNT);
    uint8_t param = rd(in);
    wse_future *sentinel = (wse_future *)(uintptr_t)0x2;
    wse_future *f = sentinel;
    struct task *t;
    int rc;

    if (r->cur == NULL || r->n_fut == MAX_FUT || r->n_tasks == MAX_FUT * 2)
        return;
    t = new_task(r, k, param);
    if (k == K_WAIT_OTHERS) {
        int i;
        for (i = r->n_fut - 1; i >= 0 && t->n_held < 1 + (size_t)(param >> 6) && t->n_held < 3;
             i--) {
            if (r->futs[i].f != NULL)
                t->held[t->n_held++] = wse_future_retain(r->futs[i].f);
        }
    }
    rc = wse_submit(r->cur->ex, task_fn, t, &f);
    if (atomic_load(&r->cur->shut)) {
        CHECK(rc == ESHUTDOWN);
        CHECK(f == sentinel);
        return;
    }
    CHECK(rc == 0);
    CHECK(f != sentinel && f != NULL);
    if (k == K_SELF_WAIT)
        atomic_store(&t->self, f);
    track(r, f, t);
}

static void
op_submit_batch(struct run *r, struct reader *in)
{
    size_t n = 1 + (rd(in) & 3), i;
    enum kind k = (enum kind)(rd(in) % K_COUNT);
    uint8_t param = rd(in);
    void *args[4];
    wse_future *out[4];
    int rc;

    if (k == K_SELF_WAIT || k == K_WAIT_OTHERS)
        k = K_VALUE; /* no per-future self pointer or held futures in a batch */
    if (r->cur == NULL || r->n_fut + (int)n > MAX_FUT || r->n_tasks + (int)n > MAX_FUT * 2)
        return;
    for (i = 0; i < n; i++) {
        args[i] = new_task(r, k, (uint8_t)(param + i));
        out[i] = (wse_future *)(uintptr_t)0x3;
    }
    rc = wse_submit_batch(r->cur->ex, task_fn, args, n, out);
    if (atomic_load(&r->cur->shut)) {
        CHECK(rc == ESHUTDOWN);
        for (i = 0; i < n; i++)
            CHECK(out[i] == (wse_future *)(uintptr_t)0x3);
        return;
    }
    CHECK(rc == 0);
    for (i = 0; i < n; i++)
        track(r, out[i], args[i]);
}

static void
op_cancel(struct run *r, struct reader *in)
{
    struct fut *m = pick(r, in);
    bool ok;

    if (m == NULL)
        return;
    ok = wse_future_cancel(m->f);
    if (ok) {
        CHECK(m->last_rank == 0);
        CHECK(observe(m) == WSE_CANCELLED);
        CHECK(wse_future_error(m->f) == ECANCELED);
        CHECK(!wse_future_cancel(m->f));
    } else {
        CHECK(observe(m) != WSE_PENDING);
    }
}

static void
op_on_done(struct run *r, struct reader *in)
{
    struct fut *m = pick(r, in);
    struct cb_rec *c;

    if (m == NULL || r->n_cb == MAX_CB)
        return;
    c = &r->cbs[r->n_cb++];
    c->f = m->f;
    atomic_init(&c->runs, 0);
    CHECK(wse_future_on_done(m->f, on_done_cb, c) == 0);
}

/* Is `in` (n entries) a merge of a[0..na) and b[0..nb), each in order? */
static bool
is_merge(wse_future *const in[], size_t n, wse_future *const a[], size_t na, wse_future *const b[],
         size_t nb)
{
    bool ok[MAX_WAIT + 1][MAX_WAIT + 1];
    size_t i, j;

    if (na + nb != n)
        return false;
    for (i = 0; i <= na; i++) {
        for (j = 0; j <= nb; j++) {
            if (i == 0 && j == 0)
                ok[i][j] = true;
            else
                ok[i][j] = (i > 0 && ok[i - 1][j] && a[i - 1] == in[i + j - 1]) ||
                           (j > 0 && ok[i][j - 1] && b[j - 1] == in[i + j - 1]);
        }
    }
    return ok[na][nb];
}

static struct fut *
model_of(struct run *r, wse_future *f)
{
    int i;

    for (i = 0; i < r->n_fut; i++) {
        if (r->futs[i].f == f)
            return &r->futs[i];
    }
    CHECK(0);
    return NULL;
}

static bool
cond_holds(wse_return_when mode, size_t n, size_t nd, size_t nfailed)
{
    switch (mode) {
    case WSE_FIRST_COMPLETED:
        return nd >= 1;
    case WSE_FIRST_EXCEPTION:
        return nfailed >= 1 || nd == n;
    case WSE_ALL_COMPLETED:
        return nd == n;
    }
    return false;
}

static void
add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static void
op_wait(struct run *r, struct reader *in, bool until)
{
    size_t n = 1 + rd(in) % MAX_WAIT, i, nd = 12345, pre_done = 0, pre_failed = 0;
    wse_return_when mode = (wse_return_when)(1 + rd(in) % 3);
    uint8_t tsel = rd(in) % 4, outmode = rd(in) % 3;
    wse_future *set[MAX_WAIT], *copy[MAX_WAIT], *sep[MAX_WAIT], **out;
    bool pre[MAX_WAIT];
    size_t nfailed = 0;
    bool forever = false;
    int rc;

    for (i = 0; i < n; i++) {
        struct fut *m = pick(r, in);

        if (m == NULL)
            return;
        set[i] = copy[i] = m->f;
        pre[i] = rank_of(observe(m)) == 2;
        pre_done += pre[i];
        pre_failed += pre[i] && m->last == WSE_FAILED;
        sep[i] = NULL;
    }
    /* Forever is safe: every task here finishes by itself. */
    out = outmode == 0 ? NULL : outmode == 1 ? sep : set;
    if (!until) {
        static const double to[4] = {0.0, 0.0005, 0.002, WSE_FOREVER};
        forever = tsel == 3;
        rc = wse_wait(set, n, to[tsel], mode, out, (outmode == 0 && (tsel & 1)) ? NULL : &nd);
        if (outmode == 0 && (tsel & 1))
            nd = 12345;
    } else {
        struct timespec d;

        CHECK(clock_gettime(CLOCK_MONOTONIC, &d) == 0);
        if (tsel == 0) {
            d.tv_sec -= 1; /* past: a poll */
        } else if (tsel == 1) {
            add_ns(&d, 1000000); /* 1 ms */
        } else if (tsel == 2) {
            add_ns(&d, 2000000);
        } else {
            forever = true;
        }
        rc = wse_wait_until(set, n, forever ? NULL : &d, mode, out, &nd);
    }
    CHECK(rc == 0 || rc == ETIMEDOUT);
    if (forever)
        CHECK(rc == 0);
    if (cond_holds(mode, n, pre_done, pre_failed))
        CHECK(rc == 0); /* already-done futures count at once */
    if (outmode == 2) {
        /* in place */
    } else {
        for (i = 0; i < n; i++)
            CHECK(set[i] == copy[i]); /* input untouched */
    }
    if (nd == 12345)
        return;
    CHECK(nd <= n);
    if (out != NULL) {
        /* Stable partition: done part all done; in input order in both parts. */
        CHECK(is_merge(copy, n, out, nd, out + nd, n - nd));
        for (i = 0; i < nd; i++) {
            struct fut *m = model_of(r, out[i]);
            wse_state s = observe(m);

            CHECK(rank_of(s) == 2);
            nfailed += s == WSE_FAILED;
        }
        /* A future done before the call is in the done part. */
        for (i = 0; i < n; i++) {
            if (pre[i]) {
                size_t j, cnt_in = 0, cnt_done = 0;
                for (j = 0; j < n; j++)
                    cnt_in += copy[j] == copy[i];
                for (j = 0; j < nd; j++)
                    cnt_done += out[j] == copy[i];
                CHECK(cnt_done == cnt_in);
            }
        }
        if (rc == 0)
            CHECK(cond_holds(mode, n, nd, nfailed));
        else
            CHECK(!cond_holds(mode, n, nd, nfailed));
    } else {
        CHECK(nd >= pre_done);
        if (rc == 0 && mode != WSE_FIRST_EXCEPTION)
            CHECK(cond_holds(mode, n, nd, 0));
        if (rc == ETIMEDOUT)
            CHECK(nd < n);
        if (rc == ETIMEDOUT && mode == WSE_FIRST_COMPLETED)
            CHECK(nd == 0);
    }
}

static void
op_future_wait(struct run *r, struct reader *in)
{
    struct fut *m = pick(r, in);
    static const double to[4] = {0.0, 0.0005, 0.002, WSE_FOREVER};
    uint8_t tsel = rd(in) % 4;
    bool was_done;
    int rc;

    if (m == NULL)
        return;
    was_done = rank_of(observe(m)) == 2;
    rc = wse_future_wait(m->f, to[tsel]);
    CHECK(rc == 0 || rc == ETIMEDOUT);
    if (was_done || tsel == 3)
        CHECK(rc == 0);
    if (rc == 0)
        CHECK(rank_of(observe(m)) == 2);
}

/* All futures of exr after a shutdown or destroy. */
static void
check_after_shutdown(struct run *r, struct exec_rec *exr, bool all_done, bool none_pending)
{
    int i;

    for (i = 0; i < r->n_fut; i++) {
        struct fut *m = &r->futs[i];
        wse_state s;

        if (m->f == NULL || m->exr != exr)
            continue;
        s = observe(m);
        if (all_done)
            CHECK(rank_of(s) == 2);
        if (none_pending) {
            /* wse_shutdown(): with cancel_pending every not-yet-started future becomes
             * CANCELLED. One that a worker had already taken from its queue when
             * shutdown ran is cancelled by that worker just before it would
             * start (as in Python, whose workers call
             * set_running_or_notify_cancel()), so without `wait` it may still
             * read PENDING for a moment; it must not stay so. */
            struct timespec t0, t;

            clock_gettime(CLOCK_MONOTONIC, &t0);
            while (s == WSE_PENDING) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                CHECK(t.tv_sec - t0.tv_sec < 5);
                sched_yield();
                s = observe(m);
            }
        }
    }
}

static void
op_shutdown(struct run *r, struct reader *in)
{
    uint8_t fl = rd(in);
    bool wait = fl & 1, cancel = (fl & 2) != 0;
    wse_future *f = (wse_future *)(uintptr_t)0x4;

    if (r->cur == NULL)
        return;
    atomic_store(&r->cur->shut, 1);
    CHECK(wse_shutdown(r->cur->ex, wait, cancel) == 0);
    check_after_shutdown(r, r->cur, wait, cancel);
    CHECK(wse_submit(r->cur->ex, child_fn, NULL, &f) == ESHUTDOWN);
    CHECK(f == (wse_future *)(uintptr_t)0x4);
    CHECK(wse_submit(r->cur->ex, child_fn, NULL, NULL) == ESHUTDOWN);
}

static void
destroy_current(struct run *r)
{
    struct exec_rec *e = r->cur;

    atomic_store(&e->shut, 1);
    CHECK(wse_executor_destroy(e->ex) == 0);
    e->ex = NULL;
    check_after_shutdown(r, e, true, true);
    r->cur = NULL;
}

static void
op_recreate(struct run *r)
{
    if (r->cur == NULL)
        return;
    destroy_current(r);
    new_executor(r);
}

static void
op_retain(struct run *r, struct reader *in)
{
    struct fut *m = pick(r, in);

    if (m == NULL)
        return;
    CHECK(wse_future_retain(m->f) == m->f);
    m->refs++;
}

static void
op_release(struct run *r, struct reader *in)
{
    struct fut *m = pick(r, in);

    if (m == NULL)
        return;
    observe(m);
    wse_future_release(m->f);
    if (--m->refs == 0)
        m->f = NULL; /* the callbacks' records keep only the pointer value */
}

static int
dummy_cb_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

static void
dummy_cb(wse_future *f, void *arg)
{
    (void)f;
    (void)arg;
    CHECK(0);
}

static void
op_bad_input(struct run *r, struct reader *in)
{
    uint8_t which = rd(in) % 12;
    struct fut *m = pick(r, in);
    wse_future *set[2], *out[2], *sent = (wse_future *)(uintptr_t)0x5;
    size_t nd = 4242;
    struct timespec ts;
    int rc = -1;

    set[0] = m ? m->f : NULL;
    set[1] = NULL;
    out[0] = out[1] = sent;
    switch (which) {
    case 0:
        rc = wse_wait(set, 0, 0.0, WSE_ALL_COMPLETED, out, &nd);
        break;
    case 1:
        rc = wse_wait(NULL, 1, 0.0, WSE_ALL_COMPLETED, out, &nd);
        break;
    case 2:
        rc = wse_wait(set, 2, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &nd); /* NULL entry */
        break;
    case 3:
        rc = m ? wse_wait(set, 1, 0.0, (wse_return_when)(m->refs & 1 ? 0 : 4), out, &nd) : EINVAL;
        break;
    case 4:
        rc = m ? wse_wait(set, 1, NAN, WSE_ALL_COMPLETED, out, &nd) : EINVAL;
        break;
    case 5:
        ts.tv_sec = 0;
        ts.tv_nsec = (m && (m->refs & 1)) ? -1 : 1000000000L;
        rc = m ? wse_wait_until(set, 1, &ts, WSE_FIRST_EXCEPTION, out, &nd) : EINVAL;
        break;
    case 6:
        rc = wse_future_wait(NULL, 0.0);
        break;
    case 7:
        rc = m ? wse_future_wait(m->f, NAN) : EINVAL;
        break;
    case 8:
        rc = r->cur ? wse_submit(r->cur->ex, NULL, NULL, out)
                    : wse_submit(NULL, dummy_cb_task, NULL, out);
        break;
    case 9:
        rc = m ? wse_future_on_done(m->f, NULL, NULL) : wse_future_on_done(NULL, dummy_cb, NULL);
        break;
    case 10:
        rc = r->cur ? wse_submit_batch(r->cur->ex, dummy_cb_task, NULL, 0, out)
                    : wse_submit_batch(NULL, dummy_cb_task, NULL, 1, out);
        break;
    case 11:
        CHECK(wse_future_state(NULL) == WSE_PENDING);
        CHECK(!wse_future_done(NULL));
        CHECK(wse_future_value(NULL) == NULL);
        CHECK(wse_future_error(NULL) == EINVAL);
        CHECK(!wse_future_cancel(NULL));
        wse_future_release(NULL);
        CHECK(wse_current() == NULL);
        CHECK(wse_executor_workers(NULL) == 0);
        rc = wse_executor_destroy(NULL);
        break;
    }
    CHECK(rc == EINVAL);
    CHECK(nd == 4242 && out[0] == sent && out[1] == sent);
}

enum {
    OP_SUBMIT,
    OP_SUBMIT_BATCH,
    OP_CANCEL,
    OP_ON_DONE,
    OP_WAIT,
    OP_WAIT_UNTIL,
    OP_FUTURE_WAIT,
    OP_OBSERVE,
    OP_SHUTDOWN,
    OP_RECREATE,
    OP_RETAIN,
    OP_RELEASE,
    OP_BAD_INPUT,
    OP_COUNT
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run run;
    struct run *r = &run;
    struct reader in = {data, size};
    int ops, i;

    memset(r, 0, sizeof(*r));
    r->cfg = rd(&in);
    new_executor(r);
    CHECK(wse_current() == NULL);
    for (ops = 0; ops < MAX_OPS && in.n > 0; ops++) {
        switch (rd(&in) % OP_COUNT) {
        case OP_SUBMIT:
            op_submit(r, &in);
            break;
        case OP_SUBMIT_BATCH:
            op_submit_batch(r, &in);
            break;
        case OP_CANCEL:
            op_cancel(r, &in);
            break;
        case OP_ON_DONE:
            op_on_done(r, &in);
            break;
        case OP_WAIT:
            op_wait(r, &in, false);
            break;
        case OP_WAIT_UNTIL:
            op_wait(r, &in, true);
            break;
        case OP_FUTURE_WAIT:
            op_future_wait(r, &in);
            break;
        case OP_OBSERVE: {
            struct fut *m = pick(r, &in);
            if (m != NULL)
                observe(m);
            break;
        }
        case OP_SHUTDOWN:
            op_shutdown(r, &in);
            break;
        case OP_RECREATE:
            op_recreate(r);
            break;
        case OP_RETAIN:
            op_retain(r, &in);
            break;
        case OP_RELEASE:
            op_release(r, &in);
            break;
        case OP_BAD_INPUT:
            op_bad_input(r, &in);
            break;
        }
    }
    if (r->cur != NULL)
        destroy_current(r);
    /* Every callback ran exactly once; every future is done. */
    for (i = 0; i < r->n_cb; i++)
        CHECK(atomic_load(&r->cbs[i].runs) == 1);
    for (i = 0; i < r->n_fut; i++) {
        struct fut *m = &r->futs[i];

        if (m->f == NULL)
            continue;
        CHECK(rank_of(observe(m)) == 2);
        while (m->refs-- > 0)
            wse_future_release(m->f);
    }
    for (i = 0; i < r->n_tasks; i++) {
        while (r->tasks[i]->n_held > 0)
            wse_future_release(r->tasks[i]->held[--r->tasks[i]->n_held]);
        free(r->tasks[i]);
    }
    return 0;
}

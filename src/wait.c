/*
 * wse_wait(): Python's concurrent.futures.wait() over wsexec futures.
 *
 * 1. Check the arguments (EINVAL, EDEADLK) before touching anything.
 * 2. Snapshot every state. If the return_when condition already holds, or the
 *    deadline has passed (timeout 0 polls), partition and return: no lock, no
 *    allocation for up to STACK_NODES futures.
 * 3. Otherwise register a wait node on each future (future.c links it under the
 *    future's bit lock unless the future is already done). The latch counts what
 *    is still needed: 1 completion for FIRST_COMPLETED; otherwise one per
 *    registered future, with a bias of 1 held during registration so the count
 *    cannot reach 0 before every node is linked. Completing threads call each
 *    node's function (wait_node_notify(): the latch's count-down) under the
 *    future's lock; a failure trips a FIRST_EXCEPTION latch at once.
 * 4. Wait for the latch or the deadline. A plain thread sleeps on the latch's
 *    condition variable (CLOCK_MONOTONIC). A worker helps only with what it
 *    waits on: it runs those of its futures that are tasks still queued in its
 *    pool, and blocks when there are none (a spare worker takes its place); its
 *    latch's wake function (worker_wake()) signals it through the park.
 * 5. Unlink every node (each under its future's lock: after that no completing
 *    thread can reach the latch, so it may leave the stack), snapshot the states
 *    again and partition on that snapshot. The result code is decided by the same
 *    snapshot, so the code and the partition always agree.
 */
#include <errno.h>
#include <string.h>

#include "wsexec.h"

#include "alloc.h"
#include "clock.h"
#include "future.h"
#include "latch.h"
#include "park.h"
#include "help.h"
#include "trace.h"
#include "wait.h"
#include "worker.h"

/* With a trace running: the future whose completion woke this thread's latest
 * wait (NULL: none did; it never slept, or no trace wanted it). */
static WSE__TLS wse_future *woken_by;

/* Is a trace recording that wants this thread's waits? A worker's go to its
 * executor's trace; a plain thread's to every executor tracing. (With no trace
 * in the process, the fork-join path pays one load of a global.) */
static bool
trace_wanted(void)
{
    struct wse__worker *w;

    if (!wse__trace_any())
        return false;
    w = wse__worker_tls;
    return w == NULL || wse__trace_on(&w->pool->trace);
}

/* Up to this many futures, the wait nodes live on the caller's stack. */
#define STACK_NODES 8

/* A wait node: one per entry of a wse_wait() call, an immediate node on the
 * entry's future. */
struct wait_node {
    struct wse__node node;
    struct wse__latch *latch;
    struct node_store *store; /* the detached store holding this node, or NULL */
    wse_future *future;       /* the entry (the waiter's own copy) */
    uint8_t registered;       /* linked by this waiter (owner only) */
    uint8_t state;            /* the state in the latest snapshot */
};

/*
 * A plain thread's wait on more than a few futures keeps its latch and nodes in
 * one heap allocation, a node store, that it does not unlink when it returns:
 * nodes still linked on pending futures stay there, and each completing thread
 * drops the store's reference for its node after notifying the (silenced)
 * latch. The last reference frees the store. See register_and_wait().
 */
struct node_store {
    wse__atomic_u32 refs; /* the waiter's + one per linked node */
    bool latch_ready;     /* latch.mutex and latch.cond initialised */
    struct wse__latch latch;
    struct wait_node nodes[];
};

/* Drop one reference to a node store; the last one frees it. */
static void
store_put(struct node_store *b)
{
    /* acq_rel: release orders our last touch of the store before the drop;
     * acquire (for the last one) orders every other holder's before the free. */
    if (wse__atomic_faa_u32_acq_rel(&b->refs, (uint32_t)-1) != 1)
        return;
    if (b->latch_ready)
        wse__latch_destroy_plain(&b->latch);
    wse__alloc_free(b);
}

/* The node function: the entry's future completed with state s (under its lock). */
static void
wait_node_notify(struct wse__node *n, wse_future *f, wse_state s)
{
    struct wait_node *w = (struct wait_node *)n;
    /* A detached store lives as long as our node's reference: drop it after the
     * last touch of node and latch. */
    struct node_store *b = w->store;

    wse__latch_notify(w->latch, s, f);
    if (b != NULL)
        store_put(b);
}

/* A waiting worker's latch tripped: wake it if it is parked. */
static void
worker_wake(struct wse__latch *l)
{
    struct wse__worker *w = l->wake_ctx;

    wse__park_wake_one(&w->pool->park, w->index);
}

/* Read every state into nodes[i].state; count the done and failed ones. Returns
 * true if any state differs from what the nodes held before. */
static bool
collect(struct wait_node *nodes, size_t n, size_t *n_done, size_t *n_failed)
{
    size_t done = 0;
    size_t failed = 0;
    bool changed = false;
    size_t i;
    wse_state s;

    for (i = 0; i < n; i++) {
        s = wse__future_state_acquire(nodes[i].future);
        changed |= nodes[i].state != (uint8_t)s;
        nodes[i].state = (uint8_t)s;
        done += wse__future_state_done(s);
        failed += s == WSE_FAILED;
    }
    *n_done = done;
    *n_failed = failed;
    return changed;
}

/* Up to this many extra collects for a stable snapshot. */
#define STABLE_TRIES 8

/*
 * A snapshot that holds at one instant: collect again until two consecutive
 * collects agree (the classic double collect; states only move forward, so two
 * equal collects mean nothing changed in between). Reading states one after
 * another could otherwise report the two entries of a duplicate on different
 * sides, or a future as done while one that completed before it is reported
 * pending. Under a storm of completions it gives up after STABLE_TRIES collects
 * and reports the last one, whose entries each held at the time they were read.
 */
static void
snapshot(struct wait_node *nodes, size_t n, size_t *n_done, size_t *n_failed)
{
    unsigned tries = 0;

    collect(nodes, n, n_done, n_failed);
    while (tries++ < STABLE_TRIES && collect(nodes, n, n_done, n_failed))
        ;
}

static bool
condition_holds(wse_return_when mode, size_t n, size_t n_done, size_t n_failed)
{
    switch (mode) {
    case WSE_FIRST_COMPLETED:
        return n_done > 0;
    case WSE_FIRST_EXCEPTION:
        return n_failed > 0 || n_done == n;
    default:
        return n_done == n;
    }
}

/* Stable partition of the snapshot into out (which may be the input array:
 * nodes hold their own copy of each pointer). */
static void
partition(const struct wait_node *nodes, size_t n, size_t n_done, wse_future *out[])
{
    size_t d = 0;
    size_t p = n_done;
    size_t i;

    for (i = 0; i < n; i++) {
        if (wse__future_state_done((wse_state)nodes[i].state))
            out[d++] = nodes[i].future;
        else
            out[p++] = nodes[i].future;
    }
}

/* Is f the future of a task this thread is running (or nested in)? */
static bool
running_here(const wse_future *f)
{
    const struct wse__running *r;

    for (r = wse__future_running; r != NULL; r = r->outer) {
        if (r->future == f)
            return true;
    }
    return false;
}

int
wse__wait_latch_init(struct wse__latch *l, wse_return_when mode, uint32_t count)
{
    struct wse__worker *w = wse__worker_tls;

    wse__latch_arm(l, mode, count, w != NULL ? worker_wake : NULL, w);
    /* A plain thread sleeps on the latch's own mutex and condition variable. */
    return w != NULL ? 0 : wse__latch_init_plain(l);
}

void
wse__wait_latch_block(struct wse__latch *l, const struct wse__deadline *deadline, bool tasks)
{
    if (wse__latch_tripped(l))
        return;
    if (l->wake != NULL)
        (void)wse__help_wait(l->wake_ctx, l, NULL, 0, deadline);
    else
        wse__latch_sleep(l, deadline, tasks);
}

void
wse__wait_latch_destroy(struct wse__latch *l)
{
    if (l->wake == NULL)
        wse__latch_destroy_plain(l);
}

/* The size of a node store for n nodes; 0 on overflow. */
static size_t
store_size(size_t n)
{
    size_t head = sizeof(struct node_store);

    if (n > (SIZE_MAX - head) / sizeof(struct wait_node))
        return 0;
    return head + n * sizeof(struct wait_node);
}

/*
 * A worker's wait runs tasks (those it waits on), and a C++ exception from one
 * may unwind through the wait on its way to a handler in an outer task. The
 * guard's cleanup runs on every exit from register_and_wait(); when armed (between the
 * latch's initialisation and the normal letting go) it unlinks the nodes
 * registered so far and destroys the latch, so no completing thread reaches a
 * latch or node in a dead frame.
 */
struct wait_guard {
    struct wait_node *nodes;
    const size_t *n_registered; /* nodes [0, *n_registered) may be linked */
    struct wse__latch *latch;
    bool armed;
};

static void
wait_guard_unwind(struct wait_guard *g)
{
    size_t i;

    if (!g->armed)
        return;
    for (i = *g->n_registered; i > 0; i--) {
        if (g->nodes[i - 1].registered)
            (void)wse__future_unlink(g->nodes[i - 1].future, &g->nodes[i - 1].node);
    }
    wse__wait_latch_destroy(g->latch);
}

/*
 * Register on every future, wait, then let go of the nodes. Returns 0, the
 * error of initialising the latch (nothing registered then), or EAGAIN: a worker
 * gave up (wse__spares_block(); the nodes are let go as usual).
 *
 * Letting go. With a latch on the stack (n <= STACK_NODES, or a worker, whose
 * latch points at the worker and must not outlive the wait), every node still
 * linked is unlinked under its future's lock: after that no completing thread can
 * reach the latch. A plain thread waiting on more futures uses the latch in its
 * node store `wb` and leaves the nodes linked: the store counts one reference per
 * linked node, which the completing thread drops after notifying
 * (wait_node_notify()), and the waiter's own, dropped by wait_impl(). Setting `tripped`
 * first makes later notifications silent. So a FIRST_COMPLETED or
 * FIRST_EXCEPTION wait on 10,000 futures returns without touching the ones still
 * pending: O(1) locks instead of O(n) on the way out (the fail-fast benchmark).
 */
static int
register_and_wait(wse_future *const futures[], struct wait_node *nodes, size_t n,
                  wse_return_when mode, const struct wse__deadline *deadline, struct node_store *wb)
{
    struct wse__worker *w = wse__worker_tls;
    struct wse__latch stack_latch;
    struct wse__latch *latch = &stack_latch;
    bool detach = wb != NULL && w == NULL;
    size_t linked = 0;
    bool tasks = false; /* some linked future is a task (not a promise) */
    size_t i = 0;
    struct wait_guard guard __attribute__((cleanup(wait_guard_unwind))) = {nodes, &i, latch, false};
    int rc;

    if (detach)
        latch = &wb->latch;
    /* The registration bias of 1, and for the counting modes one completion per
     * future, counted before any node is linked so that no completion can trip
     * the latch early; a future found done at registration is counted down at
     * once (below), as its completer would have. */
    rc = wse__wait_latch_init(latch, mode,
                              mode == WSE_FIRST_COMPLETED ? 1 : (uint32_t)1 + (uint32_t)n);
    if (rc != 0)
        return rc;
    guard.latch = latch;
    /* A trace draws an arrow from the completion that wakes us (the latch is
     * not shared yet: a plain write). */
    latch->want_cause = trace_wanted();
    /* Only a worker runs tasks in the wait; a plain thread's wait has no user
     * code to unwind from. */
    guard.armed = w != NULL;
    if (detach) {
        wb->latch_ready = true;
        /* relaxed: not yet shared; the future lock taken by each link publishes
         * it to the completers. One reference per node that may be linked. */
        wse__atomic_store_u32_relaxed(&wb->refs, 1 + (uint32_t)n);
    }

    for (i = 0; i < n && !wse__latch_tripped(latch); i++) {
        nodes[i].node.fn = wait_node_notify;
        nodes[i].latch = latch;
        nodes[i].store = detach ? wb : NULL;
        /* Done is final: a future the last collect saw done needs no lock. */
        nodes[i].registered = !wse__future_state_done((wse_state)nodes[i].state) &&
                              wse__future_link(nodes[i].future, &nodes[i].node);
        if (nodes[i].registered) {
            linked++;
            tasks = tasks || !wse__future_is_promise(nodes[i].future);
        } else {
            /* Done before we could link: count it as its completer would have. */
            wse__latch_notify(latch, wse__future_state_acquire(nodes[i].future), NULL);
        }
    }
    /* Drop the registration bias (a non-failure completion's decrement). */
    if (mode != WSE_FIRST_COMPLETED && !wse__latch_tripped(latch))
        wse__latch_notify(latch, WSE_DONE, NULL);
    if (detach && linked < n) {
        /* acq_rel: the references of the nodes that were never linked. The
         * waiter's own keeps the count above zero. */
        wse__atomic_faa_u32_acq_rel(&wb->refs, (uint32_t)0 - (uint32_t)(n - linked));
    }

    if (!wse__latch_tripped(latch)) {
        if (w != NULL)
            rc = wse__help_wait(w, latch, futures, n, deadline);
        else
            wse__latch_sleep(latch, deadline, tasks);
    }

    guard.armed = false;
    if (latch->want_cause) {
        /* relaxed: see wse__latch_notify(). */
        woken_by = wse__atomic_load_ptr_relaxed(&latch->cause);
    }
    if (detach) {
        /* From now on a notification of this latch only counts. */
        wse__latch_silence(latch);
        return 0;
    }
    while (i > 0) {
        i--;
        if (nodes[i].registered)
            (void)wse__future_unlink(nodes[i].future, &nodes[i].node);
        nodes[i].latch = NULL; /* the latch dies with this frame */
    }
    wse__wait_latch_destroy(latch);
    return rc;
}

/* The argument checks of wse_wait(): 0, EINVAL or EDEADLK. */
static int
check_args(wse_future *const futures[], size_t n, wse_return_when mode)
{
    size_t i;

    if (futures == NULL || n == 0)
        return EINVAL;
    if (mode != WSE_FIRST_COMPLETED && mode != WSE_FIRST_EXCEPTION && mode != WSE_ALL_COMPLETED)
        return EINVAL;
    for (i = 0; i < n; i++) {
        if (futures[i] == NULL)
            return EINVAL;
    }
    if (mode == WSE_ALL_COMPLETED && wse__future_running != NULL) {
        /* A future this thread is running is RUNNING as this thread sees it (it
         * made the transition itself), so only those need the walk up the chain
         * of nested tasks: fork-join waits on PENDING children skip it. */
        for (i = 0; i < n; i++) {
            if (wse__future_state_acquire(futures[i]) == WSE_RUNNING && running_here(futures[i]))
                return EDEADLK;
        }
    }
    return 0;
}

/* Every future done: done is final, so this one pass is a stable snapshot, and
 * the partition is the input order. No node, no allocation (the last wait of a
 * big batch usually finds it so). False if some future is not done. */
static void
all_done_result(wse_future *const futures[], size_t n, wse_future *out[], size_t *n_done_out)
{
    /* memmove: out may overlap futures in any way. */
    if (out != NULL && out != futures)
        memmove(out, futures, n * sizeof(wse_future *));
    if (n_done_out != NULL)
        *n_done_out = n;
}

static bool
all_done(wse_future *const futures[], size_t n, wse_future *out[], size_t *n_done_out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!wse__future_state_done(wse__future_state_acquire(futures[i])))
            return false;
    }
    all_done_result(futures, n, out, n_done_out);
    return true;
}

/* Drop the waiter's reference to its node store on any exit from wait_impl(),
 * a C++ exception unwinding through a worker's wait included. */
static void
store_put_on_exit(struct node_store **wb)
{
    if (*wb != NULL)
        store_put(*wb);
}

static int wait_impl(wse_future *const futures[], size_t n, const struct wse__deadline *deadline,
                     wse_return_when mode, wse_future *out[], size_t *n_done_out);

/*
 * A plain thread's ALL_COMPLETED wait on many futures: wait for the first one
 * still pending (one node, on the stack), then go on from there. Every future is
 * done when the pass ends, so the result is all of them; a deadline ends the pass
 * early (false: the caller computes the partial result). Equivalent to linking a
 * node on every pending future, without the store of n nodes (allocated, faulted
 * in, linked and unlinked): a flat batch of 10^6 tasks spent over half of the
 * waiting thread's time there. It wakes once per future it finds pending, which
 * is rare when tasks finish in submission order or nearly (tasks from outside
 * start in submission order), and each of those completions
 * has a sleeping or spinning waiter to wake anyway.
 */
static bool
wait_all_in_turn(wse_future *const futures[], size_t n, const struct wse__deadline *deadline)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (wse__future_state_done(wse__future_state_acquire(futures[i])))
            continue;
        if (wait_impl(&futures[i], 1, deadline, WSE_ALL_COMPLETED, NULL, NULL) != 0)
            return false;
    }
    return true;
}

static int
wait_impl(wse_future *const futures[], size_t n, const struct wse__deadline *deadline,
          wse_return_when mode, wse_future *out[], size_t *n_done_out)
{
    struct wait_node stack_nodes[STACK_NODES];
    struct wait_node *nodes = stack_nodes;
    struct node_store *wb __attribute__((cleanup(store_put_on_exit))) = NULL;
    struct wse__help_mark mark __attribute__((cleanup(wse__help_mark_restore))) = {NULL, false};
    bool gave_up = false;
    bool plain;
    size_t n_done;
    size_t n_failed;
    size_t size;
    size_t i;
    int rc;

    rc = check_args(futures, n, mode);
    if (rc != 0)
        return rc;
    if (all_done(futures, n, out, n_done_out))
        return 0;
    /* A plain thread outside any task: the in-turn wait's and caller_runs'. */
    plain = wse__worker_tls == NULL && wse__future_running == NULL;
    if (n > STACK_NODES && mode == WSE_ALL_COMPLETED && plain && !wse__callers_exist()) {
        /* Done, or the deadline passed: then the general path below computes the
         * partial result (it blocks no more). */
        if (wait_all_in_turn(futures, n, deadline) && all_done(futures, n, out, n_done_out))
            return 0;
    }
    if (n > STACK_NODES) {
        /* The one allocation of a wait: its nodes (and latch) in one store. The
         * latch and the store count in 32 bits; that many nodes would not fit
         * in memory anyway. */
        size = n < UINT32_MAX ? store_size(n) : 0;
        wb = size != 0 ? wse__alloc_array(1, size) : NULL;
        if (wb == NULL)
            return ENOMEM;
        /* relaxed: the waiter's reference; not yet shared. */
        wse__atomic_store_u32_relaxed(&wb->refs, 1);
        nodes = wb->nodes;
    }
    if (wse__worker_tls != NULL && n <= STACK_NODES) {
        wse__help_mark_set(&mark, futures, n, mode, deadline);
        /* True only when every future is done: no second look needed. */
        if (wse__help_fast_path(wse__worker_tls, futures, n, deadline, mode)) {
            all_done_result(futures, n, out, n_done_out);
            return 0;
        }
    } else if (plain && wse__callers_exist() && wse__help_caller_runs(futures, n, deadline, mode)) {
        all_done_result(futures, n, out, n_done_out);
        return 0;
    }
    for (i = 0; i < n; i++)
        nodes[i] = (struct wait_node){.future = futures[i], .state = 0xff};
    collect(nodes, n, &n_done, &n_failed);
    if (!condition_holds(mode, n, n_done, n_failed) && !wse__clock_deadline_passed(deadline)) {
        rc = register_and_wait(futures, nodes, n, mode, deadline, wb);
        if (rc != 0 && rc != EAGAIN)
            goto out_put_store;
        gave_up = rc == EAGAIN;
    }
    /* The result: one stable snapshot decides both the partition and the code
     * (states only move forward, so a condition seen above still holds). The
     * nodes' future and state fields are the waiter's own, also while a
     * detached node is still linked. */
    snapshot(nodes, n, &n_done, &n_failed);
    rc = condition_holds(mode, n, n_done, n_failed) ? 0 : gave_up ? EAGAIN : ETIMEDOUT;
    if (out != NULL)
        partition(nodes, n, n_done, out);
    if (n_done_out != NULL)
        *n_done_out = n_done;
out_put_store:
    /* wb, if any, is put by store_put_on_exit(). */
    return rc;
}

/* wait_impl() with a wait event (mode, futures, outcome, time to the deadline). */
static int
wait_traced(wse_future *const futures[], size_t n, const struct wse__deadline *deadline,
            wse_return_when mode, wse_future *out[], size_t *n_done)
{
    uint64_t timeout = UINT64_MAX;
    uint64_t ts = wse__trace_ticks();
    wse_future *cause;
    uint64_t dur;
    uint64_t c;
    int rc;

    if (!deadline->forever) {
        struct timespec now = wse__clock_now();
        int64_t left = wse__clock_elapsed_ns(&now, &deadline->at);
        timeout = left > 0 ? (uint64_t)left : 0;
    }
    woken_by = NULL;
    rc = wait_impl(futures, n, deadline, mode, out, n_done);
    dur = wse__trace_ticks() - ts;
    /* Ours (set by our own registration after any nested wait's), and none
     * for an enclosing wait that registers nothing. */
    cause = woken_by;
    woken_by = NULL;
    c = wse__trace_pack(WSE__TRACE_WAIT, 0,
                        (uint64_t)mode | (uint64_t)(rc & 0xffff) << 8 |
                            (uint64_t)(n < WSE__TRACE_MAX_N ? n : WSE__TRACE_MAX_N) << 24);
    if (wse__worker_tls != NULL)
        wse__trace_put(wse__worker_trace_ring(wse__worker_tls->pool), ts, dur, timeout,
                       (uint64_t)(uintptr_t)cause, c);
    else
        wse__trace_plain_wait(ts, dur, timeout, (uint64_t)(uintptr_t)cause, c);
    return rc;
}

int
wse_wait(wse_future *const futures[], size_t n, double timeout_s, wse_return_when return_when,
         wse_future *out[], size_t *n_done)
{
    struct wse__deadline deadline;

    if (wse__clock_deadline_in(timeout_s, &deadline) != 0)
        return EINVAL;
    if (trace_wanted())
        return wait_traced(futures, n, &deadline, return_when, out, n_done);
    return wait_impl(futures, n, &deadline, return_when, out, n_done);
}

int
wse_wait_until(wse_future *const futures[], size_t n, const struct timespec *deadline,
               wse_return_when return_when, wse_future *out[], size_t *n_done)
{
    struct wse__deadline d;

    if (wse__clock_deadline_at(deadline, &d) != 0)
        return EINVAL;
    if (trace_wanted())
        return wait_traced(futures, n, &d, return_when, out, n_done);
    return wait_impl(futures, n, &d, return_when, out, n_done);
}

int
wse_future_wait(wse_future *f, double timeout_s)
{
    wse_future *one[1] = {f};

    if (f == NULL)
        return EINVAL;
    return wse_wait(one, 1, timeout_s, WSE_ALL_COMPLETED, NULL, NULL);
}

/*
 * wse_submit_after(): a task that becomes runnable when its dependencies are done.
 *
 * A side block per dependent task holds its counter and one deferred node per
 * dependency (the future itself stays one cache line):
 *
 *   remaining = n_deps + 1   the +1 is a bias held while the nodes are linked,
 *                            so the count cannot reach zero before submit ends
 *   dep node i               linked on deps[i]; when deps[i] completes, its
 *                            completing thread counts down (after the future's
 *                            lock is released: a deferred node)
 *   self node                linked on the task's own future: it fires when the
 *                            task completes, which before it is queued means it
 *                            was cancelled
 *
 * Whoever takes `remaining` to zero (the last completing dependency, or submit
 * itself when every dependency was done already) owns the task: it releases the
 * dependencies, then queues the task (wse__executor_enqueue_held(): the
 * completing worker's own deque if it is one of the executor's, otherwise the
 * injection queue), or, if it was cancelled meanwhile, drops it. No thread blocks
 * or polls; O(n_deps) at submit, O(1) per completed dependency; a chain of
 * dependents is queued one task at a time, never run recursively.
 *
 * Cancel. The self node first pins `remaining` (adds one unless it is zero:
 * zero means the task was queued and the deps released, so it must not touch
 * them), then unlinks every dependency node it still can (under each
 * dependency's lock) and counts down once per node it unlinked, plus the pin, so
 * `remaining` still reaches zero exactly once; nodes it could not unlink are
 * firing or about to and count themselves. Until the task is queued or dropped it is held by the
 * executor (wse__executor_hold()), which keeps shutdown(wait) waiting and lets
 * shutdown(cancel_pending) cancel it.
 *
 * Lifetime of the block: two references, one for the zero-taker, one for the
 * self node (which always fires: the task always completes once queued or
 * cancelled).
 */
#include <errno.h>
#include <string.h>

#include "wsexec.h"

#include "alloc.h"
#include "executor.h"
#include "future.h"

struct after_block;

struct dep_node {
    struct wse__node node;
    struct after_block *block;
    wse_future *dep;
};

struct after_block {
    wse__atomic_u32 remaining; /* see the file comment */
    wse__atomic_u32 refs;      /* the zero-taker's and the self node's */
    wse_executor *ex;
    struct wse__held held; /* held.future: the task, with the queue's ref */
    struct wse__node self; /* deferred node on the task's future */
    size_t n;
    struct dep_node deps[];
};

static void
block_put(struct after_block *b)
{
    /* acq_rel: release orders our last touch before the drop; acquire (the last)
     * orders the other holder's before the free. */
    if (wse__atomic_faa_u32_acq_rel(&b->refs, (uint32_t)-1) == 1)
        wse__alloc_free(b);
}

/* Every dependency is done (or its node unlinked by a cancel): release them, and
 * queue the task, or drop it if it was cancelled. */
static void
all_done(struct after_block *b)
{
    wse_future *task = b->held.future;
    size_t i;

    for (i = 0; i < b->n; i++)
        wse_future_release(b->deps[i].dep);
    if (wse__future_state_acquire(task) == WSE_PENDING) {
        /* A cancel racing this is fine: the worker finds it CANCELLED and drops
         * the queue's reference. */
        wse__executor_enqueue_held(b->ex, &b->held);
    } else {
        wse__executor_release_held(b->ex, &b->held);
        wse_future_release(task); /* the queue's reference */
    }
    block_put(b);
}

static void
count_down(struct after_block *b, uint32_t k)
{
    /* acq_rel: each dependency's completion (acquire half: the last one sees
     * every other dependency's done state) before the zero-taker's queueing. */
    if (wse__atomic_faa_u32_acq_rel(&b->remaining, (uint32_t)0 - k) == k)
        all_done(b);
}

/*
 * Add one to `remaining` unless it is zero. Zero means the task was queued (or
 * dropped) and the zero-taker released the deps, or is releasing them: a cancel
 * of a task already queued must not touch them. Otherwise the pin holds the
 * count above zero, so the deps stay alive until the pinner counts it down.
 */
static bool
pin(struct after_block *b)
{
    /* relaxed: a guess for the CAS. */
    uint32_t old = wse__atomic_load_u32_relaxed(&b->remaining);

    while (old != 0) {
        /* acq_rel: as count_down(), whose decrements this CAS orders with. */
        if (wse__atomic_cas_u32_acq_rel(&b->remaining, &old, old + 1))
            return true;
    }
    return false;
}

/* A dependency completed (deferred node: after its lock, on its thread). */
static void
dep_done(struct wse__node *n, wse_future *f, wse_state s)
{
    (void)f;
    (void)s;
    count_down(((struct dep_node *)n)->block, 1);
}

/* The task completed: cancelled while waiting, or it ran (or was cancelled in a
 * queue) after being queued, and then there is nothing to do. */
static void
self_done(struct wse__node *n, wse_future *f, wse_state s)
{
    struct after_block *b = (struct after_block *)((char *)n - offsetof(struct after_block, self));
    uint32_t unlinked = 0;
    size_t i;

    (void)f;
    if (s == WSE_CANCELLED && pin(b)) {
        /* Stop waiting for the deps that are still pending: the count then
         * reaches zero now (or when the nodes already firing count), and the
         * zero-taker drops the task and releases the hold, so shutdown(wait)
         * does not wait for a dependency that may never complete. The pin
         * keeps the deps alive meanwhile; it counts down with the nodes. */
        for (i = 0; i < b->n; i++)
            unlinked += wse__future_unlink(b->deps[i].dep, &b->deps[i].node);
        count_down(b, unlinked + 1);
    }
    block_put(b);
}

int
wse_submit_after(wse_executor *ex, wse_future *const deps[], size_t n_deps, wse_task_fn fn,
                 void *arg, wse_future **out)
{
    struct after_block *b;
    wse_future *task;
    uint32_t done = 0;
    size_t size;
    size_t i;
    int rc;

    if (ex == NULL || fn == NULL || (deps == NULL && n_deps > 0))
        return EINVAL;
    for (i = 0; i < n_deps; i++) {
        if (deps[i] == NULL)
            return EINVAL;
    }
    if (n_deps == 0)
        return wse_submit(ex, fn, arg, out);
    /* The counter is 32 bits: no real graph has 2^32 - 2 inputs per task. */
    if (n_deps > UINT32_MAX - 2 || n_deps > (SIZE_MAX - sizeof(*b)) / sizeof(b->deps[0]))
        return ENOMEM;
    size = sizeof(*b) + n_deps * sizeof(b->deps[0]);
    b = wse__alloc(size);
    if (b == NULL)
        return ENOMEM;
    task = wse__future_new(fn, arg, out != NULL ? 2 : 1);
    if (task == NULL) {
        rc = ENOMEM;
        goto out_free_block;
    }
    /* The nodes too: a node whose link finds its dep done stays unlinked (0). */
    memset(b, 0, size);
    b->ex = ex;
    b->n = n_deps;
    b->held.future = task;
    /* Plain: not shared until the first link (the future lock publishes it). */
    wse__atomic_init_u32(&b->remaining, (uint32_t)n_deps + 1);
    wse__atomic_init_u32(&b->refs, 2);
    b->self.fn = self_done;
    b->self.deferred = 1;
    rc = wse__executor_hold(ex, &b->held);
    if (rc != 0)
        goto out_discard_task;
    /* Every dependency recorded and retained before any node is visible, so a
     * cancel (self_done) sees them all. */
    for (i = 0; i < n_deps; i++) {
        b->deps[i].node.fn = dep_done;
        b->deps[i].node.deferred = 1;
        b->deps[i].block = b;
        b->deps[i].dep = wse_future_retain(deps[i]);
    }
    /* The task is PENDING and unshared: this link cannot fail. */
    (void)wse__future_link(task, &b->self);
    if (out != NULL)
        *out = task;
    for (i = 0; i < n_deps; i++) {
        if (!wse__future_link(b->deps[i].dep, &b->deps[i].node))
            done++; /* already done: count it here */
    }
    if (wse__future_state_acquire(task) == WSE_CANCELLED) {
        /* Cancelled while we linked: self_done may have run before some links;
         * take back what is still linked (each node is unlinked only once). */
        for (i = 0; i < n_deps; i++)
            done += wse__future_unlink(b->deps[i].dep, &b->deps[i].node);
    }
    /* Those found done (or taken back), and the bias. */
    count_down(b, done + 1);
    return 0;

out_discard_task:
    wse__future_discard(task);
out_free_block:
    wse__alloc_free(b);
    return rc;
}

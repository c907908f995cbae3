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
 *    cannot reach 0 before every node is linked. Completing threads call
 *    wse__latch_notify() under the future's lock; a failure trips a
 *    FIRST_EXCEPTION latch at once.
 * 4. Wait for the latch or the deadline. A plain thread sleeps on the latch's
 *    condition variable (CLOCK_MONOTONIC). A worker helps: it runs tasks (own
 *    deque, injection queue, steals) and parks with the latch when it finds none.
 * 5. Unlink every node (each under its future's lock: after that no completing
 *    thread can reach the latch, so it may leave the stack), snapshot the states
 *    again and partition on that snapshot. The result code is decided by the same
 *    snapshot, so the code and the partition always agree.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"

/* Up to this many futures, the wait nodes live on the caller's stack. */
#define STACK_NODES 8

uint32_t wse__plain_wakeups;

int
wse__cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);

    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

void
wse__latch_notify(struct wse_latch *l, wse_state s)
{
    bool trip;

    if (l->mode == WSE_FIRST_COMPLETED || (l->mode == WSE_FIRST_EXCEPTION && s == WSE_FAILED))
        trip = true;    /* any completion, or a failure, ends the wait at once */
    else
        /* acq_rel: the count of one latch, decremented by several completers. */
        trip = wse_faa_u32_acq_rel(&l->remaining, (uint32_t)-1) == 1;
    if (!trip)
        return;
    /* acq_rel exchange: only the first tripper wakes the waiter; release pairs
     * with the acquire load in wse__latch_tripped(). */
    if (wse_fas_u32_acq_rel(&l->tripped, 1) != 0)
        return;
    if (l->worker != NULL) {
        wse__wake_worker(l->worker);
    } else {
        /* tripped is set before we take the mutex; the waiter checks it under the
         * mutex before each sleep, so the signal cannot be lost. */
        wse__lock(&l->mutex);
        if (l->sleeping && !l->kicked) {
            l->kicked = true;
            /* acq_rel: a counter read as a hint by wse__run_task(). */
            wse_faa_u32_acq_rel(&wse__plain_wakeups, 1);
            pthread_cond_signal(&l->cond);
        }
        wse__unlock(&l->mutex);
    }
}

/* Read every state into nodes[i].state; count the done and failed ones. Returns
 * true if any state differs from what the nodes held before. */
static bool
collect(struct wse_node *nodes, size_t n, size_t *n_done, size_t *n_failed)
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
        done += wse__state_done(s);
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
snapshot(struct wse_node *nodes, size_t n, size_t *n_done, size_t *n_failed)
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
partition(const struct wse_node *nodes, size_t n, size_t n_done, wse_future *out[])
{
    size_t d = 0;
    size_t p = n_done;
    size_t i;

    for (i = 0; i < n; i++) {
        if (wse__state_done((wse_state)nodes[i].state))
            out[d++] = nodes[i].future;
        else
            out[p++] = nodes[i].future;
    }
}

/* Is f the future of a task this thread is running (or nested in)? */
static bool
running_here(const wse_future *f)
{
    const struct wse_running *r;

    for (r = wse__tls_running; r != NULL; r = r->outer) {
        if (r->future == f)
            return true;
    }
    return false;
}

#ifndef WSE_WAIT_SPIN_NS
#define WSE_WAIT_SPIN_NS 5000
#endif

/* Nanoseconds from a to b. */
static int64_t
elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

/*
 * A plain thread first spins on the latch for up to WSE_WAIT_SPIN_NS (or to the
 * deadline): a short task completes sooner than a futex wake-up reaches a
 * sleeping thread, so the waiter neither sleeps nor costs its completer a system
 * call (the latch is signalled only if `sleeping`). True if the latch tripped.
 */
static bool
spin_plain(const struct wse_latch *l, const struct wse_deadline *deadline)
{
    struct timespec start = wse__now();
    struct timespec now;
    unsigned i;

    for (i = 1;; i++) {
        if (wse__latch_tripped(l))
            return true;
        wse_cpu_relax();
        if (i % 16 == 0) {
            now = wse__now();
            if (elapsed_ns(&start, &now) >= WSE_WAIT_SPIN_NS || wse__deadline_passed(deadline))
                return false;
        }
    }
}

/* A plain thread: sleep until the latch trips or the deadline passes. */
static void
wait_plain(struct wse_latch *l, const struct wse_deadline *deadline)
{
    bool rc;

    if (spin_plain(l, deadline))
        return;
    wse__lock(&l->mutex);
    while (!wse__latch_tripped(l)) {
        l->sleeping = true;
        rc = wse__cond_wait(&l->cond, &l->mutex, deadline);
        l->sleeping = false;
        if (l->kicked) {
            l->kicked = false;
            /* acq_rel: the count of wse__latch_notify(); we run again. */
            wse_faa_u32_acq_rel(&wse__plain_wakeups, (uint32_t)-1);
        }
        if (!rc)
            break;
    }
    wse__unlock(&l->mutex);
}

/* A worker: run other tasks until the latch trips or the deadline passes. The
 * deadline is checked between tasks only. */
static void
wait_helping(struct wse_worker *w, struct wse_latch *l, const struct wse_deadline *deadline)
{
    wse_future *f;

    while (!wse__latch_tripped(l) && !wse__deadline_passed(deadline)) {
        /* First a quick look (own deque, injection queue, steal); spinning is
         * for idle workers, a waiter wants to be parked on its latch. */
        f = wse__find_task(w);
        if (f != NULL) {
            wse__run_task(w, f);
            continue;
        }
        wse__park(w, l, deadline);
    }
}

/* The size of a wait block for n nodes; 0 on overflow. */
static size_t
block_size(size_t n)
{
    size_t head = sizeof(struct wse_wait_block);

    if (n > (SIZE_MAX - head) / sizeof(struct wse_node))
        return 0;
    return head + n * sizeof(struct wse_node);
}

void
wse__wait_block_put(struct wse_wait_block *b)
{
    /* acq_rel: release orders our last touch of the block before the drop;
     * acquire (for the last one) orders every other holder's before the free. */
    if (wse_faa_u32_acq_rel(&b->refs, (uint32_t)-1) != 1)
        return;
    if (b->latch_ready) {
        pthread_cond_destroy(&b->latch.cond);
        pthread_mutex_destroy(&b->latch.mutex);
    }
    wse__free(b);
}

/*
 * Register on every future, wait, then let go of the nodes. Returns 0, or the
 * error of initialising the latch (nothing registered then).
 *
 * Letting go. With a latch on the stack (n <= STACK_NODES, or a worker, whose
 * latch points at the worker and must not outlive the wait), every node still
 * linked is unlinked under its future's lock: after that no completing thread can
 * reach the latch. A plain thread waiting on more futures uses the latch in its
 * wait block `wb` and leaves the nodes linked: the block counts one reference per
 * linked node, which the completing thread drops after notifying (complete_locked()
 * in future.c), and the waiter's own, dropped by wait_impl(). Setting `tripped`
 * first makes later notifications silent. So a FIRST_COMPLETED or
 * FIRST_EXCEPTION wait on 10,000 futures returns without touching the ones still
 * pending: O(1) locks instead of O(n) on the way out (the fail-fast benchmark).
 */
static int
block(struct wse_node *nodes, size_t n, wse_return_when mode,
      const struct wse_deadline *deadline, struct wse_wait_block *wb)
{
    struct wse_worker *w = wse__tls_worker;
    struct wse_latch stack_latch;
    struct wse_latch *latch = &stack_latch;
    bool detach = wb != NULL && w == NULL;
    size_t linked = 0;
    size_t i;
    int rc;

    if (detach)
        latch = &wb->latch;
    /* The registration bias of 1, and for the counting modes one completion per
     * future, counted before any node is linked so that no completion can trip
     * the latch early; a future found done at registration is counted down at
     * once (below), as its completer would have. */
    latch->remaining = mode == WSE_FIRST_COMPLETED ? 1 : (uint32_t)1 + (uint32_t)n;
    latch->tripped = 0;
    latch->mode = mode;
    latch->worker = w;
    latch->block = detach ? wb : NULL;
    latch->sleeping = false;
    latch->kicked = false;
    if (w == NULL) {
        /* A plain thread sleeps on its own mutex and condition variable. */
        rc = pthread_mutex_init(&latch->mutex, NULL);
        if (rc != 0)
            return rc;
        rc = wse__cond_init_monotonic(&latch->cond);
        if (rc != 0) {
            pthread_mutex_destroy(&latch->mutex);
            return rc;
        }
    }
    if (detach) {
        wb->latch_ready = true;
        /* relaxed: not yet shared; the future lock taken by each link publishes
         * it to the completers. One reference per node that may be linked. */
        wse_store_u32_relaxed(&wb->refs, 1 + (uint32_t)n);
    }

    for (i = 0; i < n && !wse__latch_tripped(latch); i++) {
        nodes[i].latch = latch;
        /* Done is final: a future the last collect saw done needs no lock. */
        nodes[i].registered = !wse__state_done((wse_state)nodes[i].state) &&
                              wse__future_add_waiter(nodes[i].future, &nodes[i]);
        if (nodes[i].registered) {
            linked++;
        } else {
            /* Done before we could link: count it as its completer would have. */
            wse__latch_notify(latch, wse__future_state_acquire(nodes[i].future));
        }
    }
    /* Drop the registration bias (a non-failure completion's decrement). */
    if (mode != WSE_FIRST_COMPLETED && !wse__latch_tripped(latch))
        wse__latch_notify(latch, WSE_DONE);
    if (detach && linked < n) {
        /* acq_rel: the references of the nodes that were never linked. The
         * waiter's own keeps the count above zero. */
        wse_faa_u32_acq_rel(&wb->refs, (uint32_t)0 - (uint32_t)(n - linked));
    }

    if (!wse__latch_tripped(latch)) {
        if (w != NULL)
            wait_helping(w, latch, deadline);
        else
            wait_plain(latch, deadline);
    }

    if (detach) {
        /* acq_rel exchange, as in wse__latch_notify(): from now on a
         * notification of this latch only counts, it wakes nobody. */
        (void)wse_fas_u32_acq_rel(&latch->tripped, 1);
        return 0;
    }
    while (i > 0) {
        i--;
        if (nodes[i].registered)
            wse__future_remove_waiter(nodes[i].future, &nodes[i]);
    }
    if (w == NULL) {
        pthread_cond_destroy(&latch->cond);
        pthread_mutex_destroy(&latch->mutex);
    }
    return 0;
}

/* The argument checks of wse_wait(): 0, EINVAL or EDEADLK. */
static int
check_args(wse_future *const futures[], size_t n, wse_return_when mode)
{
    size_t i;

    if (futures == NULL || n == 0)
        return EINVAL;
    if (mode != WSE_FIRST_COMPLETED && mode != WSE_FIRST_EXCEPTION &&
        mode != WSE_ALL_COMPLETED)
        return EINVAL;
    for (i = 0; i < n; i++) {
        if (futures[i] == NULL)
            return EINVAL;
    }
    if (mode == WSE_ALL_COMPLETED && wse__tls_running != NULL) {
        /* A future this thread is running is RUNNING as this thread sees it (it
         * made the transition itself), so only those need the walk up the chain
         * of nested tasks: fork-join waits on PENDING children skip it. */
        for (i = 0; i < n; i++) {
            if (wse__future_state_acquire(futures[i]) == WSE_RUNNING &&
                running_here(futures[i]))
                return EDEADLK;
        }
    }
    return 0;
}

/* Every future done: done is final, so this one pass is a stable snapshot, and
 * the partition is the input order. No node, no allocation (the last wait of a
 * big batch usually finds it so). False if some future is not done. */
static bool
all_done(wse_future *const futures[], size_t n, wse_future *out[], size_t *n_done_out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!wse__state_done(wse__future_state_acquire(futures[i])))
            return false;
    }
    if (out != NULL && out != futures) {
        for (i = 0; i < n; i++)
            out[i] = futures[i];
    }
    if (n_done_out != NULL)
        *n_done_out = n;
    return true;
}

static int
wait_impl(wse_future *const futures[], size_t n, const struct wse_deadline *deadline,
          wse_return_when mode, wse_future *out[], size_t *n_done_out)
{
    struct wse_node stack_nodes[STACK_NODES];
    struct wse_node *nodes = stack_nodes;
    struct wse_wait_block *wb = NULL;
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
    if (n > STACK_NODES) {
        /* The one allocation of a wait: its nodes (and latch) in one block. The
         * latch and the block count in 32 bits; that many nodes would not fit
         * in memory anyway. */
        size = n < UINT32_MAX ? block_size(n) : 0;
        wb = size != 0 ? wse__calloc(1, size) : NULL;
        if (wb == NULL)
            return ENOMEM;
        /* relaxed: the waiter's reference; not yet shared. */
        wse_store_u32_relaxed(&wb->refs, 1);
        nodes = wb->nodes;
    }
    for (i = 0; i < n; i++)
        nodes[i] = (struct wse_node){ .future = futures[i], .state = 0xff };

    collect(nodes, n, &n_done, &n_failed);
    if (wse__tls_worker != NULL && n <= STACK_NODES) {
        /* A worker waiting on a few futures, usually the children it has just
         * pushed: run tasks from its own deque (newest first) until the condition
         * holds, before paying for registration. The deadline is checked between
         * tasks; a poll (deadline already passed) runs nothing. */
        wse_future *f;

        while (!condition_holds(mode, n, n_done, n_failed) &&
               !wse__deadline_passed(deadline) &&
               (f = wse__deque_pop(&wse__tls_worker->deque)) != NULL) {
            wse__run_task(wse__tls_worker, f);
            collect(nodes, n, &n_done, &n_failed);
        }
    }
    if (!condition_holds(mode, n, n_done, n_failed) && !wse__deadline_passed(deadline)) {
        rc = block(nodes, n, mode, deadline, wb);
        if (rc != 0)
            goto out_put_block;
    }
    /* The result: one stable snapshot decides both the partition and the code
     * (states only move forward, so a condition seen above still holds). The
     * nodes' future and state fields are the waiter's own, also while a
     * detached node is still linked. */
    snapshot(nodes, n, &n_done, &n_failed);
    rc = condition_holds(mode, n, n_done, n_failed) ? 0 : ETIMEDOUT;
    if (out != NULL)
        partition(nodes, n, n_done, out);
    if (n_done_out != NULL)
        *n_done_out = n_done;
out_put_block:
    if (wb != NULL)
        wse__wait_block_put(wb);
    return rc;
}

int
wse_wait(wse_future *const futures[], size_t n, double timeout_s, wse_return_when return_when,
         wse_future *out[], size_t *n_done)
{
    struct wse_deadline deadline;

    if (wse__deadline_in(timeout_s, &deadline) != 0)
        return EINVAL;
    return wait_impl(futures, n, &deadline, return_when, out, n_done);
}

int
wse_wait_until(wse_future *const futures[], size_t n, const struct timespec *deadline,
               wse_return_when return_when, wse_future *out[], size_t *n_done)
{
    struct wse_deadline d;

    if (wse__deadline_at(deadline, &d) != 0)
        return EINVAL;
    return wait_impl(futures, n, &d, return_when, out, n_done);
}

int
wse_future_wait(wse_future *f, double timeout_s)
{
    wse_future *one[1] = { f };

    if (f == NULL)
        return EINVAL;
    return wse_wait(one, 1, timeout_s, WSE_ALL_COMPLETED, NULL, NULL);
}

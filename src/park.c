/*
 * Parking idle workers without losing a wake-up.
 *
 * The rule (Go's proc.go, Tokio's idle.rs, Taskflow's notifier, Java's
 * ForkJoinPool all use it): a task must never sit in a queue while every worker
 * sleeps. Two sides race:
 *
 *   submitter (wse__park_wake_some)     parking worker (wse__park_sleep)
 *   1. publish the task                 1. announce: push self on the sleeper
 *      (deque bottom / inject length /     stack, store n_sleeping
 *      the pool's loop offer)
 *   2. full fence                       2. full fence
 *   3. read n_sleeping; if > 0, pop     3. re-check every queue; if work, leave
 *      a sleeper and signal it             the stack and run it
 *                                       4. otherwise sleep until notified
 *
 * With a full fence on both sides, at least one side sees the other's write (the
 * store-buffering litmus test cannot end with both reads missing): either the
 * worker's re-check finds the task, or the submitter sees n_sleeping > 0 and wakes
 * a parked worker, which re-checks every queue after it wakes. The sleeper stack,
 * the notified flags and the sleep itself are under park.mutex (a pthread mutex,
 * so ThreadSanitizer sees the handshake); only the read of n_sleeping is lock-free,
 * so a busy pool (n_sleeping == 0) makes no system call and takes no lock.
 *
 * A submission wakes at most one worker per task, and only if one is parked. A
 * worker's push on its own deque skips the fence (wse__park_wake_some with
 * need_fence false): if that wake is missed, only parallelism is lost, because the pushing
 * worker re-checks its own deque before it can park.
 *
 * Waiting workers do not park here. A worker inside a wait that finds nothing it
 * may run blocks in wse__park_block(), off the sleeper stack (a submission must
 * not pick it: it may run only what it waits on), until its latch trips, the
 * deadline passes, or it is told to give up; a spare takes its place meanwhile
 * (spares.c). Its latch's wake function wakes it (wse__park_wake_one()).
 *
 * Termination. After shutdown (wse__park_shutdown(), called after the injection
 * queue is closed), the executor is quiescent when every live worker sleeps at
 * top level (n_idle == n_live: no task on any stack) and the injection queue,
 * read under the park mutex after `shutdown`, is empty. Each idle worker re-checked
 * every queue (its own deque included) after its announce, and nobody pushes on
 * an idle worker's deque; external pushes are refused after the close that
 * precedes the flag. The last worker to go idle sets `terminated`, wakes the
 * others, and signals shutdown(wait) callers on `quiet`.
 */
#include "park.h"

#include <errno.h>

#include "alloc.h"
#include "sync.h"

int
wse__park_init(struct wse__park *p, unsigned n, unsigned n_live, struct wse__inject *inject,
               const wse__atomic_ptr *offer)
{
    unsigned i = 0;
    int rc = ENOMEM;

    p->n = n;
    p->inject = inject;
    p->offer = offer;
    p->sleepers = wse__alloc_array(n, sizeof(*p->sleepers));
    p->deques = wse__alloc_array(n, sizeof(*p->deques));
    p->parkers = wse__alloc_array(n, sizeof(*p->parkers));
    if (p->sleepers == NULL || p->deques == NULL || p->parkers == NULL)
        goto out_free;
    for (i = 0; i < n; i++) {
        rc = wse__sync_cond_init(&p->parkers[i].wake);
        if (rc != 0)
            goto out_destroy_parkers;
    }
    rc = pthread_mutex_init(&p->mutex, NULL);
    if (rc != 0)
        goto out_destroy_parkers;
    rc = wse__sync_cond_init(&p->quiet);
    if (rc != 0)
        goto out_destroy_mutex;
    p->n_parked = 0;
    p->n_idle = 0;
    p->n_live = n_live;
    p->n_held = 0;
    p->shutdown = false;
    p->terminated = false;
    wse__atomic_init_u32(&p->n_sleeping, 0);
    return 0;

out_destroy_mutex:
    pthread_mutex_destroy(&p->mutex);
out_destroy_parkers:
    while (i > 0)
        pthread_cond_destroy(&p->parkers[--i].wake);
out_free:
    wse__alloc_free(p->parkers);
    wse__alloc_free(p->deques);
    wse__alloc_free(p->sleepers);
    return rc;
}

void
wse__park_destroy(struct wse__park *p)
{
    unsigned i;

    for (i = 0; i < p->n; i++)
        pthread_cond_destroy(&p->parkers[i].wake);
    pthread_cond_destroy(&p->quiet);
    pthread_mutex_destroy(&p->mutex);
    wse__alloc_free(p->parkers);
    wse__alloc_free(p->deques);
    wse__alloc_free(p->sleepers);
}

void
wse__park_free_inherited(struct wse__park *p)
{
    wse__alloc_free(p->parkers);
    wse__alloc_free(p->deques);
    wse__alloc_free(p->sleepers);
}

void
wse__park_attach(struct wse__park *p, unsigned i, struct wse__deque *dq)
{
    /* release: the initialised deque before its pointer; pairs with the acquire
     * load in work_visible(). */
    wse__atomic_store_ptr_release(&p->deques[i], dq);
}

/* True if some queue may hold a task: the re-check step of parking. */
static bool
work_visible(const struct wse__park *p)
{
    unsigned i;

    if (wse__inject_nonempty(p->inject))
        return true;
    /* relaxed: ordered by the fence before the re-check; pairs with the fence
     * after the offer's CAS (wse__executor_offer()). */
    if (wse__atomic_load_ptr_relaxed(p->offer) != NULL)
        return true;
    for (i = 0; i < p->n; i++) {
        /* acquire: pairs with wse__park_attach(). */
        const struct wse__deque *dq = wse__atomic_load_ptr_acquire(&p->deques[i]);

        if (dq != NULL && wse__deque_size_hint(dq) > 0)
            return true;
    }
    return false;
}

/* Under p->mutex: terminate if shut down and every live worker is idle. */
static void maybe_terminate(struct wse__park *p);

/* Under p->mutex: keep the lock-free copy of the sleeper count current. */
static void
publish_count(struct wse__park *p)
{
    /* relaxed: the submitter side orders its read with its own full fence, the
     * parking side with the fence after this store (see the file comment). */
    wse__atomic_store_u32_relaxed(&p->n_sleeping, p->n_parked);
}

/* Under p->mutex: push worker i on the sleeper stack. */
static void
stack_push(struct wse__park *p, unsigned i)
{
    struct wse__parker *k = &p->parkers[i];

    k->stack_pos = p->n_parked;
    p->sleepers[p->n_parked++] = i;
    k->parked = true;
    publish_count(p);
}

/* Under p->mutex: remove worker i (parked) from the stack. */
static void
stack_remove(struct wse__park *p, unsigned i)
{
    struct wse__parker *k = &p->parkers[i];
    unsigned last = p->sleepers[--p->n_parked];

    p->sleepers[k->stack_pos] = last;
    p->parkers[last].stack_pos = k->stack_pos;
    k->parked = false;
    publish_count(p);
}

/* Under p->mutex: wake every parked worker. */
static void
wake_all_locked(struct wse__park *p)
{
    unsigned i;

    while (p->n_parked > 0) {
        i = p->sleepers[p->n_parked - 1];
        stack_remove(p, i);
        p->parkers[i].notified = true;
        pthread_cond_signal(&p->parkers[i].wake);
    }
}

/* Under p->mutex: terminate if shut down and quiescent: every live worker idle at
 * top level, no task held outside the queues, no queue with work. */
static void
maybe_terminate(struct wse__park *p)
{
    if (p->shutdown && !p->terminated && p->n_idle == p->n_live && p->n_held == 0 &&
        !work_visible(p)) {
        p->terminated = true;
        wake_all_locked(p);
        pthread_cond_broadcast(&p->quiet);
    }
}

void
wse__park_join(struct wse__park *p)
{
    wse__sync_lock(&p->mutex);
    p->n_live++;
    wse__sync_unlock(&p->mutex);
}

void
wse__park_leave(struct wse__park *p)
{
    wse__sync_lock(&p->mutex);
    p->n_live--;
    maybe_terminate(p);
    wse__sync_unlock(&p->mutex);
}

void
wse__park_block(struct wse__park *p, unsigned self, const struct wse__latch *latch,
                const struct wse__deadline *deadline, const wse__atomic_u32 *abandon)
{
    struct wse__parker *k = &p->parkers[self];

    /* The tripper sets the latch (and an abandoner *abandon) before it calls
     * wse__park_wake_one(), which takes this mutex; we read both under it
     * before each sleep, so the signal cannot fall between the check and the
     * sleep. */
    wse__sync_lock(&p->mutex);
    k->blocked = true;
    /* acquire: pairs with the release store of the abandoner (spares.c,
     * abandon_stack_blocked()). */
    while (!wse__latch_tripped(latch) && wse__atomic_load_u32_acquire(abandon) == 0) {
        if (!wse__sync_cond_wait(&k->wake, &p->mutex, deadline))
            break;
    }
    k->blocked = false;
    wse__sync_unlock(&p->mutex);
}

enum wse__park_result
wse__park_sleep(struct wse__park *p, unsigned self, struct wse__stats_thread *stats)
{
    struct wse__parker *k = &p->parkers[self];
    bool terminated;

    wse__sync_lock(&p->mutex);
    if (p->terminated || k->notified) {
        /* A notification that arrived while we were running: re-check. */
        terminated = p->terminated;
        k->notified = false;
        wse__sync_unlock(&p->mutex);
        return terminated ? WSE__PARK_TERMINATED : WSE__PARK_RECHECK;
    }
    stack_push(p, self);
    wse__sync_unlock(&p->mutex);

    /* Full fence: our announce (n_sleeping) before the re-check of the queues;
     * pairs with the fence in wse__park_wake_some() between the publication of a
     * task and its read of n_sleeping. */
    wse__atomic_fence_seq_cst();

    wse__sync_lock(&p->mutex);
    if (work_visible(p)) {
        if (k->parked)
            stack_remove(p, self);
        k->notified = false;
        wse__sync_unlock(&p->mutex);
        return WSE__PARK_RECHECK;
    }
    p->n_idle++;
    /* shutdown is set under this mutex after the injection queue was closed,
     * so the re-read in maybe_terminate() is final. */
    maybe_terminate(p);
    if (!p->terminated && k->parked && !k->notified)
        wse__stats_count(stats, WSE__STAT_PARKS);
    while (k->parked && !k->notified && !p->terminated)
        (void)wse__sync_cond_wait(&k->wake, &p->mutex, NULL);
    p->n_idle--;
    if (k->parked)
        stack_remove(p, self);
    k->notified = false;
    terminated = p->terminated;
    wse__sync_unlock(&p->mutex);
    return terminated ? WSE__PARK_TERMINATED : WSE__PARK_WOKEN;
}

void
wse__park_wake_sleepers(struct wse__park *p, size_t n)
{
    pthread_cond_t *to_signal[8];
    unsigned k;
    unsigned i;

    /* relaxed: as in wse__park_wake_some() (park.h), whose fence, if any,
     * came before the first read; later rounds only wake more. */
    while (n > 0 && wse__atomic_load_u32_relaxed(&p->n_sleeping) != 0) {
        k = 0;
        wse__sync_lock(&p->mutex);
        while (n > 0 && p->n_parked > 0 && k < 8) {
            i = p->sleepers[p->n_parked - 1];
            stack_remove(p, i);
            p->parkers[i].notified = true;
            to_signal[k++] = &p->parkers[i].wake;
            n--;
        }
        wse__sync_unlock(&p->mutex);
        if (k == 0)
            break;
        /* Signal outside the lock so a woken worker does not block on it at
         * once. The condition variables live as long as the executor. */
        while (k > 0)
            pthread_cond_signal(to_signal[--k]);
        /* If this thread now waits, the worker it woke may need its CPU. */
        wse__latch_note_woke();
    }
}

void
wse__park_wake_one(struct wse__park *p, unsigned i)
{
    /* The latch's tripped flag is set before this; the worker reads it under the
     * mutex before each sleep, so taking the mutex here and signalling cannot
     * fall between its check and its sleep. */
    wse__sync_lock(&p->mutex);
    if (p->parkers[i].parked || p->parkers[i].blocked)
        pthread_cond_signal(&p->parkers[i].wake);
    wse__sync_unlock(&p->mutex);
}

void
wse__park_shutdown(struct wse__park *p)
{
    wse__sync_lock(&p->mutex);
    p->shutdown = true;
    wake_all_locked(p);
    wse__sync_unlock(&p->mutex);
}

bool
wse__park_hold(struct wse__park *p)
{
    bool ok;

    wse__sync_lock(&p->mutex);
    ok = !p->shutdown;
    if (ok)
        p->n_held++;
    wse__sync_unlock(&p->mutex);
    return ok;
}

void
wse__park_unhold(struct wse__park *p)
{
    /* The released task, if queued, is visible before this (its push): a
     * terminating check below sees it and waits for a worker to run it. */
    wse__sync_lock(&p->mutex);
    p->n_held--;
    maybe_terminate(p);
    wse__sync_unlock(&p->mutex);
}

void
wse__park_set_live(struct wse__park *p, unsigned n)
{
    wse__sync_lock(&p->mutex);
    p->n_live = n;
    wse__sync_unlock(&p->mutex);
}

void
wse__park_wait_quiet(struct wse__park *p)
{
    wse__sync_lock(&p->mutex);
    while (!p->terminated)
        wse__sync_cond_wait(&p->quiet, &p->mutex, NULL);
    wse__sync_unlock(&p->mutex);
}

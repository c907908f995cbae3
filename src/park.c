/*
 * Parking idle workers without losing a wake-up.
 *
 * The rule (Go's proc.go, Tokio's idle.rs, Taskflow's notifier, Java's
 * ForkJoinPool all use it): a task must never sit in a queue while every worker
 * sleeps. Two sides race:
 *
 *   submitter (wse__wake_some)          parking worker (wse__park)
 *   1. publish the task                 1. announce: push self on the sleeper
 *      (deque bottom / inject length)      stack, store n_sleeping
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
 * worker's push on its own deque skips the fence (wse__wake_some with need_fence
 * false): if that wake is missed, only parallelism is lost, because the pushing
 * worker re-checks its own deque before it can park.
 *
 * Waiting workers. A worker inside wse_wait() parks with its latch: the latch
 * tripping (wse__wake_worker), the deadline, or a submission wakes it. It is on
 * the same sleeper stack, so new work can pick it to help.
 *
 * Termination. After shutdown, the executor is quiescent when every live worker
 * sleeps at top level (n_idle == n_live: no task on any stack) and the injection
 * queue, read after the shutdown flag, is empty. Each idle worker re-checked
 * every queue (its own deque included) after its announce, and nobody pushes on
 * an idle worker's deque; external pushes are refused after the close that
 * precedes the flag. The last worker to go idle sets `terminated`, wakes the
 * others, and signals shutdown(wait) callers on `quiet`.
 */
#include "internal.h"

#include <errno.h>

#include "alloc.h"

int
wse__park_init(struct wse_park *p, unsigned n_workers)
{
    int rc;

    p->sleepers = wse__calloc(n_workers, sizeof(*p->sleepers));
    if (p->sleepers == NULL)
        return ENOMEM;
    rc = pthread_mutex_init(&p->mutex, NULL);
    if (rc != 0)
        goto out_free_sleepers;
    rc = wse__cond_init_monotonic(&p->quiet);
    if (rc != 0)
        goto out_destroy_mutex;
    p->n_parked = 0;
    p->n_idle = 0;
    p->n_live = n_workers;
    p->terminated = false;
    p->n_sleeping = 0;
    return 0;

out_destroy_mutex:
    pthread_mutex_destroy(&p->mutex);
out_free_sleepers:
    wse__free(p->sleepers);
    return rc;
}

void
wse__park_destroy(struct wse_park *p)
{
    pthread_cond_destroy(&p->quiet);
    pthread_mutex_destroy(&p->mutex);
    wse__free(p->sleepers);
}

/* Under p->mutex: keep the lock-free copy of the sleeper count current. */
static void
publish_count(struct wse_park *p)
{
    /* relaxed: the submitter side orders its read with its own full fence, the
     * parking side with the fence after this store (see the file comment). */
    wse_store_u32_relaxed(&p->n_sleeping, p->n_parked);
}

/* Under p->mutex: push w on the sleeper stack. */
static void
stack_push(struct wse_park *p, struct wse_worker *w)
{
    w->stack_pos = p->n_parked;
    p->sleepers[p->n_parked++] = w->index;
    w->parked = true;
    publish_count(p);
}

/* Under p->mutex: remove w (parked) from the stack. */
static void
stack_remove(struct wse_executor *ex, struct wse_worker *w)
{
    struct wse_park *p = &ex->park;
    unsigned last = p->sleepers[--p->n_parked];

    p->sleepers[w->stack_pos] = last;
    ex->workers[last].stack_pos = w->stack_pos;
    w->parked = false;
    publish_count(p);
}

enum park_result
wse__park(struct wse_worker *w, struct wse_latch *latch, const struct wse_deadline *deadline)
{
    struct wse_executor *ex = w->ex;
    struct wse_park *p = &ex->park;
    bool top = latch == NULL;
    bool terminated;

    wse__lock(&p->mutex);
    if (p->terminated || w->notified) {
        /* A notification that arrived while we were running: re-check. */
        terminated = p->terminated && top;
        w->notified = false;
        wse__unlock(&p->mutex);
        return terminated ? PARK_TERMINATED : PARK_RECHECK;
    }
    stack_push(p, w);
    wse__unlock(&p->mutex);

    /* Full fence: our announce (n_sleeping) before the re-check of the queues;
     * pairs with the fence in wse__wake_some() between the publication of a task
     * and its read of n_sleeping. */
    wse_fence_seq_cst();

    wse__lock(&p->mutex);
    if (wse__work_visible(ex) || (latch != NULL && wse__latch_tripped(latch)) ||
        (deadline != NULL && wse__deadline_passed(deadline))) {
        if (w->parked)
            stack_remove(ex, w);
        w->notified = false;
        wse__unlock(&p->mutex);
        return PARK_RECHECK;
    }
    if (top) {
        p->n_idle++;
        /* acquire: pairs with the release in set_flags() (executor.c); the
         * injection queue was closed before, so the re-read below is final. */
        if ((wse_load_u32_acquire(&ex->flags) & EX_SHUTDOWN) && p->n_idle == p->n_live &&
            !wse__work_visible(ex)) {
            p->terminated = true;
            wse__wake_all_locked(ex);
            pthread_cond_broadcast(&p->quiet);
        }
    }
    while (w->parked && !w->notified && !p->terminated &&
           !(latch != NULL && wse__latch_tripped(latch))) {
        if (!wse__cond_wait(&w->wake, &p->mutex, deadline))
            break;
    }
    if (top)
        p->n_idle--;
    if (w->parked)
        stack_remove(ex, w);
    w->notified = false;
    terminated = p->terminated && top;
    wse__unlock(&p->mutex);
    return terminated ? PARK_TERMINATED : PARK_RECHECK;
}

void
wse__wake_some(struct wse_executor *ex, size_t n, bool need_fence)
{
    struct wse_park *p = &ex->park;
    pthread_cond_t *to_signal[8];
    unsigned k;
    struct wse_worker *w;

    if (need_fence) {
        /* Full fence: the published task before the read of n_sleeping; pairs
         * with the fence in wse__park() between the announce and the re-check. */
        wse_fence_seq_cst();
    }
    /* relaxed: ordered by the fence above (or, for a worker's own push, a hint:
     * see the file comment). Zero means no lock and no system call. */
    while (n > 0 && wse_load_u32_relaxed(&p->n_sleeping) != 0) {
        k = 0;
        wse__lock(&p->mutex);
        while (n > 0 && p->n_parked > 0 && k < 8) {
            w = &ex->workers[p->sleepers[p->n_parked - 1]];
            stack_remove(ex, w);
            w->notified = true;
            to_signal[k++] = &w->wake;
            n--;
        }
        wse__unlock(&p->mutex);
        if (k == 0)
            break;
        /* Signal outside the lock so a woken worker does not block on it at
         * once. The condition variables live as long as the executor. */
        while (k > 0)
            pthread_cond_signal(to_signal[--k]);
    }
}

void
wse__wake_all_locked(struct wse_executor *ex)
{
    struct wse_park *p = &ex->park;
    struct wse_worker *w;

    while (p->n_parked > 0) {
        w = &ex->workers[p->sleepers[p->n_parked - 1]];
        stack_remove(ex, w);
        w->notified = true;
        pthread_cond_signal(&w->wake);
    }
}

void
wse__wake_all(struct wse_executor *ex)
{
    wse__lock(&ex->park.mutex);
    wse__wake_all_locked(ex);
    wse__unlock(&ex->park.mutex);
}

void
wse__wake_worker(struct wse_worker *w)
{
    struct wse_park *p = &w->ex->park;

    /* The latch's tripped flag is set before this; the worker reads it under the
     * mutex before each sleep, so taking the mutex here and signalling cannot
     * fall between its check and its sleep. */
    wse__lock(&p->mutex);
    if (w->parked)
        pthread_cond_signal(&w->wake);
    wse__unlock(&p->mutex);
}

void
wse__wait_quiet(struct wse_executor *ex)
{
    struct wse_park *p = &ex->park;

    wse__lock(&p->mutex);
    while (!p->terminated)
        wse__cond_wait(&p->quiet, &p->mutex, NULL);
    wse__unlock(&p->mutex);
}

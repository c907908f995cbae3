/*
 * The injection queue: tasks submitted by threads that are not workers of the
 * executor. A mutex-protected intrusive FIFO through wse_future.next (no
 * allocation: the future is the queue node), plus an atomic length that workers
 * read without the lock to skip an empty queue.
 *
 * The length is the "publish" half of the no-lost-wake-up protocol (park.c): a
 * submitter stores the new length, issues a full fence, then reads the sleeper
 * count; a parking worker stores the sleeper count, issues a full fence, then
 * reads the length (wse__inject_nonempty()).
 *
 * Closing (shutdown) happens under the same mutex as pushing, so a submission
 * either lands before the close (and is run or cancelled by the shutdown) or
 * fails with ESHUTDOWN: nothing is stranded in a queue nobody drains. The later
 * chunks of a big batch accepted before a close are pushed after it
 * (wse__inject_push_accepted()); a park hold keeps the executor from
 * terminating until they are, and a cancelling close makes them come back for
 * their submitter to cancel.
 */
#include "inject.h"

#include <errno.h>

#include "sync.h"

int
wse__inject_init(struct wse__inject *q)
{
    int rc = pthread_mutex_init(&q->mutex, NULL);

    if (rc != 0)
        return rc;
    q->head = NULL;
    q->tail = NULL;
    q->closed = 0;
    q->cancelled = 0;
    q->length = 0;
    return 0;
}

void
wse__inject_destroy(struct wse__inject *q)
{
    pthread_mutex_destroy(&q->mutex);
}

/* Under q->mutex: append the chain first..last of n futures. */
static void
append_locked(struct wse__inject *q, wse_future *first, wse_future *last, int64_t n)
{
    last->next = NULL;
    if (q->tail != NULL)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    /* relaxed: written under the mutex; lock-free readers pair through the
     * full fences of the park protocol (see the file comment). */
    wse__atomic_store_i64_relaxed(&q->length, wse__atomic_load_i64_relaxed(&q->length) + n);
}

int
wse__inject_push(struct wse__inject *q, wse_future *first, wse_future *last, int64_t n,
                 wse_future *out[])
{
    wse_future *f;
    int64_t i = 0;

    wse__sync_lock(&q->mutex);
    if (q->closed) {
        wse__sync_unlock(&q->mutex);
        return ESHUTDOWN;
    }
    /* Record the chain while we own it: once it is queued, workers may pop (and
     * relink) its futures. */
    if (out != NULL) {
        for (f = first; i < n; f = f->next)
            out[i++] = f;
    }
    append_locked(q, first, last, n);
    wse__sync_unlock(&q->mutex);
    return 0;
}

void
wse__inject_push_always(struct wse__inject *q, wse_future *f)
{
    wse__sync_lock(&q->mutex);
    append_locked(q, f, f, 1);
    wse__sync_unlock(&q->mutex);
}

bool
wse__inject_push_accepted(struct wse__inject *q, wse_future *first, wse_future *last, int64_t n)
{
    bool ok;

    wse__sync_lock(&q->mutex);
    ok = !q->cancelled;
    if (ok)
        append_locked(q, first, last, n);
    wse__sync_unlock(&q->mutex);
    return ok;
}

/* Under q->mutex: unlink the head (not NULL). */
static wse_future *
take_head(struct wse__inject *q)
{
    wse_future *f = q->head;

    q->head = f->next;
    if (q->head == NULL)
        q->tail = NULL;
    f->next = NULL;
    return f;
}

/*
 * Go's globrunqget: a worker takes its share of the queue (length / ways, read
 * under the mutex, at most `max`, which the caller bounds by the room left in
 * its deque, so the pushes never allocate and never fail). The moved tasks go to the bottom of its
 * deque, where it pops them without a lock and idle workers steal them. They
 * stay visible throughout: pushed before the length drops.
 */
wse_future *
wse__inject_pop(struct wse__inject *q, struct wse__deque *dq, int64_t max, unsigned ways)
{
    wse_future *f;
    int64_t len;
    int64_t k;

    wse__sync_lock(&q->mutex);
    f = q->head;
    if (f != NULL) {
        /* relaxed: under the mutex, see wse__inject_push(). */
        len = wse__atomic_load_i64_relaxed(&q->length);
        if (max > len / (int64_t)ways)
            max = len / (int64_t)ways;
        f = take_head(q);
        for (k = 0; dq != NULL && k < max && q->head != NULL; k++)
            (void)wse__deque_push(dq, take_head(q));
        /* relaxed: under the mutex, see wse__inject_push(). */
        wse__atomic_store_i64_relaxed(&q->length, len - 1 - k);
    }
    wse__sync_unlock(&q->mutex);
    return f;
}

wse_future *
wse__inject_close(struct wse__inject *q, bool take_all)
{
    wse_future *chain = NULL;

    wse__sync_lock(&q->mutex);
    q->closed = 1;
    if (take_all) {
        q->cancelled = 1;
        chain = q->head;
        q->head = NULL;
        q->tail = NULL;
        /* relaxed: under the mutex. */
        wse__atomic_store_i64_relaxed(&q->length, 0);
    }
    wse__sync_unlock(&q->mutex);
    return chain;
}

bool
wse__inject_nonempty(struct wse__inject *q)
{
    /* relaxed: a hint; ordered against the sleeper count by the callers' full
     * fences (park.c), and a pop rechecks under the mutex. */
    return wse__atomic_load_i64_relaxed(&q->length) > 0;
}

bool
wse__inject_contains(struct wse__inject *q, const wse_future *f, int64_t max)
{
    const wse_future *it;
    bool found = false;

    if (!wse__inject_nonempty(q))
        return false;
    wse__sync_lock(&q->mutex);
    for (it = q->head; it != NULL && max > 0 && !found; it = it->next, max--)
        found = it == f;
    wse__sync_unlock(&q->mutex);
    return found;
}

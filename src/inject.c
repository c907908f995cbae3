/*
 * The injection queue: tasks submitted by threads that are not workers of the
 * executor, taken by workers in submission order.
 *
 * Order. A task from outside never starts while one queued before it still
 * waits here: takers take one future at a time, always the oldest. The queue
 * has two parts. The front is a bounded ring of WSE__INJECT_FRONT slots,
 * filled only under the mutex and taken from lock-free, oldest first (below).
 * The list is a
 * mutex-protected intrusive FIFO through wse_future.next (no allocation: the
 * future is the node). Invariant: every future in the front was queued before
 * every future in the list. It holds because
 *   - a push goes to the front only while the list is empty (then its futures
 *     are the newest in the front and there is nothing newer), else to the
 *     list's tail;
 *   - futures move from the list's head to the front's bottom, in order, only
 *     under the mutex;
 *   - a taker takes from the list only under the mutex and only when the front
 *     is empty, as read under the mutex: nobody else adds to the front then,
 *     and steals only shrink it, so "empty" cannot be stale there.
 * A taker thus takes from the front while it holds anything, which is older
 * than the list; when it is empty, the list's head is the oldest. The taker
 * that refills moves up to the front's room at once, so a big batch costs one
 * mutex acquisition per front-full and one CAS per task, not a mutex per task.
 * The front is small on purpose: a refill walks the futures it moves under the
 * mutex (cache misses on futures another thread just wrote), and with 1,024
 * slots the submitter of a big batch waited behind it (flat batch 10-20 %
 * slower); 64 slots cost nothing measurable.
 *
 * The front (D. Vyukov's bounded MPMC queue, with one producer at a time).
 * Slot i of position p (p & mask) has a sequence number: p when it is free for
 * the push of position p, p + 1 when it holds that push's future, p + size
 * once the future was taken (free for the push one lap later). A push (under
 * the mutex) checks seq == tail, stores the future, then seq = tail + 1
 * (release), then tail + 1 (release). A take reads head, then the slot's seq
 * (acquire: the future is visible after it): seq == head + 1 means full, and a
 * CAS of head to head + 1 makes the future the taker's, which reads it and
 * frees the slot (seq = head + size, release: pairs with the push's acquire of
 * seq, so the slot is not overwritten before it was read); seq < head + 1 means
 * empty; anything else means head was stale, so it reads head again. A take
 * touches two cache lines (head, and the slot's), against four for a
 * work-stealing deque's steal plus its full fence.
 * (Before, a worker moved a share into its own deque and popped it LIFO: a
 * worker that then blocked in a long task stranded older tasks behind newer
 * ones taken by others.)
 *
 * Emptiness. `length` counts the futures in the list; the front holds
 * tail - head. wse__inject_nonempty() reads length, then tail, then head. They
 * are the "publish" half of the no-lost-wake-up protocol (park.c): a submitter
 * stores the front's tail or the new length, issues a full fence, then reads
 * the sleeper count; a parking worker stores the sleeper count, issues a full
 * fence, then reads them. A stale head only makes the front look fuller. A
 * refill pushes to the front before it lowers length (release), and a reader
 * loads length (acquire) before the front, so a reader that sees the lower
 * length sees the front's new tail: futures in transit are never invisible to
 * both reads.
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

#define FRONT_MASK ((int64_t)WSE__INJECT_FRONT - 1)

int
wse__inject_init(struct wse__inject *q)
{
    int rc = pthread_mutex_init(&q->mutex, NULL);
    int64_t i;

    if (rc != 0)
        return rc;
    wse__atomic_init_i64(&q->front_head, 0);
    wse__atomic_init_i64(&q->front_tail, 0);
    for (i = 0; i < WSE__INJECT_FRONT; i++) {
        wse__atomic_init_u64(&q->cells[i].seq, (uint64_t)i);
        wse__atomic_init_ptr(&q->cells[i].f, NULL);
    }
    q->head = NULL;
    q->tail = NULL;
    q->closed = 0;
    q->cancelled = 0;
    wse__atomic_init_i64(&q->length, 0);
    return 0;
}

void
wse__inject_destroy(struct wse__inject *q)
{
    pthread_mutex_destroy(&q->mutex);
}

/* Under q->mutex: put f in the front's next slot. False if that slot is not
 * free yet (the front is full, or its taker has not read it yet). */
static bool
front_push_locked(struct wse__inject *q, wse_future *f)
{
    /* relaxed: tail is written only under the mutex. */
    int64_t pos = wse__atomic_load_i64_relaxed(&q->front_tail);
    struct wse__inject_cell *c = &q->cells[pos & FRONT_MASK];

    /* acquire: pairs with the release in front_take(): its taker has read the
     * slot's future before we overwrite it. */
    if (wse__atomic_load_u64_acquire(&c->seq) != (uint64_t)pos)
        return false;
    wse__atomic_store_ptr_relaxed(&c->f, f);
    /* release: the future (and everything written to it) before the slot is
     * marked full; pairs with the acquire in front_take(). */
    wse__atomic_store_u64_release(&c->seq, (uint64_t)pos + 1);
    /* release: pairs with the acquire in wse__inject_nonempty(). */
    wse__atomic_store_i64_release(&q->front_tail, pos + 1);
    return true;
}

/* Any thread: take the front's oldest future, or NULL if it is empty. */
static wse_future *
front_take(struct wse__inject *q)
{
    /* relaxed: a guess; the slot's seq tells whether it is current. */
    int64_t pos = wse__atomic_load_i64_relaxed(&q->front_head);
    struct wse__inject_cell *c;
    int64_t d;
    wse_future *f;

    for (;;) {
        c = &q->cells[pos & FRONT_MASK];
        /* acquire: pairs with the release in front_push_locked(). */
        d = (int64_t)(wse__atomic_load_u64_acquire(&c->seq) - (uint64_t)(pos + 1));
        if (d == 0) {
            /* acq_rel: decides between takers; on failure pos is head now. */
            if (wse__atomic_cas_i64_acq_rel(&q->front_head, &pos, pos + 1)) {
                f = wse__atomic_load_ptr_relaxed(&c->f);
                /* release: the read above before the slot is free again;
                 * pairs with the acquire in front_push_locked(). */
                wse__atomic_store_u64_release(&c->seq, (uint64_t)(pos + WSE__INJECT_FRONT));
                return f;
            }
        } else if (d < 0) {
            return NULL;
        } else {
            /* Taken already: head moved on. relaxed: as above. */
            pos = wse__atomic_load_i64_relaxed(&q->front_head);
        }
    }
}

/* Any thread: might the front hold a future? (tail before head: a stale head
 * only overstates it.) */
static bool
front_nonempty(const struct wse__inject *q)
{
    /* acquire: pairs with the release store of tail in front_push_locked(). */
    int64_t t = wse__atomic_load_i64_acquire(&q->front_tail);

    /* relaxed: a hint. */
    return t > wse__atomic_load_i64_relaxed(&q->front_head);
}

/* Under q->mutex: set the list's length (release: pairs with the acquire load
 * in wse__inject_nonempty() and wse__inject_pop(); after a refill, the front's
 * new bottom is visible to a reader that sees the lower length). */
static void
set_length_locked(struct wse__inject *q, int64_t len)
{
    wse__atomic_store_i64_release(&q->length, len);
}

/* Under q->mutex: the list's length (relaxed: only mutex holders write it). */
static int64_t
length_locked(const struct wse__inject *q)
{
    return wse__atomic_load_i64_relaxed(&q->length);
}

/* Under q->mutex: queue the chain first..last of n futures (linked through
 * next): into the front while the list is empty and the front has room, the
 * rest at the list's tail. */
static void
append_locked(struct wse__inject *q, wse_future *first, wse_future *last, int64_t n)
{
    wse_future *next;

    if (q->head == NULL) {
        for (; n > 0; n--) {
            next = first->next;
            first->next = NULL;
            if (!front_push_locked(q, first)) {
                first->next = next;
                break;
            }
            first = next;
        }
        if (n == 0)
            return;
    }
    last->next = NULL;
    if (q->tail != NULL)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    set_length_locked(q, length_locked(q) + n);
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

/* Under q->mutex, the front empty: move the oldest futures of the list to the
 * front, as many as fit. Pushed before the length drops (see the file comment). */
static void
refill_locked(struct wse__inject *q)
{
    wse_future *f;
    int64_t k = 0;

    /* Unlink before pushing: once in the front, the future is a taker's, who
     * may run and free it before we could read its link. */
    while (q->head != NULL) {
        f = take_head(q);
        if (!front_push_locked(q, f)) {
            /* No room: back at the head (the list is ours under the mutex). */
            f->next = q->head;
            if (q->head == NULL)
                q->tail = f;
            q->head = f;
            break;
        }
        k++;
    }
    if (k > 0)
        set_length_locked(q, length_locked(q) - k);
}

wse_future *
wse__inject_pop(struct wse__inject *q)
{
    wse_future *f;

    for (;;) {
        f = front_take(q);
        if (f != NULL)
            return f;
        /* acquire: pairs with set_length_locked(). */
        if (wse__atomic_load_i64_acquire(&q->length) == 0)
            return NULL;
        wse__sync_lock(&q->mutex);
        /* Exact here: only a mutex holder fills the front, and our own take
         * above read a head at least as new as any we read now. */
        if (front_nonempty(q)) {
            /* Another taker refilled it meanwhile: those are older than the list. */
            wse__sync_unlock(&q->mutex);
            continue;
        }
        f = q->head;
        if (f != NULL) {
            (void)take_head(q);
            set_length_locked(q, length_locked(q) - 1);
            refill_locked(q);
        }
        wse__sync_unlock(&q->mutex);
        return f;
    }
}

wse_future *
wse__inject_close(struct wse__inject *q, bool take_all)
{
    wse_future *first = NULL;
    wse_future *last = NULL;
    wse_future *f;

    wse__sync_lock(&q->mutex);
    q->closed = 1;
    if (take_all) {
        q->cancelled = 1;
        /* The front first (the oldest), racing takers for each entry; then the
         * list behind it. */
        while ((f = front_take(q)) != NULL) {
            f->next = NULL;
            if (last != NULL)
                last->next = f;
            else
                first = f;
            last = f;
        }
        if (last != NULL)
            last->next = q->head;
        else
            first = q->head;
        q->head = NULL;
        q->tail = NULL;
        set_length_locked(q, 0);
    }
    wse__sync_unlock(&q->mutex);
    return first;
}

bool
wse__inject_nonempty(struct wse__inject *q)
{
    /* acquire: pairs with set_length_locked(): a reader that sees a refill's
     * lower length sees the front it filled. Ordered against the sleeper count
     * by the callers' full fences (park.c); a pop rechecks. */
    return wse__atomic_load_i64_acquire(&q->length) > 0 || front_nonempty(q);
}

bool
wse__inject_contains(struct wse__inject *q, const wse_future *f, int64_t max)
{
    const wse_future *it;
    bool found;
    int64_t pos;
    int64_t end;

    /* acquire, relaxed: as in front_nonempty(); entries are compared as
     * pointers, never dereferenced, and a slot reused meanwhile holds a
     * future queued since (a hint either way). */
    end = wse__atomic_load_i64_acquire(&q->front_tail);
    pos = wse__atomic_load_i64_relaxed(&q->front_head);
    if (end - pos > WSE__INJECT_FRONT)
        pos = end - WSE__INJECT_FRONT;
    for (; pos < end; pos++) {
        if (wse__atomic_load_ptr_relaxed(&q->cells[pos & FRONT_MASK].f) == f)
            return true;
    }
    /* acquire: as in wse__inject_nonempty(). */
    if (wse__atomic_load_i64_acquire(&q->length) == 0)
        return false;
    found = false;
    wse__sync_lock(&q->mutex);
    for (it = q->head; it != NULL && max > 0 && !found; it = it->next, max--)
        found = it == f;
    wse__sync_unlock(&q->mutex);
    return found;
}

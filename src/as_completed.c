/*
 * wse_as_completed_*(): hand back each entry of a set of futures once, as it
 * completes.
 *
 * The iterator is one allocation: n immediate nodes (one per entry, linked on its
 * future) and a completion queue of n slots. Each entry enters the queue exactly
 * once, so the queue never wraps: `tail` counts entries enqueued, `head` those
 * handed back, and slot i holds the index of the i-th entry to complete (EMPTY
 * until written). Entries already done at create are enqueued first, in input
 * order, before any node is linked.
 *
 * Completing thread (the node's function, under the future's lock): take a slot
 * with a fetch-and-add on tail, store the index with release, then, under the
 * iterator's mutex, trip the latch of the thread waiting in next(), if any.
 * Waiting thread (next()): under the same mutex, look at slot head; if it is
 * still EMPTY, publish its latch (on its stack) as `waiting`, release the mutex
 * and block on the latch (a worker helps, a plain thread sleeps); then clear
 * `waiting` under the mutex, after which no completer can reach that latch. The
 * slot store comes before the completer takes the mutex and the check is under
 * it, so either the waiter sees the slot or the completer sees `waiting`: no
 * lost wake-up. O(1) per completion, no polling, no allocation after create.
 *
 * A slot taken but not yet written (a completer between its fetch-and-add and
 * its store) looks EMPTY; its completer then finds `waiting` and trips it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "wsexec.h"

#include "alloc.h"
#include "clock.h"
#include "future.h"
#include "latch.h"
#include "sync.h"
#include "wait.h"

#define EMPTY SIZE_MAX

/* Slot values are size_t entry indices held in 64-bit atomics. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "size_t is 64 bits");

struct ac_node {
    struct wse__node node;
    struct wse_as_completed *it;
    wse_future *future;
    size_t index;
    bool linked; /* linked by create (owner only) */
};

struct wse_as_completed {
    size_t n;
    size_t head;            /* next slot to hand back (owner only) */
    wse__atomic_u64 tail;   /* slots taken */
    wse__atomic_u64 *slots; /* n, each EMPTY or an entry index */
    struct wse__deadline deadline;
    bool tasks;                 /* some future is a task, not a promise (fixed) */
    pthread_mutex_t mutex;      /* guards waiting; order: under a future's bit lock,
                                   before a latch's mutex or park.mutex */
    struct wse__latch *waiting; /* the blocked next()'s latch, or NULL */
    struct ac_node nodes[];
};

/* Enqueue entry `index`: under its future's lock (a node) or at create. */
static void
enqueue(struct wse_as_completed *it, size_t index, wse_state s)
{
    size_t slot;

    /* acq_rel: each completer takes a distinct slot (the order is only needed
     * for the count itself); the store below publishes the entry. */
    slot = (size_t)wse__atomic_faa_u64_acq_rel(&it->tail, 1);
    /* release: pairs with the acquire load in wse_as_completed_next(). */
    wse__atomic_store_u64_release(&it->slots[slot], (uint64_t)index);
    wse__sync_lock(&it->mutex);
    if (it->waiting != NULL) {
        wse__latch_notify(it->waiting, s, NULL);
        it->waiting = NULL;
    }
    wse__sync_unlock(&it->mutex);
}

static void
node_done(struct wse__node *n, wse_future *f, wse_state s)
{
    struct ac_node *a = (struct ac_node *)n;

    (void)f;
    enqueue(a->it, a->index, s);
}

int
wse_as_completed_create(wse_as_completed **out, wse_future *const futures[], size_t n,
                        double timeout_s)
{
    struct wse_as_completed *it;
    struct wse__deadline deadline;
    size_t size;
    size_t i;
    int rc;

    if (out == NULL || futures == NULL || n == 0)
        return EINVAL;
    for (i = 0; i < n; i++) {
        if (futures[i] == NULL)
            return EINVAL;
    }
    if (wse__clock_deadline_in(timeout_s, &deadline) != 0)
        return EINVAL;
    if (n > (SIZE_MAX - sizeof(*it)) / (sizeof(it->nodes[0]) + sizeof(size_t)))
        return ENOMEM;
    size = sizeof(*it) + n * sizeof(it->nodes[0]);
    it = wse__alloc(size + n * sizeof(size_t));
    if (it == NULL)
        return ENOMEM;
    memset(it, 0, sizeof(*it));
    rc = pthread_mutex_init(&it->mutex, NULL);
    if (rc != 0) {
        wse__alloc_free(it);
        return rc;
    }
    it->n = n;
    it->deadline = deadline;
    it->slots = (wse__atomic_u64 *)(void *)((char *)it + size);
    for (i = 0; i < n; i++) {
        wse__atomic_init_u64(&it->slots[i], EMPTY);
        it->nodes[i] =
            (struct ac_node){.it = it, .future = wse_future_retain(futures[i]), .index = i};
        it->nodes[i].node.fn = node_done;
        it->tasks = it->tasks || !wse__future_is_promise(futures[i]);
    }
    /* First what is done now, in input order; then link the rest (a future that
     * completes meanwhile is enqueued by its completer, or here if the link
     * finds it done). */
    for (i = 0; i < n; i++) {
        if (wse__future_state_done(wse__future_state_acquire(it->nodes[i].future)))
            enqueue(it, i, WSE_DONE);
        else
            it->nodes[i].linked = true;
    }
    for (i = 0; i < n; i++) {
        if (it->nodes[i].linked && !wse__future_link(it->nodes[i].future, &it->nodes[i].node)) {
            it->nodes[i].linked = false;
            enqueue(it, i, WSE_DONE);
        }
    }
    *out = it;
    return 0;
}

/* The entry in the next slot, or EMPTY. */
static size_t
peek(const struct wse_as_completed *it)
{
    /* acquire: pairs with the release store in enqueue(). */
    return (size_t)wse__atomic_load_u64_acquire(&it->slots[it->head]);
}

int
wse_as_completed_next(wse_as_completed *it, wse_future **f, size_t *index)
{
    struct wse__latch latch;
    size_t i;
    int rc;

    if (it == NULL)
        return EINVAL;
    if (it->head == it->n)
        return ENOENT;
    for (;;) {
        i = peek(it);
        if (i != EMPTY)
            break;
        if (wse__clock_deadline_passed(&it->deadline))
            return ETIMEDOUT;
        rc = wse__wait_latch_init(&latch, WSE_FIRST_COMPLETED, 1);
        if (rc != 0)
            return rc;
        wse__sync_lock(&it->mutex);
        i = peek(it);
        if (i == EMPTY)
            it->waiting = &latch;
        wse__sync_unlock(&it->mutex);
        if (i == EMPTY) {
            wse__wait_latch_block(&latch, &it->deadline, it->tasks);
            wse__sync_lock(&it->mutex);
            it->waiting = NULL;
            wse__sync_unlock(&it->mutex);
        }
        wse__wait_latch_destroy(&latch);
    }
    it->head++;
    if (f != NULL)
        *f = it->nodes[i].future;
    if (index != NULL)
        *index = i;
    return 0;
}

void
wse_as_completed_destroy(wse_as_completed *it)
{
    size_t i;

    if (it == NULL)
        return;
    /* After each unlink no completer touches that node; the ones that fired
     * took the mutex, which we take last. */
    for (i = 0; i < it->n; i++) {
        if (it->nodes[i].linked)
            (void)wse__future_unlink(it->nodes[i].future, &it->nodes[i].node);
    }
    wse__sync_lock(&it->mutex);
    wse__sync_unlock(&it->mutex);
    for (i = 0; i < it->n; i++)
        wse_future_release(it->nodes[i].future);
    pthread_mutex_destroy(&it->mutex);
    wse__alloc_free(it);
}

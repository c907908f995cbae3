/*
 * Futures: the state machine, the node list and the reference count.
 *
 * The word (f->word, see future.h): wse_state in the low 3 bits, WSE__F_LOCK,
 * WSE__F_WAITERS and WSE__F_CALLBACKS above, the reference count in the high
 * half. Every change of the state is a CAS, and the state only moves forward:
 *
 *     PENDING --start--> RUNNING --finish--> DONE | FAILED
 *     PENDING --cancel-> CANCELLED
 *
 * Exactly one of start and cancel wins on a PENDING future (both CAS from
 * PENDING). A completing CAS (to DONE, FAILED or CANCELLED) is acq_rel: the value
 * and error written before it are visible to any thread that reads a done state
 * with acquire (wse__future_state_acquire()).
 *
 * Nodes. f->nodes is a circular doubly linked list of nodes (future.h): wait
 * nodes, callbacks, and whatever the layers above link, guarded by the
 * WSE__F_LOCK bit. The lock is never held while user code runs, and a completing
 * CAS never happens while it is held. A completing CAS that sees WSE__F_WAITERS
 * takes WSE__F_LOCK in the same CAS; the completing thread then calls every
 * immediate node under the lock, detaches the deferred ones, releases the lock
 * and runs them. Because linking checks "done?" under the lock, and completion
 * changes the state only when the lock is free, a node is either linked before
 * the completing CAS (and then WSE__F_WAITERS is set and the completer sees it)
 * or its link sees the done state: no lost wake-up, and no fence beyond the CASes
 * themselves. This file calls a node only through its function: it knows no
 * waiter, worker or executor.
 *
 * A future nobody watches completes with a single CAS: no lock, no system call.
 *
 * Lifetime. The high half of f->word counts references: the submitter's `out`
 * holds one and the executor holds one from submission until the task has run
 * or been dropped as cancelled (the worker layer; wse__future_cancel_queued()). A
 * thread completing f always holds a reference, so callbacks may release the
 * last user reference. A worker that finishes a task nobody watches drops the
 * executor's reference in the completing CAS itself
 * (wse__future_finish_release()): one read-modify-write instead of two on the
 * hot path of fork-join. With nodes it keeps the reference until they are done,
 * then drops it apart. A node's owner unlinks it (under WSE__F_LOCK) before the
 * node dies, so a completing thread, which only reaches nodes under the lock,
 * never touches a node after it is gone.
 */
#include "future.h"

#include <errno.h>
#include <string.h>

/* Take WSE__F_LOCK; returns the word as locked. */
static uint64_t
lock_future(wse_future *f)
{
    unsigned spins = 0;
    /* relaxed: a guess for the CAS, which re-reads. */
    uint64_t old = wse__atomic_load_u64_relaxed(&f->word);

    for (;;) {
        if ((old & WSE__F_LOCK) == 0) {
            /* acq_rel: acquire pairs with the release in unlock_future() and in
             * set_low(), so we see the list as the last holder left it. */
            if (wse__atomic_cas_u64_acq_rel(&f->word, &old, old | WSE__F_LOCK))
                return old | WSE__F_LOCK;
            continue;
        }
        wse__atomic_backoff(&spins);
        /* relaxed: re-read for the next CAS attempt. */
        old = wse__atomic_load_u64_relaxed(&f->word);
    }
}

/* Under WSE__F_LOCK: clear the `clear` bits of the word and set `set`, which releases
 * the lock when `clear` includes WSE__F_LOCK. A CAS loop, because other threads may
 * change the reference count in the high half, and start may move PENDING to
 * RUNNING while the lock is held. */
static void
unlock_update(wse_future *f, uint64_t clear, uint64_t set)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&f->word);

    /* acq_rel (release half): our list edits before the lock is free; pairs with
     * the acquiring CAS in lock_future() and in transition(). */
    while (!wse__atomic_cas_u64_acq_rel(&f->word, &old, (old & ~clear) | set))
        ;
}

/* Flags that outlive completion: kept by set_low(). */
#define KEEP_FLAGS (WSE__F_STOP | WSE__F_PROMISE | WSE__F_BLOCK | WSE__F_EMBED | WSE__F_HOOK)

/* With a final state: replace the state and flags by `low` (keeping KEEP_FLAGS),
 * releasing WSE__F_LOCK. */
static void
set_low(wse_future *f, uint32_t low)
{
    unlock_update(f, WSE__F_LOW_MASK & ~(uint64_t)KEEP_FLAGS, low);
}

/* Release WSE__F_LOCK, setting WSE__F_WAITERS to whether the list is non-empty; the state
 * bits are kept as they are. */
static void
unlock_future(wse_future *f)
{
    unlock_update(f, WSE__F_LOCK | WSE__F_WAITERS, f->nodes != NULL ? WSE__F_WAITERS : 0);
}

/* How a transition treats the references and a promise's claim. */
struct move {
    int64_t refs;  /* added to the count in the CAS itself */
    bool drop_ref; /* also drop the caller's, unless it takes the lock */
    bool setter;   /* the promise setter: requires and clears
                                     WSE__F_SETTING (others fail on it) */
};

/*
 * Move f from `from` to `to` by CAS. A completing move waits for WSE__F_LOCK to be
 * free and, if WSE__F_WAITERS is set, takes WSE__F_LOCK in the same CAS;
 * otherwise, if m->drop_ref, it also drops the caller's reference in that CAS.
 * m->refs is applied in the CAS either way. A PENDING future claimed by a promise
 * setter (WSE__F_SETTING) moves only for that setter. Returns false if f was not
 * in `from`; else *after is the word the CAS wrote (WSE__F_LOCK in it: the caller
 * holds the lock and still its reference).
 */
static bool
transition(wse_future *f, wse_state from, wse_state to, const struct move *m, uint64_t *after)
{
    bool completing = wse__future_state_done(to);
    unsigned spins = 0;
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&f->word);
    uint64_t desired;

    for (;;) {
        if ((old & WSE__F_STATE_MASK) != (uint64_t)from)
            return false;
        if (((old & WSE__F_SETTING) != 0) != m->setter)
            return false;
        if (completing && (old & WSE__F_LOCK)) {
            wse__atomic_backoff(&spins);
            old = wse__atomic_load_u64_relaxed(&f->word);
            continue;
        }
        desired = (old & ~(uint64_t)(WSE__F_STATE_MASK | WSE__F_SETTING)) | (uint64_t)to;
        desired += (uint64_t)m->refs * WSE__F_REF;
        if (completing && (old & WSE__F_WAITERS))
            desired |= WSE__F_LOCK;
        else if (m->drop_ref)
            desired -= WSE__F_REF;
        /* acq_rel: release publishes value/error (written before) to readers of
         * the done state, and orders our uses of f before a dropped reference;
         * acquire pairs with unlock_future() so the list is current when we take
         * the lock here, and with other holders' releases before a free. */
        if (wse__atomic_cas_u64_acq_rel(&f->word, &old, desired)) {
            *after = desired;
            return true;
        }
    }
}

/* Run a chain of deferred nodes (linked through next, NULL-terminated) in the
 * order they were linked. Each owns its node from the call on. */
static void
run_deferred(wse_future *f, wse_state to, struct wse__node *n)
{
    struct wse__node *next;

    for (; n != NULL; n = next) {
        next = n->next;
        n->fn(n, f, to);
    }
}

/*
 * After a completing transition that took WSE__F_LOCK: call every immediate node
 * under the lock, detach the deferred ones, release the lock (the list is now
 * empty) and run the deferred nodes in the order they were linked.
 *
 * While they run, the state word carries WSE__F_CALLBACKS: a deferred node linked
 * meanwhile (wse_future_on_done() on a future that is already done) is appended
 * to the list instead of running at once on its caller, and runs here after the
 * earlier ones, so the callbacks of one future always run in the order they were
 * added. The loop ends when the list is found empty under the lock, which also
 * clears WSE__F_CALLBACKS.
 */
static void
complete_locked(wse_future *f, wse_state to)
{
    struct wse__node *head = f->nodes;
    struct wse__node *n = head;
    struct wse__node *def_first = NULL;
    struct wse__node *def_last = NULL;
    struct wse__node *next;

    f->nodes = NULL;
    if (head != NULL) {
        do {
            next = n->next;
            n->linked = 0;
            if (!n->deferred) {
                /* May free n (a detached wait block): next is read already. */
                n->fn(n, f, to);
            } else {
                n->next = NULL;
                if (def_last != NULL)
                    def_last->next = n;
                else
                    def_first = n;
                def_last = n;
            }
            n = next;
        } while (n != head);
    }
    /* The emptied list (and each node's linked = 0) before the lock is free. */
    set_low(f, (uint32_t)to | (def_first != NULL ? WSE__F_CALLBACKS : 0));

    while (def_first != NULL) {
        run_deferred(f, to, def_first);
        def_first = NULL;
        lock_future(f);
        head = f->nodes;
        if (head == NULL) {
            /* Clears WSE__F_LOCK and WSE__F_CALLBACKS together. */
            set_low(f, (uint32_t)to);
            break;
        }
        /* Deferred nodes linked while we ran the previous batch, in order. */
        head->prev->next = NULL;
        def_first = head;
        f->nodes = NULL;
        unlock_future(f);
    }
}

/*
 * complete_locked() for a completion that holds no reference of its own: a
 * cancel or a promise's set. Its nodes may drop the last references (a callback
 * releasing the owner's, a dependent's node releasing the library's), so it
 * keeps one until it is done with f. The lock is held, so f is still alive.
 */
static void
complete_with_ref(wse_future *f, wse_state to)
{
    wse_future_retain(f);
    complete_locked(f, to);
    wse_future_release(f);
}

/*
 * The stop lineage. A future submitted from inside a running task points at that
 * task's future (f->parent), so a stop requested for the task reaches it, and
 * its own children, transitively. The parent must outlive its children's
 * pointers: each live child holds a reference on it, counted without a
 * read-modify-write on the fork-join path:
 *   - start adds LINEAGE_BIAS references in the start CAS itself;
 *   - while the parent runs, its thread counts children made (parent->children,
 *     plain: only the thread running it submits from inside it) and children
 *     freed on that thread while it is the innermost running task (plain);
 *   - finish turns the bias into the children still counted, in the finish CAS;
 *   - a child freed anywhere else drops a real reference on its parent (the
 *     bias keeps the count above zero until finish, whenever that comes).
 * Every child's reference is thus counted exactly once, and a fork-join task
 * (children submitted, waited for and released by their parent) costs no extra
 * read-modify-write.
 */
#define LINEAGE_BIAS ((int64_t)1 << 30)

WSE__TLS struct wse__running *wse__future_running;
WSE__TLS struct wse__hook *wse__hook_local;
WSE__TLS uint64_t wse__hook_local_count;
WSE__TLS bool wse__hook_batching;

/* Incremented by every stop request that reaches a running task; a task's
 * wse_stop_requested() walks its lineage only when it changed. Atomic. */
static wse__atomic_u64 stop_epoch;

wse_future *
wse__future_new(wse_task_fn fn, void *arg, uint32_t refs)
{
    wse_future *f = wse__alloc_small();
    struct wse__running *r = wse__future_running;

    if (f == NULL)
        return NULL;
    memset(f, 0, sizeof(*f));
    wse__atomic_init_u64(&f->word, (uint64_t)refs << WSE__F_REF_SHIFT | WSE_PENDING);
    f->u.fn = fn;
    f->arg = arg;
    /* wse__future_lineage_hold(), written out: the store of parent only when
     * there is one (callgrind: 3 instructions a task less, fork-join fib). */
    if (r != NULL) {
        f->parent = r->future;
        wse__future_children_add(r->future, 1);
    }
    return f;
}

wse_future *
wse__future_new_child(wse_task_fn fn, void *arg, uint32_t refs, wse_future *parent)
{
    wse_future *f = wse__alloc_small();

    if (f == NULL)
        return NULL;
    memset(f, 0, sizeof(*f));
    wse__atomic_init_u64(&f->word, (uint64_t)refs << WSE__F_REF_SHIFT | WSE_PENDING);
    f->u.fn = fn;
    f->arg = arg;
    f->parent = parent;
    return f;
}

void
wse__future_discard(wse_future *f)
{
    wse__future_discard_embedded(f);
    wse__alloc_small_free(f);
}

wse_future *
wse__future_embed(struct wse__embedded *e, wse_task_fn fn, void *arg, uint32_t refs,
                  wse_future *parent, void (*put)(void *owner), void *owner)
{
    wse_future *f = &e->future;

    memset(f, 0, sizeof(*f));
    wse__atomic_init_u64(&f->word, (uint64_t)refs << WSE__F_REF_SHIFT | WSE__F_EMBED | WSE_PENDING);
    f->u.fn = fn;
    f->arg = arg;
    f->parent = parent != NULL ? parent : wse__future_lineage_hold();
    e->put = put;
    e->owner = owner;
    return f;
}

wse_future *
wse__future_embed_promise(struct wse__embedded *e, void (*put)(void *owner), void *owner)
{
    wse_future *f = &e->future;

    memset(f, 0, sizeof(*f));
    /* As wse_promise_create(): no parent, one reference, no value destructor. */
    wse__atomic_init_u64(&f->word, (uint64_t)1 << WSE__F_REF_SHIFT | WSE__F_PROMISE | WSE__F_EMBED |
                                       WSE_PENDING);
    e->put = put;
    e->owner = owner;
    return f;
}

void
wse__future_discard_embedded(wse_future *f)
{
    /* Made by this thread inside the parent, which still runs here, innermost:
     * the count is the parent's plain one. */
    if (f->parent != NULL)
        wse__future_children_add(f->parent, (uint32_t)-1);
}

/*
 * Batch blocks. A block is WSE__BATCH_BLOCK_BYTES aligned to its size, so a
 * future finds its block by masking its address; slot 0 is the header, slots 1
 * .. used hold futures. `live` counts the futures not yet freed; the one that
 * takes it to zero frees the block. `used` and `next` are written before the
 * batch is queued and only read by its submitter afterwards: by
 * wse__batch_make() only before the block's last future is queued, by
 * wse__batch_list() only while the caller holds a reference on its futures.
 */
#define SLOT 64 /* bytes per slot */
struct batch_block {
    wse__atomic_u32 live;
    uint32_t used;            /* futures in this block */
    struct batch_block *next; /* the batch's next block */
};
_Static_assert(sizeof(struct wse_future) <= SLOT, "a future fits a slot");
_Static_assert(sizeof(struct batch_block) <= SLOT, "the header fits slot 0");
_Static_assert(WSE__BATCH_BLOCK_SLOTS == WSE__BATCH_BLOCK_BYTES / SLOT - 1, "slots per block");

static struct batch_block *
block_of(wse_future *f)
{
    /* The offset in its block, taken off the pointer (no integer-to-pointer
     * cast). */
    uintptr_t off = (uintptr_t)f & (uintptr_t)(WSE__BATCH_BLOCK_BYTES - 1);

    return (struct batch_block *)(void *)((char *)f - off);
}

/* Future j of block b (slot 1 + j). */
static wse_future *
block_future(struct batch_block *b, size_t j)
{
    return (wse_future *)(void *)((char *)b + SLOT * (1 + j));
}

static void
free_blocks(struct batch_block *b)
{
    struct batch_block *next;

    for (; b != NULL; b = next) {
        next = b->next;
        wse__alloc_free(b);
    }
}

int
wse__batch_alloc(struct wse__batch *b, wse_task_fn fn, void *const args[], size_t n, uint32_t refs)
{
    struct wse__running *r = wse__future_running;
    struct batch_block *head = NULL;
    struct batch_block **tail = &head;
    struct batch_block *blk;
    size_t left;

    for (left = n; left > 0; left -= blk->used) {
        /* Not zeroed: wse__batch_make() writes every field of each future,
         * and only then is its page first touched (but the header's). */
        blk = wse__alloc_aligned_uninit(WSE__BATCH_BLOCK_BYTES, WSE__BATCH_BLOCK_BYTES);
        if (blk == NULL) {
            *tail = NULL;
            free_blocks(head);
            return ENOMEM;
        }
        blk->used = (uint32_t)(left < WSE__BATCH_BLOCK_SLOTS ? left : WSE__BATCH_BLOCK_SLOTS);
        /* Plain stores: nothing is shared before the first chunk is queued,
         * and the queue's mutex publishes it. */
        wse__atomic_init_u32(&blk->live, blk->used);
        *tail = blk;
        tail = &blk->next;
    }
    *tail = NULL;
    b->head = head;
    b->block = head;
    b->slot = 0;
    b->made = 0;
    b->n = n;
    b->args = args;
    b->fn = fn;
    b->word = (uint64_t)refs << WSE__F_REF_SHIFT | WSE__F_BLOCK | WSE_PENDING;
    b->parent = r != NULL ? r->future : NULL;
    if (b->parent != NULL)
        wse__future_children_add(b->parent, (uint32_t)n); /* as in wse__future_new() */
    return 0;
}

wse_future *
wse__batch_make(struct wse__batch *b, size_t max, wse_future **last, size_t *count)
{
    struct batch_block *blk = b->block;
    wse_future *first = NULL;
    wse_future *prev = NULL;
    wse_future *f;
    size_t k;

    if (max > b->n - b->made)
        max = b->n - b->made;
    for (k = 0; k < max; k++) {
        f = block_future(blk, b->slot++);
        *f = (struct wse_future){
            .u.fn = b->fn,
            .arg = b->args != NULL ? b->args[b->made + k] : NULL,
            .parent = b->parent,
        };
        /* Plain: not shared before the chunk is queued. */
        wse__atomic_init_u64(&f->word, b->word);
        if (prev != NULL)
            prev->next = f;
        else
            first = f;
        prev = f;
        /* Move on as soon as a block is full, before its futures are
         * queued: once they are, they may all be freed, and the block with
         * them (its header must not be read again). */
        if (b->slot == blk->used) {
            blk = blk->next;
            b->slot = 0;
        }
    }
    b->block = blk;
    b->made += max;
    *last = prev;
    *count = max;
    return first;
}

void
wse__batch_list(wse_future *first, size_t count, wse_future *out[])
{
    struct batch_block *blk = block_of(first);
    size_t j = (size_t)((char *)first - (char *)blk) / SLOT - 1;
    size_t i = 0;

    while (i < count) {
        for (; j < blk->used && i < count; j++)
            out[i++] = block_future(blk, j);
        blk = blk->next;
        j = 0;
    }
}

void
wse__batch_free(struct wse__batch *b)
{
    if (b->parent != NULL)
        wse__future_children_add(b->parent, (uint32_t)0 - (uint32_t)b->n);
    free_blocks(b->head);
}

/* Free the memory of f (its last reference is gone). */
static void
dealloc(wse_future *f, uint64_t word)
{
    struct batch_block *b;
    struct wse__embedded *e;

    if (__builtin_expect((word & WSE__F_EMBED) != 0, 0)) {
        e = (struct wse__embedded *)(void *)f;
        e->put(e->owner);
        return;
    }
    if ((word & WSE__F_BLOCK) == 0) {
        wse__alloc_small_free(f);
        return;
    }
    b = block_of(f);
    /* acq_rel: the last of the block's futures frees it; the release half
     * orders this future's uses before that, the acquire half the others'
     * (each came through this same decrement). */
    if (wse__atomic_faa_u32_acq_rel(&b->live, (uint32_t)-1) == 1)
        wse__alloc_free(b);
}

bool
wse__future_start(wse_future *f)
{
    const struct move m = {.refs = LINEAGE_BIAS};
    uint64_t after;

    return transition(f, WSE_PENDING, WSE_RUNNING, &m, &after);
}

/* Drop one reference; true if it was the last (the caller frees). */
static bool
drop_ref(wse_future *f)
{
    /* acq_rel: release orders our uses of f before the decrement; acquire (on the
     * last one) orders the free after every other holder's uses. */
    return (wse__atomic_faa_u64_acq_rel(&f->word, (uint64_t)0 - WSE__F_REF) >> WSE__F_REF_SHIFT) ==
           1;
}

/* Drop a lineage reference on parent: plain if it runs here, innermost (see
 * above), else a real one. Returns parent if that was its last reference (the
 * caller frees it), else NULL. */
static wse_future *
put_parent(wse_future *parent)
{
    struct wse__running *r = wse__future_running;

    if (r != NULL && r->future == parent) {
        wse__future_children_add(parent, (uint32_t)-1);
        return NULL;
    }
    return drop_ref(parent) ? parent : NULL;
}

/* Free f, then drop its reference on its parent, and so on up the lineage: a loop,
 * since a long chain of finished tasks can be freed at once. */
static void
free_future(wse_future *f)
{
    wse_future *parent;
    uint64_t word;
    void *value;

    while (f != NULL) {
        parent = f->parent;
        /* relaxed: the caller's acquire (the last reference) ordered the
         * completion before. A promise owns its value: free it with it. */
        word = wse__atomic_load_u64_relaxed(&f->word);
        if (__builtin_expect((word & WSE__F_PROMISE) != 0, 0) && f->u.free_value != NULL &&
            (word & WSE__F_STATE_MASK) == WSE_DONE &&
            (value = wse__atomic_load_ptr_relaxed(&f->value)) != NULL)
            f->u.free_value(value);
#ifndef NDEBUG
        memset(f, 0xa5, sizeof(*f)); /* poison: a use after release fails loudly */
#endif
        dealloc(f, word);
        f = parent != NULL ? put_parent(parent) : NULL;
    }
}

void
wse__future_lineage_put_slow(wse_future *parent)
{
    if (drop_ref(parent))
        free_future(parent);
}

/* Is the stop flag set on f or an ancestor? */
static bool
lineage_stopped(const wse_future *f)
{
    for (; f != NULL; f = f->parent) {
        /* relaxed: pairs with nothing; a stop seen late is seen at the next
         * poll (wse_stop_requested() orders through stop_epoch). */
        if (wse__atomic_load_u64_relaxed(&f->word) & WSE__F_STOP)
            return true;
    }
    return false;
}

bool
wse__future_stop_reached(const wse_future *f)
{
    /* acquire: pairs with the increment in wse_future_request_stop(), after its
     * flag; zero means no stop was ever requested: nothing to walk. */
    if (wse__atomic_load_u64_acquire(&stop_epoch) == 0)
        return false;
    return lineage_stopped(f);
}

bool
wse_stop_requested(void)
{
    struct wse__running *r = wse__future_running;
    uint64_t epoch;

    if (r == NULL)
        return false;
    /* acquire: pairs with the increment in wse_future_request_stop(): a new
     * epoch means a flag was set before it; walk again. Otherwise the cached
     * answer holds: a few plain loads, no read-modify-write. */
    epoch = wse__atomic_load_u64_acquire(&stop_epoch);
    if (epoch != r->stop_epoch) {
        r->stopped = epoch != 0 && lineage_stopped(r->future);
        r->stop_epoch = epoch;
    }
    return r->stopped;
}

/* The rest of a finish whose CAS found a hook and no nodes, the reference
 * dropped (a scope's child that did not fail), not counted on this thread:
 * start a worker's batch (future.h) or call the hook, then free if it was
 * the last reference. Out of line, as the batch's start: the inlined finish
 * of every task stays as it was. Apart from finish_watched(): it keeps two
 * values across one call, not five. */
static __attribute__((noinline)) void
finish_hooked(wse_future *f, wse_state to, uint64_t after, struct wse__hook *hook)
{
    if (wse__hook_batching && wse__future_running == NULL && hook->drop != NULL) {
        /* A worker between tasks: a new batch (the worker dropped any other
         * before it ran f). */
        wse__hook_local_flush();
        wse__hook_local = hook;
        wse__hook_local_count = 1;
    } else {
        hook->fn(hook, f, to);
    }
    if ((after >> WSE__F_REF_SHIFT) == 0)
        free_future(f);
}

/* The rest of a finish whose CAS found nodes (it took the lock) or a hook:
 * run the nodes, call the hook, then drop the reference the finish held,
 * unless the CAS dropped it already or the hook took it (dropped false). */
static __attribute__((noinline)) void
finish_watched(wse_future *f, wse_state to, uint64_t after, struct wse__hook *hook, bool dropped)
{
    if (after & WSE__F_LOCK)
        complete_locked(f, to);
    if (after & WSE__F_HOOK) {
        hook->fn(hook, f, to);
        if (!dropped)
            return; /* the hook had our reference */
    }
    if (after & WSE__F_LOCK)
        wse_future_release(f);
    else if ((after >> WSE__F_REF_SHIFT) == 0)
        free_future(f);
}

/* wse__future_finish_as_release(), inlined into wse__future_finish_release()
 * (every task's completion). */
static inline __attribute__((always_inline)) void
finish_as_release(wse_future *f, wse_state to, int rc, void *value)
{
    struct move m = {.drop_ref = true};
    /* The hook, if WSE__F_HOOK says there is one (read before value is). */
    /* relaxed: only this thread writes value now (it runs f). */
    struct wse__hook *hook = wse__atomic_load_ptr_relaxed(&f->value);
    uint64_t after;

    /* The start bias becomes the children still pointing at f. */
    m.refs = (int64_t)wse__future_children(f) - LINEAGE_BIAS;
    /* A failure's hook owns the reference this call holds: keep it. relaxed:
     * the flag is fixed (see wse__future_hook()). */
    if (__builtin_expect(to == WSE_FAILED, 0) &&
        (wse__atomic_load_u64_relaxed(&f->word) & WSE__F_HOOK) != 0)
        m.drop_ref = false;
    /* Plain writes: only the running thread writes these, and readers read them
     * only after an acquire load sees the done state set by the CAS below. */
    /* relaxed: a hook's readers compare only (future.h). */
    wse__atomic_store_ptr_relaxed(&f->value, to == WSE_DONE ? value : NULL);
    f->error = rc;
    if (!transition(f, WSE_RUNNING, to, &m, &after)) {
        /* Not reached: only the running thread moves f out of RUNNING. */
        wse_future_release(f);
    } else if (__builtin_expect((after & (WSE__F_LOCK | WSE__F_HOOK)) == 0, 1)) {
        if ((after >> WSE__F_REF_SHIFT) == 0)
            free_future(f);
    } else if ((after & WSE__F_LOCK) == 0 && m.drop_ref) {
        /* A hook, no nodes, not a failure (its hook keeps the reference). */
        if (hook == wse__hook_local) {
            wse__hook_local_count++;
            if ((after >> WSE__F_REF_SHIFT) == 0)
                free_future(f);
        } else {
            finish_hooked(f, to, after, hook);
        }
    } else {
        finish_watched(f, to, after, hook, m.drop_ref);
    }
}

void
wse__future_finish_release(wse_future *f, int rc, void *value)
{
    wse_state to = rc == 0 ? WSE_DONE : WSE_FAILED;

    /* A stopped task that gives up with ECANCELED is cancelled, not failed. */
    if (rc == ECANCELED && lineage_stopped(f))
        to = WSE_CANCELLED;
    finish_as_release(f, to, rc, value);
}

void
wse__future_finish_as_release(wse_future *f, wse_state to, int rc, void *value)
{
    finish_as_release(f, to, rc, value);
}

bool
wse__future_link(wse_future *f, struct wse__node *node)
{
    uint64_t s = lock_future(f);
    struct wse__node *head;

    if (wse__future_state_done((wse_state)(s & WSE__F_STATE_MASK)) &&
        (!node->deferred || (s & WSE__F_CALLBACKS) == 0)) {
        unlock_future(f);
        return false;
    }
    head = f->nodes;
    if (head == NULL) {
        node->next = node;
        node->prev = node;
        f->nodes = node;
    } else {
        node->next = head;
        node->prev = head->prev;
        head->prev->next = node;
        head->prev = node;
    }
    node->linked = 1;
    unlock_future(f);
    return true;
}

bool
wse__future_unlink(wse_future *f, struct wse__node *node)
{
    bool was_linked;

    lock_future(f);
    was_linked = node->linked != 0;
    if (was_linked) {
        if (node->next == node) {
            f->nodes = NULL;
        } else {
            node->prev->next = node->next;
            node->next->prev = node->prev;
            if (f->nodes == node)
                f->nodes = node->next;
        }
        node->linked = 0;
    }
    unlock_future(f);
    return was_linked;
}

void
wse__future_cancel_queued(wse_future *f)
{
    wse_future_cancel(f);
    /* The queue's reference. */
    wse_future_release(f);
}

/* ------------------------------------------------------------------------- */
/* Public API                                                                  */

wse_state
wse_future_state(const wse_future *f)
{
    if (f == NULL)
        return WSE_PENDING;
    return wse__future_state_acquire(f);
}

bool
wse_future_done(const wse_future *f)
{
    return f != NULL && wse__future_state_done(wse__future_state_acquire(f));
}

void *
wse_future_value(const wse_future *f)
{
    if (f == NULL || wse__future_state_acquire(f) != WSE_DONE)
        return NULL;
    /* relaxed: the acquire load of the state above ordered it. */
    return wse__atomic_load_ptr_relaxed(&f->value);
}

int
wse_future_error(const wse_future *f)
{
    if (f == NULL)
        return EINVAL;
    switch (wse__future_state_acquire(f)) {
    case WSE_FAILED:
        return f->error;
    case WSE_CANCELLED:
        return ECANCELED;
    default:
        return 0;
    }
}

/* The hook of a cancelled f: the canceller's reference keeps f alive, and a
 * cancel leaves value (the hook) as it was. */
static void
cancel_hook(wse_future *f)
{
    /* relaxed: stored before f was shared. */
    struct wse__hook *h = wse__atomic_load_ptr_relaxed(&f->value);

    h->fn(h, f, WSE_CANCELLED);
}

bool
wse_future_cancel(wse_future *f)
{
    const struct move m = {0};
    uint64_t after;

    if (f == NULL)
        return false;
    if (!transition(f, WSE_PENDING, WSE_CANCELLED, &m, &after))
        return false;
    if (after & WSE__F_LOCK)
        complete_with_ref(f, WSE_CANCELLED);
    if (__builtin_expect((after & WSE__F_HOOK) != 0, 0))
        cancel_hook(f);
    return true;
}

/* A wse_future_on_done() callback: a deferred node in a small block. */
struct callback_node {
    struct wse__node node;
    void (*cb)(wse_future *, void *);
    void *cb_arg;
};

_Static_assert(sizeof(struct callback_node) <= WSE__ALLOC_SMALL,
               "a callback node is a small block");

static void
callback_run(struct wse__node *n, wse_future *f, wse_state s)
{
    struct callback_node *c = (struct callback_node *)n;

    (void)s;
    c->cb(f, c->cb_arg);
    wse__alloc_small_free(c);
}

int
wse_future_on_done(wse_future *f, void (*cb)(wse_future *, void *), void *arg)
{
    struct callback_node *c;

    if (f == NULL || cb == NULL)
        return EINVAL;
    c = wse__alloc_small();
    if (c == NULL)
        return ENOMEM;
    memset(c, 0, sizeof(*c));
    c->node.fn = callback_run;
    c->node.deferred = 1;
    c->cb = cb;
    c->cb_arg = arg;

    if (!wse__future_link(f, &c->node)) {
        wse__alloc_small_free(c);
        cb(f, arg);
    }
    return 0;
}

wse_future *
wse_future_retain(wse_future *f)
{
    if (f != NULL) {
        /* acq_rel: a reference count; the increment needs no order of its own
         * (the caller already holds a reference), acq_rel keeps it simple. */
        wse__atomic_faa_u64_acq_rel(&f->word, WSE__F_REF);
    }
    return f;
}

void
wse_future_release(wse_future *f)
{
    if (f == NULL)
        return;
    /* acquire: pairs with the release half of every other holder's drop (their
     * CAS or fetch-and-add), so their uses of f happen before the free. If the
     * count says ours is the only reference, nobody else can reach f to take or
     * drop one, and the free needs no read-modify-write: fork-join parents
     * release children that the worker finished a moment ago, so this is the
     * common case. */
    if ((wse__atomic_load_u64_acquire(&f->word) >> WSE__F_REF_SHIFT) == 1) {
        free_future(f);
        return;
    }
    if (drop_ref(f))
        free_future(f);
}

void
wse__future_release_held(wse_future *f)
{
    wse_future *parent;

    if (f == NULL || !drop_ref(f))
        return;
    /* The last reference. No value (not DONE with one: a never-run child),
     * not in a block of its own kind: a plain small block. */
    parent = f->parent;
    wse__alloc_small_free(f);
    if (parent != NULL && drop_ref(parent))
        free_future(parent);
}

/* ------------------------------------------------------------------------- */
/* Cooperative stop                                                            */

bool
wse_future_request_stop(wse_future *f)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old;

    if (f == NULL)
        return false;
    if (wse_future_cancel(f))
        return true; /* it was PENDING: cancelled, never runs */
    old = wse__atomic_load_u64_relaxed(&f->word);
    for (;;) {
        if ((old & WSE__F_STATE_MASK) != WSE_RUNNING) {
            /* Done (or a pending promise being set: as good as done). A pending
             * task cannot be here: the cancel above would have won. */
            return false;
        }
        if (old & WSE__F_STOP)
            break; /* a second request while it still runs */
        /* acq_rel: the flag only moves one way; release pairs with the acquire
         * of stop_epoch below through the increment after it. */
        if (wse__atomic_cas_u64_acq_rel(&f->word, &old, old | WSE__F_STOP))
            break;
    }
    /* acq_rel: after the flag; pairs with the acquire loads of stop_epoch in
     * wse_stop_requested() and wse__future_stop_reached(). */
    wse__atomic_faa_u64_acq_rel(&stop_epoch, 1);
    return true;
}

/* ------------------------------------------------------------------------- */
/* Promises                                                                    */

int
wse_promise_create(wse_future **out, wse_value_free_fn free_value)
{
    wse_future *f;

    if (out == NULL)
        return EINVAL;
    f = wse__alloc_small();
    if (f == NULL)
        return ENOMEM;
    memset(f, 0, sizeof(*f));
    /* A promise belongs to no task and no executor: no parent, one reference. */
    wse__atomic_init_u64(&f->word, (uint64_t)1 << WSE__F_REF_SHIFT | WSE__F_PROMISE | WSE_PENDING);
    f->u.free_value = free_value;
    *out = f;
    return 0;
}

/* Complete promise f with (rc, value): claim it, write, then publish. */
static int
promise_set(wse_future *f, int rc, void *value)
{
    const struct move m = {.setter = true};
    wse_state to = rc == 0 ? WSE_DONE : WSE_FAILED;
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&f->word);
    uint64_t after;

    if ((old & WSE__F_PROMISE) == 0)
        return EINVAL; /* made by a submit */
    /* The claim: exactly one setter moves SETTING from 0 to 1 while PENDING; a
     * cancel fails once it is set. Two setters writing value before one CAS
     * would otherwise race on f->value. */
    for (;;) {
        if ((old & WSE__F_STATE_MASK) != WSE_PENDING || (old & WSE__F_SETTING))
            return EALREADY;
        /* acq_rel: the claim orders our writes below after it. */
        if (wse__atomic_cas_u64_acq_rel(&f->word, &old, old | WSE__F_SETTING))
            break;
    }
    /* Plain writes: we own them after the claim; published by the CAS below. */
    /* relaxed: published by the completing CAS below. */
    wse__atomic_store_ptr_relaxed(&f->value, rc == 0 ? value : NULL);
    f->error = rc;
    if (!transition(f, WSE_PENDING, to, &m, &after))
        return EALREADY; /* not reached: only the claimant moves it */
    if (after & WSE__F_LOCK)
        complete_with_ref(f, to);
    return 0;
}

int
wse_promise_set_value(wse_future *f, void *value)
{
    if (f == NULL)
        return EINVAL;
    return promise_set(f, 0, value);
}

int
wse_promise_set_error(wse_future *f, int error)
{
    if (f == NULL || error == 0)
        return EINVAL;
    return promise_set(f, error, NULL);
}

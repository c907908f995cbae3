/*
 * Futures: the state machine, the list of nodes watching a future, and the
 * reference count (future.c).
 *
 * This layer knows nothing of workers, waits or executors. Whatever must happen
 * when a future completes (wake a waiter, run a callback, queue a dependent task,
 * feed an iterator) is a node on the future's list, and the node says what to
 * do through its function: the completion interface that the layers above plug
 * into (as a kernel wait-queue entry carries its wake function).
 */
#ifndef WSE__FUTURE_H
#define WSE__FUTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "wsexec.h"

#include "alloc.h"
#include "atomic.h"

/*
 * The word of a future: the reference count in the high 32 bits, and in the low
 * bits the wse_state plus flags.
 *   WSE__F_LOCK      a bit lock guarding the node list (f->nodes). Never held
 *                    while user code runs. Its holder runs the immediate nodes,
 *                    which may take an as_completed mutex, a latch's mutex or
 *                    park.mutex (a waiting worker is woken through the park),
 *                    so it can wait behind a parking worker's scan of the
 *                    queues. order: taken under no mutex; those three under it
 *                    (design.md, "Lock order").
 *   WSE__F_WAITERS   the node list is not empty; a completing thread takes the
 *                    slow path only when it is set, so completing a future nobody
 *                    watches is one CAS, no lock, no system call.
 *   WSE__F_CALLBACKS the future is done and its completing thread is still
 *                    running deferred nodes; a deferred node linked meanwhile
 *                    queues behind them (future.c).
 *   WSE__F_STOP      wse_future_request_stop() reached the task while it ran;
 *                    its descendants see it through their parent links.
 *   WSE__F_PROMISE   a promise (fixed at creation).
 *   WSE__F_SETTING   a promise setter won the claim and is writing the value:
 *                    a second setter, or a cancel, loses.
 *   WSE__F_BLOCK     part of a batch block (wse__batch_alloc(); fixed at
 *                    creation): freeing it frees the block once all are freed.
 *   WSE__F_EMBED     lives inside a bigger block of a layer above
 *                    (wse__future_embed(); fixed at creation): freeing it
 *                    tells that layer instead.
 *   WSE__F_HOOK      a task with a completion hook (wse__future_set_hook();
 *                    fixed before it is shared): until it completes, its
 *                    value field holds the hook.
 * Completing transitions (to DONE, FAILED, CANCELLED) never happen while
 * WSE__F_LOCK is held, so a thread holding the lock sees a stable "done or not".
 */
#define WSE__F_STATE_MASK 0x7u
#define WSE__F_LOCK 0x8u
#define WSE__F_WAITERS 0x10u
#define WSE__F_CALLBACKS 0x20u
#define WSE__F_STOP 0x40u           /* a stop was requested while it ran (kept once done) */
#define WSE__F_PROMISE 0x80u        /* a promise: no task; completed by wse_promise_set_* */
#define WSE__F_SETTING 0x100u       /* a promise's setter has claimed it (still PENDING) */
#define WSE__F_BLOCK 0x200u         /* lives in a batch block (fixed at creation) */
#define WSE__F_EMBED 0x400u         /* lives in a block of a layer above (fixed at creation) */
#define WSE__F_HOOK 0x800u          /* value holds a struct wse__hook * until done (fixed) */
#define WSE__F_LOW_MASK 0xffffffffu /* state and flags */
#define WSE__F_REF_SHIFT 32
#define WSE__F_REF ((uint64_t)1 << WSE__F_REF_SHIFT) /* one reference */

struct wse__node;

/*
 * What a node does when its future completes with state s.
 *   An immediate node (deferred == 0) is called under the future's lock, right
 *   after it was unlinked: it must not block, run user code, or touch the
 *   future's list; it may free itself (the caller has read n->next already).
 *   A deferred node is called after the lock is released, on the completing
 *   thread, in the order deferred nodes were linked; it may run user code and
 *   call any wsexec function, and owns the node from then on.
 */
typedef void (*wse__node_fn)(struct wse__node *n, wse_future *f, wse_state s);

struct wse__node {
    struct wse__node *next; /* circular doubly linked list, under WSE__F_LOCK */
    struct wse__node *prev;
    wse__node_fn fn;
    uint8_t deferred; /* see wse__node_fn */
    uint8_t linked;   /* on the list; under WSE__F_LOCK */
};

/*
 * A future, one cache line for a task. Layout (64 bytes on LP64):
 *
 *    0 word       state, flags and references
 *    8 error      set by the completing thread before the completing CAS
 *   12 children   stop lineage: children still pointing at this future as
 *                 their parent (written by its own thread only while it runs;
 *                 see future.c), and the waits-for-its-children mark (below)
 *   16 value      set by the completing thread before the completing CAS
 *   24 nodes      the node list head, under WSE__F_LOCK
 *   32 fn | free_value   a task's function, or a promise's value destructor
 *   40 arg        a task's argument (the user's)
 *   48 next       the injection queue's link, under its mutex
 *   56 parent     the task this one was submitted from (stop lineage), or NULL
 *
 * Per-kind extras that do not fit (a dependent task's counter and the nodes it
 * links on its dependencies, an as_completed iterator's queue) live in a side
 * block of the layer that needs them, which points at the future, never the
 * other way round: the common task future stays one line.
 */
struct wse_future {
    wse__atomic_u64 word;
    int error;
    wse__atomic_u32 children;
    wse__atomic_ptr value; /* void *; atomic only for a hook's readers (below) */
    struct wse__node *nodes;
    union {
        wse_task_fn fn;
        void (*free_value)(void *value);
    } u;
    void *arg;
    wse_future *next;
    wse_future *parent;
};

/*
 * Helping's descendant rule (help.c). While a task runs, its own thread may set
 * WSE__CHILDREN_WAITED in its `children` word, meaning "this task is inside a
 * wait, with no deadline and for all of them, on every child it has", and put
 * the old bit back when that wait returns. Another thread that holds a child of
 * f (so f is alive: parents outlive their children) reads it with
 * wse__future_waits_children(). Only f's own thread writes the word while f
 * runs (the count and the bit), so plain read-modify-writes by that thread,
 * published with release stores, are enough.
 */
#define WSE__CHILDREN_WAITED 0x80000000u
#define WSE__CHILDREN_COUNT 0x7fffffffu

/* f's plain count of children (its own thread, while it runs). */
static inline uint32_t
wse__future_children(const wse_future *f)
{
    /* relaxed: only this thread writes the word while f runs. */
    return wse__atomic_load_u32_relaxed(&f->children) & WSE__CHILDREN_COUNT;
}

/* Add delta (may wrap to subtract) to f's count; its own thread only. The count
 * stays below WSE__CHILDREN_WAITED (a child is counted before it can be
 * uncounted), so the addition leaves the mark bit as it was. */
static inline void
wse__future_children_add(wse_future *f, uint32_t delta)
{
    /* relaxed, both: only this thread writes the word while f runs, and other
     * threads read only the bit, which this store leaves as this thread last
     * set it (with release). */
    wse__atomic_store_u32_relaxed(&f->children, wse__atomic_load_u32_relaxed(&f->children) + delta);
}

/* Mark f, which the calling thread runs; returns whether it was marked. */
static inline bool
wse__future_mark_waits_children(wse_future *f)
{
    /* relaxed: only this thread writes the word while f runs. */
    uint32_t w = wse__atomic_load_u32_relaxed(&f->children);

    /* release: pairs with the acquire load in wse__future_waits_children(); the
     * reader holds a child it took from a queue after this thread pushed it
     * (release/acquire there too), so it never sees a mark older than the
     * child. */
    wse__atomic_store_u32_release(&f->children, w | WSE__CHILDREN_WAITED);
    return (w & WSE__CHILDREN_WAITED) != 0;
}

static inline void
wse__future_unmark_waits_children(wse_future *f, bool was)
{
    /* relaxed: only this thread writes the word while f runs. */
    uint32_t w = wse__atomic_load_u32_relaxed(&f->children);

    /* release: as in wse__future_mark_waits_children(). */
    wse__atomic_store_u32_release(&f->children,
                                  (w & WSE__CHILDREN_COUNT) | (was ? WSE__CHILDREN_WAITED : 0));
}

static inline bool
wse__future_waits_children(const wse_future *f)
{
    /* acquire: pairs with the release stores above. */
    return (wse__atomic_load_u32_acquire(&f->children) & WSE__CHILDREN_WAITED) != 0;
}

_Static_assert(sizeof(struct wse_future) <= WSE__CACHE_LINE, "a future fits one cache line");
_Static_assert(sizeof(struct wse_future) <= WSE__ALLOC_SMALL, "a future is a small block");

/* A new PENDING future for fn(arg) holding `refs` references, or NULL. If the
 * calling thread is running a task, that task becomes the new future's parent
 * (the stop lineage); undo with wse__future_discard() if it is never queued. */
wse_future *wse__future_new(wse_task_fn fn, void *arg, uint32_t refs);

/* A new PENDING future for fn(arg) holding `refs` references, whose stop
 * lineage goes through `parent` (may be NULL) rather than the running task.
 * The caller gives parent one reference for it (dropped when the new future
 * is freed) and does not count it among parent's children. */
wse_future *wse__future_new_child(wse_task_fn fn, void *arg, uint32_t refs, wse_future *parent);

/* Release a future from wse__future_new_child() (never run, not a promise, no
 * block of its own kind), dropping its parent's reference with a
 * read-modify-write when it frees it. wse_future_release() would drop it the
 * plain way on the parent's own thread, counting it as one of the parent's
 * own children, which it never was: the parent's plain count would go below
 * zero. */
void wse__future_release_held(wse_future *f);

/* Free a future from wse__future_new() that was never shared, on the thread and
 * inside the task that made it. */
void wse__future_discard(wse_future *f);

/*
 * A future inside a bigger block that a layer above allocates once for several
 * of them (a loop's descriptor): no allocation of its own. When its last
 * reference goes, the future layer calls put(owner) instead of freeing it; the
 * owner frees the block once every embedded future (and whatever else holds
 * it) has let go. Its lineage: parent, given one reference by the caller and
 * not counted among its children (as wse__future_new_child()); or, with parent
 * NULL, the running task's (as wse__future_new(), undone by
 * wse__future_discard_embedded() if it is never shared).
 */
struct wse__embedded {
    struct wse_future future; /* first: the future is the struct's address */
    void (*put)(void *owner);
    void *owner;
};
wse_future *wse__future_embed(struct wse__embedded *e, wse_task_fn fn, void *arg, uint32_t refs,
                              wse_future *parent, void (*put)(void *owner), void *owner);
void wse__future_discard_embedded(wse_future *f);
/* A promise (as wse_promise_create(), one reference) inside a layer's block:
 * no allocation; put(owner) when its last reference goes. */
wse_future *wse__future_embed_promise(struct wse__embedded *e, void (*put)(void *owner),
                                      void *owner);

/*
 * A completion hook: one pointer that many task futures share (a scope's
 * children), called once for each of them on the thread that completes it,
 * right after its completing transition and its nodes (or counted instead:
 * wse__hook_local below): no lock, no node, no allocation. It sits in the
 * future's value field while the future is PENDING or RUNNING (nobody reads
 * a value before the done state), so a task future stays one cache line. The
 * call may use f only to compare it with others, except when s is WSE_FAILED:
 * then it owns one reference to f (the one the completing queue held), which
 * it keeps or releases.
 */
struct wse__hook {
    void (*fn)(struct wse__hook *h, wse_future *f, wse_state s);
    /* n calls of fn for futures that did not fail, at once (counted ones,
     * below), or NULL: fn must be called for each. Fixed before the hook is
     * given to a future. */
    void (*drop)(struct wse__hook *h, uint64_t n);
    /* wse_future *: a task that waits, with no deadline, until every future
     * with this hook is done (a scope's joiner, while it joins), or NULL. Set
     * and cleared by its own thread; read by helping (wse__future_waiter()). */
    wse__atomic_ptr waiter;
};

/*
 * The hook whose completions this thread counts itself, or NULL, and that
 * count. A future with that hook that completes on this thread in a state
 * other than WSE_FAILED adds one to the count instead of calling the hook;
 * whoever set them drops the count later, as the calls would have. Two
 * setters:
 *   - a scope's joiner, while it runs the scope's children on top of its own
 *     deque (it saves and puts back what was there);
 *   - a worker between tasks (wse__hook_batching): a completion there, of a
 *     future whose hook has `drop`, starts a batch for its hook. The worker
 *     drops the batch (wse__hook_local_flush()) before it runs a task with
 *     another hook, as soon as it finds no task, and before anything that
 *     blocks (a spare's retirement), so a batch only lives while the worker
 *     runs or looks for a child of the same hook (docs/design.md, "Batched
 *     drops").
 * All three are this thread's own: plain reads and writes.
 */
extern WSE__TLS struct wse__hook *wse__hook_local;
extern WSE__TLS uint64_t wse__hook_local_count;
extern WSE__TLS bool wse__hook_batching;

/* Drop this thread's batch, if any (a worker between tasks). */
static inline void
wse__hook_local_flush(void)
{
    struct wse__hook *h = wse__hook_local;
    uint64_t n = wse__hook_local_count;

    wse__hook_local = NULL;
    wse__hook_local_count = 0;
    if (n != 0)
        h->drop(h, n); /* h may be gone after this */
}

/* Give f, new and not shared yet, the hook h. */
static inline void
wse__future_set_hook(wse_future *f, struct wse__hook *h)
{
    /* relaxed: f is not shared yet; its publication orders both. */
    wse__atomic_init_u64(&f->word, wse__atomic_load_u64_relaxed(&f->word) | WSE__F_HOOK);
    wse__atomic_init_ptr(&f->value, h);
}

/*
 * f's hook if it has one, else NULL. For f not done: a task taken from a queue,
 * one running, or one a held task waits on. Once f is done the answer may be
 * its value instead (a completing thread overwrites the field): a caller
 * compares it with a hook it knows, and a task's result is never the address
 * of a hook inside the library's own blocks.
 */
static inline struct wse__hook *
wse__future_hook(const wse_future *f)
{
    /* relaxed: the flag is fixed before f is shared (publication orders it);
     * the hook was stored before f was published too. */
    if ((wse__atomic_load_u64_relaxed(&f->word) & WSE__F_HOOK) == 0)
        return NULL;
    return wse__atomic_load_ptr_relaxed(&f->value);
}

/*
 * Who waits on f, f not done and held (directly, or through a chain of such
 * answers from a held task): a task that waits, with no deadline, until f is
 * done; or NULL if none is known. That is f's hook's waiter, else f's parent
 * if it is marked as waiting on every child it has (the descendant mark
 * above). The answer lives as long as f is not done: it cannot end its wait
 * before.
 */
static inline wse_future *
wse__future_waiter(const wse_future *f)
{
    struct wse__hook *h = wse__future_hook(f);
    wse_future *w;

    if (h != NULL) {
        /* acquire: pairs with the release store of the joiner (scope.c). */
        w = wse__atomic_load_ptr_acquire(&h->waiter);
        if (w != NULL)
            return w;
    }
    w = f->parent;
    return w != NULL && wse__future_waits_children(w) ? w : NULL;
}

/* Dropping a lineage reference the real way (wse__future_lineage_put() below,
 * when the parent does not run here). */
void wse__future_lineage_put_slow(wse_future *parent);

/*
 * Big batches. Their futures live in blocks of up to WSE__BATCH_BLOCK_SLOTS
 * contiguous futures: one allocation per block, no per-task malloc. A block is
 * freed when the last of its futures is, so a few futures kept long keep their
 * whole block (WSE__BATCH_BLOCK_BYTES) alive: the submit layer uses blocks for
 * big batches only (WSE__BATCH_BLOCK_MIN).
 *
 * wse__batch_alloc() takes the memory for n tasks fn(args[i]) (args may be
 * NULL: every arg NULL), each future to hold `refs` references, and counts
 * them as children of the running task, as wse__future_new() does; ENOMEM
 * leaves nothing allocated. The futures themselves are made later, chunk by
 * chunk (wse__batch_make()), so that most of the memory is first touched while
 * workers already run the earlier chunks. wse__batch_free() undoes it all,
 * before any future was shared.
 */
#define WSE__BATCH_BLOCK_BYTES 32768u
#define WSE__BATCH_BLOCK_SLOTS (WSE__BATCH_BLOCK_BYTES / 64u - 1u)
#define WSE__BATCH_BLOCK_MIN 256u
struct wse__batch {
    void *head;    /* the first block */
    void *block;   /* the block of the next future to make */
    uint32_t slot; /* its slot there */
    size_t made;   /* futures made so far */
    size_t n;
    void *const *args; /* NULL: every arg NULL */
    wse_task_fn fn;
    uint64_t word; /* the initial state word */
    wse_future *parent;
};
int wse__batch_alloc(struct wse__batch *b, wse_task_fn fn, void *const args[], size_t n,
                     uint32_t refs);
/* Make the next up to max futures (at least 1 must remain), linked through
 * next in order: returns the first, sets *last and *count. */
wse_future *wse__batch_make(struct wse__batch *b, size_t max, wse_future **last, size_t *count);
/* The count futures from `first` on (made by one wse__batch_make()), in order,
 * into out: computed from the blocks, no future is read. The caller still holds
 * a reference on each, so no block can be freed meanwhile. */
void wse__batch_list(wse_future *first, size_t count, wse_future *out[]);
/* Free a batch none of whose futures was shared. */
void wse__batch_free(struct wse__batch *b);

/*
 * The chain of tasks the calling thread is running, innermost first: for EDEADLK
 * detection (the wait layer) and the stop lineage. The worker layer pushes an
 * entry around each task it runs (on its stack).
 */
struct wse__running {
    wse_future *future;
    struct wse__running *outer;
    uint64_t stop_epoch; /* wse_stop_requested()'s cache: the epoch ... */
    bool stopped;        /* ... and what the lineage said then */
};
extern WSE__TLS struct wse__running *wse__future_running;

/* Enter and leave the task of f on the calling thread (r on its stack). */
static inline void
wse__future_enter(struct wse__running *r, wse_future *f)
{
    r->future = f;
    r->outer = wse__future_running;
    r->stop_epoch = UINT64_MAX; /* no cached answer yet */
    r->stopped = false;
    wse__future_running = r;
}

static inline void
wse__future_leave(struct wse__running *r)
{
    wse__future_running = r->outer;
}

/*
 * The stop lineage: the running task (or NULL outside any), with one lineage
 * reference counted for a new child (plain, on the fork-join path; future.c),
 * or for a layer that keeps a pointer to it (a scope). The reference is
 * dropped by freeing the child, or by wse__future_lineage_put(), on any
 * thread.
 */
static inline wse_future *
wse__future_lineage_hold(void)
{
    struct wse__running *r = wse__future_running;

    if (r == NULL)
        return NULL;
    wse__future_children_add(r->future, 1);
    return r->future;
}

/* As free_future()'s put_parent(), written out there too: in its loop a shared
 * inline cost fork-join fib 1 instruction a task (callgrind). */
static inline void
wse__future_lineage_put(wse_future *parent)
{
    struct wse__running *r = wse__future_running;

    if (parent == NULL)
        return;
    if (r != NULL && r->future == parent)
        wse__future_children_add(parent, (uint32_t)-1); /* runs here, innermost */
    else
        wse__future_lineage_put_slow(parent);
}

/* Has a stop been requested for f or a task it descends from? Cheap (no walk)
 * until the first stop request of the process. */
bool wse__future_stop_reached(const wse_future *f);

/* PENDING -> RUNNING; false if it was cancelled. */
bool wse__future_start(wse_future *f);

/* RUNNING -> DONE (rc == 0, with value) or FAILED (rc), then drop the calling
 * queue's reference (in the same CAS when nobody watches). Notifies the nodes,
 * runs the deferred ones on the calling thread. */
void wse__future_finish_release(wse_future *f, int rc, void *value);

/* The same, with the outcome given: `to` (DONE, FAILED or CANCELLED) and the
 * error code rc (0 for DONE); value is kept for DONE only. */
void wse__future_finish_as_release(wse_future *f, wse_state to, int rc, void *value);

/* Cancel f as a queue's owner would: PENDING -> CANCELLED if it still is, then
 * drop the queue's reference. */
void wse__future_cancel_queued(wse_future *f);

/* Link node n on f, unless f is done: an immediate node is not linked to a done
 * future; a deferred node is also linked to a done future whose deferred nodes
 * are still running, so that it runs after them. false: not linked. */
bool wse__future_link(wse_future *f, struct wse__node *n);

/* Unlink n if it is still linked; true if it was. After this returns, no
 * completing thread touches n through f. */
bool wse__future_unlink(wse_future *f, struct wse__node *n);

/* The wse_state part of f's word, with acquire order. */
static inline wse_state
wse__future_state_acquire(const wse_future *f)
{
    /* acquire: pairs with the completing CAS (release) in future.c, so value and
     * error are visible once the state says done. */
    return (wse_state)(wse__atomic_load_u64_acquire(&f->word) & WSE__F_STATE_MASK);
}

/* True for a promise. The flag is fixed at creation, before f is shared. */
static inline bool
wse__future_is_promise(const wse_future *f)
{
    /* relaxed: WSE__F_PROMISE never changes after creation (publication of f
     * itself orders it). */
    return (wse__atomic_load_u64_relaxed(&f->word) & WSE__F_PROMISE) != 0;
}

/* True for a future inside a layer's block (a loop's). Fixed at creation. */
static inline bool
wse__future_is_embedded(const wse_future *f)
{
    /* relaxed: WSE__F_EMBED never changes after creation (publication of f
     * itself orders it). */
    return (wse__atomic_load_u64_relaxed(&f->word) & WSE__F_EMBED) != 0;
}

static inline bool
wse__future_state_done(wse_state s)
{
    return s == WSE_DONE || s == WSE_FAILED || s == WSE_CANCELLED;
}

#endif /* WSE__FUTURE_H */

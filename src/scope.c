/*
 * Scopes: wse_scope_create(), wse_scope_submit(), wse_scope_join() and
 * wse_scope_destroy().
 *
 * A scope is a group of child tasks with a wait mode as its policy. Each child
 * is an ordinary task future whose completion hook (future.h) is the scope's:
 * child_done() runs once per child on its completing thread, right after the
 * completing transition, with no lock, no node and no allocation.
 *
 * Two kinds of scope, fixed at create:
 *   counted  ALL_COMPLETED with no deadline, the fork-join group. It never
 *            settles early and never stops its children, so it needs no list
 *            of them: a child costs one reservation and one drop in its hook
 *            (in the fork-join case neither is a read-modify-write: "Owner",
 *            ran_here). A child that completes is freed at once unless the
 *            submitter kept it (out).
 *   tracked  FIRST_COMPLETED, FIRST_EXCEPTION, or a deadline. The scope must
 *            be able to stop every child, so each one also sits in a slot,
 *            holding a reference; the slots live in chunks that double in size
 *            (8 inline, then 16, 32, ...), and a chunk never moves once made.
 *
 * The word `st` holds the flags and `live`, the children reserved and not
 * finished (in a tracked scope, counted twice until the submit has published
 * the child):
 *
 *   SETTLED   the policy was met (a child's completion), or the deadline passed
 *             in a join (then also TIMEDOUT): submits now get ECANCELED
 *   JOINING   a join (or destroy) has begun: whoever takes live to 0 closes
 *   CLOSED    live reached 0 while JOINING: submits now get EINVAL; set in the
 *             same read-modify-write that takes live to 0, by the closer, who
 *             then completes `done` (the promise the joiner waits on)
 *   DETACHED  destroy was called inside one of the children (it cannot wait for
 *             itself): the closer frees the scope instead
 *   FOREIGN   a joiner that is not the owner is taking the owner's count
 *   MERGED    the owner's count is in live
 *
 * Every write of `st` after create is a read-modify-write, so all of them form
 * one modification order, and each acquire read of `st` synchronises with
 * every earlier write in it (a release sequence of read-modify-writes).
 *
 * Submit: make the child with the hook, reserve (CAS: flags checked, live +=
 * 1, or 2 when tracked; the owner: own += 1), and (tracked) take an index, the
 * chunk made first.
 * Queue it; a queue that refuses (a shutdown after the check) gets the child
 * back unshared: it is discarded, its units dropped, its slot marked withdrawn.
 * Tracked: store it in its slot (release), then publish: a CAS that drops one
 * unit unless SETTLED is set.
 * Settle (tracked): a CAS that sets SETTLED, then a walk over every published
 * slot with wse_future_request_stop(). The two CASes are ordered: if publish
 * came first, the settler's CAS reads after it, so its walk sees the slot
 * (stored before the publish CAS); if settle came first, publish sees SETTLED
 * and the submitter requests the stop itself (its unit keeps the scope alive
 * while it does). So a child submitted while the scope settles is either
 * refused (the reserve saw SETTLED) or gets the stop request, from one side or
 * both (the request is idempotent).
 *
 * Finish: child_done() settles (FIRST_COMPLETED: any completion;
 * FIRST_EXCEPTION: the first failure), records the first failure (keeping the
 * reference the hook owns for a FAILED child), then drops the child's unit.
 * The scope outlives every use: a unit is dropped by the last read-modify-write
 * of its holder that needs the scope; the closer afterwards touches only
 * `done`, whose completion lets the joiner go; the joiner leaves join only once
 * `done` is done.
 *
 * Join: a worker first runs the scope's children on top of its own deque (the
 * fork-join case: no wait at all; the future layer counts their completions
 * on this thread instead of calling the hook, and the count goes to ran_here,
 * a plain field of the joiner). Then one CAS sets JOINING, drops ran_here and
 * adds the owner's count (below; or the owner's plain store, when nothing is
 * left: "Owner"), closing at once if live is 0; otherwise the join
 * first makes `done` (a promise inside the scope's own block: a join
 * allocates nothing, and a scope whose children all finished never makes it).
 * Until `done` is done, a
 * tracked join waits (wse_wait_until(), ALL_COMPLETED) on up to 8 children not
 * yet done, a counted one on `done`: a worker that joins runs queued children
 * it waits on, and waits with the rules of wse_wait() (helping, spares). At the
 * deadline (checked first, so a passed one counts at the start) the join checks
 * the policy's condition over the children's states; if it does not hold, it
 * settles with TIMEDOUT and requests stop for every child. Then it waits for
 * every child with no deadline. A join from inside one of the children is
 * EDEADLK: its running chain holds a task whose hook is the scope's.
 * docs/design.md, "Scopes", has the full argument.
 *
 * Owner: the task that made a counted scope counts its own submits in `own`
 * with plain stores; another joiner takes that count across an asymmetric
 * fence (see "Owner" below).
 *
 * While a task joins, it is the waiter of the scope's hook: helping may run
 * queued children, and what they wait on, on top of its wait (help.c).
 *
 * Lineage: a scope made inside a task holds a lineage reference on it, as a
 * child would; children submitted from plain threads get an anchor future
 * (made on the first such submit, a child of that task, never run) as their
 * parent, so a stop requested for the task reaches them too.
 *
 * Locks: none of its own. A scope takes future bit locks one at a time (a stop
 * request), and the injection queue's mutex when it queues from outside; no
 * user code runs under any of them.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "wsexec.h"

#include "alloc.h"
#include "atomic.h"
#include "clock.h"
#include "deque.h"
#include "executor.h"
#include "future.h"
#include "stats.h"
#include "sync.h"
#include "worker.h"

/* st: flags in the low byte, live above. */
#define ST_SETTLED 0x1u
#define ST_TIMEDOUT 0x2u
#define ST_JOINING 0x4u
#define ST_CLOSED 0x8u
#define ST_DETACHED 0x10u
#define ST_LIVE_SHIFT 8
#define ST_LIVE ((uint64_t)1 << ST_LIVE_SHIFT)
/* claim: who takes the owner's count into live. */
#define CLAIM_FOREIGN 0x1u /* a joiner that is not the owner is taking it */
#define CLAIM_MERGED 0x2u  /* it is in live (by the owner's join, or that joiner) */

/* Children unfinished at once: live counts two per child being submitted. */
#define ST_LIVE_MAX (((int64_t)1 << 40) - 1)

/* live, signed: before the owner's count is merged, children it reserved that
 * finish elsewhere take it below 0 (the sum is what counts; see "Owner"). */
static inline int64_t
live_of(uint64_t st)
{
    return (int64_t)st >> ST_LIVE_SHIFT;
}

/* Chunks of slots: chunk 0 (inline) holds FIRST_CHUNK, chunk j holds
 * FIRST_CHUNK << j, so MAX_CHUNKS of them hold more children than memory. */
#define FIRST_CHUNK 8u
#define MAX_CHUNKS 40u

/* At most this many children per wait of a join: their wait nodes fit the
 * waiter's stack (wse_wait() allocates nothing for 8). */
#define BATCH 8u

/* A slot: NULL until its child is stored, then the child (a reference of the
 * scope's), or WITHDRAWN if the queue refused it. */
struct slot {
    wse__atomic_ptr f;
};

static char withdrawn_mark;
#define WITHDRAWN ((wse_future *)(void *)&withdrawn_mark)

/*
 * Grouped by cache line (the block is line aligned): what completing threads
 * touch, then what the owner touches on every submit, so that an owner
 * submitting while workers finish its children does not move one line back
 * and forth between them.
 */
struct wse_scope {
    /* Completing threads (child_done(), finish()). */
    wse__atomic_u64 st;      /* flags and live, see above */
    struct wse__hook hook;   /* every child's */
    wse__atomic_ptr decided; /* the deciding child (wse_future *), or NULL */
    wse_future *done;        /* in done_block once a join needs it; completed by the
                                closer; or NULL */
    wse_return_when policy;
    bool tracked;     /* its children have slots (see above) */
    bool decided_ref; /* decided holds a reference of its own (a failure's):
                         written by its decider before its unit goes */
    /* The owner's (see "Owner"), and what its submits read. */
    WSE__CACHE_ALIGNED wse__atomic_u32 in_op; /* the owner is between its check and its count */
    wse__atomic_u32 claim;                    /* CLAIM_FOREIGN, CLAIM_MERGED */
    wse__atomic_u64 own;                      /* int64_t: units the owner reserved, not in live */
    bool owner_mode;                          /* counted, and the asymmetric fence works */
    bool owner_on;                            /* the owner may still count in `own` */
    wse_future *creator;      /* the task it was made in (a lineage reference), or NULL */
    const void *owner_thread; /* made outside any task: that thread's token */
    wse_executor *ex;
    struct wse__pool *pool; /* ex's */
    wse__atomic_ptr anchor; /* lineage parent of children from plain threads */
    /* The joiner's own (one thread joins). */
    uint64_t ran_here; /* children finished inside run_own_children(): units
                          still to drop, in the join's CAS */
    bool join_begun;   /* JOINING is set */
    bool joined;       /* a join returned: later joins repeat it */
    bool deadline_met; /* the deadline was dealt with: no more of it (tracked) */
    int result;        /* set by the join that returns */
    wse_future *decided_out;
    struct wse__deadline deadline;
    struct wse__embedded done_block; /* done's memory: a join allocates nothing */
    /* Tracked scopes only: not even zeroed in a counted one. */
    uint64_t scan;                      /* slots below are done (the joiner's) */
    wse__atomic_u64 n_slots;            /* indices taken (slots 0 .. n_slots-1 exist) */
    wse__atomic_ptr chunks[MAX_CHUNKS]; /* struct slot[] each, made once */
    struct slot first[FIRST_CHUNK];
};
_Static_assert(sizeof(struct wse_scope) <= WSE__ALLOC_MEDIUM, "a scope is a medium block");

static inline wse_scope *
scope_of(struct wse__hook *h)
{
    return (wse_scope *)(void *)((char *)h - offsetof(struct wse_scope, hook));
}

/* The chunk and offset of slot i. */
static unsigned
chunk_of(uint64_t i, uint64_t *off)
{
    uint64_t q = i / FIRST_CHUNK + 1;
    unsigned j = 63U - (unsigned)__builtin_clzll(q);

    *off = i - (uint64_t)FIRST_CHUNK * (((uint64_t)1 << j) - 1);
    return j;
}

/* The slot i, or NULL if its chunk does not exist. */
static struct slot *
slot_at(wse_scope *s, uint64_t i)
{
    uint64_t off;
    unsigned j = chunk_of(i, &off);
    struct slot *c;

    if (j >= MAX_CHUNKS)
        return NULL;
    /* acquire: pairs with the CAS that installed the chunk (ensure_chunk()). */
    c = wse__atomic_load_ptr_acquire(&s->chunks[j]);
    return c != NULL ? &c[off] : NULL;
}

/* The child in slot i: NULL (not stored yet), WITHDRAWN, or a future the
 * scope holds a reference on. */
static wse_future *
slot_load(wse_scope *s, uint64_t i)
{
    struct slot *c = slot_at(s, i);

    /* acquire: pairs with the release store in wse_scope_submit(). */
    return c != NULL ? wse__atomic_load_ptr_acquire(&c->f) : NULL;
}

/* A stored child (not NULL, not WITHDRAWN)? */
static inline bool
is_child(const wse_future *f)
{
    return f != NULL && f != WITHDRAWN;
}

/*
 * Kept chunks. A scope's big chunks are fresh memory (malloc maps them, and unmaps
 * them at free), so a program that makes a scope of thousands of children again and
 * again would pay a page fault every 73 children: on a 2-vCPU VM that was 85 % of a
 * submit (10,000 children from a plain thread: 600 ns a child, under 100 ns with the
 * memory kept). One chunk of each size up to KEPT_CHUNK_MAX (16 to 8,192 nodes: at
 * most 895 KiB in all) is kept for the next scope, process-wide: taken with an
 * exchange, put back with a CAS from NULL (a taker owns what it took: no ABA), freed
 * at exit. Off under AddressSanitizer (every free is seen) and in the fault-injection
 * build (every allocation is counted).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(WSE_FAULT_INJECTION)
#define KEEP_CHUNKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEP_CHUNKS 0
#endif
#endif
#ifndef KEEP_CHUNKS
#define KEEP_CHUNKS 1
#endif
#define KEPT_CHUNK_MAX 10u

static wse__atomic_ptr kept_chunks[KEPT_CHUNK_MAX + 1]; /* a chunk of that size, or NULL */

/* Zeroed memory for chunk j (every node's f NULL): a kept one, or new; NULL. */
static struct slot *
chunk_alloc(unsigned j)
{
    size_t n = (size_t)FIRST_CHUNK << j;
    void *c;

    if (KEEP_CHUNKS && j <= KEPT_CHUNK_MAX) {
        /* acq_rel: pairs with the CAS in chunk_free(): the freeing thread's
         * uses of the chunk happen before ours. */
        c = wse__atomic_fas_ptr_acq_rel(&kept_chunks[j], NULL);
        if (c != NULL) {
            memset(c, 0, n * sizeof(struct slot));
            return c;
        }
    }
    return wse__alloc_array(n, sizeof(struct slot));
}

static void
chunk_free(void *c, unsigned j)
{
    void *none = NULL;

    /* acq_rel: as in chunk_alloc(). */
    if (c != NULL && KEEP_CHUNKS && j <= KEPT_CHUNK_MAX &&
        wse__atomic_cas_ptr_acq_rel(&kept_chunks[j], &none, c))
        return;
    wse__alloc_free(c);
}

/* At exit (or unload of the shared library): nothing kept outlives the process's
 * leak checks. */
__attribute__((destructor)) static void
kept_chunks_drain(void)
{
    unsigned j;

    for (j = 0; j <= KEPT_CHUNK_MAX; j++) {
        /* acq_rel: as in chunk_alloc(). */
        wse__alloc_free(wse__atomic_fas_ptr_acq_rel(&kept_chunks[j], NULL));
    }
}

/* Make chunk j if it does not exist: 0 or ENOMEM. */
static int
ensure_chunk(wse_scope *s, unsigned j)
{
    void *expected = NULL;
    void *c;

    if (j >= MAX_CHUNKS)
        return ENOMEM;
    /* acquire: as in slot_at(). */
    if (wse__atomic_load_ptr_acquire(&s->chunks[j]) != NULL)
        return 0;
    c = chunk_alloc(j);
    if (c == NULL)
        return ENOMEM;
    /* acq_rel: release publishes the zeroed chunk to slot_at()'s acquire load;
     * a loser gives its own back and uses the winner's. */
    if (!wse__atomic_cas_ptr_acq_rel(&s->chunks[j], &expected, c))
        chunk_free(c, j);
    return 0;
}

static bool
done_state(const wse_future *f)
{
    return wse__future_state_done(wse__future_state_acquire(f));
}

/* ------------------------------------------------------------------------- */
/* Settling, finishing, closing                                                */

/*
 * Set SETTLED (and `extra`, TIMEDOUT) unless the scope is settled or closed.
 * True if this call settled it.
 */
static bool
try_settle(wse_scope *s, uint32_t extra)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&s->st);

    while ((old & (ST_SETTLED | ST_CLOSED)) == 0) {
        /* acq_rel: acquire pairs with every publish CAS before it (their slots
         * are then visible to stop_all()); release orders nothing of ours. */
        if (wse__atomic_cas_u64_acq_rel(&s->st, &old, old | ST_SETTLED | extra))
            return true;
    }
    return false;
}

/* Request stop for every published child but `except` (a tracked scope). The
 * caller holds a unit (or is the joiner), so the scope and its children's
 * references live. */
static void
stop_all(wse_scope *s, const wse_future *except)
{
    /* acquire: pairs with the CAS that took each index (after its chunk was
     * made); the settle CAS before this orders the publishes we must see. */
    uint64_t n = wse__atomic_load_u64_acquire(&s->n_slots);
    wse_future *f;
    uint64_t i;

    for (i = 0; i < n; i++) {
        f = slot_load(s, i);
        if (is_child(f) && f != except)
            (void)wse_future_request_stop(f);
    }
}

static inline void free_scope(wse_scope *s);
static void free_slots(wse_scope *s);

/*
 * Drop k units. The read-modify-write that takes live to 0 while JOINING also
 * sets CLOSED; its maker then completes `done` (or frees a detached scope).
 * After the CAS the scope may be gone unless this call closed it.
 */
static void
finish(wse_scope *s, uint64_t k)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&s->st);
    uint64_t new;
    bool close;

    do {
        new = old - k *ST_LIVE;
        close = live_of(new) == 0 && (old & ST_JOINING) != 0 && (old & ST_CLOSED) == 0;
        if (close)
            new |= ST_CLOSED;
        /* acq_rel: release orders our uses of the scope (the decided store, a
         * slot) before the drop; acquire (for the closer) orders every other
         * holder's before the close, hence before `done` completes, and the
         * joiner's store of `done` (before its JOINING CAS) before our read. */
    } while (!wse__atomic_cas_u64_acq_rel(&s->st, &old, new));
    if (!close)
        return;
    /* The joiner waits until `done` is done, so the scope lives until then. */
    if (old & ST_DETACHED)
        free_scope(s);
    else
        (void)wse_promise_set_value(s->done, NULL);
}

static void child_decide(wse_scope *s, wse_future *f, wse_state st_);

/* The hook of every child: f completed with state st_ (on its completing
 * thread; for FAILED this call owns a reference to f). */
static void
child_done(struct wse__hook *h, wse_future *f, wse_state st_)
{
    wse_scope *s = scope_of(h);

    if (__builtin_expect(st_ == WSE_FAILED || s->tracked, 0)) {
        child_decide(s, f, st_);
        return;
    }
    /* The fork-join case: nothing to decide, the unit goes. (On the joiner's
     * own thread, inside its run of the children, the future layer counts
     * instead of calling: run_own_children(); a worker between tasks counts
     * a batch and drops it with children_done().) */
    finish(s, 1);
}

/* The hook's drop: n children of a counted scope that did not fail, batched
 * on the worker that completed them. */
static void
children_done(struct wse__hook *h, uint64_t n)
{
    finish(scope_of(h), n);
}

/* child_done() for a failure or a tracked scope's child: it may decide. */
static __attribute__((noinline)) void
child_decide(wse_scope *s, wse_future *f, wse_state st_)
{
    void *expected = NULL;
    bool keep = false;

    switch (s->policy) {
    case WSE_FIRST_COMPLETED:
        /* Tracked: f is alive in its slot whatever its state. */
        if (try_settle(s, 0)) {
            /* relaxed: one settler; published by finish()'s release. */
            wse__atomic_store_ptr_relaxed(&s->decided, f);
            keep = st_ == WSE_FAILED;
            stop_all(s, f);
        }
        break;
    case WSE_FIRST_EXCEPTION:
        /* acq_rel: the first failure wins; read by the joiner after the close
         * (finish()'s release and acquire order it). */
        if (st_ == WSE_FAILED && wse__atomic_cas_ptr_acq_rel(&s->decided, &expected, f)) {
            keep = true;
            if (try_settle(s, 0))
                stop_all(s, f);
        }
        break;
    default:
        /* acq_rel: as above. */
        keep = st_ == WSE_FAILED && wse__atomic_cas_ptr_acq_rel(&s->decided, &expected, f);
        break;
    }
    if (keep)
        s->decided_ref = true; /* plain: one decider; finish()'s release publishes it */
    else if (st_ == WSE_FAILED)
        wse_future_release(f);
    finish(s, 1);
}

/* ------------------------------------------------------------------------- */
/* Create and submit                                                           */

int
wse_scope_create(wse_scope **out, wse_executor *ex, wse_return_when policy, double timeout_s)
{
    struct wse__worker *w;
    wse_scope *s;

    if (out == NULL || ex == NULL)
        return EINVAL;
    /* The fork-join case (ALL_COMPLETED, no deadline) needs no more checks:
     * NaN is not below 0. */
    if (policy != WSE_ALL_COMPLETED || !(timeout_s < 0)) {
        if (policy != WSE_FIRST_COMPLETED && policy != WSE_FIRST_EXCEPTION &&
            policy != WSE_ALL_COMPLETED)
            return EINVAL;
        /* As wse_wait(): NaN is EINVAL (the only error of
         * wse__clock_deadline_in() below), any negative timeout means none. */
        if (isnan(timeout_s))
            return EINVAL;
    }
    s = wse__alloc_medium();
    if (s == NULL)
        return ENOMEM;
    /* Plain stores: the scope is not shared before *out is returned. Each
     * field a counted scope reads, one by one (a scope per fork-join call is
     * the common case: no memset of what it never reads). */
    wse__atomic_init_u64(&s->st, 0);
    s->hook.fn = child_done;
    wse__atomic_init_ptr(&s->hook.waiter, NULL);
    wse__atomic_init_ptr(&s->decided, NULL);
    s->done = NULL;
    s->policy = policy;
    if (timeout_s < 0) {
        s->deadline.forever = true; /* the common case, without a call */
        s->tracked = policy != WSE_ALL_COMPLETED;
    } else {
        (void)wse__clock_deadline_in(timeout_s, &s->deadline);
        s->tracked = true;
    }
    s->decided_ref = false;
    wse__atomic_init_u32(&s->in_op, 0);
    wse__atomic_init_u32(&s->claim, 0);
    wse__atomic_init_u64(&s->own, 0);
    s->ex = ex;
    /* A worker of ex (the fork-join case) knows its pool without a call. */
    w = wse__worker_tls;
    s->pool = w != NULL && w->pool->owner == ex ? w->pool : wse__executor_pool(ex);
    s->owner_mode = !s->tracked && s->pool->asym_fence;
    s->owner_on = s->owner_mode;
    /* A counted scope's children may be dropped in batches by the workers
     * that complete them (future.h): a tracked scope decides per child. */
    s->hook.drop = s->tracked ? NULL : children_done;
    /* Inside a task: a lineage reference, as a child's (no read-modify-write
     * on the fork-join path), for the anchor made later if a plain thread
     * submits. That task owns the scope; outside any task, this thread does. */
    s->creator = wse__future_lineage_hold();
    s->owner_thread = s->creator == NULL ? (const void *)&wse__future_running : NULL;
    wse__atomic_init_ptr(&s->anchor, NULL);
    s->ran_here = 0;
    s->join_begun = false;
    s->joined = false;
    s->deadline_met = false;
    if (s->tracked) {
        s->scan = 0;
        wse__atomic_init_u64(&s->n_slots, 0);
        memset(s->chunks, 0, sizeof(s->chunks) + sizeof(s->first));
        wse__atomic_init_ptr(&s->chunks[0], s->first);
    }
    *out = s;
    return 0;
}

/* The anchor: a future that is a child of the creating task (never run), the
 * lineage parent of children submitted from plain threads. The task cannot be
 * their parent directly: a child freed while the task runs on that thread is
 * counted as one of its own submissions (future.c). Made on first use; NULL
 * if out of memory. */
static wse_future *
anchor_of(wse_scope *s)
{
    /* acquire: pairs with the CAS below (the anchor's fields). */
    wse_future *a = wse__atomic_load_ptr_acquire(&s->anchor);
    void *expected = NULL;

    if (a != NULL)
        return a;
    /* The scope's lineage reference keeps the creator alive meanwhile. */
    a = wse__future_new_child(NULL, NULL, 1, s->creator);
    if (a == NULL)
        return NULL;
    (void)wse_future_retain(s->creator); /* the anchor's, dropped when it is freed */
    /* acq_rel: release publishes the anchor; acquire reads the winner's. */
    if (wse__atomic_cas_ptr_acq_rel(&s->anchor, &expected, a))
        return a;
    wse__alloc_small_free(a);
    wse_future_release(s->creator);
    return expected;
}

/* Undo a child made by new_child() that was never shared. */
static void
discard_child(wse_future *f, bool anchored)
{
    wse_future *parent = f->parent;

    if (anchored) {
        wse__alloc_small_free(f);
        wse_future_release(parent);
    } else {
        wse__future_discard(f);
    }
}

/* A new child future for fn(arg) with `refs` references and the scope's hook.
 * From a plain thread, its stop lineage goes through the anchor (if the scope
 * was made in a task); inside a task, the usual rule makes that task its
 * parent. *anchored: the former. */
static wse_future *
new_child(wse_scope *s, wse_task_fn fn, void *arg, uint32_t refs, bool *anchored)
{
    wse_future *a;
    wse_future *f;

    *anchored = wse__future_running == NULL && s->creator != NULL;
    if (!*anchored) {
        f = wse__future_new(fn, arg, refs);
    } else {
        a = anchor_of(s);
        if (a == NULL)
            return NULL;
        f = wse__future_new_child(fn, arg, refs, a);
        if (f != NULL)
            (void)wse_future_retain(a); /* the child's, dropped when it is freed */
    }
    if (f != NULL)
        wse__future_set_hook(f, &s->hook);
    return f;
}

/* Take live += k unless settled or closed: 0, EINVAL, ECANCELED or ENOMEM. */
static int
reserve(wse_scope *s, uint64_t k)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&s->st);

    for (;;) {
        if (old & ST_CLOSED)
            return EINVAL;
        if (old & ST_SETTLED)
            return ECANCELED;
        if (live_of(old) + (int64_t)k > ST_LIVE_MAX)
            return ENOMEM;
        /* acq_rel: orders the reservation before the index and the slot;
         * decides against a settle or close CAS. */
        if (wse__atomic_cas_u64_acq_rel(&s->st, &old, old + k * ST_LIVE))
            return 0;
    }
}

/*
 * Owner. A counted scope is owned by the task that made it (T), or, made
 * outside any task, by the thread that made it while it runs no task. The
 * owner's submits count their unit in `own`, with plain stores, not in live;
 * the owner's join folds `own` into live in its JOINING CAS. In the fork-join
 * case (T submits, then joins) a child costs no read-modify-write on the scope
 * at all, and an owner submitting a flat batch from `main` leaves the line
 * the workers' completions write alone. Only a joiner that is not the owner
 * needs the count: it sets CLAIM_FOREIGN, makes every thread pass a full
 * barrier (wse__sync_membarrier()), waits for in_op to be 0 and adds `own` to
 * live itself (merge_foreign()). The owner's side of that asymmetric Dekker
 * protocol: in_op = 1, a compiler barrier, the check of `claim`; if it is 0,
 * count, then in_op = 0 (release). After the fence, either the owner's in_op =
 * 1 came before it and the joiner sees it (and waits for the count to be
 * stored), or the owner's check comes after it and sees CLAIM_FOREIGN (and
 * uses live from then on). So no count is lost or counted twice, and `own` is
 * final when the joiner reads it. CLAIM_MERGED (stored by whoever merged,
 * before its in_op = 0 or its own CAS) makes the merge happen once. Without a
 * working fence the scope counts in live alone (owner_mode false).
 * tests/model/scope_owner.pml checks the protocol under TSO store buffers.
 */

/* The owner, with its count still in use? T runs on one thread only, and a
 * thread's token (the address of one of its thread-locals) is its own. */
static inline bool
owner_here(const wse_scope *s)
{
    const struct wse__running *r = wse__future_running;

    if (r != NULL ? r->future != s->creator : s->owner_thread != (const void *)&wse__future_running)
        return false;
    /* owner_on is read only here, on the owner's thread (the branch above
     * keeps the compiler from reading it on other threads). */
    return s->owner_on;
}

/* Begin an owner's step: false (and owner_on cleared) if another joiner has
 * taken the count: then use live. */
static bool
owner_begin(wse_scope *s)
{
    /* relaxed: ordered for the joiner by its fence (see above). */
    wse__atomic_store_u32_relaxed(&s->in_op, 1);
    wse__atomic_compiler_barrier();
    /* relaxed: as above. */
    if (wse__atomic_load_u32_relaxed(&s->claim) == 0)
        return true;
    /* release: as in owner_end(). */
    wse__atomic_store_u32_release(&s->in_op, 0);
    s->owner_on = false;
    return false;
}

static void
owner_end(wse_scope *s)
{
    /* release: pairs with merge_foreign()'s acquire: the count (and a
     * CLAIM_MERGED store) before it. */
    wse__atomic_store_u32_release(&s->in_op, 0);
}

/* Add k (may be negative) to the owner's count, inside owner_begin/end. */
static void
owner_add(wse_scope *s, int64_t k)
{
    /* relaxed: only the owner writes it; read by merge_foreign() after
     * owner_end()'s release. */
    wse__atomic_store_u64_relaxed(&s->own,
                                  (uint64_t)((int64_t)wse__atomic_load_u64_relaxed(&s->own) + k));
}

/*
 * A thread that is not the owner and holds no unit of the scope (a joiner, or
 * a submitter outside the scope's children): take the owner's count into
 * live, once. When it returns, the count is in live and the owner counts
 * there too: its join can no longer close the scope with a plain store.
 */
static void
merge_foreign(wse_scope *s)
{
    uint32_t none = 0;
    int64_t own;
    unsigned spins = 0;

    if (!s->owner_mode)
        return;
    /* acquire: pairs with the release stores of CLAIM_MERGED (below, and the
     * owner's join): merged already, the owner's close (if any) before it. */
    if (wse__atomic_load_u32_acquire(&s->claim) & CLAIM_MERGED)
        return;
    /* acq_rel: the claim before the fence below. */
    if (!wse__atomic_cas_u32_acq_rel(&s->claim, &none, CLAIM_FOREIGN)) {
        /* Another thread is merging (or the owner's join is): wait until it
         * has, as the owner's step it waits for may be a plain close. acquire:
         * as above. */
        while ((wse__atomic_load_u32_acquire(&s->claim) & CLAIM_MERGED) == 0)
            wse__atomic_backoff(&spins);
        return;
    }
    /* Registered at the executor's create; a forked child re-registers in the
     * call. */
    while (wse__sync_membarrier() != 0)
        sched_yield();
    /* acquire: pairs with owner_end()'s release. The owner is inside a step
     * for a few instructions, unless preempted. */
    while (wse__atomic_load_u32_acquire(&s->in_op) != 0)
        wse__atomic_backoff(&spins);
    /* relaxed: ordered by the acquire above. The owner's join may have merged
     * just before our claim. */
    if (wse__atomic_load_u32_relaxed(&s->claim) & CLAIM_MERGED)
        return;
    own = (int64_t)wse__atomic_load_u64_relaxed(&s->own);
    /* acq_rel: as finish(); the owner adds no more after CLAIM_FOREIGN. */
    (void)wse__atomic_faa_u64_acq_rel(&s->st, (uint64_t)own * ST_LIVE);
    /* release: pairs with the acquire loads above of threads waiting for the
     * merge (the owner's steps see CLAIM_FOREIGN anyway). */
    wse__atomic_store_u32_release(&s->claim, CLAIM_FOREIGN | CLAIM_MERGED);
}

/* Take the next index, its chunk made first: 0 or ENOMEM (no index taken). */
static int
take_index(wse_scope *s, uint64_t *index)
{
    /* relaxed: a guess for the CAS. */
    uint64_t i = wse__atomic_load_u64_relaxed(&s->n_slots);
    uint64_t off;
    int rc;

    for (;;) {
        rc = ensure_chunk(s, chunk_of(i, &off));
        if (rc != 0)
            return rc;
        /* acq_rel: release orders the chunk (made or seen above) before the
         * index, for stop_all() and the join's acquire loads of n_slots. */
        if (wse__atomic_cas_u64_acq_rel(&s->n_slots, &i, i + 1)) {
            *index = i;
            return 0;
        }
    }
}

/*
 * The child is queued and stored: publish (the CAS that drops the submitter's
 * unit unless the scope has settled; see the file comment). If it settled
 * first, request the stop here, then drop the unit.
 */
static void
publish(wse_scope *s, wse_future *f)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&s->st);

    for (;;) {
        if (old & ST_SETTLED) {
            (void)wse_future_request_stop(f);
            finish(s, 1);
            return;
        }
        /* acq_rel: release orders the slot store before it, so a settle CAS
         * that reads after it sees the slot (stop_all()). */
        if (wse__atomic_cas_u64_acq_rel(&s->st, &old, old - ST_LIVE))
            return;
    }
}

/* Give back k units reserved by a submit that failed: from the owner's count
 * if it still counts, else from live (where a foreign joiner has put it). */
static void
unreserve(wse_scope *s, uint64_t k)
{
    if (owner_here(s) && owner_begin(s)) {
        owner_add(s, -(int64_t)k);
        owner_end(s);
    } else {
        finish(s, k);
    }
}

/* Is the calling thread running one of s's children (or nested in one)? A
 * running child's hook is in its value (future.h). */
static bool
inside_child(wse_scope *s)
{
    const struct wse__running *r = wse__future_running;

    /* The fork-join case, in O(1): the task that made the scope joins it. No
     * child of s runs under it here: a child is made after s, so after that
     * task started, and a task runs under another on one thread only if it
     * started later. */
    if (r == NULL || r->future == s->creator)
        return false;
    for (; r != NULL; r = r->outer) {
        if (wse__future_hook(r->future) == &s->hook)
            return true;
    }
    return false;
}

/* wse_scope_submit() from anywhere but the owner's fast path (out of line:
 * the fast path then saves no registers it does not use). */
static __attribute__((noinline)) int
submit_shared(wse_scope *s, wse_task_fn fn, void *arg, wse_future **out)
{
    struct slot *c = NULL;
    wse_future *f;
    uint64_t units;
    uint64_t st;
    uint64_t index;
    bool anchored;
    int rc;

    /* acquire: pairs with the settle and close CASes; the reserve below decides
     * for real. Checked first, so EINVAL and ECANCELED need no memory. */
    st = wse__atomic_load_u64_acquire(&s->st);
    if (st & ST_CLOSED)
        return EINVAL;
    if (st & ST_SETTLED)
        return ECANCELED;
    /* Outside the scope's children, the owner's join may close the scope with
     * a plain store while we reserve: take its count first (see "Owner"). A
     * running child holds a unit, which keeps the owner from closing. */
    if (s->owner_mode && !inside_child(s))
        merge_foreign(s);
    /* The queue's reference, the slot's (tracked), and out's. */
    f = new_child(s, fn, arg, 1 + (s->tracked ? 1 : 0) + (out != NULL ? 1 : 0), &anchored);
    if (f == NULL)
        return ENOMEM;
    units = s->tracked ? 2 : 1;
    rc = reserve(s, units);
    if (rc != 0)
        goto out_discard;
    if (s->tracked) {
        rc = take_index(s, &index);
        if (rc != 0)
            goto out_unreserve;
        c = slot_at(s, index);
    }
    rc = wse__executor_push(s->ex, f);
    if (rc != 0) {
        /* Nothing submitted: the child was never shared. */
        if (c != NULL) {
            /* release: pairs with slot_load()'s acquire. */
            wse__atomic_store_ptr_release(&c->f, WITHDRAWN);
        }
        goto out_unreserve;
    }
    if (out != NULL)
        *out = f; /* out's reference keeps f */
    /* A counted scope: the child's unit is its own from here on, and the scope
     * may be gone once it completes. */
    if (c == NULL)
        return 0;
    /* release: pairs with slot_load()'s acquire. The slot's reference keeps f
     * alive even if it already ran. */
    wse__atomic_store_ptr_release(&c->f, f);
    publish(s, f);
    return 0;

out_unreserve:
    discard_child(f, anchored);
    finish(s, units);
    return rc;
out_discard:
    discard_child(f, anchored);
    return rc;
}

/* Queue a new child as wse_submit() does: a worker of the scope's pool pushes
 * on its own deque here (no trace running: the executor records submits). */
static inline int
push(wse_scope *s, wse_future *f)
{
    struct wse__worker *w = wse__worker_tls;

    if (w == NULL || w->pool != s->pool || wse__trace_on(&s->pool->trace))
        return wse__executor_push(s->ex, f);
    /* acquire: as in wse_submit(); a worker is never of an executor inherited
     * across a fork (the child has no workers). */
    if (wse__atomic_load_u32_acquire(&s->pool->flags) & WSE__POOL_SHUTDOWN)
        return ESHUTDOWN;
    return wse__worker_push_own(w, f);
}

int
wse_scope_submit(wse_scope *s, wse_task_fn fn, void *arg, wse_future **out)
{
    wse_future *f;
    int rc;

    if (s == NULL || fn == NULL)
        return EINVAL;
    /* The owner's fast path (see "Owner"): the child's unit goes in the
     * owner's count, no read-modify-write. Its lineage is the usual one: a
     * task that owns the scope is its parent. */
    if (owner_here(s)) {
        f = wse__future_new(fn, arg, out != NULL ? 2 : 1);
        if (f == NULL)
            return ENOMEM;
        wse__future_set_hook(f, &s->hook);
        if (owner_begin(s)) {
            owner_add(s, 1);
            owner_end(s);
            rc = push(s, f);
            if (rc != 0) {
                /* Nothing submitted: the unit back, the child unshared. */
                unreserve(s, 1);
                wse__future_discard(f);
                return rc;
            }
            if (out != NULL)
                *out = f;
            return 0;
        }
        /* A foreign joiner has the count, or the scope closed: the shared
         * path decides. */
        wse__future_discard(f);
    }
    return submit_shared(s, fn, arg, out);
}

/* ------------------------------------------------------------------------- */
/* Join and destroy                                                            */

/*
 * A worker of s's executor joining a counted scope: while the newest task of
 * its own deque is a child of s, run it, before paying for a promise and a
 * wait (the fork-join case, as wse_wait()'s fast path). Tracked scopes wait on
 * their children by name: wse_wait()'s own fast path runs them.
 */
struct own_run {
    wse_scope *s;            /* the scope whose children run here */
    struct wse__hook *outer; /* wse__hook_local before */
    uint64_t outer_count;    /* wse__hook_local_count before */
    bool unwound;            /* left other than through own_run_done() */
};

/* Put the outer run's count back. The units counted meanwhile go with the
 * JOINING CAS (ran_here); if the run ends by unwinding (a C++ exception out
 * of a child run here), they are dropped now, as the join would have. */
static void
own_run_end(struct own_run *r)
{
    uint64_t n = wse__hook_local_count;

    wse__hook_local = r->outer;
    wse__hook_local_count = r->outer_count;
    if (!r->unwound)
        r->s->ran_here += n;
    else if (n != 0)
        finish(r->s, n);
}

/* The run ended normally: the count goes to ran_here. (A function, not a
 * store in place: linters take a store that only the cleanup reads as dead.) */
static void
own_run_done(struct own_run *r)
{
    r->unwound = false;
}

static void
run_own_children(wse_scope *s, bool owner)
{
    struct wse__worker *w = wse__worker_tls;
    int64_t own;
    wse_future *f;

    if (w == NULL || s->tracked || w->pool != s->pool)
        return;
    /* The owner's count does not change meanwhile: a child run here submits
     * as itself, not as the owner. relaxed: ours. */
    own = owner ? (int64_t)wse__atomic_load_u64_relaxed(&s->own) : 0;
    /* The children that complete here, in any depth of the run, count in
     * wse__hook_local_count (future layer) instead of calling child_done():
     * no read-modify-write on the scope. A nested run (a child joining its
     * own scope) puts ours back when it ends. */
    struct own_run run
        __attribute__((cleanup(own_run_end))) = {s, wse__hook_local, wse__hook_local_count, true};
    wse__hook_local = &s->hook;
    wse__hook_local_count = 0;
    /* acquire: pairs with every finish(); nothing left (less what ran here)
     * means nothing of ours is left to pop. */
    while (live_of(wse__atomic_load_u64_acquire(&s->st)) + own != (int64_t)wse__hook_local_count &&
           wse__worker_stack_ok(w) && (f = wse__deque_pop(&w->deque)) != NULL) {
        if (wse__future_hook(f) != &s->hook) {
            /* Not ours: back where it was (the owner's push cannot fail, the
             * slot was just freed). */
            (void)wse__deque_push(&w->deque, f);
            break;
        }
        wse__worker_run_task(w, f, WSE__STAT_OWN + WSE__STAT_HELPED);
    }
    own_run_done(&run);
}

/* Up to BATCH published children not yet done, from the joiner's cursor on
 * (which moves past the done prefix). */
static size_t
scan(wse_scope *s, wse_future *batch[])
{
    /* acquire: as in stop_all(). */
    uint64_t n = wse__atomic_load_u64_acquire(&s->n_slots);
    bool prefix = true;
    size_t k = 0;
    wse_future *f;
    uint64_t i;

    for (i = s->scan; i < n && k < BATCH; i++) {
        f = slot_load(s, i);
        if (f == WITHDRAWN || (f != NULL && done_state(f))) {
            if (prefix)
                s->scan = i + 1;
            continue;
        }
        prefix = false;
        if (f != NULL)
            batch[k++] = f;
    }
    return k;
}

/* Does the policy's condition hold over the children's states now? A child
 * still being submitted counts as pending. */
static bool
condition_holds(wse_scope *s)
{
    /* acquire: as in stop_all(). */
    uint64_t n = wse__atomic_load_u64_acquire(&s->n_slots);
    bool all_done = true;
    wse_future *f;
    wse_state st;
    uint64_t i;

    for (i = 0; i < n; i++) {
        f = slot_load(s, i);
        if (f == WITHDRAWN)
            continue;
        if (f == NULL) {
            all_done = false;
            continue;
        }
        st = wse__future_state_acquire(f);
        if (s->policy == WSE_FIRST_COMPLETED && wse__future_state_done(st))
            return true;
        if (s->policy == WSE_FIRST_EXCEPTION && st == WSE_FAILED)
            return true;
        all_done = all_done && wse__future_state_done(st);
    }
    /* No child done: FIRST_COMPLETED holds only for a scope without children
     * (none, or all withdrawn), which returns 0 as an empty wait would. */
    return all_done;
}

/* The deadline passed (a join saw ETIMEDOUT): unless the policy's condition
 * holds, settle as timed out and request stop for every child. */
static void
deadline_passed(wse_scope *s)
{
    s->deadline_met = true;
    if (condition_holds(s))
        return;
    if (try_settle(s, ST_TIMEDOUT))
        stop_all(s, NULL);
}

/* The last reference to `done` is gone (the scope's, or a closer's that was
 * still completing it): the scope's memory goes with it. */
static void
done_put(void *owner)
{
    wse__alloc_medium_free(owner);
}

/*
 * Set JOINING (and `extra`: DETACHED), dropping the units of the children
 * that finished in run_own_children(). If live is 0 then, close in the same
 * CAS, then do what finish() would have done; otherwise a joiner (not
 * DETACHED) first makes `done` (in the scope's own block) for the closer to
 * complete. owner_ok: owner_here(s), as the caller found it.
 */
static void
begin_join(wse_scope *s, uint32_t extra, bool owner_ok)
{
    uint64_t old;
    uint64_t new;
    int64_t own = 0;
    bool owner = false;

    /* The owner folds its count in; anyone else merges it first. */
    if (owner_ok && owner_begin(s)) {
        owner = true;
        own = (int64_t)wse__atomic_load_u64_relaxed(&s->own); /* relaxed: ours */
    } else {
        merge_foreign(s);
    }
    /* acquire: pairs with every finish() and reservation before it (as the
     * CAS below would). */
    old = wse__atomic_load_u64_acquire(&s->st);
    if (owner && old == 0 && (uint64_t)own == s->ran_here && extra == 0) {
        /* The fork-join case: every child the owner counted ran here, nobody
         * else counted one (old == 0), so no unit is left, and none can be
         * taken meanwhile: a running child would hold one, and any other
         * thread first waits for our owner_end() (merge_foreign()). Close
         * with a plain store, no read-modify-write (see "Owner"). release:
         * pairs with the acquire loads of st in a later submit or join. */
        new = ST_JOINING | ST_CLOSED;
        wse__atomic_store_u64_release(&s->st, new);
    } else {
        for (;;) {
            new = (old + (uint64_t)own * ST_LIVE - s->ran_here * ST_LIVE) | ST_JOINING | extra;
            if (live_of(new) == 0) {
                new |= ST_CLOSED;
            } else if (extra == 0 && s->done == NULL) {
                s->done = wse__future_embed_promise(&s->done_block, done_put, s);
            }
            /* acq_rel: release publishes `done` to the closer (its finish()
             * CAS reads after ours); acquire pairs with every finish() before
             * it (their decided stores). */
            if (wse__atomic_cas_u64_acq_rel(&s->st, &old, new))
                break;
        }
    }
    if (owner) {
        /* relaxed: ours. release: merged now; a thread that claims the count
         * after our owner_begin() waits for our owner_end() and finds this,
         * one that finds the claim taken waits for this (merge_foreign()). */
        wse__atomic_store_u64_relaxed(&s->own, 0);
        wse__atomic_store_u32_release(&s->claim, CLAIM_MERGED);
        s->owner_on = false;
        owner_end(s);
    }
    s->ran_here = 0;
    s->join_begun = true;
    if ((new &ST_CLOSED) == 0)
        return;
    /* Closed here: nobody else touches the scope now. */
    if (new &ST_DETACHED)
        free_scope(s);
    else if (s->done != NULL)
        (void)wse_promise_set_value(s->done, NULL); /* made in a lost round */
}

/* The waiting part of a join: 0, or EAGAIN from a wait (nothing else changes;
 * a later join goes on). */
static int
join_wait(wse_scope *s)
{

    wse_future *batch[BATCH];
    const struct timespec *at;
    uint64_t st;
    size_t k;
    int rc;

    if (s->done == NULL)
        return 0; /* closed by begin_join() */
    while (!done_state(s->done)) {
        /* acquire: pairs with the settle CAS. Once settled by a child, the
         * deadline no longer matters: the condition held before it. */
        st = wse__atomic_load_u64_acquire(&s->st);
        if ((st & ST_SETTLED) != 0)
            s->deadline_met = true;
        at = s->deadline_met || s->deadline.forever ? NULL : &s->deadline.at;
        k = s->tracked ? scan(s, batch) : 0;
        if (k > 0)
            rc = wse_wait_until(batch, k, at, WSE_ALL_COMPLETED, NULL, NULL);
        else
            rc = wse_wait_until(&s->done, 1, at, WSE_ALL_COMPLETED, NULL, NULL);
        if (rc == ETIMEDOUT)
            deadline_passed(s);
        else if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * While it joins, the joining task (if any) is the waiter of every child: a
 * waiting worker may then run what the children wait on (help.c's
 * leapfrogging), and the children themselves. Cleared on every exit from the
 * join (a cleanup attribute, so a C++ exception unwinding through a child run
 * here clears it too): nobody may count on this join past its return.
 */
struct waiter_guard {
    wse_scope *s; /* the scope whose waiter this join set, or NULL */
};

static void
waiter_begin(struct waiter_guard *g, wse_scope *s)
{
    if (wse__future_running == NULL)
        return; /* a plain thread: no task to name */
    /* release: pairs with the acquire in wse__future_waiter(). */
    wse__atomic_store_ptr_release(&s->hook.waiter, wse__future_running->future);
    g->s = s;
}

static void
waiter_end(struct waiter_guard *g)
{
    if (g->s != NULL) {
        /* release: as in waiter_begin(). */
        wse__atomic_store_ptr_release(&g->s->hook.waiter, NULL);
    }
}

int
wse_scope_join(wse_scope *s, wse_future **decided)
{
    struct waiter_guard waiting __attribute__((cleanup(waiter_end))) = {NULL};
    bool owner;
    int rc;

    if (s == NULL)
        return EINVAL;
    if (!s->joined) {
        if (inside_child(s))
            return EDEADLK;
        /* The same before and after the run: the children run here are other
         * tasks. Asked before the waiter's store, which the compiler cannot
         * tell from the thread-locals the question reads. */
        owner = !s->join_begun && owner_here(s);
        waiter_begin(&waiting, s);
        if (!s->join_begun) {
            run_own_children(s, owner);
            begin_join(s, 0, owner);
        }
        rc = join_wait(s);
        if (rc != 0)
            return rc;
        s->joined = true;
        /* acquire: pairs with the close (the last finish()), which orders
         * every decided store and the TIMEDOUT flag before it. */
        s->result = (wse__atomic_load_u64_acquire(&s->st) & ST_TIMEDOUT) ? ETIMEDOUT : 0;
        s->decided_out = wse__atomic_load_ptr_acquire(&s->decided);
    }
    if (decided != NULL)
        *decided = s->decided_out;
    return s->result;
}

static inline void
free_scope(wse_scope *s)
{
    wse_future *anchor;

    /* Every child is finished: no other thread touches the scope. relaxed: the
     * close (acquire) ordered every slot store and decided before. */
    if (s->tracked)
        free_slots(s);
    if (s->decided_ref)
        wse_future_release(wse__atomic_load_ptr_relaxed(&s->decided));
    /* relaxed: as above. */
    anchor = wse__atomic_load_ptr_relaxed(&s->anchor);
    if (anchor != NULL)
        wse__future_release_held(anchor); /* maybe on the creator's own thread */
    wse__future_lineage_put(s->creator);
    /* Last: `done` lives in the block, and a closer may still be completing
     * it (holding a reference of its own): its last release frees the block. */
    if (s->done != NULL)
        wse_future_release(s->done);
    else
        wse__alloc_medium_free(s);
}

/* A tracked scope's slots: the children's references, and the chunks. */
static __attribute__((noinline)) void
free_slots(wse_scope *s)
{
    /* relaxed: as in free_scope(). */
    uint64_t n = wse__atomic_load_u64_relaxed(&s->n_slots);
    wse_future *f;
    uint64_t i;
    unsigned j;
    void *c;

    for (i = 0; i < n; i++) {
        f = slot_load(s, i);
        if (is_child(f))
            wse_future_release(f);
    }
    /* Chunk j + 1 is made only for an index past every index of chunk j, so
     * the chunks that exist are 0 .. some j. */
    for (j = 1; j < MAX_CHUNKS; j++) {
        /* relaxed: as n_slots above; the chunks were published before. */
        c = wse__atomic_load_ptr_relaxed(&s->chunks[j]);
        if (c == NULL)
            break;
        chunk_free(c, j);
    }
}

void
wse_scope_destroy(wse_scope *s)
{
    int rc;

    if (s == NULL)
        return;
    while (!s->joined) {
        rc = wse_scope_join(s, NULL);
        if (rc == EDEADLK) {
            /* Inside one of its own children: it cannot wait for itself. The
             * last child to finish frees the scope. */
            begin_join(s, ST_DETACHED, owner_here(s));
            return;
        }
        if (rc == EAGAIN)
            sched_yield(); /* nobody could run a child now: again */
    }
    free_scope(s);
}

/*
 * Scopes: wse_scope_create(), wse_scope_submit(), wse_scope_join() and
 * wse_scope_destroy().
 *
 * A scope is a group of child tasks with a wait mode as its policy. Each child
 * is an ordinary task future with one deferred node of the scope linked on it
 * (child_done()); the nodes live in the scope, in chunks that double in size
 * (8 inline, then 16, 32, ...), so a child costs no allocation beyond its
 * future, and a chunk never moves once made.
 *
 * The word `st` holds the scope's flags and `live`, the children reserved and
 * not finished, each counted twice until its submit has published it:
 *
 *   SETTLED   the policy was met (a child's completion), or the deadline passed
 *             in a join (then also TIMEDOUT): submits now get ECANCELED
 *   JOINING   a join (or destroy) has begun: whoever takes live to 0 closes
 *   CLOSED    live reached 0 while JOINING: submits now get EINVAL; set in the
 *             same read-modify-write that takes live to 0, by the closer, who
 *             then completes `done` (a promise the joiner may wait on)
 *   DETACHED  destroy was called inside one of the children (it cannot wait for
 *             itself): the closer frees the scope instead
 *
 * Every write of `st` after create is a read-modify-write, so all of them form
 * one modification order, and each acquire read of `st` synchronises with
 * every earlier write in it (a release sequence of read-modify-writes).
 *
 * Submit: reserve (CAS: flags checked, live += 2), take an index (the chunk
 * made first), link the node on the new future, store it in its slot
 * (release), queue it, then publish: a CAS that drops one unit unless SETTLED
 * is set. A queue that refuses (a shutdown after the check) withdraws the
 * stored child: marked, cancelled, deciding nothing.
 * Settle: a CAS that sets SETTLED, then a walk over every published slot with
 * wse_future_request_stop(). The two CASes are ordered: if publish came first,
 * the settler's CAS reads after it, so its walk sees the slot (published
 * before the publish CAS); if settle came first, publish sees SETTLED and the
 * submitter requests the stop itself (its unit keeps the scope alive while it
 * does). So a child submitted while the scope settles is either refused (the
 * reserve saw SETTLED) or gets the stop request, from one side or both (the
 * request is idempotent).
 *
 * Finish: child_done() runs once per child, on its completing thread, after
 * the child's own lock is released: it settles (FIRST_COMPLETED: any
 * completion; FIRST_EXCEPTION: the first failure), records the first failure,
 * then drops the child's unit. The scope outlives every use: a unit is dropped
 * by the last read-modify-write of its holder that needs the scope; the closer
 * afterwards touches only `done` (read before), whose completion lets the
 * joiner go; the joiner leaves join only once `done` is done.
 *
 * Join: set JOINING (closing at once if live is 0), then until `done` is done,
 * wait (wse_wait_until(), ALL_COMPLETED) on up to 8 children not yet done, or
 * on `done` when there are none: a worker that joins runs queued children, and
 * waits with the rules of wse_wait() (helping, spares, EDEADLK). At the
 * deadline (checked first, so a passed one counts at the start) the join checks
 * the policy's condition over the children's states; if it does not hold, it
 * settles with TIMEDOUT and requests stop for every child. Then it waits for
 * every child with no deadline. docs/design.md, "Scopes", has the full
 * argument.
 *
 * Locks: none of its own. A scope takes future bit locks one at a time (a link
 * on a new future, a stop request), and wse__executor_queue() the injection
 * queue's mutex; no user code runs under any of them.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "wsexec.h"

#include "alloc.h"
#include "atomic.h"
#include "clock.h"
#include "executor.h"
#include "future.h"

/* st: flags in the low byte, live above. */
#define ST_SETTLED 0x1u
#define ST_TIMEDOUT 0x2u
#define ST_JOINING 0x4u
#define ST_CLOSED 0x8u
#define ST_DETACHED 0x10u
#define ST_LIVE_SHIFT 8
#define ST_LIVE ((uint64_t)1 << ST_LIVE_SHIFT)
/* Children unfinished at once: live counts two per child being submitted. */
#define ST_LIVE_MAX (((uint64_t)1 << 40) - 1)

static inline uint64_t
live_of(uint64_t st)
{
    return st >> ST_LIVE_SHIFT;
}

/* Chunks of nodes: chunk 0 (inline) holds FIRST_CHUNK, chunk j holds
 * FIRST_CHUNK << j, so MAX_CHUNKS of them hold more children than memory. */
#define FIRST_CHUNK 8u
#define MAX_CHUNKS 40u

/* At most this many children per wait of a join: their wait nodes fit the
 * waiter's stack (wse_wait() allocates nothing for 8). */
#define BATCH 8u

struct scope_node {
    struct wse__node node; /* deferred, on the child's future */
    wse_scope *s;
    wse__atomic_ptr f;         /* wse_future *: NULL until stored, then the child */
    wse__atomic_u32 withdrawn; /* its queue refused it (a shutdown): not a child */
};

struct wse_scope {
    wse__atomic_u64 st;      /* flags and live, see above */
    wse__atomic_u64 n_slots; /* indices taken (slots 0 .. n_slots-1 exist) */
    wse__atomic_ptr decided; /* the deciding child (wse_future *), or NULL */
    /* Fixed at create. */
    wse_executor *ex;
    wse_return_when policy;
    struct wse__deadline deadline;
    wse_future *anchor; /* lineage parent of children from plain threads, or NULL */
    wse_future *done;   /* a promise, completed by the closer */
    /* The joiner's own (one thread joins). */
    uint64_t scan;     /* slots below are done */
    bool deadline_met; /* the deadline was dealt with: no more of it */
    bool joined;       /* a join returned: later joins repeat it */
    int result;
    wse_future *decided_out;
    wse__atomic_ptr chunks[MAX_CHUNKS]; /* struct scope_node[] each, made once */
    struct scope_node first[FIRST_CHUNK];
};
_Static_assert(sizeof(struct wse_scope) <= WSE__ALLOC_MEDIUM, "a scope is a medium block");

/* The chunk and offset of slot i. */
static unsigned
chunk_of(uint64_t i, uint64_t *off)
{
    uint64_t q = i / FIRST_CHUNK + 1;
    unsigned j = 63U - (unsigned)__builtin_clzll(q);

    *off = i - (uint64_t)FIRST_CHUNK * (((uint64_t)1 << j) - 1);
    return j;
}

/* The node of slot i, or NULL if its chunk does not exist. */
static struct scope_node *
node_at(wse_scope *s, uint64_t i)
{
    uint64_t off;
    unsigned j = chunk_of(i, &off);
    struct scope_node *c;

    if (j >= MAX_CHUNKS)
        return NULL;
    /* acquire: pairs with the CAS that installed the chunk (ensure_chunk()). */
    c = wse__atomic_load_ptr_acquire(&s->chunks[j]);
    return c != NULL ? &c[off] : NULL;
}

/* The child in slot i: NULL (not stored yet) or a future the scope holds a
 * reference on. */
static wse_future *
slot_load(wse_scope *s, uint64_t i)
{
    struct scope_node *c = node_at(s, i);

    /* acquire: pairs with the release store in wse_scope_submit(). */
    return c != NULL ? wse__atomic_load_ptr_acquire(&c->f) : NULL;
}

/* Was the child in slot i withdrawn (its submit failed after storing it)? */
static bool
slot_withdrawn(wse_scope *s, uint64_t i)
{
    /* acquire: pairs with the release store in withdraw(). */
    return wse__atomic_load_u32_acquire(&node_at(s, i)->withdrawn) != 0;
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
static struct scope_node *
chunk_alloc(unsigned j)
{
    size_t n = (size_t)FIRST_CHUNK << j;
    void *c;

    if (KEEP_CHUNKS && j <= KEPT_CHUNK_MAX) {
        /* acq_rel: pairs with the CAS in chunk_free(): the freeing thread's
         * uses of the chunk happen before ours. */
        c = wse__atomic_fas_ptr_acq_rel(&kept_chunks[j], NULL);
        if (c != NULL) {
            memset(c, 0, n * sizeof(struct scope_node));
            return c;
        }
    }
    return wse__alloc_array(n, sizeof(struct scope_node));
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
    /* acquire: as in node_at(). */
    if (wse__atomic_load_ptr_acquire(&s->chunks[j]) != NULL)
        return 0;
    c = chunk_alloc(j);
    if (c == NULL)
        return ENOMEM;
    /* acq_rel: release publishes the zeroed chunk to node_at()'s acquire load;
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

/* Request stop for every published child but `except`. The caller holds a
 * unit (or is the joiner), so the scope and its children's references live. */
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
        if (f != NULL && f != except)
            (void)wse_future_request_stop(f);
    }
}

static void free_scope(wse_scope *s);

/*
 * Drop k units. The read-modify-write that takes live to 0 while JOINING also
 * sets CLOSED; its maker then completes `done` (or frees a detached scope).
 * After the CAS the scope may be gone unless this call closed it.
 */
static void
finish(wse_scope *s, uint64_t k)
{
    wse_future *done = s->done;
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
         * holder's before the close, hence before `done` completes. */
    } while (!wse__atomic_cas_u64_acq_rel(&s->st, &old, new));
    if (!close)
        return;
    if (old & ST_DETACHED)
        free_scope(s);
    else
        (void)wse_promise_set_value(done, NULL);
}

/* A child completed with state st_ (deferred node: on its completing thread,
 * after its lock was released). */
static void
child_done(struct wse__node *n, wse_future *f, wse_state st_)
{
    struct scope_node *c = (struct scope_node *)n;
    wse_scope *s = c->s;
    void *expected = NULL;

    /* acquire: pairs with withdraw()'s release store, made before its cancel
     * (which runs this node). A withdrawn child decides nothing; one cancelled
     * by a settler before the store decides nothing either: the scope has
     * settled, and a CANCELLED child is no failure. */
    if (wse__atomic_load_u32_acquire(&c->withdrawn) != 0) {
        finish(s, 1);
        return;
    }
    switch (s->policy) {
    case WSE_FIRST_COMPLETED:
        if (try_settle(s, 0)) {
            /* relaxed: one settler; published by finish()'s release. */
            wse__atomic_store_ptr_relaxed(&s->decided, f);
            stop_all(s, f);
        }
        break;
    case WSE_FIRST_EXCEPTION:
        /* acq_rel: the first failure wins; read by the joiner after the close
         * (finish()'s release and acquire order it). */
        if (st_ == WSE_FAILED && wse__atomic_cas_ptr_acq_rel(&s->decided, &expected, f) &&
            try_settle(s, 0))
            stop_all(s, f);
        break;
    default:
        /* acq_rel: as above. */
        if (st_ == WSE_FAILED)
            (void)wse__atomic_cas_ptr_acq_rel(&s->decided, &expected, f);
        break;
    }
    finish(s, 1);
}

/* ------------------------------------------------------------------------- */
/* Create and submit                                                           */

int
wse_scope_create(wse_scope **out, wse_executor *ex, wse_return_when policy, double timeout_s)
{
    struct wse__deadline deadline;
    wse_scope *s;
    int rc;

    if (out == NULL || ex == NULL)
        return EINVAL;
    if (policy != WSE_FIRST_COMPLETED && policy != WSE_FIRST_EXCEPTION &&
        policy != WSE_ALL_COMPLETED)
        return EINVAL;
    /* As wse_wait(): NaN is EINVAL, any negative timeout means none. */
    if (wse__clock_deadline_in(timeout_s, &deadline) != 0)
        return EINVAL;
    s = wse__alloc_medium();
    if (s == NULL)
        return ENOMEM;
    memset(s, 0, sizeof(*s));
    rc = wse_promise_create(&s->done, NULL);
    if (rc != 0)
        goto out_free_scope;
    /* Inside a task: an anchor future, a child of the task by the usual rule
     * (never run), is the lineage parent of the children submitted from plain
     * threads, so a stop requested for the task reaches them too. The task
     * cannot be their parent directly: a child freed while the task runs on
     * that thread is counted as one of its own submissions (future.c). */
    if (wse__future_running != NULL) {
        s->anchor = wse__future_new(NULL, NULL, 1);
        if (s->anchor == NULL) {
            rc = ENOMEM;
            goto out_release_done;
        }
    }
    s->ex = ex;
    s->policy = policy;
    s->deadline = deadline;
    /* Plain stores: the scope is not shared before *out is returned. */
    wse__atomic_init_ptr(&s->chunks[0], s->first);
    *out = s;
    return 0;

out_release_done:
    wse_future_release(s->done);
out_free_scope:
    wse__alloc_medium_free(s);
    return rc;
}

/* Undo a child made by new_child() that was never shared. */
static void
discard_child(wse_scope *s, wse_future *f)
{
    if (f->parent != NULL && f->parent == s->anchor) {
        wse__alloc_small_free(f);
        wse_future_release(s->anchor);
    } else {
        wse__future_discard(f);
    }
}

/* A new child future for fn(arg) with `refs` references. From a plain thread,
 * its stop lineage goes through the anchor (if any); inside a task, the usual
 * rule makes that task its parent. */
static wse_future *
new_child(wse_scope *s, wse_task_fn fn, void *arg, uint32_t refs)
{
    wse_future *f;

    if (wse__future_running != NULL || s->anchor == NULL)
        return wse__future_new(fn, arg, refs);
    f = wse__future_new_child(fn, arg, refs, s->anchor);
    if (f != NULL)
        (void)wse_future_retain(s->anchor); /* the child's, dropped when it is freed */
    return f;
}

/* Take live += 2 unless settled or closed: 0, EINVAL, ECANCELED or ENOMEM. */
static int
reserve(wse_scope *s)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&s->st);

    for (;;) {
        if (old & ST_CLOSED)
            return EINVAL;
        if (old & ST_SETTLED)
            return ECANCELED;
        if (live_of(old) + 2 > ST_LIVE_MAX)
            return ENOMEM;
        /* acq_rel: orders the reservation before the index and the slot;
         * decides against a settle or close CAS. */
        if (wse__atomic_cas_u64_acq_rel(&s->st, &old, old + 2 * ST_LIVE))
            return 0;
    }
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
 * The child is stored and queued: publish (the CAS that drops the submitter's
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
        /* acq_rel: release orders the slot store (before the queueing) before
         * it, so a settle CAS that reads after it sees the slot (stop_all()). */
        if (wse__atomic_cas_u64_acq_rel(&s->st, &old, old - ST_LIVE))
            return;
    }
}

/*
 * The queue refused the stored child (a shutdown came after the check): mark it
 * withdrawn, cancel it (its node then decides nothing and drops its unit) and
 * drop the references the queue and out would have had; the scope keeps its
 * own. Then drop the submitter's unit: nothing was submitted.
 */
static void
withdraw(wse_scope *s, struct scope_node *c, wse_future *f, bool had_out)
{
    /* release: pairs with the acquire loads in child_done() and
     * slot_withdrawn(). */
    wse__atomic_store_u32_release(&c->withdrawn, 1);
    (void)wse_future_cancel(f);
    wse_future_release(f);
    if (had_out)
        wse_future_release(f);
    finish(s, 1);
}

int
wse_scope_submit(wse_scope *s, wse_task_fn fn, void *arg, wse_future **out)
{
    struct scope_node *c;
    wse_future *f;
    uint64_t st;
    uint64_t index;
    int rc;

    if (s == NULL || fn == NULL)
        return EINVAL;
    /* acquire: pairs with the settle and close CASes; the reserve below decides
     * for real. Checked first, so EINVAL and ECANCELED need no memory. */
    st = wse__atomic_load_u64_acquire(&s->st);
    if (st & ST_CLOSED)
        return EINVAL;
    if (st & ST_SETTLED)
        return ECANCELED;
    rc = wse__executor_check(s->ex);
    if (rc != 0)
        return rc;
    /* The queue's reference, the scope's (its slot), and out's. */
    f = new_child(s, fn, arg, out != NULL ? 3 : 2);
    if (f == NULL)
        return ENOMEM;
    rc = reserve(s);
    if (rc != 0)
        goto out_discard;
    rc = take_index(s, &index);
    if (rc != 0)
        goto out_unreserve;
    c = node_at(s, index);
    /* Plain stores: nobody reads a node's other fields before its future
     * completes, and its completion comes after the link below. */
    c->s = s;
    c->node.fn = child_done;
    c->node.deferred = 1;
    /* f is PENDING and unshared: the link cannot fail. */
    (void)wse__future_link(f, &c->node);
    /* release: pairs with slot_load()'s acquire. Stored before the queueing,
     * so a child running anywhere is in its slot (a join inside it sees it:
     * EDEADLK); a walk may cancel it before it is queued. */
    wse__atomic_store_ptr_release(&c->f, f);
    rc = wse__executor_queue(s->ex, f, f, 1);
    if (rc != 0) {
        withdraw(s, c, f, out != NULL);
        return rc;
    }
    if (out != NULL)
        *out = f;
    publish(s, f);
    return 0;

out_unreserve:
    discard_child(s, f);
    finish(s, 2);
    return rc;
out_discard:
    discard_child(s, f);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Join and destroy                                                            */

/* Is the calling thread running one of s's children (or nested in one)? */
static bool
joins_own_child(wse_scope *s)
{
    /* acquire: as in stop_all(). */
    uint64_t n = wse__atomic_load_u64_acquire(&s->n_slots);
    const struct wse__running *r;
    wse_future *f;
    uint64_t i;

    if (wse__future_running == NULL)
        return false;
    for (i = 0; i < n; i++) {
        f = slot_load(s, i);
        if (f == NULL || wse__future_state_acquire(f) != WSE_RUNNING)
            continue;
        for (r = wse__future_running; r != NULL; r = r->outer) {
            if (r->future == f)
                return true;
        }
    }
    return false;
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
        if (f != NULL && done_state(f)) {
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
        if (f == NULL) {
            all_done = false;
            continue;
        }
        if (slot_withdrawn(s, i))
            continue;
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

/*
 * Set JOINING (and `extra`: DETACHED); if live is 0 already, close in the same
 * CAS, then do what finish() would have done.
 */
static void
begin_join(wse_scope *s, uint32_t extra)
{
    /* relaxed: a guess for the CAS. */
    uint64_t old = wse__atomic_load_u64_relaxed(&s->st);
    uint64_t new;

    do {
        new = old | ST_JOINING | extra;
        if (live_of(old) == 0 && (old & ST_CLOSED) == 0)
            new |= ST_CLOSED;
        /* acq_rel: acquire pairs with every finish() before it (their
         * decided stores); as finish(). */
    } while (!wse__atomic_cas_u64_acq_rel(&s->st, &old, new));
    if ((new &ST_CLOSED) == 0 || (old & ST_CLOSED) != 0)
        return;
    if (new &ST_DETACHED)
        free_scope(s);
    else
        (void)wse_promise_set_value(s->done, NULL);
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

    while (!done_state(s->done)) {
        /* acquire: pairs with the settle CAS. Once settled by a child, the
         * deadline no longer matters: the condition held before it. */
        st = wse__atomic_load_u64_acquire(&s->st);
        if ((st & ST_SETTLED) != 0)
            s->deadline_met = true;
        at = s->deadline_met || s->deadline.forever ? NULL : &s->deadline.at;
        k = scan(s, batch);
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

int
wse_scope_join(wse_scope *s, wse_future **decided)
{
    int rc;

    if (s == NULL)
        return EINVAL;
    if (!s->joined) {
        if (joins_own_child(s))
            return EDEADLK;
        begin_join(s, 0);
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

static void
free_scope(wse_scope *s)
{
    /* Every child is finished: no other thread touches the scope. relaxed:
     * the close (acquire) ordered every slot store before. */
    uint64_t n = wse__atomic_load_u64_relaxed(&s->n_slots);
    wse_future *f;
    uint64_t i;
    unsigned j;

    for (i = 0; i < n; i++) {
        f = slot_load(s, i);
        if (f != NULL)
            wse_future_release(f);
    }
    /* Chunk j + 1 is made only for an index past every index of chunk j, so
     * the chunks that exist are 0 .. some j. */
    for (j = 1; j < MAX_CHUNKS; j++) {
        /* relaxed: as n_slots above; the chunks were published before. */
        void *c = wse__atomic_load_ptr_relaxed(&s->chunks[j]);

        if (c == NULL)
            break;
        chunk_free(c, j);
    }
    wse_future_release(s->done);
    wse_future_release(s->anchor);
    wse__alloc_medium_free(s);
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
            begin_join(s, ST_DETACHED);
            return;
        }
        if (rc == EAGAIN)
            sched_yield(); /* nobody could run a child now: try again */
    }
    free_scope(s);
}

/*
 * Parallel loops: wse_for() and wse_reduce().
 *
 * A loop is one future (the loop's, "L") and a shared descriptor. The range is
 * a sequence of units (indices for wse_for, blocks of fixed chunks for
 * wse_reduce) that participants claim from one atomic cursor, `next`. The
 * participants are P runners: ordinary task futures queued on the executor
 * (on the calling worker's deque; from any other thread, offered in the pool's
 * offer slot, which the caller empties again when its share is done, else the
 * injection queue), each of which claims and runs units until none is left;
 * and, with out == NULL, the calling thread, which claims from the moment the
 * runners are queued and so costs no wake-up. No chunk allocates: the
 * descriptor, with the futures inside it, is one block allocated at the start
 * (and kept for the next loop).
 *
 * Stop lineage. Each runner (and the caller's stand-in, a future it starts in
 * place) is a future whose parent is L, and runs its chunks as the running
 * task, so wse_stop_requested() in a chunk walks runner -> L -> the task that
 * called the loop, and tasks submitted from a chunk are children of the
 * runner, hence of L. L holds one reference for each of them (they drop it
 * when freed, as any child does on its parent), and is not counted among
 * anybody's plain children.
 *
 * Claiming (wse_for). A claim takes max(1, remaining / (2 P)) indices (rounded
 * up to a multiple of grain, if given), so shares shrink as the range is used
 * up (guided self-scheduling): few claims for a big flat loop, small ones at
 * the end to balance an irregular one, and every participant that arrives in
 * time gets work. A claim runs as one chunk (grain 0) or as chunks of grain.
 *
 * Determinism (wse_reduce). The range is cut into chunks of a fixed size
 * (grain, or about 1/1024 of the range), the chunks into B blocks of
 * consecutive chunks (B from the chunk count and the accumulator size), and B
 * is the unit of claiming. A block's chunks run in order on one thread: the
 * first folds into the block's accumulator, each later one into a scratch
 * accumulator (a fresh copy of the identity) that is then combined into the
 * block's. The blocks are combined in a fixed binary tree over block indices:
 * the node whose right child starts at block r (every r in 1 .. B-1 is that of
 * exactly one node) has an arrival counter; the second of its two children to
 * finish combines left <- left (+) right and goes on up. Boundaries and tree
 * depend on (begin, end, grain, size) only.
 *
 * Ending. `done` counts units run or skipped; whoever brings it to the total
 * concludes: writes the reduction (if nothing failed or stopped), then
 * finishes L DONE, FAILED (the first error) or CANCELLED (a stop reached it).
 * Every unit is claimed by a participant that accounts for it, with one
 * exception: runners that never run (cancelled in a queue by a shutdown or a
 * stop of the lineage). A deferred completion node on each runner notices that
 * and counts the participant out; when the last participant is out with units
 * unclaimed, the leaver claims and skips them, so the loop still concludes
 * (L is then cancelled if nothing had started it).
 *
 * Failure and stop. The first nonzero return (not an ECANCELED after a stop)
 * wins a CAS on `error` and requests a stop for L, so running chunks see
 * wse_stop_requested(); every participant checks `error` and L's lineage
 * before each chunk, and the one that stops claims the rest of the range and
 * skips it.
 */
#include <errno.h>
#include <string.h>

#include "wsexec.h"

#include "alloc.h"
#include "atomic.h"
#include "callers.h"
#include "executor.h"
#include "latch.h"
#include "future.h"
#include "stats.h"
#include "trace.h"
#include "tune.h"
#include "worker.h"

struct loop;

/* A participant: a runner queued on the executor, or the calling thread. */
struct part {
    struct wse__node node; /* on the runner's future: learns that it completed */
    struct loop *lp;
    wse_future *runner;      /* with out == NULL: the caller's reference to the runner */
    unsigned idx;            /* the scratch accumulator it uses */
    struct wse__embedded rf; /* a runner's future (parts[0]'s with out == NULL: unused) */
};

struct loop {
    wse__atomic_u64 next WSE__CACHE_ALIGNED; /* the first unit not claimed */
    wse__atomic_u64 done WSE__CACHE_ALIGNED; /* units run or skipped */
    wse__atomic_u32 error;                   /* the loop's error (first failure) */
    wse__atomic_u32 outstanding;             /* participants that may still claim */
    wse__atomic_u32 refs;                    /* participants not yet finished with it */
    wse__atomic_u32 holds;                   /* the participants (as one) and each
                                         embedded future not yet freed */
    /* Written before the loop is shared, read-only after. */
    uintptr_t key;                 /* grain 0, out == NULL: the function, else 0 */
    bool alone;                    /* cheap enough to run on the caller alone */
    struct wse__pool *pool;        /* the executor's (counters, trace) */
    wse_future *future;            /* L; the participants hold one reference */
    struct wse__embedded lf;       /* L's memory */
    struct wse__embedded stand_in; /* the caller's stand-in's (out == NULL) */
    uint64_t total;                /* units */
    size_t begin;
    size_t n;     /* end - begin */
    size_t grain; /* wse_for: the most indices per chunk; 0: the claim */
    unsigned n_parts;
    wse_for_fn fn;
    void *ctx;
    /* wse_reduce only (rfn != NULL). */
    wse_reduce_fn rfn;
    wse_combine_fn combine;
    void *result;
    size_t size;
    size_t stride; /* bytes between accumulators: size rounded up to a cache line */
    size_t chunk;  /* indices per chunk */
    uint64_t n_chunks;
    unsigned char *identity;
    unsigned char *accs;       /* total (blocks) accumulators */
    unsigned char *scratch;    /* n_parts accumulators */
    wse__atomic_u32 *arrivals; /* per tree node (by its right child's block) */
    struct part parts[];
};

/* Let go of the descriptor's memory: the participants (as one) or an embedded
 * future (wse__future_embed()'s put); the last one frees it. */
static void
loop_unhold(void *owner)
{
    struct loop *lp = owner;

    /* acq_rel: the last one frees after every other holder's uses. */
    if (wse__atomic_faa_u32_acq_rel(&lp->holds, (uint32_t)-1) == 1)
        wse__alloc_kept_free(lp);
}

static void
loop_put(struct loop *lp)
{
    /* acq_rel: the last participant out lets go of L (whose memory, like the
     * runners', is in the descriptor: it goes when they all are freed). */
    if (wse__atomic_faa_u32_acq_rel(&lp->refs, (uint32_t)-1) != 1)
        return;
    wse_future_release(lp->future);
    loop_unhold(lp);
}

static bool
stopped(struct loop *lp)
{
    /* relaxed: a hint polled before each chunk; the CAS on error decides. */
    return wse__atomic_load_u32_relaxed(&lp->error) != 0 || wse__future_stop_reached(lp->future);
}

/* The loop's outcome, once every unit is accounted for: on one thread only. */
static void
conclude(struct loop *lp)
{
    wse_future *f = lp->future;
    wse_state s = wse__future_state_acquire(f);
    uint32_t err;

    if (s == WSE_PENDING) {
        /* No participant ever ran: all were cancelled in their queue. */
        (void)wse_future_cancel(f);
        return;
    }
    if (s != WSE_RUNNING)
        return; /* cancelled while PENDING: no chunk ran */
    /* acquire: pairs with the CAS in fail(). */
    err = wse__atomic_load_u32_acquire(&lp->error);
    wse_future_retain(f); /* the finish drops one */
    if (err != 0) {
        wse__future_finish_as_release(f, WSE_FAILED, (int)err, NULL);
    } else if (wse__future_stop_reached(f)) {
        wse__future_finish_as_release(f, WSE_CANCELLED, ECANCELED, NULL);
    } else {
        if (lp->rfn != NULL)
            memcpy(lp->result, lp->accs, lp->size);
        wse__future_finish_as_release(f, WSE_DONE, 0, NULL);
    }
}

static void
add_done(struct loop *lp, uint64_t k)
{
    /* acq_rel: each participant's chunks (and accumulators) before the count;
     * the one that completes it sees them all. */
    if (k != 0 && wse__atomic_faa_u64_acq_rel(&lp->done, k) + k == lp->total)
        conclude(lp);
}

/* Claim every unit not yet claimed, and count them as skipped. */
static void
skip_rest(struct loop *lp)
{
    /* relaxed: a guess for the CAS. */
    uint64_t cur = wse__atomic_load_u64_relaxed(&lp->next);

    while (cur < lp->total) {
        /* acq_rel: as in claim(). */
        if (wse__atomic_cas_u64_acq_rel(&lp->next, &cur, lp->total)) {
            add_done(lp, lp->total - cur);
            return;
        }
    }
}

/* A participant leaves: it will claim no more. */
static void
part_exit(struct loop *lp)
{
    /* acq_rel: orders this participant's claims before the count. The last
     * one out claims what nobody will (only if some runner never ran). */
    if (wse__atomic_faa_u32_acq_rel(&lp->outstanding, (uint32_t)-1) == 1)
        skip_rest(lp);
}

static void
fail(struct loop *lp, int rc)
{
    uint32_t none = 0;

    /* A chunk that gives up because of a stop is no failure. */
    if (rc == ECANCELED && wse__future_stop_reached(lp->future))
        return;
    /* acq_rel: the first failure wins; pairs with the acquire in conclude(). */
    if (wse__atomic_cas_u32_acq_rel(&lp->error, &none, (uint32_t)rc))
        (void)wse_future_request_stop(lp->future);
}

/* Claim the next units: [*u0, *u1). False when none is left. */
static bool
claim(struct loop *lp, uint64_t *u0, uint64_t *u1)
{
    /* relaxed: a guess for the CAS. */
    uint64_t cur = wse__atomic_load_u64_relaxed(&lp->next);
    uint64_t rem;
    uint64_t k;

    while (cur < lp->total) {
        rem = lp->total - cur;
        k = 1;
        if (lp->rfn == NULL && lp->alone) {
            k = rem; /* cheap (run_alone()): one claim, then chunks of grain */
        } else if (lp->rfn == NULL) {
            k = rem / (2 * (uint64_t)lp->n_parts);
            if (lp->grain != 0)
                k = k < lp->grain ? lp->grain : k - k % lp->grain;
            if (k == 0)
                k = 1;
            if (k > rem)
                k = rem;
        }
        /* acq_rel: the claims form one order; nothing else rides on it. */
        if (wse__atomic_cas_u64_acq_rel(&lp->next, &cur, cur + k)) {
            *u0 = cur;
            *u1 = cur + k;
            return true;
        }
    }
    return false;
}

/* L is RUNNING (started by this call or an earlier one), or false if it was
 * cancelled while PENDING. */
static bool
loop_started(struct loop *lp)
{
    wse_state s = wse__future_state_acquire(lp->future);

    if (s == WSE_PENDING && wse__future_start(lp->future))
        return true;
    return wse__future_state_acquire(lp->future) == WSE_RUNNING;
}

/*
 * What a participant's chunks are counted as and recorded into: on a worker of
 * the loop's executor its own counters (helped when its runner runs inside a
 * wait, or it is the loop's caller); on any other thread the plain block of that
 * thread (always helped: it runs them while it waits for the loop).
 */
struct seen {
    struct wse__stats_thread *stats;
    struct wse__trace_ring *ring; /* NULL: no trace running */
    bool plain;
    unsigned flags; /* WSE__TRACE_HELPED or 0 */
};

static void
seen_init(struct seen *v, struct loop *lp, bool caller)
{
    struct wse__worker *w = wse__worker_tls;
    const struct wse__running *r = wse__future_running;

    v->plain = w == NULL || w->pool != lp->pool;
    v->stats = v->plain ? wse__stats_plain(&lp->pool->stats) : &w->stats;
    /* The runner's (or stand-in's) entry is the innermost: anything outside it
     * is a task that waits. */
    v->flags = caller || v->plain || (r != NULL && r->outer != NULL) ? WSE__TRACE_HELPED : 0;
    v->ring = wse__trace_on(&lp->pool->trace) ? wse__worker_trace_ring(lp->pool) : NULL;
}

/* One chunk ran: fn over [b, e), from t0 (ns; with a trace only). */
static void
seen_chunk(const struct seen *v, uint64_t fn, uint64_t b, uint64_t e, uint64_t t0)
{
    wse__stats_add(v->stats, WSE__STAT_OWN + v->flags);
    if (v->ring != NULL)
        wse__trace_put(v->ring, t0, wse__trace_ticks() - t0, fn, b,
                       wse__trace_pack(WSE__TRACE_CHUNK, v->flags, e - b));
}

/* wse_for: run indices [u0, u1) of the range. True if it stopped early. */
static bool
run_range(struct loop *lp, const struct seen *v, uint64_t u0, uint64_t u1)
{
    uint64_t t0 = 0;
    uint64_t b;
    uint64_t e;
    int rc;

    for (b = u0; b < u1; b = e) {
        if (stopped(lp))
            return true;
        e = lp->grain != 0 && u1 - b > lp->grain ? b + lp->grain : u1;
        if (v->ring != NULL)
            t0 = wse__trace_ticks();
        rc = lp->fn(lp->begin + (size_t)b, lp->begin + (size_t)e, lp->ctx);
        seen_chunk(v, (uint64_t)(uintptr_t)lp->fn, lp->begin + b, lp->begin + e, t0);
        if (rc != 0)
            fail(lp, rc);
    }
    return false;
}

static unsigned char *
acc_at(struct loop *lp, unsigned char *base, uint64_t i)
{
    return base + (size_t)i * lp->stride;
}

/* The first chunk of block b. */
static uint64_t
block_start(const struct loop *lp, uint64_t b)
{
    uint64_t q = lp->n_chunks / lp->total;
    uint64_t r = lp->n_chunks % lp->total;

    return b * q + (b < r ? b : r);
}

/* Block b is folded: go up the tree while this thread is the second child. */
static void
tree_arrive(struct loop *lp, uint64_t b)
{
    uint64_t span;
    uint64_t left;
    uint64_t right;

    for (span = 1; span < lp->total; span *= 2) {
        left = b & ~(2 * span - 1);
        right = left + span;
        if (right < lp->total) {
            /* acq_rel: the first child's accumulator before the second
             * reads it. */
            if (wse__atomic_faa_u32_acq_rel(&lp->arrivals[right], 1) == 0)
                return;
            if (!stopped(lp))
                lp->combine(acc_at(lp, lp->accs, left), acc_at(lp, lp->accs, right), lp->ctx);
        }
        b = left;
    }
}

/* wse_reduce: fold block b into its accumulator. True if it stopped early. */
static bool
run_block(struct loop *lp, const struct seen *v, const struct part *p, uint64_t b)
{
    uint64_t t0 = 0;
    unsigned char *acc = acc_at(lp, lp->accs, b);
    unsigned char *scratch = acc_at(lp, lp->scratch, p->idx);
    unsigned char *dst = acc;
    uint64_t c = block_start(lp, b);
    uint64_t c1 = block_start(lp, b + 1);
    size_t lo;
    size_t hi;
    int rc;

    for (; c < c1; c++) {
        if (stopped(lp))
            return true;
        lo = (size_t)c * lp->chunk;
        hi = lp->n - lo > lp->chunk ? lo + lp->chunk : lp->n;
        memcpy(dst, lp->identity, lp->size);
        if (v->ring != NULL)
            t0 = wse__trace_ticks();
        rc = lp->rfn(lp->begin + lo, lp->begin + hi, dst, lp->ctx);
        seen_chunk(v, (uint64_t)(uintptr_t)lp->rfn, lp->begin + lo, lp->begin + hi, t0);
        if (rc != 0) {
            fail(lp, rc);
            return true;
        }
        if (dst != acc)
            lp->combine(acc, dst, lp->ctx);
        dst = scratch;
    }
    tree_arrive(lp, b);
    return false;
}

/* A plain caller's offer of its runners (wse__executor_offer()). */
struct offer {
    wse_executor *ex;
    bool out;       /* offered and not yet taken back */
    bool took_back; /* taken back: no other thread ever saw the runners */
};

/* The caller's claims reached the end of the range: take the offer back now,
 * before running the last chunks. A worker that spins polls the offer slot;
 * taking the offer later would let it take runners that find nothing, and
 * the caller would pay for the slot's cache line twice more (its failed take
 * back, and the cancel of a runner that the worker is starting). */
static void
take_back(struct loop *lp, struct offer *o)
{
    if (o == NULL || !o->out)
        return;
    o->out = false;
    o->took_back = wse__executor_take_back(o->ex, lp->parts[1].runner);
}

/* Claim and run units until none is left (caller: the loop's calling thread;
 * o: its offer, if it made one): the units claimed. A plain thread's time here
 * is its busy time; *ticks (if not NULL) gets it too. */
static uint64_t
participate(struct part *p, bool caller, struct offer *o, uint64_t *ticks)
{
    struct loop *lp = p->lp;
    struct seen v;
    uint64_t t0;
    uint64_t t;
    uint64_t u0;
    uint64_t u1;
    uint64_t units = 0;
    bool stop;

    seen_init(&v, lp, caller);
    t0 = v.plain || ticks != NULL ? wse__trace_ticks() : 0;
    while (claim(lp, &u0, &u1)) {
        if (u1 == lp->total)
            take_back(lp, o);
        stop = !loop_started(lp);
        if (!stop)
            stop = lp->rfn != NULL ? run_block(lp, &v, p, u0) : run_range(lp, &v, u0, u1);
        if (stop)
            skip_rest(lp);
        add_done(lp, u1 - u0);
        units += u1 - u0;
    }
    if (v.plain || ticks != NULL) {
        t = wse__trace_ticks() - t0;
        if (v.plain)
            wse__stats_plain_busy(v.stats, t);
        if (ticks != NULL)
            *ticks = t;
    }
    return units;
}

/* The task of a runner (arg: its part). */
static int
runner_main(void *arg, void **result)
{
    struct part *p = arg;

    (void)participate(p, false, NULL, NULL);
    part_exit(p->lp);
    *result = NULL;
    return 0;
}

/* A runner's future completed: ran (DONE), or was cancelled in its queue. */
static void
runner_done(struct wse__node *n, wse_future *f, wse_state s)
{
    struct part *p = (struct part *)n;
    struct loop *lp = p->lp;

    (void)f;
    if (s == WSE_CANCELLED)
        part_exit(lp);
    loop_put(lp);
}

/* Is L done? (wse__spin_until()'s condition.) */
static bool
loop_done(const void *f)
{
    return wse__future_state_done(wse__future_state_acquire(f));
}

/* A runner the caller took back from the offer slot: no other thread ever saw
 * it, so instead of a cancel (a completion, its node, two releases) undo its
 * share by hand: what runner_done() and freeing it would have done. */
static void
forget_runner(struct loop *lp)
{
    part_exit(lp);
    loop_put(lp);
    wse_future_release(lp->future); /* its reference as L's child */
    loop_unhold(lp);                /* its memory's hold on the descriptor */
}

/*
 * Loops too small to share. A thread remembers, for the function of its last
 * grain-0 loop with out == NULL, what a unit cost it (counter ticks, in 1/256
 * of a tick). A loop of that function whose units would cost the caller less
 * than WSE__LOOP_INLINE_NS in all runs on the caller alone, without runners:
 * offering them costs more than running it. With grain 0 the library chooses
 * the chunks, and one chunk for the whole range is one of its choices, so no
 * promise changes; the loop is an ordinary loop of one participant (its
 * future, stop and failure as always), and it measures itself, so a loop
 * that grew costly is shared again the next time. A new function, or a
 * thread's first loop, is always shared.
 */
static WSE__TLS uintptr_t cost_key;
static WSE__TLS uint64_t cost_per_unit; /* ticks * 256 per unit */
static WSE__TLS uint64_t inline_ticks;  /* WSE__LOOP_INLINE_NS in ticks; 0: not known yet */

static bool
run_alone(uintptr_t key, uint64_t total)
{
    uint64_t per_1m;

    if (key == 0 || key != cost_key)
        return false;
    if (inline_ticks == 0) {
        /* ns for 2^20 ticks at the rate measured so far: the threshold in ticks. */
        per_1m = wse__trace_ticks_ns((uint64_t)1 << 20);
        inline_ticks = per_1m != 0 ? ((uint64_t)WSE__LOOP_INLINE_NS << 20) / per_1m : 1;
        if (inline_ticks == 0)
            inline_ticks = 1;
    }
    return cost_per_unit == 0 || total < (inline_ticks << 8) / cost_per_unit;
}

static void
learn_cost(uintptr_t key, uint64_t ticks, uint64_t units)
{
    if (units == 0)
        return; /* the workers ran it all: nothing learnt */
    cost_key = key;
    cost_per_unit = ticks >= (UINT64_MAX >> 8) ? UINT64_MAX : (ticks << 8) / units;
}

/* The calling thread takes part (out == NULL) as parts[0], under a stand-in
 * future started in place, then waits for the loop: its outcome as a code. */
static int
caller_runs(wse_executor *ex, struct loop *lp, wse_future *stand_in, bool offered)
{
    struct wse__running running;
    wse_future *f = lp->future;
    struct wse__pool *outer = wse__caller_pool;
    bool plain = wse__worker_tls == NULL;
    struct offer o = {ex, offered, false};
    uint64_t units;
    uint64_t ticks = 0;
    unsigned i;
    int rc;

    (void)wse__future_start(stand_in); /* never shared: cannot be cancelled */
    wse__future_enter(&running, stand_in);
    /* A plain thread's chunks see the loop's executor as wse_current(), as on
     * a worker (and shutdown or destroy of it from a chunk is EDEADLK). */
    if (plain)
        wse__caller_pool = wse__executor_pool(ex);
    units = participate(&lp->parts[0], true, &o, lp->key != 0 ? &ticks : NULL);
    if (lp->key != 0)
        learn_cost(lp->key, ticks, units);
    if (plain)
        wse__caller_pool = outer;
    /* Every unit is claimed now: a runner that has not started would find
     * nothing. Runners still on offer come back untouched by any other thread
     * (the common case for a small loop: nothing crosses a core); the others
     * are cancelled in their queue, so that they free their share of the
     * descriptor now and cost their taker no start (a caller that loops again
     * and again would otherwise outrun the workers with runners left over). */
    take_back(lp, &o);
    for (i = 1; i < lp->n_parts; i++) {
        if (o.took_back) {
            forget_runner(lp);
        } else {
            (void)wse_future_cancel(lp->parts[i].runner);
            wse_future_release(lp->parts[i].runner);
        }
    }
    wse__future_leave(&running);
    wse__future_finish_release(stand_in, 0, NULL);
    part_exit(lp);
    /* A plain caller whose share is done: the last chunks run on workers and
     * mostly end within microseconds. It polls L first, for at most
     * WSE__WAIT_SPIN_NS, so that it returns without registering a waiter on L
     * and L's completer finds none to notify; the wait after a spin that runs
     * out is the ordinary one (no new wake-up path). */
    if (!loop_done(f) &&
        !(plain && wse__spin_until(loop_done, f, NULL, WSE__WAIT_SPIN_NS, 16, NULL)))
        (void)wse_future_wait(f, WSE_FOREVER);
    switch (wse_future_state(f)) {
    case WSE_DONE:
        rc = 0;
        break;
    case WSE_CANCELLED:
        rc = ECANCELED;
        break;
    default:
        rc = wse_future_error(f);
        break;
    }
    loop_put(lp);
    wse_future_release(f); /* the caller's own reference */
    return rc;
}

/* A DONE future for an empty range (with its lineage, like any loop's). */
static int
empty_loop(wse_future **out)
{
    wse_future *f;

    if (out == NULL)
        return 0;
    f = wse__future_new(NULL, NULL, 2);
    if (f == NULL)
        return ENOMEM;
    (void)wse__future_start(f);
    wse__future_finish_release(f, 0, NULL);
    *out = f;
    return 0;
}

/*
 * Build, queue and (out == NULL) join a loop of `total` units that at most
 * max_parts participants can share. setup() fills the kind-specific fields of
 * the zeroed block, with `extra` bytes after the parts. Nothing is shared before the
 * runners are queued, so every error undoes it all.
 */
static int
start_loop(wse_executor *ex, uint64_t total, uint64_t max_parts, size_t extra, uintptr_t key,
           void (*setup)(struct loop *, void *), void *setup_arg, wse_future **out)
{
    bool caller = out == NULL;
    bool own = wse__executor_is_own_worker(ex);
    unsigned cap = wse__executor_workers(ex);
    unsigned n_parts;
    unsigned n_runners;
    unsigned i;
    struct loop *lp;
    wse_future *f;
    wse_future *stand_in = NULL;
    wse_future *first = NULL;
    wse_future *last = NULL;
    wse_future *r;
    size_t bytes;
    bool offered = false;
    bool alone;
    int rc;

    /* A calling thread that is no worker of ex counts its chunks in a block
     * of its own: allocated now, the one time it can still say ENOMEM. */
    if (caller && !own && wse__stats_plain_reserve(&wse__executor_pool(ex)->stats) != 0)
        return ENOMEM;
    /* A plain caller is one more participant, except where the workers
     * already have every CPU: then it takes one worker's place. */
    if (caller && !own && !wse__executor_crowded(ex))
        cap++;
    n_parts = max_parts < cap ? (unsigned)max_parts : cap;
    if (!caller)
        key = 0;
    alone = run_alone(key, total); /* false for key 0 */
    if (alone)
        n_parts = 1;
    n_runners = caller ? n_parts - 1 : n_parts;
    /* One block for it all, futures included: a loop allocates once (and
     * mostly not at all: the block is kept for the next loop). */
    bytes = sizeof(*lp) + n_parts * sizeof(struct part) + extra;
    lp = wse__alloc_kept(bytes);
    if (lp == NULL)
        return ENOMEM;
    memset(lp, 0, bytes);
    lp->total = total;
    lp->n_parts = n_parts;
    lp->key = key;
    lp->alone = alone;
    lp->pool = wse__executor_pool(ex);
    wse__atomic_init_u32(&lp->outstanding, n_parts);
    wse__atomic_init_u32(&lp->refs, n_parts);
    /* The participants, L, and each participant's future. */
    wse__atomic_init_u32(&lp->holds, 2 + n_parts);
    setup(lp, setup_arg);
    /* L: the caller's or user's reference, the participants', and one per
     * participant's future (their lineage). */
    f = wse__future_embed(&lp->lf, NULL, NULL, 2 + n_parts, NULL, loop_unhold, lp);
    lp->future = f;
    if (caller) {
        stand_in = wse__future_embed(&lp->stand_in, NULL, NULL, 1, f, loop_unhold, lp);
        lp->parts[0].lp = lp;
    }
    for (i = caller ? 1 : 0; i < n_parts; i++) {
        lp->parts[i].lp = lp;
        lp->parts[i].idx = i;
        lp->parts[i].node.fn = runner_done;
        lp->parts[i].node.deferred = 1;
        /* The queue's reference, and with out == NULL the caller's. */
        r = wse__future_embed(&lp->parts[i].rf, runner_main, &lp->parts[i], caller ? 2 : 1, f,
                              loop_unhold, lp);
        lp->parts[i].runner = caller ? r : NULL;
        (void)wse__future_link(r, &lp->parts[i].node);
        r->next = NULL;
        if (last != NULL)
            last->next = r;
        else
            first = r;
        last = r;
    }
    if (n_runners > 0) {
        /* A plain caller offers its runners: if no worker takes them before
         * its share is done, it takes them back (caller_runs()). */
        rc = caller && !own ? wse__executor_offer(ex, first, last, n_runners, &offered)
                            : wse__executor_queue(ex, first, last, n_runners);
        if (rc != 0) {
            /* Nothing was shared: the futures go with the block. */
            wse__future_discard_embedded(f);
            wse__alloc_kept_free(lp);
            return rc;
        }
    }
    if (caller)
        return caller_runs(ex, lp, stand_in, offered);
    *out = f;
    return 0;
}

/* ------------------------------------------------------------------------- */

struct for_args {
    size_t begin;
    size_t n;
    size_t grain;
    wse_for_fn fn;
    void *ctx;
};

static void
for_setup(struct loop *lp, void *arg)
{
    const struct for_args *a = arg;

    lp->begin = a->begin;
    lp->n = a->n;
    lp->grain = a->grain;
    lp->fn = a->fn;
    lp->ctx = a->ctx;
}

int
wse_for(wse_executor *ex, size_t begin, size_t end, size_t grain, wse_for_fn fn, void *ctx,
        wse_future **out)
{
    struct for_args a = {begin, end - begin, grain, fn, ctx};
    uint64_t chunks;
    int rc;

    if (ex == NULL || fn == NULL || begin > end)
        return EINVAL;
    rc = wse__executor_check(ex);
    if (rc != 0)
        return rc;
    if (begin == end)
        return empty_loop(out);
    /* Participants beyond the chunk count would find nothing. */
    chunks = grain != 0 ? (a.n - 1) / grain + 1 : a.n;
    return start_loop(ex, a.n, chunks, 0, grain == 0 ? (uintptr_t)fn : 0, for_setup, &a, out);
}

/* ------------------------------------------------------------------------- */

struct reduce_args {
    size_t begin;
    size_t n;
    size_t chunk;
    uint64_t n_chunks;
    uint64_t blocks;
    size_t stride;
    void *result;
    size_t size;
    wse_reduce_fn fn;
    wse_combine_fn combine;
    void *ctx;
};

static void
reduce_setup(struct loop *lp, void *arg)
{
    const struct reduce_args *a = arg;
    unsigned char *p = (unsigned char *)&lp->parts[lp->n_parts];

    lp->begin = a->begin;
    lp->n = a->n;
    lp->rfn = a->fn;
    lp->combine = a->combine;
    lp->ctx = a->ctx;
    lp->result = a->result;
    lp->size = a->size;
    lp->stride = a->stride;
    lp->chunk = a->chunk;
    lp->n_chunks = a->n_chunks;
    /* The buffers, each on its own cache lines (the block is line-aligned and
     * so is every offset below). */
    p += (WSE__CACHE_LINE - (uintptr_t)p % WSE__CACHE_LINE) % WSE__CACHE_LINE;
    lp->identity = p;
    memcpy(lp->identity, a->result, a->size);
    p += a->stride;
    lp->accs = p;
    p += (size_t)a->blocks * a->stride;
    lp->scratch = p;
    p += (size_t)lp->n_parts * a->stride;
    lp->arrivals = (wse__atomic_u32 *)(void *)p;
}

int
wse_reduce(wse_executor *ex, size_t begin, size_t end, size_t grain, void *result, size_t size,
           wse_reduce_fn fn, wse_combine_fn combine, void *ctx, wse_future **out)
{
    struct reduce_args a;
    size_t max_blocks;
    unsigned workers;
    int rc;

    if (ex == NULL || fn == NULL || combine == NULL || result == NULL || size == 0 || begin > end)
        return EINVAL;
    rc = wse__executor_check(ex);
    if (rc != 0)
        return rc;
    if (begin == end)
        return empty_loop(out);
    if (size > ((size_t)1 << 40))
        return ENOMEM;
    a.begin = begin;
    a.n = end - begin;
    a.chunk = grain != 0 ? grain : (a.n - 1) / WSE__REDUCE_CHUNKS + 1;
    a.n_chunks = (a.n - 1) / a.chunk + 1;
    a.stride = (size + WSE__CACHE_LINE - 1) & ~(size_t)(WSE__CACHE_LINE - 1);
    max_blocks = WSE__REDUCE_BYTES / a.stride;
    if (max_blocks > WSE__REDUCE_BLOCKS)
        max_blocks = WSE__REDUCE_BLOCKS;
    if (max_blocks == 0)
        max_blocks = 1;
    a.blocks = a.n_chunks < max_blocks ? a.n_chunks : max_blocks;
    a.result = result;
    a.size = size;
    a.fn = fn;
    a.combine = combine;
    a.ctx = ctx;
    /* The participants' scratch is sized for the most there can be. */
    workers = wse__executor_workers(ex) + 1;
    return start_loop(ex, a.blocks, a.blocks,
                      WSE__CACHE_LINE + (1 + (size_t)a.blocks + workers) * a.stride +
                          (size_t)a.blocks * sizeof(uint32_t),
                      grain == 0 ? (uintptr_t)fn : 0, reduce_setup, &a, out);
}

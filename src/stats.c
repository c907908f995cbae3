/*
 * Per-thread counters and their sums (stats.h).
 *
 * Busy time of a worker is a pair (finished periods, start of the current one)
 * under a sequence count: the owner makes the count odd, stores the pair with
 * release, makes it even with release; a reader loads count, pair and count
 * again, all with acquire, and retries unless both counts are the same even
 * value. If the reader saw any value of an update, its acquire load
 * synchronised with that release store, after which the owner had already made
 * the count odd, so the second load sees the change and the reader retries: a
 * kept pair is one the owner wrote as a whole.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "atomic.h"
#include "stats.h"
#include "sync.h"

/* Process-unique executor ids (a cache never matches another executor). */
static wse__atomic_u64 next_id = {1};

/* The plain thread's block of the executor it last ran tasks for. */
struct plain_entry {
    uint64_t id;
    struct wse__stats_thread *s;
};
static WSE__TLS struct plain_entry plain_cache;

int
wse__stats_init(struct wse__stats *st)
{
    memset(st, 0, sizeof *st);
    st->shared.shared = true;
    /* acq_rel: only uniqueness matters. */
    st->id = wse__atomic_faa_u64_acq_rel(&next_id, 1);
    return pthread_mutex_init(&st->mutex, NULL);
}

void
wse__stats_free_inherited(struct wse__stats *st)
{
    struct wse__stats_thread *s;
    struct wse__stats_thread *next;

    /* relaxed: no thread runs the executor's tasks any more. */
    for (s = wse__atomic_load_ptr_relaxed(&st->plain); s != NULL; s = next) {
        next = s->next;
        wse__alloc_free(s);
    }
}

void
wse__stats_destroy(struct wse__stats *st)
{
    wse__stats_free_inherited(st);
    pthread_mutex_destroy(&st->mutex);
}

void
wse__stats_add(struct wse__stats_thread *s, unsigned i)
{
    if (s->shared)
        (void)wse__atomic_faa_u64_acq_rel(&s->n[i], 1); /* acq_rel: a counter; any order */
    else
        wse__stats_count(s, i);
}

void
wse__stats_plain_busy(struct wse__stats_thread *s, uint64_t ticks)
{
    if (s->shared) {
        (void)wse__atomic_faa_u64_acq_rel(&s->busy_ns, ticks); /* acq_rel: as above */
        return;
    }
    /* A plain thread has no open period (busy_since stays 0): one word, no
     * sequence needed. relaxed, both: only this thread writes it. */
    wse__atomic_store_u64_relaxed(&s->busy_ns, wse__atomic_load_u64_relaxed(&s->busy_ns) + ticks);
}

/* Make the sequence count odd (an update begins) or even again. Owner only. */
static void
seq_bump(struct wse__stats_thread *s)
{
    /* relaxed load: only the owner writes seq. release store: the even store
     * publishes the pair (pairs with the reader's acquire loads); for the odd
     * one, the pair's own release stores keep it before them. */
    wse__atomic_store_u32_release(&s->seq, wse__atomic_load_u32_relaxed(&s->seq) + 1);
}

void
wse__stats_busy_begin(struct wse__stats_thread *s, uint64_t now)
{
    seq_bump(s);
    /* release: see the top of this file. */
    wse__atomic_store_u64_release(&s->busy_since, now);
    seq_bump(s);
}

void
wse__stats_busy_end(struct wse__stats_thread *s, uint64_t now)
{
    /* relaxed: only this thread writes them. */
    uint64_t since = wse__atomic_load_u64_relaxed(&s->busy_since);
    uint64_t total = wse__atomic_load_u64_relaxed(&s->busy_ns);

    if (since == 0)
        return;
    seq_bump(s);
    /* release, both: see the top of this file. */
    wse__atomic_store_u64_release(&s->busy_ns, total + (now > since ? now - since : 0));
    wse__atomic_store_u64_release(&s->busy_since, 0);
    seq_bump(s);
}

struct wse__stats_thread *
wse__stats_plain(struct wse__stats *st)
{
    struct wse__stats_thread *s;
    uint32_t tid;

    if (plain_cache.id == st->id)
        return plain_cache.s;
    tid = (uint32_t)gettid();
    wse__sync_lock(&st->mutex);
    /* relaxed: pushes happen under this mutex. */
    for (s = wse__atomic_load_ptr_relaxed(&st->plain); s != NULL && s->tid != tid; s = s->next)
        ;
    if (s == NULL) {
        s = wse__alloc_aligned(WSE__CACHE_LINE, sizeof *s);
        if (s == NULL) {
            wse__sync_unlock(&st->mutex);
            wse__fault_absorbed_note();
            return &st->shared; /* not cached: the next call tries again */
        }
        s->tid = tid;
        s->next = wse__atomic_load_ptr_relaxed(&st->plain);
        /* release: pairs with the acquire load in wse__stats_sum_plain(). */
        wse__atomic_store_ptr_release(&st->plain, s);
    }
    wse__sync_unlock(&st->mutex);
    plain_cache.id = st->id;
    plain_cache.s = s;
    return s;
}

int
wse__stats_plain_reserve(struct wse__stats *st)
{
    return wse__stats_plain(st)->shared ? ENOMEM : 0;
}

void
wse__stats_sum(const struct wse__stats_thread *s, uint64_t now, uint64_t out[WSE__STAT_N + 1])
{
    uint64_t total;
    uint64_t since;
    uint32_t seq;
    unsigned i;

    for (i = 0; i < WSE__STAT_N; i++)
        out[i] += wse__atomic_load_u64_relaxed(&s->n[i]); /* relaxed: a counter */
    /* acquire, all: see the top of this file. */
    for (;;) {
        seq = wse__atomic_load_u32_acquire(&s->seq);
        total = wse__atomic_load_u64_acquire(&s->busy_ns);
        since = wse__atomic_load_u64_acquire(&s->busy_since);
        if ((seq & 1U) == 0 && wse__atomic_load_u32_acquire(&s->seq) == seq)
            break;
        wse__atomic_pause();
    }
    out[WSE__STAT_N] += total + (since != 0 && now > since ? now - since : 0);
}

void
wse__stats_sum_plain(struct wse__stats *st, uint64_t now, uint64_t out[WSE__STAT_N + 1])
{
    const struct wse__stats_thread *s;

    /* acquire: pairs with the release push in wse__stats_plain(); blocks are
     * never removed before destroy, so no lock is needed. */
    for (s = wse__atomic_load_ptr_acquire(&st->plain); s != NULL; s = s->next)
        wse__stats_sum(s, now, out);
    wse__stats_sum(&st->shared, now, out);
}

/*
 * Plain threads count their busy time in counter ticks, converted at each read
 * at the rate measured from the process's start to now (wse__trace_ticks_ns()),
 * which moves a little between reads: the same ticks may come out a few ns
 * shorter the next time (ThreadSanitizer runs saw 59000066 then 59000065).
 * Counters only grow: a read reports at least what any read before it did.
 */
uint64_t
wse__stats_busy_monotonic(struct wse__stats *st, uint64_t ns)
{
    /* relaxed: a guess for the CAS. */
    uint64_t seen = wse__atomic_load_u64_relaxed(&st->busy_seen);

    while (ns > seen) {
        /* acq_rel: one modification order for every read's answer: a read
         * after another one returned sees at least its value. */
        if (wse__atomic_cas_u64_acq_rel(&st->busy_seen, &seen, ns))
            return ns;
    }
    return seen;
}

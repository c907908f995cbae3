/*
 * Counters (wse_executor_stats()): each thread counts into a block of its own
 * with plain stores (no read-modify-write, no shared line written per task);
 * a read sums the blocks. Workers and spares keep theirs in their slot; plain
 * threads that run an executor's tasks get one on that executor's list
 * (stats.c). Every counter only grows, so a sum of counters read one by one
 * never goes down between two reads.
 */
#ifndef WSE__STATS_H
#define WSE__STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"

/* The counters of one thread. A task counts once, under how it came to run:
 * where it came from (the trace's origins, WSE__TRACE_OWN .. _CLAIMED), plus
 * WSE__STAT_HELPED when the thread ran it while it waited. Tasks run is the
 * sum of the first eight. */
#define WSE__STAT_HELPED 4U
enum wse__stat {
    WSE__STAT_OWN,       /* own deque (and loop chunks) */
    WSE__STAT_STOLEN,    /* another worker's deque */
    WSE__STAT_INJECTED,  /* the injection queue */
    WSE__STAT_CLAIMED,   /* started in place by a waiter */
    WSE__STAT_TASKS = 8, /* (the eight task counters) */
    WSE__STAT_PARKS = WSE__STAT_TASKS,
    WSE__STAT_WAKEUPS,
    WSE__STAT_N
};

struct wse__stats_thread {
    wse__atomic_u64 n[WSE__STAT_N];
    /* Busy time: finished periods, and the start of the current one (ns of
     * CLOCK_MONOTONIC; 0: idle), under a sequence count (odd while they change)
     * so that a reader adds a consistent pair. A plain thread's block: ticks
     * (wse__stats_plain_busy()), and no open period. */
    wse__atomic_u64 busy_ns;
    wse__atomic_u64 busy_since;
    wse__atomic_u32 seq;
    bool shared;  /* the executor's fallback block: read-modify-writes */
    uint32_t tid; /* a plain thread's (its list's key) */
    struct wse__stats_thread *next;
};

/* An executor's (a member of its pool). */
struct wse__stats {
    pthread_mutex_t mutex;           /* order: a leaf */
    wse__atomic_ptr plain;           /* plain threads' blocks, newest first */
    struct wse__stats_thread shared; /* when a plain thread's block cannot be allocated */
    wse__atomic_u64 spares;          /* spare threads started; written under the spares' mutex */
    wse__atomic_u64 busy_seen;       /* the largest busy_ns a read has returned */
    uint64_t id;                     /* process-unique: plain threads' cache key */
};

int wse__stats_init(struct wse__stats *st);
void wse__stats_destroy(struct wse__stats *st);
/* In a forked child: free the memory only (the locks are the parent's). */
void wse__stats_free_inherited(struct wse__stats *st);

/* Count one event of kind i on the calling thread's own block (a worker's). */
static inline void
wse__stats_count(struct wse__stats_thread *s, unsigned i)
{
    /* relaxed: only the owning thread writes n[i]; readers load it relaxed
     * (a counter, nothing rides on it). */
    wse__atomic_inc_owned_u64(&s->n[i]);
}

/* The same on a block that may be the executor's shared one (a plain
 * thread's): a read-modify-write there. */
void wse__stats_add(struct wse__stats_thread *s, unsigned i);

/* Add ticks (wse__trace_ticks(): cheaper to read than the clock, and a loop's
 * caller reads it twice per loop) to a plain thread's busy time (it has no
 * open period). A plain block's busy_ns holds ticks; the reader converts. */
void wse__stats_plain_busy(struct wse__stats_thread *s, uint64_t ticks);

/* A worker's busy period begins or ends at `now` (ns). Owner only. */
void wse__stats_busy_begin(struct wse__stats_thread *s, uint64_t now);
void wse__stats_busy_end(struct wse__stats_thread *s, uint64_t now);

/* The calling plain thread's block for st (allocated on first use; the
 * shared block if memory ran out). Reserve: make sure it has one now, 0 or
 * ENOMEM (for a call that can still refuse). */
struct wse__stats_thread *wse__stats_plain(struct wse__stats *st);
int wse__stats_plain_reserve(struct wse__stats *st);

/* Add what s counted into out (WSE__STAT_N counters, then busy ns as of now). */
void wse__stats_sum(const struct wse__stats_thread *s, uint64_t now, uint64_t out[WSE__STAT_N + 1]);
/* Add every plain thread's and the shared block. */
void wse__stats_sum_plain(struct wse__stats *st, uint64_t now, uint64_t out[WSE__STAT_N + 1]);
/* busy_ns as a read reports it: never less than an earlier read reported. */
uint64_t wse__stats_busy_monotonic(struct wse__stats *st, uint64_t ns);

#endif /* WSE__STATS_H */

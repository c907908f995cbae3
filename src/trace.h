/*
 * The flight recorder (trace.c): per-thread rings of events that
 * wse_trace_write() turns into Trace Event Format JSON.
 *
 * Each thread that records for an executor owns one ring per trace start and is
 * its only writer; wse_trace_write() may read it at any moment, so a ring is a
 * sequence lock per slot (the argument is at the top of trace.c). With no trace
 * running, a recording point costs one relaxed load and a predictable branch
 * (wse__trace_on()).
 */
#ifndef WSE__TRACE_H
#define WSE__TRACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "clock.h"

/* Event kinds (the low byte of wse__trace_event.c). */
enum wse__trace_kind {                      /* ts and dur in ticks (wse__trace_ticks()) */
                       WSE__TRACE_TASK = 1, /* a: function, b: future (the flow's id) */
                       WSE__TRACE_CHUNK,    /* a: function, b: begin; arg: end - begin */
                       WSE__TRACE_WAIT, /* a: timeout, ns (UINT64_MAX: none), b: futures; arg: mode | outcome << 8 */
                       WSE__TRACE_SPIN,   /* an idle worker looking for work */
                       WSE__TRACE_PARK,   /* a worker asleep */
                       WSE__TRACE_SUBMIT, /* a: function, b: future (the flow's id); dur 0 */
};

/* A wait's number of futures as recorded (more are recorded as this many). */
#define WSE__TRACE_MAX_N ((1U << 24) - 1)

/* Flags (the second byte of wse__trace_event.c). The origin of a task: */
#define WSE__TRACE_OWN 0x0U      /* its thread's own deque */
#define WSE__TRACE_STOLEN 0x1U   /* another worker's deque */
#define WSE__TRACE_INJECTED 0x2U /* the injection queue */
#define WSE__TRACE_CLAIMED 0x3U  /* started in place by a waiter */
#define WSE__TRACE_FROM_MASK 0x3U
#define WSE__TRACE_HELPED 0x4U /* run by a thread while it waited */

/* 40 bytes. Written by the ring's owner only; every field atomic because
 * wse_trace_write() reads while the owner may be overwriting (trace.c). */
struct wse__trace_event {
    wse__atomic_u64 ts;  /* start, ns of CLOCK_MONOTONIC */
    wse__atomic_u64 dur; /* ns */
    wse__atomic_u64 a;
    wse__atomic_u64 b;
    wse__atomic_u64 c; /* kind | flags << 8 | arg << 16 */
};

struct wse__trace_ring {
    wse__atomic_u64 claimed;      /* events begun (a slot is being rewritten) */
    wse__atomic_u64 head;         /* events complete */
    wse__atomic_u64 base;         /* events before it belong to an earlier start */
    struct wse__trace_ring *next; /* on the trace's list; fixed once published */
    uint64_t gen;                 /* the trace start it records for */
    uint64_t mask;                /* slots - 1 (a power of two) */
    wse__atomic_u32 tid;          /* the owner's thread id (0: not attached yet) */
    unsigned slot;                /* worker slot, or WSE__TRACE_PLAIN */
    bool spare;                   /* a spare's slot */
    struct wse__trace_event ev[];
};
#define WSE__TRACE_PLAIN UINT32_MAX

/* An executor's trace (a member of its pool). */
struct wse__trace {
    wse__atomic_u32 on;      /* recording (the branch every recording point takes) */
    wse__atomic_u64 gen;     /* the current start, process-unique; 0: never started */
    uint64_t slots;          /* events per ring of the current start */
    pthread_mutex_t mutex;   /* order: a leaf, except the allocation under it */
    wse__atomic_ptr rings;   /* every ring, newest first; pushed under mutex */
    wse__atomic_u64 dropped; /* events lost: a ring could not be allocated */
    uint64_t ticks0;         /* wse__trace_ticks() and ns at the latest start */
    uint64_t ns0;
    bool registered; /* on the list of tracing executors (plain waits) */
    struct wse__trace *reg_next;
};

/* Set up (0, or a pthread error) and free an executor's trace; destroy after
 * every thread of the executor stopped recording. */
int wse__trace_init(struct wse__trace *t);
void wse__trace_destroy(struct wse__trace *t);
/* In a forked child: free the memory only (the locks are the parent's). */
void wse__trace_free_inherited(struct wse__trace *t);

/* Start recording `events` per ring (rounded up to a power of two): with the
 * size of the last start, into the same rings (what they held is dropped);
 * else into new ones, those of the n workers allocated now, the other threads'
 * on their first event (the old rings are freed at destroy). 0 or ENOMEM
 * (nothing changed). Stop: recording ends, the rings stay. */
int wse__trace_start(struct wse__trace *t, size_t events, unsigned n_workers);
void wse__trace_stop(struct wse__trace *t);
/* The thread id of worker slot's ring of the current start, known before it
 * records (its track then shows even if it never does). */
void wse__trace_set_tid(struct wse__trace *t, unsigned slot, uint32_t tid);
/* The process's MPI rank from its launcher's environment, or -1 ("%r" in
 * WSE_TRACE, "rank" in the file). */
int wse__trace_rank(void);
/* Write the rings of the current trace to path (trace.c): 0, EINVAL (never
 * started), ENOMEM or a file error. */
int wse__trace_write(struct wse__trace *t, const char *path);

/* Is t recording? The one branch of every recording point. */
static inline bool
wse__trace_on(const struct wse__trace *t)
{
    /* relaxed: a hint; an event that races with start or stop may be kept or
     * lost either way. The ring it goes to is found with acquire (trace.c). */
    return wse__atomic_load_u32_relaxed(&t->on) != 0;
}

/* The calling thread's ring for t's current trace, attaching (and, past the
 * eagerly allocated worker rings, allocating) it on first use; NULL if memory
 * ran out (the event is counted as dropped). `slot`: the worker slot of the
 * calling thread, or WSE__TRACE_PLAIN. Cached per thread (a worker's in *cache). */
struct wse__trace_cache {
    uint64_t gen;
    struct wse__trace_ring *ring;
};
struct wse__trace_ring *wse__trace_ring_slow(struct wse__trace *t, unsigned slot, bool spare,
                                             struct wse__trace_cache *cache);

static inline struct wse__trace_ring *
wse__trace_ring(struct wse__trace *t, unsigned slot, bool spare, struct wse__trace_cache *cache)
{
    /* acquire: pairs with the release store of gen in wse__trace_start(); the
     * ring list it guards was pushed before. */
    uint64_t gen = wse__atomic_load_u64_acquire(&t->gen);

    if (cache->gen == gen)
        return cache->ring;
    return wse__trace_ring_slow(t, slot, spare, cache);
}

/* A plain thread's cache (one entry: the executor it last recorded for). */
struct wse__trace_cache *wse__trace_plain_cache(void);

/* Record one event into r (r may be NULL: nothing). Owner only. */
void wse__trace_put(struct wse__trace_ring *r, uint64_t ts, uint64_t dur, uint64_t a, uint64_t b,
                    uint64_t c);

static inline uint64_t
wse__trace_pack(enum wse__trace_kind kind, unsigned flags, uint64_t arg)
{
    return (uint64_t)kind | (uint64_t)(flags & 0xffU) << 8 | arg << 16;
}

/* ns of CLOCK_MONOTONIC. */
static inline uint64_t
wse__trace_now(void)
{
    struct timespec ts = wse__clock_now();

    return wse__clock_ns(&ts);
}

/*
 * The timestamps of task, chunk, wait and submit events: the CPU's invariant
 * time-stamp counter where there is one (x86-64 with constant, non-stop TSC:
 * 11 ns a read here, against 28 for clock_gettime, and a task takes three),
 * else ns of CLOCK_MONOTONIC. wse_trace_write() maps them onto CLOCK_MONOTONIC
 * by the two (counter, clock) pairs taken at the start and at the write.
 */
extern wse__atomic_u32 wse__trace_tsc; /* set once, before any executor exists */
static inline uint64_t
wse__trace_ticks(void)
{
#if defined(__x86_64__)
    /* relaxed: written once by the first executor's creation (pthread_once),
     * before any thread records. */
    if (wse__atomic_load_u32_relaxed(&wse__trace_tsc) != 0)
        return __builtin_ia32_rdtsc();
#endif
    return wse__trace_now();
}

/* A duration in ticks as ns: the rate measured from the first executor's
 * creation until now. */
uint64_t wse__trace_ticks_ns(uint64_t ticks);

/*
 * Waits on a plain thread are not tied to an executor (the futures do not say
 * whose they are): they go to every executor tracing at the time. Tracing
 * executors are on a process-wide list from their first start to their
 * destroy; wse__trace_plain_wait() records into each under the list's lock.
 */
void wse__trace_register(struct wse__trace *t);
void wse__trace_unregister(struct wse__trace *t);
/* Is any executor of the process recording? (relaxed hint, as wse__trace_on()) */
extern wse__atomic_u32 wse__trace_n_on;
static inline bool
wse__trace_any(void)
{
    /* relaxed: a hint, as in wse__trace_on(). */
    return wse__atomic_load_u32_relaxed(&wse__trace_n_on) != 0;
}
void wse__trace_plain_wait(uint64_t ts, uint64_t dur, uint64_t a, uint64_t b, uint64_t c);

#endif /* WSE__TRACE_H */

/*
 * Worker threads and the pool they form (worker.c): the main loop, finding a
 * task, running one, and the calling thread's worker and running-task chain.
 * The executor (above) owns a pool; the wait layer (above) uses the search and
 * run steps to help while it waits.
 */
#ifndef WSE__WORKER_H
#define WSE__WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wsexec.h"

#include "atomic.h"
#include "deque.h"
#include "future.h"
#include "inject.h"
#include "latch.h"
#include "park.h"
#include "stats.h"
#include "trace.h"

/* Pool flags (wse__pool.flags). */
#define WSE__POOL_SHUTDOWN 0x1u /* no new submissions */
#define WSE__POOL_CANCEL 0x2u   /* cancel tasks instead of running them */
#define WSE__POOL_TRACE                                                                            \
    0x4u /* a trace records (trace.on, for the paths that
                                   already load flags: submit, run) */

struct wse__worker;

/* Free stack a worker keeps before it runs a task on top of a waiting one. */
#define WSE__STACK_MARGIN ((uintptr_t)256 * 1024)

/* Spare workers: started (or resumed) when a worker blocks in a wait, so that
 * n_workers threads keep running tasks; retired when no longer needed. Every
 * field under mutex, except the `excess` hint. */
struct wse__spares {
    pthread_mutex_t mutex;    /* order: before park.mutex; under join_mutex */
    unsigned n_blocked;       /* workers and spares blocked in a wait */
    unsigned n_active;        /* spares started and not retired */
    unsigned n_stack_blocked; /* of n_blocked: for want of stack */
    bool closing;             /* destroy: retired spares exit */
    wse__atomic_u32 excess;   /* hint: n_active > n_blocked */
    size_t deque_capacity;    /* for a new spare's deque */
};

/* The workers of one executor and their shared queues. */
struct wse__pool {
    wse_executor *owner; /* the executor this pool is (wse_current()) */
    unsigned n_workers;
    unsigned n_slots; /* n_workers + the most spares */
    unsigned spin_rounds;
    int64_t spin_ns;             /* the most an idle worker spins (spin_us), in ns */
    bool asym_fence;             /* wse__sync_membarrier_ready(), asked once at init */
    size_t stack_size;           /* of every worker thread */
    char thread_name[11];        /* worker name prefix */
    struct wse__worker *workers; /* n_slots, cache-aligned; spares after the workers */
    wse__atomic_u32 n_spawned;   /* slots whose thread started (only grows) */
    wse__atomic_u32 flags;       /* WSE__POOL_SHUTDOWN | WSE__POOL_CANCEL */
    struct wse__inject inject;
    struct wse__park park;
    struct wse__spares spares;
    struct wse__pool *callers_next; /* on the caller_runs list (callers.c) */
    /* Hooks (wse_options) and create's wait for the start hooks. */
    void (*on_start)(wse_executor *ex, unsigned index, void *ctx);
    void (*on_stop)(wse_executor *ex, unsigned index, void *ctx);
    void *hook_ctx;
    struct wse__stats stats; /* plain threads' counters; spares started */
    struct wse__trace trace;
    pthread_mutex_t start_mutex; /* order: a leaf */
    pthread_cond_t start_cond;
    unsigned n_started; /* workers past their start hook; under start_mutex */
    /* The runners (a chain) of one loop that a plain thread runs with out ==
     * NULL, offered to idle workers instead of queued (executor.c,
     * wse__executor_offer()): taken by a worker's search after the injection
     * queue, or taken back by the loop's caller once its share is done. */
    wse__atomic_ptr offer WSE__CACHE_ALIGNED;
};

struct wse__worker {
    struct wse__deque deque; /* own cache lines */
    struct wse__pool *pool;
    unsigned index;
    uint64_t rng;        /* victim selection; owner only */
    int64_t spin_budget; /* this worker's idle spin, ns, 0 .. pool->spin_ns; owner only */
    uintptr_t stack_lo;  /* lowest usable stack address; 0: unknown */
    pthread_t thread;
    bool spare;                          /* a spare slot (index >= n_workers) */
    bool retired;                        /* a spare waiting on resume; under spares.mutex */
    bool ready;                          /* deque initialised (spares: once started) */
    bool stack_blocked;                  /* blocked for want of stack; under spares.mutex */
    unsigned stand_in;                   /* the worker index this thread reports
                                     (wse_worker_index()): its own for a worker;
                                     for a spare, that of the worker whose wait
                                     started or resumed it; under spares.mutex */
    wse__atomic_u32 abandon;             /* a stack_blocked wait must give up */
    pthread_cond_t resume;               /* spares: signalled when resumed or closing */
    unsigned took;                       /* where the task about to run came from
                                (WSE__STAT_OWN, _STOLEN, _INJECTED); owner only */
    struct wse__trace_cache trace_cache; /* owner only */
    wse__atomic_u32 tid;                 /* its thread's id once it runs (a trace's track for a
                            worker that records nothing) */
    struct wse__stats_thread stats WSE__CACHE_ALIGNED; /* counted by this thread */
} WSE__CACHE_ALIGNED;

/* The calling thread's worker (NULL on other threads). The chain of tasks it runs
 * is the future layer's (wse__future_running). */
extern WSE__TLS struct wse__worker *wse__worker_tls;

/* Set up a pool for the options o (workers already resolved: not 0), owned by
 * owner; its worker threads are not started. 0, ENOMEM or a pthread error
 * (nothing left allocated). Destroy after every thread was joined. In a forked
 * child, free_inherited frees its memory only (its locks and threads are the
 * parent's). */
int wse__pool_init(struct wse__pool *pool, wse_executor *owner, const wse_options *o);
void wse__pool_destroy(struct wse__pool *pool);
void wse__pool_free_inherited(struct wse__pool *pool);

/* Set up worker `index` of pool with a deque of `capacity` slots: 0 or ENOMEM.
 * Destroy frees its deque. */
int wse__worker_init(struct wse__worker *w, struct wse__pool *pool, unsigned index,
                     size_t capacity);
void wse__worker_destroy(struct wse__worker *w);

/* Start w's thread, running main(w), with the pool's stack size. 0 or a
 * pthread_create error. */
int wse__worker_spawn(struct wse__worker *w, void *(*main)(void *arg));

/* Find a task for w: own deque, injection queue, then steal. NULL if none;
 * *from: where it came from (WSE__STAT_OWN, _INJECTED, _STOLEN). */
wse_future *wse__worker_find_task(struct wse__worker *w, unsigned *from);
/* Take the oldest task of another deque of w's pool, as an idle worker would,
 * or NULL; w owns the queue's reference. */
wse_future *wse__worker_steal(struct wse__worker *w);
/* Run (or drop, if cancelled) a task taken from a queue; drops the queue's
 * reference. how: where it came from (WSE__STAT_OWN, _STOLEN, _INJECTED),
 * plus WSE__STAT_HELPED if w runs it inside a wait. */
void wse__worker_run_task(struct wse__worker *w, wse_future *f, unsigned how);
/* Run a task of pool this thread claimed in place (wse__future_start()
 * succeeded while its queue entry stayed), inside a wait; the queue keeps its
 * reference. w: the calling worker, or NULL on a plain thread. */
void wse__worker_run_claimed(struct wse__pool *pool, struct wse__worker *w, wse_future *f);

/* The calling thread's ring for pool's trace: its worker slot's, or a plain
 * thread's (a worker of another pool included). NULL without memory. */
struct wse__trace_ring *wse__worker_trace_ring(struct wse__pool *pool);

/* Looking for one given future (a waiter's search for what it waits on): is f
 * queued anywhere in pool (w's own deque first, if w is not NULL)? Looks at no
 * more than *budget entries of the other queues. */
bool wse__worker_queued_in_pool(struct wse__pool *pool, struct wse__worker *w, const wse_future *f,
                                int64_t *budget);
/* May a waiter claim f, a PENDING task of pool, to run it? Not in a cancelling
 * pool; a task whose lineage was stopped is cancelled instead. */
bool wse__worker_may_claim(struct wse__pool *pool, wse_future *f);

/* Push f, new, on the deque of w (the calling worker, of f's pool), and wake a
 * parked worker for it: wse_submit()'s own path. 0, or ENOMEM (a deque that
 * could not grow; nothing queued). */
static inline int
wse__worker_push_own(struct wse__worker *w, wse_future *f)
{
    int rc = wse__deque_push(&w->deque, f);

    if (rc != 0)
        return rc;
    wse__park_wake_some(&w->pool->park, 1, false);
    return 0;
}

/* Inline: the fork-join fast path of a wait asks before every nested run. */
static inline bool
wse__worker_stack_ok(const struct wse__worker *w)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);

    return w->stack_lo == 0 || here - w->stack_lo > WSE__STACK_MARGIN;
}

/* The thread function of a worker (arg: its struct wse__worker). It runs the
 * start hook, counts itself started, runs tasks until the park terminates, then
 * runs the stop hook. */
void *wse__worker_main(void *arg);
/* The body of a worker's or a spare's thread: keep (NULL: always) is asked
 * between tasks at top level whether to go on (a spare retires there). */
void wse__worker_run(struct wse__worker *w, bool (*keep)(struct wse__worker *w));
/* What wse_worker_index() says on this thread from now on (a spare resumed for
 * another worker). */
void wse__worker_report_index(unsigned index);
/* Block until n workers of pool have passed their start hook. */
void wse__worker_started_wait(struct wse__pool *pool, unsigned n);

#endif /* WSE__WORKER_H */

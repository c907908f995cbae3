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

/* Pool flags (wse__pool.flags). */
#define WSE__POOL_SHUTDOWN 0x1u /* no new submissions */
#define WSE__POOL_CANCEL 0x2u   /* cancel tasks instead of running them */

struct wse__worker;

/* Free stack a worker keeps before it runs a task on top of a waiting one. */
#define WSE__STACK_MARGIN ((uintptr_t)256 * 1024)

/* Spare workers: started (or resumed) when a worker blocks in a wait, so that
 * n_workers threads keep running tasks; retired when no longer needed. Every
 * field under mutex, except the `excess` hint. */
struct wse__spares {
    pthread_mutex_t mutex;
    unsigned n_blocked;       /* workers and spares blocked in a wait */
    unsigned n_active;        /* spares started and not retired */
    unsigned n_stack_blocked; /* of n_blocked: for want of stack */
    bool closing;             /* destroy: retired spares exit */
    uint32_t excess;          /* atomic hint: n_active > n_blocked */
    size_t deque_capacity;    /* for a new spare's deque */
};

/* The workers of one executor and their shared queues. */
struct wse__pool {
    wse_executor *owner; /* the executor this pool is (wse_current()) */
    unsigned n_workers;
    unsigned n_slots; /* n_workers + the most spares */
    unsigned spin_rounds;
    int64_t spin_ns;             /* the most an idle worker spins (spin_us), in ns */
    size_t stack_size;           /* of every worker thread */
    char thread_name[11];        /* worker name prefix */
    struct wse__worker *workers; /* n_slots, cache-aligned; spares after the workers */
    uint32_t n_spawned;          /* atomic: slots whose thread started (only grows) */
    uint32_t flags;              /* atomic: WSE__POOL_SHUTDOWN | WSE__POOL_CANCEL */
    struct wse__inject inject;
    struct wse__park park;
    struct wse__spares spares;
    struct wse__pool *callers_next; /* on the caller_runs list (worker.c) */
    /* Hooks (wse_options) and create's wait for the start hooks. */
    void (*on_start)(wse_executor *ex, unsigned index, void *ctx);
    void (*on_stop)(wse_executor *ex, unsigned index, void *ctx);
    void *hook_ctx;
    pthread_mutex_t start_mutex;
    pthread_cond_t start_cond;
    unsigned n_started; /* workers past their start hook; under start_mutex */
};

struct wse__worker {
    struct wse__deque deque; /* own cache lines */
    struct wse__pool *pool;
    unsigned index;
    uint64_t rng;        /* victim selection; owner only */
    int64_t spin_budget; /* this worker's idle spin, ns, 0 .. pool->spin_ns; owner only */
    uintptr_t stack_lo;  /* lowest usable stack address; 0: unknown */
    pthread_t thread;
    bool spare;            /* a spare slot (index >= n_workers) */
    bool retired;          /* a spare waiting on resume; under spares.mutex */
    bool ready;            /* deque initialised (spares: once started) */
    bool stack_blocked;    /* blocked for want of stack; under spares.mutex */
    unsigned stand_in;     /* the worker index this thread reports
                                     (wse_worker_index()): its own for a worker;
                                     for a spare, that of the worker whose wait
                                     started or resumed it; under spares.mutex */
    uint32_t abandon;      /* atomic: a stack_blocked wait must give up */
    pthread_cond_t resume; /* spares: signalled when resumed or closing */
} WSE__CACHE_ALIGNED;

/* The calling thread's worker (NULL on other threads). The chain of tasks it runs
 * is the future layer's (wse__future_running). */
extern WSE__TLS struct wse__worker *wse__worker_tls;

/* Set up worker `index` of pool with a deque of `capacity` slots: 0 or ENOMEM.
 * Destroy frees its deque. */
int wse__worker_init(struct wse__worker *w, struct wse__pool *pool, unsigned index,
                     size_t capacity);
void wse__worker_destroy(struct wse__worker *w);

/* Initialise and destroy the spare bookkeeping of pool. 0 or a pthread error. */
int wse__worker_spares_init(struct wse__pool *pool, size_t deque_capacity);
void wse__worker_spares_destroy(struct wse__pool *pool);
/* Start w's thread with the pool's stack size. 0 or a pthread_create error. */
int wse__worker_spawn(struct wse__worker *w);
/* After the park terminated: let retired spares exit, join every started
 * spare and free their deques. */
void wse__worker_spares_join(struct wse__pool *pool);

/* Find a task for w: own deque, injection queue, then steal. NULL if none. */
wse_future *wse__worker_find_task(struct wse__worker *w);
/* Run (or drop, if cancelled) a task taken from a queue; drops the queue's
 * reference. */
void wse__worker_run_task(struct wse__worker *w, wse_future *f);

/*
 * Helping while waiting (the wait layer). A waiting worker may run only a task
 * it waits on, and only with WSE__STACK_MARGIN of stack left.
 *   wse__worker_stack_ok(): is there room to run a task on top of this frame?
 *   wse__worker_take(): f is a task w waits on: take it if it is still PENDING
 *     and queued in w's pool. WSE__TAKE_POPPED: popped from w's deque, run it
 *     with wse__worker_run_task(); WSE__TAKE_CLAIMED: started in place (the
 *     queue's entry stays, a tombstone that its taker drops), run it with
 *     wse__worker_run_claimed(). *budget bounds the queue entries looked at.
 *   wse__worker_block(): nothing may run: block (after spinning up to
 *     WSE__BLOCK_SPIN_NS on l, if spin) until l trips or the deadline passes,
 *     with a spare started or resumed so that the pool keeps n_workers threads
 *     running; 0. EAGAIN: stack_low (a task waited on may be
 *     queued, but the stack had no room to run it), no spare slot is left and
 *     no other thread of the pool is running, now (without blocking) or later
 *     (another thread blocked and left none running: it wakes this one).
 */
enum wse__take { WSE__TAKE_NONE, WSE__TAKE_POPPED, WSE__TAKE_CLAIMED };
enum wse__take wse__worker_take(struct wse__worker *w, wse_future *f, int64_t *budget);
void wse__worker_run_claimed(struct wse__worker *w, wse_future *f);
int wse__worker_block(struct wse__worker *w, const struct wse__latch *l,
                      const struct wse__deadline *deadline, bool stack_low, bool spin);

/*
 * Leapfrogging (the wait layer decides what may run):
 *   wse__worker_steal(): take the oldest task of another deque of w's pool (as
 *     an idle worker would), or NULL; w owns the queue's reference.
 *   wse__worker_give_back(): a stolen task w may not run goes on w's own deque
 *     (or, without memory to grow it, the injection queue), where any thread
 *     may take it; a parked worker is woken for it as for a submission.
 */
wse_future *wse__worker_steal(struct wse__worker *w);
void wse__worker_give_back(struct wse__worker *w, wse_future *f);

/*
 * Plain threads that run what they wait on (wse_options.caller_runs). The pools
 * of such executors are on a list (add at create, remove at the start of
 * destroy; forget in a forked child).
 *   wse__worker_caller_claim(): a PENDING entry of futures queued in one of
 *     those pools, started (claimed in place, as wse__worker_take() does), with
 *     a hold on the pool's park that keeps it from terminating; NULL if none.
 *   wse__worker_caller_run(): run it on the calling thread, with
 *     wse__worker_caller_pool set (wse_current() says its executor), then
 *     release the hold.
 */
extern WSE__TLS struct wse__pool *wse__worker_caller_pool;
void wse__worker_callers_add(struct wse__pool *pool);
void wse__worker_callers_remove(struct wse__pool *pool);
void wse__worker_callers_forget(void);
bool wse__worker_callers_exist(void);
wse_future *wse__worker_caller_claim(wse_future *const futures[], size_t n,
                                     struct wse__pool **pool_out);
void wse__worker_caller_run(struct wse__pool *pool, wse_future *f);

/* A waiting worker that finds nothing it may run spins this long on its latch
 * before blocking: a child stolen a moment ago often finishes sooner than a
 * spare could be woken and the waiter woken again (fork-join on 2 workers). */
#define WSE__BLOCK_SPIN_NS 50000

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
/* Block until n workers of pool have passed their start hook. */
void wse__worker_started_wait(struct wse__pool *pool, unsigned n);

#endif /* WSE__WORKER_H */

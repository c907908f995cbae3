/*
 * Internal structures of wsexec, shared by the files of src/. Names that more than
 * one file uses start with wse__ (libuv's uv__ convention).
 */
#ifndef WSE_INTERNAL_H
#define WSE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wsexec.h"

#include "atomic.h"
#include "clock.h"
#include "deque.h"

/* ------------------------------------------------------------------------- */
/* Futures (future.c)                                                         */

/*
 * The word of a future: the reference count in the high 32 bits, and in the low
 * bits the wse_state plus three flags.
 *   F_LOCK     - a bit lock guarding the waiter list (f->nodes). Held for a few
 *                stores at a time; never held while user code runs.
 *   F_WAITERS  - the waiter list is not empty; a completing thread takes the
 *                slow path only when it is set, so completing a future nobody
 *                waits on is one CAS, no lock, no system call.
 *   F_CALLBACKS - the future is done and its completing thread is still running
 *                callbacks; wse_future_on_done() queues behind them (future.c).
 * Completing transitions (to DONE, FAILED, CANCELLED) never happen while F_LOCK is
 * held, so a thread holding the lock sees a stable "done or not". One word, so
 * that a worker finishing a task drops the queue's reference in the same CAS
 * (future.c).
 */
#define F_STATE_MASK 0x7u
#define F_LOCK 0x8u
#define F_WAITERS 0x10u
#define F_CALLBACKS 0x20u
#define F_LOW_MASK 0xffffffffu          /* state and flags */
#define F_REF_SHIFT 32
#define F_REF ((uint64_t)1 << F_REF_SHIFT) /* one reference */

/* A node on a future's waiter list: a wait() latch or a done callback. */
struct wse_node {
    struct wse_node *next;      /* circular doubly linked list, under F_LOCK */
    struct wse_node *prev;
    struct wse_latch *latch;    /* NULL for a callback node */
    void (*cb)(wse_future *, void *);
    void *cb_arg;
    wse_future *future;         /* the future this node watches (wait nodes) */
    uint32_t linked;            /* on the list; under F_LOCK */
    uint8_t registered;         /* wait(): linked by this waiter (owner only) */
    uint8_t state;              /* wait(): the state in the latest snapshot */
};

struct wse_future {
    uint64_t word;              /* atomic: refs << 32 | F_* | wse_state */
    int error;                  /* published by the completing CAS (release) */
    uint32_t reserved;
    void *value;                /* published by the completing CAS (release) */
    struct wse_node *nodes;     /* waiter list head; under F_LOCK */
    wse_task_fn fn;             /* the task; written before it is queued */
    void *arg;
    wse_future *next;           /* injection queue link; under its mutex */
};

_Static_assert(sizeof(struct wse_future) <= WSE_CACHE_LINE, "a future fits one cache line");

/* A new PENDING future for fn(arg) holding `refs` references, or NULL. */
wse_future *wse__future_new(wse_task_fn fn, void *arg, uint32_t refs);

/* PENDING -> RUNNING; false if it was cancelled. */
bool wse__future_start(wse_future *f);

/* RUNNING -> DONE (rc == 0, with value) or FAILED (rc), then drop the calling
 * queue's reference (in the same CAS when nobody waits). Wakes waiters, runs
 * callbacks on the calling thread. */
void wse__future_finish_release(wse_future *f, int rc, void *value);

/* Register a wait node on f. Returns false (node not linked) if f is already done. */
bool wse__future_add_waiter(wse_future *f, struct wse_node *node);

/* Unlink a wait node if it is still linked. After this returns, no completing
 * thread touches node or its latch through f. */
void wse__future_remove_waiter(wse_future *f, struct wse_node *node);

/* The wse_state part of f's state word, with acquire order. */
static inline wse_state
wse__future_state_acquire(const wse_future *f)
{
    /* acquire: pairs with the completing CAS (release) in future.c, so value and
     * error are visible once the state says done. */
    return (wse_state)(wse_load_u64_acquire(&f->word) & F_STATE_MASK);
}

static inline bool
wse__state_done(wse_state s)
{
    return s == WSE_DONE || s == WSE_FAILED || s == WSE_CANCELLED;
}

/* ------------------------------------------------------------------------- */
/* Latches (wait.c)                                                            */

/*
 * A countdown latch on the waiting thread's stack. Completing threads call
 * wse__latch_notify() under the future's F_LOCK; the waiter unlinks its nodes
 * (taking each F_LOCK) before the latch goes out of scope, so no notifier can
 * still be inside the latch when it dies.
 */
struct wse_latch {
    uint32_t remaining;         /* atomic: completions still needed */
    uint32_t tripped;           /* atomic: the return_when condition holds */
    wse_return_when mode;
    struct wse_worker *worker;  /* the waiting worker, or NULL for a plain thread */
    struct wse_wait_block *block; /* the detachable block holding this latch, or
                                   NULL: the waiter unlinks its nodes (wait.c) */
    pthread_mutex_t mutex;      /* plain thread: guards the sleep/wake handshake */
    pthread_cond_t cond;        /* plain thread: CLOCK_MONOTONIC */
    bool sleeping;              /* plain thread: blocked in cond; under mutex */
    bool kicked;                /* plain thread: signalled, counted in
                                   wse__plain_wakeups; under mutex */
};

/* Plain waiters signalled and not yet running again (wait.c); atomic. Workers
 * yield between tasks while it is not zero (worker.c). */
extern uint32_t wse__plain_wakeups;

/*
 * A plain thread's wait on more than a few futures keeps its latch and nodes in
 * one heap block that it does not unlink when it returns: nodes still linked
 * on pending futures stay there, and each completing thread drops the block's
 * reference for its node after notifying the (tripped, so silent) latch. The
 * last reference frees the block. See wait.c.
 */
struct wse_wait_block {
    uint32_t refs;              /* atomic: the waiter's + one per linked node */
    bool latch_ready;           /* latch.mutex and latch.cond initialised */
    struct wse_latch latch;
    struct wse_node nodes[];
};

/* A watched future completed with state s. */
void wse__latch_notify(struct wse_latch *l, wse_state s);

/* Drop one reference to a wait block; the last one frees it. */
void wse__wait_block_put(struct wse_wait_block *b);

/* Has the latch tripped? */
static inline bool
wse__latch_tripped(const struct wse_latch *l)
{
    /* acquire: pairs with the exchange in wse__latch_notify(). */
    return wse_load_u32_acquire(&l->tripped) != 0;
}

/* ------------------------------------------------------------------------- */
/* Injection queue (inject.c)                                                  */

struct wse_inject {
    pthread_mutex_t mutex;
    wse_future *head;           /* FIFO of queued futures; under mutex */
    wse_future *tail;           /* under mutex */
    uint32_t closed;            /* shut down: no more pushes; under mutex */
    int64_t length WSE_CACHE_ALIGNED; /* atomic: lock-free emptiness hint */
};

int wse__inject_init(struct wse_inject *q);
void wse__inject_destroy(struct wse_inject *q);
/* Append the chain first..last (n futures linked through next); if out is not
 * NULL, store the n futures there in chain order first. ESHUTDOWN if closed
 * (nothing appended, out untouched). */
int wse__inject_push(struct wse_inject *q, wse_future *first, wse_future *last, int64_t n,
                     wse_future *out[]);
/* Pop the oldest future, or NULL. The worker that owns dq also moves its fair
 * share of the rest (length / ways), at most `max`, into dq, so that a big batch
 * is not taken from the queue's mutex one task at a time. dq may be NULL. It
 * takes the mutex: callers check wse__inject_nonempty() first, without it. */
wse_future *wse__inject_pop(struct wse_inject *q, struct deque *dq, int64_t max, unsigned ways);
/* Close the queue (later pushes fail); return the queued chain if take_all. */
wse_future *wse__inject_close(struct wse_inject *q, bool take_all);
/* True if the queue may hold something (a hint; see inject.c for the order). */
bool wse__inject_nonempty(struct wse_inject *q);

/* ------------------------------------------------------------------------- */
/* Workers (worker.c) and parking (park.c)                                     */

struct wse_worker {
    struct deque deque;         /* own cache lines */
    struct wse_executor *ex;
    unsigned index;
    uint64_t rng;               /* victim selection; owner only */
    pthread_t thread;
    /* Parking; every field below is under ex->park.mutex. */
    pthread_cond_t wake;        /* CLOCK_MONOTONIC */
    bool parked;                /* on the sleeper stack */
    bool notified;              /* woken by a submitter or a latch */
    unsigned stack_pos;         /* index in park.sleepers while parked */
} WSE_CACHE_ALIGNED;

struct wse_park {
    pthread_mutex_t mutex;
    unsigned *sleepers;         /* stack of parked worker indices; under mutex */
    unsigned n_parked;          /* length of sleepers; under mutex */
    unsigned n_idle;            /* workers parked with no task on their stack
                                   (not waiting inside a task); under mutex */
    unsigned n_live;            /* workers started (and not yet exited); under mutex */
    bool terminated;            /* shut down and quiescent; under mutex */
    pthread_cond_t quiet;       /* signalled when terminated; CLOCK_MONOTONIC */
    uint32_t n_sleeping WSE_CACHE_ALIGNED; /* atomic copy of n_parked for the
                                              lock-free check of submitters */
};

/* Why wse__park() returned. */
enum park_result { PARK_RECHECK, PARK_TERMINATED };

int wse__park_init(struct wse_park *p, unsigned n_workers);
void wse__park_destroy(struct wse_park *p);
/* Park the calling worker until woken, latch (may be NULL) trips, the deadline
 * (may be NULL) passes, or the executor terminates. See park.c. */
enum park_result wse__park(struct wse_worker *w, struct wse_latch *latch,
                           const struct wse_deadline *deadline);
/* After publishing n tasks: wake up to n parked workers, if any is parked.
 * need_fence: issue the full fence of the protocol first (see park.c). */
void wse__wake_some(struct wse_executor *ex, size_t n, bool need_fence);
/* Wake every parked worker (shutdown); the _locked form under park.mutex. */
void wse__wake_all(struct wse_executor *ex);
void wse__wake_all_locked(struct wse_executor *ex);
/* Block until the executor has terminated (shut down and quiescent). */
void wse__wait_quiet(struct wse_executor *ex);
/* Wake worker w if it is parked (its latch tripped). */
void wse__wake_worker(struct wse_worker *w);

/* Find a task for w: own deque, injection queue, then steal. NULL if none. */
wse_future *wse__find_task(struct wse_worker *w);
/* wse__find_task(), retried for up to ex->spin_rounds rounds before giving up. */
wse_future *wse__search(struct wse_worker *w);
/* Run (or drop, if cancelled) a task taken from a queue; drops the queue's
 * reference. */
void wse__run_task(struct wse_worker *w, wse_future *f);
/* True if some queue of ex may hold a task. */
bool wse__work_visible(struct wse_executor *ex);
/* The worker main loop. */
void *wse__worker_main(void *arg);

/* The calling thread's worker (NULL on other threads), and the chain of futures
 * it is running (innermost first) for EDEADLK detection. */
struct wse_running {
    wse_future *future;
    struct wse_running *outer;
};
extern _Thread_local struct wse_worker *wse__tls_worker;
extern _Thread_local struct wse_running *wse__tls_running;

/* The seed of the WSE_CHAOS build's random scheduling (chaos.c). */
int64_t wse__chaos_seed(void);

/* ------------------------------------------------------------------------- */
/* Executor (executor.c)                                                       */

#define EX_SHUTDOWN 0x1u        /* no new submissions */
#define EX_CANCEL 0x2u          /* cancel tasks instead of running them */

struct wse_executor {
    unsigned n_workers;
    unsigned spin_rounds;
    char thread_name[11];           /* worker name prefix */
    struct wse_worker *workers;     /* n_workers, cache-aligned */
    uint32_t flags;                 /* atomic: EX_SHUTDOWN | EX_CANCEL */
    struct wse_inject inject;
    struct wse_park park;
    pthread_mutex_t join_mutex;     /* serialises joining the threads */
    bool joined;                    /* under join_mutex */
};

/* Cancel f as a queue's owner would (drops the queue's reference). */
void wse__cancel_queued(wse_future *f);

/* Initialise a condition variable on CLOCK_MONOTONIC. */
int wse__cond_init_monotonic(pthread_cond_t *c);

/* Abort on a pthread failure on a valid object (a bug, never a user error). */
void wse__lock(pthread_mutex_t *m);
void wse__unlock(pthread_mutex_t *m);
/* Wait on c (timed if deadline is not forever). false on timeout. */
bool wse__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct wse_deadline *deadline);

#endif /* WSE_INTERNAL_H */

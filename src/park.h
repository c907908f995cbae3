/*
 * Parking idle workers without losing a wake-up, and termination after shutdown
 * (park.c). Workers are known here by index only: the park owns one parker per
 * worker and sees the queues it must re-check (every worker's deque and the
 * injection queue), registered at create.
 */
#ifndef WSE__PARK_H
#define WSE__PARK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "clock.h"
#include "deque.h"
#include "inject.h"
#include "latch.h"
#include "stats.h"

/* One worker's parking state; every field under park.mutex. */
struct wse__parker {
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool parked;         /* on the sleeper stack */
    bool notified;       /* woken by a submitter or a latch */
    bool blocked;        /* in wse__park_block() */
    unsigned stack_pos;  /* index in sleepers while parked */
};

struct wse__park {
    /* order: a leaf; taken under spares.mutex, callers_mutex, an as_completed
     * mutex and a future's bit lock (design.md, "Lock order"). */
    pthread_mutex_t mutex;
    unsigned n;                  /* worker slots (workers and spares) */
    struct wse__parker *parkers; /* n */
    wse__atomic_ptr *deques;     /* n deques (NULL: slot not started):
                                     the queues the re-check looks at */
    struct wse__inject *inject;
    const wse__atomic_ptr *offer; /* the pool's loop offer (worker.h) */
    unsigned *sleepers;           /* stack of parked worker indices; under mutex */
    unsigned n_parked;            /* length of sleepers; under mutex */
    unsigned n_idle;              /* workers parked with no task on their stack
                                     (not waiting inside a task); under mutex */
    unsigned n_live;              /* workers started and not yet exited; under mutex */
    unsigned n_held;              /* tasks waiting outside every queue (for their
                                     dependencies): they hold off termination;
                                     under mutex */
    bool shutdown;                /* no more external work; under mutex */
    bool terminated;              /* shut down and quiescent; under mutex */
    pthread_cond_t quiet;         /* signalled when terminated; CLOCK_MONOTONIC */
    wse__atomic_u32 n_sleeping WSE__CACHE_ALIGNED; /* copy of n_parked for the
                                               lock-free check of submitters */
};

/* Why wse__park_sleep() returned. */
enum wse__park_result {
    WSE__PARK_RECHECK,   /* did not sleep: work or a notification was there */
    WSE__PARK_WOKEN,     /* slept and was woken: re-check */
    WSE__PARK_TERMINATED /* the pool is done */
};

/* Initialise for n worker slots, of which n_live start at once, whose external
 * queue is inject and whose loop offer slot is offer. 0, ENOMEM or a pthread
 * error (nothing left allocated). */
int wse__park_init(struct wse__park *p, unsigned n, unsigned n_live, struct wse__inject *inject,
                   const wse__atomic_ptr *offer);
void wse__park_destroy(struct wse__park *p);
/* In a forked child: free p's memory only (its locks belong to the parent's
 * threads). */
void wse__park_free_inherited(struct wse__park *p);
/* Register worker i's deque for the re-check (before worker i starts). */
void wse__park_attach(struct wse__park *p, unsigned i, struct wse__deque *dq);
/* A spare worker joins the live workers (before it runs anything), or leaves
 * them (it retires, with nothing on its stack or its deque). Leaving may
 * terminate a shut-down park. */
void wse__park_join(struct wse__park *p);
void wse__park_leave(struct wse__park *p);

/* Park worker `self`, idle at top level (it counts towards termination), until
 * woken or the executor terminates. A sleep counts in stats (parks: the owner's
 * block, under the park mutex, by the sleeping thread itself). */
enum wse__park_result wse__park_sleep(struct wse__park *p, unsigned self,
                                      struct wse__stats_thread *stats);
/* A worker waiting inside a task that may not help: block until latch trips,
 * *abandon (atomic) is set, or the deadline (may be NULL) passes. Not on the
 * sleeper stack: submissions do not wake it; wse__park_wake_one() does (call
 * it after setting *abandon). */
void wse__park_block(struct wse__park *p, unsigned self, const struct wse__latch *latch,
                     const struct wse__deadline *deadline, const wse__atomic_u32 *abandon);
/* wse__park_wake_some()'s part for when some worker sleeps. */
void wse__park_wake_sleepers(struct wse__park *p, size_t n);
/* After publishing n tasks: wake up to n parked workers, if any is parked.
 * need_fence: issue the full fence of the protocol first (see park.c). Inline:
 * every submit pays the check, and mostly nobody sleeps. */
static inline void
wse__park_wake_some(struct wse__park *p, size_t n, bool need_fence)
{
    if (need_fence) {
        /* Full fence: the published task before the read of n_sleeping;
         * pairs with the fence in wse__park_sleep() between the announce and
         * the re-check. */
        wse__atomic_fence_seq_cst();
    }
    /* relaxed: ordered by the fence above (or, for a worker's own push, a
     * hint: see park.c's file comment). Zero means no lock and no system call. */
    if (n > 0 && wse__atomic_load_u32_relaxed(&p->n_sleeping) != 0)
        wse__park_wake_sleepers(p, n);
}
/* Wake worker i if it is parked or blocked (its latch tripped). */
void wse__park_wake_one(struct wse__park *p, unsigned i);
/* Shut down: the last worker to go idle with no work left terminates the park.
 * Wakes every parked worker. */
void wse__park_shutdown(struct wse__park *p);
/* A task waits outside the queues and will be queued later: hold off
 * termination until it is released. false (nothing held) after shutdown. */
bool wse__park_hold(struct wse__park *p);
/* Release a hold, after its task was queued (or dropped); the park may
 * terminate now. */
void wse__park_unhold(struct wse__park *p);
/* Only n workers started (create failed part-way). */
void wse__park_set_live(struct wse__park *p, unsigned n);
/* Block until the park has terminated (shut down and quiescent). */
void wse__park_wait_quiet(struct wse__park *p);

#endif /* WSE__PARK_H */

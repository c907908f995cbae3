/*
 * The executor's internal face (executor.c): what the top-layer modules and the
 * white-box tests need beyond the public API.
 */
#ifndef WSE__EXECUTOR_H
#define WSE__EXECUTOR_H

#include <stdbool.h>

#include "wsexec.h"

#include "worker.h"

/* The pool of ex's workers. */
struct wse__pool *wse__executor_pool(wse_executor *ex);

/*
 * A task held outside every queue (a dependent waiting for its dependencies). It
 * counts as queued: shutdown(wait) and destroy wait for it, and
 * shutdown(cancel_pending) cancels its future (the holder learns of it through a
 * node on the future, as anyone would).
 */
struct wse__held {
    struct wse__held *prev; /* on ex's list; under its mutex */
    struct wse__held *next;
    wse_future *future;
    bool listed; /* under ex's mutex */
    bool swept;  /* shutdown(cancel_pending) tried it; under mutex */
};

/* Hold h (h->future set): 0, or ESHUTDOWN or (in a forked child) EOWNERDEAD
 * (nothing held). */
int wse__executor_hold(wse_executor *ex, struct wse__held *h);
/* Queue h's future (a reference that becomes the queue's) even after a shutdown,
 * then release the hold: on the calling worker's deque if it is a worker of ex,
 * else on the injection queue. */
void wse__executor_enqueue_held(wse_executor *ex, struct wse__held *h);
/* Release the hold without queueing (the future was cancelled). Idempotent. */
void wse__executor_release_held(wse_executor *ex, struct wse__held *h);

/* What a submission checks first: 0, EOWNERDEAD (a forked child) or ESHUTDOWN. */
int wse__executor_check(wse_executor *ex);
/* ex's worker count (wse_options.workers, or the default). */
unsigned wse__executor_workers(const wse_executor *ex);
/* Has ex a worker for every CPU this process may use? */
bool wse__executor_crowded(const wse_executor *ex);
/* Is the calling thread one of ex's workers (or spares)? */
bool wse__executor_is_own_worker(const wse_executor *ex);
/* Queue the chain first..last of n new futures (linked through next) as the
 * calling thread's submissions, all or nothing: on the calling worker's deque
 * if it is a worker of ex and the deque has room, else on the injection queue;
 * wakes parked workers for them. 0 or ESHUTDOWN (nothing queued). */
int wse__executor_queue(wse_executor *ex, wse_future *first, wse_future *last, size_t n);
/* Check ex as wse__executor_check() does, then queue one new future f as
 * wse_submit() does after making it: 0, EOWNERDEAD, ESHUTDOWN or ENOMEM,
 * nothing queued on error. */
int wse__executor_push(wse_executor *ex, wse_future *f);
/* wse__executor_queue() for a plain thread's loop runners: offered to ex's idle
 * workers in the pool's one offer slot (worker.h) if it is free (*offered set;
 * the caller must then call wse__executor_take_back() before its loop can
 * end), else queued. 0 or ESHUTDOWN (nothing queued). */
int wse__executor_offer(wse_executor *ex, wse_future *first, wse_future *last, size_t n,
                        bool *offered);
/* Take back the chain offered from `first`: true if no worker took it (the
 * caller then owns the queue's reference of every runner in it). */
bool wse__executor_take_back(wse_executor *ex, wse_future *first);

#endif /* WSE__EXECUTOR_H */

/*
 * The injection queue: tasks submitted by threads that are not workers of the
 * executor (inject.c).
 */
#ifndef WSE__INJECT_H
#define WSE__INJECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"
#include "deque.h"
#include "future.h"

struct wse__inject {
    pthread_mutex_t mutex;
    wse_future *head;                  /* FIFO of queued futures; under mutex */
    wse_future *tail;                  /* under mutex */
    uint32_t closed;                   /* shut down: no more pushes; under mutex */
    uint32_t cancelled;                /* closed with take_all; under mutex */
    int64_t length WSE__CACHE_ALIGNED; /* atomic: lock-free emptiness hint */
};

int wse__inject_init(struct wse__inject *q);
void wse__inject_destroy(struct wse__inject *q);
/* Append the chain first..last (n futures linked through next); if out is not
 * NULL, store the n futures there in chain order first. ESHUTDOWN if closed
 * (nothing appended, out untouched). */
int wse__inject_push(struct wse__inject *q, wse_future *first, wse_future *last, int64_t n,
                     wse_future *out[]);
/* Append f even if the queue is closed (a task accepted before the close). */
void wse__inject_push_always(struct wse__inject *q, wse_future *f);
/* The same for a chain of n (the later chunks of a batch accepted before the
 * close), unless a close took everything queued (cancel_pending): then false,
 * nothing is appended, and the caller cancels the chain as the close's taker
 * cancels what it took. */
bool wse__inject_push_accepted(struct wse__inject *q, wse_future *first, wse_future *last,
                               int64_t n);
/* Pop the oldest future, or NULL. The worker that owns dq also moves its fair
 * share of the rest (length / ways), at most `max`, into dq, so that a big batch
 * is not taken from the queue's mutex one task at a time. dq may be NULL. It
 * takes the mutex: callers check wse__inject_nonempty() first, without it. */
wse_future *wse__inject_pop(struct wse__inject *q, struct wse__deque *dq, int64_t max,
                            unsigned ways);
/* Is f queued here (a hint: a worker may pop it at once)? Takes the mutex;
 * looks at no more than `max` entries. */
bool wse__inject_contains(struct wse__inject *q, const wse_future *f, int64_t max);
/* Close the queue (later pushes fail); return the queued chain if take_all. */
wse_future *wse__inject_close(struct wse__inject *q, bool take_all);
/* True if the queue may hold something (a hint; see inject.c for the order). */
bool wse__inject_nonempty(struct wse__inject *q);

#endif /* WSE__INJECT_H */

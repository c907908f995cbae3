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
#include "future.h"

/*
 * Two parts, in queue order: the front, a bounded lock-free FIFO holding the
 * oldest queued futures, which every taker takes from one at a time; and the
 * list behind it, which holds the rest. Every future in the front was queued
 * before every future in the list. See inject.c.
 */
/* Slots of the front (a power of two): a refill moves at most this many. */
#define WSE__INJECT_FRONT 64

/* A slot of the front: seq says whose turn it is (see inject.c). */
struct wse__inject_cell {
    wse__atomic_u64 seq;
    wse__atomic_ptr f; /* the future, valid while seq says full */
};

struct wse__inject {
    wse__atomic_i64 front_head WSE__CACHE_ALIGNED; /* the next position to take; takers CAS it */
    wse__atomic_i64 front_tail WSE__CACHE_ALIGNED; /* the next position to fill; under mutex */
    struct wse__inject_cell cells[WSE__INJECT_FRONT];
    pthread_mutex_t mutex;                     /* order: a leaf: nothing is taken under it */
    wse_future *head;                          /* the list: FIFO through next; under mutex */
    wse_future *tail;                          /* under mutex */
    uint32_t closed;                           /* shut down: no more pushes; under mutex */
    uint32_t cancelled;                        /* closed with take_all; under mutex */
    wse__atomic_i64 length WSE__CACHE_ALIGNED; /* futures in the list (not the front) */
};

/* 0 or a pthread error. */
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
/* Take the oldest queued future, or NULL if none. Lock-free while the front
 * holds one; otherwise it takes the mutex to refill the front from the list.
 * Callers check wse__inject_nonempty() first. */
wse_future *wse__inject_pop(struct wse__inject *q);
/* Is f queued here (a hint: a worker may pop it at once)? Takes the mutex;
 * looks at no more than `max` entries. */
bool wse__inject_contains(struct wse__inject *q, const wse_future *f, int64_t max);
/* Close the queue (later pushes fail); return the queued chain if take_all. */
wse_future *wse__inject_close(struct wse__inject *q, bool take_all);
/* True if the queue may hold something (a hint; see inject.c for the order). */
bool wse__inject_nonempty(struct wse__inject *q);

#endif /* WSE__INJECT_H */

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
#include "park.h"

/* Pool flags (wse__pool.flags). */
#define WSE__POOL_SHUTDOWN 0x1u   /* no new submissions */
#define WSE__POOL_CANCEL 0x2u     /* cancel tasks instead of running them */

struct wse__worker;

/* The workers of one executor and their shared queues. */
struct wse__pool {
    wse_executor *owner;          /* the executor this pool is (wse_current()) */
    unsigned n_workers;
    unsigned spin_rounds;
    char thread_name[11];         /* worker name prefix */
    struct wse__worker *workers;  /* n_workers, cache-aligned */
    uint32_t flags;               /* atomic: WSE__POOL_SHUTDOWN | WSE__POOL_CANCEL */
    struct wse__inject inject;
    struct wse__park park;
    /* Hooks (wse_options) and create's wait for the start hooks. */
    void (*on_start)(wse_executor *ex, unsigned index, void *ctx);
    void (*on_stop)(wse_executor *ex, unsigned index, void *ctx);
    void *hook_ctx;
    pthread_mutex_t start_mutex;
    pthread_cond_t start_cond;
    unsigned n_started;           /* workers past their start hook; under start_mutex */
};

struct wse__worker {
    struct wse__deque deque;      /* own cache lines */
    struct wse__pool *pool;
    unsigned index;
    uint64_t rng;                 /* victim selection; owner only */
    pthread_t thread;
} WSE__CACHE_ALIGNED;

/* The calling thread's worker (NULL on other threads). The chain of tasks it runs
 * is the future layer's (wse__future_running). */
extern WSE__TLS struct wse__worker *wse__worker_tls;

/* Set up worker `index` of pool with a deque of `capacity` slots: 0 or ENOMEM.
 * Destroy frees its deque. */
int wse__worker_init(struct wse__worker *w, struct wse__pool *pool, unsigned index,
                     size_t capacity);
void wse__worker_destroy(struct wse__worker *w);

/* Find a task for w: own deque, injection queue, then steal. NULL if none. */
wse_future *wse__worker_find_task(struct wse__worker *w);
/* Run (or drop, if cancelled) a task taken from a queue; drops the queue's
 * reference. */
void wse__worker_run_task(struct wse__worker *w, wse_future *f);
/* The thread function of a worker (arg: its struct wse__worker). It runs the
 * start hook, counts itself started, runs tasks until the park terminates, then
 * runs the stop hook. */
void *wse__worker_main(void *arg);
/* Block until n workers of pool have passed their start hook. */
void wse__worker_started_wait(struct wse__pool *pool, unsigned n);

#endif /* WSE__WORKER_H */

/*
 * Plain threads that run what they wait on (wse_options.caller_runs).
 *
 * The pools of executors created with caller_runs are on one process-wide
 * list. A plain thread (no worker, outside any task) that waits on futures
 * looks them up in those pools' queues and claims one that is still PENDING
 * by starting it in place (its queue entry stays, a tombstone its taker
 * drops), then runs it here: the same rule as a waiting worker's (only what it
 * waits on), so it never runs a task that could need its frame to return.
 *
 * Lifetime. A claim takes a hold on the pool's park before it starts the task,
 * under callers_mutex: destroy removes the pool from the list (same mutex)
 * before it shuts down, and a hold fails after shutdown, so the pool, and its
 * executor, outlive every task a plain thread runs for them.
 */
#include "callers.h"

#include "park.h"
#include "sync.h"
#include "tune.h"

/* The pools whose executor has caller_runs, linked through callers_next. */
/* order: outermost; park.mutex is taken under it (wse__park_hold()). */
static pthread_mutex_t callers_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct wse__pool *callers_head; /* under callers_mutex */
static wse__atomic_u32 n_callers;      /* pools on the list (a hint) */

WSE__TLS struct wse__pool *wse__caller_pool;

void
wse__callers_add(struct wse__pool *pool)
{
    wse__sync_lock(&callers_mutex);
    pool->callers_next = callers_head;
    callers_head = pool;
    /* relaxed: a hint for plain waiters; the list is read under the mutex. */
    wse__atomic_store_u32_relaxed(&n_callers, wse__atomic_load_u32_relaxed(&n_callers) + 1);
    wse__sync_unlock(&callers_mutex);
}

void
wse__callers_remove(struct wse__pool *pool)
{
    struct wse__pool **p;

    wse__sync_lock(&callers_mutex);
    for (p = &callers_head; *p != NULL; p = &(*p)->callers_next) {
        if (*p == pool) {
            *p = pool->callers_next;
            /* relaxed: as in wse__callers_add(). */
            wse__atomic_store_u32_relaxed(&n_callers, wse__atomic_load_u32_relaxed(&n_callers) - 1);
            break;
        }
    }
    wse__sync_unlock(&callers_mutex);
}

void
wse__callers_forget(void)
{
    /* A forked child has one thread: the mutex may have been held by another
     * thread of the parent, and the pools on the list are the parent's. */
    (void)pthread_mutex_init(&callers_mutex, NULL);
    callers_head = NULL;
    /* relaxed: as in wse__callers_add(). */
    wse__atomic_store_u32_relaxed(&n_callers, 0);
}

bool
wse__callers_exist(void)
{
    /* relaxed: a hint (the list is read under its mutex); with no executor
     * registered, a plain wait pays this one load. */
    return wse__atomic_load_u32_relaxed(&n_callers) != 0;
}

wse_future *
wse__callers_claim(wse_future *const futures[], size_t n, struct wse__pool **pool_out)
{
    struct wse__pool *pool;
    wse_future *f;
    int64_t budget;
    size_t i;

    if (!wse__callers_exist())
        return NULL;
    wse__sync_lock(&callers_mutex);
    for (pool = callers_head; pool != NULL; pool = pool->callers_next) {
        budget = WSE__CALLER_BUDGET;
        for (i = 0; i < n && budget > 0; i++) {
            f = futures[i];
            if (wse__future_state_acquire(f) != WSE_PENDING ||
                !wse__worker_queued_in_pool(pool, NULL, f, &budget))
                continue;
            /* The hold keeps the pool from terminating, and so its executor
             * from being freed, until the task has run here: destroy takes
             * the pool off the list (this mutex) before it shuts down. It
             * fails once the executor is shut down: then it runs nothing. */
            if (!wse__park_hold(&pool->park))
                break;
            if (wse__worker_may_claim(pool, f) && wse__future_start(f)) {
                wse__sync_unlock(&callers_mutex);
                *pool_out = pool;
                return f;
            }
            wse__park_unhold(&pool->park);
        }
    }
    wse__sync_unlock(&callers_mutex);
    return NULL;
}

/* Restores the caller's context on any exit from wse__callers_run(), a
 * C++ exception unwinding through it included. */
struct caller_guard {
    struct wse__pool *pool;
    struct wse__pool *outer;
};

static void
caller_guard_exit(struct caller_guard *g)
{
    wse__caller_pool = g->outer;
    wse__park_unhold(&g->pool->park);
}

void
wse__callers_run(struct wse__pool *pool, wse_future *f)
{
    struct caller_guard guard __attribute__((cleanup(caller_guard_exit)));

    guard.pool = pool;
    guard.outer = wse__caller_pool;
    wse__caller_pool = guard.pool;
    wse__worker_run_claimed(pool, NULL, f);
}

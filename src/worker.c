/*
 * Worker threads: the main loop, finding a task, running one.
 *
 * Where a worker looks for work, in order: its own deque (LIFO: the newest task,
 * usually a child of what it just ran), the injection queue (FIFO, tasks from
 * outside threads), then the other workers' deques, starting at a random victim
 * and stealing the oldest task (FIFO: the biggest piece of a fork-join tree). An
 * idle worker repeats that for spin_rounds rounds, then parks (park.c).
 *
 * The same search serves a worker that waits inside a task (the wait layer):
 * it helps by running whatever it finds until its latch trips.
 */
#include "worker.h"

#include <sched.h>
#include <stdio.h>

#include "alloc.h"
#include "latch.h"
#include "sync.h"

WSE__TLS struct wse__worker *wse__worker_tls;

int
wse__worker_init(struct wse__worker *w, struct wse__pool *pool, unsigned index, size_t capacity)
{
    int rc = wse__deque_init(&w->deque, capacity);

    if (rc != 0)
        return rc;
    w->pool = pool;
    w->index = index;
    w->rng = 0x9E3779B97F4A7C15ULL * (index + 1) ^ (uintptr_t)pool;
    if (w->rng == 0)
        w->rng = 1;
    return 0;
}

void
wse__worker_destroy(struct wse__worker *w)
{
    wse__deque_destroy(&w->deque);
}

/* xorshift64*: victim selection only; owner-only state. */
static unsigned
next_random(struct wse__worker *w)
{
    uint64_t x = w->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return (unsigned)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static wse_future *
steal_any(struct wse__worker *w)
{
    struct wse__pool *pool = w->pool;
    unsigned n = pool->n_workers;
    unsigned start;
    unsigned i;
    struct wse__worker *victim;
    void *item;
    enum wse__deque_steal_result r;

    if (n < 2)
        return NULL;
    start = next_random(w) % n;
    for (i = 0; i < n; i++) {
        victim = &pool->workers[(start + i) % n];
        if (victim == w)
            continue;
        do {
            r = wse__deque_steal(&victim->deque, &item);
            if (r == WSE__DEQUE_STOLEN)
                return item;
            /* ABORT: another taker won the race for that item; the deque may
             * hold more, so try again rather than treat it as empty. */
        } while (r == WSE__DEQUE_ABORT);
    }
    return NULL;
}

/* At most this many tasks move from the injection queue to a deque at once. */
#define INJECT_GRAB_MAX 32

wse_future *
wse__worker_find_task(struct wse__worker *w)
{
    struct wse__pool *pool = w->pool;
    wse_future *f = wse__deque_pop(&w->deque);
    int64_t room;

    if (f == NULL && wse__inject_nonempty(&pool->inject)) {
        /* Our share of what is queued, as much as fits in the deque without
         * growing. */
        room = wse__deque_room(&w->deque);
        f = wse__inject_pop(&pool->inject, &w->deque,
                            room < INJECT_GRAB_MAX ? room : INJECT_GRAB_MAX, pool->n_workers);
    }
    if (f == NULL)
        f = steal_any(w);
    return f;
}

void
wse__worker_run_task(struct wse__worker *w, wse_future *f)
{
    struct wse__running running;
    void *result = NULL;
    int rc;

    /* acquire: pairs with the release in the executor's set_flags(): after a
     * shutdown with cancel_pending, queued tasks are cancelled, not run. Nor
     * does a task run whose lineage was stopped while it was queued. */
    if ((wse__atomic_load_u32_acquire(&w->pool->flags) & WSE__POOL_CANCEL) ||
        wse__future_stop_reached(f->parent)) {
        wse__future_cancel_queued(f);
        return;
    }
    if (!wse__future_start(f)) {
        /* Cancelled while queued: drop the queue's reference. */
        wse_future_release(f);
        return;
    }
    wse__future_enter(&running, f);
    rc = f->u.fn(f->arg, &result);
    wse__future_leave(&running);
    wse__future_finish_release(f, rc, result);
    /* A plain thread woken from wait() is runnable but may sit behind busy
     * workers for a whole scheduler slice (measured with perf sched: 1-4 ms on
     * 2 CPUs); giving up the CPU between tasks lets it run now. */
    if (wse__latch_wakeups_pending())
        sched_yield();
}

/* wse__worker_find_task(), retried for up to spin_rounds rounds before giving
 * up (NULL). */
static wse_future *
search(struct wse__worker *w)
{
    unsigned rounds = w->pool->spin_rounds;
    wse_future *f;
    unsigned i;

    for (i = 0; i <= rounds; i++) {
        f = wse__worker_find_task(w);
        if (f != NULL)
            return f;
        if (i % 16 == 15)
            sched_yield();
        else
            wse__atomic_pause();
    }
    return NULL;
}

/* wse_worker_index() + 1 on a worker, 0 elsewhere: one thread-local load. */
static WSE__TLS int worker_index_plus_one;

int
wse_worker_index(void)
{
    return worker_index_plus_one - 1;
}

void
wse__worker_started_wait(struct wse__pool *pool, unsigned n)
{
    wse__sync_lock(&pool->start_mutex);
    while (pool->n_started < n)
        wse__sync_cond_wait(&pool->start_cond, &pool->start_mutex, NULL);
    wse__sync_unlock(&pool->start_mutex);
}

void *
wse__worker_main(void *arg)
{
    struct wse__worker *w = arg;
    struct wse__pool *pool = w->pool;
    wse_future *f;
    char name[16];

    wse__worker_tls = w;
    worker_index_plus_one = (int)w->index + 1;
    wse__alloc_cache_enable();
    /* Truncation is harmless: the name is a debugging aid (15 bytes at most). */
    (void)snprintf(name, sizeof(name), "%.10s-%u", pool->thread_name, w->index);
    (void)pthread_setname_np(pthread_self(), name);
    if (pool->on_start != NULL)
        pool->on_start(pool->owner, w->index, pool->hook_ctx);
    /* create returns once every start hook has returned. */
    wse__sync_lock(&pool->start_mutex);
    pool->n_started++;
    pthread_cond_broadcast(&pool->start_cond);
    wse__sync_unlock(&pool->start_mutex);
    for (;;) {
        f = search(w);
        if (f != NULL) {
            wse__worker_run_task(w, f);
            continue;
        }
        if (wse__park_sleep(&pool->park, w->index, NULL, NULL) == WSE__PARK_TERMINATED)
            break;
    }
    if (pool->on_stop != NULL)
        pool->on_stop(pool->owner, w->index, pool->hook_ctx);
    wse__alloc_cache_disable();
    worker_index_plus_one = 0;
    wse__worker_tls = NULL;
    return NULL;
}

/*
 * Worker threads: the main loop, finding a task, running one.
 *
 * Where a worker looks for work, in order: its own deque (LIFO: the newest task,
 * usually a child of what it just ran), the injection queue (FIFO, tasks from
 * outside threads), then the other workers' deques, starting at a random victim
 * and stealing the oldest task (FIFO: the biggest piece of a fork-join tree). An
 * idle worker repeats that for spin_rounds rounds, then parks (park.c).
 *
 * A worker that waits inside a task (the wait layer) does not search: it may
 * run only the tasks it waits on (wse__worker_take()), and blocks otherwise,
 * with a spare worker started or resumed in its place (wse__worker_block()).
 * Spares live in the slots after the workers; one retires at top level when
 * more threads run than the pool has workers. See docs/design.md, "Safe
 * helping".
 */
#include "worker.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "alloc.h"
#include "clock.h"
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
    w->spin_budget = pool->spin_ns;
    w->spare = index >= pool->n_workers;
    w->stand_in = index;
    if (w->spare) {
        rc = wse__sync_cond_init(&w->resume);
        if (rc != 0) {
            wse__deque_destroy(&w->deque);
            return rc;
        }
    }
    w->ready = true;
    return 0;
}

void
wse__worker_destroy(struct wse__worker *w)
{
    if (!w->ready)
        return;
    if (w->spare)
        pthread_cond_destroy(&w->resume);
    wse__deque_destroy(&w->deque);
    w->ready = false;
}

int
wse__worker_spawn(struct wse__worker *w)
{
    pthread_attr_t attr;
    int rc;

    if (wse__fault_thread_start())
        return EAGAIN;
    rc = pthread_attr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_attr_setstacksize(&attr, w->pool->stack_size);
    if (rc == 0)
        rc = pthread_create(&w->thread, &attr, wse__worker_main, w);
    pthread_attr_destroy(&attr);
    return rc;
}

int
wse__worker_spares_init(struct wse__pool *pool, size_t deque_capacity)
{
    struct wse__spares *sp = &pool->spares;

    sp->n_blocked = 0;
    sp->n_active = 0;
    sp->n_stack_blocked = 0;
    sp->closing = false;
    sp->excess = 0;
    sp->deque_capacity = deque_capacity;
    return pthread_mutex_init(&sp->mutex, NULL);
}

void
wse__worker_spares_destroy(struct wse__pool *pool)
{
    pthread_mutex_destroy(&pool->spares.mutex);
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
    /* acquire: pairs with the release in start_spare(): the slot's deque is
     * initialised. */
    unsigned n = wse__atomic_load_u32_acquire(&pool->n_spawned);
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

wse_future *
wse__worker_find_task(struct wse__worker *w)
{
    struct wse__pool *pool = w->pool;
    wse_future *f = wse__deque_pop(&w->deque);

    /* From outside: one at a time, the oldest (inject.c: submission order). */
    if (f == NULL && wse__inject_nonempty(&pool->inject))
        f = wse__inject_pop(&pool->inject);
    if (f == NULL)
        f = steal_any(w);
    return f;
}

/*
 * A C++ exception that leaves a task unwinds through this frame (the library
 * is built with -fexceptions). The guard's cleanup runs on every exit from
 * run_started(); on a normal return it does nothing, while unwinding it puts
 * the running chain back and finishes the task FAILED with ENOTRECOVERABLE
 * (waking its waiters, running its callbacks, dropping the reference), then
 * the exception goes on to the caller's handler.
 */
struct run_guard {
    struct wse__running running;
    wse_future *f;
    bool returned;
};

static void
run_guard_unwind(struct run_guard *g)
{
    if (g->returned)
        return;
    wse__future_leave(&g->running);
    wse__future_finish_release(g->f, ENOTRECOVERABLE, NULL);
}

/* Run f, which this thread moved to RUNNING, and finish it; drops one
 * reference, which the caller holds. */
static void
run_started(wse_future *f)
{
    struct run_guard guard __attribute__((cleanup(run_guard_unwind)));
    void *result = NULL;
    int rc;

    guard.f = f;
    guard.returned = false;
    wse__future_enter(&guard.running, f);
    rc = f->u.fn(f->arg, &result);
    guard.returned = true;
    wse__future_leave(&guard.running);
    wse__future_finish_release(f, rc, result);
    /* A plain thread woken from wait() is runnable but may sit behind busy
     * workers for a whole scheduler slice (measured with perf sched: 1-4 ms on
     * 2 CPUs); giving up the CPU between tasks lets it run now. */
    if (wse__latch_wakeups_pending())
        sched_yield();
}

void
wse__worker_run_task(struct wse__worker *w, wse_future *f)
{
    /* acquire: pairs with the release in the executor's set_flags(): after a
     * shutdown with cancel_pending, queued tasks are cancelled, not run. Nor
     * does a task run whose lineage was stopped while it was queued. */
    if ((wse__atomic_load_u32_acquire(&w->pool->flags) & WSE__POOL_CANCEL) ||
        wse__future_stop_reached(f->parent)) {
        wse__future_cancel_queued(f);
        return;
    }
    if (!wse__future_start(f)) {
        /* Cancelled while queued, or claimed in place by a waiter (a
         * tombstone): drop the queue's reference. */
        wse_future_release(f);
        return;
    }
    run_started(f);
}

void
wse__worker_run_claimed(struct wse__worker *w, wse_future *f)
{
    /* The queue keeps its reference (its taker drops it); finishing drops this
     * one. */
    (void)w;
    run_started(wse_future_retain(f));
}

/* ------------------------------------------------------------------------- */
/* Helping while waiting                                                       */

/* Is f queued anywhere in w's pool? Looks at no more than *budget entries of
 * the other queues. */
static bool
queued_in_pool(struct wse__pool *pool, struct wse__worker *w, const wse_future *f, int64_t *budget)
{
    /* acquire: as in steal_any(). */
    unsigned n = wse__atomic_load_u32_acquire(&pool->n_spawned);
    unsigned i;
    int64_t len;

    if (w != NULL && wse__deque_contains(&w->deque, f))
        return true;
    for (i = 0; i<n && * budget> 0; i++) {
        if (&pool->workers[i] == w)
            continue;
        len = wse__deque_size_hint(&pool->workers[i].deque);
        if (len == 0)
            continue;
        *budget -= len;
        if (wse__deque_contains(&pool->workers[i].deque, f))
            return true;
    }
    if (*budget <= 0)
        return false;
    len = *budget;
    *budget = 0;
    return wse__inject_contains(&pool->inject, f, len);
}

/* May a waiter claim f, a PENDING task of pool, to run it? */
static bool
may_claim(struct wse__pool *pool, wse_future *f)
{
    /* acquire: as in wse__worker_run_task(): a cancelling pool runs nothing. */
    if (wse__atomic_load_u32_acquire(&pool->flags) & WSE__POOL_CANCEL)
        return false;
    if (wse__future_stop_reached(f->parent)) {
        /* Stopped through its lineage: it would be cancelled when taken; do it
         * now, which also wakes the waiter. */
        (void)wse_future_cancel(f);
        return false;
    }
    return true;
}

enum wse__take
wse__worker_take(struct wse__worker *w, wse_future *f, int64_t *budget)
{
    wse_future *g;

    if (wse__future_state_acquire(f) != WSE_PENDING)
        return WSE__TAKE_NONE;
    if (!may_claim(w->pool, f))
        return WSE__TAKE_NONE;
    if (wse__deque_peek(&w->deque) == f) {
        /* The usual fork-join case: the child just pushed. The pop returns f
         * or, if a thief took it meanwhile, NULL (only we write our slots). */
        g = wse__deque_pop(&w->deque);
        if (g == f)
            return WSE__TAKE_POPPED;
    }
    /* Anywhere else in the pool: a future found in our queues is a task of
     * this executor, so it may run here; starting it decides the race with
     * whoever takes its queue entry. */
    if (queued_in_pool(w->pool, w, f, budget) && wse__future_start(f))
        return WSE__TAKE_CLAIMED;
    return WSE__TAKE_NONE;
}

/* ------------------------------------------------------------------------- */
/* Plain threads that run what they wait on (wse_options.caller_runs)          */

/* Queue entries a plain waiter looks at per pool and attempt. */
#define CALLER_BUDGET 4096

/* The pools whose executor has caller_runs, linked through callers_next. */
static pthread_mutex_t callers_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct wse__pool *callers_head; /* under callers_mutex */
static uint32_t n_callers;             /* atomic: pools on the list (a hint) */

WSE__TLS struct wse__pool *wse__worker_caller_pool;

void
wse__worker_callers_add(struct wse__pool *pool)
{
    wse__sync_lock(&callers_mutex);
    pool->callers_next = callers_head;
    callers_head = pool;
    /* relaxed: a hint for plain waiters; the list is read under the mutex. */
    wse__atomic_store_u32_relaxed(&n_callers, wse__atomic_load_u32_relaxed(&n_callers) + 1);
    wse__sync_unlock(&callers_mutex);
}

void
wse__worker_callers_remove(struct wse__pool *pool)
{
    struct wse__pool **p;

    wse__sync_lock(&callers_mutex);
    for (p = &callers_head; *p != NULL; p = &(*p)->callers_next) {
        if (*p == pool) {
            *p = pool->callers_next;
            /* relaxed: as in wse__worker_callers_add(). */
            wse__atomic_store_u32_relaxed(&n_callers, wse__atomic_load_u32_relaxed(&n_callers) - 1);
            break;
        }
    }
    wse__sync_unlock(&callers_mutex);
}

void
wse__worker_callers_forget(void)
{
    /* A forked child has one thread: the mutex may have been held by another
     * thread of the parent, and the pools on the list are the parent's. */
    (void)pthread_mutex_init(&callers_mutex, NULL);
    callers_head = NULL;
    /* relaxed: as in wse__worker_callers_add(). */
    wse__atomic_store_u32_relaxed(&n_callers, 0);
}

bool
wse__worker_callers_exist(void)
{
    /* relaxed: a hint (the list is read under its mutex); with no executor
     * registered, a plain wait pays this one load. */
    return wse__atomic_load_u32_relaxed(&n_callers) != 0;
}

wse_future *
wse__worker_caller_claim(wse_future *const futures[], size_t n, struct wse__pool **pool_out)
{
    struct wse__pool *pool;
    wse_future *f;
    int64_t budget;
    size_t i;

    if (!wse__worker_callers_exist())
        return NULL;
    wse__sync_lock(&callers_mutex);
    for (pool = callers_head; pool != NULL; pool = pool->callers_next) {
        budget = CALLER_BUDGET;
        for (i = 0; i < n && budget > 0; i++) {
            f = futures[i];
            if (wse__future_state_acquire(f) != WSE_PENDING ||
                !queued_in_pool(pool, NULL, f, &budget))
                continue;
            /* The hold keeps the pool from terminating, and so its executor
             * from being freed, until the task has run here: destroy takes
             * the pool off the list (this mutex) before it shuts down. It
             * fails once the executor is shut down: then it runs nothing. */
            if (!wse__park_hold(&pool->park))
                break;
            if (may_claim(pool, f) && wse__future_start(f)) {
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

/* Restores the caller's context on any exit from wse__worker_caller_run(), a
 * C++ exception unwinding through it included. */
struct caller_guard {
    struct wse__pool *pool;
    struct wse__pool *outer;
};

static void
caller_guard_exit(struct caller_guard *g)
{
    wse__worker_caller_pool = g->outer;
    wse__park_unhold(&g->pool->park);
}

void
wse__worker_caller_run(struct wse__pool *pool, wse_future *f)
{
    struct caller_guard guard __attribute__((cleanup(caller_guard_exit)));

    guard.pool = pool;
    guard.outer = wse__worker_caller_pool;
    wse__worker_caller_pool = guard.pool;
    /* As wse__worker_run_claimed(): the queue keeps its reference. */
    run_started(wse_future_retain(f));
}

/* wse_worker_index() + 1 on a worker, 0 elsewhere: one thread-local load. A
 * spare reports the index of the worker it stands in for (worker.h). */
static WSE__TLS int worker_index_plus_one;

/* Under spares.mutex: keep the lock-free hint current. */
static void
publish_excess(struct wse__spares *sp)
{
    /* relaxed: a hint that a spare reads between tasks; it decides under the
     * mutex. */
    wse__atomic_store_u32_relaxed(&sp->excess, sp->n_active > sp->n_blocked);
}

/* Under spares.mutex: start the spare in the first unstarted slot, standing in
 * for worker index `stand_in`. */
static bool
start_spare(struct wse__pool *pool, unsigned stand_in)
{
    /* relaxed: written only under spares.mutex, which we hold. */
    unsigned i = wse__atomic_load_u32_relaxed(&pool->n_spawned);
    struct wse__worker *s;

    if (i >= pool->n_slots)
        return false;
    s = &pool->workers[i];
    if (wse__worker_init(s, pool, i, pool->spares.deque_capacity) != 0)
        return false;
    /* Before the thread exists: it reads it at start. */
    s->stand_in = stand_in;
    wse__park_attach(&pool->park, i, &s->deque);
    wse__park_join(&pool->park);
    if (wse__worker_spawn(s) != 0) {
        /* No thread: the slot stays unused (its deque is empty). */
        wse__park_leave(&pool->park);
        wse__park_attach(&pool->park, i, NULL);
        wse__worker_destroy(s);
        return false;
    }
    /* release: the slot's initialised deque before the count; pairs with the
     * acquire loads in steal_any() and queued_in_pool(). */
    wse__atomic_store_u32_release(&pool->n_spawned, i + 1);
    return true;
}

/* Under spares.mutex: resume a retired spare, or start one, standing in for
 * worker index `stand_in` (the blocking thread's). */
static bool
activate_spare(struct wse__pool *pool, unsigned stand_in)
{
    unsigned n = wse__atomic_load_u32_relaxed(&pool->n_spawned);
    unsigned i;

    for (i = pool->n_workers; i < n; i++) {
        struct wse__worker *s = &pool->workers[i];

        if (s->retired) {
            s->retired = false;
            s->stand_in = stand_in;
            wse__park_join(&pool->park);
            pthread_cond_signal(&s->resume);
            return true;
        }
    }
    return start_spare(pool, stand_in);
}

/* Under spares.mutex: every thread of the pool is blocked; wake the ones
 * blocked for want of stack to give up (EAGAIN): nothing else would ever run
 * the tasks they wait on. */
static void
abandon_stack_blocked(struct wse__pool *pool)
{
    unsigned n = wse__atomic_load_u32_relaxed(&pool->n_spawned);
    unsigned i;

    for (i = 0; i < n && pool->spares.n_stack_blocked > 0; i++) {
        struct wse__worker *o = &pool->workers[i];

        if (o->stack_blocked) {
            /* release: pairs with the acquire load in wse__park_block(). */
            wse__atomic_store_u32_release(&o->abandon, 1);
            wse__park_wake_one(&pool->park, i);
        }
    }
}

wse_future *
wse__worker_steal(struct wse__worker *w)
{
    return steal_any(w);
}

void
wse__worker_give_back(struct wse__worker *w, wse_future *f)
{
    if (wse__deque_push(&w->deque, f) != 0) {
        /* No room and no memory to grow: the injection queue takes it (past a
         * shutdown too: the task was accepted before it). */
        wse__inject_push_always(&w->pool->inject, f);
    }
    /* With the full fence, as for a submission from outside: this thread is
     * inside a wait and may block without re-checking its deque, so a worker
     * that parked while the task was in our hands must hear of it. */
    wse__park_wake_some(&w->pool->park, 1, true);
}

int
wse__worker_block(struct wse__worker *w, const struct wse__latch *l,
                  const struct wse__deadline *deadline, bool stack_low, bool spin)
{
    struct wse__pool *pool = w->pool;
    struct wse__spares *sp = &pool->spares;
    bool gave_up;

    if (spin && wse__latch_spin(l, deadline, WSE__BLOCK_SPIN_NS, 64, NULL))
        return 0;
    wse__sync_lock(&sp->mutex);
    /* Running threads: n_workers + n_active - n_blocked. Keep n_workers
     * running once we block; at the ceiling (no slot left) block without. */
    if (sp->n_active < sp->n_blocked + 1) {
        if (activate_spare(pool, w->stand_in)) {
            sp->n_active++;
        } else if (pool->n_workers + sp->n_active == sp->n_blocked + 1) {
            /* We are the last running thread. */
            if (stack_low) {
                /* What we wait on may need a stack this thread no longer
                 * has, and nobody else runs: it could wait forever. */
                wse__sync_unlock(&sp->mutex);
                return EAGAIN;
            }
            abandon_stack_blocked(pool);
        }
    }
    sp->n_blocked++;
    if (stack_low) {
        w->stack_blocked = true;
        sp->n_stack_blocked++;
    }
    publish_excess(sp);
    wse__sync_unlock(&sp->mutex);

    wse__park_block(&pool->park, w->index, l, deadline, &w->abandon);

    wse__sync_lock(&sp->mutex);
    sp->n_blocked--;
    if (stack_low) {
        w->stack_blocked = false;
        sp->n_stack_blocked--;
    }
    publish_excess(sp);
    /* Under the mutex, as it was set: cleared for the next wait. */
    gave_up = wse__atomic_load_u32_relaxed(&w->abandon) != 0;
    wse__atomic_store_u32_relaxed(&w->abandon, 0);
    wse__sync_unlock(&sp->mutex);
    return gave_up && !wse__latch_tripped(l) ? EAGAIN : 0;
}

/* A spare at top level: retire if more threads run than the pool needs (its
 * deque is empty: nobody else pushes on it), until resumed. False when the
 * executor is being destroyed: the spare exits. */
static bool
spare_retire_if_excess(struct wse__worker *w)
{
    struct wse__pool *pool = w->pool;
    struct wse__spares *sp = &pool->spares;
    bool keep = true;

    /* relaxed: a hint; decided under the mutex. */
    if (!wse__atomic_load_u32_relaxed(&sp->excess) || wse__deque_size_hint(&w->deque) != 0)
        return true;
    wse__sync_lock(&sp->mutex);
    if (sp->n_active > sp->n_blocked && !sp->closing) {
        sp->n_active--;
        publish_excess(sp);
        w->retired = true;
        wse__park_leave(&pool->park);
        /* We may be here because a submitter's wake picked us off the sleepers'
         * stack (a spare parks on it like any worker): retiring consumes that
         * wake, and the task it was for could stay queued with every worker
         * parked. Pass it on; a needless one costs a parked worker a re-check. */
        wse__park_wake_some(&pool->park, 1, true);
        while (w->retired && !sp->closing)
            wse__sync_cond_wait(&w->resume, &sp->mutex, NULL);
        keep = !w->retired;
        /* Resumed for another blocked worker: report its index. */
        worker_index_plus_one = (int)w->stand_in + 1;
    }
    wse__sync_unlock(&sp->mutex);
    return keep;
}

void
wse__worker_spares_join(struct wse__pool *pool)
{
    struct wse__spares *sp = &pool->spares;
    unsigned n = wse__atomic_load_u32_acquire(&pool->n_spawned);
    unsigned i;

    wse__sync_lock(&sp->mutex);
    sp->closing = true;
    for (i = pool->n_workers; i < n; i++)
        pthread_cond_signal(&pool->workers[i].resume);
    wse__sync_unlock(&sp->mutex);
    for (i = pool->n_workers; i < n; i++) {
        pthread_join(pool->workers[i].thread, NULL);
        wse__worker_destroy(&pool->workers[i]);
    }
}

/* The floor of the adaptive idle spin (ns): a worker that just missed keeps
 * looking this long at least (or spin_us, if that is shorter). */
#define SPIN_FLOOR_NS 2000

/* Set the spin budget to ns, within [min(SPIN_FLOOR_NS, spin_ns), spin_ns]. */
static void
spin_set(struct wse__worker *w, int64_t ns)
{
    int64_t max = w->pool->spin_ns;
    int64_t floor = max < SPIN_FLOOR_NS ? max : SPIN_FLOOR_NS;

    w->spin_budget = ns < floor ? floor : ns > max ? max : ns;
}

/* Work came `ns` after the search (or park) began: raise the budget to twice
 * that, what spinning would have needed to find it without parking. A gap of
 * spin_ns or more leaves it as it is (no spin allowed could have bridged it). */
static void
spin_learn(struct wse__worker *w, int64_t ns)
{
    if (ns < w->pool->spin_ns && 2 * ns > w->spin_budget)
        spin_set(w, 2 * ns);
}

/*
 * wse__worker_find_task(), retried for spin_rounds rounds and then for as long
 * as the worker's spin budget lasts, before giving up (NULL). The budget adapts
 * to how recently work arrived: a search or a park that ended with work after t
 * raises it to 2t (spin_learn(), at most the pool's spin_us), a spin that ran
 * out halves it (down to SPIN_FLOOR_NS), so a worker between the steps of an
 * iterative job keeps spinning across the gap, while one idle for long parks
 * after a few microseconds. Either way the spin is bounded in time (none with
 * WSE_SPIN_US_NONE), and shutdown ends it at once. Yielding every 16 rounds lets
 * a thread that shares the CPU (the submitter) run.
 */
static wse_future *
search(struct wse__worker *w)
{
    unsigned rounds = w->pool->spin_rounds;
    struct timespec start = {0, 0};
    struct timespec now;
    wse_future *f;
    unsigned i;

    for (i = 0;; i++) {
        f = wse__worker_find_task(w);
        if (f != NULL) {
            if (i > rounds) {
                now = wse__clock_now();
                spin_learn(w, wse__clock_elapsed_ns(&start, &now));
            }
            return f;
        }
        /* relaxed: a hint checked every round, so that shutdown stops a long
         * spin at once; the park decides for real. */
        if (wse__atomic_load_u32_relaxed(&w->pool->flags) & WSE__POOL_SHUTDOWN)
            break;
        if (i == rounds) {
            if (w->spin_budget == 0)
                break; /* WSE_SPIN_US_NONE: park after the rounds */
            start = wse__clock_now();
        } else if (i > rounds && i % 16 == 0) {
            now = wse__clock_now();
            if (wse__clock_elapsed_ns(&start, &now) >= w->spin_budget) {
                spin_set(w, w->spin_budget / 2);
                break;
            }
        }
        if (i % 16 == 15)
            sched_yield();
        else
            wse__atomic_pause();
    }
    return NULL;
}

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
    struct timespec parked;
    struct timespec now;
    char name[16];
    pthread_attr_t attr;
    void *lo;
    size_t size;

    wse__worker_tls = w;
    /* A worker its own index; a spare the one it stands in for (set before
     * its thread was created, under spares.mutex). */
    worker_index_plus_one = (int)w->stand_in + 1;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &lo, &size) == 0)
            w->stack_lo = (uintptr_t)lo;
        pthread_attr_destroy(&attr);
    }
    wse__alloc_cache_enable();
    /* Truncation is harmless: the name is a debugging aid (15 bytes at most). */
    (void)snprintf(name, sizeof(name), "%.10s-%u", pool->thread_name, w->index);
    (void)pthread_setname_np(pthread_self(), name);
    /* The hooks are the workers' own: a spare only stands in for one. */
    if (!w->spare) {
        if (pool->on_start != NULL)
            pool->on_start(pool->owner, w->index, pool->hook_ctx);
        /* create returns once every start hook has returned. */
        wse__sync_lock(&pool->start_mutex);
        pool->n_started++;
        pthread_cond_broadcast(&pool->start_cond);
        wse__sync_unlock(&pool->start_mutex);
    }
    for (;;) {
        if (w->spare && !spare_retire_if_excess(w))
            break;
        f = search(w);
        if (f != NULL) {
            wse__worker_run_task(w, f);
            continue;
        }
        parked = wse__clock_now();
        if (wse__park_sleep(&pool->park, w->index, NULL, NULL) == WSE__PARK_TERMINATED)
            break;
        now = wse__clock_now();
        spin_learn(w, wse__clock_elapsed_ns(&parked, &now));
    }
    if (!w->spare && pool->on_stop != NULL)
        pool->on_stop(pool->owner, w->index, pool->hook_ctx);
    wse__alloc_cache_disable();
    worker_index_plus_one = 0;
    wse__worker_tls = NULL;
    return NULL;
}

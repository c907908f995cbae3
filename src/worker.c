/*
 * Workers: the pool they form, the loop each runs, and the search for work.
 *
 * Where a worker looks for work, in order: its own deque (LIFO: the newest task,
 * usually a child of what it just ran), the injection queue (FIFO, tasks from
 * outside threads, oldest first), then the other workers' deques, starting at a
 * random victim and stealing the oldest task (FIFO: the biggest piece of a
 * fork-join tree). An idle worker repeats that for spin_rounds rounds and then
 * for an adaptive time budget (search()), then parks (park.c).
 *
 * Running a task: PENDING -> RUNNING (a cancelled task, or one a waiter claimed
 * in place, is dropped instead), the user's function inside a running-chain
 * entry (the stop lineage and EDEADLK detection), then the completing
 * transition. A waiter looking for one given task (help.c, callers.c) uses
 * wse__worker_queued_in_pool() and wse__worker_may_claim() here.
 *
 * What a worker that waits inside a task may run is help.c's; the spare
 * threads that keep the pool running meanwhile are spares.c's: a spare runs
 * this same loop (wse__worker_run()), asking between tasks whether to retire.
 */
#include "worker.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "latch.h"
#include "sync.h"
#include "tune.h"

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
wse__pool_init(struct wse__pool *pool, wse_executor *owner, const wse_options *o)
{
    size_t capacity = o->deque_capacity != 0 ? o->deque_capacity : WSE__DEFAULT_DEQUE_CAPACITY;
    unsigned n_init;
    unsigned i;
    int rc;

    pool->owner = owner;
    pool->n_workers = o->workers;
    pool->n_slots =
        o->workers + (o->max_spare_workers != 0 ? o->max_spare_workers : 4 * o->workers + 64);
    pool->spin_rounds = o->spin_rounds != 0 ? o->spin_rounds : WSE__DEFAULT_SPIN_ROUNDS;
    pool->asym_fence = wse__sync_membarrier_ready();
    pool->spin_ns = o->spin_us == WSE_SPIN_US_NONE
                        ? 0
                        : (int64_t)(o->spin_us != 0 ? o->spin_us : WSE__DEFAULT_SPIN_US) * 1000;
    pool->stack_size = o->stack_size != 0 ? o->stack_size : WSE__DEFAULT_STACK_SIZE;
    strncpy(pool->thread_name, o->thread_name != NULL ? o->thread_name : "wse",
            sizeof(pool->thread_name) - 1);
    pool->on_start = o->on_worker_start;
    pool->on_stop = o->on_worker_stop;
    pool->hook_ctx = o->hook_ctx;
    /* Zeroed: a spare slot is initialised when its spare starts. */
    pool->workers = wse__alloc_aligned(WSE__CACHE_LINE, pool->n_slots * sizeof(*pool->workers));
    if (pool->workers == NULL)
        return ENOMEM;
    for (n_init = 0; n_init < pool->n_workers; n_init++) {
        rc = wse__worker_init(&pool->workers[n_init], pool, n_init, capacity);
        if (rc != 0)
            goto out_workers;
    }
    rc = wse__inject_init(&pool->inject);
    if (rc != 0)
        goto out_workers;
    wse__atomic_init_ptr(&pool->offer, NULL);
    rc = wse__park_init(&pool->park, pool->n_slots, pool->n_workers, &pool->inject, &pool->offer);
    if (rc != 0)
        goto out_inject;
    for (i = 0; i < pool->n_workers; i++)
        wse__park_attach(&pool->park, i, &pool->workers[i].deque);
    /* The spares' bookkeeping (spares.c) starts empty. */
    memset(&pool->spares, 0, sizeof(pool->spares));
    pool->spares.deque_capacity = capacity;
    rc = pthread_mutex_init(&pool->spares.mutex, NULL);
    if (rc != 0)
        goto out_park;
    rc = pthread_mutex_init(&pool->start_mutex, NULL);
    if (rc != 0)
        goto out_spares;
    rc = wse__sync_cond_init(&pool->start_cond);
    if (rc != 0)
        goto out_start_mutex;
    rc = wse__stats_init(&pool->stats);
    if (rc != 0)
        goto out_start_cond;
    rc = wse__trace_init(&pool->trace);
    if (rc != 0)
        goto out_stats;
    /* Plain: the threads are created after this (pthread_create orders it). */
    wse__atomic_init_u32(&pool->n_spawned, pool->n_workers);
    return 0;

out_stats:
    wse__stats_destroy(&pool->stats);
out_start_cond:
    pthread_cond_destroy(&pool->start_cond);
out_start_mutex:
    pthread_mutex_destroy(&pool->start_mutex);
out_spares:
    pthread_mutex_destroy(&pool->spares.mutex);
out_park:
    wse__park_destroy(&pool->park);
out_inject:
    wse__inject_destroy(&pool->inject);
out_workers:
    while (n_init > 0)
        wse__worker_destroy(&pool->workers[--n_init]);
    wse__alloc_free(pool->workers);
    return rc;
}

void
wse__pool_destroy(struct wse__pool *pool)
{
    unsigned i;

    wse__trace_destroy(&pool->trace);
    wse__stats_destroy(&pool->stats);
    pthread_cond_destroy(&pool->start_cond);
    pthread_mutex_destroy(&pool->start_mutex);
    pthread_mutex_destroy(&pool->spares.mutex);
    wse__park_destroy(&pool->park);
    wse__inject_destroy(&pool->inject);
    for (i = 0; i < pool->n_workers; i++)
        wse__worker_destroy(&pool->workers[i]);
    wse__alloc_free(pool->workers);
}

void
wse__pool_free_inherited(struct wse__pool *pool)
{
    unsigned n = wse__atomic_load_u32_relaxed(&pool->n_spawned);
    unsigned i;

    for (i = 0; i < n; i++)
        wse__deque_destroy(&pool->workers[i].deque);
    wse__trace_free_inherited(&pool->trace);
    wse__stats_free_inherited(&pool->stats);
    wse__park_free_inherited(&pool->park);
    wse__alloc_free(pool->workers);
}

int
wse__worker_spawn(struct wse__worker *w, void *(*main)(void *arg))
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
        rc = pthread_create(&w->thread, &attr, main, w);
    pthread_attr_destroy(&attr);
    return rc;
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

/*
 * Take the pool's loop offer (a chain of runners; executor.c): run the first,
 * and put the others on w's deque, where idle workers steal them. A runner that
 * finds no room there is cancelled (the loop's caller runs its share; loop.c
 * counts a cancelled runner out).
 */
static wse_future *
take_offer(struct wse__worker *w)
{
    struct wse__pool *pool = w->pool;
    /* relaxed: a guess for the CAS. */
    void *head = wse__atomic_load_ptr_relaxed(&pool->offer);
    wse_future *r;
    wse_future *next;
    size_t n = 0;

    /* acq_rel: pairs with the release of the offer's CAS (the runners and
     * their loop are initialised) and with the caller's take-back CAS: one
     * of the two takes the chain. */
    while (head != NULL && !wse__atomic_cas_ptr_acq_rel(&pool->offer, &head, NULL))
        ;
    if (head == NULL)
        return NULL;
    next = ((wse_future *)head)->next;
    ((wse_future *)head)->next = NULL;
    while (next != NULL) {
        r = next;
        next = r->next;
        r->next = NULL;
        if (wse__deque_push(&w->deque, r) == 0) {
            n++;
        } else {
            (void)wse_future_cancel(r);
            wse_future_release(r); /* the queue's reference */
        }
    }
    if (n != 0)
        wse__park_wake_some(&pool->park, n, false);
    return head;
}

wse_future *
wse__worker_find_task(struct wse__worker *w, unsigned *from)
{
    struct wse__pool *pool = w->pool;
    wse_future *f = wse__deque_pop(&w->deque);

    *from = WSE__STAT_OWN;
    if (f != NULL)
        return f;
    /* From outside: one at a time, the oldest (inject.c: submission order). */
    if (wse__inject_nonempty(&pool->inject)) {
        f = wse__inject_pop(&pool->inject);
        if (f != NULL) {
            *from = WSE__STAT_INJECTED;
            return f;
        }
    }
    /* A plain thread's loop: after the older tasks from outside. relaxed: a
     * hint; take_offer()'s CAS decides. */
    if (wse__atomic_load_ptr_relaxed(&pool->offer) != NULL) {
        f = take_offer(w);
        if (f != NULL) {
            *from = WSE__STAT_INJECTED;
            return f;
        }
    }
    *from = WSE__STAT_STOLEN;
    return steal_any(w);
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

_Static_assert(WSE__TRACE_OWN == WSE__STAT_OWN && WSE__TRACE_STOLEN == WSE__STAT_STOLEN &&
                   WSE__TRACE_INJECTED == WSE__STAT_INJECTED &&
                   WSE__TRACE_CLAIMED == WSE__STAT_CLAIMED && WSE__TRACE_HELPED == WSE__STAT_HELPED,
               "how a task came to run is both its counter and its trace flags");

/* Call f's function inside its running-chain entry (f is RUNNING); its code,
 * and its value in *result. */
static inline int
call_task(struct run_guard *g, wse_future *f, void **result)
{
    int rc;

    g->f = f;
    g->returned = false;
    wse__future_enter(&g->running, f);
    rc = f->u.fn(f->arg, result);
    g->returned = true;
    wse__future_leave(&g->running);
    return rc;
}

/* Complete f after call_task(): drops the caller's reference. */
static inline void
end_task(wse_future *f, int rc, void *result)
{
    wse__future_finish_release(f, rc, result);
    /* A plain thread woken from wait() is runnable but may sit behind busy
     * workers for a whole scheduler slice (measured with perf sched: 1-4 ms on
     * 2 CPUs); giving up the CPU between tasks lets it run now. */
    if (wse__latch_wakeups_pending())
        sched_yield();
}

/*
 * Run f, which this worker moved to RUNNING, and finish it; drops one
 * reference, which the caller holds. It is counted in s under `how` (its
 * origin, plus WSE__STAT_HELPED) before it completes, so that a thread that
 * waited for it finds it counted. A loop's runner is not counted (its chunks
 * are). The fork-join path: nothing else.
 */
static void
run_started(wse_future *f, struct wse__stats_thread *s, unsigned how)
{
    struct run_guard guard __attribute__((cleanup(run_guard_unwind)));
    void *result = NULL;
    int rc = call_task(&guard, f, &result);

    if (!wse__future_is_embedded(f))
        wse__stats_count(s, how);
    end_task(f, rc, result);
}

/*
 * run_started() for everything else: a plain thread (plain: its counters may
 * be the executor's shared block, and its busy time is its tasks'), and a
 * trace running (r not NULL: the task's event goes in before it completes; a
 * loop's runner is recorded with function 0, which trace.c names).
 */
static void
run_recorded(wse_future *f, struct wse__stats_thread *s, bool plain, unsigned how,
             struct wse__trace_ring *r)
{
    struct run_guard guard __attribute__((cleanup(run_guard_unwind)));
    bool runner = wse__future_is_embedded(f);
    void *result = NULL;
    uint64_t busy0 = plain ? wse__trace_ticks() : 0;
    uint64_t t0 = r != NULL ? wse__trace_ticks() : 0;
    int rc = call_task(&guard, f, &result);

    if (r != NULL)
        wse__trace_put(r, t0, wse__trace_ticks() - t0, runner ? 0 : (uint64_t)(uintptr_t)f->u.fn,
                       (uint64_t)(uintptr_t)f, wse__trace_pack(WSE__TRACE_TASK, how, 0));
    if (!runner) {
        wse__stats_add(s, how);
        if (plain)
            wse__stats_plain_busy(s, wse__trace_ticks() - busy0);
    }
    end_task(f, rc, result);
}

/* The calling worker's ring for its pool's trace. */
static struct wse__trace_ring *
worker_ring(struct wse__worker *w)
{
    return wse__trace_ring(&w->pool->trace, w->index, w->spare, &w->trace_cache);
}

struct wse__trace_ring *
wse__worker_trace_ring(struct wse__pool *pool)
{
    struct wse__worker *w = wse__worker_tls;

    if (w != NULL && w->pool == pool)
        return worker_ring(w);
    return wse__trace_ring(&pool->trace, WSE__TRACE_PLAIN, false, wse__trace_plain_cache());
}

void
wse__worker_run_task(struct wse__worker *w, wse_future *f, unsigned how)
{
    /* acquire: pairs with the release in the executor's set_flags(): after a
     * shutdown with cancel_pending, queued tasks are cancelled, not run. Nor
     * does a task run whose lineage was stopped while it was queued. The
     * trace bit rides on the same load. */
    uint32_t flags = wse__atomic_load_u32_acquire(&w->pool->flags);

    if ((flags & WSE__POOL_CANCEL) || wse__future_stop_reached(f->parent)) {
        wse__future_cancel_queued(f);
        return;
    }
    if (!wse__future_start(f)) {
        /* Cancelled while queued, or claimed in place by a waiter (a
         * tombstone): drop the queue's reference. */
        wse_future_release(f);
        return;
    }
    if (flags & WSE__POOL_TRACE)
        run_recorded(f, &w->stats, false, how, worker_ring(w));
    else
        run_started(f, &w->stats, how);
}

void
wse__worker_run_claimed(struct wse__pool *pool, struct wse__worker *w, wse_future *f)
{
    struct wse__trace_ring *r = NULL;
    const unsigned how = WSE__STAT_CLAIMED | WSE__STAT_HELPED;

    if (wse__trace_on(&pool->trace))
        r = wse__worker_trace_ring(pool);
    /* The queue keeps its reference (its taker drops it); finishing drops this
     * one. */
    (void)wse_future_retain(f);
    if (w != NULL)
        run_recorded(f, &w->stats, false, how, r);
    else
        run_recorded(f, wse__stats_plain(&pool->stats), true, how, r);
}

wse_future *
wse__worker_steal(struct wse__worker *w)
{
    return steal_any(w);
}

/* ------------------------------------------------------------------------- */
/* Finding one given task (a waiter's search for what it waits on)            */

bool
wse__worker_queued_in_pool(struct wse__pool *pool, struct wse__worker *w, const wse_future *f,
                           int64_t *budget)
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

bool
wse__worker_may_claim(struct wse__pool *pool, wse_future *f)
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

/* wse_worker_index() + 1 on a worker, 0 elsewhere: one thread-local load. A
 * spare reports the index of the worker it stands in for (worker.h). */
static WSE__TLS int worker_index_plus_one;

/* Set the spin budget to ns, within [min(WSE__IDLE_SPIN_FLOOR_NS, spin_ns), spin_ns]. */
static void
spin_set(struct wse__worker *w, int64_t ns)
{
    int64_t max = w->pool->spin_ns;
    int64_t floor = max < WSE__IDLE_SPIN_FLOOR_NS ? max : WSE__IDLE_SPIN_FLOOR_NS;

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

/* With a trace running: an idle spin or a park from ticks t0 until now. */
static void
trace_idle(struct wse__worker *w, enum wse__trace_kind kind, uint64_t t0)
{
    if (t0 != 0)
        wse__trace_put(worker_ring(w), t0, wse__trace_ticks() - t0, 0, 0,
                       wse__trace_pack(kind, 0, 0));
}

/* The ticks of an idle period's start, or 0 without a trace. */
static uint64_t
trace_idle_start(const struct wse__worker *w)
{
    return wse__trace_on(&w->pool->trace) ? wse__trace_ticks() : 0;
}

/*
 * wse__worker_find_task(), retried for spin_rounds rounds and then for as long
 * as the worker's spin budget lasts, before giving up (NULL). The budget adapts
 * to how recently work arrived: a search or a park that ended with work after t
 * raises it to 2t (spin_learn(), at most the pool's spin_us), a spin that ran
 * out halves it (down to WSE__IDLE_SPIN_FLOOR_NS), so a worker between the steps of an
 * iterative job keeps spinning across the gap, while one idle for long parks
 * after a few microseconds. Either way the spin is bounded in time (none with
 * WSE_SPIN_US_NONE), and shutdown ends it at once. Yielding every 16 rounds lets
 * a thread that shares the CPU (the submitter) run.
 */
static wse_future *
search(struct wse__worker *w, unsigned *from)
{
    unsigned rounds = w->pool->spin_rounds;
    struct timespec start = {0, 0}; /* the timed spin's start: the worker is idle */
    struct timespec now;
    uint64_t traced = 0; /* the same in ticks, with a trace running */
    bool idle = false;
    wse_future *f;
    unsigned i;

    for (i = 0;; i++) {
        f = wse__worker_find_task(w, from);
        if (f != NULL) {
            if (idle) {
                now = wse__clock_now();
                spin_learn(w, wse__clock_elapsed_ns(&start, &now));
                wse__stats_busy_begin(&w->stats, wse__clock_ns(&now));
                trace_idle(w, WSE__TRACE_SPIN, traced);
            }
            return f;
        }
        /* Nothing to run: the batch goes before any spin or sleep. */
        if (i == 0)
            wse__hook_local_flush();
        /* relaxed: a hint checked every round, so that shutdown stops a long
         * spin at once; the park decides for real. */
        if (wse__atomic_load_u32_relaxed(&w->pool->flags) & WSE__POOL_SHUTDOWN)
            break;
        if (i == rounds) {
            start = wse__clock_now();
            traced = trace_idle_start(w);
            idle = true;
            wse__stats_busy_end(&w->stats, wse__clock_ns(&start));
            if (w->spin_budget == 0)
                break; /* WSE_SPIN_US_NONE: park after the rounds */
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
    if (!idle) {
        start = wse__clock_now();
        traced = trace_idle_start(w);
        wse__stats_busy_end(&w->stats, wse__clock_ns(&start));
    }
    trace_idle(w, WSE__TRACE_SPIN, traced);
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

void
wse__worker_report_index(unsigned index)
{
    worker_index_plus_one = (int)index + 1;
}

void
wse__worker_run(struct wse__worker *w, bool (*keep)(struct wse__worker *w))
{
    struct wse__pool *pool = w->pool;
    wse_future *f;
    struct timespec parked;
    struct timespec now;
    enum wse__park_result slept;
    uint64_t traced;
    unsigned from;
    char name[16];
    pthread_attr_t attr;
    void *lo;
    size_t size;

    wse__worker_tls = w;
    /* relaxed: read by wse_trace_start() after create's wait for the start
     * hooks, which orders it. */
    wse__atomic_store_u32_relaxed(&w->tid, (uint32_t)gettid());
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
    /* Busy from the start until a search comes up empty (search()). */
    now = wse__clock_now();
    wse__stats_busy_begin(&w->stats, wse__clock_ns(&now));
    /* Between tasks, completions of a scope's children count in a batch
     * (future.h, wse__hook_local): dropped before a task with another hook
     * runs, when a search finds nothing, and when the loop ends. */
    wse__hook_batching = true;
    for (;;) {
        if (keep != NULL && !keep(w))
            break;
        f = search(w, &from);
        if (f != NULL) {
            /* Compared only: f may be a tombstone, done elsewhere. */
            if (wse__hook_local != NULL && wse__future_hook(f) != wse__hook_local)
                wse__hook_local_flush();
            wse__worker_run_task(w, f, from);
            continue;
        }
        parked = wse__clock_now();
        traced = trace_idle_start(w);
        slept = wse__park_sleep(&pool->park, w->index, &w->stats);
        now = wse__clock_now();
        if (slept != WSE__PARK_RECHECK)
            trace_idle(w, WSE__TRACE_PARK, traced);
        if (slept == WSE__PARK_TERMINATED)
            break;
        if (slept == WSE__PARK_WOKEN)
            wse__stats_count(&w->stats, WSE__STAT_WAKEUPS);
        /* Looking for work again: busy until the search says otherwise. */
        wse__stats_busy_begin(&w->stats, wse__clock_ns(&now));
        spin_learn(w, wse__clock_elapsed_ns(&parked, &now));
    }
    wse__hook_local_flush();
    wse__hook_batching = false;
    now = wse__clock_now();
    wse__stats_busy_end(&w->stats, wse__clock_ns(&now));
    if (!w->spare && pool->on_stop != NULL)
        pool->on_stop(pool->owner, w->index, pool->hook_ctx);
    wse__alloc_cache_disable();
    worker_index_plus_one = 0;
    wse__worker_tls = NULL;
}

void *
wse__worker_main(void *arg)
{
    wse__worker_run(arg, NULL);
    return NULL;
}

/*
 * The executor: create, submit, shutdown, destroy.
 *
 * Lifetime. wse_executor_create() starts one thread per worker. wse_shutdown()
 * closes the injection queue (under its mutex, so each external submission either
 * lands before the close or gets ESHUTDOWN), then sets WSE__POOL_SHUTDOWN (and WSE__POOL_CANCEL)
 * with release order, cancels what is queued if asked, and wakes every worker.
 * Workers drain the queues and go idle; the last one to go idle marks the
 * executor terminated (park.c). wse_executor_destroy() waits for that, joins the
 * threads and frees everything. Futures are separate allocations with their own
 * reference counts, so they outlive the executor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsexec.h"

#include "executor.h"

#include "alloc.h"
#include "cpus.h"
#include "future.h"
#include "inject.h"
#include "latch.h"
#include "park.h"
#include "callers.h"
#include "clock.h"
#include "spares.h"
#include "stats.h"
#include "sync.h"
#include "trace.h"
#include "worker.h"

#define MAX_WORKERS 1024
#define MAX_SPARES 65536u

/* An executor is its pool of workers (first: a pool pointer is the executor's
 * address), plus what only create and destroy use. */
struct wse_executor {
    struct wse__pool pool;
    pthread_mutex_t join_mutex; /* serialises joining the threads; order: before
                                   spares.mutex */
    bool joined;                /* under join_mutex */
    pthread_mutex_t held_mutex; /* guards held; order: a leaf */
    struct wse__held held;      /* list head of held tasks (circular) */
    uint32_t generation;        /* fork_generation at create */
    bool caller_runs;           /* on the worker layer's caller_runs list */
    bool crowded;               /* a worker for every CPU (wse__latch_note_crowded) */
};

/*
 * fork(). The child has only the forking thread: the workers of an executor
 * created before the fork do not exist there, and its mutexes may be held by
 * threads that are gone. A pthread_atfork() child handler bumps a generation
 * counter; every call on an executor compares the executor's generation with it
 * (one plain load: getpid() would be a system call) and, in a child, returns
 * EOWNERDEAD. The handler also clears the forking thread's worker identity, so
 * a child forked from inside a task is a plain thread.
 */
static wse__atomic_u32 fork_generation; /* bumped in each child */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void
on_fork_child(void)
{
    /* relaxed: the child has one thread; threads it starts later are ordered
     * after this by pthread_create. */
    wse__atomic_store_u32_relaxed(&fork_generation,
                                  wse__atomic_load_u32_relaxed(&fork_generation) + 1);
    wse__worker_tls = NULL;
    wse__caller_pool = NULL;
    wse__future_running = NULL;
    wse__callers_forget();
}

static void
register_fork_handler(void)
{
    /* On failure (ENOMEM) forks are not detected; nothing else changes. */
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

static uint32_t
fork_generation_now(void)
{
    (void)pthread_once(&fork_once, register_fork_handler);
    /* relaxed: see on_fork_child(). */
    return wse__atomic_load_u32_relaxed(&fork_generation);
}

/* Was ex created in a parent of this process (before a fork)? */
static bool
inherited(const wse_executor *ex)
{
    /* relaxed: see on_fork_child(). */
    return ex->generation != wse__atomic_load_u32_relaxed(&fork_generation);
}

/* In a forked child: free ex's memory without touching its locks or threads
 * (they belong to the parent's threads); queued tasks are leaked. */
static void
free_inherited(wse_executor *ex)
{
    wse__pool_free_inherited(&ex->pool);
    wse__alloc_free(ex);
}

/* OR bits into ex->flags. */
static void
set_flags(wse_executor *ex, uint32_t bits)
{
    /* relaxed: a guess for the CAS. */
    uint32_t old = wse__atomic_load_u32_relaxed(&ex->pool.flags);

    /* acq_rel: release pairs with the acquire loads of flags in worker.c
     * (WSE__POOL_CANCEL) and wse_submit(); the injection queue was closed
     * before. */
    while (!wse__atomic_cas_u32_acq_rel(&ex->pool.flags, &old, old | bits))
        ;
}

/* Clear WSE__POOL_TRACE (the other bits are never cleared). */
static void
clear_trace_flag(wse_executor *ex)
{
    /* relaxed: a guess for the CAS. */
    uint32_t old = wse__atomic_load_u32_relaxed(&ex->pool.flags);

    /* acq_rel: as in set_flags(); the bit itself is a hint. */
    while (!wse__atomic_cas_u32_acq_rel(&ex->pool.flags, &old, old & ~WSE__POOL_TRACE))
        ;
}

unsigned
wse_version(void)
{
    return WSE_VERSION_HEX;
}

/* Stop and join workers [0, n_started) after a failed create. */
static void
stop_started(wse_executor *ex, unsigned n_started)
{
    unsigned i;

    wse__park_set_live(&ex->pool.park, n_started);
    wse__inject_close(&ex->pool.inject, false);
    set_flags(ex, WSE__POOL_SHUTDOWN);
    wse__park_shutdown(&ex->pool.park);
    if (n_started > 0)
        wse__park_wait_quiet(&ex->pool.park);
    for (i = 0; i < n_started; i++)
        pthread_join(ex->pool.workers[i].thread, NULL);
}

int
wse_executor_create(wse_executor **out, const wse_options *opts)
{
    wse_options o = {0};
    const char *trace_env;
    wse_executor *ex;
    unsigned cpus;
    unsigned i;
    int rc;

    if (out == NULL)
        return EINVAL;
    if (opts != NULL)
        o = *opts;
    if (o.workers > MAX_WORKERS || o.spin_rounds > WSE_MAX_SPIN_ROUNDS ||
        (o.spin_us > WSE_MAX_SPIN_US && o.spin_us != WSE_SPIN_US_NONE) ||
        (o.stack_size != 0 && o.stack_size < WSE_MIN_STACK_SIZE) ||
        o.max_spare_workers > MAX_SPARES)
        return EINVAL;
    ex = wse__alloc_aligned(WSE__CACHE_LINE, sizeof(*ex));
    if (ex == NULL)
        return ENOMEM;
    /* Read once: the default worker count and `crowded` both need it. */
    cpus = wse__cpus_available();
    if (o.workers == 0)
        o.workers = wse__cpus_workers(cpus, MAX_WORKERS);
    ex->held.prev = &ex->held;
    ex->held.next = &ex->held;
    ex->generation = fork_generation_now();
    rc = wse__pool_init(&ex->pool, ex, &o);
    if (rc != 0)
        goto out_free;
    rc = pthread_mutex_init(&ex->join_mutex, NULL);
    if (rc != 0)
        goto out_destroy_pool;
    rc = pthread_mutex_init(&ex->held_mutex, NULL);
    if (rc != 0)
        goto out_destroy_join;
    for (i = 0; i < ex->pool.n_workers; i++) {
        rc = wse__worker_spawn(&ex->pool.workers[i], wse__worker_main);
        if (rc != 0) {
            stop_started(ex, i);
            goto out_destroy_held;
        }
    }
    /* Every start hook has returned before create does. */
    wse__worker_started_wait(&ex->pool, ex->pool.n_workers);
    ex->caller_runs = o.caller_runs;
    ex->crowded = ex->pool.n_workers >= cpus;
    if (ex->caller_runs)
        wse__callers_add(&ex->pool);
    /* WSE_TRACE: trace an unchanged program. Without memory for it the
     * executor still runs, untraced (destroy then has nothing to write). */
    trace_env = getenv("WSE_TRACE");
    if (trace_env != NULL && *trace_env != '\0')
        (void)wse_trace_start(ex, 0);
    *out = ex;
    return 0;

out_destroy_held:
    pthread_mutex_destroy(&ex->held_mutex);
out_destroy_join:
    pthread_mutex_destroy(&ex->join_mutex);
out_destroy_pool:
    wse__pool_destroy(&ex->pool);
out_free:
    wse__alloc_free(ex);
    return rc;
}

struct wse__pool *
wse__executor_pool(wse_executor *ex)
{
    return &ex->pool;
}

/* With a trace running: a submit event on the calling thread for each of the n
 * futures from first (linked through next), before they are queued, so that
 * the flow's start precedes its end. */
static void
trace_submits(wse_executor *ex, wse_future *first, size_t n)
{
    struct wse__trace_ring *r = wse__worker_trace_ring(&ex->pool);
    uint64_t ts = wse__trace_ticks();
    wse_future *f = first;
    size_t i;

    for (i = 0; i < n && f != NULL; i++, f = f->next) {
        /* 0: a loop's runner (trace.c names it). */
        uint64_t fn = wse__future_is_embedded(f) ? 0 : (uint64_t)(uintptr_t)f->u.fn;
        wse__trace_put(r, ts, 0, fn, (uint64_t)(uintptr_t)f,
                       wse__trace_pack(WSE__TRACE_SUBMIT, 0, 0));
    }
}

static bool
called_from_worker_of(const wse_executor *ex)
{
    return (wse__worker_tls != NULL && wse__worker_tls->pool == &ex->pool) ||
           wse__caller_pool == &ex->pool;
}

wse_executor *
wse_current(void)
{
    if (wse__worker_tls != NULL)
        return wse__worker_tls->pool->owner;
    /* A plain thread running a task it waits on (caller_runs). */
    return wse__caller_pool != NULL ? wse__caller_pool->owner : NULL;
}

unsigned
wse_executor_workers(const wse_executor *ex)
{
    return ex != NULL && !inherited(ex) ? ex->pool.n_workers : 0;
}

/* Cancel a chain of queued tasks (linked through next, NULL-terminated). */
static void
cancel_chain(wse_future *chain)
{
    wse_future *next;

    for (; chain != NULL; chain = next) {
        next = chain->next;
        wse__future_cancel_queued(chain);
    }
}

/* Cancel every task queued anywhere (shutdown with cancel_pending). */
static void
cancel_all_queued(wse_executor *ex, wse_future *chain)
{
    void *item;
    enum wse__deque_steal_result r;
    unsigned i;

    cancel_chain(chain);
    /* Any thread may steal: take everything from every deque. Owners that push
     * concurrently see WSE__POOL_CANCEL when they run the task and cancel it then. */
    for (i = 0; i < ex->pool.n_workers; i++) {
        do {
            r = wse__deque_steal(&ex->pool.workers[i].deque, &item);
            if (r == WSE__DEQUE_STOLEN)
                wse__future_cancel_queued(item);
        } while (r != WSE__DEQUE_EMPTY);
    }
}

/* Cancel every held task (shutdown with cancel_pending). Cancelling runs the
 * holder's node on this thread, which releases the hold (taking held_mutex), so
 * each is cancelled outside the lock; one the cancel cannot stop (it is being
 * queued right now) is marked swept and left to its queue, where WSE__POOL_CANCEL
 * cancels it. */
static void
cancel_held(wse_executor *ex)
{
    struct wse__held *h;
    wse_future *f;

    for (;;) {
        f = NULL;
        wse__sync_lock(&ex->held_mutex);
        for (h = ex->held.next; h != &ex->held; h = h->next) {
            if (!h->swept) {
                h->swept = true;
                f = wse_future_retain(h->future);
                break;
            }
        }
        wse__sync_unlock(&ex->held_mutex);
        if (f == NULL)
            return;
        wse_future_cancel(f);
        wse_future_release(f);
    }
}

int
wse__executor_hold(wse_executor *ex, struct wse__held *h)
{
    if (inherited(ex))
        return EOWNERDEAD;
    if (!wse__park_hold(&ex->pool.park))
        return ESHUTDOWN;
    wse__sync_lock(&ex->held_mutex);
    h->listed = true;
    h->swept = false;
    h->prev = ex->held.prev;
    h->next = &ex->held;
    ex->held.prev->next = h;
    ex->held.prev = h;
    wse__sync_unlock(&ex->held_mutex);
    return 0;
}

/* Take h off the list; true if it was on it (this caller releases the hold). */
static bool
unlist_held(wse_executor *ex, struct wse__held *h)
{
    bool was;

    wse__sync_lock(&ex->held_mutex);
    was = h->listed;
    if (was) {
        h->prev->next = h->next;
        h->next->prev = h->prev;
        h->listed = false;
    }
    wse__sync_unlock(&ex->held_mutex);
    return was;
}

void
wse__executor_release_held(wse_executor *ex, struct wse__held *h)
{
    if (unlist_held(ex, h))
        wse__park_unhold(&ex->pool.park);
}

void
wse__executor_enqueue_held(wse_executor *ex, struct wse__held *h)
{
    struct wse__worker *w = wse__worker_tls;
    wse_future *f = h->future;
    bool listed = unlist_held(ex, h);

    if (wse__trace_on(&ex->pool.trace))
        trace_submits(ex, f, 1);
    if (w != NULL && w->pool == &ex->pool && wse__deque_push(&w->deque, f) == 0) {
        wse__park_wake_some(&ex->pool.park, 1, false);
    } else {
        /* Past a shutdown too: the hold kept the executor from terminating, and
         * the task was accepted before it. */
        wse__inject_push_always(&ex->pool.inject, f);
        wse__park_wake_some(&ex->pool.park, 1, true);
    }
    if (listed)
        wse__park_unhold(&ex->pool.park);
}

int
wse_shutdown(wse_executor *ex, bool wait, bool cancel_pending)
{
    wse_future *chain;

    if (ex == NULL)
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    if (wait && called_from_worker_of(ex))
        return EDEADLK;
    chain = wse__inject_close(&ex->pool.inject, cancel_pending);
    set_flags(ex, WSE__POOL_SHUTDOWN | (cancel_pending ? WSE__POOL_CANCEL : 0));
    if (cancel_pending) {
        cancel_all_queued(ex, chain);
        cancel_held(ex);
    }
    wse__park_shutdown(&ex->pool.park);
    if (wait)
        wse__park_wait_quiet(&ex->pool.park);
    return 0;
}

/* At destroy: the file WSE_TRACE names, "%p" replaced by the process id, "%e"
 * by the executor's number in the process (1, 2, ... in creation order) and
 * "%r" by the MPI rank its launcher set (else the process id). A failure to
 * write is not destroy's (the trace is a debugging aid). */
static void
write_env_trace(wse_executor *ex)
{
    const char *name = getenv("WSE_TRACE");
    int rank = wse__trace_rank();
    char path[4096];
    size_t j = 0;
    size_t i;

    if (name == NULL || *name == '\0')
        return;
    for (i = 0; name[i] != '\0' && j + 1 < sizeof path; i++) {
        if (name[i] == '%' && strchr("per", name[i + 1]) != NULL && name[i + 1] != '\0') {
            long long v = name[i + 1] == 'p'   ? (long long)getpid()
                          : name[i + 1] == 'e' ? (long long)ex->pool.stats.id
                          : rank >= 0          ? rank
                                               : (long long)getpid();
            int k = snprintf(path + j, sizeof path - j, "%lld", v);
            if (k < 0 || (size_t)k >= sizeof path - j)
                return;
            j += (size_t)k;
            i++;
        } else {
            path[j++] = name[i];
        }
    }
    path[j] = '\0';
    (void)wse__trace_write(&ex->pool.trace, path);
}

int
wse_executor_destroy(wse_executor *ex)
{
    unsigned i;

    if (ex == NULL)
        return EINVAL;
    if (inherited(ex)) {
        free_inherited(ex);
        return EOWNERDEAD;
    }
    if (called_from_worker_of(ex))
        return EDEADLK;
    if (ex->caller_runs)
        wse__callers_remove(&ex->pool);
    wse_shutdown(ex, true, false);
    wse__sync_lock(&ex->join_mutex);
    if (!ex->joined) {
        for (i = 0; i < ex->pool.n_workers; i++)
            pthread_join(ex->pool.workers[i].thread, NULL);
        wse__spares_join(&ex->pool);
        ex->joined = true;
    }
    wse__sync_unlock(&ex->join_mutex);
    write_env_trace(ex);
    pthread_mutex_destroy(&ex->held_mutex);
    pthread_mutex_destroy(&ex->join_mutex);
    wse__pool_destroy(&ex->pool);
    wse__alloc_free(ex);
    return 0;
}

int
wse__executor_check(wse_executor *ex)
{
    if (inherited(ex))
        return EOWNERDEAD;
    /* acquire: as in wse_submit(); the queueing decides for real. */
    if (wse__atomic_load_u32_acquire(&ex->pool.flags) & WSE__POOL_SHUTDOWN)
        return ESHUTDOWN;
    return 0;
}

unsigned
wse__executor_workers(const wse_executor *ex)
{
    return ex->pool.n_workers;
}

bool
wse__executor_crowded(const wse_executor *ex)
{
    return ex->crowded;
}

bool
wse__executor_is_own_worker(const wse_executor *ex)
{
    return wse__worker_tls != NULL && wse__worker_tls->pool == &ex->pool;
}

/* wse__executor_queue() without the trace's submit events. */
static int
queue_chain(wse_executor *ex, wse_future *first, wse_future *last, size_t n)
{
    struct wse__worker *w = wse__worker_tls;
    wse_future *f;
    wse_future *next;
    size_t i;
    int rc;

    if (w != NULL && w->pool == &ex->pool && wse__deque_room(&w->deque) >= (int64_t)n) {
        /* A worker's own submissions: its deque (room checked, so no push
         * fails), as wse_submit() does. */
        for (f = first, i = 0; i < n; i++, f = next) {
            next = f->next;
            f->next = NULL;
            (void)wse__deque_push(&w->deque, f);
        }
        wse__park_wake_some(&ex->pool.park, n, false);
        return 0;
    }
    rc = wse__inject_push(&ex->pool.inject, first, last, (int64_t)n, NULL);
    if (rc != 0)
        return rc;
    wse__park_wake_some(&ex->pool.park, n, true);
    if (w == NULL)
        wse__latch_note_crowded(ex->crowded);
    return 0;
}

int
wse__executor_queue(wse_executor *ex, wse_future *first, wse_future *last, size_t n)
{
    if (wse__trace_on(&ex->pool.trace))
        trace_submits(ex, first, n);
    return queue_chain(ex, first, last, n);
}

int
wse__executor_offer(wse_executor *ex, wse_future *first, wse_future *last, size_t n, bool *offered)
{
    void *none = NULL;

    *offered = false;
    if (wse__trace_on(&ex->pool.trace))
        trace_submits(ex, first, n);
    /* acq_rel: publishes the runners to the worker that takes them (pairs with
     * take_offer()'s CAS in worker.c). relaxed pre-check: the slot is mostly
     * free or mostly another loop's. */
    if (wse__atomic_load_ptr_relaxed(&ex->pool.offer) != NULL ||
        !wse__atomic_cas_ptr_acq_rel(&ex->pool.offer, &none, first))
        return queue_chain(ex, first, last, n);
    *offered = true;
    /* The fence and the sleeper check: park.c's protocol, the offer being one
     * of the queues a parking worker re-checks. */
    wse__park_wake_some(&ex->pool.park, 1, true);
    if (wse__worker_tls == NULL)
        wse__latch_note_crowded(ex->crowded);
    return 0;
}

bool
wse__executor_take_back(wse_executor *ex, wse_future *first)
{
    void *expected = first;

    /* acq_rel: as in take_offer() (worker.c); whoever wins owns the chain. */
    return wse__atomic_cas_ptr_acq_rel(&ex->pool.offer, &expected, NULL);
}

/* Queue one new future as the calling thread's submission: on its deque if it
 * is a worker of ex, else on the injection queue; wakes a parked worker for it.
 * 0, ENOMEM (a deque that could not grow) or ESHUTDOWN (from outside); on
 * error nothing was queued. */
static inline int
push_one(wse_executor *ex, wse_future *f)
{
    struct wse__worker *w = wse__worker_tls;
    int rc;

    if (wse__trace_on(&ex->pool.trace))
        trace_submits(ex, f, 1);
    if (w != NULL && w->pool == &ex->pool)
        return wse__worker_push_own(w, f);
    rc = wse__inject_push(&ex->pool.inject, f, f, 1, NULL);
    if (rc != 0)
        return rc;
    wse__park_wake_some(&ex->pool.park, 1, true);
    /* A plain thread that waits next spins by this executor's CPUs. */
    wse__latch_note_crowded(ex->crowded);
    return 0;
}

int
wse_submit(wse_executor *ex, wse_task_fn fn, void *arg, wse_future **out)
{
    wse_future *f;
    int rc;

    if (ex == NULL || fn == NULL)
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    /* acquire: pairs with set_flags(). Checked before allocating, so a shut-down
     * executor says ESHUTDOWN even when memory is short. It decides for a
     * worker's own push: a push that races a shutdown is still run (or
     * cancelled) by this worker before it idles. From other threads the
     * injection queue decides again under its mutex. */
    if (wse__atomic_load_u32_acquire(&ex->pool.flags) & WSE__POOL_SHUTDOWN)
        return ESHUTDOWN;
    f = wse__future_new(fn, arg, out != NULL ? 2 : 1);
    if (f == NULL)
        return ENOMEM;
    rc = push_one(ex, f);
    if (rc != 0) {
        wse__future_discard(f);
        return rc;
    }
    if (out != NULL)
        *out = f;
    return 0;
}

int
wse__executor_push(wse_executor *ex, wse_future *f)
{
    int rc = wse__executor_check(ex);

    return rc != 0 ? rc : push_one(ex, f);
}

/* Futures per push of a big batch: 16 blocks. Pushing it in chunks lets the
 * workers run the first tasks while this thread makes the rest (flat 10^6:
 * chunks of 8,160 futures 13-18 M tasks/s, of 1,020 11-13, one push 6-8). */
#define BIG_BATCH_CHUNK (16 * (size_t)WSE__BATCH_BLOCK_SLOTS)

/*
 * wse_submit_batch() of n >= WSE__BATCH_BLOCK_MIN tasks: their futures in
 * blocks (wse__batch_alloc()), made and queued chunk by chunk. All or nothing
 * still: memory is taken for all n first (ENOMEM), and the first chunk's push
 * decides ESHUTDOWN; the later chunks were accepted with it and are queued
 * even past a shutdown, which the park hold taken before the first push keeps
 * waiting for them (as for a task waiting on dependencies). A shutdown with
 * cancel_pending meanwhile cancels the chunks it finds queued; the later ones
 * are cancelled here (the queue says so under its mutex, so each chunk is
 * either taken by the close or refused after it). out is filled after each
 * push (or cancel), from the blocks.
 */
static int
submit_big_batch(wse_executor *ex, wse_task_fn fn, void *const args[], size_t n, wse_future *out[])
{
    struct wse__batch b;
    wse_future *first;
    wse_future *last;
    size_t count;
    size_t done;
    int rc = wse__batch_alloc(&b, fn, args, n, out != NULL ? 2 : 1);

    if (rc != 0)
        return rc;
    if (!wse__park_hold(&ex->pool.park)) {
        wse__batch_free(&b);
        return ESHUTDOWN;
    }
    first = wse__batch_make(&b, BIG_BATCH_CHUNK, &last, &count);
    if (wse__trace_on(&ex->pool.trace))
        trace_submits(ex, first, count);
    rc = wse__inject_push(&ex->pool.inject, first, last, (int64_t)count, NULL);
    if (rc != 0) {
        wse__batch_free(&b);
        wse__park_unhold(&ex->pool.park);
        return rc;
    }
    for (done = 0;;) {
        wse__park_wake_some(&ex->pool.park, count, true);
        /* The references of out keep every block alive while we list them. */
        if (out != NULL)
            wse__batch_list(first, count, out + done);
        done += count;
        if (done == n)
            break;
        first = wse__batch_make(&b, BIG_BATCH_CHUNK, &last, &count);
        if (wse__trace_on(&ex->pool.trace))
            trace_submits(ex, first, count);
        if (!wse__inject_push_accepted(&ex->pool.inject, first, last, (int64_t)count))
            cancel_chain(first);
    }
    wse__park_unhold(&ex->pool.park);
    return 0;
}

/* wse_submit_batch() of 1 to WSE__BATCH_BLOCK_MIN - 1 tasks: a future each,
 * one push. */
static int
submit_small_batch(wse_executor *ex, wse_task_fn fn, void *const args[], size_t n,
                   wse_future *out[])
{
    wse_future *first = NULL;
    wse_future *last = NULL;
    wse_future *f;
    wse_future *next;
    size_t i = 0;
    int rc;

    do { /* n >= 1 */
        f = wse__future_new(fn, args != NULL ? args[i] : NULL, out != NULL ? 2 : 1);
        if (f == NULL) {
            rc = ENOMEM;
            goto out_free_chain;
        }
        if (last != NULL)
            last->next = f;
        else
            first = f;
        last = f;
    } while (++i < n);
    if (wse__trace_on(&ex->pool.trace))
        trace_submits(ex, first, n);
    rc = wse__inject_push(&ex->pool.inject, first, last, (int64_t)n, out);
    if (rc != 0)
        goto out_free_chain;
    wse__park_wake_some(&ex->pool.park, n, true);
    return 0;

out_free_chain:
    for (f = first; f != NULL; f = next) {
        next = f->next;
        wse__future_discard(f);
    }
    /* All or nothing: out is left as the caller gave it. */
    return rc;
}

int
wse_submit_batch(wse_executor *ex, wse_task_fn fn, void *const args[], size_t n, wse_future *out[])
{
    int rc;

    if (ex == NULL || fn == NULL || n == 0)
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    /* acquire: as in wse_submit(); the push decides for real. */
    if (wse__atomic_load_u32_acquire(&ex->pool.flags) & WSE__POOL_SHUTDOWN)
        return ESHUTDOWN;
    rc = n >= WSE__BATCH_BLOCK_MIN ? submit_big_batch(ex, fn, args, n, out)
                                   : submit_small_batch(ex, fn, args, n, out);
    /* A plain thread that waits next spins by this executor's CPUs. */
    if (rc == 0 && wse__worker_tls == NULL)
        wse__latch_note_crowded(ex->crowded);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Observability                                                             */

int
wse_executor_stats(wse_executor *ex, wse_stats *out, size_t size)
{
    uint64_t sum[WSE__STAT_N + 1] = {0};
    uint64_t plain[WSE__STAT_N + 1];
    uint64_t now;
    wse_stats st;
    unsigned n;
    unsigned i;

    if (ex == NULL || out == NULL)
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    now = wse__trace_now();
    /* acquire: as in steal_any(): the slots below it are initialised. */
    n = wse__atomic_load_u32_acquire(&ex->pool.n_spawned);
    for (i = 0; i < n; i++)
        wse__stats_sum(&ex->pool.workers[i].stats, now, sum);
    /* Plain threads' busy time is in ticks (stats.h). */
    memset(plain, 0, sizeof plain);
    wse__stats_sum_plain(&ex->pool.stats, now, plain);
    for (i = 0; i < WSE__STAT_N; i++)
        sum[i] += plain[i];
    sum[WSE__STAT_N] += wse__trace_ticks_ns(plain[WSE__STAT_N]);
    memset(&st, 0, sizeof st);
    for (i = 0; i < WSE__STAT_TASKS; i++) {
        st.tasks += sum[i];
        if (i & WSE__STAT_HELPED)
            st.helped += sum[i];
    }
    st.stolen = sum[WSE__STAT_STOLEN] + sum[WSE__STAT_STOLEN | WSE__STAT_HELPED];
    st.injected = sum[WSE__STAT_INJECTED] + sum[WSE__STAT_INJECTED | WSE__STAT_HELPED];
    st.parks = sum[WSE__STAT_PARKS];
    st.wakeups = sum[WSE__STAT_WAKEUPS];
    /* relaxed: a counter written under the spares' mutex. */
    st.spares = wse__atomic_load_u64_relaxed(&ex->pool.stats.spares);
    st.busy_ns = wse__stats_busy_monotonic(&ex->pool.stats, sum[WSE__STAT_N]);
    /* The caller's struct may be shorter (an older program) or longer (a
     * newer one against this library): copy what both have, zero the rest. */
    memcpy(out, &st, size < sizeof st ? size : sizeof st);
    if (size > sizeof st)
        memset((char *)out + sizeof st, 0, size - sizeof st);
    return 0;
}

int
wse_trace_start(wse_executor *ex, size_t events_per_thread)
{
    int rc;

    if (ex == NULL || events_per_thread > ((size_t)1 << 24))
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    /* acquire: as in wse_submit(). */
    if (wse__atomic_load_u32_acquire(&ex->pool.flags) & WSE__POOL_SHUTDOWN)
        return ESHUTDOWN;
    rc = wse__trace_start(&ex->pool.trace,
                          events_per_thread != 0 ? events_per_thread : WSE_TRACE_DEFAULT_EVENTS,
                          ex->pool.n_workers);
    if (rc != 0)
        return rc;
    /* Every worker gets a track, even one that will record nothing. */
    for (unsigned i = 0; i < ex->pool.n_workers; i++) {
        /* relaxed: set by the worker before create returned (its start). */
        uint32_t tid = wse__atomic_load_u32_relaxed(&ex->pool.workers[i].tid);
        if (tid != 0)
            wse__trace_set_tid(&ex->pool.trace, i, tid);
    }
    wse__trace_register(&ex->pool.trace);
    set_flags(ex, WSE__POOL_TRACE);
    return 0;
}

int
wse_trace_stop(wse_executor *ex)
{
    if (ex == NULL)
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    clear_trace_flag(ex);
    wse__trace_stop(&ex->pool.trace);
    return 0;
}

int
wse_trace_write(wse_executor *ex, const char *path)
{
    if (ex == NULL || path == NULL)
        return EINVAL;
    if (inherited(ex))
        return EOWNERDEAD;
    return wse__trace_write(&ex->pool.trace, path);
}

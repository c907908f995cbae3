/*
 * The executor: create, submit, shutdown, destroy.
 *
 * Lifetime. wse_executor_create() starts one thread per worker. wse_shutdown()
 * closes the injection queue (under its mutex, so each external submission either
 * lands before the close or gets ESHUTDOWN), then sets EX_SHUTDOWN (and EX_CANCEL)
 * with release order, cancels what is queued if asked, and wakes every worker.
 * Workers drain the queues and go idle; the last one to go idle marks the
 * executor terminated (park.c). wse_executor_destroy() waits for that, joins the
 * threads and frees everything. Futures are separate allocations with their own
 * reference counts, so they outlive the executor.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cpus.h"

#define MAX_WORKERS 1024
#define DEFAULT_DEQUE_CAPACITY 256
#define DEFAULT_SPIN_ROUNDS 64

void
wse__lock(pthread_mutex_t *m)
{
    /* Fails only on an invalid or deadlocked mutex: a bug in wsexec. */
    if (pthread_mutex_lock(m) != 0)
        abort();
}

void
wse__unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

/* false: the deadline has passed. true: woken (perhaps spuriously); the caller
 * re-checks its condition. */
bool
wse__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct wse_deadline *deadline)
{
    int rc;

    if (deadline == NULL || deadline->forever) {
        rc = pthread_cond_wait(c, m);
    } else {
        rc = pthread_cond_timedwait(c, m, &deadline->at);
    }
    if (rc == ETIMEDOUT) {
        /* Trust, but check against our own clock: an interposed or broken
         * timedwait (libfaketime 0.9.10 times out CLOCK_MONOTONIC waits at
         * once) then costs a retry, never an early return. */
        return !wse__deadline_passed(deadline);
    }
    if (rc != 0)
        abort();
    return true;
}

void
wse__cancel_queued(wse_future *f)
{
    wse_future_cancel(f);
    /* The queue's reference. */
    wse_future_release(f);
}

/* OR bits into ex->flags. */
static void
set_flags(wse_executor *ex, uint32_t bits)
{
    /* relaxed: a guess for the CAS. */
    uint32_t old = wse_load_u32_relaxed(&ex->flags);

    /* acq_rel: release pairs with the acquire loads of flags in park.c,
     * worker.c and wse_submit(); the injection queue was closed before. */
    while (!wse_cas_u32_acq_rel(&ex->flags, &old, old | bits))
        ;
}

unsigned
wse_version(void)
{
    return WSE_VERSION_HEX;
}

static unsigned
default_workers(void)
{
    return wse__cpus_default(MAX_WORKERS);
}

/* Free what create() built for workers [0, n_init) and the executor itself. */
static void
free_executor(wse_executor *ex, unsigned n_init)
{
    unsigned i;

    for (i = 0; i < n_init; i++) {
        pthread_cond_destroy(&ex->workers[i].wake);
        wse__deque_destroy(&ex->workers[i].deque);
    }
    wse__free(ex->workers);
    wse__free(ex);
}

/* Stop and join workers [0, n_started) after a failed create. */
static void
stop_started(wse_executor *ex, unsigned n_started)
{
    unsigned i;

    wse__lock(&ex->park.mutex);
    ex->park.n_live = n_started;
    wse__unlock(&ex->park.mutex);
    wse__inject_close(&ex->inject, false);
    set_flags(ex, EX_SHUTDOWN);
    wse__wake_all(ex);
    if (n_started > 0)
        wse__wait_quiet(ex);
    for (i = 0; i < n_started; i++)
        pthread_join(ex->workers[i].thread, NULL);
}

int
wse_executor_create(wse_executor **out, const wse_options *opts)
{
    wse_options o = { 0 };
    wse_executor *ex;
    size_t capacity;
    unsigned n_init = 0;
    unsigned i;
    int rc;

    if (out == NULL)
        return EINVAL;
    if (opts != NULL)
        o = *opts;
    if (o.workers > MAX_WORKERS)
        return EINVAL;

    ex = wse__zalloc_aligned(WSE_CACHE_LINE, sizeof(*ex));
    if (ex == NULL)
        return ENOMEM;
    ex->n_workers = o.workers != 0 ? o.workers : default_workers();
    ex->spin_rounds = o.spin_rounds != 0 ? o.spin_rounds : DEFAULT_SPIN_ROUNDS;
    strncpy(ex->thread_name, o.thread_name != NULL ? o.thread_name : "wse",
            sizeof(ex->thread_name) - 1);
    capacity = o.deque_capacity != 0 ? o.deque_capacity : DEFAULT_DEQUE_CAPACITY;

    ex->workers = wse__zalloc_aligned(WSE_CACHE_LINE, ex->n_workers * sizeof(*ex->workers));
    if (ex->workers == NULL) {
        rc = ENOMEM;
        goto out_free_executor;
    }
    for (n_init = 0; n_init < ex->n_workers; n_init++) {
        struct wse_worker *w = &ex->workers[n_init];

        rc = wse__deque_init(&w->deque, capacity);
        if (rc != 0)
            goto out_free_executor;
        rc = wse__cond_init_monotonic(&w->wake);
        if (rc != 0) {
            wse__deque_destroy(&w->deque);
            goto out_free_executor;
        }
        w->ex = ex;
        w->index = n_init;
        w->rng = 0x9E3779B97F4A7C15ULL * (n_init + 1) ^ (uintptr_t)ex;
        if (w->rng == 0)
            w->rng = 1;
    }
    rc = wse__inject_init(&ex->inject);
    if (rc != 0)
        goto out_free_executor;
    rc = wse__park_init(&ex->park, ex->n_workers);
    if (rc != 0)
        goto out_destroy_inject;
    rc = pthread_mutex_init(&ex->join_mutex, NULL);
    if (rc != 0)
        goto out_destroy_park;

    for (i = 0; i < ex->n_workers; i++) {
        rc = wse__fault_thread_start()
                 ? EAGAIN
                 : pthread_create(&ex->workers[i].thread, NULL, wse__worker_main, &ex->workers[i]);
        if (rc != 0) {
            stop_started(ex, i);
            goto out_destroy_join;
        }
    }
    *out = ex;
    return 0;

out_destroy_join:
    pthread_mutex_destroy(&ex->join_mutex);
out_destroy_park:
    wse__park_destroy(&ex->park);
out_destroy_inject:
    wse__inject_destroy(&ex->inject);
out_free_executor:
    free_executor(ex, n_init);
    return rc;
}

static bool
called_from_worker_of(const wse_executor *ex)
{
    return wse__tls_worker != NULL && wse__tls_worker->ex == ex;
}

wse_executor *
wse_current(void)
{
    return wse__tls_worker != NULL ? wse__tls_worker->ex : NULL;
}

unsigned
wse_executor_workers(const wse_executor *ex)
{
    return ex != NULL ? ex->n_workers : 0;
}

/* Cancel every task queued anywhere (shutdown with cancel_pending). */
static void
cancel_all_queued(wse_executor *ex, wse_future *chain)
{
    wse_future *next;
    void *item;
    enum deque_steal_result r;
    unsigned i;

    for (; chain != NULL; chain = next) {
        next = chain->next;
        wse__cancel_queued(chain);
    }
    /* Any thread may steal: take everything from every deque. Owners that push
     * concurrently see EX_CANCEL when they run the task and cancel it then. */
    for (i = 0; i < ex->n_workers; i++) {
        do {
            r = wse__deque_steal(&ex->workers[i].deque, &item);
            if (r == DEQUE_STOLEN)
                wse__cancel_queued(item);
        } while (r != DEQUE_EMPTY);
    }
}

int
wse_shutdown(wse_executor *ex, bool wait, bool cancel_pending)
{
    wse_future *chain;

    if (ex == NULL)
        return EINVAL;
    if (wait && called_from_worker_of(ex))
        return EDEADLK;
    chain = wse__inject_close(&ex->inject, cancel_pending);
    set_flags(ex, EX_SHUTDOWN | (cancel_pending ? EX_CANCEL : 0));
    if (cancel_pending)
        cancel_all_queued(ex, chain);
    wse__wake_all(ex);
    if (wait)
        wse__wait_quiet(ex);
    return 0;
}

int
wse_executor_destroy(wse_executor *ex)
{
    unsigned i;

    if (ex == NULL)
        return EINVAL;
    if (called_from_worker_of(ex))
        return EDEADLK;
    wse_shutdown(ex, true, false);
    wse__lock(&ex->join_mutex);
    if (!ex->joined) {
        for (i = 0; i < ex->n_workers; i++)
            pthread_join(ex->workers[i].thread, NULL);
        ex->joined = true;
    }
    wse__unlock(&ex->join_mutex);
    pthread_mutex_destroy(&ex->join_mutex);
    wse__park_destroy(&ex->park);
    wse__inject_destroy(&ex->inject);
    free_executor(ex, ex->n_workers);
    return 0;
}

int
wse_submit(wse_executor *ex, wse_task_fn fn, void *arg, wse_future **out)
{
    struct wse_worker *w = wse__tls_worker;
    wse_future *f;
    int rc;

    if (ex == NULL || fn == NULL)
        return EINVAL;
    /* acquire: pairs with set_flags(). Checked before allocating, so a shut-down
     * executor says ESHUTDOWN even when memory is short. It decides for a
     * worker's own push: a push that races a shutdown is still run (or
     * cancelled) by this worker before it idles. From other threads the
     * injection queue decides again under its mutex. */
    if (wse_load_u32_acquire(&ex->flags) & EX_SHUTDOWN)
        return ESHUTDOWN;
    f = wse__future_new(fn, arg, out != NULL ? 2 : 1);
    if (f == NULL)
        return ENOMEM;
    if (w != NULL && w->ex == ex) {
        rc = wse__deque_push(&w->deque, f);
        if (rc != 0)
            goto out_free_future;
        wse__wake_some(ex, 1, false);
    } else {
        rc = wse__inject_push(&ex->inject, f, f, 1, NULL);
        if (rc != 0)
            goto out_free_future;
        wse__wake_some(ex, 1, true);
    }
    if (out != NULL)
        *out = f;
    return 0;

out_free_future:
    wse__small_free(f);
    return rc;
}

int
wse_submit_batch(wse_executor *ex, wse_task_fn fn, void *const args[], size_t n,
                 wse_future *out[])
{
    wse_future *first = NULL;
    wse_future *last = NULL;
    wse_future *f;
    wse_future *next;
    size_t i;
    int rc;

    if (ex == NULL || fn == NULL || n == 0)
        return EINVAL;
    /* acquire: as in wse_submit(); the push decides for real. */
    if (wse_load_u32_acquire(&ex->flags) & EX_SHUTDOWN)
        return ESHUTDOWN;
    for (i = 0; i < n; i++) {
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
    }
    rc = wse__inject_push(&ex->inject, first, last, (int64_t)n, out);
    if (rc != 0)
        goto out_free_chain;
    wse__wake_some(ex, n, true);
    return 0;

out_free_chain:
    for (f = first; f != NULL; f = next) {
        next = f->next;
        wse__small_free(f);
    }
    /* All or nothing: out is left as the caller gave it. */
    return rc;
}

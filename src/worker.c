/*
 * Worker threads: the main loop, finding a task, running one.
 *
 * Where a worker looks for work, in order: its own deque (LIFO: the newest task,
 * usually a child of what it just ran), the injection queue (FIFO, tasks from
 * outside threads), then the other workers' deques, starting at a random victim
 * and stealing the oldest task (FIFO: the biggest piece of a fork-join tree). An
 * idle worker repeats that for spin_rounds rounds, then parks (park.c).
 *
 * The same search serves a worker that waits inside a task (wait.c): it helps by
 * running whatever it finds until its latch trips.
 */
#include "internal.h"

#include <sched.h>
#include <stdio.h>

#include "alloc.h"

_Thread_local struct wse_worker *wse__tls_worker;
_Thread_local struct wse_running *wse__tls_running;

/* xorshift64*: victim selection only; owner-only state. */
static unsigned
next_random(struct wse_worker *w)
{
    uint64_t x = w->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return (unsigned)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static wse_future *
steal_any(struct wse_worker *w)
{
    struct wse_executor *ex = w->ex;
    unsigned n = ex->n_workers;
    unsigned start;
    unsigned i;
    struct wse_worker *victim;
    void *item;
    enum deque_steal_result r;

    if (n < 2)
        return NULL;
    start = next_random(w) % n;
    for (i = 0; i < n; i++) {
        victim = &ex->workers[(start + i) % n];
        if (victim == w)
            continue;
        do {
            r = wse__deque_steal(&victim->deque, &item);
            if (r == DEQUE_STOLEN)
                return item;
            /* ABORT: another taker won the race for that item; the deque may
             * hold more, so try again rather than treat it as empty. */
        } while (r == DEQUE_ABORT);
    }
    return NULL;
}

/* At most this many tasks move from the injection queue to a deque at once. */
#define INJECT_GRAB_MAX 32

wse_future *
wse__find_task(struct wse_worker *w)
{
    struct wse_executor *ex = w->ex;
    wse_future *f = wse__deque_pop(&w->deque);
    int64_t room;

    if (f == NULL && wse__inject_nonempty(&ex->inject)) {
        /* Our share of what is queued, as much as fits in the deque without
         * growing. */
        room = wse__deque_room(&w->deque);
        f = wse__inject_pop(&ex->inject, &w->deque,
                            room < INJECT_GRAB_MAX ? room : INJECT_GRAB_MAX, ex->n_workers);
    }
    if (f == NULL)
        f = steal_any(w);
    return f;
}

bool
wse__work_visible(struct wse_executor *ex)
{
    unsigned i;

    if (wse__inject_nonempty(&ex->inject))
        return true;
    for (i = 0; i < ex->n_workers; i++) {
        if (wse__deque_size_hint(&ex->workers[i].deque) > 0)
            return true;
    }
    return false;
}

void
wse__run_task(struct wse_worker *w, wse_future *f)
{
    struct wse_running running;
    void *result = NULL;
    int rc;

    /* acquire: pairs with the release in set_flags() (executor.c): after a
     * shutdown with cancel_pending, queued tasks are cancelled, not run. */
    if (wse_load_u32_acquire(&w->ex->flags) & EX_CANCEL) {
        wse__cancel_queued(f);
        return;
    }
    if (!wse__future_start(f)) {
        /* Cancelled while queued: drop the queue's reference. */
        wse_future_release(f);
        return;
    }
    running.future = f;
    running.outer = wse__tls_running;
    wse__tls_running = &running;
    rc = f->fn(f->arg, &result);
    wse__tls_running = running.outer;
    wse__future_finish_release(f, rc, result);
    /* relaxed: a hint. A plain thread woken from wait() is runnable but may sit
     * behind busy workers for a whole scheduler slice (measured with perf sched:
     * 1-4 ms on 2 CPUs); giving up the CPU between tasks lets it run now. */
    if (wse_load_u32_relaxed(&wse__plain_wakeups) != 0)
        sched_yield();
}

wse_future *
wse__search(struct wse_worker *w)
{
    unsigned rounds = w->ex->spin_rounds;
    wse_future *f;
    unsigned i;

    for (i = 0; i <= rounds; i++) {
        f = wse__find_task(w);
        if (f != NULL)
            return f;
        if (i % 16 == 15)
            sched_yield();
        else
            wse_cpu_relax();
    }
    return NULL;
}

void *
wse__worker_main(void *arg)
{
    struct wse_worker *w = arg;
    struct wse_executor *ex = w->ex;
    wse_future *f;
    char name[16];

    wse__tls_worker = w;
    wse__small_cache_enable();
    /* Truncation is harmless: the name is a debugging aid (15 bytes at most). */
    (void)snprintf(name, sizeof(name), "%.10s-%u", ex->thread_name, w->index);
    (void)pthread_setname_np(pthread_self(), name);
    for (;;) {
        f = wse__search(w);
        if (f != NULL) {
            wse__run_task(w, f);
            continue;
        }
        if (wse__park(w, NULL, NULL) == PARK_TERMINATED)
            break;
    }
    wse__small_cache_disable();
    wse__tls_worker = NULL;
    return NULL;
}

/*
 * Spare threads: while a worker is blocked inside a wait (it may run only what
 * it waits on, and found nothing), a spare runs the pool's other tasks in its
 * place, so that n_workers threads keep running.
 *
 * Counting. Under spares.mutex: n_blocked (workers and spares blocked in a
 * wait), n_active (spares started or resumed, not retired), n_stack_blocked (of
 * n_blocked: blocked for want of stack). The running threads are n_workers +
 * n_active - n_blocked. A thread about to block makes n_active >= n_blocked + 1
 * first, resuming a retired spare or starting one in the first free slot
 * (there are n_slots - n_workers of them); with no slot left it blocks
 * without. A spare at top level retires (waits on its `resume` condition) when
 * n_active > n_blocked; `excess` is a lock-free hint of that, so a spare pays
 * one relaxed load between tasks.
 *
 * No wait is left without a thread to end it. A thread that blocks with no
 * spare to add and no other thread running is the last one: if it blocks for
 * want of stack (what it waits on may be queued, but it cannot run it), it
 * gives up at once (EAGAIN); otherwise it blocks, and first tells every thread
 * blocked for want of stack to give up (abandon_stack_blocked()), since
 * nothing else would ever run what they wait on.
 *
 * A spare stands in for the worker whose wait started or resumed it: it
 * reports that worker's index (wse_worker_index()). The hooks are the
 * workers' own: a spare runs neither. Lock order: spares.mutex, then
 * park.mutex (wse__park_join/leave/wake_*), never the other way.
 */
#include "spares.h"

#include <errno.h>

#include "alloc.h"
#include "clock.h"
#include "latch.h"
#include "sync.h"

static void *spare_main(void *arg);

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
    if (wse__worker_init(s, pool, i, pool->spares.deque_capacity) != 0) {
        wse__fault_absorbed_note(); /* the waiter blocks without a spare */
        return false;
    }
    /* Before the thread exists: it reads it at start. */
    s->stand_in = stand_in;
    wse__park_attach(&pool->park, i, &s->deque);
    wse__park_join(&pool->park);
    if (wse__worker_spawn(s, spare_main) != 0) {
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

/* Under spares.mutex: count a spare put to work (wse_stats.spares). The spare
 * counts itself, before it runs anything: a thread that sees a task the spare
 * ran (its completion, acquire) then sees the count too; counted by the thread
 * that started or resumed it, the count could come after the task. */
static void
count_spare(struct wse__pool *pool)
{
    /* relaxed, both: written under spares.mutex only; readers load it relaxed
     * (a counter). */
    wse__atomic_store_u64_relaxed(&pool->stats.spares,
                                  wse__atomic_load_u64_relaxed(&pool->stats.spares) + 1);
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

int
wse__spares_block(struct wse__worker *w, const struct wse__latch *l,
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
    /* Retiring blocks until resumed: no batch of a scope's drops may wait with
     * it (future.h, wse__hook_local). Before the mutex: the drop may complete
     * a join's promise. */
    wse__hook_local_flush();
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
        if (keep)
            count_spare(pool);
        /* Resumed for another blocked worker: report its index. */
        wse__worker_report_index(w->stand_in);
    }
    wse__sync_unlock(&sp->mutex);
    return keep;
}

/* The thread of a spare: the worker loop, retiring when in excess. */
static void *
spare_main(void *arg)
{
    struct wse__worker *w = arg;

    wse__sync_lock(&w->pool->spares.mutex);
    count_spare(w->pool);
    wse__sync_unlock(&w->pool->spares.mutex);
    wse__worker_run(w, spare_retire_if_excess);
    return NULL;
}

void
wse__spares_join(struct wse__pool *pool)
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

/*
 * Helping: a waiting thread runs what it waits on (help.c, which opens with the
 * argument for why that is safe).
 */
#ifndef WSE__HELP_H
#define WSE__HELP_H

#include <stdbool.h>
#include <stddef.h>

#include "wsexec.h"

#include "callers.h"
#include "clock.h"
#include "future.h"
#include "latch.h"
#include "worker.h"
#include "deque.h"

/* A worker waiting on futures (n may be 0: only the latch): until l trips or
 * the deadline passes, run the awaited tasks still queued in its pool and the
 * tasks they wait on through marked parents, while the stack has room; spin
 * when there are none, then block with a spare in its place. 0, or EAGAIN: it
 * gave up (wse__spares_block()). */
int wse__help_wait(struct wse__worker *w, struct wse__latch *l, wse_future *const futures[],
                   size_t n, const struct wse__deadline *deadline);

/* A plain thread with caller_runs executors: run the entries still queued in
 * them here. True as wse__help_fast_path(). */
bool wse__help_caller_runs(wse_future *const futures[], size_t n,
                           const struct wse__deadline *deadline, wse_return_when mode);

/* The descendant mark of the running task for the length of a wait (see
 * help.c): set only for an ALL_COMPLETED wait with no deadline on at most
 * WSE__HELP_MARK_MAX futures that are every child the task has; restore on
 * every exit (a cleanup attribute, so a C++ exception unwinding restores it). */
#define WSE__HELP_MARK_MAX 8
struct wse__help_mark {
    wse_future *task; /* marked, or NULL */
    bool old;         /* whether it was marked before */
};

/*
 * The fork-join fast path, inline: a waiting worker pays it on every wait
 * (callgrind: out of line it cost fib 14 instructions per task).
 */

/* Is every one of the n futures done? */
static inline bool
wse__help_every_done(wse_future *const futures[], size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!wse__future_state_done(wse__future_state_acquire(futures[i])))
            return false;
    }
    return true;
}

/* Is one of the n futures done? */
static inline bool
wse__help_any_done(wse_future *const futures[], size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (wse__future_state_done(wse__future_state_acquire(futures[i])))
            return true;
    }
    return false;
}

/* Before registering: may this wait still run one of its entries? Not once a
 * FIRST_* condition may hold (the code below decides then), nor past the
 * deadline (a poll runs nothing). */
static inline bool
wse__help_may_run_more(wse_future *const futures[], size_t n, const struct wse__deadline *deadline,
                       wse_return_when mode)
{
    return (mode == WSE_ALL_COMPLETED || !wse__help_any_done(futures, n)) &&
           (deadline->forever || !wse__clock_deadline_passed(deadline));
}

/*
 * The descendant mark (future.h): a task waiting, with no deadline and for all
 * of them, on every child it has lets waiting workers that wait on it run those
 * children (leapfrog_ok()). Only such a wait qualifies: its edges last until
 * each child is done, so the chain a leapfrogging worker relies on cannot
 * vanish under it. Set for the wait, restored on any exit from wait_impl() (a
 * C++ exception unwinding through it included).
 */
static inline void
wse__help_mark_set(struct wse__help_mark *m, wse_future *const futures[], size_t n,
                   wse_return_when mode, const struct wse__deadline *deadline)
{
    const struct wse__running *r = wse__future_running;
    wse_future *task;
    uint32_t mine = 0;
    size_t i;
    size_t j;

    /* Outside any task (a hook, say) there is nothing to mark. */
    if (r == NULL || mode != WSE_ALL_COMPLETED || !deadline->forever || n > WSE__HELP_MARK_MAX)
        return;
    task = r->future;
    for (i = 0; i < n; i++) {
        if (futures[i]->parent != task)
            continue;
        for (j = 0; j < i; j++) {
            if (futures[j] == futures[i])
                return; /* counted twice would hide a child left out */
        }
        mine++;
    }
    /* children: every child still pointing at the task, plain: this thread
     * runs it (future.c). */
    if (mine != wse__future_children(task))
        return;
    m->task = task;
    m->old = wse__future_mark_waits_children(task);
}

static inline void
wse__help_mark_restore(struct wse__help_mark *m)
{
    if (m->task != NULL)
        wse__future_unmark_waits_children(m->task, m->old);
}

/*
 * A worker waiting on a few futures, usually the children it has just pushed:
 * while the newest task of its own deque is one of them, run it, before paying
 * for registration. The deadline is checked between tasks. True if a wait for
 * all of them is over (every future done): it then needs no node at all; the
 * other modes stop once one future is done.
 */
static inline bool
wse__help_fast_path(struct wse__worker *w, wse_future *const futures[], size_t n,
                    const struct wse__deadline *deadline, wse_return_when mode)
{
    wse_future *f;
    size_t i;

    while (wse__help_may_run_more(futures, n, deadline, mode) && wse__worker_stack_ok(w) &&
           (f = wse__deque_pop(&w->deque)) != NULL) {
        for (i = 0; i < n && futures[i] != f; i++)
            ;
        if (i == n) {
            /* Not ours to run: back where it was (the owner's push cannot
             * fail, the slot was just freed). */
            (void)wse__deque_push(&w->deque, f);
            return false;
        }
        wse__worker_run_task(w, f, WSE__STAT_OWN + WSE__STAT_HELPED);
        if (mode == WSE_ALL_COMPLETED && wse__help_every_done(futures, n))
            return true;
    }
    return false;
}

#endif /* WSE__HELP_H */

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

/* A worker waiting on futures (n may be 0: only the latch): until l trips or
 * the deadline passes, run the awaited tasks still queued in its pool and the
 * tasks they wait on through marked parents, while the stack has room; spin
 * when there are none, then block with a spare in its place. 0, or EAGAIN: it
 * gave up (wse__spares_block()). */
int wse__help_wait(struct wse__worker *w, struct wse__latch *l, wse_future *const futures[],
                   size_t n, const struct wse__deadline *deadline);

/* Before registering, a worker waiting on a few futures: while the newest task
 * of its own deque is one of them, run it. True if the wait needs nothing more
 * (ALL_COMPLETED and every future done). */
bool wse__help_fast_path(struct wse__worker *w, wse_future *const futures[], size_t n,
                         const struct wse__deadline *deadline, wse_return_when mode);

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
void wse__help_mark_set(struct wse__help_mark *m, wse_future *const futures[], size_t n,
                        wse_return_when mode, const struct wse__deadline *deadline);
void wse__help_mark_restore(struct wse__help_mark *m);

#endif /* WSE__HELP_H */

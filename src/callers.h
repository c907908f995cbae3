/*
 * Plain threads that run what they wait on (wse_options.caller_runs;
 * callers.c). The pools of such executors are on a list (add at create,
 * remove at the start of destroy; forget in a forked child).
 */
#ifndef WSE__CALLERS_H
#define WSE__CALLERS_H

#include <stdbool.h>
#include <stddef.h>

#include "wsexec.h"

#include "worker.h"

/* The pool whose task the calling plain thread runs (wse_current() says its
 * executor), or NULL. Also set by a loop's plain caller while it runs chunks. */
extern WSE__TLS struct wse__pool *wse__caller_pool;

void wse__callers_add(struct wse__pool *pool);
void wse__callers_remove(struct wse__pool *pool);
void wse__callers_forget(void);
/* Is any pool on the list? One relaxed load. */
bool wse__callers_exist(void);
/* A PENDING entry of futures queued in one of those pools, started (claimed
 * in place), with a hold on the pool's park that keeps it from terminating;
 * NULL if none. */
wse_future *wse__callers_claim(wse_future *const futures[], size_t n, struct wse__pool **pool_out);
/* Run a claimed task on the calling thread with wse__caller_pool set, then
 * release the hold. */
void wse__callers_run(struct wse__pool *pool, wse_future *f);

#endif /* WSE__CALLERS_H */

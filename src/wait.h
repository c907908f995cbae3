/*
 * Waiting on a latch as wse_wait() does, for the modules above it (wait.c): a
 * worker blocks with a spare in its place, a plain thread sleeps.
 */
#ifndef WSE__WAIT_H
#define WSE__WAIT_H

#include <stdint.h>

#include "wsexec.h"

#include "clock.h"
#include "latch.h"

/* Arm l for the calling thread (a worker's wake function, or a plain thread's
 * mutex and condition variable, initialised here). 0 or a pthread error. */
int wse__wait_latch_init(struct wse__latch *l, wse_return_when mode, uint32_t count);
/* Until l trips or the deadline passes: block (a worker, with a spare started
 * in its place: it knows no future it may run) or sleep (a plain thread; after a
 * spin only if `tasks`: some awaited future is a task, see wse__latch_sleep()). */
void wse__wait_latch_block(struct wse__latch *l, const struct wse__deadline *deadline, bool tasks);
/* After the last notifier is gone (the caller's protocol says when). */
void wse__wait_latch_destroy(struct wse__latch *l);

#endif /* WSE__WAIT_H */

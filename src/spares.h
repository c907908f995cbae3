/*
 * Spare threads that keep a pool's workers running while some of them are
 * blocked in a wait (spares.c). The bookkeeping, struct wse__spares, is part of
 * the pool (worker.h).
 */
#ifndef WSE__SPARES_H
#define WSE__SPARES_H

#include <stdbool.h>
#include <stddef.h>

#include "clock.h"
#include "latch.h"
#include "tune.h"
#include "worker.h"

/* After the park terminated: let retired spares exit, join every started
 * spare and free their deques. */
void wse__spares_join(struct wse__pool *pool);

/*
 * Worker w, waiting, may run nothing: block (after spinning up to
 * WSE__BLOCK_SPIN_NS on l, if spin) until l trips or the deadline passes,
 * with a spare started or resumed so that the pool keeps n_workers threads
 * running; 0. EAGAIN: stack_low (a task waited on may be queued, but the
 * stack had no room to run it), no spare slot is left and no other thread of
 * the pool is running, now (without blocking) or later (another thread
 * blocked and left none running: it wakes this one).
 */
int wse__spares_block(struct wse__worker *w, const struct wse__latch *l,
                      const struct wse__deadline *deadline, bool stack_low, bool spin);

#endif /* WSE__SPARES_H */

/*
 * Mutex and condition-variable helpers: the blocking layer under the latch and the
 * park. A pthread failure on a valid object is a bug in wsexec, never a user
 * error, so these abort on one instead of returning it.
 */
#ifndef WSE__SYNC_H
#define WSE__SYNC_H

#include <pthread.h>
#include <stdbool.h>

#include "clock.h"

/* Lock and unlock m (abort on a pthread error: see above). */
void wse__sync_lock(pthread_mutex_t *m);
void wse__sync_unlock(pthread_mutex_t *m);

/* Initialise c on CLOCK_MONOTONIC. 0 or the pthread error. */
int wse__sync_cond_init(pthread_cond_t *c);

/* Wait on c with m held, until signalled or the deadline (NULL: none) passes.
 * false: the deadline has passed; true: woken, perhaps spuriously (the caller
 * re-checks its condition). */
bool wse__sync_cond_wait(pthread_cond_t *c, pthread_mutex_t *m,
                         const struct wse__deadline *deadline);

#endif /* WSE__SYNC_H */

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

/*
 * An asymmetric fence (Linux membarrier(2), private expedited): when it returns,
 * every other thread of the process has passed a full memory barrier since the
 * call began, so a thread that orders its accesses with a compiler barrier only
 * is ordered against the caller as if it had used a full fence. Used where the
 * fast side runs millions of times and the slow side rarely.
 * wse__sync_membarrier_ready(): registers the process once; false where the
 * kernel (or a tool such as valgrind) lacks it: then nothing may rely on it.
 * wse__sync_membarrier(): the fence; 0, or an errno (the caller then falls
 * back to a path that does not need it).
 */
bool wse__sync_membarrier_ready(void);
int wse__sync_membarrier(void);

#endif /* WSE__SYNC_H */

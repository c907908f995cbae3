/* Mutex and condition-variable helpers (see sync.h). */
#include "sync.h"

#include <errno.h>
#include <stdlib.h>

void
wse__sync_lock(pthread_mutex_t *m)
{
    /* Fails only on an invalid or deadlocked mutex: a bug in wsexec. */
    if (pthread_mutex_lock(m) != 0)
        abort();
}

void
wse__sync_unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

int
wse__sync_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);

    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

bool
wse__sync_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct wse__deadline *deadline)
{
    int rc;

    if (deadline == NULL || deadline->forever)
        rc = pthread_cond_wait(c, m);
    else
        rc = pthread_cond_timedwait(c, m, &deadline->at);
    if (rc == ETIMEDOUT) {
        /* Trust, but check against our own clock: an interposed or broken
         * timedwait (libfaketime 0.9.10 times out CLOCK_MONOTONIC waits at
         * once) then costs a retry, never an early return. */
        return !wse__clock_deadline_passed(deadline);
    }
    if (rc != 0)
        abort();
    return true;
}

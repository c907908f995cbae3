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

/* ------------------------------------------------------------------------- */
/* The asymmetric fence                                                        */

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
static bool membarrier_ok; /* written once under membarrier_once */

static int
membarrier(int cmd)
{
    return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

static void
membarrier_register(void)
{
    int cmds = membarrier(MEMBARRIER_CMD_QUERY);

    membarrier_ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

bool
wse__sync_membarrier_ready(void)
{
    /* pthread_once() orders membarrier_ok for every caller. */
    (void)pthread_once(&membarrier_once, membarrier_register);
    return membarrier_ok;
}

int
wse__sync_membarrier(void)
{
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
        return 0;
    /* A forked child's process is not registered: register it, once more. */
    if (errno == EPERM && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
        return 0;
    return errno;
}
#else
bool
wse__sync_membarrier_ready(void)
{
    return false;
}

int
wse__sync_membarrier(void)
{
    return ENOSYS;
}
#endif

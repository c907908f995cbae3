/*
 * Preloaded before libfaketime by tests/check_clock.sh: routes
 * pthread_cond_timedwait straight to glibc. libfaketime 0.9.10 interposes it and,
 * under FAKETIME_DONT_FAKE_MONOTONIC=1, converts a CLOCK_MONOTONIC deadline with
 * the faked wall clock, so every timed wait times out at once (fixed upstream in
 * wolfcw/libfaketime PR #503). The shim leaves the rest of libfaketime (the faked
 * CLOCK_REALTIME) in place, so check_clock still sees the wall clock jump.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef int (*timedwait_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);

__attribute__((visibility("default"))) int
pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *at)
{
    static timedwait_fn real;
    if (real == NULL) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        if (libc != NULL)
            real = (timedwait_fn)dlvsym(libc, "pthread_cond_timedwait", "GLIBC_2.3.2");
        if (real == NULL)
            return EINVAL;
    }
    return real(c, m, at);
}

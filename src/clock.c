/* Deadlines on CLOCK_MONOTONIC (see clock.h). */
#include "clock.h"

#include <errno.h>
#include <math.h>

#define NSEC_PER_SEC 1000000000L

struct timespec
wse__clock_now(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

int
wse__clock_deadline_in(double timeout_s, struct wse__deadline *d)
{
    struct timespec now;
    double whole;
    double frac;
    long nsec;

    if (isnan(timeout_s))
        return EINVAL;
    /* Negative means "no limit"; a limit beyond ~290 years is no limit either. */
    if (timeout_s < 0 || timeout_s > 9.0e9) {
        d->forever = true;
        return 0;
    }
    now = wse__clock_now();
    frac = modf(timeout_s, &whole);
    nsec = now.tv_nsec + (long)(frac * (double)NSEC_PER_SEC);
    d->forever = false;
    d->at.tv_sec = now.tv_sec + (time_t)whole + nsec / NSEC_PER_SEC;
    d->at.tv_nsec = nsec % NSEC_PER_SEC;
    return 0;
}

int
wse__clock_deadline_at(const struct timespec *at, struct wse__deadline *d)
{
    if (at == NULL) {
        d->forever = true;
        return 0;
    }
    if (at->tv_nsec < 0 || at->tv_nsec >= NSEC_PER_SEC)
        return EINVAL;
    d->forever = false;
    d->at = *at;
    return 0;
}

bool
wse__clock_deadline_passed(const struct wse__deadline *d)
{
    struct timespec now;

    if (d->forever)
        return false;
    now = wse__clock_now();
    return now.tv_sec > d->at.tv_sec ||
           (now.tv_sec == d->at.tv_sec && now.tv_nsec >= d->at.tv_nsec);
}

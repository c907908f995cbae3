/* Deadlines on CLOCK_MONOTONIC. */
#ifndef WSE_CLOCK_H
#define WSE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A deadline: an absolute CLOCK_MONOTONIC time, or none (wait forever). */
struct wse_deadline {
    bool forever;
    struct timespec at;
};

/* Now on CLOCK_MONOTONIC. */
struct timespec wse__now(void);

/* Deadline timeout_s seconds from now: negative or +infinity means forever, 0
 * (or anything that rounds to a past time) means now. EINVAL for NaN. */
int wse__deadline_in(double timeout_s, struct wse_deadline *d);

/* Deadline at an absolute time (NULL: forever). EINVAL for tv_nsec outside
 * [0, 1e9). */
int wse__deadline_at(const struct timespec *at, struct wse_deadline *d);

/* True once the deadline has passed (never for forever). */
bool wse__deadline_passed(const struct wse_deadline *d);

#endif /* WSE_CLOCK_H */

/* Deadlines on CLOCK_MONOTONIC. */
#ifndef WSE__CLOCK_H
#define WSE__CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A deadline: an absolute CLOCK_MONOTONIC time, or none (wait forever). */
struct wse__deadline {
    bool forever;
    struct timespec at;
};

/* Now on CLOCK_MONOTONIC. */
struct timespec wse__clock_now(void);

/* t as ns since the clock's origin. */
static inline uint64_t
wse__clock_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000U + (uint64_t)t->tv_nsec;
}

/* Nanoseconds from a to b. */
static inline int64_t
wse__clock_elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

/* Deadline timeout_s seconds from now: negative or +infinity means forever, 0
 * (or anything that rounds to a past time) means now. EINVAL for NaN. */
int wse__clock_deadline_in(double timeout_s, struct wse__deadline *d);

/* Deadline at an absolute time (NULL: forever). EINVAL for tv_nsec outside
 * [0, 1e9). */
int wse__clock_deadline_at(const struct timespec *at, struct wse__deadline *d);

/* True once the deadline has passed (never for forever). */
bool wse__clock_deadline_passed(const struct wse__deadline *d);

#endif /* WSE__CLOCK_H */

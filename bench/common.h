/* Shared helpers of the benchmark programs: clocks, statistics, the tiny task body,
 * fib, environment knobs and the one output format (CSV lines on stdout:
 * workload,param,config,metric,value). C and C++. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_CHECK(call)                                                                          \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, strerror(rc_));   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static inline int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* User + system CPU time of the whole process (getrusage). */
static inline int64_t
process_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        perror("getrusage");
        exit(1);
    }
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static inline void
sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline void
spin_until_ns(int64_t t)
{
    while (now_ns() < t) {
    }
}

static inline long
env_long(const char *name, long dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : dflt;
}

static inline int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v; returns the q-quantile (nearest rank), q in [0, 1]. */
static inline int64_t
quantile(int64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t i = (size_t)(q * (double)n);
    return v[i >= n ? n - 1 : i];
}

static inline void
emit(const char *workload, const char *param, const char *config, const char *metric, double value)
{
    printf("%s,%s,%s,%s,%.6g\n", workload, param, config, metric, value);
}

/* Report median and p99 (in microseconds) of n latency samples in ns. */
static inline void
emit_latency(const char *workload, const char *param, const char *config, int64_t *v, size_t n)
{
    emit(workload, param, config, "median_us", (double)quantile(v, n, 0.5) / 1e3);
    emit(workload, param, config, "p99_us", (double)quantile(v, n, 0.99) / 1e3);
}

/* The tiny task of the flat batch: about 50 ns of dependent integer work. */
#define TINY_ITERS 44
static inline uint64_t
tiny_work(uint64_t x)
{
    for (int i = 0; i < TINY_ITERS; i++)
        x = x * 6364136223846793005u + 1442695040888963407u;
    return x;
}

static inline long
fib_seq(int n)
{
    return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

static inline long
fib_expected(int n)
{
    long a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

/* ---- The rounds workload: steps of `width` compute-bound tasks on a 1-D stencil.
 * Row 0 holds the initial values, rows 1 .. steps the tasks' results: task (s, i)
 * reads (s-1, i-1), (s-1, i), (s-1, i+1) (those inside the width) and writes (s, i).
 * Rows 1 .. steps start as NaN, and NaN propagates through the kernel, so a task that
 * ran before one of its inputs leaves NaN in the last row: rounds_check() catches it. */
#define ROUNDS_A 0.999999

/* A dependent chain of k multiply-adds on doubles: exactly 2k floating-point operations
 * (without -ffast-math the chain is neither reordered nor vectorised); x tends to 1, so
 * there is no overflow and no subnormal. */
static inline double
fma_chain(double x, long k)
{
    for (long i = 0; i < k; i++)
        x = x * ROUNDS_A + (1.0 - ROUNDS_A);
    return x;
}

/* FLOPs of one task: the mean of its 3 inputs (2 adds, 1 divide) and the chain. */
#define ROUNDS_TASK_FLOPS(k) (2.0 * (double)(k) + 3.0)

struct rounds {
    long k;
    size_t width, steps, cap;
    double *val; /* (cap + 1) * width */
};

static inline void
rounds_reset(struct rounds *r, size_t steps)
{
    if (steps > r->cap) {
        free(r->val);
        r->val = (double *)malloc((steps + 1) * r->width * sizeof *r->val);
        if (!r->val) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        r->cap = steps;
    }
    r->steps = steps;
    for (size_t i = 0; i < r->width; i++)
        r->val[i] = 2.0 + (double)i;
    for (size_t j = r->width; j < (steps + 1) * r->width; j++)
        r->val[j] = 0.0 / 0.0;
}

static inline void
rounds_neighbours(const struct rounds *r, size_t i, size_t *lo, size_t *hi)
{
    *lo = i > 0 ? i - 1 : 0;
    *hi = i + 1 < r->width ? i + 1 : i;
}

/* Task (s, i), 1 <= s <= steps. */
static inline void
rounds_run(const struct rounds *r, size_t s, size_t i)
{
    size_t lo, hi, w = r->width;
    rounds_neighbours(r, i, &lo, &hi);
    const double *in = r->val + (s - 1) * w;
    r->val[s * w + i] = fma_chain((in[lo] + in[i] + in[hi]) / 3.0, r->k);
}

/* Exits if a task of the last row is missing or saw a missing input. */
static inline void
rounds_check(const struct rounds *r, const char *config)
{
    for (size_t i = 0; i < r->width; i++) {
        double v = r->val[r->steps * r->width + i];
        if (v != v) {
            fprintf(stderr, "%s: rounds: task (%zu, %zu) ran out of order or not at all\n", config,
                    r->steps, i);
            exit(1);
        }
    }
}

/* The number of timed steps: ROUNDS_S, or more for short tasks, so that the run lasts
 * at least ROUNDS_MIN_MS when tasks take their calibrated time (ROUNDS_NS_PER_ITER
 * ns per chain iteration, which the driver measures once and passes down). */
static inline size_t
rounds_steps(long k)
{
    size_t s = (size_t)env_long("ROUNDS_S", 1000);
    const char *nspi = getenv("ROUNDS_NS_PER_ITER");
    double task_ns = (double)k * (nspi && *nspi ? strtod(nspi, NULL) : 3.0);
    double need = (double)env_long("ROUNDS_MIN_MS", 100) * 1e6 / (task_ns > 50 ? task_ns : 50);
    return need > (double)s ? (size_t)need : s;
}

/* Prints the per-step time and the FLOP rate of `steps` steps taking ns in all. */
static inline void
rounds_emit(const char *workload, const char *param, const char *config, const struct rounds *r,
            int64_t ns)
{
    double steps = (double)r->steps;
    emit(workload, param, config, "step_us", (double)ns / 1e3 / steps);
    emit(workload, param, config, "gflops",
         steps * (double)r->width * ROUNDS_TASK_FLOPS(r->k) / (double)ns);
}

#endif

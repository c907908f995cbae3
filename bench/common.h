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

#endif

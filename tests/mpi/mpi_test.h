/*
 * Helpers of the MPI test programs. These are plain programs, not Check suites:
 * Check runs each test in a forked child, and a forked MPI process cannot take part
 * in the job (Open MPI forbids fork after MPI_Init with its shared-memory
 * transports), while CK_FORK=no would run every case in one process anyway. So
 * each program runs its cases in order, on every rank, and the first failed check
 * prints rank, file, line, the expression and both values, then MPI_Abort()s the
 * job, which makes mpirun and the test exit nonzero. A watchdog (alarm) turns a
 * hang into a failure as well; time limits scale with CK_TIMEOUT_MULTIPLIER.
 */
#ifndef WSE_MPI_TEST_H
#define WSE_MPI_TEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsexec_mpi.h"

static int test_rank = -1;

#define T_FAIL(...)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "rank %d: %s:%d: ", test_rank, __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        fflush(stderr);                                                                            \
        MPI_Abort(MPI_COMM_WORLD, 1);                                                              \
    } while (0)

#define T_ASSERT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            T_FAIL("check failed: %s", #cond);                                                     \
    } while (0)

#define T_EQ(a, b)                                                                                 \
    do {                                                                                           \
        long long t_a_ = (long long)(a);                                                           \
        long long t_b_ = (long long)(b);                                                           \
        if (t_a_ != t_b_)                                                                          \
            T_FAIL("check failed: %s == %s (%lld vs %lld)", #a, #b, t_a_, t_b_);                   \
    } while (0)

/* The factor of every time limit (sanitizer and valgrind runs are slower). */
static inline double
t_scale(void)
{
    const char *s = getenv("CK_TIMEOUT_MULTIPLIER");
    double f = s ? atof(s) : 1.0;
    return f >= 1.0 ? f : 1.0;
}

static void
t_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "mpi test: watchdog expired (hang)\n";
    ssize_t rc = write(2, msg, sizeof(msg) - 1);
    (void)rc;
    _exit(3);
}

/* Start the watchdog: the process exits with status 3 after seconds * t_scale(). */
static inline void
t_watchdog(unsigned seconds)
{
    signal(SIGALRM, t_alarm);
    alarm((unsigned)(seconds * t_scale()));
}

static inline double
t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void
t_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* MPI_Init_thread(MULTIPLE), an executor of `workers` workers and the layer. */
static inline void
t_init(int *argc, char ***argv, unsigned workers, wse_executor **ex, wse_mpi **m)
{
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &test_rank);
    if (provided < MPI_THREAD_MULTIPLE)
        T_FAIL("MPI provides thread level %d only", provided);
    wse_options o;
    memset(&o, 0, sizeof(o));
    o.workers = workers;
    T_EQ(wse_executor_create(ex, &o), 0);
    T_EQ(wse_mpi_create(m, *ex, MPI_COMM_WORLD), 0);
}

static inline void
t_fini(wse_executor *ex, wse_mpi *m)
{
    T_EQ(wse_mpi_destroy(m), 0);
    T_EQ(wse_executor_destroy(ex), 0);
    MPI_Finalize();
}

#endif /* WSE_MPI_TEST_H */

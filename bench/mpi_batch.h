/*
 * The imbalanced batch shared by the MPI batch benchmarks (mpi_batch_wse.c,
 * mpi_batch_omp.c, mpi_batch_starpu.c): 40 tasks per rank whose sizes spread 10:1
 * (2 to 20 ms, the generator of tests/mpi/mpi_balance.c), the two kinds of work (a
 * sleep, or a loop on the thread's CPU time), a monotonic clock, a barrier that
 * sleeps, the command line and the one result line that bench/mpi_batch.sh reads.
 */
#ifndef WSE_BENCH_MPI_BATCH_H
#define WSE_BENCH_MPI_BATCH_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MB_TASKS_PER_RANK = 40 };

static inline double
mb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double
mb_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fills us[0..n) with the task sizes in microseconds; returns the total in seconds. */
static inline double
mb_sizes(int32_t *us, int n)
{
    double total = 0;
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        us[i] = 2000 * (1 + (int32_t)((x >> 16) % 10)); /* 2 .. 20 ms */
        total += us[i] * 1e-6;
    }
    return total;
}

/* Sleeps us microseconds (to an absolute deadline, so signals do not shorten it). */
static inline void
mb_sleep_us(int32_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += us / 1000000;
    ts.tv_nsec += (long)(us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

/* Loops until this thread has used us microseconds of CPU time. */
static inline void
mb_spin_us(int32_t us)
{
    double end = mb_thread_cpu() + us * 1e-6;
    volatile unsigned x = 0;
    do {
        for (unsigned i = 0; i < 1000; i++)
            x += i;
    } while (mb_thread_cpu() < end);
}

/* One task's work: a sleep, or with cpu set a CPU loop, of us microseconds. */
static inline void
mb_work(int32_t us, int cpu)
{
    if (cpu)
        mb_spin_us(us);
    else
        mb_sleep_us(us);
}

/* A barrier that sleeps 1 ms between tests instead of spinning in MPI (Open MPI's
 * blocking calls busy-poll, which would take a core from the threads that work). */
static inline void
mb_lazy_barrier(MPI_Comm comm)
{
    MPI_Request r;
    int done = 0;
    MPI_Ibarrier(comm, &r);
    for (;;) {
        MPI_Test(&r, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* The command line: [sleep|cpu] and at most one flag (NULL: none). Sets *cpu and
 * *flag_set; returns 0, or 2 after printing the usage on rank 0. */
static inline int
mb_args(int argc, char **argv, const char *flag, int *cpu, int *flag_set, int rank)
{
    *cpu = 0;
    *flag_set = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "sleep") == 0)
            *cpu = 0;
        else if (strcmp(argv[i], "cpu") == 0)
            *cpu = 1;
        else if (flag != NULL && strcmp(argv[i], flag) == 0)
            *flag_set = 1;
        else {
            if (rank == 0)
                fprintf(stderr, "usage: %s [sleep|cpu]%s%s%s\n", argv[0], flag ? " [" : "",
                        flag ? flag : "", flag ? "]" : "");
            return 2;
        }
    }
    return 0;
}

/* The start of every batch program: MPI at thread level `level` (abort if it gives
 * less), this process's rank and the job's size, then mb_args(). Returns 0, or 2
 * after the usage and MPI_Finalize(). */
static inline int
mb_init(int *argc, char ***argv, int level, const char *flag, int *cpu, int *flag_set, int *rank,
        int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, level, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    if (mb_args(*argc, *argv, flag, cpu, flag_set, *rank) != 0) {
        MPI_Finalize();
        return 2;
    }
    if (provided < level) {
        if (*rank == 0)
            fprintf(stderr, "%s: MPI gives thread level %d only\n", (*argv)[0], provided);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return 0;
}

/* The result line (rank 0): per_rank[r] tasks ran on rank r (NULL: not known). */
static inline void
mb_report(const char *system, int ranks, int workers, int cpu, int n, double work, double t,
          const int *per_rank)
{
    double ideal = work / ((double)ranks * workers);
    printf("system=%s ranks=%d workers=%d mode=%s tasks=%d work_s=%.3f ideal_s=%.3f time_s=%.3f "
           "x_ideal=%.3f",
           system, ranks, workers, cpu ? "cpu" : "sleep", n, work, ideal, t, t / ideal);
    if (per_rank != NULL) {
        printf(" per_rank=");
        for (int r = 0; r < ranks; r++)
            printf("%s%d", r ? "/" : "", per_rank[r]);
    }
    printf("\n");
    fflush(stdout);
}

#endif /* WSE_BENCH_MPI_BATCH_H */

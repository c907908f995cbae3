/*
 * wse-mpi-bench: the cost of libwsexec_mpi against raw MPI, on 2 ranks.
 *
 *   mpirun -np 2 wse-mpi-bench
 *
 * 1. Round trip: rank 0 sends n bytes to rank 1 and gets them back: raw MPI
 *    (MPI_Send/MPI_Recv ping-pong on a communicator of its own) against the layer
 *    (wse_mpi_submit of an echo task to rank 1, then wse_future_wait). Median of
 *    the round trips, hot (back to back).
 * 2. Throughput: rank 0 submits empty tasks to rank 1 (and to WSE_MPI_ANY_RANK) in
 *    windows of 256 futures and waits for each window: tasks per second.
 * Rank 1 only serves, waiting in a barrier that sleeps (Open MPI's MPI_Barrier
 * busy-polls, taking a core from the layer's threads). Times are CLOCK_MONOTONIC on
 * rank 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi_batch.h"
#include "wsexec_mpi.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int
echo(const void *in, size_t in_len, void **out, size_t *out_len)
{
    if (in_len == 0)
        return 0;
    *out = malloc(in_len);
    if (*out == NULL)
        return 12;
    memcpy(*out, in, in_len);
    *out_len = in_len;
    return 0;
}

static double
median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    return t[n / 2];
}

int
main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        fprintf(stderr, "wse-mpi-bench: run with mpirun -np 2\n");
        MPI_Finalize();
        return 2;
    }
    MPI_Comm raw;
    MPI_Comm_dup(MPI_COMM_WORLD, &raw);
    wse_executor *ex;
    wse_options o;
    memset(&o, 0, sizeof(o));
    o.workers = 1;
    /* WSE_BENCH_SPIN_US: wse_options.spin_us, for trying other budgets. */
    const char *spin = getenv("WSE_BENCH_SPIN_US");
    o.spin_us = spin != NULL ? (unsigned)strtoul(spin, NULL, 0) : 0;
    wse_mpi *m;
    if (wse_executor_create(&ex, &o) != 0 || wse_mpi_create(&m, ex, MPI_COMM_WORLD) != 0)
        MPI_Abort(MPI_COMM_WORLD, 1);
    wse_mpi_register(m, "echo", echo);
    MPI_Barrier(MPI_COMM_WORLD);

    static const size_t sizes[] = {8, 4096, 65536, 1 << 20, 16 << 20};
    enum { REPS = 200 };
    double t[REPS];
    if (rank == 0)
        printf("%-10s %14s %14s\n", "bytes", "raw MPI (us)", "wse_mpi (us)");
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        int reps = n >= (1 << 20) ? 20 : REPS;
        unsigned char *buf = calloc(n, 1);
        /* Raw ping-pong on rank 0 and 1. */
        double raw_us = 0;
        for (int i = 0; i < reps + 5; i++) {
            double t0 = now();
            if (rank == 0) {
                MPI_Send(buf, (int)n, MPI_BYTE, 1, 0, raw);
                MPI_Recv(buf, (int)n, MPI_BYTE, 1, 0, raw, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, (int)n, MPI_BYTE, 0, 0, raw, MPI_STATUS_IGNORE);
                MPI_Send(buf, (int)n, MPI_BYTE, 0, 0, raw);
            }
            if (i >= 5)
                t[i - 5] = now() - t0;
        }
        raw_us = median(t, reps) * 1e6;
        mb_lazy_barrier(raw);
        double wse_us = 0;
        if (rank == 0) {
            for (int i = 0; i < reps + 5; i++) {
                double t0 = now();
                wse_future *f;
                if (wse_mpi_submit(m, 1, "echo", buf, n, &f) != 0)
                    MPI_Abort(MPI_COMM_WORLD, 1);
                wse_future_wait(f, WSE_FOREVER);
                wse_future_release(f);
                if (i >= 5)
                    t[i - 5] = now() - t0;
            }
            wse_us = median(t, reps) * 1e6;
            printf("%-10zu %14.1f %14.1f\n", n, raw_us, wse_us);
        }
        mb_lazy_barrier(raw);
        free(buf);
    }

    if (rank == 0) {
        for (int any = 0; any < 2; any++) {
            enum { WINDOW = 256, TOTAL = 20480 };
            wse_future *f[WINDOW];
            double t0 = now();
            for (int done = 0; done < TOTAL; done += WINDOW) {
                for (int i = 0; i < WINDOW; i++)
                    if (wse_mpi_submit(m, any ? WSE_MPI_ANY_RANK : 1, "echo", NULL, 0, &f[i]) != 0)
                        MPI_Abort(MPI_COMM_WORLD, 1);
                wse_wait(f, WINDOW, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
                for (int i = 0; i < WINDOW; i++)
                    wse_future_release(f[i]);
            }
            double dt = now() - t0;
            printf("empty tasks to %s, windows of %d: %.0f tasks/s\n",
                   any ? "WSE_MPI_ANY_RANK" : "rank 1", WINDOW, TOTAL / dt);
        }
    }
    wse_mpi_destroy(m);
    wse_executor_destroy(ex);
    MPI_Comm_free(&raw);
    MPI_Finalize();
    return 0;
}

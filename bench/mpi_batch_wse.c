/*
 * wse-mpi-batch-bench: the imbalanced batch of bench/mpi_batch.h with libwsexec_mpi,
 * one worker per rank.
 *
 *   mpirun -np N wse-mpi-batch-bench [sleep|cpu] [--static]
 *
 * Rank 0 submits the whole batch with WSE_MPI_ANY_RANK (--static: task i to rank
 * i % N) and waits for all of it; the other ranks serve in a barrier that sleeps.
 * The time runs on rank 0 from the first submit to the return of the wait; each
 * task's result is the rank it ran on.
 */
#include <errno.h>

#include "mpi_batch.h"
#include "wsexec_mpi.h"

static int cpu_mode;
static int32_t my_rank;

static int
work(const void *in, size_t in_len, void **out, size_t *out_len)
{
    int32_t us = 0;
    if (in_len != sizeof(us))
        return EINVAL;
    memcpy(&us, in, sizeof(us));
    mb_work(us, cpu_mode);
    int32_t *r = malloc(sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    *r = my_rank;
    *out = r;
    *out_len = sizeof(*r);
    return 0;
}

int
main(int argc, char **argv)
{
    int rank, size, fixed;
    if (mb_init(&argc, &argv, MPI_THREAD_MULTIPLE, "--static", &cpu_mode, &fixed, &rank, &size) !=
        0)
        return 2;
    my_rank = rank;
    wse_options o;
    memset(&o, 0, sizeof(o));
    o.workers = 1;
    wse_executor *ex;
    wse_mpi *m;
    if (wse_executor_create(&ex, &o) != 0 || wse_mpi_create(&m, ex, MPI_COMM_WORLD) != 0 ||
        wse_mpi_register(m, "work", work) != 0)
        MPI_Abort(MPI_COMM_WORLD, 1);
    mb_lazy_barrier(MPI_COMM_WORLD);

    if (rank == 0) {
        int n = MB_TASKS_PER_RANK * size;
        int32_t *us = malloc((size_t)n * sizeof(*us));
        wse_future **f = calloc((size_t)n, sizeof(*f));
        int *per_rank = calloc((size_t)size, sizeof(*per_rank));
        if (us == NULL || f == NULL || per_rank == NULL)
            MPI_Abort(MPI_COMM_WORLD, 1);
        double total = mb_sizes(us, n);
        double t0 = mb_now();
        for (int i = 0; i < n; i++)
            if (wse_mpi_submit(m, fixed ? i % size : WSE_MPI_ANY_RANK, "work", &us[i],
                               sizeof(us[i]), &f[i]) != 0)
                MPI_Abort(MPI_COMM_WORLD, 1);
        size_t n_done = 0;
        int rc = wse_wait(f, (size_t)n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done);
        double t = mb_now() - t0;
        if (rc != 0 || n_done != (size_t)n)
            MPI_Abort(MPI_COMM_WORLD, 1);
        for (int i = 0; i < n; i++) {
            size_t len = 0;
            const void *p = wse_mpi_result(f[i], &len);
            int32_t r;
            if (wse_future_state(f[i]) != WSE_DONE || p == NULL || len != sizeof(r))
                MPI_Abort(MPI_COMM_WORLD, 1);
            memcpy(&r, p, sizeof(r));
            if (r < 0 || r >= size)
                MPI_Abort(MPI_COMM_WORLD, 1);
            per_rank[r]++;
            wse_future_release(f[i]);
        }
        mb_report(fixed ? "wsexec-static" : "wsexec-any", size, 1, cpu_mode, n, total, t, per_rank);
        free(per_rank);
        free(f);
        free(us);
    }
    mb_lazy_barrier(MPI_COMM_WORLD);
    wse_mpi_destroy(m);
    wse_executor_destroy(ex);
    MPI_Finalize();
    return 0;
}

/*
 * wse-mpi-batch-omp: the imbalanced batch of bench/mpi_batch.h as a hand-written
 * MPI+OpenMP program splits it: statically over the ranks, dynamically over the
 * OpenMP threads of each rank (OMP_NUM_THREADS; bench/mpi_batch.sh uses 1).
 *
 *   mpirun -np N wse-mpi-batch-omp [sleep|cpu] [--block]
 *
 * Rank 0 makes the sizes and broadcasts them; rank r takes the tasks i with
 * i % N == r (--block: the r-th contiguous block of n / N), runs them in an OpenMP
 * parallel for, and the ranks reduce their task counts to rank 0. The time runs on
 * rank 0 from before the broadcast to the return of the reduction. MPI calls come
 * from the main thread only (MPI_THREAD_FUNNELED).
 */
#include <omp.h>

#include "mpi_batch.h"

int
main(int argc, char **argv)
{
    int rank, size, cpu, block;
    if (mb_init(&argc, &argv, MPI_THREAD_FUNNELED, "--block", &cpu, &block, &rank, &size) != 0)
        return 2;
    int n = MB_TASKS_PER_RANK * size;
    int32_t *us = malloc((size_t)n * sizeof(*us));
    int *mine = malloc((size_t)n * sizeof(*mine));
    int *count = calloc((size_t)size, sizeof(*count));
    int *per_rank = calloc((size_t)size, sizeof(*per_rank));
    if (us == NULL || mine == NULL || count == NULL || per_rank == NULL)
        MPI_Abort(MPI_COMM_WORLD, 1);
    double total = 0;
    if (rank == 0)
        total = mb_sizes(us, n);
    mb_lazy_barrier(MPI_COMM_WORLD);

    double t0 = mb_now();
    MPI_Bcast(us, n, MPI_INT32_T, 0, MPI_COMM_WORLD);
    int n_mine = 0;
    if (block) {
        int per = (n + size - 1) / size;
        for (int i = rank * per; i < n && i < (rank + 1) * per; i++)
            mine[n_mine++] = i;
    } else {
        for (int i = rank; i < n; i += size)
            mine[n_mine++] = i;
    }
#pragma omp parallel for schedule(dynamic)
    for (int k = 0; k < n_mine; k++)
        mb_work(us[mine[k]], cpu);
    /* Ranks that are done wait in a barrier that sleeps, not in the reduction
     * (which busy-polls), so that they leave the cores to the ranks still working. */
    mb_lazy_barrier(MPI_COMM_WORLD);
    count[rank] = n_mine;
    MPI_Reduce(count, per_rank, size, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    double t = mb_now() - t0;

    if (rank == 0)
        mb_report(block ? "mpi-omp-block" : "mpi-omp-cyclic", size, omp_get_max_threads(), cpu, n,
                  total, t, per_rank);
    free(per_rank);
    free(count);
    free(mine);
    free(us);
    MPI_Finalize();
    return 0;
}

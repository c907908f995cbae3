/*
 * wse-mpi-batch-starpu: the imbalanced batch of bench/mpi_batch.h with StarPU-MPI,
 * one CPU worker per rank (STARPU_NCPU=1, no CUDA or OpenCL).
 *
 *   mpirun -np N wse-mpi-batch-starpu [sleep|cpu]
 *
 * StarPU-MPI is owner-computes: every rank inserts the same task graph and a task
 * runs on the rank that owns the data it writes. Its placement is fixed at insertion
 * (STARPU_EXECUTE_ON_NODE, or a node selection policy, which is a function of the
 * task's data that every rank must evaluate alike); it does not move tasks between
 * ranks at run time (its load balancer migrates data between the phases of an
 * iterative application). So the batch is distributed statically: task i reads its
 * size, a handle owned by rank 0, and writes its result, a handle owned by rank
 * i % N, where it runs; StarPU-MPI sends the size from rank 0. Each rank inserts
 * only the tasks it takes part in (the pruning of the StarPU handbook). The time runs
 * on rank 0 from the first insertion to the end of a barrier after every rank's
 * starpu_task_wait_for_all().
 */
#include <starpu.h>
#include <starpu_mpi.h>

#include "mpi_batch.h"

static int cpu_mode;
static int32_t my_rank;

static void
work_cpu(void *buffers[], void *arg)
{
    (void)arg;
    const int32_t *us = (const int32_t *)STARPU_VARIABLE_GET_PTR(buffers[0]);
    int32_t *where = (int32_t *)STARPU_VARIABLE_GET_PTR(buffers[1]);
    mb_work(*us, cpu_mode);
    *where = my_rank;
}

static struct starpu_codelet work_cl = {
    .cpu_funcs = {work_cpu},
    .nbuffers = 2,
    .modes = {STARPU_R, STARPU_W},
    .name = "work",
};

int
main(int argc, char **argv)
{
    int rank, size, unused;
    /* THREAD_MULTIPLE: StarPU-MPI's thread and this one's barrier call MPI at once. */
    if (mb_init(&argc, &argv, MPI_THREAD_MULTIPLE, NULL, &cpu_mode, &unused, &rank, &size) != 0)
        return 2;
    my_rank = rank;
    struct starpu_conf conf;
    starpu_conf_init(&conf);
    conf.ncpus = 1;
    conf.ncuda = 0;
    conf.nopencl = 0;
    if (starpu_mpi_init_conf(&argc, &argv, 0, MPI_COMM_WORLD, &conf) != 0) {
        fprintf(stderr, "wse-mpi-batch-starpu: starpu_mpi_init_conf failed on rank %d\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int workers = (int)starpu_cpu_worker_get_count();

    int n = MB_TASKS_PER_RANK * size;
    int32_t *us = calloc((size_t)n, sizeof(*us));
    int32_t *where = malloc((size_t)n * sizeof(*where));
    starpu_data_handle_t *us_h = calloc((size_t)n, sizeof(*us_h));
    starpu_data_handle_t *where_h = calloc((size_t)n, sizeof(*where_h));
    if (us == NULL || where == NULL || us_h == NULL || where_h == NULL)
        MPI_Abort(MPI_COMM_WORLD, 1);
    double total = 0;
    if (rank == 0)
        total = mb_sizes(us, n);
    for (int i = 0; i < n; i++) {
        int owner = i % size;
        where[i] = -1;
        /* Ranks other than the owner register a handle without memory. */
        starpu_variable_data_register(&us_h[i], rank == 0 ? STARPU_MAIN_RAM : -1,
                                      rank == 0 ? (uintptr_t)&us[i] : 0, sizeof(us[i]));
        starpu_mpi_data_register(us_h[i], i, 0);
        starpu_variable_data_register(&where_h[i], rank == owner ? STARPU_MAIN_RAM : -1,
                                      rank == owner ? (uintptr_t)&where[i] : 0, sizeof(where[i]));
        starpu_mpi_data_register(where_h[i], n + i, owner);
    }
    mb_lazy_barrier(MPI_COMM_WORLD);

    double t0 = mb_now();
    for (int i = 0; i < n; i++)
        if ((rank == 0 || rank == i % size) &&
            starpu_mpi_task_insert(MPI_COMM_WORLD, &work_cl, STARPU_R, us_h[i], STARPU_W,
                                   where_h[i], 0) != 0)
            MPI_Abort(MPI_COMM_WORLD, 1);
    starpu_task_wait_for_all();
    mb_lazy_barrier(MPI_COMM_WORLD);
    double t = mb_now() - t0;

    for (int i = 0; i < n; i++) {
        starpu_data_unregister(us_h[i]);
        starpu_data_unregister(where_h[i]);
    }
    /* Every task ran where it was placed: count them per rank on rank 0. */
    int *count = calloc((size_t)size, sizeof(*count));
    int *per_rank = calloc((size_t)size, sizeof(*per_rank));
    if (count == NULL || per_rank == NULL)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (int i = rank; i < n; i += size)
        if (where[i] == rank)
            count[rank]++;
    MPI_Reduce(count, per_rank, size, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        int sum = 0;
        for (int r = 0; r < size; r++)
            sum += per_rank[r];
        if (sum != n) {
            fprintf(stderr, "wse-mpi-batch-starpu: %d of %d tasks ran\n", sum, n);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        mb_report("starpu-mpi", size, workers, cpu_mode, n, total, t, per_rank);
    }
    free(per_rank);
    free(count);
    free(where_h);
    free(us_h);
    free(where);
    free(us);
    starpu_mpi_shutdown(); /* shuts StarPU down too: starpu_mpi_init_conf started it */
    MPI_Finalize();
    return 0;
}

/*
 * wse_mpi_create needs MPI_THREAD_MULTIPLE: before MPI_Init, under a lesser thread
 * level and after MPI_Finalize it returns EPROTONOSUPPORT and leaves *out alone.
 * Skipped (77) if the MPI library hands out MULTIPLE even when asked for less.
 */
#include <errno.h>
#include <stdint.h>

#include "mpi_test.h"

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *const sentinel = (wse_mpi *)(uintptr_t)0x1;
    wse_mpi *m = sentinel;
    t_watchdog(60);
    T_EQ(wse_executor_create(&ex, NULL), 0);
    T_EQ(wse_mpi_create(&m, ex, MPI_COMM_WORLD), EPROTONOSUPPORT); /* not initialised */
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &test_rank);
    if (provided >= MPI_THREAD_MULTIPLE) {
        MPI_Finalize();
        wse_executor_destroy(ex);
        return 77;
    }
    T_EQ(wse_mpi_create(&m, ex, MPI_COMM_WORLD), EPROTONOSUPPORT);
    T_ASSERT(m == sentinel);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    if (wse_mpi_create(&m, ex, MPI_COMM_WORLD) != EPROTONOSUPPORT || m != sentinel)
        return 1;
    T_EQ(wse_executor_destroy(ex), 0);
    return 0;
}

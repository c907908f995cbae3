/* Consumer of the installed libwsexec_mpi: every rank squares a number on the next
 * rank and checks the answer. Exit 0 on success. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsexec_mpi.h>

static int
square(const void *in, size_t in_len, void **out, size_t *out_len)
{
    int64_t x;
    if (in_len != sizeof(x))
        return 22;
    memcpy(&x, in, sizeof(x));
    int64_t *y = malloc(sizeof(*y));
    if (y == NULL)
        return 12;
    *y = x * x;
    *out = y;
    *out_len = sizeof(*y);
    return 0;
}

int
main(int argc, char **argv)
{
    int provided, bad = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    wse_executor *ex;
    wse_mpi *m;
    if (wse_executor_create(&ex, NULL) != 0 || wse_mpi_create(&m, ex, MPI_COMM_WORLD) != 0)
        MPI_Abort(MPI_COMM_WORLD, 1);
    wse_mpi_register(m, "square", square);
    MPI_Barrier(MPI_COMM_WORLD);
    int64_t x = 7 + wse_mpi_rank(m);
    wse_future *f;
    size_t len = 0;
    if (wse_mpi_submit(m, (wse_mpi_rank(m) + 1) % wse_mpi_size(m), "square", &x, sizeof(x), &f) !=
            0 ||
        wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL) != 0)
        MPI_Abort(MPI_COMM_WORLD, 1);
    const int64_t *y = wse_mpi_result(f, &len);
    if (y == NULL || len != sizeof(*y) || *y != x * x)
        bad = 1;
    wse_future_release(f);
    int rank = wse_mpi_rank(m);
    wse_mpi_destroy(m);
    wse_executor_destroy(ex);
    printf("rank %d: %s\n", rank, bad ? "FAILED" : "ok");
    MPI_Finalize();
    return bad;
}

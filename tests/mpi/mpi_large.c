/*
 * Large payloads and results: every rank sends MiB (argv[1], default 64) to the
 * next rank and gets them back (echo), all at once, so large transfers cross in
 * both directions; then rank 0 sends one to itself. The bytes are checked. Built
 * twice: against the library (1 GiB data messages, so one message each here) and
 * as mpi_large_chunked with 1 MiB data messages (WSE__MPI_CHUNK_BYTES), which
 * takes the multi-message path that payloads over 1 GiB take.
 */
#include "tasks.h"

static unsigned char
pattern(size_t i, int salt)
{
    return (unsigned char)((i * 2654435761u) >> 13) ^ (unsigned char)salt;
}

static void
roundtrip(wse_mpi *m, int dest, size_t len, int salt)
{
    unsigned char *buf = malloc(len);
    T_ASSERT(buf != NULL);
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(i, salt);
    wse_future *f = NULL;
    T_EQ(wse_mpi_submit(m, dest, "echo", buf, len, &f), 0);
    free(buf);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_DONE);
    size_t got = 0;
    const unsigned char *p = wse_mpi_result(f, &got);
    T_ASSERT(p != NULL);
    T_EQ(got, len);
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(i, salt))
            T_FAIL("byte %zu of %zu differs", i, len);
    wse_future_release(f);
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *m;
    t_watchdog(300);
    t_init(&argc, &argv, 2, &ex, &m);
    t_register_all(m);
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 64;
    size_t len = mib << 20;
    int size = wse_mpi_size(m);

    double t0 = t_now();
    roundtrip(m, (test_rank + 1) % size, len, test_rank);
    double t1 = t_now();
    MPI_Barrier(MPI_COMM_WORLD);
    if (test_rank == 0) {
        roundtrip(m, 0, len + 1, 99);
        roundtrip(m, size - 1, 1, 7);
        roundtrip(m, size - 1, 8192, 8); /* the largest inline payload */
        roundtrip(m, size - 1, 8193, 9); /* the smallest out-of-line one */
        printf("mpi_large: %zu MiB round trip to the next rank in %.3f s (rank 0)\n", mib, t1 - t0);
    }
    t_fini(ex, m);
    return 0;
}

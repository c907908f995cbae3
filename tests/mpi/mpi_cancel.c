/*
 * Cancel and stop reach the rank that runs a remote task. Every rank has one
 * worker. For each target rank r (rank 0 itself included), rank 0 submits A, a
 * task that runs until it sees a stop request. Rank r's main thread tells rank 0
 * over MPI_COMM_WORLD when A has started (the program's own MPI traffic, beside the
 * layer's). Rank 0 then submits B to r, where it can only wait behind A, cancels B
 * (round 1) or stops it (round 2), and requests a stop of A. Afterwards, over all
 * ranks: B never ran, every A saw the stop, and the local futures are CANCELLED.
 * B is submitted once A runs, so the test does not depend on the order queued tasks start in.
 * Then 200 tasks cancelled right after their submit, behind a running A. Last, a
 * task that ignores the stop and returns a result: the local future
 * stays CANCELLED and the late result is dropped (and freed: LeakSanitizer).
 */
#include "tasks.h"

#define TAG_STARTED 77

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *m;
    t_watchdog(120);
    t_init(&argc, &argv, 1, &ex, &m);
    t_register_all(m);
    int size = wse_mpi_size(m);

    for (int round = 1; round <= 2; round++) {
        for (int r = 0; r < size; r++) {
            wse_future *a = NULL;
            wse_future *b = NULL;
            if (test_rank == 0)
                T_EQ(wse_mpi_submit(m, r, "spin_stop", NULL, 0, &a), 0);
            if (test_rank == r) {
                /* Rank r runs one A per round. */
                double end = t_now() + 30 * t_scale();
                while (atomic_load(&n_started) < round && t_now() < end)
                    t_sleep(0.001);
                T_EQ(atomic_load(&n_started), round);
            }
            /* Empty messages: another thread (the layer's, inside MPI) may complete the
             * receive, and ThreadSanitizer cannot see Open MPI's synchronisation of the
             * buffer it would write. */
            if (test_rank == r && r != 0)
                MPI_Send(NULL, 0, MPI_INT, 0, TAG_STARTED, MPI_COMM_WORLD);
            if (test_rank == 0) {
                if (r != 0)
                    MPI_Recv(NULL, 0, MPI_INT, r, TAG_STARTED, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                T_EQ(wse_future_state(a), WSE_PENDING); /* a promise: pending until the result */
                /* A runs on r's only worker, so B waits there (or is still on its way). */
                T_EQ(wse_mpi_submit(m, r, "count", NULL, 0, &b), 0);
                if (round == 1)
                    T_ASSERT(wse_future_cancel(b));
                else
                    T_ASSERT(wse_future_request_stop(b));
                T_EQ(wse_future_state(b), WSE_CANCELLED);
                T_EQ(wse_future_error(b), ECANCELED);
                T_ASSERT(wse_future_request_stop(a));
                T_EQ(wse_future_state(a), WSE_CANCELLED);
                T_ASSERT(!wse_future_cancel(a));
                wse_future_release(a);
                wse_future_release(b);
            }
            MPI_Barrier(MPI_COMM_WORLD);
        }
    }

    /* Cancelled at once, many times, behind a running A on the last rank: whether the
     * cancel beats the send (then nothing is sent) or follows it, B never runs. */
    int last = size - 1;
    wse_future *a = NULL;
    if (test_rank == 0)
        T_EQ(wse_mpi_submit(m, last, "spin_stop", NULL, 0, &a), 0);
    if (test_rank == last) {
        double end = t_now() + 30 * t_scale();
        while (atomic_load(&n_started) < 3 && t_now() < end)
            t_sleep(0.001);
        T_EQ(atomic_load(&n_started), 3);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (test_rank == 0) {
        for (int i = 0; i < 200; i++) {
            wse_future *b = NULL;
            T_EQ(wse_mpi_submit(m, last, "count", NULL, 0, &b), 0);
            T_ASSERT(wse_future_cancel(b));
            wse_future_release(b);
        }
        T_ASSERT(wse_future_request_stop(a));
        wse_future_release(a);
    }

    wse_future *late[4] = {NULL};
    if (test_rank == 0) {
        for (int r = 0; r < size && r < 4; r++) {
            T_EQ(wse_mpi_submit(m, r, "ignore_stop", NULL, 0, &late[r]), 0);
            t_sleep(0.01);
            T_ASSERT(wse_future_request_stop(late[r]));
            T_EQ(wse_future_state(late[r]), WSE_CANCELLED);
        }
    }

    T_EQ(wse_mpi_destroy(m), 0);
    for (int r = 0; r < 4; r++) {
        if (late[r] != NULL) {
            T_EQ(wse_future_state(late[r]), WSE_CANCELLED);
            T_ASSERT(wse_mpi_result(late[r], NULL) == NULL);
            wse_future_release(late[r]);
        }
    }
    T_EQ(t_sum(atomic_load(&n_counted)), 0);
    T_EQ(t_sum(atomic_load(&n_started)), 2 * size + 1);
    T_EQ(t_sum(atomic_load(&n_saw_stop)), 2 * size + 1);
    T_EQ(wse_executor_destroy(ex), 0);
    MPI_Finalize();
    return 0;
}

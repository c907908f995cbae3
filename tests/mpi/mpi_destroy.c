/*
 * Collective destroy while other ranks still submit: ranks 1.. call
 * wse_mpi_destroy after 100 ms; rank 0 keeps sending them tasks for 300 ms (both
 * times CK_TIMEOUT_MULTIPLIER), then
 * destroys too. The tasks ("nested") submit a task back to rank 0 from inside, so
 * some of them find their own rank closing (ESHUTDOWN) and the others add work
 * that destroy must wait for. Checks, with CLOCK_MONOTONIC shared by the ranks of
 * one machine: no rank's destroy returned before the last task anywhere ended,
 * ranks served tasks after calling destroy, and every nested submit that
 * succeeded ran on rank 0.
 */
#include <pthread.h>

#include "tasks.h"

static wse_mpi *g_m;
static atomic_int destroy_called;
static atomic_int n_after_destroy;
static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;
static double last_end; /* protected by end_lock */

static void
note_end(void)
{
    double t = t_now();
    pthread_mutex_lock(&end_lock);
    if (t > last_end)
        last_end = t;
    pthread_mutex_unlock(&end_lock);
}

static int
t_nested(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)in;
    (void)in_len;
    if (atomic_load(&destroy_called))
        atomic_fetch_add(&n_after_destroy, 1);
    t_sleep(0.002);
    int32_t *rc = malloc(sizeof(*rc));
    if (rc == NULL)
        return ENOMEM;
    *rc = wse_mpi_submit(g_m, 0, "count_end", NULL, 0, NULL);
    *out = rc;
    *out_len = sizeof(*rc);
    note_end();
    return 0;
}

static int
t_count_end(const void *in, size_t in_len, void **out, size_t *out_len)
{
    t_count(in, in_len, out, out_len);
    t_sleep(0.001);
    note_end();
    return 0;
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    t_watchdog(120);
    t_init(&argc, &argv, 2, &ex, &g_m);
    wse_mpi *m = g_m;
    T_EQ(wse_mpi_register(m, "nested", t_nested), 0);
    T_EQ(wse_mpi_register(m, "count_end", t_count_end), 0);
    MPI_Barrier(MPI_COMM_WORLD);
    int size = wse_mpi_size(m);

    int ok = 0;
    int shut = 0;
    double returned;
    if (test_rank == 0) {
        wse_future *f[4096];
        int n = 0;
        double end = t_now() + 0.3 * t_scale();
        while (t_now() < end && n < 4096) {
            T_EQ(wse_mpi_submit(m, 1 + n % (size - 1), "nested", NULL, 0, &f[n]), 0);
            n++;
            t_sleep(0.001);
        }
        T_EQ(wse_wait(f, (size_t)n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        for (int i = 0; i < n; i++) {
            int32_t rc = t_result_i32(f[i]);
            if (rc == 0)
                ok++;
            else if (rc == ESHUTDOWN)
                shut++;
            else
                T_FAIL("nested submit returned %d", rc);
            wse_future_release(f[i]);
        }
        atomic_store(&destroy_called, 1);
        T_EQ(wse_mpi_destroy(m), 0);
        returned = t_now();
        T_ASSERT(shut > 0);
        T_ASSERT(ok > 0);
        printf("mpi_destroy: %d tasks, %d nested submits accepted, %d refused (ESHUTDOWN)\n", n, ok,
               shut);
    } else {
        t_sleep(0.1 * t_scale()); /* some nested submits before this rank closes */
        atomic_store(&destroy_called, 1);
        T_EQ(wse_mpi_destroy(m), 0);
        returned = t_now();
    }

    double max_end = 0;
    pthread_mutex_lock(&end_lock);
    double mine = last_end;
    pthread_mutex_unlock(&end_lock);
    MPI_Allreduce(&mine, &max_end, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (returned < max_end)
        T_FAIL("destroy returned %.6f s before the last task ended", max_end - returned);
    T_ASSERT(t_sum(atomic_load(&n_after_destroy)) > 0);
    int counted = t_sum(atomic_load(&n_counted));
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    T_EQ(counted, ok);
    T_EQ(wse_executor_destroy(ex), 0);
    MPI_Finalize();
    return 0;
}

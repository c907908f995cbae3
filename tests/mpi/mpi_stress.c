/*
 * Thousands of small remote tasks from several threads of every rank at once:
 * each of 4 threads per rank submits WSE_MPI_STRESS_TASKS (default 500) echo
 * tasks of 0-64 bytes to random ranks or WSE_MPI_ANY_RANK, in windows of 64, and
 * checks every result.
 */
#include <pthread.h>

#include "tasks.h"

#define THREADS 4
#define WINDOW 64

static wse_mpi *g_m;
static int per_thread = 500;

static void *
submitter(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + (unsigned)test_rank * 104729u;
    int size = wse_mpi_size(g_m);
    for (int done = 0; done < per_thread;) {
        wse_future *f[WINDOW];
        unsigned char want[WINDOW][64];
        size_t len[WINDOW];
        int n = per_thread - done < WINDOW ? per_thread - done : WINDOW;
        for (int i = 0; i < n; i++) {
            len[i] = (size_t)(rand_r(&seed) % 65);
            for (size_t k = 0; k < len[i]; k++)
                want[i][k] = (unsigned char)rand_r(&seed);
            int dest = rand_r(&seed) % (size + 1) - 1; /* -1 is ANY_RANK */
            T_EQ(wse_mpi_submit(g_m, dest, "echo", want[i], len[i], &f[i]), 0);
        }
        T_EQ(wse_wait(f, (size_t)n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
        for (int i = 0; i < n; i++) {
            size_t got = 99;
            const void *p = wse_mpi_result(f[i], &got);
            T_EQ(wse_future_state(f[i]), WSE_DONE);
            T_ASSERT(p != NULL);
            T_EQ(got, len[i]);
            T_ASSERT(memcmp(p, want[i], len[i]) == 0);
            wse_future_release(f[i]);
        }
        done += n;
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    t_watchdog(600);
    t_init(&argc, &argv, 2, &ex, &g_m);
    t_register_all(g_m);
    const char *s = getenv("WSE_MPI_STRESS_TASKS");
    if (s != NULL && atoi(s) > 0)
        per_thread = atoi(s);
    if (argc > 1 && atoi(argv[1]) > 0)
        per_thread = atoi(argv[1]);

    double t0 = t_now();
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        T_EQ(pthread_create(&th[i], NULL, submitter, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    double t = t_now() - t0;
    T_EQ(wse_mpi_destroy(g_m), 0);
    int ran = t_sum(atomic_load(&n_ran));
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    T_EQ(ran, size * THREADS * per_thread);
    if (test_rank == 0)
        printf("mpi_stress: %d tasks from %d threads on each of %d ranks in %.3f s "
               "(%.0f tasks/s in all)\n",
               THREADS * per_thread, THREADS, size, t, ran / t);
    T_EQ(wse_executor_destroy(ex), 0);
    MPI_Finalize();
    return 0;
}

/*
 * An imbalanced batch with WSE_MPI_ANY_RANK, one worker per rank: rank 0 submits
 * 40 tasks per rank whose sizes spread 10:1 (2 to 20 ms, pseudo-random), all at once, and waits.
 * The batch must finish within a factor (WSE_MPI_BALANCE_SLACK, default 1.15, and
 * 1 + 0.15 x CK_TIMEOUT_MULTIPLIER under sanitizers) of total work / total workers,
 * and every rank must have taken part; the best of up to 5 runs counts.
 *
 * A task's work is a sleep (wall time), not a CPU loop: on a machine with fewer
 * cores than ranks (this test runs 4 ranks on 2 cores), CPU loops would measure
 * the scheduler, while sleeps measure what the layer decides: placement and the
 * delay between a result and the next task. For comparison it also times a
 * static split (task i on rank i % size), unchecked. argv[1] == "cpu" uses CPU
 * loops instead, unchecked (docs/performance.md).
 *
 * The bound needs free CPUs: each remote task costs its worker one round trip
 * (one task in flight per worker), and with every core kept busy by other
 * processes that round trip grows from ~0.5 ms to 4-8 ms and the batch takes
 * 1.3-2 x. So tests/load/run.sh (the flake hunt under a CPU hog) leaves it out.
 */
#include <time.h>

#include "tasks.h"

static bool cpu_mode;

static void
spin_cpu(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double end = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + s;
    volatile unsigned x = 0;
    for (;;) {
        for (int i = 0; i < 1000; i++)
            x += (unsigned)i;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        if ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 >= end)
            break;
    }
}

/* Works the int32 microseconds it is given; returns the rank it ran on. */
static int
t_work(const void *in, size_t in_len, void **out, size_t *out_len)
{
    int32_t us = 0;
    if (in_len == sizeof(us))
        memcpy(&us, in, sizeof(us));
    if (cpu_mode)
        spin_cpu(us * 1e-6);
    else
        t_sleep(us * 1e-6);
    int32_t *r = malloc(sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    *r = test_rank;
    *out = r;
    *out_len = sizeof(*r);
    return 0;
}

static double
run_batch(wse_mpi *m, const int32_t *us, int n, bool fixed, int *per_rank)
{
    int size = wse_mpi_size(m);
    wse_future **f = calloc((size_t)n, sizeof(*f));
    T_ASSERT(f != NULL);
    double t0 = t_now();
    for (int i = 0; i < n; i++)
        T_EQ(wse_mpi_submit(m, fixed ? i % size : WSE_MPI_ANY_RANK, "work", &us[i], sizeof(us[i]),
                            &f[i]),
             0);
    size_t n_done = 0;
    T_EQ(wse_wait(f, (size_t)n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done), 0);
    double t = t_now() - t0;
    T_EQ(n_done, (size_t)n);
    for (int i = 0; i < size; i++)
        per_rank[i] = 0;
    for (int i = 0; i < n; i++) {
        T_EQ(wse_future_state(f[i]), WSE_DONE);
        int32_t r = t_result_i32(f[i]);
        T_ASSERT(r >= 0 && r < size);
        per_rank[r]++;
        wse_future_release(f[i]);
    }
    free(f);
    return t;
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *m;
    t_watchdog(300);
    cpu_mode = argc > 1 && strcmp(argv[1], "cpu") == 0;
    t_init(&argc, &argv, 1, &ex, &m);
    T_EQ(wse_mpi_register(m, "work", t_work), 0);
    MPI_Barrier(MPI_COMM_WORLD);
    int size = wse_mpi_size(m);

    if (test_rank == 0) {
        int n = 40 * size;
        int32_t *us = malloc((size_t)n * sizeof(*us));
        T_ASSERT(us != NULL);
        double total = 0;
        uint32_t x = 12345;
        for (int i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;                   /* a fixed pseudo-random mix */
            us[i] = 2000 * (1 + (int32_t)((x >> 16) % 10)); /* 2 .. 20 ms */
            total += us[i] * 1e-6;
        }
        int per_rank[64];
        double ideal = total / size; /* one worker per rank */
        /* The best of up to 5 runs, 2 s apart after a miss: a shared machine can
         * stall any one of them (seen in CI: three runs in a row at 1.20-1.24 x,
         * the static split at 1.20 x too, minutes after 1.06-1.07 x). */
        double t = 0;
        for (int attempt = 0; attempt < 5; attempt++) {
            if (attempt > 0)
                t_sleep(2.0);
            double ta = run_batch(m, us, n, false, per_rank);
            printf("mpi_balance (%s): %d ranks, %d tasks, %.3f s of work: ANY_RANK %.3f s = "
                   "%.3f x work/workers; tasks per rank:",
                   cpu_mode ? "cpu" : "sleep", size, n, total, ta, ta / ideal);
            for (int r = 0; r < size; r++)
                printf(" %d", per_rank[r]);
            printf("\n");
            for (int r = 0; r < size; r++)
                T_ASSERT(per_rank[r] > 0);
            t = attempt == 0 || ta < t ? ta : t;
            if (cpu_mode || t <= ideal * 1.15)
                break;
        }
        double ts = run_batch(m, us, n, true, per_rank);
        printf("mpi_balance (%s): static split (task i on rank i %% %d) %.3f s = %.3f x\n",
               cpu_mode ? "cpu" : "sleep", size, ts, ts / ideal);
        if (!cpu_mode) {
            /* 15% over the ideal, and 15% more per unit of CK_TIMEOUT_MULTIPLIER
             * above 1 (sanitizers slow the progress threads down). */
            const char *s = getenv("WSE_MPI_BALANCE_SLACK");
            double slack = s != NULL ? atof(s) : 1.0 + 0.15 * t_scale();
            if (t > ideal * slack)
                T_FAIL("batch took %.3f s, more than %.2f x %.3f s", t, slack, ideal);
        }
        free(us);
    }
    t_fini(ex, m);
    return 0;
}

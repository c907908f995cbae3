/*
 * Submission order on a remote rank (docs/design.md, section 3): tasks that rank 0
 * submits to rank 1 are submitted there by rank 1's progress thread, from outside
 * its executor, so they must start in the order rank 0 submitted them. Each task
 * takes a start number from a counter of rank 1 when it starts and returns it; the
 * checks are on those numbers, never on wall-clock times, so a loaded machine
 * cannot fail them (it only makes the cases slower).
 *
 *   timed: rank 1 has 2 workers; rank 0 submits tasks of 700, 50 and 350 ms, in
 *          that order, 3 times. The 350 ms task can only start once the 50 ms one
 *          has ended (start number 2); the completion order (50, 350, 700 on an
 *          idle machine) is printed, not checked.
 *   gates: rank 1 has W = 1, 2, 3 workers (the executor and the layer are made
 *          anew for each W); rank 0 submits W + K gate tasks, each of which holds
 *          its worker until rank 1's main thread (not a worker) releases it. Rank
 *          1's main thread waits for W starts (they must be tasks 0 .. W-1), waits
 *          a moment for the rest to arrive, then releases one running task at a
 *          time, picked at random, and checks that the task that starts next is the
 *          oldest still waiting: task W + j for the j-th release. Rank 0 checks
 *          the start numbers in the results as well. A task still on its way when
 *          a worker frees up (a slow progress thread) is newer than every task
 *          queued on rank 1, so the check holds whenever the rest arrive: the
 *          moment only makes the case stronger.
 *
 * Other ranks (np 3 and 4) take part in the collectives only.
 */
#include "tasks.h"

#define K 6     /* gate tasks beyond the workers */
#define MAX_W 3 /* the largest W */
#define MAX_N (MAX_W + K)
#define TIMED_REPS 3

static atomic_int n_timed;           /* "timed" tasks started on this rank (this rep) */
static atomic_int n_gates;           /* "gate" tasks started on this rank (this round) */
static atomic_int gate_order[MAX_N]; /* gate indices by start number, -1 until known */
static atomic_bool gate_open[MAX_N]; /* set by rank 1's main thread */

static int
return_i32(int32_t v, void **out, size_t *out_len)
{
    int32_t *r = malloc(sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    *r = v;
    *out = r;
    *out_len = sizeof(*r);
    return 0;
}

/* Takes a start number, sleeps the int32 milliseconds it is given, returns the number. */
static int
t_timed(const void *in, size_t in_len, void **out, size_t *out_len)
{
    int32_t ms = 0;
    int32_t seq = atomic_fetch_add(&n_timed, 1);
    if (in_len == sizeof(ms))
        memcpy(&ms, in, sizeof(ms));
    t_sleep(ms * 1e-3);
    return return_i32(seq, out, out_len);
}

/* Gate task int32 i: takes a start number, publishes i under it, then holds its
 * worker until gate_open[i] (at most 60 s, then ETIME); returns the number. */
static int
t_gate(const void *in, size_t in_len, void **out, size_t *out_len)
{
    int32_t i = -1;
    if (in_len == sizeof(i))
        memcpy(&i, in, sizeof(i));
    if (i < 0 || i >= MAX_N)
        return EINVAL;
    int32_t seq = atomic_fetch_add(&n_gates, 1);
    if (seq < MAX_N)
        atomic_store(&gate_order[seq], i);
    double end = t_now() + 60 * t_scale();
    while (!atomic_load(&gate_open[i])) {
        if (t_now() > end)
            return ETIME;
        t_sleep(0.0002);
    }
    return return_i32(seq, out, out_len);
}

static void
setup(int *argc, char ***argv, unsigned workers, wse_executor **ex, wse_mpi **m)
{
    if (argc != NULL) {
        t_init(argc, argv, workers, ex, m);
    } else {
        wse_options o;
        memset(&o, 0, sizeof(o));
        o.workers = workers;
        T_EQ(wse_executor_create(ex, &o), 0);
        T_EQ(wse_mpi_create(m, *ex, MPI_COMM_WORLD), 0);
    }
    T_EQ(wse_mpi_register(*m, "timed", t_timed), 0);
    T_EQ(wse_mpi_register(*m, "gate", t_gate), 0);
}

static void
teardown(wse_executor *ex, wse_mpi *m)
{
    T_EQ(wse_mpi_destroy(m), 0);
    T_EQ(wse_executor_destroy(ex), 0);
}

/* Rank 0: wait for n remote futures, check they are DONE, store their int32 results. */
static void
collect(wse_future **f, int n, int32_t *seq)
{
    size_t n_done = 0;
    T_EQ(wse_wait(f, (size_t)n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done), 0);
    T_EQ(n_done, (size_t)n);
    for (int i = 0; i < n; i++) {
        T_EQ(wse_future_state(f[i]), WSE_DONE);
        seq[i] = t_result_i32(f[i]);
    }
}

static void
test_timed(wse_mpi *m)
{
    static const int32_t ms[3] = {700, 50, 350};
    for (int rep = 0; rep < TIMED_REPS; rep++) {
        atomic_store(&n_timed, 0);
        MPI_Barrier(MPI_COMM_WORLD);
        if (test_rank == 0) {
            wse_future *f[3];
            int32_t seq[3];
            for (int i = 0; i < 3; i++)
                f[i] = t_submit_i32(m, 1, "timed", ms[i]);
            /* The completion order, for the log. */
            wse_as_completed *it = NULL;
            T_EQ(wse_as_completed_create(&it, f, 3, WSE_FOREVER), 0);
            printf("mpi_fairness timed %d: completed", rep);
            for (int i = 0; i < 3; i++) {
                wse_future *g = NULL;
                size_t index = 0;
                T_EQ(wse_as_completed_next(it, &g, &index), 0);
                printf(" %d ms", (int)ms[index]);
            }
            wse_as_completed_destroy(it);
            collect(f, 3, seq);
            printf("; start numbers %d %d %d\n", (int)seq[0], (int)seq[1], (int)seq[2]);
            fflush(stdout);
            /* 700 and 50 take the two workers; 350 waits for the first to end. */
            T_ASSERT(seq[0] == 0 || seq[0] == 1);
            T_ASSERT(seq[1] == 0 || seq[1] == 1);
            T_EQ(seq[2], 2);
            for (int i = 0; i < 3; i++)
                wse_future_release(f[i]);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
}

/* Rank 1's main thread: wait until n gate tasks have started and published. */
static void
wait_started(int n)
{
    double end = t_now() + 30 * t_scale();
    for (;;) {
        int k = 0;
        while (k < n && atomic_load(&gate_order[k]) >= 0)
            k++;
        if (k == n)
            return;
        if (t_now() > end)
            T_FAIL("only %d of %d gate tasks started", k, n);
        t_sleep(0.0002);
    }
}

static void
test_gates(wse_mpi *m, int w)
{
    int n = w + K;
    atomic_store(&n_gates, 0);
    for (int i = 0; i < MAX_N; i++) {
        atomic_store(&gate_order[i], -1);
        atomic_store(&gate_open[i], false);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (test_rank == 0) {
        wse_future *f[MAX_N];
        int32_t seq[MAX_N];
        for (int i = 0; i < n; i++)
            f[i] = t_submit_i32(m, 1, "gate", i);
        collect(f, n, seq);
        printf("mpi_fairness gates, %d workers: start numbers", w);
        for (int i = 0; i < n; i++)
            printf(" %d", (int)seq[i]);
        printf("\n");
        fflush(stdout);
        for (int i = 0; i < n; i++) {
            if (i < w)
                T_ASSERT(seq[i] >= 0 && seq[i] < w);
            else
                T_EQ(seq[i], i);
            wse_future_release(f[i]);
        }
    } else if (test_rank == 1) {
        int running[MAX_W];
        unsigned seed = 7919u * (unsigned)w;
        wait_started(w);
        for (int i = 0; i < w; i++) {
            running[i] = atomic_load(&gate_order[i]);
            if (running[i] >= w)
                T_FAIL("%d workers: gate task %d started among the first %d", w, running[i], w);
        }
        /* Let the rest arrive (see the top). */
        t_sleep(0.05 * t_scale());
        for (int j = 0; j < K; j++) {
            int pick = (int)(rand_r(&seed) % (unsigned)w);
            atomic_store(&gate_open[running[pick]], true);
            wait_started(w + j + 1);
            running[pick] = atomic_load(&gate_order[w + j]);
            if (running[pick] != w + j)
                T_FAIL("%d workers, release %d: gate task %d started while task %d (older) was "
                       "waiting",
                       w, j, running[pick], w + j);
        }
        for (int i = 0; i < n; i++)
            atomic_store(&gate_open[i], true);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *m;
    t_watchdog(120);
    /* 2 workers on every rank (t_init makes the rank known); only rank 1's run tasks. */
    setup(&argc, &argv, 2, &ex, &m);
    MPI_Barrier(MPI_COMM_WORLD);
    test_timed(m);
    teardown(ex, m);

    for (int w = 1; w <= MAX_W; w++) {
        setup(NULL, NULL, test_rank == 1 ? (unsigned)w : 1u, &ex, &m);
        MPI_Barrier(MPI_COMM_WORLD);
        test_gates(m, w);
        teardown(ex, m);
    }
    MPI_Finalize();
    return 0;
}

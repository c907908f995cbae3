/*
 * Out of memory at every allocation of the layer, SQLite style: the layer is
 * compiled into this program with WSE__MPI_FAULT on top of a WSE_FAULT_INJECTION
 * core, so every allocation of rank 0 (the layer's and the core's, on any of its
 * threads) takes a turn of one counter, and wse__fault_arm(k, false) makes the
 * k-th fail. Each scenario runs again for k = 1, 2, ... until a run uses fewer
 * than k allocations (no failure left to inject); every run must end cleanly:
 *
 *   create    collective: a failure on rank 0 fails create on every rank with
 *             ENOMEM (they agree), *out untouched; then create succeeds;
 *   register  0 or ENOMEM; after ENOMEM the name is not registered (submit says
 *             EINVAL) and registering it again works;
 *   submit    a remote, a local, an ANY_RANK (9000 bytes: not inline) and a
 *             failing task: submit returns 0 or ENOMEM (nothing sent then); each
 *             future it gave completes within the deadline, DONE with its bytes
 *             or FAILED with ENOMEM (the task's own code for the failing one).
 *             A failure in the progress thread (a send buffer, a local run, a
 *             result) is retried, answered with ENOMEM, or polled for, never lost.
 *
 * LeakSanitizer (the fault build runs under ASan) checks that nothing leaked on
 * any of those paths. Other ranks serve; rank 0's counter is its own.
 */
#include <errno.h>

#include "alloc.h"
#include "tasks.h"

enum { PAYLOAD = 9000 }; /* > WSE__MPI_INLINE: travels in a data message */

static unsigned char payload[PAYLOAD];

/* One walk: returns how many runs ended with an injected failure. */
typedef int scenario_fn(wse_mpi *m, int64_t k, int64_t *used);

static int
walk(const char *what, wse_mpi *m, scenario_fn *run)
{
    int failed_runs = 0;
    int64_t k = 1;
    for (;; k++) {
        int64_t used = 0;
        failed_runs += run(m, k, &used);
        if (used < k)
            break;
    }
    printf("mpi_fault: %s: walked k = 1..%lld, %d runs saw an injected failure\n", what,
           (long long)k, failed_runs);
    T_ASSERT(failed_runs > 0);
    return failed_runs;
}

/* ---- create (collective) --------------------------------------------------- */

static wse_mpi *
create_walk(wse_executor *ex)
{
    wse_mpi *m = NULL;
    int failed_runs = 0;
    for (int64_t k = 1;; k++) {
        wse_mpi *sentinel = (wse_mpi *)&failed_runs;
        wse_mpi *got = sentinel;
        if (test_rank == 0)
            wse__fault_arm(k, false);
        int rc = wse_mpi_create(&got, ex, MPI_COMM_WORLD);
        int64_t used = k;
        if (test_rank == 0) {
            used = wse__fault_count();
            wse__fault_arm(0, false);
        }
        int lo = 0, hi = 0;
        MPI_Allreduce(&rc, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&rc, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        T_EQ(lo, hi); /* every rank says the same */
        T_ASSERT(rc == 0 || rc == ENOMEM);
        if (test_rank == 0)
            T_EQ(rc == 0, k > used); /* each allocation of create is checked */
        if (rc != 0) {
            T_ASSERT(got == sentinel);
            failed_runs++;
            continue;
        }
        m = got;
        break;
    }
    if (test_rank == 0)
        printf("mpi_fault: create: %d runs failed with ENOMEM on every rank, then it worked\n",
               failed_runs);
    T_ASSERT(failed_runs > 0);
    return m;
}

/* ---- register (local) ------------------------------------------------------ */

static int
register_run(wse_mpi *m, int64_t k, int64_t *used)
{
    char name[32];
    snprintf(name, sizeof(name), "echo_%lld", (long long)k);
    wse__fault_arm(k, false);
    int rc = wse_mpi_register(m, name, t_echo);
    *used = wse__fault_count();
    wse__fault_arm(0, false);
    T_ASSERT(rc == 0 || rc == ENOMEM);
    if (rc == 0)
        return 0;
    wse_future *f = NULL;
    T_EQ(wse_mpi_submit(m, 0, name, NULL, 0, &f), EINVAL); /* not half registered */
    T_ASSERT(f == NULL);
    T_EQ(wse_mpi_register(m, name, t_echo), 0);
    return 1;
}

/* ---- submit ---------------------------------------------------------------- */

struct job {
    int rank;
    const char *name;
    const void *in;
    size_t len;
    int code; /* the task's own failure (0: it succeeds) */
};

static int
submit_run(wse_mpi *m, int64_t k, int64_t *used)
{
    int32_t code = 42;
    const struct job jobs[] = {
        {1, "echo", payload, 100, 0},
        {0, "echo", payload, 100, 0},
        {WSE_MPI_ANY_RANK, "echo", payload, PAYLOAD, 0},
        {1, "fail", &code, sizeof(code), 42},
    };
    enum { N = sizeof(jobs) / sizeof(jobs[0]) };
    wse_future *f[N];
    size_t job_of[N]; /* f[i] is for jobs[job_of[i]] */
    size_t n = 0;
    int injected = 0;

    wse__fault_arm(k, false);
    for (size_t j = 0; j < N; j++) {
        wse_future *got = NULL;
        int rc = wse_mpi_submit(m, jobs[j].rank, jobs[j].name, jobs[j].in, jobs[j].len, &got);
        T_ASSERT(rc == 0 || rc == ENOMEM);
        if (rc != 0) {
            T_ASSERT(got == NULL);
            injected = 1;
            continue;
        }
        f[n] = got;
        job_of[n] = j;
        n++;
    }
    size_t n_done = 0;
    T_EQ(wse_wait(f, n, 30.0 * t_scale(), WSE_ALL_COMPLETED, NULL, &n_done), 0);
    *used = wse__fault_count();
    wse__fault_arm(0, false);
    T_EQ(n_done, n);

    for (size_t i = 0; i < n; i++) {
        const struct job *jb = &jobs[job_of[i]];
        wse_state s = wse_future_state(f[i]);
        if (s == WSE_FAILED && wse_future_error(f[i]) == ENOMEM) {
            injected = 1;
        } else if (jb->code != 0) {
            T_EQ(s, WSE_FAILED);
            T_EQ(wse_future_error(f[i]), jb->code);
        } else {
            T_EQ(s, WSE_DONE);
            size_t len = 0;
            const void *p = wse_mpi_result(f[i], &len);
            T_EQ(len, jb->len);
            T_ASSERT(p != NULL && memcmp(p, jb->in, len) == 0);
        }
        wse_future_release(f[i]);
    }
    return injected;
}

int
main(int argc, char **argv)
{
    t_watchdog(600);
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &test_rank);
    T_ASSERT(provided >= MPI_THREAD_MULTIPLE);
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (unsigned char)(i * 7 + 1);

    wse_options o;
    memset(&o, 0, sizeof(o));
    o.workers = 1;
    wse_executor *ex;
    T_EQ(wse_executor_create(&ex, &o), 0);

    wse_mpi *m = create_walk(ex);
    t_register_all(m);
    MPI_Barrier(MPI_COMM_WORLD);
    if (test_rank == 0) {
        walk("register", m, register_run);
        walk("submit", m, submit_run);
    }
    t_fini(ex, m);
    return 0;
}

/*
 * Remote futures on 2-4 ranks: results, empty results, failures, bad input,
 * the three wait modes and deadlines across ranks, as_completed, submit_after
 * and callbacks on remote futures mixed with local ones. Every rank submits
 * (to itself and to the next rank); the cross-rank races run from rank 0.
 */
#include "tasks.h"

static int
local_value(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* submit_after: runs once both remote deps are done; checks they are. */
static wse_future *after_deps[2];
static int
after_task(void *arg, void **result)
{
    (void)arg;
    *result = (void *)(intptr_t)(wse_future_done(after_deps[0]) && wse_future_done(after_deps[1]));
    return 0;
}

static atomic_int n_callbacks;
static void
on_done_cb(wse_future *f, void *arg)
{
    T_ASSERT(wse_future_done(f));
    T_ASSERT(arg == (void *)f);
    atomic_fetch_add(&n_callbacks, 1);
}

/* wse_mpi_destroy from a worker and from the progress thread: EDEADLK. */
static wse_mpi *g_m;
static atomic_int cb_destroy_rc = -1;
static int
destroy_task(void *arg, void **result)
{
    (void)arg;
    *result = (void *)(intptr_t)wse_mpi_destroy(g_m);
    return 0;
}
static void
destroy_cb(wse_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_store(&cb_destroy_rc, wse_mpi_destroy(g_m));
}

static void
test_edeadlk(wse_mpi *m, wse_executor *ex, int peer)
{
    g_m = m;
    wse_future *f = NULL;
    T_EQ(wse_submit(ex, destroy_task, NULL, &f), 0);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ((intptr_t)wse_future_value(f), EDEADLK);
    wse_future_release(f);
    /* The callback of a remote future runs on the progress thread (or here, if the
     * result is already in: then destroy would be legal, so wait on a slow task). */
    f = t_submit_i32(m, peer, "sleep_ms", 100);
    T_EQ(wse_future_on_done(f, destroy_cb, NULL), 0);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    double end = t_now() + 10 * t_scale();
    while (atomic_load(&cb_destroy_rc) < 0 && t_now() < end)
        t_sleep(0.001);
    T_EQ(atomic_load(&cb_destroy_rc), EDEADLK);
    wse_future_release(f);
}

static void
test_results(wse_mpi *m, int peer)
{
    /* DONE with a payload, to the peer and to this rank. */
    for (int k = 0; k < 2; k++) {
        int dest = k == 0 ? peer : test_rank;
        unsigned char buf[3000];
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (unsigned char)(i * 7 + (size_t)test_rank);
        wse_future *f = NULL;
        T_EQ(wse_mpi_submit(m, dest, "echo", buf, sizeof(buf), &f), 0);
        memset(buf, 0, sizeof(buf)); /* the layer copied it */
        T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
        T_EQ(wse_future_state(f), WSE_DONE);
        size_t len = 0;
        const unsigned char *p = wse_mpi_result(f, &len);
        T_ASSERT(p != NULL);
        T_EQ(len, sizeof(buf));
        for (size_t i = 0; i < len; i++)
            if (p[i] != (unsigned char)(i * 7 + (size_t)test_rank))
                T_FAIL("echo byte %zu differs", i);
        wse_future_release(f);
    }
    /* An empty result: non-NULL, length 0; an empty payload too. */
    wse_future *f = NULL;
    T_EQ(wse_mpi_submit(m, peer, "empty", "x", 1, &f), 0);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_DONE);
    size_t len = 99;
    T_ASSERT(wse_mpi_result(f, &len) != NULL);
    T_EQ(len, 0);
    wse_future_release(f);
    T_EQ(wse_mpi_submit(m, peer, "echo", NULL, 0, &f), 0);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_DONE);
    len = 99;
    T_ASSERT(wse_mpi_result(f, &len) != NULL);
    T_EQ(len, 0);
    wse_future_release(f);

    /* Failures keep their code; ECANCELED without a stop request is a failure. */
    f = t_submit_i32(m, peer, "fail", 42);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_FAILED);
    T_EQ(wse_future_error(f), 42);
    len = 5;
    T_ASSERT(wse_mpi_result(f, &len) == NULL);
    T_EQ(len, 0);
    wse_future_release(f);
    f = t_submit_i32(m, peer, "fail", -1); /* any nonzero code, negative ones too */
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_FAILED);
    T_EQ(wse_future_error(f), -1);
    wse_future_release(f);
    f = t_submit_i32(m, peer, "fail", ECANCELED);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_FAILED);
    T_EQ(wse_future_error(f), ECANCELED);
    wse_future_release(f);

    /* Where it ran. */
    for (int r = 0; r < wse_mpi_size(m); r++) {
        f = t_submit_i32(m, r, "whoami", 0);
        T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
        T_EQ(t_result_i32(f), r);
        wse_future_release(f);
    }
    /* Fire and forget. */
    T_EQ(wse_mpi_submit(m, peer, "count", NULL, 0, NULL), 0);
}

static void
test_einval(wse_mpi *m, wse_executor *ex)
{
    wse_future *const sentinel = (wse_future *)(uintptr_t)0x1;
    wse_future *f = sentinel;
    int size = wse_mpi_size(m);
    char big[8] = {0};
    T_EQ(wse_mpi_submit(m, 0, "no such task", big, 1, &f), EINVAL);
    T_EQ(wse_mpi_submit(m, -2, "echo", big, 1, &f), EINVAL);
    T_EQ(wse_mpi_submit(m, size, "echo", big, 1, &f), EINVAL);
    T_EQ(wse_mpi_submit(m, 0, "echo", NULL, 5, &f), EINVAL);
    T_EQ(wse_mpi_submit(m, 0, NULL, big, 1, &f), EINVAL);
    T_EQ(wse_mpi_submit(NULL, 0, "echo", big, 1, &f), EINVAL);
    T_EQ(wse_mpi_submit(m, 0, "", big, 1, &f), EINVAL);
    T_EQ(wse_mpi_submit(m, 0, "echo", big, WSE_MPI_MAX_BYTES + 1, &f), EMSGSIZE);
    T_EQ(wse_mpi_submit(m, WSE_MPI_ANY_RANK, "echo", big, SIZE_MAX, &f), EMSGSIZE);
    T_ASSERT(f == sentinel);

    T_EQ(wse_mpi_register(m, "echo", t_echo), EEXIST);
    T_EQ(wse_mpi_register(m, "", t_echo), EINVAL);
    T_EQ(wse_mpi_register(m, "x", NULL), EINVAL);
    T_EQ(wse_mpi_register(NULL, "x", t_echo), EINVAL);
    char longname[WSE_MPI_MAX_NAME + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    T_EQ(wse_mpi_register(m, longname, t_echo), EINVAL);
    longname[WSE_MPI_MAX_NAME] = '\0'; /* exactly the maximum: fine */
    T_EQ(wse_mpi_register(m, longname, t_echo), 0);

    T_EQ(wse_mpi_rank(m), test_rank);
    int world = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    T_EQ(wse_mpi_size(m), world);
    T_EQ(wse_mpi_rank(NULL), -1);
    T_EQ(wse_mpi_size(NULL), -1);
    T_EQ(wse_mpi_destroy(NULL), EINVAL);
    wse_mpi *m2 = (wse_mpi *)sentinel;
    T_EQ(wse_mpi_create(NULL, ex, MPI_COMM_WORLD), EINVAL);
    T_EQ(wse_mpi_create(&m2, NULL, MPI_COMM_WORLD), EINVAL);
    T_EQ(wse_mpi_create(&m2, ex, MPI_COMM_NULL), EINVAL);
    T_ASSERT(m2 == (wse_mpi *)sentinel);

    /* wse_mpi_result on anything but a DONE remote future: NULL and 0. */
    size_t len = 7;
    T_ASSERT(wse_mpi_result(NULL, &len) == NULL);
    T_EQ(len, 0);
    T_EQ(wse_submit(ex, local_value, (void *)&len, &f), 0);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    len = 7;
    T_ASSERT(wse_mpi_result(f, &len) == NULL);
    T_EQ(len, 0);
    wse_future_release(f);
    T_EQ(wse_promise_create(&f, NULL), 0);
    T_EQ(wse_promise_set_value(f, &len), 0);
    T_ASSERT(wse_mpi_result(f, NULL) == NULL);
    wse_future_release(f);
}

/* FIRST_COMPLETED across ranks: the quick task on the last rank wins; the slow
 * ones are stopped remotely and end CANCELLED. */
static void
test_first_completed(wse_mpi *m)
{
    int size = wse_mpi_size(m);
    wse_future *f[4];
    double t0 = t_now();
    for (int r = 0; r < size; r++)
        f[r] = t_submit_i32(m, r, "sleep_ms", r == size - 1 ? 20 : 20000);
    wse_future *out[4];
    size_t n_done = 0;
    T_EQ(wse_wait(f, (size_t)size, WSE_FOREVER, WSE_FIRST_COMPLETED, out, &n_done), 0);
    T_EQ(n_done, 1);
    T_ASSERT(out[0] == f[size - 1]);
    T_EQ(wse_future_state(f[size - 1]), WSE_DONE);
    T_EQ(t_result_i32(f[size - 1]), size - 1);
    for (int r = 0; r < size - 1; r++) {
        T_ASSERT(!wse_future_done(f[r]));
        T_ASSERT(wse_future_request_stop(f[r]));
        T_EQ(wse_future_state(f[r]), WSE_CANCELLED);
        T_EQ(wse_future_error(f[r]), ECANCELED);
    }
    T_EQ(wse_wait(f, (size_t)size, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done), 0);
    T_EQ(n_done, (size_t)size);
    for (int r = 0; r < size; r++)
        wse_future_release(f[r]);
    T_ASSERT(t_now() - t0 < 15 * t_scale());
}

/* FIRST_EXCEPTION across ranks, then request_stop of the rest. */
static void
test_first_exception(wse_mpi *m)
{
    int size = wse_mpi_size(m);
    wse_future *f[8];
    size_t n = 0;
    for (int r = 0; r < size; r++)
        f[n++] = t_submit_i32(m, r, "spin_stop", 0);
    wse_future *bad = t_submit_i32(m, size - 1, "fail", EDOM);
    f[n++] = bad;
    wse_future *out[8];
    size_t n_done = 0;
    T_EQ(wse_wait(f, n, 30 * t_scale(), WSE_FIRST_EXCEPTION, out, &n_done), 0);
    T_ASSERT(n_done >= 1);
    T_ASSERT(out[0] == bad);
    T_EQ(wse_future_error(bad), EDOM);
    for (size_t i = 0; i + 1 < n; i++)
        T_ASSERT(wse_future_request_stop(f[i]));
    T_ASSERT(!wse_future_request_stop(bad));
    T_EQ(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done), 0);
    T_EQ(n_done, n);
    for (size_t i = 0; i + 1 < n; i++)
        T_EQ(wse_future_state(f[i]), WSE_CANCELLED);
    for (size_t i = 0; i < n; i++)
        wse_future_release(f[i]);
}

/* A deadline passes (ETIMEDOUT, nothing cancelled), the future completes later. */
static void
test_deadline(wse_mpi *m, int peer)
{
    wse_future *f = t_submit_i32(m, peer, "sleep_ms", 300);
    size_t n_done = 9;
    T_EQ(wse_wait(&f, 1, 0.05, WSE_ALL_COMPLETED, NULL, &n_done), ETIMEDOUT);
    T_EQ(n_done, 0);
    T_ASSERT(!wse_future_done(f));
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += 20 * 1000 * 1000;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    T_EQ(wse_wait_until(&f, 1, &dl, WSE_FIRST_COMPLETED, NULL, &n_done), ETIMEDOUT);
    T_EQ(wse_future_wait(f, 0), ETIMEDOUT);
    T_EQ(wse_future_wait(f, WSE_FOREVER), 0);
    T_EQ(wse_future_state(f), WSE_DONE);
    T_EQ(t_result_i32(f), peer);
    wse_future_release(f);
}

/* as_completed, submit_after and callbacks on remote futures mixed with local. */
static void
test_composition(wse_mpi *m, wse_executor *ex, int peer)
{
    wse_future *f[4];
    f[0] = t_submit_i32(m, peer, "sleep_ms", 150);
    f[1] = t_submit_i32(m, test_rank, "sleep_ms", 50);
    T_EQ(wse_submit(ex, local_value, (void *)&f, &f[2]), 0);
    f[3] = t_submit_i32(m, WSE_MPI_ANY_RANK, "sleep_ms", 1);
    for (int i = 0; i < 4; i++)
        T_EQ(wse_future_on_done(f[i], on_done_cb, f[i]), 0);

    after_deps[0] = f[0];
    after_deps[1] = f[1];
    wse_future *after = NULL;
    T_EQ(wse_submit_after(ex, after_deps, 2, after_task, NULL, &after), 0);

    wse_as_completed *it = NULL;
    T_EQ(wse_as_completed_create(&it, f, 4, 30 * t_scale()), 0);
    int seen[4] = {0};
    wse_future *g = NULL;
    size_t idx = 0;
    for (int k = 0; k < 4; k++) {
        T_EQ(wse_as_completed_next(it, &g, &idx), 0);
        T_ASSERT(idx < 4 && g == f[idx] && wse_future_done(g));
        seen[idx]++;
    }
    T_EQ(wse_as_completed_next(it, &g, &idx), ENOENT);
    wse_as_completed_destroy(it);
    for (int i = 0; i < 4; i++)
        T_EQ(seen[i], 1);
    T_EQ(wse_future_wait(after, WSE_FOREVER), 0);
    T_ASSERT(wse_future_value(after) == (void *)1);
    T_EQ(atomic_load(&n_callbacks), 4);
    T_EQ(t_result_i32(f[0]), peer);
    T_EQ(t_result_i32(f[1]), test_rank);
    wse_future_release(after);
    for (int i = 0; i < 4; i++)
        wse_future_release(f[i]);
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *m;
    t_watchdog(120);
    t_init(&argc, &argv, 2, &ex, &m);
    t_register_all(m);
    int size = wse_mpi_size(m);
    int peer = (test_rank + 1) % size;

    test_results(m, peer);
    test_einval(m, ex);
    test_deadline(m, peer);
    test_composition(m, ex, peer);
    test_edeadlk(m, ex, peer);
    MPI_Barrier(MPI_COMM_WORLD);
    if (test_rank == 0) {
        test_first_completed(m);
        test_first_exception(m);
    }

    /* destroy returns when every task everywhere has ended: the fire-and-forget
     * "count" tasks of every rank have run. */
    T_EQ(wse_mpi_destroy(m), 0);
    T_EQ(t_sum(atomic_load(&n_counted)), size);
    T_EQ(wse_executor_destroy(ex), 0);
    MPI_Finalize();
    return 0;
}

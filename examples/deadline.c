/*
 * Deadline (ALL_COMPLETED with a timeout): wait at most so long, report what
 * finished and what is still pending, and carry on. A timeout is not an error and
 * cancels nothing. Here one task is held back by a gate the main thread opens only
 * after the deadline, so the first wait must time out with every other task done.
 *
 *   deadline [tasks]      default 32
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wsexec.h>

static atomic_bool gate_open;

static int
quick(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int
held(void *arg, void **result)
{
    struct timespec ms = {0, 1000000};

    while (!atomic_load_explicit(&gate_open, memory_order_acquire))
        nanosleep(&ms, NULL);
    *result = arg;
    return 0;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
    wse_options opts = {0};
    wse_executor *ex;
    wse_future *f[1024];
    wse_future *out[1024];
    size_t n_done = 0;
    int ok;

    if (n < 2 || n > 1024) {
        fprintf(stderr, "deadline: tasks must be in [2, 1024]\n");
        return 2;
    }
    opts.workers = 2; /* one held by the gate, one for the rest */
    if (wse_executor_create(&ex, &opts) != 0)
        return 1;
    if (wse_submit(ex, held, (void *)(uintptr_t)0, &f[0]) != 0)
        return 1;
    for (size_t i = 1; i < n; i++)
        if (wse_submit(ex, quick, (void *)(uintptr_t)i, &f[i]) != 0)
            return 1;

    /* Wait for the quick ones, then give up on the held one after the deadline. */
    int rc = wse_wait(f + 1, n - 1, 10.0, WSE_ALL_COMPLETED, NULL, NULL);
    ok = rc == 0;
    rc = wse_wait(f, n, 0.1, WSE_ALL_COMPLETED, out, &n_done);
    printf("deadline: after 100 ms %zu of %zu done, %zu pending (%s)\n", n_done, n, n - n_done,
           rc == ETIMEDOUT ? "timed out" : "no timeout");
    /* out[n_done .. n) is what is pending: exactly the held task, not cancelled. */
    ok = ok && rc == ETIMEDOUT && n_done == n - 1 && out[n - 1] == f[0] && !wse_future_done(f[0]);

    atomic_store_explicit(&gate_open, true, memory_order_release);
    rc = wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, out, &n_done);
    ok = ok && rc == 0 && n_done == n;
    for (size_t i = 0; i < n; i++) {
        ok = ok && wse_future_state(f[i]) == WSE_DONE && (uintptr_t)wse_future_value(f[i]) == i;
        wse_future_release(f[i]);
    }
    printf("deadline: after the gate opened all %zu done: %s\n", n, ok ? "ok" : "FAILED");
    ok = wse_executor_destroy(ex) == 0 && ok;
    return ok ? 0 : 1;
}

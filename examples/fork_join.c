/*
 * Fork-join: fib(n) with a future per call. A task submits its two halves (to its
 * own deque) and waits for them; a waiting worker runs other tasks meanwhile, so
 * this cannot deadlock even with one worker. Below a cutoff it recurses serially.
 *
 *   fork_join [n]        default 27; checks the result against a loop
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wsexec.h>

#define CUTOFF 15

static uint64_t
fib_serial(unsigned n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static int
fib_task(void *arg, void **result)
{
    unsigned n = (unsigned)(uintptr_t)arg;
    wse_future *a;
    wse_future *b;
    int rc;

    if (n < CUTOFF) {
        *result = (void *)(uintptr_t)fib_serial(n);
        return 0;
    }
    /* Fork: both halves go on this worker's deque; idle workers steal them. */
    rc = wse_submit(wse_current(), fib_task, (void *)(uintptr_t)(n - 1), &a);
    if (rc != 0)
        return rc;
    rc = wse_submit(wse_current(), fib_task, (void *)(uintptr_t)(n - 2), &b);
    if (rc != 0) {
        wse_future_wait(a, WSE_FOREVER);
        wse_future_release(a);
        return rc;
    }
    /* Join: wait for both (running other tasks meanwhile); a child's failure is ours. */
    wse_future *both[2] = {a, b};
    rc = wse_wait(both, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
    if (rc == 0)
        rc = wse_future_error(a) != 0 ? wse_future_error(a) : wse_future_error(b);
    if (rc == 0)
        *result = (void *)((uintptr_t)wse_future_value(a) + (uintptr_t)wse_future_value(b));
    wse_future_release(a);
    wse_future_release(b);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 27;
    uint64_t expect = 0;
    uint64_t prev = 1;
    wse_executor *ex;
    wse_future *f;

    if (n > 60) {
        fprintf(stderr, "fork_join: n must be at most 60\n");
        return 2;
    }
    for (unsigned i = 0; i < n; i++) { /* fib(n) by a loop, to check against */
        uint64_t next = expect + prev;
        prev = expect;
        expect = next;
    }
    if (wse_executor_create(&ex, NULL) != 0 ||
        wse_submit(ex, fib_task, (void *)(uintptr_t)n, &f) != 0)
        return 1;
    int rc = wse_future_wait(f, WSE_FOREVER);
    int ok = rc == 0 && wse_future_state(f) == WSE_DONE &&
             (uint64_t)(uintptr_t)wse_future_value(f) == expect;
    printf("fib(%u) = %llu on %u workers (expected %llu): %s\n", n,
           (unsigned long long)(uintptr_t)wse_future_value(f), wse_executor_workers(ex),
           (unsigned long long)expect, ok ? "ok" : "FAILED");
    wse_future_release(f);
    ok = wse_executor_destroy(ex) == 0 && ok;
    return ok ? 0 : 1;
}

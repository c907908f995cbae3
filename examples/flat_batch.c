/*
 * Flat batch: one submit_batch of many independent tasks, then one wait for all.
 * Each task sums the squares of its chunk of a range; the main thread adds the
 * partial sums and checks them against the closed form.
 *
 *   flat_batch [chunks]   default 10000 (at most 20000: the sum must fit 64 bits)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wsexec.h>

#define CHUNK 100

static int
sum_squares(void *arg, void **result)
{
    uint64_t first = (uint64_t)(uintptr_t)arg * CHUNK;
    uint64_t sum = 0;

    for (uint64_t i = first; i < first + CHUNK; i++)
        sum += i * i;
    *result = (void *)(uintptr_t)sum;
    return 0;
}

int
main(int argc, char **argv)
{
    size_t chunks = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    wse_executor *ex;
    wse_future **f;
    void **args;
    size_t n_done = 0;
    uint64_t total = 0;
    int ok;

    if (chunks == 0 || chunks > 20000) {
        fprintf(stderr, "flat_batch: chunks must be in [1, 20000]\n");
        return 2;
    }
    f = malloc(chunks * sizeof(*f));
    args = malloc(chunks * sizeof(*args));
    if (f == NULL || args == NULL || wse_executor_create(&ex, NULL) != 0)
        return 1;
    for (size_t i = 0; i < chunks; i++)
        args[i] = (void *)(uintptr_t)i;
    /* All or nothing: on error no task was submitted. */
    if (wse_submit_batch(ex, sum_squares, args, chunks, f) != 0)
        return 1;
    ok =
        wse_wait(f, chunks, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done) == 0 && n_done == chunks;
    for (size_t i = 0; i < chunks; i++) {
        ok = ok && wse_future_state(f[i]) == WSE_DONE;
        total += (uint64_t)(uintptr_t)wse_future_value(f[i]);
        wse_future_release(f[i]);
    }
    /* Sum of i^2 for i < m: (m - 1) m (2m - 1) / 6. */
    uint64_t m = (uint64_t)chunks * CHUNK;
    uint64_t expect = (m - 1) * m / 2 * (2 * m - 1) / 3;
    ok = ok && total == expect;
    printf("%zu tasks on %u workers: sum = %llu (expected %llu): %s\n", chunks,
           wse_executor_workers(ex), (unsigned long long)total, (unsigned long long)expect,
           ok ? "ok" : "FAILED");
    ok = wse_executor_destroy(ex) == 0 && ok;
    free(args);
    free(f);
    return ok ? 0 : 1;
}

/*
 * Parallel loops: wse_for() over an array, then a deterministic wse_reduce().
 * wse_for() fills an array in chunks on the workers and on the calling thread;
 * wse_reduce() sums it. A floating-point sum depends on the order of its
 * additions, and wse_reduce() fixes that order from the range and the grain
 * alone, so the same call gives the same bits on 1 worker or on many.
 *
 *   for_reduce [n]     default 1000000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsexec.h>

/* The loop body: one chunk [begin, end) of the indices. */
static int
fill(size_t begin, size_t end, void *ctx)
{
    double *v = ctx;

    for (size_t i = begin; i < end; i++)
        v[i] = 1.0 / (double)(i + 1); /* the harmonic series */
    return 0;                         /* nonzero would fail the loop and stop it */
}

/* The reduction body: fold the chunk [begin, end) into its accumulator. */
static int
sum(size_t begin, size_t end, void *acc, void *ctx)
{
    const double *v = ctx;
    double s = *(double *)acc;

    for (size_t i = begin; i < end; i++)
        s += v[i];
    *(double *)acc = s;
    return 0;
}

/* Combine: next holds the sum of the indices right after acc's. */
static void
add(void *acc, const void *next, void *ctx)
{
    (void)ctx;
    *(double *)acc += *(const double *)next;
}

/* Sum v[0 .. n) with wse_reduce() on a new executor of `workers` (0: one per CPU). */
static int
sum_on(unsigned workers, double *v, size_t n, double *total, unsigned *used)
{
    wse_options opts = {0};
    wse_executor *ex;

    opts.workers = workers;
    if (wse_executor_create(&ex, &opts) != 0)
        return 1;
    *used = wse_executor_workers(ex);
    *total = 0.0; /* the identity of + */
    int rc = wse_reduce(ex, 0, n, 0, total, sizeof(*total), sum, add, v, NULL);
    return wse_executor_destroy(ex) != 0 || rc != 0;
}

int
main(int argc, char **argv)
{
    static const unsigned workers[] = {1, 0, 4};
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    double *v = malloc((n ? n : 1) * sizeof(*v));
    wse_executor *ex;
    int ok = 1;

    if (v == NULL || wse_executor_create(&ex, NULL) != 0)
        return 1;

    /* Blocking form (out == NULL): returns when every chunk has run. grain 0 lets
     * the library size the chunks. */
    if (wse_for(ex, 0, n, 0, fill, v, NULL) != 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        ok = ok && v[i] == 1.0 / (double)(i + 1);
    printf("for_reduce: wse_for filled %zu elements, executor of %u workers: %s\n", n,
           wse_executor_workers(ex), ok ? "ok" : "FAILED");
    if (wse_executor_destroy(ex) != 0)
        return 1;

    /* The same reduction on executors of different sizes: the same bits. */
    double first = 0.0;
    for (size_t k = 0; k < sizeof(workers) / sizeof(workers[0]); k++) {
        double total;
        unsigned used;
        if (sum_on(workers[k], v, n, &total, &used) != 0)
            return 1;
        if (k == 0)
            first = total;
        int same = memcmp(&total, &first, sizeof(total)) == 0;
        const char *bits = same ? "the same bits" : "DIFFERENT bits";
        printf("for_reduce: wse_reduce on %u worker%s: %.17g (%s)\n", used, used == 1 ? "" : "s",
               total, k == 0 ? "the reference" : bits);
        ok = ok && same;
    }

    /* A plain loop adds in another order: close, but not always the same bits (for
     * n = 10^6 the reduction's order is also the more accurate one: the exact sum
     * is 14.3927267228657236...). */
    double seq = 0.0;
    for (size_t i = 0; i < n; i++)
        seq += v[i];
    printf("for_reduce: a plain loop, left to right: %.17g\n", seq);
    ok = ok && (seq > first ? seq - first : first - seq) <= 1e-12 * seq;

    free(v);
    printf("for_reduce: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

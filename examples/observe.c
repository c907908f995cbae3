/*
 * Seeing what the executor did: the counters of a fork-join run (how many tasks,
 * stolen, run by waiting workers; how busy the workers were), then a trace of a
 * few rounds of it written for Perfetto (ui.perfetto.dev) or tools/wse-trace.
 *
 *   observe [trace.json]     default observe-trace.json in the current directory
 *
 * The task function is global and the program is linked with -rdynamic
 * (examples/CMakeLists.txt), so that the trace names its slices "tree".
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <wsexec.h>

int tree(void *arg, void **result);

/* A binary tree of tasks of the given depth; each leaf spins about 20 us. */
int
tree(void *arg, void **result)
{
    unsigned depth = (unsigned)(uintptr_t)arg;
    wse_future *kids[2];

    if (depth == 0) {
        volatile uint64_t x = 0;
        for (int i = 0; i < 20000; i++)
            x += (uint64_t)i;
        *result = (void *)(uintptr_t)1;
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        int rc = wse_submit(wse_current(), tree, (void *)(uintptr_t)(depth - 1), &kids[i]);
        if (rc != 0)
            return rc;
    }
    int rc = wse_wait(kids, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
    *result = (void *)((uintptr_t)wse_future_value(kids[0]) + (uintptr_t)wse_future_value(kids[1]));
    wse_future_release(kids[0]);
    wse_future_release(kids[1]);
    return rc;
}

static double
now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Run the tree from main; its leaf count, or 0 on error. */
static uintptr_t
run(wse_executor *ex, unsigned depth)
{
    wse_future *f;
    uintptr_t leaves = 0;

    if (wse_submit(ex, tree, (void *)(uintptr_t)depth, &f) != 0)
        return 0;
    if (wse_future_wait(f, WSE_FOREVER) == 0 && wse_future_state(f) == WSE_DONE)
        leaves = (uintptr_t)wse_future_value(f);
    wse_future_release(f);
    return leaves;
}

int
main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "observe-trace.json";
    const unsigned depth = 12;
    wse_executor *ex;
    wse_stats a;
    wse_stats b;

    if (wse_executor_create(&ex, NULL) != 0)
        return 1;

    /* 1. Counters: always on, read at any time. */
    wse_executor_stats(ex, &a, sizeof a);
    double t0 = now_s();
    uintptr_t leaves = run(ex, depth);
    double wall = now_s() - t0;
    wse_executor_stats(ex, &b, sizeof b);
    if (leaves != (uintptr_t)1 << depth) {
        fprintf(stderr, "observe: %zu leaves, expected %zu\n", (size_t)leaves, (size_t)1 << depth);
        return 1;
    }
    printf("%llu tasks in %.1f ms: %llu stolen, %llu run by a waiting worker; "
           "workers busy %.0f %% of the time, %llu parks\n",
           (unsigned long long)(b.tasks - a.tasks), wall * 1e3,
           (unsigned long long)(b.stolen - a.stolen), (unsigned long long)(b.helped - a.helped),
           100.0 * (double)(b.busy_ns - a.busy_ns) / (wall * 1e9 * wse_executor_workers(ex)),
           (unsigned long long)(b.parks - a.parks));
    if (b.tasks - a.tasks != ((uint64_t)2 << depth) - 1) {
        fprintf(stderr, "observe: counted %llu tasks\n", (unsigned long long)(b.tasks - a.tasks));
        return 1;
    }

    /* 2. A trace of three smaller runs: every thread records into a ring of its
     * own; write it out, then look at it in Perfetto or with tools/wse-trace. */
    if (wse_trace_start(ex, 0) != 0)
        return 1;
    for (int i = 0; i < 3; i++)
        if (run(ex, 8) != (uintptr_t)1 << 8)
            return 1;
    wse_trace_stop(ex);
    int rc = wse_trace_write(ex, path);
    if (rc != 0) {
        fprintf(stderr, "observe: writing %s: error %d\n", path, rc);
        return 1;
    }
    printf("trace written to %s (open it at ui.perfetto.dev, or: tools/wse-trace summary %s)\n",
           path, path);
    return wse_executor_destroy(ex) == 0 ? 0 : 1;
}

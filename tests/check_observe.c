/*
 * Observability: wse_executor_stats() and the flight recorder.
 *
 * Counters: EINVAL, the size rule (a shorter struct gets its fields and no
 * byte more; a longer one gets the rest zeroed), exact counts where the
 * schedule is forced (a batch from outside is all injected; fork-join on one
 * worker is all helped but the root; a loop counts its chunks, not its
 * runners; a claimed task on a caller_runs thread), parks and wakeups of an
 * idle worker, busy time against wall time, a spare, and that counters never
 * go down while a reader races a workload.
 *
 * Trace: EINVAL and errors of a failed write (no file left), the file parsed
 * back as JSON with the slices, flows and tracks expected, the ring keeping
 * the newest events, a restart dropping the old ones, writing while tasks
 * run, and WSE_TRACE. Every file written goes to WSE_TEST_TRACE_DIR (the build
 * tree's tests/traces), where trace_files_check (tools/wse-trace check) reads
 * each back and checks its structure in depth.
 */
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>

#include "wse_test.h"

/* ---- Reading a file back -------------------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A strict JSON syntax check (RFC 8259 values), enough to prove the file is
 * one JSON document that a viewer can load. */
struct json {
    const char *p;
    int depth;
};

static void
json_ws(struct json *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
        j->p++;
}

static bool json_value(struct json *j);

static bool
json_string(struct json *j)
{
    if (*j->p != '"')
        return false;
    for (j->p++; *j->p != '"'; j->p++) {
        if ((unsigned char)*j->p < 0x20)
            return false;
        if (*j->p == '\\') {
            j->p++;
            if (strchr("\"\\/bfnrtu", *j->p) == NULL || *j->p == '\0')
                return false;
        }
    }
    j->p++;
    return true;
}

static bool
json_number(struct json *j)
{
    const char *start = j->p;

    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    if (*j->p == '.') {
        j->p++;
        if (*j->p < '0' || *j->p > '9')
            return false;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (*j->p < '0' || *j->p > '9')
            return false;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > start && !(j->p == start + 1 && *start == '-');
}

static bool
json_members(struct json *j, char open, char close)
{
    if (*j->p != open || ++j->depth > 64)
        return false;
    j->p++;
    json_ws(j);
    if (*j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        json_ws(j);
        if (open == '{') {
            if (!json_string(j))
                return false;
            json_ws(j);
            if (*j->p++ != ':')
                return false;
        }
        if (!json_value(j))
            return false;
        json_ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p++ != close)
            return false;
        j->depth--;
        return true;
    }
}

static bool
json_value(struct json *j)
{
    json_ws(j);
    switch (*j->p) {
    case '{':
        return json_members(j, '{', '}');
    case '[':
        return json_members(j, '[', ']');
    case '"':
        return json_string(j);
    case 't':
        return strncmp(j->p, "true", 4) == 0 && (j->p += 4, true);
    case 'f':
        return strncmp(j->p, "false", 5) == 0 && (j->p += 5, true);
    case 'n':
        return strncmp(j->p, "null", 4) == 0 && (j->p += 4, true);
    default:
        return json_number(j);
    }
}

static void
assert_json(const char *text, const char *path)
{
    struct json j = {text, 0};

    ck_assert_msg(json_value(&j), "%s: not JSON near offset %td", path, j.p - text);
    json_ws(&j);
    ck_assert_msg(*j.p == '\0', "%s: text after the JSON value at offset %td", path, j.p - text);
}

/* Occurrences of needle in text. */
static size_t
count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Where the suite's trace files go (trace_files_check reads them all). */
static void
trace_path(char *buf, size_t size, const char *name)
{
    const char *dir = getenv("WSE_TEST_TRACE_DIR");

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    (void)mkdir(dir, 0777);
    ck_assert_int_lt(snprintf(buf, size, "%s/%s.json", dir, name), (int)size);
}

/* Write ex's trace to path and read it back, checked as JSON (free it). */
static char *
write_trace(wse_executor *ex, const char *path)
{
    size_t len;
    char *text;

    ck_assert_int_eq(wse_trace_write(ex, path), 0);
    text = slurp(path, &len);
    assert_json(text, path);
    return text;
}

/* ---- Tasks (exported: the trace names them) --------------------------------- */

int observe_task(void *arg, void **result);
int observe_other_task(void *arg, void **result);
int observe_fib(void *arg, void **result);
int observe_body(size_t b, size_t e, void *ctx);

int
observe_task(void *arg, void **result)
{
    (void)result;
    if (arg != NULL)
        counter_add(arg, 1);
    return 0;
}

int
observe_other_task(void *arg, void **result)
{
    return observe_task(arg, result);
}

/* fib(n) as tasks: each call with n >= 2 submits two children and waits. */
int
observe_fib(void *arg, void **result)
{
    long n = (long)(intptr_t)arg;
    wse_future *f[2];

    if (n < 2) {
        *result = (void *)(intptr_t)n;
        return 0;
    }
    ck_assert_int_eq(wse_submit(wse_current(), observe_fib, (void *)(intptr_t)(n - 1), &f[0]), 0);
    ck_assert_int_eq(wse_submit(wse_current(), observe_fib, (void *)(intptr_t)(n - 2), &f[1]), 0);
    ck_assert_int_eq(wse_wait(f, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    *result = (void *)((intptr_t)wse_future_value(f[0]) + (intptr_t)wse_future_value(f[1]));
    release_all(f, 2);
    return 0;
}

/* Calls of fib(n), the root's included. */
static uint64_t
fib_calls(long n)
{
    return n < 2 ? 1 : 1 + fib_calls(n - 1) + fib_calls(n - 2);
}

int
observe_body(size_t b, size_t e, void *ctx)
{
    counter_add(ctx, (int)(e - b));
    return 0;
}

static wse_stats
stats_of(wse_executor *ex)
{
    wse_stats s;

    memset(&s, 0xa5, sizeof s);
    ck_assert_int_eq(wse_executor_stats(ex, &s, sizeof s), 0);
    return s;
}

/* ---- Counters --------------------------------------------------------------- */

START_TEST(stats_einval)
{
    wse_executor *ex = make_executor(1);
    wse_stats s;

    ck_assert_int_eq(wse_executor_stats(NULL, &s, sizeof s), EINVAL);
    ck_assert_int_eq(wse_executor_stats(ex, NULL, sizeof s), EINVAL);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* An older program's shorter struct gets its fields and not one byte more; a
 * newer program's longer one gets the rest zeroed; 0 bytes touch nothing. */
START_TEST(stats_size_rule)
{
    wse_executor *ex = make_executor(1);
    int ran = 0;
    unsigned char buf[sizeof(wse_stats) + 32];
    wse_stats full;
    size_t i;

    wse_future *f;
    ck_assert_int_eq(wse_submit(ex, observe_task, &ran, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    wse_future_release(f);
    full = stats_of(ex);
    ck_assert_uint_eq(full.tasks, 1);

    memset(buf, 0xee, sizeof buf);
    ck_assert_int_eq(wse_executor_stats(ex, (wse_stats *)(void *)buf, offsetof(wse_stats, parks)),
                     0);
    ck_assert_uint_eq(((wse_stats *)(void *)buf)->tasks, 1);
    for (i = offsetof(wse_stats, parks); i < sizeof buf; i++)
        ck_assert_msg(buf[i] == 0xee, "byte %zu past the short struct was written", i);

    memset(buf, 0xee, sizeof buf);
    ck_assert_int_eq(wse_executor_stats(ex, (wse_stats *)(void *)buf, sizeof buf), 0);
    ck_assert_uint_eq(((wse_stats *)(void *)buf)->tasks, 1);
    for (i = sizeof(wse_stats); i < sizeof buf; i++)
        ck_assert_msg(buf[i] == 0, "byte %zu past the library's struct is not zero", i);

    memset(buf, 0xee, sizeof buf);
    ck_assert_int_eq(wse_executor_stats(ex, (wse_stats *)(void *)buf, 0), 0);
    for (i = 0; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xee);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* From a plain thread without caller_runs, every task goes through the
 * injection queue and no waiter runs any. */
START_TEST(stats_batch_from_outside_is_injected)
{
    enum { N = 1000 };
    wse_executor *ex = make_executor(2);
    wse_future *f[N];
    int ran = 0;
    void *args[N];

    for (int i = 0; i < N; i++)
        args[i] = &ran;
    wse_stats a = stats_of(ex);
    ck_assert_int_eq(wse_submit_batch(ex, observe_task, args, N, f), 0);
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    release_all(f, N);
    wse_stats b = stats_of(ex);
    ck_assert_uint_eq(b.tasks - a.tasks, N);
    ck_assert_uint_eq(b.injected - a.injected, N);
    ck_assert_uint_eq(b.stolen - a.stolen, 0);
    ck_assert_uint_eq(b.helped - a.helped, 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Fork-join on one worker: the root comes from outside, every other call is a
 * child its parent's wait pops and runs (helped), none is stolen. */
START_TEST(stats_fork_join_on_one_worker)
{
    wse_executor *ex = make_executor(1);
    wse_future *f;

    ck_assert_int_eq(wse_submit(ex, observe_fib, (void *)(intptr_t)15, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    ck_assert_int_eq((int)(intptr_t)wse_future_value(f), 610);
    wse_future_release(f);
    wse_stats s = stats_of(ex);
    ck_assert_uint_eq(s.tasks, fib_calls(15));
    ck_assert_uint_eq(s.injected, 1);
    ck_assert_uint_eq(s.helped, fib_calls(15) - 1);
    ck_assert_uint_eq(s.stolen, 0);
    ck_assert_uint_gt(s.busy_ns, 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* On two workers the same tree: every call counted once, whoever ran it. */
START_TEST(stats_fork_join_on_two_workers)
{
    wse_executor *ex = make_executor(2);
    wse_future *f;

    ck_assert_int_eq(wse_submit(ex, observe_fib, (void *)(intptr_t)18, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    wse_future_release(f);
    wse_stats s = stats_of(ex);
    ck_assert_uint_eq(s.tasks, fib_calls(18));
    ck_assert_uint_le(s.stolen + s.injected, s.tasks);
    ck_assert_uint_le(s.helped, s.tasks);
    ck_assert_uint_ge(s.injected, 1);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A loop counts its chunks (grain 1: one per index), never its runners, in
 * both forms; the blocking form's caller helps. */
START_TEST(stats_loop_counts_chunks)
{
    wse_executor *ex = make_executor(2);
    int sum = 0;
    wse_future *f;

    wse_stats a = stats_of(ex);
    ck_assert_int_eq(wse_for(ex, 0, 100, 1, observe_body, &sum, NULL), 0);
    wse_stats b = stats_of(ex);
    ck_assert_uint_eq(b.tasks - a.tasks, 100);
    ck_assert_uint_le(b.helped - a.helped, 100);
    ck_assert_int_eq(counter_get(&sum), 100);

    ck_assert_int_eq(wse_for(ex, 0, 64, 8, observe_body, &sum, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    wse_future_release(f);
    wse_stats c = stats_of(ex);
    ck_assert_uint_eq(c.tasks - b.tasks, 8);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* With caller_runs the waiting thread may run the task itself: claimed and
 * helped on the plain thread's own counters, or injected on a worker's. */
START_TEST(stats_caller_runs)
{
    wse_options o = {0};
    wse_executor *ex;
    int ran = 0;

    o.workers = 1;
    o.caller_runs = true;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    for (int i = 0; i < 50; i++) {
        wse_future *f;
        ck_assert_int_eq(wse_submit(ex, observe_task, &ran, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        wse_future_release(f);
    }
    wse_stats s = stats_of(ex);
    ck_assert_uint_eq(s.tasks, 50);
    ck_assert_uint_eq(s.helped + s.injected, 50);
    ck_assert_uint_eq(s.stolen, 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

static int
spin_ms(void *arg, void **result)
{
    (void)result;
    spin_for((double)(intptr_t)arg * 1e3);
    return 0;
}

/* An idle worker parks; work wakes it; 30 ms of work count as at least 30 ms
 * busy and the total never exceeds the workers' wall time. */
START_TEST(stats_parks_wakeups_busy)
{
    wse_options o = {0};
    wse_executor *ex;
    wse_future *f;

    o.workers = 1;
    o.spin_us = WSE_SPIN_US_NONE;
    double t0 = now_s();
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    usleep(50000);
    wse_stats a = stats_of(ex);
    ck_assert_uint_ge(a.parks, 1);
    ck_assert_int_eq(wse_submit(ex, spin_ms, (void *)(intptr_t)30, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    wse_future_release(f);
    wse_stats b = stats_of(ex);
    double wall = now_s() - t0;
    ck_assert_uint_ge(b.wakeups, 1);
    ck_assert_uint_ge(b.busy_ns - a.busy_ns, 30000000u);
    ck_assert_msg((double)b.busy_ns <= wall * 1e9 + 1e6, "busy %.3f s in %.3f s of wall time",
                  (double)b.busy_ns * 1e-9, wall);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A plain thread's time in a loop counts as busy, in ns (it is measured in the
 * cheaper counter ticks and converted when read): at least what its chunks
 * spun, and not more than the wall time of the two threads that took part. */
static int
spin_if_plain(size_t b, size_t e, void *ctx)
{
    if (wse_worker_index() < 0) {
        spin_for((double)(e - b) * 1000.0);
        counter_add(ctx, (int)(e - b));
    }
    return 0;
}

START_TEST(stats_busy_of_a_loops_plain_caller)
{
    wse_options o = {0};
    wse_executor *ex;
    wse_stats a = {0}, b = {0};
    double wall = 0;
    int spun_ms = 0;
    int tries;

    o.workers = 1;
    o.spin_us = WSE_SPIN_US_NONE;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);
    usleep(20000);
    /* The caller takes part but is not promised a chunk: preempted right after
     * it offers the loop (a loaded machine), it finds the worker has claimed
     * them all (the worker's chunks are empty). Such a run measures nothing
     * here; try again, a bounded number of times. */
    for (tries = 0; tries < 100 && spun_ms == 0; tries++) {
        a = stats_of(ex);
        double t0 = now_s();
        ck_assert_int_eq(wse_for(ex, 0, 60, 1, spin_if_plain, &spun_ms, NULL), 0);
        wall = now_s() - t0;
        b = stats_of(ex);
    }
    ck_assert_msg(spun_ms >= 1, "the plain caller ran no chunk in %d loops", tries);
    ck_assert_msg((double)(b.busy_ns - a.busy_ns) >= spun_ms * 1e6 * 0.98,
                  "busy %.3f ms for %d ms of chunks", (double)(b.busy_ns - a.busy_ns) * 1e-6,
                  spun_ms);
    /* Busy is time inside work, preemption included: on a loaded machine the
     * worker holding a runner while descheduled counts too. Two threads take
     * part, so at most twice the wall time (the caller's ticks counted once). */
    ck_assert_msg((double)(b.busy_ns - a.busy_ns) <= wall * 2e9 + 2e6,
                  "busy %.3f ms in %.3f ms of wall time", (double)(b.busy_ns - a.busy_ns) * 1e-6,
                  wall * 1e3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A worker's task blocks on a promise: a spare takes its place. */
static int
wait_promise(void *arg, void **result)
{
    (void)result;
    return wse_future_wait(arg, WSE_FOREVER);
}

START_TEST(stats_spare)
{
    wse_executor *ex = make_executor(1);
    wse_future *p;
    wse_future *f;
    wse_future *g;
    int ran = 0;

    ck_assert_int_eq(wse_promise_create(&p, NULL), 0);
    ck_assert_int_eq(wse_submit(ex, wait_promise, p, &f), 0);
    /* Runs only if a spare stands in for the blocked worker. */
    ck_assert_int_eq(wse_submit(ex, observe_task, &ran, &g), 0);
    ck_assert_int_eq(wse_future_wait(g, wse_test_scale(10.0)), 0);
    ck_assert_uint_ge(stats_of(ex).spares, 1);
    ck_assert_int_eq(wse_promise_set_value(p, NULL), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    wse_future *all[3] = {p, f, g};
    release_all(all, 3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A reader in a loop while fork-join trees and loops run: no counter ever goes
 * down between two reads. */
struct reader {
    wse_executor *ex;
    int stop;
    int reads;
};

static void *
reader_main(void *arg)
{
    struct reader *r = arg;
    wse_stats last;

    memset(&last, 0, sizeof last);
    while (!flag_get(&r->stop)) {
        wse_stats s;
        ck_assert_int_eq(wse_executor_stats(r->ex, &s, sizeof s), 0);
        const uint64_t *now = (const uint64_t *)(void *)&s;
        const uint64_t *old = (const uint64_t *)(void *)&last;
        for (size_t i = 0; i < sizeof s / sizeof(uint64_t); i++)
            ck_assert_msg(now[i] >= old[i], "counter %zu went down: %llu < %llu", i,
                          (unsigned long long)now[i], (unsigned long long)old[i]);
        ck_assert_uint_le(s.stolen + s.injected, s.tasks);
        last = s;
        counter_add(&r->reads, 1);
    }
    return NULL;
}

START_TEST(stats_monotonic_under_load)
{
    struct reader r = {.ex = make_executor(2)};
    pthread_t th;
    int sum = 0;

    ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    for (int round = 0; round < 20; round++) {
        wse_future *f;
        ck_assert_int_eq(wse_submit(r.ex, observe_fib, (void *)(intptr_t)12, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        wse_future_release(f);
        ck_assert_int_eq(wse_for(r.ex, 0, 1000, 0, observe_body, &sum, NULL), 0);
    }
    spin_until_at_least(&r.reads, 10, "the reader's reads");
    flag_set(&r.stop);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_uint_eq(stats_of(r.ex).tasks >= 20 * fib_calls(12), true);
    ck_assert_int_eq(wse_executor_destroy(r.ex), 0);
}
END_TEST

/* ---- Trace ------------------------------------------------------------------ */

START_TEST(trace_einval)
{
    wse_executor *ex = make_executor(1);
    char path[PATH_MAX];

    trace_path(path, sizeof path, "never");
    ck_assert_int_eq(wse_trace_start(NULL, 0), EINVAL);
    ck_assert_int_eq(wse_trace_stop(NULL), EINVAL);
    ck_assert_int_eq(wse_trace_write(NULL, path), EINVAL);
    ck_assert_int_eq(wse_trace_write(ex, NULL), EINVAL);
    ck_assert_int_eq(wse_trace_start(ex, ((size_t)1 << 24) + 1), EINVAL);
    /* Nothing was ever started: nothing to write, no file. */
    (void)remove(path);
    ck_assert_int_eq(wse_trace_write(ex, path), EINVAL);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(wse_trace_stop(ex), 0); /* stopping a stopped trace */
    ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
    ck_assert_int_eq(wse_trace_start(ex, 0), ESHUTDOWN);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

START_TEST(trace_write_error)
{
    wse_executor *ex = make_executor(1);

    ck_assert_int_eq(wse_trace_start(ex, 16), 0);
    ck_assert_int_eq(wse_trace_write(ex, "/nonexistent-dir/wse/trace.json"), ENOENT);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A run traced from the start: the file is JSON with a task slice per task
 * (named after the exported function), a submit and its flow per task, wait
 * slices, the worker tracks and the plain thread's. */
START_TEST(trace_file_structure)
{
    enum { N = 200 };
    wse_executor *ex = make_executor(2);
    wse_future *f[N];
    char path[PATH_MAX];
    int ran = 0;

    trace_path(path, sizeof path, "structure");
    ck_assert_int_eq(wse_trace_start(ex, 0), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse_submit(ex, observe_task, &ran, &f[i]), 0);
    ck_assert_int_eq(wse_wait(f, N, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL), 0);
    release_all(f, N);
    ck_assert_int_eq(wse_submit(ex, observe_fib, (void *)(intptr_t)10, &f[0]), 0);
    ck_assert_int_eq(wse_future_wait(f[0], 5.0), 0);
    wse_future_release(f[0]);
    ck_assert_int_eq(wse_trace_stop(ex), 0);
    char *text = write_trace(ex, path);
    ck_assert_ptr_nonnull(strstr(text, "\"traceEvents\":["));
    ck_assert_uint_eq(count(text, "\"name\":\"observe_task\",\"cat\":\"task\",\"ph\":\"X\""), N);
    ck_assert_uint_eq(count(text, "\"name\":\"observe_fib\",\"cat\":\"task\",\"ph\":\"X\""),
                      fib_calls(10));
    ck_assert_uint_eq(count(text, "\"cat\":\"submit\""), N + fib_calls(10));
    ck_assert_uint_eq(count(text, "\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"s\""),
                      N + fib_calls(10));
    ck_assert_uint_eq(count(text, "\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"f\""),
                      N + fib_calls(10));
    ck_assert_uint_ge(count(text, "\"cat\":\"wait\""), 2);
    ck_assert_ptr_nonnull(strstr(
        text, "\"mode\":\"ALL_COMPLETED\",\"futures\":200,\"outcome\":\"0\",\"timeout_s\":null"));
    /* The fib wait's 5 s, as left at its start. */
    ck_assert(strstr(text, "\"timeout_s\":5}") != NULL ||
              strstr(text, "\"timeout_s\":4.9") != NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"args\":{\"name\":\"worker 0\"}"));
    ck_assert_ptr_nonnull(strstr(text, "\"args\":{\"name\":\"worker 1\"}"));
    ck_assert_ptr_nonnull(strstr(text, "\"args\":{\"name\":\"thread "));
    ck_assert_ptr_nonnull(strstr(text, "\"from\":\"injected\""));
    ck_assert_ptr_nonnull(strstr(text, "\"helped\":true"));
    /* Writing again gives the same events (stop keeps the rings). */
    free(text);
    text = write_trace(ex, path);
    ck_assert_uint_eq(count(text, "\"name\":\"observe_task\",\"cat\":\"task\""), N);
    free(text);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A thread asleep in a wait, woken by a task's completion: an arrow from the
 * end of that task (on the worker's track) to the end of the wait. */
START_TEST(trace_wake_arrow)
{
    wse_executor *ex = make_executor(1);
    char path[PATH_MAX];
    wse_future *f;

    trace_path(path, sizeof path, "wake");
    ck_assert_int_eq(wse_trace_start(ex, 0), 0);
    ck_assert_int_eq(wse_submit(ex, spin_ms, (void *)(intptr_t)30, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0); /* sleeps: 30 ms */
    wse_future_release(f);
    char *text = write_trace(ex, path);
    ck_assert_uint_eq(count(text, "\"name\":\"wake\",\"cat\":\"flow\",\"ph\":\"s\""), 1);
    ck_assert_uint_eq(count(text, "\"name\":\"wake\",\"cat\":\"flow\",\"ph\":\"f\""), 1);
    free(text);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Loops: a chunk slice per chunk with its range, inside "loop runner" tasks on
 * the workers or on the calling thread. */
START_TEST(trace_loop_chunks)
{
    wse_executor *ex = make_executor(2);
    char path[PATH_MAX];
    int sum = 0;

    trace_path(path, sizeof path, "loop");
    ck_assert_int_eq(wse_trace_start(ex, 0), 0);
    ck_assert_int_eq(wse_for(ex, 0, 40, 4, observe_body, &sum, NULL), 0);
    char *text = write_trace(ex, path);
    ck_assert_uint_eq(count(text, "\"name\":\"observe_body\",\"cat\":\"chunk\""), 10);
    ck_assert_uint_eq(count(text, "\"begin\":36,\"end\":40"), 1);
    free(text);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A ring of 64 keeps the newest events: of 1,000 tasks from outside, the file
 * holds at most 64 events per thread, the last task among them. */
START_TEST(trace_ring_keeps_newest)
{
    enum { N = 1000 };
    wse_executor *ex = make_executor(1);
    wse_future *f[N];
    char path[PATH_MAX];

    trace_path(path, sizeof path, "ring");
    ck_assert_int_eq(wse_trace_start(ex, 64), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(wse_submit(ex, observe_task, NULL, &f[i]), 0);
        ck_assert_int_eq(wse_future_wait(f[i], WSE_FOREVER), 0);
    }
    char *text = write_trace(ex, path);
    /* Worker: 64 events (tasks, spins, parks); the submitter: 64 submits or waits. */
    ck_assert_uint_le(count(text, "\"cat\":\"task\""), 64);
    ck_assert_uint_ge(count(text, "\"cat\":\"task\""), 1);
    ck_assert_uint_le(count(text, "\"cat\":\"submit\""), 64);
    /* The newest task (the worker's last, its ring written oldest first) kept
     * the arrow from its submit: the line after its slice ends that flow. */
    const char *t = NULL;
    for (const char *q = text; (q = strstr(q, "\"cat\":\"task\"")) != NULL; q++)
        t = q;
    ck_assert_ptr_nonnull(t);
    t = strchr(t, '\n');
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(strncmp(t + 1, "{\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"f\"", 38) == 0,
                  "the newest task's flow is missing");
    free(text);
    release_all(f, N);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A future's memory is reused once it is freed, so its address cannot name the
 * arrow from its submit to its run: every submit arrow of the file has an id
 * of its own (viewers pair "s" and "f" by id, and some mispair a reused one). */
START_TEST(trace_flow_ids_unique)
{
    enum { N = 200 };
    wse_executor *ex = make_executor(1);
    wse_future *f;
    void *first = NULL;
    int reused = 0;
    char path[PATH_MAX];
    static char ids[N][24];
    size_t n = 0;

    trace_path(path, sizeof path, "flowids");
    ck_assert_int_eq(wse_trace_start(ex, 4096), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(wse_submit(ex, observe_task, NULL, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        if (first == NULL)
            first = f;
        else if ((void *)f == first)
            reused++;
        wse_future_release(f);
    }
    /* Addresses came back (not under AddressSanitizer, whose quarantine keeps
     * freed memory aside and which the allocator's cache steps aside for: the
     * ids must be unique there all the same). */
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_int_gt(reused, 0);
#endif
    (void)reused;
    char *text = write_trace(ex, path);
    const char *key = "\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"s\",\"id\":\"";
    for (const char *q = text; (q = strstr(q, key)) != NULL && n < N; n++) {
        q += strlen(key);
        size_t len = strcspn(q, "\"");
        ck_assert_uint_lt(len, sizeof ids[0]);
        memcpy(ids[n], q, len);
        ids[n][len] = '\0';
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(strcmp(ids[k], ids[n]) != 0, "flow id %s twice", ids[n]);
    }
    ck_assert_uint_eq(n, N);
    ck_assert_uint_eq(count(text, "\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"f\""), N);
    free(text);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* A restart of the same size drops the old events; of another size, too. */
START_TEST(trace_restart_drops_old)
{
    wse_executor *ex = make_executor(2);
    char path[PATH_MAX];
    wse_future *f;

    trace_path(path, sizeof path, "restart");
    for (size_t size = 128; size <= 256; size *= 2) {
        ck_assert_int_eq(wse_trace_start(ex, size), 0);
        ck_assert_int_eq(wse_submit(ex, observe_task, NULL, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        wse_future_release(f);
        ck_assert_int_eq(wse_trace_stop(ex), 0);
        ck_assert_int_eq(wse_trace_start(ex, size), 0);
        ck_assert_int_eq(wse_submit(ex, observe_other_task, NULL, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        wse_future_release(f);
        char *text = write_trace(ex, path);
        ck_assert_uint_eq(count(text, "\"name\":\"observe_task\",\"cat\":\"task\""), 0);
        ck_assert_uint_eq(count(text, "\"name\":\"observe_other_task\",\"cat\":\"task\""), 1);
        free(text);
    }
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* Writing while the workers record: each file is whole JSON (under
 * ThreadSanitizer this also checks the rings' sequence locks). */
struct writer {
    wse_executor *ex;
    int stop;
    int files;
};

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    char path[PATH_MAX];

    trace_path(path, sizeof path, "concurrent");
    while (!flag_get(&w->stop) || counter_get(&w->files) < 3) {
        char *text = write_trace(w->ex, path);
        free(text);
        counter_add(&w->files, 1);
    }
    return NULL;
}

START_TEST(trace_write_while_recording)
{
    struct writer w = {.ex = make_executor(2)};
    pthread_t th;
    int sum = 0;

    ck_assert_int_eq(wse_trace_start(w.ex, 256), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w), 0);
    for (int round = 0; round < 30; round++) {
        wse_future *f;
        ck_assert_int_eq(wse_submit(w.ex, observe_fib, (void *)(intptr_t)10, &f), 0);
        ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
        wse_future_release(f);
        ck_assert_int_eq(wse_for(w.ex, 0, 100, 1, observe_body, &sum, NULL), 0);
    }
    flag_set(&w.stop);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(wse_executor_destroy(w.ex), 0);
}
END_TEST

/* WSE_TRACE traces an unchanged program: the file appears at destroy, "%p"
 * and "%e" replaced. */
START_TEST(trace_environment)
{
    char dir[PATH_MAX];
    char name[PATH_MAX + 32];
    char path[PATH_MAX + 64];
    wse_executor *ex;
    wse_future *f;
    size_t len;

    trace_path(dir, sizeof dir, "env");
    dir[strlen(dir) - strlen(".json")] = '\0';
    (void)snprintf(name, sizeof name, "%s-%%p-%%e.json", dir);
    ck_assert_int_eq(setenv("WSE_TRACE", name, 1), 0);
    ck_assert_int_eq(wse_executor_create(&ex, NULL), 0);
    ck_assert_int_eq(unsetenv("WSE_TRACE"), 0);
    ck_assert_int_eq(wse_submit(ex, observe_task, NULL, &f), 0);
    ck_assert_int_eq(wse_future_wait(f, WSE_FOREVER), 0);
    wse_future_release(f);
    /* The executor's number: the first in this (forked) test process. */
    ck_assert_int_eq(setenv("WSE_TRACE", name, 1), 0);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    ck_assert_int_eq(unsetenv("WSE_TRACE"), 0);
    (void)snprintf(path, sizeof path, "%s-%ld-1.json", dir, (long)getpid());
    char *text = slurp(path, &len);
    assert_json(text, path);
    ck_assert_uint_eq(count(text, "\"name\":\"observe_task\",\"cat\":\"task\""), 1);
    free(text);
    /* Under a fixed name, for trace_files_check (no file per run piles up). */
    (void)snprintf(name, sizeof name, "%s.json", dir);
    ck_assert_int_eq(rename(path, name), 0);
}
END_TEST

Suite *
observe_suite(void)
{
    Suite *s = suite_create("observe");
    TCase *tc = tcase_create("stats");

    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, stats_einval);
    tcase_add_test(tc, stats_size_rule);
    tcase_add_test(tc, stats_batch_from_outside_is_injected);
    tcase_add_test(tc, stats_fork_join_on_one_worker);
    tcase_add_test(tc, stats_fork_join_on_two_workers);
    tcase_add_test(tc, stats_loop_counts_chunks);
    tcase_add_test(tc, stats_caller_runs);
    tcase_add_test(tc, stats_parks_wakeups_busy);
    tcase_add_test(tc, stats_busy_of_a_loops_plain_caller);
    tcase_add_test(tc, stats_spare);
    tcase_add_test(tc, stats_monotonic_under_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("trace");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, trace_einval);
    tcase_add_test(tc, trace_write_error);
    tcase_add_test(tc, trace_file_structure);
    tcase_add_test(tc, trace_wake_arrow);
    tcase_add_test(tc, trace_loop_chunks);
    tcase_add_test(tc, trace_ring_keeps_newest);
    tcase_add_test(tc, trace_flow_ids_unique);
    tcase_add_test(tc, trace_restart_drops_old);
    tcase_add_test(tc, trace_write_while_recording);
    tcase_add_test(tc, trace_environment);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(observe_suite());
}

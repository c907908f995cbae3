/*
 * wse-demo: the wait modes and the API of wsexec on real CPU-parallel work.
 *
 *   race      WSE_FIRST_COMPLETED  Several solvers search for a nonce whose hash has
 *             scope                k leading zero bits, each in its own region of the
 *                                  nonce space, as the children of a scope; the first
 *                                  answer wins, and the scope stops the others: they
 *                                  poll wse_stop_requested() and end CANCELLED.
 *   fail-fast WSE_FIRST_EXCEPTION  256 chunks of a generated data set are checksum-
 *                                  verified; one chunk is corrupted. Run twice: once
 *                                  with wse_wait() and only wse_shutdown(cancel_pending)
 *                                  at the failure, which lets running chunks finish in
 *                                  vain, once as a FIRST_EXCEPTION scope, whose failing
 *                                  chunk stops every other one, running ones included.
 *   dag       wse_submit_after     A longest-common-subsequence table computed as a
 *                                  wavefront of tiles, each queued when the tiles above
 *                                  and to its left are done; checked against one thread.
 *   progress  as_completed         64 tasks of varying size, each result printed as it
 *                                  arrives; every entry must come exactly once.
 *   deadline  WSE_ALL_COMPLETED    Prime counting over ranges of varying size under a
 *           + timeout              deadline: report what finished and what was still
 *                                  pending (a timeout cancels nothing), then wait for
 *                                  the rest.
 *   loop      wse_for + deadline   A Mandelbrot set rendered by a parallel loop of rows
 *           + request_stop         (irregular cost), once to completion and once under
 *                                  a deadline: wse_wait() on the loop's future with a
 *                                  timeout, then wse_future_request_stop(): running
 *                                  chunks see wse_stop_requested(), the others never
 *                                  start, and the loop ends CANCELLED. --image writes
 *                                  both pictures as a PGM.
 *
 * Each mode uses its own executor (fail-fast shuts its executors down). All times are
 * read from CLOCK_MONOTONIC and printed in milliseconds since the mode started.
 * Run `wse-demo --help` for the options. Exit status 0 means every check passed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsexec.h"

/* Report a failed wsexec call (0 or a positive errno) and jump to the cleanup. */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        int check_rc_ = (call);                                                                    \
        if (check_rc_ != 0) {                                                                      \
            fprintf(stderr, "wse-demo: %s failed: %s (line %d)\n", #call, strerror(check_rc_),     \
                    __LINE__);                                                                     \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Report a failed check of a result and jump to the cleanup. */
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "wse-demo: check failed: " __VA_ARGS__);                               \
            fputc('\n', stderr);                                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

struct config {
    unsigned workers;     /* 0: the library default (usable CPUs) */
    unsigned solvers;     /* race: number of solvers */
    unsigned bits;        /* race: leading zero bits wanted */
    unsigned chunks;      /* fail-fast: number of chunks */
    unsigned chunk_kib;   /* fail-fast: chunk size in KiB */
    unsigned passes;      /* fail-fast: passes of the checksum over a chunk */
    long bad_chunk;       /* fail-fast: index of the corrupted chunk, -1: none */
    unsigned grid;        /* dag: tiles per side */
    unsigned tile;        /* dag: cells per side of a tile */
    unsigned tasks;       /* progress: number of tasks */
    unsigned items;       /* deadline: number of prime-counting items */
    unsigned item_unit;   /* deadline: numbers per weight unit of an item */
    unsigned deadline_ms; /* deadline: the timeout of the first wait */
    unsigned loop_width;  /* loop: picture size in pixels */
    unsigned loop_height;
    unsigned loop_iters;   /* loop: iterations a pixel at most */
    unsigned loop_grain;   /* loop: rows a chunk, 0: the library chooses */
    long loop_deadline_ms; /* loop: the timeout before the stop, -1: a share of the full run */
    const char *image;     /* loop: where to write the PGM, NULL: nowhere */
    uint64_t seed;         /* seeds the data set and the race's block header */
};

/* ---- Time ----------------------------------------------------------------------- */

static double
mono_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("wse-demo: clock_gettime(CLOCK_MONOTONIC)");
        exit(EXIT_FAILURE);
    }
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- Hashes (written here; no dependency) ---------------------------------------- */

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t
fnv1a64(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* splitmix64's output function: a strong 64-bit finaliser. */
static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t
splitmix64(uint64_t *state)
{
    *state += UINT64_C(0x9e3779b97f4a7c15);
    return mix64(*state);
}

static const char *
state_name(wse_state s)
{
    switch (s) {
    case WSE_PENDING:
        return "PENDING";
    case WSE_RUNNING:
        return "RUNNING";
    case WSE_DONE:
        return "DONE";
    case WSE_FAILED:
        return "FAILED";
    case WSE_CANCELLED:
        return "CANCELLED";
    }
    return "?";
}

/* The task and loop functions are global, and the demo is linked with
 * -rdynamic (tools/CMakeLists.txt), so that a trace of it
 * (WSE_TRACE=trace.json wse-demo ...) names its slices after them. */
int solve(void *arg, void **result);
int generate_chunk(void *arg, void **result);
int verify_chunk(void *arg, void **result);
int lcs_tile(void *arg, void **result);
int count_primes(void *arg, void **result);
int render_rows(size_t begin, size_t end, void *ctx);

static int
create_executor(wse_executor **ex, unsigned workers)
{
    wse_options opts = {0};

    opts.workers = workers;
    opts.thread_name = "wse-demo";
    return wse_executor_create(ex, &opts);
}

/* Index of f in futs[0 .. n), or n. */
static size_t
index_of(wse_future *const futs[], size_t n, const wse_future *f)
{
    size_t i = 0;

    while (i < n && futs[i] != f)
        i++;
    return i;
}

/* ---- Race: a WSE_FIRST_COMPLETED scope ----------------------------------------------- */

/*
 * One solver scans nonces start, start + 1, ... (at most limit of them) for one whose
 * hash, mix64(fnv1a64(nonce, header_hash)), has `bits` leading zero bits.
 *
 * The solvers are the children of a FIRST_COMPLETED scope. The first to finish settles
 * it, and the scope then calls wse_future_request_stop() on every other solver, on the
 * winner's thread, right after the winner returned. A solver polls wse_stop_requested()
 * every SOLVER_POLL nonces and, once it is set, records when it saw it and returns
 * ECANCELED: the future ends CANCELLED. A solver that had not started is cancelled by
 * the request itself and never runs. wse_scope_join() returns once every solver is done.
 * (A solver whose region holds no answer, probability e^-64, would settle the scope
 * too, as a FAILED child: the demo then reports that no solver found a nonce.)
 */
#define SOLVER_POLL 1024

struct solver {
    /* Set by main before submission. */
    unsigned id;
    uint64_t start;
    uint64_t limit;
    uint64_t header_hash;
    unsigned bits;
    double t0;
    /* Written by the task; read by main only once the future is done. */
    bool ran;
    bool found;
    bool stopped;
    uint64_t nonce;
    uint64_t hash;
    uint64_t scanned;
    double t_start;
    double t_end; /* when it found its answer, gave up or saw the stop */
};

static uint64_t
nonce_hash(uint64_t header_hash, uint64_t nonce)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(nonce >> (8 * i));
    return mix64(fnv1a64(b, sizeof(b), header_hash));
}

int
solve(void *arg, void **result)
{
    struct solver *s = arg;
    uint64_t i;

    s->ran = true;
    s->t_start = mono_ms() - s->t0;
    for (i = 0; i < s->limit; i++) {
        if (i % SOLVER_POLL == 0 && wse_stop_requested()) {
            s->stopped = true;
            break;
        }
        uint64_t h = nonce_hash(s->header_hash, s->start + i);
        if (h >> (64 - s->bits) == 0) {
            s->found = true;
            s->nonce = s->start + i;
            s->hash = h;
            *result = s;
            break;
        }
    }
    s->scanned = i;
    s->t_end = mono_ms() - s->t0;
    if (s->stopped)
        return ECANCELED; /* after a stop request: the future ends CANCELLED */
    if (!s->found)
        return ESRCH; /* region exhausted without an answer: the task failed */
    return 0;
}

static int
run_race(const struct config *cfg)
{
    const size_t n = cfg->solvers;
    wse_executor *ex = NULL;
    wse_scope *scope = NULL;
    struct solver *sv = calloc(n, sizeof(*sv));
    wse_future **futs = calloc(n, sizeof(*futs));
    wse_future *decided = NULL;
    struct solver *win = NULL;
    uint64_t state = cfg->seed;
    unsigned char header[32];
    int status = 1;

    EXPECT(sv && futs, "out of memory");
    for (size_t i = 0; i < sizeof(header); i += 8) {
        uint64_t w = splitmix64(&state);
        memcpy(header + i, &w, 8);
    }
    printf("\n== Race: a WSE_FIRST_COMPLETED scope, which stops the losers ==\n");
    printf("%zu solvers search for a nonce whose hash has %u leading zero bits, each in its own\n"
           "region of the nonce space; the first answer wins, the others are asked to stop.\n",
           n, cfg->bits);
    CHECK(create_executor(&ex, cfg->workers));
    CHECK(wse_scope_create(&scope, ex, WSE_FIRST_COMPLETED, WSE_FOREVER));

    double t0 = mono_ms();
    for (size_t i = 0; i < n; i++) {
        sv[i].id = (unsigned)i;
        sv[i].start = (uint64_t)i << 48;
        sv[i].limit = UINT64_C(1) << (cfg->bits + 6); /* fails with probability e^-64 */
        sv[i].header_hash = fnv1a64(header, sizeof(header), FNV_OFFSET);
        sv[i].bits = cfg->bits;
        sv[i].t0 = t0;
        /* ECANCELED: a solver already won (nothing more to start). */
        int rc = wse_scope_submit(scope, solve, &sv[i], &futs[i]);
        if (rc == ECANCELED)
            break;
        CHECK(rc);
    }
    /* Every solver is done when the join returns: the losers were stopped by the scope. */
    CHECK(wse_scope_join(scope, &decided));
    double t_all = mono_ms() - t0;
    win = decided != NULL ? wse_future_value(decided) : NULL;
    EXPECT(win != NULL, "no solver found a nonce");

    printf("winner: solver %u, nonce 0x%016" PRIx64 ", hash 0x%016" PRIx64 "\n", win->id,
           win->nonce, win->hash);
    printf("        found at %.1f ms after %" PRIu64 " nonces; the scope settled then\n",
           win->t_end, win->scanned);
    unsigned n_asked = 0;
    for (size_t i = 0; i < n; i++)
        n_asked += futs[i] == NULL || wse_future_state(futs[i]) == WSE_CANCELLED;
    printf("losers: the scope asked every solver to stop when the winner finished (%.1f ms),\n"
           "        on its thread (%u were not yet done; solvers poll wse_stop_requested()\n"
           "        every %d nonces);\n"
           "        wse_scope_join returned at %.1f ms, every solver done:\n",
           win->t_end, n_asked, SOLVER_POLL, t_all);
    unsigned n_stopped = 0;
    double worst_ms = 0;
    for (size_t i = 0; i < n; i++) {
        const struct solver *s = &sv[i];
        if (futs[i] == NULL) {
            printf("  solver %zu  not submitted: the race was decided\n", i);
            continue;
        }
        wse_state st = wse_future_state(futs[i]);
        if (s == win) {
            printf("  solver %zu  %-9s  winner\n", i, state_name(st));
            continue;
        }
        EXPECT(st == WSE_CANCELLED || st == WSE_DONE, "loser solver %zu ended %s (%s)", i,
               state_name(st), strerror(wse_future_error(futs[i])));
        if (st == WSE_CANCELLED && !s->ran) {
            printf("  solver %zu  %-9s  never started\n", i, state_name(st));
        } else if (st == WSE_CANCELLED) {
            EXPECT(s->stopped, "solver %zu is CANCELLED but did not see the stop", i);
            double after = s->t_end - win->t_end;
            printf("  solver %zu  %-9s  stopped %.3f ms after the request (%" PRIu64
                   " nonces, ran from %.1f ms)\n",
                   i, state_name(st), after, s->scanned, s->t_start);
            n_stopped++;
            worst_ms = after > worst_ms ? after : worst_ms;
        } else {
            EXPECT(s->found, "solver %zu is DONE without an answer", i);
            printf("  solver %zu  %-9s  also found nonce 0x%016" PRIx64 " at %.1f ms (too late)\n",
                   i, state_name(st), s->nonce, s->t_end);
        }
    }
    if (n_stopped > 0)
        printf("  %u running loser%s stopped, the slowest %.3f ms after the request\n", n_stopped,
               n_stopped == 1 ? "" : "s", worst_ms);

    uint64_t check = nonce_hash(win->header_hash, win->nonce);
    EXPECT(check == win->hash && check >> (64 - cfg->bits) == 0,
           "the winning nonce does not verify");
    printf("verified: hash(nonce) has %u leading zero bits; every loser ended CANCELLED or DONE\n",
           cfg->bits);
    status = 0;
out:
    wse_scope_destroy(scope); /* on an error path, waits for the solvers */
    if (futs != NULL)
        for (size_t i = 0; i < n; i++)
            wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(futs);
    free(sv);
    return status;
}

/* ---- Fail-fast: WSE_FIRST_EXCEPTION ------------------------------------------------ */

/*
 * A chunk's checksum is FNV-1a chained over `passes` passes of its bytes (a deliberately
 * slow integrity check, so that one chunk takes a few milliseconds). A verifier polls
 * wse_stop_requested() after every pass and returns ECANCELED once it is set.
 */
struct chunk {
    /* Set by main before submission. */
    unsigned char *data;
    size_t len;
    unsigned passes;
    uint64_t seed;
    const double *t0;
    /* Written by generate_chunk(); read once its future is done. */
    uint64_t expected; /* the manifest's checksum */
    double check_ms;   /* how long computing it took */
    /* Written by verify_chunk() (reset before each run); read by main only once the
     * future is done. */
    bool ran;
    bool stopped;
    uint64_t actual;
    double t_end;
};

static uint64_t
chunk_checksum(const struct chunk *c, bool poll, bool *stopped)
{
    uint64_t h = FNV_OFFSET;

    for (unsigned p = 0; p < c->passes; p++) {
        if (poll && wse_stop_requested()) {
            *stopped = true;
            break;
        }
        h = fnv1a64(c->data, c->len, h);
    }
    return h;
}

/* Fill a chunk from its own seed and record its checksum in the manifest. */
int
generate_chunk(void *arg, void **result)
{
    struct chunk *c = arg;
    uint64_t state = c->seed;

    (void)result;
    for (size_t off = 0; off + 8 <= c->len; off += 8) {
        uint64_t w = splitmix64(&state);
        memcpy(c->data + off, &w, 8);
    }
    double t = mono_ms();
    c->expected = chunk_checksum(c, false, NULL);
    c->check_ms = mono_ms() - t;
    return 0;
}

int
verify_chunk(void *arg, void **result)
{
    struct chunk *c = arg;

    (void)result;
    c->ran = true;
    c->actual = chunk_checksum(c, true, &c->stopped);
    c->t_end = mono_ms() - *c->t0;
    if (c->stopped)
        return ECANCELED;
    return c->actual == c->expected ? 0 : EBADMSG;
}

static void
count_states(wse_future *const futs[], size_t n, unsigned counts[5])
{
    memset(counts, 0, 5 * sizeof(counts[0]));
    for (size_t i = 0; i < n; i++)
        if (futs[i] != NULL) /* NULL: never submitted (a scope had settled) */
            counts[wse_future_state(futs[i])]++;
}

static void
print_counts(const char *when, const unsigned c[5])
{
    printf("%s DONE %u, FAILED %u, CANCELLED %u, RUNNING %u, PENDING %u\n", when, c[WSE_DONE],
           c[WSE_FAILED], c[WSE_CANCELLED], c[WSE_RUNNING], c[WSE_PENDING]);
}

/* What one verification run observed. */
struct ff_result {
    unsigned in_vain;   /* chunks that ran to completion after the failure was known */
    double vain_ms;     /* their time past that point, summed */
    unsigned stopped;   /* running chunks that saw the stop and returned ECANCELED */
    unsigned never_ran; /* chunks cancelled before they started (or never submitted) */
    double t_end;       /* when every chunk was done */
};

/* Before a run: forget the last one's results. */
static void
reset_chunks(struct chunk *ck, size_t n, const double *t0)
{
    for (size_t i = 0; i < n; i++) {
        ck[i].ran = false;
        ck[i].stopped = false;
        ck[i].actual = 0;
        ck[i].t_end = 0;
        ck[i].t0 = t0;
    }
}

/* Report the failed chunk (the first n_done of out are done); check it is the
 * corrupted one. */
static int
report_failure(const struct config *cfg, const struct chunk *ck, wse_future *const futs[], size_t n,
               wse_future *const out[], size_t n_done, const char *how, double t)
{
    size_t n_failed = 0;
    int status = 1;

    for (size_t j = 0; j < n_done; j++) {
        if (wse_future_state(out[j]) != WSE_FAILED)
            continue;
        size_t i = index_of(futs, n, out[j]);
        printf("  %s at %.1f ms: chunk %zu FAILED: %s (checksum 0x%016" PRIx64
               ", manifest 0x%016" PRIx64 ")\n",
               how, t, i, strerror(wse_future_error(out[j])), ck[i].actual, ck[i].expected);
        EXPECT((long)i == cfg->bad_chunk, "chunk %zu failed, but it was not corrupted", i);
        n_failed++;
    }
    EXPECT(cfg->bad_chunk < 0 || n_failed >= 1, "%s with no failed chunk", how);
    status = 0;
out:
    return status;
}

/* After a run, every chunk done: check each one's outcome against what it saw and sum
 * up the run (t_fail: when the failure was known, or -1). */
static int
tally_run(const struct config *cfg, const struct chunk *ck, wse_future *const futs[], bool use_stop,
          double t_fail, struct ff_result *r)
{
    int status = 1;

    for (size_t i = 0; i < cfg->chunks; i++) {
        if (futs[i] == NULL) { /* refused by a settled scope: never submitted */
            r->never_ran++;
            continue;
        }
        wse_state st = wse_future_state(futs[i]);
        EXPECT(wse_future_done(futs[i]), "chunk %zu is %s at the end", i, state_name(st));
        EXPECT(st != WSE_CANCELLED || !ck[i].ran || ck[i].stopped,
               "cancelled chunk %zu ran without seeing a stop", i);
        EXPECT(!ck[i].stopped || use_stop, "chunk %zu saw a stop nobody requested", i);
        EXPECT(st == WSE_CANCELLED || (ck[i].ran && !ck[i].stopped), "chunk %zu is %s but %s", i,
               state_name(st), ck[i].ran ? "was stopped" : "never ran");
        EXPECT(st != WSE_FAILED || (long)i == cfg->bad_chunk, "chunk %zu failed", i);
        r->never_ran += st == WSE_CANCELLED && !ck[i].ran;
        r->stopped += st == WSE_CANCELLED && ck[i].ran;
        if (t_fail >= 0 && st == WSE_DONE && ck[i].t_end > t_fail) {
            r->in_vain++;
            r->vain_ms += ck[i].t_end - t_fail;
        }
    }
    printf("  finished at %.1f ms: %u never ran, %u stopped running, %u ran in vain"
           " (%.1f ms past the failure)\n",
           r->t_end, r->never_ran, r->stopped, r->in_vain, r->vain_ms);
    status = 0;
out:
    return status;
}

/*
 * Verify every chunk on a fresh executor and give up at the first failure without a
 * stop: wse_wait(FIRST_EXCEPTION), then wse_shutdown(cancel_pending), which cancels
 * what has not started and lets running chunks finish in vain.
 */
static int
verify_run_shutdown(const struct config *cfg, struct chunk *ck, void *const args[],
                    struct ff_result *r)
{
    const size_t n = cfg->chunks;
    wse_executor *ex = NULL;
    wse_future **futs = calloc(n, sizeof(*futs));
    wse_future **out = calloc(n, sizeof(*out));
    bool submitted = false;
    unsigned counts[5];
    size_t n_done = 0;
    double t0 = 0;
    int status = 1;

    memset(r, 0, sizeof(*r));
    EXPECT(futs && out, "out of memory");
    reset_chunks(ck, n, &t0);
    printf("without stop (shutdown with cancel_pending only):\n");
    CHECK(create_executor(&ex, cfg->workers));
    t0 = mono_ms();
    CHECK(wse_submit_batch(ex, verify_chunk, args, n, futs));
    submitted = true;
    CHECK(wse_wait(futs, n, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &n_done));
    double t_ret = mono_ms() - t0;
    CHECK(wse_shutdown(ex, false, true));
    double t_shut = mono_ms() - t0;
    count_states(futs, n, counts);
    if (report_failure(cfg, ck, futs, n, out, n_done, "wse_wait returned", t_ret) != 0)
        goto out;
    if (cfg->bad_chunk >= 0) {
        printf("  wse_shutdown(ex, wait=false, cancel_pending=true) at %.1f ms\n", t_shut);
        print_counts("    right after:", counts);
    } else {
        EXPECT(n_done == n, "no failure, yet FIRST_EXCEPTION returned before all were done");
        printf("  wse_wait returned at %.1f ms: no chunk failed, so FIRST_EXCEPTION waited for\n"
               "  all %zu chunks, as ALL_COMPLETED would\n",
               t_ret, n);
    }
    CHECK(wse_executor_destroy(ex)); /* waits for the running ones */
    ex = NULL;
    r->t_end = mono_ms() - t0;
    count_states(futs, n, counts);
    print_counts("    after destroy:", counts);
    status = tally_run(cfg, ck, futs, false, cfg->bad_chunk >= 0 ? t_ret : -1, r);
out:
    if (submitted)
        for (size_t i = 0; i < n; i++)
            wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(out);
    free(futs);
    return status;
}

/*
 * The same check as the children of a FIRST_EXCEPTION scope: the failing chunk settles
 * it, and the scope asks every other chunk to stop from that chunk's thread (running
 * ones stop at their next poll, pending ones are cancelled); the join returns when every
 * chunk is done.
 */
static int
verify_run_scope(const struct config *cfg, struct chunk *ck, void *const args[],
                 struct ff_result *r)
{
    const size_t n = cfg->chunks;
    wse_executor *ex = NULL;
    wse_scope *scope = NULL;
    wse_future **futs = calloc(n, sizeof(*futs));
    wse_future *failed = NULL;
    unsigned counts[5];
    double t0 = 0;
    int status = 1;

    memset(r, 0, sizeof(*r));
    EXPECT(futs, "out of memory");
    reset_chunks(ck, n, &t0);
    printf("in a WSE_FIRST_EXCEPTION scope (stop requested for every chunk at the failure):\n");
    CHECK(create_executor(&ex, cfg->workers));
    CHECK(wse_scope_create(&scope, ex, WSE_FIRST_EXCEPTION, WSE_FOREVER));
    t0 = mono_ms();
    for (size_t i = 0; i < n; i++) {
        int rc = wse_scope_submit(scope, verify_chunk, args[i], &futs[i]);
        if (rc == ECANCELED)
            break; /* the check failed already: the rest is never submitted */
        CHECK(rc);
    }
    CHECK(wse_scope_join(scope, &failed));
    r->t_end = mono_ms() - t0;
    double t_fail = -1;
    if (failed != NULL) {
        t_fail = ck[index_of(futs, n, failed)].t_end;
        if (report_failure(cfg, ck, futs, n, &failed, 1, "the scope settled", t_fail) != 0)
            goto out;
        printf("  wse_scope_join returned at %.1f ms, every chunk done\n", r->t_end);
    } else {
        EXPECT(cfg->bad_chunk < 0, "the join returned with no failed chunk");
        printf("  wse_scope_join returned at %.1f ms: no chunk failed, so the scope waited for\n"
               "  all %zu chunks, as ALL_COMPLETED would\n",
               r->t_end, n);
    }
    count_states(futs, n, counts);
    print_counts("    after join:", counts);
    status = tally_run(cfg, ck, futs, true, t_fail, r);
out:
    wse_scope_destroy(scope); /* on an error path, waits for the chunks */
    for (size_t i = 0; futs != NULL && i < n; i++)
        wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(futs);
    return status;
}

static int
run_fail_fast(const struct config *cfg)
{
    const size_t n = cfg->chunks;
    const size_t len = (size_t)cfg->chunk_kib * 1024;
    wse_executor *ex = NULL;
    unsigned char *data = malloc(n * len);
    struct chunk *ck = calloc(n, sizeof(*ck));
    void **args = calloc(n, sizeof(*args));
    wse_future **futs = calloc(n, sizeof(*futs));
    bool submitted = false;
    double t_none = 0;
    int status = 1;

    EXPECT(data && ck && args && futs, "out of memory");
    printf("\n== Fail-fast: WSE_FIRST_EXCEPTION, without stop and in a scope ==\n");

    CHECK(create_executor(&ex, cfg->workers));

    /*
     * Generate the data set and its manifest of checksums in parallel (a plain batch:
     * ALL_COMPLETED, no timeout), then corrupt one byte of one chunk.
     */
    double t_gen = mono_ms();
    for (size_t i = 0; i < n; i++) {
        ck[i].data = data + i * len;
        ck[i].len = len;
        ck[i].passes = cfg->passes;
        ck[i].seed = mix64(cfg->seed ^ mix64(i + 1));
        ck[i].t0 = &t_none;
        args[i] = &ck[i];
    }
    CHECK(wse_submit_batch(ex, generate_chunk, args, n, futs));
    submitted = true;
    CHECK(wse_wait(futs, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    for (size_t i = 0; i < n; i++) {
        EXPECT(wse_future_state(futs[i]) == WSE_DONE, "generating chunk %zu: %s", i,
               state_name(wse_future_state(futs[i])));
        wse_future_release(futs[i]);
    }
    submitted = false;
    CHECK(wse_executor_destroy(ex));
    ex = NULL;
    if (cfg->bad_chunk >= 0)
        data[(size_t)cfg->bad_chunk * len + len / 2] ^= 0x20;
    double check_ms = 0;
    for (size_t i = 0; i < n; i++)
        check_ms += ck[i].check_ms;
    printf("%zu chunks of %u KiB (checksum: %u passes, %.1f ms a chunk) generated in parallel\n"
           "with their manifest in %.1f ms; ",
           n, cfg->chunk_kib, cfg->passes, check_ms / (double)n, mono_ms() - t_gen);
    if (cfg->bad_chunk >= 0)
        printf("chunk %ld corrupted. The same check runs twice.\n", cfg->bad_chunk);
    else
        printf("no chunk corrupted. The same check runs twice.\n");

    struct ff_result plain, stopped;
    if (verify_run_shutdown(cfg, ck, args, &plain) != 0)
        goto out;
    if (verify_run_scope(cfg, ck, args, &stopped) != 0)
        goto out;
    if (cfg->bad_chunk >= 0) {
        printf("tasks run in vain (completed after the failure was known): %u without stop"
               " (%.1f ms), %u with stop (%.1f ms)\n",
               plain.in_vain, plain.vain_ms, stopped.in_vain, stopped.vain_ms);
        EXPECT(plain.stopped == 0, "without a stop request %u chunks stopped", plain.stopped);
    }
    printf("verified: the corrupted chunk and only it failed; every chunk that was cancelled\n"
           "never ran or saw the stop, every other chunk ran its check to the end\n");
    status = 0;
out:
    if (submitted)
        for (size_t i = 0; i < n; i++)
            wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(futs);
    free(args);
    free(ck);
    free(data);
    return status;
}

/* ---- DAG: wse_submit_after ---------------------------------------------------------- */

/*
 * The length of the longest common subsequence of two generated strings a and b of
 * length L = grid * tile, by dynamic programming over an (L+1) x (L+1) table, computed
 * as a wavefront of grid x grid tiles: tile (i, j) needs the bottom row of tile (i-1, j)
 * and the right column of tile (i, j-1) (the corner comes from tile (i-1, j-1), which
 * both of those depend on). Each tile is submitted with wse_submit_after() on those two
 * futures; no thread waits on anything until the last tile. A tile keeps only its
 * borders.
 */
#define MAX_TILE 1024

struct tile {
    /* Set by main before submission. */
    const unsigned char *a; /* the tile's characters of a (its rows) */
    const unsigned char *b; /* ... and of b (its columns) */
    unsigned size;
    const struct tile *up;   /* NULL in the first row of tiles */
    const struct tile *left; /* NULL in the first column */
    const struct tile *diag; /* NULL in the first row or column */
    /* Written by the task; read by dependent tiles and by main once it is done. */
    uint32_t *bottom; /* size values: the tile's last DP row */
    uint32_t *right;  /* size values: the tile's last DP column */
    bool computed;
};

int
lcs_tile(void *arg, void **result)
{
    struct tile *t = arg;
    const unsigned sz = t->size;
    uint32_t row[MAX_TILE + 1]; /* row[0]: the left neighbour, row[1 ..]: this tile's row */

    (void)result;
    /* The dependencies completed before this task was queued: their borders are ready. */
    if ((t->up && !t->up->computed) || (t->left && !t->left->computed))
        return EPROTO;
    row[0] = t->diag ? t->diag->bottom[sz - 1] : 0;
    for (unsigned j = 0; j < sz; j++)
        row[j + 1] = t->up ? t->up->bottom[j] : 0;
    for (unsigned i = 0; i < sz; i++) {
        uint32_t diag = row[0];
        row[0] = t->left ? t->left->right[i] : 0;
        for (unsigned j = 0; j < sz; j++) {
            uint32_t up = row[j + 1];
            uint32_t v = t->a[i] == t->b[j] ? diag + 1 : (up > row[j] ? up : row[j]);
            diag = up;
            row[j + 1] = v;
        }
        t->right[i] = row[sz];
    }
    memcpy(t->bottom, row + 1, sz * sizeof(row[0]));
    t->computed = true;
    return 0;
}

/* The last row of the LCS table of a and b (length len each), by one thread. */
static void
lcs_sequential(const unsigned char *a, const unsigned char *b, size_t len, uint32_t *row)
{
    memset(row, 0, (len + 1) * sizeof(row[0]));
    for (size_t i = 0; i < len; i++) {
        uint32_t diag = 0;
        for (size_t j = 0; j < len; j++) {
            uint32_t up = row[j + 1];
            row[j + 1] = a[i] == b[j] ? diag + 1 : (up > row[j] ? up : row[j]);
            diag = up;
        }
    }
}

static int
run_dag(const struct config *cfg)
{
    const size_t g = cfg->grid;
    const size_t sz = cfg->tile;
    const size_t len = g * sz;
    const size_t n = g * g;
    wse_executor *ex = NULL;
    unsigned char *a = malloc(len);
    unsigned char *b = malloc(len);
    struct tile *tiles = calloc(n, sizeof(*tiles));
    uint32_t *borders = calloc(2 * n * sz, sizeof(*borders));
    uint32_t *seq = calloc(len + 1, sizeof(*seq));
    wse_future **futs = calloc(n, sizeof(*futs));
    size_t n_submitted = 0;
    int status = 1;

    EXPECT(a && b && tiles && borders && seq && futs, "out of memory");
    printf("\n== DAG: a wavefront of tiles with wse_submit_after ==\n");
    uint64_t state = cfg->seed ^ UINT64_C(0x5eed);
    for (size_t i = 0; i < len; i++) {
        a[i] = (unsigned char)('a' + splitmix64(&state) % 4);
        b[i] = (unsigned char)('a' + splitmix64(&state) % 4);
    }
    printf("LCS of two random strings of %zu letters over {a,b,c,d}: %zu x %zu tiles of %zu x %zu\n"
           "cells; tile (i,j) runs after tiles (i-1,j) and (i,j-1).\n",
           len, g, g, sz, sz);
    for (size_t i = 0; i < g; i++)
        for (size_t j = 0; j < g; j++) {
            struct tile *t = &tiles[i * g + j];
            t->a = a + i * sz;
            t->b = b + j * sz;
            t->size = (unsigned)sz;
            t->up = i > 0 ? &tiles[(i - 1) * g + j] : NULL;
            t->left = j > 0 ? &tiles[i * g + j - 1] : NULL;
            t->diag = i > 0 && j > 0 ? &tiles[(i - 1) * g + j - 1] : NULL;
            t->bottom = borders + (i * g + j) * 2 * sz;
            t->right = t->bottom + sz;
        }

    CHECK(create_executor(&ex, cfg->workers));
    double t0 = mono_ms();
    for (size_t i = 0; i < g; i++)
        for (size_t j = 0; j < g; j++) {
            wse_future *deps[2];
            size_t n_deps = 0;
            if (i > 0)
                deps[n_deps++] = futs[(i - 1) * g + j];
            if (j > 0)
                deps[n_deps++] = futs[i * g + j - 1];
            CHECK(
                wse_submit_after(ex, deps, n_deps, lcs_tile, &tiles[i * g + j], &futs[i * g + j]));
            n_submitted++;
        }
    double t_sub = mono_ms() - t0;
    CHECK(wse_future_wait(futs[n - 1], WSE_FOREVER));
    double t_par = mono_ms() - t0;
    CHECK(wse_wait(futs, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    for (size_t i = 0; i < n; i++)
        EXPECT(wse_future_state(futs[i]) == WSE_DONE, "tile %zu is %s (%s)", i,
               state_name(wse_future_state(futs[i])), strerror(wse_future_error(futs[i])));

    double t1 = mono_ms();
    lcs_sequential(a, b, len, seq);
    double t_seq = mono_ms() - t1;

    uint32_t lcs = tiles[n - 1].bottom[sz - 1];
    printf("%zu tasks (%zu waves) submitted in %.1f ms; the last tile was done at %.1f ms\n", n,
           2 * g - 1, t_sub, t_par);
    printf("one thread, the whole table row by row: %.1f ms (speed-up %.2f)\n", t_seq,
           t_par > 0 ? t_seq / t_par : 0.0);
    for (size_t j = 0; j < g; j++) {
        const uint32_t *got = tiles[(g - 1) * g + j].bottom;
        for (size_t k = 0; k < sz; k++)
            EXPECT(got[k] == seq[1 + j * sz + k],
                   "last row, column %zu: the tiles say %" PRIu32 ", one thread %" PRIu32,
                   j * sz + k + 1, got[k], seq[1 + j * sz + k]);
    }
    printf("LCS length %" PRIu32 "\n", lcs);
    printf("verified: the tiles' last row (%zu values) equals the sequential computation's\n", len);
    status = 0;
out:
    if (status != 0)
        for (size_t i = 0; i < n_submitted; i++)
            wse_future_cancel(futs[i]); /* on an error path, do not start what is left */
    for (size_t i = 0; i < n_submitted; i++)
        wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(futs);
    free(seq);
    free(borders);
    free(tiles);
    free(b);
    free(a);
    return status;
}

/* ---- Deadline: WSE_ALL_COMPLETED with a timeout ------------------------------------ */

/* Items cover [PRIME_BASE, PRIME_BASE + sum of lengths) in consecutive ranges. */
#define PRIME_BASE UINT32_C(50000000)

static const unsigned item_weight[] = {1, 6, 2, 9, 3, 1, 7, 4, 2, 8, 5, 3, 6, 2, 4, 1};

struct prime_item {
    /* Set by main before submission. */
    uint32_t lo;
    uint32_t hi;
    double t0;
    /* Written by the task; read by main only once the future is done. */
    double t_end;
};

static bool
is_prime(uint32_t x)
{
    if (x < 2)
        return false;
    if (x % 2 == 0)
        return x == 2;
    for (uint32_t d = 3; d <= x / d; d += 2)
        if (x % d == 0)
            return false;
    return true;
}

/* The number of primes in [lo, hi), by trial division; returned as the value. */
int
count_primes(void *arg, void **result)
{
    struct prime_item *it = arg;
    uintptr_t count = 0;

    for (uint32_t x = it->lo; x < it->hi; x++)
        count += is_prime(x);
    it->t_end = mono_ms() - it->t0;
    *result = (void *)count;
    return 0;
}

/* Cross-check: primes in [lo, hi) by a sieve of Eratosthenes over that segment. */
static int
sieve_count(uint32_t lo, uint32_t hi, uint64_t *count)
{
    size_t n = hi - lo;
    unsigned char *composite = calloc(n, 1);

    if (composite == NULL)
        return ENOMEM;
    for (uint32_t p = 2; p <= (hi - 1) / p; p++) {
        if (!is_prime(p))
            continue;
        uint32_t first = lo / p * p;
        if (first < lo)
            first += p;
        if (first < p * p)
            first = p * p;
        for (uint64_t m = first; m < hi; m += p)
            composite[m - lo] = 1;
    }
    *count = 0;
    for (size_t i = 0; i < n; i++)
        *count += !composite[i] && lo + i >= 2;
    free(composite);
    return 0;
}

static int
run_deadline(const struct config *cfg)
{
    const size_t n = cfg->items;
    wse_executor *ex = NULL;
    struct prime_item *items = calloc(n, sizeof(*items));
    wse_future **futs = calloc(n, sizeof(*futs));
    wse_future **out = calloc(n, sizeof(*out));
    size_t n_submitted = 0;
    size_t n_done = 0;
    int status = 1;

    EXPECT(items && futs && out, "out of memory");
    printf("\n== Deadline: WSE_ALL_COMPLETED with a %u ms timeout ==\n", cfg->deadline_ms);
    uint32_t lo = PRIME_BASE;
    for (size_t i = 0; i < n; i++) {
        items[i].lo = lo;
        items[i].hi =
            lo + item_weight[i % (sizeof(item_weight) / sizeof(item_weight[0]))] * cfg->item_unit;
        lo = items[i].hi;
    }
    printf("%zu items count the primes in [%" PRIu32 ", %" PRIu32 ") by trial division, in\n"
           "ranges of 1 to 9 units of %u numbers.\n",
           n, items[0].lo, items[n - 1].hi, cfg->item_unit);

    CHECK(create_executor(&ex, cfg->workers));
    double t0 = mono_ms();
    for (size_t i = 0; i < n; i++) {
        items[i].t0 = t0;
        CHECK(wse_submit(ex, count_primes, &items[i], &futs[i]));
        n_submitted++;
    }

    int rc = wse_wait(futs, n, cfg->deadline_ms / 1e3, WSE_ALL_COMPLETED, out, &n_done);
    double t_ret = mono_ms() - t0;
    EXPECT(rc == 0 || rc == ETIMEDOUT, "wse_wait: %s", strerror(rc));
    if (rc == ETIMEDOUT)
        printf("wse_wait returned ETIMEDOUT at %.1f ms: %zu of %zu done, %zu still pending\n",
               t_ret, n_done, n, n - n_done);
    else
        printf("wse_wait returned 0 at %.1f ms: all %zu done before the deadline\n", t_ret, n);
    printf("  finished by the deadline:\n");
    for (size_t j = 0; j < n_done; j++) {
        size_t i = index_of(futs, n, out[j]);
        printf("    item %2zu  [%" PRIu32 ", %" PRIu32 ")  %6" PRIuPTR
               " primes  done at %6.1f ms\n",
               i, items[i].lo, items[i].hi, (uintptr_t)wse_future_value(out[j]), items[i].t_end);
    }
    if (n_done < n)
        printf("  still pending at the deadline:\n");
    unsigned n_cancelled = 0;
    for (size_t j = n_done; j < n; j++) {
        size_t i = index_of(futs, n, out[j]);
        wse_state st = wse_future_state(out[j]);
        n_cancelled += st == WSE_CANCELLED;
        printf("    item %2zu  [%" PRIu32 ", %" PRIu32 ")  %s\n", i, items[i].lo, items[i].hi,
               state_name(st));
    }
    EXPECT(n_cancelled == 0, "the timeout cancelled %u items", n_cancelled);
    if (n_done < n)
        printf("  nothing was cancelled: a timeout is not an error and cancels nothing\n");

    CHECK(wse_wait(futs, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    double t_all = mono_ms() - t0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        EXPECT(wse_future_state(futs[i]) == WSE_DONE, "item %zu is %s", i,
               state_name(wse_future_state(futs[i])));
        total += (uintptr_t)wse_future_value(futs[i]);
    }
    printf("then wse_wait(WSE_FOREVER) returned at %.1f ms: all %zu done, %" PRIu64
           " primes in all\n",
           t_all, n, total);

    uint64_t sieved = 0;
    CHECK(sieve_count(items[0].lo, items[n - 1].hi, &sieved));
    EXPECT(sieved == total, "the sieve counts %" PRIu64 " primes, the items %" PRIu64, sieved,
           total);
    printf("verified: a sieve over the whole range also counts %" PRIu64 "\n", sieved);
    status = 0;
out:
    for (size_t i = 0; i < n_submitted; i++)
        wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(out);
    free(futs);
    free(items);
    return status;
}

/* ---- Progress: wse_as_completed ---------------------------------------------------- */

/*
 * A batch of prime-counting tasks of varying size (1 to 16 units), consumed with
 * wse_as_completed_create/next: each result is reported as it arrives, not in
 * submission order.
 */
static int
run_progress(const struct config *cfg)
{
    const size_t n = cfg->tasks;
    const uint32_t unit = cfg->item_unit / 8;
    wse_executor *ex = NULL;
    wse_as_completed *it = NULL;
    struct prime_item *items = calloc(n, sizeof(*items));
    wse_future **futs = calloc(n, sizeof(*futs));
    unsigned *seen = calloc(n, sizeof(*seen));
    size_t n_submitted = 0;
    int status = 1;

    EXPECT(items && futs && seen, "out of memory");
    printf("\n== Progress: wse_as_completed ==\n");
    uint64_t state = cfg->seed ^ UINT64_C(0x9a0c);
    uint32_t lo = PRIME_BASE;
    for (size_t i = 0; i < n; i++) {
        items[i].lo = lo;
        items[i].hi = lo + (uint32_t)(1 + splitmix64(&state) % 16) * unit;
        lo = items[i].hi;
    }
    printf("%zu tasks count the primes in [%" PRIu32 ", %" PRIu32 "), in ranges of 1 to 16\n"
           "units of %" PRIu32 " numbers; results are printed as they arrive.\n",
           n, items[0].lo, items[n - 1].hi, unit);

    CHECK(create_executor(&ex, cfg->workers));
    double t0 = mono_ms();
    for (size_t i = 0; i < n; i++) {
        items[i].t0 = t0;
        CHECK(wse_submit(ex, count_primes, &items[i], &futs[i]));
        n_submitted++;
    }
    CHECK(wse_as_completed_create(&it, futs, n, WSE_FOREVER));

    uint64_t total = 0;
    size_t order = 0;
    size_t out_of_order = 0;
    size_t prev = 0;
    for (;;) {
        wse_future *f = NULL;
        size_t idx = n;
        int rc = wse_as_completed_next(it, &f, &idx);
        if (rc == ENOENT)
            break;
        CHECK(rc);
        double t = mono_ms() - t0;
        EXPECT(idx < n && f == futs[idx], "entry %zu: not the future submitted there", idx);
        EXPECT(wse_future_state(f) == WSE_DONE, "task %zu is %s", idx,
               state_name(wse_future_state(f)));
        seen[idx]++;
        order++;
        out_of_order += order > 1 && idx < prev;
        prev = idx;
        uintptr_t count = (uintptr_t)wse_future_value(f);
        total += count;
        printf("  [%2zu/%zu] %5.1f%%  task %2zu  %2" PRIu32 " units  %5" PRIuPTR
               " primes  at %7.1f ms\n",
               order, n, 100.0 * (double)order / (double)n, idx,
               (items[idx].hi - items[idx].lo) / unit, count, t);
    }
    double t_all = mono_ms() - t0;
    for (size_t i = 0; i < n; i++)
        EXPECT(seen[i] == 1, "task %zu came %u times", i, seen[i]);
    EXPECT(order == n, "%zu entries for %zu tasks", order, n);
    printf("all %zu done at %.1f ms; %zu arrived before a task submitted earlier\n", n, t_all,
           out_of_order);

    uint64_t sieved = 0;
    CHECK(sieve_count(items[0].lo, items[n - 1].hi, &sieved));
    EXPECT(sieved == total, "the sieve counts %" PRIu64 " primes, the tasks %" PRIu64, sieved,
           total);
    printf("verified: every task came exactly once, then ENOENT; a sieve also counts %" PRIu64
           " primes\n",
           sieved);
    status = 0;
out:
    wse_as_completed_destroy(it);
    for (size_t i = 0; i < n_submitted; i++)
        wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(seen);
    free(futs);
    free(items);
    return status;
}

/* ---- Loop: wse_for under a deadline, then wse_future_request_stop ---------------- */

/*
 * A Mandelbrot set rendered with wse_for(), `grain` rows a chunk (grain 0: the library
 * chooses). The cost of a row is very irregular: a pixel inside the set runs every one
 * of `iters` iterations, one far outside it only a few, so the rows through the set's
 * body cost hundreds of times what the top and bottom rows cost.
 *
 * The loop runs as a future, twice. First to completion (DONE): the reference picture,
 * and the time it takes. Then under a deadline, by default LOOP_DEADLINE_PCT percent of
 * that time: wse_wait() with a timeout, then wse_future_request_stop() on the loop. A
 * chunk polls wse_stop_requested() every LOOP_POLL pixels and, once it is set, counts
 * itself and returns ECANCELED; chunks that had not started never start, and the loop
 * ends CANCELLED. Pixels no chunk rendered keep the gray UNFINISHED.
 *
 * With the default deadline, a run in which no running chunk saw the stop is run again,
 * at most LOOP_ATTEMPTS times in all, and every run is reported: the request can fall
 * between two chunks of every worker or before the first chunk started, and on a busy
 * machine the loop can be done before the deadline (then the next run has half of it).
 */
#define LOOP_POLL 16         /* pixels between two polls of wse_stop_requested() */
#define LOOP_DEADLINE_PCT 40 /* the default deadline: this share of the full render */
#define LOOP_ATTEMPTS 3      /* runs under the default deadline at most */
#define LOOP_CHECK_EVERY 8   /* one thread re-renders every 8th row of the full render */
#define IMAGE_GAP 8          /* white columns between the two pictures of --image */
#define UNFINISHED 128       /* the gray of a pixel no chunk rendered */

enum row_state { ROW_UNTOUCHED, ROW_PARTIAL, ROW_DONE };

struct mandel {
    /* Set by main before each run. */
    unsigned width;
    unsigned height;
    unsigned iters;
    double t0;
    /* Written by the chunks, a row only by the chunk that holds it; read by main once
     * the loop is done. */
    unsigned char *pixels;    /* width x height */
    unsigned char *row_state; /* enum row_state */
    uint64_t *row_cost;       /* iterations the row took (so far) */
    double *row_stop_ms;      /* when a chunk saw the stop in this row; -1: none did */
    /* Counted by the chunks. */
    atomic_uint chunks;  /* chunks started */
    atomic_uint stopped; /* chunks that saw wse_stop_requested() and returned ECANCELED */
};

/* Iterations of z <- z^2 + c from 0 until |z| > 2, at most `iters`. */
static unsigned
escape_time(double cr, double ci, unsigned iters)
{
    double zr = 0.0;
    double zi = 0.0;
    unsigned i = 0;

    while (i < iters && zr * zr + zi * zi <= 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        i++;
    }
    return i;
}

/* Inside the set: black; outside: the brighter, the longer the point took to escape. */
static unsigned char
shade(unsigned it, unsigned iters)
{
    if (it >= iters)
        return 0;
    return (unsigned char)(255U * it / (it + 16U));
}

/*
 * Render row y of the view (3 units wide, centred on -0.75 + 0i) into px and add its
 * iterations to *cost. With poll, give up at the first poll that finds a stop
 * requested. Returns the number of pixels rendered: m->width unless it gave up.
 */
static unsigned
render_row(const struct mandel *m, size_t y, unsigned char *px, uint64_t *cost, bool poll)
{
    const double step = 3.0 / m->width;
    const double ci = ((double)y + 0.5 - m->height / 2.0) * step;
    unsigned x;

    for (x = 0; x < m->width; x++) {
        if (poll && x % LOOP_POLL == 0 && wse_stop_requested())
            break;
        unsigned it = escape_time(-2.25 + ((double)x + 0.5) * step, ci, m->iters);
        *cost += it;
        px[x] = shade(it, m->iters);
    }
    return x;
}

/* The loop's body: rows begin .. end-1. */
int
render_rows(size_t begin, size_t end, void *ctx)
{
    struct mandel *m = ctx;

    atomic_fetch_add_explicit(&m->chunks, 1, memory_order_relaxed);
    for (size_t y = begin; y < end; y++) {
        unsigned n = render_row(m, y, m->pixels + y * m->width, &m->row_cost[y], true);
        if (n < m->width) {
            m->row_state[y] = n > 0 ? ROW_PARTIAL : ROW_UNTOUCHED;
            m->row_stop_ms[y] = mono_ms() - m->t0;
            atomic_fetch_add_explicit(&m->stopped, 1, memory_order_relaxed);
            return ECANCELED; /* after a stop request: no failure, the loop ends CANCELLED */
        }
        m->row_state[y] = ROW_DONE;
    }
    return 0;
}

static void
mandel_reset(struct mandel *m)
{
    memset(m->pixels, UNFINISHED, (size_t)m->width * m->height);
    memset(m->row_state, ROW_UNTOUCHED, m->height);
    for (size_t y = 0; y < m->height; y++) {
        m->row_cost[y] = 0;
        m->row_stop_ms[y] = -1.0;
    }
    atomic_store(&m->chunks, 0);
    atomic_store(&m->stopped, 0);
}

/*
 * Write a binary PGM: the stopped run (left) and the full render (right), side by side
 * with IMAGE_GAP white columns between them. 0 or an errno value.
 */
static int
write_pgm(const char *path, const unsigned char *left, const unsigned char *right, unsigned w,
          unsigned h)
{
    static const unsigned char gap[IMAGE_GAP] = {255, 255, 255, 255, 255, 255, 255, 255};
    FILE *fp = fopen(path, "wb");
    int rc = 0;

    if (fp == NULL)
        return errno;
    if (fprintf(fp, "P5\n%u %u\n255\n", 2 * w + IMAGE_GAP, h) < 0)
        rc = errno ? errno : EIO;
    for (size_t y = 0; y < h && rc == 0; y++)
        if (fwrite(left + y * w, 1, w, fp) != w || fwrite(gap, 1, IMAGE_GAP, fp) != IMAGE_GAP ||
            fwrite(right + y * w, 1, w, fp) != w)
            rc = errno ? errno : EIO;
    if (fclose(fp) != 0 && rc == 0)
        rc = errno ? errno : EIO;
    return rc;
}

/*
 * Count the rows of each state into n_rows and check them against the full render ref:
 * a finished row equals it, a row no chunk rendered a pixel of is untouched. *last_ms:
 * when the last chunk saw the stop (-1: none did). 0, or 1 after a failed check.
 */
static int
check_rows(const struct mandel *m, const unsigned char *ref, unsigned n_rows[3], double *last_ms)
{
    const size_t w = m->width;
    int status = 1;

    memset(n_rows, 0, 3 * sizeof(n_rows[0]));
    *last_ms = -1.0;
    for (size_t y = 0; y < m->height; y++) {
        const unsigned char *px = m->pixels + y * w;
        n_rows[m->row_state[y]]++;
        *last_ms = m->row_stop_ms[y] > *last_ms ? m->row_stop_ms[y] : *last_ms;
        EXPECT(m->row_state[y] != ROW_DONE || memcmp(px, ref + y * w, w) == 0,
               "row %zu differs from the full render's", y);
        for (size_t x = 0; m->row_state[y] == ROW_UNTOUCHED && x < w; x++)
            EXPECT(px[x] == UNFINISHED, "row %zu was never rendered, yet pixel %zu was written", y,
                   x);
    }
    status = 0;
out:
    return status;
}

/* What one run under the deadline observed. */
struct stop_result {
    bool stopped;      /* the deadline passed and wse_future_request_stop() found it not done */
    bool reached;      /* ... and at least one running chunk saw the stop */
    bool done_in_time; /* the loop was done before the deadline (or the request) */
};

/*
 * The full render: a loop future waited for without a deadline. Report, check every
 * LOOP_CHECK_EVERY-th row against one thread, copy the picture to ref and its time to
 * *t_full. 0, or 1 after a failed check.
 */
static int
full_render(wse_executor *ex, const struct config *cfg, struct mandel *m, unsigned char *ref,
            double *t_full)
{
    const size_t w = m->width;
    unsigned char *row = malloc(w);
    wse_future *f = NULL;
    int status = 1;

    EXPECT(row != NULL, "out of memory");
    mandel_reset(m);
    m->t0 = mono_ms();
    CHECK(wse_for(ex, 0, m->height, cfg->loop_grain, render_rows, m, &f));
    CHECK(wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    *t_full = mono_ms() - m->t0;
    wse_state st = wse_future_state(f);
    EXPECT(st == WSE_DONE, "the full render is %s (%s)", state_name(st),
           strerror(wse_future_error(f)));
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;
    for (size_t y = 0; y < m->height; y++) {
        EXPECT(m->row_state[y] == ROW_DONE, "row %zu of the full render is not finished", y);
        lo = m->row_cost[y] < lo ? m->row_cost[y] : lo;
        hi = m->row_cost[y] > hi ? m->row_cost[y] : hi;
    }
    EXPECT(atomic_load(&m->stopped) == 0, "a chunk of the full render saw a stop");
    memcpy(ref, m->pixels, w * m->height);
    printf("run to completion: wse_for with a future, wse_wait(WSE_FOREVER): %s at %.1f ms,\n"
           "  %u rows in %u chunks; a row took %.1f to %.1f thousand iterations\n",
           state_name(st), *t_full, m->height, atomic_load(&m->chunks), (double)lo / 1e3,
           (double)hi / 1e3);
    for (size_t y = 0; y < m->height; y += LOOP_CHECK_EVERY) {
        uint64_t cost = 0;
        render_row(m, y, row, &cost, false);
        EXPECT(memcmp(row, ref + y * w, w) == 0 && cost == m->row_cost[y],
               "row %zu differs from one thread's", y);
    }
    status = 0;
out:
    if (f != NULL) {
        wse_future_request_stop(f); /* on an error path, end the loop soon */
        if (wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL) != 0)
            status = 1;
        wse_future_release(f);
    }
    free(row);
    return status;
}

/*
 * One run of the loop under a deadline of deadline_ms: wait, stop, wait for the end,
 * report, check. ref holds the full render. 0, or 1 after a failed check.
 */
static int
stopped_run(wse_executor *ex, const struct config *cfg, struct mandel *m, const unsigned char *ref,
            double deadline_ms, struct stop_result *r)
{
    wse_future *f = NULL;
    int status = 1;

    memset(r, 0, sizeof(*r));
    mandel_reset(m);
    m->t0 = mono_ms();
    CHECK(wse_for(ex, 0, m->height, cfg->loop_grain, render_rows, m, &f));
    int rc = wse_wait(&f, 1, deadline_ms / 1e3, WSE_ALL_COMPLETED, NULL, NULL);
    double t_ret = mono_ms() - m->t0;
    EXPECT(rc == 0 || rc == ETIMEDOUT, "wse_wait: %s", strerror(rc));
    double t_req = mono_ms() - m->t0;
    bool asked = rc == ETIMEDOUT && wse_future_request_stop(f);
    CHECK(wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    double t_done = mono_ms() - m->t0;
    wse_state st = wse_future_state(f);

    if (rc == 0) {
        printf("  wse_wait returned 0 at %.1f ms: the loop was done before the deadline (%s)\n",
               t_ret, state_name(st));
    } else {
        printf("  wse_wait returned ETIMEDOUT at %.1f ms\n", t_ret);
        printf("  wse_future_request_stop at %.1f ms; the loop was done %.2f ms later: %s\n", t_req,
               t_done - t_req, state_name(st));
    }

    unsigned n_rows[3];
    double last_ms;
    if (check_rows(m, ref, n_rows, &last_ms) != 0)
        goto out;
    unsigned n_chunks = atomic_load(&m->chunks);
    unsigned n_stopped = atomic_load(&m->stopped);
    printf("  rows: %u finished, %u stopped part-way, %u never started\n", n_rows[ROW_DONE],
           n_rows[ROW_PARTIAL], n_rows[ROW_UNTOUCHED]);
    printf("  chunks: %u started; %u saw wse_stop_requested() while running and returned"
           " ECANCELED",
           n_chunks, n_stopped);
    if (n_stopped > 0 && asked)
        printf(",\n          the last %.2f ms after the request\n", last_ms - t_req);
    else
        printf("\n");

    EXPECT(n_stopped <= n_chunks, "%u chunks stopped, but only %u started", n_stopped, n_chunks);
    EXPECT(asked || n_stopped == 0, "%u chunks saw a stop nobody requested", n_stopped);
    if (asked) {
        /* A stop requested while the loop was not done, and no chunk failed. */
        EXPECT(st == WSE_CANCELLED, "the stopped loop is %s (%s)", state_name(st),
               strerror(wse_future_error(f)));
        r->stopped = true;
        r->reached = n_stopped > 0;
    } else {
        EXPECT(st == WSE_DONE, "the loop is %s without a stop (%s)", state_name(st),
               strerror(wse_future_error(f)));
        EXPECT(n_rows[ROW_DONE] == m->height, "the loop is DONE with %u of %u rows",
               n_rows[ROW_DONE], m->height);
        r->done_in_time = true;
    }
    status = 0;
out:
    if (f != NULL) {
        wse_future_request_stop(f); /* on an error path, end the loop soon */
        if (wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL) != 0)
            status = 1;
        wse_future_release(f);
    }
    return status;
}

static int
run_loop(const struct config *cfg)
{
    const size_t w = cfg->loop_width;
    const size_t h = cfg->loop_height;
    wse_executor *ex = NULL;
    struct mandel m = {
        .width = cfg->loop_width,
        .height = cfg->loop_height,
        .iters = cfg->loop_iters,
        .pixels = malloc(w * h),
        .row_state = malloc(h),
        .row_cost = calloc(h, sizeof(uint64_t)),
        .row_stop_ms = calloc(h, sizeof(double)),
    };
    unsigned char *ref = malloc(w * h);
    int status = 1;

    EXPECT(m.pixels && m.row_state && m.row_cost && m.row_stop_ms && ref, "out of memory");
    printf("\n== Loop: wse_for under a deadline, then wse_future_request_stop ==\n");
    printf("A %zu x %zu Mandelbrot set, at most %u iterations a pixel, ", w, h, m.iters);
    if (cfg->loop_grain == 0)
        printf("chunks of rows the library\nchooses (grain 0)");
    else
        printf("%u row%s a chunk\n(grain %u)", cfg->loop_grain, cfg->loop_grain == 1 ? "" : "s",
               cfg->loop_grain);
    printf("; chunks poll wse_stop_requested() every %d pixels.\n", LOOP_POLL);
    CHECK(create_executor(&ex, cfg->workers));

    double t_full;
    if (full_render(ex, cfg, &m, ref, &t_full) != 0)
        goto out;

    /* Under a deadline: wait, then stop the loop. */
    bool dl_auto = cfg->loop_deadline_ms < 0;
    double deadline = dl_auto ? t_full * LOOP_DEADLINE_PCT / 100 : (double)cfg->loop_deadline_ms;
    struct stop_result r = {0};
    for (unsigned attempt = 1; attempt <= (dl_auto ? LOOP_ATTEMPTS : 1); attempt++) {
        if (!dl_auto)
            printf("under a deadline of %.1f ms (--loop-deadline-ms):\n", deadline);
        else if (attempt == 1)
            printf("under a deadline of %.1f ms (%d%% of that):\n", deadline, LOOP_DEADLINE_PCT);
        else
            printf("under a deadline of %.1f ms (run %u of at most %d):\n", deadline, attempt,
                   LOOP_ATTEMPTS);
        if (stopped_run(ex, cfg, &m, ref, deadline, &r) != 0)
            goto out;
        if (r.reached || !dl_auto)
            break;
        if (r.done_in_time) {
            printf("  the loop beat the deadline: once more with half of it\n");
            deadline /= 2;
        } else {
            printf("  the stop fell between chunks (no chunk was running): once more\n");
        }
    }
    EXPECT(!dl_auto || r.reached, "in %d runs the stop never reached a running chunk",
           LOOP_ATTEMPTS);

    printf("verified: the full render is DONE and one thread agrees on every %dth row; the\n",
           LOOP_CHECK_EVERY);
    if (r.stopped)
        printf("loop stopped at the deadline is CANCELLED, its finished rows equal the full\n"
               "render's, and the rows no chunk reached are untouched\n");
    else
        printf("loop under the deadline is DONE and equals the full render\n");
    if (cfg->image != NULL) {
        int rc = write_pgm(cfg->image, m.pixels, ref, m.width, m.height);
        EXPECT(rc == 0, "writing %s: %s", cfg->image, strerror(rc));
        printf("picture: the run under the deadline (left; gray: not rendered) and the full\n"
               "render (right), a %zu x %zu PGM: %s\n",
               2 * w + IMAGE_GAP, h, cfg->image);
    }
    status = 0;
out:
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(ref);
    free(m.row_stop_ms);
    free(m.row_cost);
    free(m.row_state);
    free(m.pixels);
    return status;
}

/* ---- Options --------------------------------------------------------------------- */

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: wse-demo [options]\n"
            "Runs CPU-parallel batches that show wsexec's wait modes and API: a race\n"
            "(FIRST_COMPLETED, then a stop request to the losers), a fail-fast validation\n"
            "(FIRST_EXCEPTION, then stop), a dependency graph (wse_submit_after), a batch\n"
            "consumed as it completes (as_completed), a batch under a deadline\n"
            "(ALL_COMPLETED with a timeout) and a parallel loop (wse_for) stopped at a\n"
            "deadline.\n"
            "\n"
            "  --workers N      worker threads per executor (default 0: usable CPUs)\n"
            "  --mode M         race, fail-fast, dag, progress, deadline, loop or all\n"
            "                   (default all)\n"
            "  --solvers N      race: solvers (default 4)\n"
            "  --bits K         race: leading zero bits of the hash, 1-40 (default 23)\n"
            "  --chunks N       fail-fast: chunks (default 256)\n"
            "  --chunk-kib N    fail-fast: KiB per chunk (default 128)\n"
            "  --passes N       fail-fast: checksum passes over a chunk (default 8)\n"
            "  --bad-chunk I    fail-fast: the corrupted chunk, -1 for none\n"
            "                   (default 38%% of the chunks: 97 of 256)\n"
            "  --grid N         dag: tiles per side, 1-256 (default 24)\n"
            "  --tile N         dag: cells per side of a tile, 1-%d (default 256)\n"
            "  --tasks N        progress: tasks (default 64)\n"
            "  --items N        deadline: prime-counting items (default 16)\n"
            "  --deadline-ms MS deadline: timeout of the first wait (default 200)\n"
            "  --size WxH       loop: picture size in pixels (default 800x600)\n"
            "  --iters N        loop: iterations a pixel at most (default 1500)\n"
            "  --grain N        loop: rows a chunk, 0: the library chooses (default 1)\n"
            "  --loop-deadline-ms MS\n"
            "                   loop: timeout before the stop (default %d%% of the time the\n"
            "                   full render took)\n"
            "  --image PATH     loop: write both pictures side by side as a binary PGM\n"
            "                   (default: none is written)\n"
            "  --seed S         seed of the generated data (default 1)\n"
            "  --quick          small sizes (for tests): bits 16, 64 chunks of 16 KiB and\n"
            "                   32 passes, 8 x 8 tiles of 64, prime ranges a tenth as\n"
            "                   large, deadline 20 ms, a 320 x 240 picture\n"
            "  -h, --help       this text\n"
            "Exit status: 0 when every mode ran and its results verified.\n",
            MAX_TILE, LOOP_DEADLINE_PCT);
}

/* Parse an unsigned decimal into [min, max]; false on anything else. */
static bool
parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Parse "WxH" with W in [16, 16384] and H in [2, 16384]; false on anything else. */
static bool
parse_size(const char *s, unsigned *w, unsigned *h)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long vw = strtoul(s, &end, 10);
    if (errno != 0 || *end != 'x' || vw < 16 || vw > 16384)
        return false;
    unsigned long vh = 0;
    if (!parse_ulong(end + 1, 2, 16384, &vh))
        return false;
    *w = (unsigned)vw;
    *h = (unsigned)vh;
    return true;
}

int
main(int argc, char **argv)
{
    struct config cfg = {
        .workers = 0,
        .solvers = 4,
        .bits = 23,
        .chunks = 256,
        .chunk_kib = 128,
        .passes = 8,
        .bad_chunk = 97,
        .grid = 24,
        .tile = 256,
        .tasks = 64,
        .items = 16,
        .item_unit = 20000,
        .deadline_ms = 200,
        .loop_width = 800,
        .loop_height = 600,
        .loop_iters = 1500,
        .loop_grain = 1,
        .loop_deadline_ms = -1,
        .image = NULL,
        .seed = 1,
    };
    bool bits_set = false;
    bool chunks_set = false;
    bool kib_set = false;
    bool passes_set = false;
    bool bad_set = false;
    bool grid_set = false;
    bool tile_set = false;
    bool deadline_set = false;
    bool size_set = false;
    bool quick = false;
    const char *mode = "all";

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long v = 0;
        bool ok = true;

        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return EXIT_SUCCESS;
        } else if (strcmp(opt, "--quick") == 0) {
            quick = true;
            continue;
        } else if (strcmp(opt, "--mode") == 0) {
            ok = val != NULL && (strcmp(val, "all") == 0 || strcmp(val, "race") == 0 ||
                                 strcmp(val, "fail-fast") == 0 || strcmp(val, "dag") == 0 ||
                                 strcmp(val, "progress") == 0 || strcmp(val, "deadline") == 0 ||
                                 strcmp(val, "loop") == 0);
            mode = val;
        } else if (strcmp(opt, "--workers") == 0) {
            ok = parse_ulong(val, 0, 1024, &v);
            cfg.workers = (unsigned)v;
        } else if (strcmp(opt, "--solvers") == 0) {
            ok = parse_ulong(val, 1, 1024, &v);
            cfg.solvers = (unsigned)v;
        } else if (strcmp(opt, "--bits") == 0) {
            ok = parse_ulong(val, 1, 40, &v);
            cfg.bits = (unsigned)v;
            bits_set = true;
        } else if (strcmp(opt, "--chunks") == 0) {
            ok = parse_ulong(val, 1, 1u << 20, &v);
            cfg.chunks = (unsigned)v;
            chunks_set = true;
        } else if (strcmp(opt, "--chunk-kib") == 0) {
            ok = parse_ulong(val, 1, 1u << 16, &v);
            cfg.chunk_kib = (unsigned)v;
            kib_set = true;
        } else if (strcmp(opt, "--passes") == 0) {
            ok = parse_ulong(val, 1, 1u << 16, &v);
            cfg.passes = (unsigned)v;
            passes_set = true;
        } else if (strcmp(opt, "--bad-chunk") == 0) {
            bad_set = true;
            if (val != NULL && strcmp(val, "-1") == 0) {
                cfg.bad_chunk = -1;
            } else {
                ok = parse_ulong(val, 0, 1u << 20, &v);
                cfg.bad_chunk = (long)v;
            }
        } else if (strcmp(opt, "--grid") == 0) {
            ok = parse_ulong(val, 1, 256, &v);
            cfg.grid = (unsigned)v;
            grid_set = true;
        } else if (strcmp(opt, "--tile") == 0) {
            ok = parse_ulong(val, 1, MAX_TILE, &v);
            cfg.tile = (unsigned)v;
            tile_set = true;
        } else if (strcmp(opt, "--tasks") == 0) {
            ok = parse_ulong(val, 1, 4096, &v);
            cfg.tasks = (unsigned)v;
        } else if (strcmp(opt, "--items") == 0) {
            ok = parse_ulong(val, 1, 64, &v);
            cfg.items = (unsigned)v;
        } else if (strcmp(opt, "--deadline-ms") == 0) {
            ok = parse_ulong(val, 0, 3600000, &v);
            cfg.deadline_ms = (unsigned)v;
            deadline_set = true;
        } else if (strcmp(opt, "--size") == 0) {
            ok = parse_size(val, &cfg.loop_width, &cfg.loop_height);
            size_set = true;
        } else if (strcmp(opt, "--iters") == 0) {
            ok = parse_ulong(val, 1, 1u << 20, &v);
            cfg.loop_iters = (unsigned)v;
        } else if (strcmp(opt, "--grain") == 0) {
            ok = parse_ulong(val, 0, 16384, &v);
            cfg.loop_grain = (unsigned)v;
        } else if (strcmp(opt, "--loop-deadline-ms") == 0) {
            ok = parse_ulong(val, 0, 3600000, &v);
            cfg.loop_deadline_ms = (long)v;
        } else if (strcmp(opt, "--image") == 0) {
            ok = val != NULL && *val != '\0';
            cfg.image = val;
        } else if (strcmp(opt, "--seed") == 0) {
            ok = parse_ulong(val, 0, ULONG_MAX, &v);
            cfg.seed = v;
        } else {
            fprintf(stderr, "wse-demo: unknown option '%s'\n", opt);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "wse-demo: bad or missing value for %s\n", opt);
            return 2;
        }
        i++; /* the value */
    }
    if (quick) {
        cfg.bits = bits_set ? cfg.bits : 16;
        cfg.chunks = chunks_set ? cfg.chunks : 64;
        cfg.chunk_kib = kib_set ? cfg.chunk_kib : 16;
        cfg.passes = passes_set ? cfg.passes : 32;
        cfg.grid = grid_set ? cfg.grid : 8;
        cfg.tile = tile_set ? cfg.tile : 64;
        cfg.deadline_ms = deadline_set ? cfg.deadline_ms : 20;
        if (!size_set) {
            cfg.loop_width = 320;
            cfg.loop_height = 240;
        }
        cfg.item_unit /= 10;
    }
    if (!bad_set)
        cfg.bad_chunk = (long)cfg.chunks * 38 / 100; /* 97 of 256 */
    if (cfg.bad_chunk >= (long)cfg.chunks) {
        fprintf(stderr, "wse-demo: --bad-chunk %ld is not below --chunks %u\n", cfg.bad_chunk,
                cfg.chunks);
        return 2;
    }

    unsigned v = wse_version();
    wse_executor *probe = NULL;
    int rc = create_executor(&probe, cfg.workers);
    if (rc != 0) {
        fprintf(stderr, "wse-demo: wse_executor_create: %s\n", strerror(rc));
        return EXIT_FAILURE;
    }
    unsigned workers = wse_executor_workers(probe);
    rc = wse_executor_destroy(probe);
    if (rc != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy: %s\n", strerror(rc));
        return EXIT_FAILURE;
    }
    printf("wse-demo: wsexec %u.%u.%u, %u worker thread%s per executor\n", v >> 16, (v >> 8) & 0xff,
           v & 0xff, workers, workers == 1 ? "" : "s");

    int failed = 0;
    bool all = strcmp(mode, "all") == 0;
    if (all || strcmp(mode, "race") == 0)
        failed |= run_race(&cfg);
    if (all || strcmp(mode, "fail-fast") == 0)
        failed |= run_fail_fast(&cfg);
    if (all || strcmp(mode, "dag") == 0)
        failed |= run_dag(&cfg);
    if (all || strcmp(mode, "progress") == 0)
        failed |= run_progress(&cfg);
    if (all || strcmp(mode, "deadline") == 0)
        failed |= run_deadline(&cfg);
    if (all || strcmp(mode, "loop") == 0)
        failed |= run_loop(&cfg);
    printf("\nwse-demo: %s\n", failed ? "FAILED" : "all checks passed");
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

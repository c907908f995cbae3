/*
 * wse-demo: the three wait modes of wsexec on real CPU-parallel work.
 *
 *   race      WSE_FIRST_COMPLETED  Several solvers search for a nonce whose hash has
 *                                  k leading zero bits, each in its own region of the
 *                                  nonce space; the first answer wins.
 *   fail-fast WSE_FIRST_EXCEPTION  256 chunks of a generated data set are checksum-
 *                                  verified; one chunk is corrupted. The wait returns
 *                                  at the first failure, then wse_shutdown(cancel_pending)
 *                                  makes sure the remaining chunks never run.
 *   deadline  WSE_ALL_COMPLETED    Prime counting over ranges of varying size under a
 *           + timeout              deadline: report what finished and what was still
 *                                  pending (a timeout cancels nothing), then wait for
 *                                  the rest.
 *
 * Each mode uses its own executor (fail-fast shuts its executor down). All times are
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
    long bad_chunk;       /* fail-fast: index of the corrupted chunk, -1: none */
    unsigned items;       /* deadline: number of prime-counting items */
    unsigned item_unit;   /* deadline: numbers per weight unit of an item */
    unsigned deadline_ms; /* deadline: the timeout of the first wait */
    uint64_t seed;        /* seeds the data set and the race's block header */
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

/* ---- Race: WSE_FIRST_COMPLETED ----------------------------------------------------- */

/*
 * One solver scans nonces start, start + 1, ... (at most limit of them) for one whose
 * hash, mix64(fnv1a64(nonce, header_hash)), has `bits` leading zero bits.
 *
 * Losers are stopped cooperatively: every solver polls the shared atomic *stop every
 * 4096 nonces and returns early once it is set. wsexec has no cooperative stop yet
 * (it is planned); wse_future_cancel() only cancels a task that has not started, and a
 * running task is never interrupted.
 */
struct solver {
    /* Set by main before submission. */
    unsigned id;
    uint64_t start;
    uint64_t limit;
    uint64_t header_hash;
    unsigned bits;
    atomic_bool *stop;
    double t0;
    /* Written by the task; read by main only once the future is done. */
    bool found;
    bool stopped;
    uint64_t nonce;
    uint64_t hash;
    uint64_t scanned;
    double t_start;
    double t_end;
};

static uint64_t
nonce_hash(uint64_t header_hash, uint64_t nonce)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(nonce >> (8 * i));
    return mix64(fnv1a64(b, sizeof(b), header_hash));
}

static int
solve(void *arg, void **result)
{
    struct solver *s = arg;
    uint64_t i;

    s->t_start = mono_ms() - s->t0;
    for (i = 0; i < s->limit; i++) {
        /* relaxed: a hint, polled again 4096 nonces later; nothing is read after it. */
        if ((i & 4095) == 0 && atomic_load_explicit(s->stop, memory_order_relaxed)) {
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
    if (!s->found && !s->stopped)
        return ESRCH; /* region exhausted without an answer: the task failed */
    return 0;
}

static int
run_race(const struct config *cfg)
{
    const size_t n = cfg->solvers;
    wse_executor *ex = NULL;
    struct solver *sv = calloc(n, sizeof(*sv));
    wse_future **futs = calloc(n, sizeof(*futs));
    wse_future **set = calloc(n, sizeof(*set));
    atomic_bool stop;
    struct solver *win = NULL;
    uint64_t state = cfg->seed;
    unsigned char header[32];
    size_t n_set = n;
    size_t n_done = 0;
    int status = 1;

    atomic_init(&stop, false);
    EXPECT(sv && futs && set, "out of memory");
    for (size_t i = 0; i < sizeof(header); i += 8) {
        uint64_t w = splitmix64(&state);
        memcpy(header + i, &w, 8);
    }
    printf("\n== Race: WSE_FIRST_COMPLETED ==\n");
    printf("%zu solvers search for a nonce whose hash has %u leading zero bits, each in its own\n"
           "region of the nonce space; the first answer wins.\n",
           n, cfg->bits);
    CHECK(create_executor(&ex, cfg->workers));

    double t0 = mono_ms();
    for (size_t i = 0; i < n; i++) {
        sv[i].id = (unsigned)i;
        sv[i].start = (uint64_t)i << 48;
        sv[i].limit = UINT64_C(1) << (cfg->bits + 6); /* fails with probability e^-64 */
        sv[i].header_hash = fnv1a64(header, sizeof(header), FNV_OFFSET);
        sv[i].bits = cfg->bits;
        sv[i].stop = &stop;
        sv[i].t0 = t0;
        CHECK(wse_submit(ex, solve, &sv[i], &futs[i]));
        set[i] = futs[i];
    }

    /*
     * Wait for the first solver to finish. A finished solver without an answer (its
     * region held none) does not win: wait again on the ones still pending.
     */
    while (win == NULL && n_set > 0) {
        CHECK(wse_wait(set, n_set, WSE_FOREVER, WSE_FIRST_COMPLETED, set, &n_done));
        EXPECT(n_done >= 1, "FIRST_COMPLETED returned with no done future");
        for (size_t j = 0; j < n_done; j++) {
            struct solver *s = wse_future_value(set[j]);
            if (s != NULL && (win == NULL || s->t_end < win->t_end))
                win = s;
        }
        /* set[n_done .. n_set) are still pending; keep only those. */
        memmove(set, set + n_done, (n_set - n_done) * sizeof(*set));
        n_set -= n_done;
    }
    double t_won = mono_ms() - t0;
    EXPECT(win != NULL, "no solver found a nonce");

    /* Stop the losers: running ones through the flag, not-yet-started ones by cancel. */
    atomic_store(&stop, true);
    unsigned n_cancelled = 0;
    for (size_t i = 0; i < n; i++)
        if (wse_future_cancel(futs[i]))
            n_cancelled++;
    CHECK(wse_wait(futs, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    double t_all = mono_ms() - t0;

    printf("winner: solver %u, nonce 0x%016" PRIx64 ", hash 0x%016" PRIx64 "\n", win->id,
           win->nonce, win->hash);
    printf("        found at %.1f ms after %" PRIu64 " nonces; wse_wait returned at %.1f ms\n",
           win->t_end, win->scanned, t_won);
    printf("losers: stop flag set at %.1f ms (they poll it every 4096 nonces; wsexec has no\n"
           "        cooperative stop yet), %u not yet started were cancelled with\n"
           "        wse_future_cancel(); all solvers were done at %.1f ms:\n",
           t_won, n_cancelled, t_all);
    for (size_t i = 0; i < n; i++) {
        const struct solver *s = &sv[i];
        wse_state st = wse_future_state(futs[i]);
        if (s == win) {
            printf("  solver %zu  %-9s  winner\n", i, state_name(st));
        } else if (st == WSE_CANCELLED) {
            printf("  solver %zu  %-9s  never started\n", i, state_name(st));
        } else if (st == WSE_DONE && s->found) {
            printf("  solver %zu  %-9s  also found nonce 0x%016" PRIx64 " at %.1f ms (too late)\n",
                   i, state_name(st), s->nonce, s->t_end);
        } else if (st == WSE_DONE) {
            printf("  solver %zu  %-9s  stopped by the flag at %.1f ms after %" PRIu64
                   " nonces (ran from %.1f ms)\n",
                   i, state_name(st), s->t_end, s->scanned, s->t_start);
        } else {
            printf("  solver %zu  %-9s  %s\n", i, state_name(st),
                   strerror(wse_future_error(futs[i])));
        }
    }

    uint64_t check = nonce_hash(win->header_hash, win->nonce);
    EXPECT(check == win->hash && check >> (64 - cfg->bits) == 0,
           "the winning nonce does not verify");
    printf("verified: hash(nonce) has %u leading zero bits\n", cfg->bits);
    status = 0;
out:
    atomic_store(&stop, true); /* on an error path, end any solver still running */
    if (futs != NULL)
        for (size_t i = 0; i < n; i++)
            wse_future_release(futs[i]);
    if (ex != NULL && wse_executor_destroy(ex) != 0) {
        fprintf(stderr, "wse-demo: wse_executor_destroy failed\n");
        status = 1;
    }
    free(set);
    free(futs);
    free(sv);
    return status;
}

/* ---- Fail-fast: WSE_FIRST_EXCEPTION ------------------------------------------------ */

struct chunk {
    /* Set by main before submission. */
    unsigned char *data;
    size_t len;
    uint64_t seed;
    /* Written by generate_chunk(); read once its future is done. */
    uint64_t expected; /* the manifest's checksum */
    /* Written by verify_chunk(); read by main only once the future is done. */
    bool ran;
    uint64_t actual;
};

/* Fill a chunk from its own seed and record its checksum in the manifest. */
static int
generate_chunk(void *arg, void **result)
{
    struct chunk *c = arg;
    uint64_t state = c->seed;

    (void)result;
    for (size_t off = 0; off + 8 <= c->len; off += 8) {
        uint64_t w = splitmix64(&state);
        memcpy(c->data + off, &w, 8);
    }
    c->expected = fnv1a64(c->data, c->len, FNV_OFFSET);
    return 0;
}

static int
verify_chunk(void *arg, void **result)
{
    struct chunk *c = arg;

    (void)result;
    c->ran = true;
    c->actual = fnv1a64(c->data, c->len, FNV_OFFSET);
    return c->actual == c->expected ? 0 : EBADMSG;
}

static void
count_states(wse_future *const futs[], size_t n, unsigned counts[5])
{
    memset(counts, 0, 5 * sizeof(counts[0]));
    for (size_t i = 0; i < n; i++)
        counts[wse_future_state(futs[i])]++;
}

static void
print_counts(const char *when, const unsigned c[5])
{
    printf("%s DONE %u, FAILED %u, CANCELLED %u, RUNNING %u, PENDING %u\n", when, c[WSE_DONE],
           c[WSE_FAILED], c[WSE_CANCELLED], c[WSE_RUNNING], c[WSE_PENDING]);
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
    wse_future **out = calloc(n, sizeof(*out));
    bool submitted = false;
    unsigned counts[5];
    size_t n_done = 0;
    int status = 1;

    EXPECT(data && ck && args && futs && out, "out of memory");
    printf("\n== Fail-fast: WSE_FIRST_EXCEPTION ==\n");

    CHECK(create_executor(&ex, cfg->workers));

    /*
     * Generate the data set and its manifest of checksums in parallel (a plain batch:
     * ALL_COMPLETED, no timeout), then corrupt one byte of one chunk.
     */
    double t_gen = mono_ms();
    for (size_t i = 0; i < n; i++) {
        ck[i].data = data + i * len;
        ck[i].len = len;
        ck[i].seed = mix64(cfg->seed ^ mix64(i + 1));
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
    if (cfg->bad_chunk >= 0)
        data[(size_t)cfg->bad_chunk * len + len / 2] ^= 0x20;
    printf("%zu chunks of %u KiB generated in parallel with their checksums in %.1f ms; ", n,
           cfg->chunk_kib, mono_ms() - t_gen);
    if (cfg->bad_chunk >= 0)
        printf("chunk %ld corrupted.\n", cfg->bad_chunk);
    else
        printf("no chunk corrupted.\n");

    double t0 = mono_ms();
    CHECK(wse_submit_batch(ex, verify_chunk, args, n, futs));
    submitted = true;
    CHECK(wse_wait(futs, n, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &n_done));
    double t_ret = mono_ms() - t0;

    /* Stop at the first failure: no new work, and every chunk not started is cancelled. */
    CHECK(wse_shutdown(ex, false, true));
    double t_shut = mono_ms() - t0;
    count_states(futs, n, counts);

    size_t n_failed = 0;
    for (size_t j = 0; j < n_done; j++) {
        if (wse_future_state(out[j]) != WSE_FAILED)
            continue;
        size_t i = index_of(futs, n, out[j]);
        printf("wse_wait returned at %.1f ms: chunk %zu FAILED: %s (checksum 0x%016" PRIx64
               ", manifest 0x%016" PRIx64 ")\n",
               t_ret, i, strerror(wse_future_error(out[j])), ck[i].actual, ck[i].expected);
        EXPECT((long)i == cfg->bad_chunk, "chunk %zu failed, but it was not corrupted", i);
        n_failed++;
    }
    if (cfg->bad_chunk >= 0) {
        EXPECT(n_failed >= 1, "the wait returned with no failed chunk");
        printf("wse_shutdown(ex, wait=false, cancel_pending=true) at %.1f ms\n", t_shut);
        print_counts("  right after shutdown:", counts);
        printf("  (RUNNING chunks finish their check; a running task is never interrupted)\n");
    } else {
        EXPECT(n_done == n, "no failure, yet FIRST_EXCEPTION returned before all were done");
        printf("wse_wait returned at %.1f ms: no chunk failed, so FIRST_EXCEPTION waited for\n"
               "all %zu chunks, as ALL_COMPLETED would\n",
               t_ret, n);
    }

    CHECK(wse_executor_destroy(ex)); /* waits for the running ones */
    ex = NULL;
    double t_end = mono_ms() - t0;
    count_states(futs, n, counts);
    print_counts("  after destroy:", counts);
    printf("  finished at %.1f ms\n", t_end);

    unsigned never_ran = 0;
    for (size_t i = 0; i < n; i++) {
        wse_state st = wse_future_state(futs[i]);
        EXPECT(wse_future_done(futs[i]), "chunk %zu is %s after destroy", i, state_name(st));
        EXPECT(st != WSE_CANCELLED || !ck[i].ran, "cancelled chunk %zu ran", i);
        EXPECT(st == WSE_CANCELLED || ck[i].ran, "chunk %zu is %s but never ran", i,
               state_name(st));
        EXPECT(st != WSE_FAILED || (long)i == cfg->bad_chunk, "chunk %zu failed", i);
        never_ran += st == WSE_CANCELLED;
    }
    printf("verified: %u cancelled chunks never ran, every other chunk ran once\n", never_ran);
    status = 0;
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
    free(args);
    free(ck);
    free(data);
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
static int
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

/* ---- Options --------------------------------------------------------------------- */

static void
usage(FILE *to)
{
    fprintf(to, "usage: wse-demo [options]\n"
                "Runs three CPU-parallel batches, one per wait mode of wsexec: a race\n"
                "(FIRST_COMPLETED), a fail-fast validation (FIRST_EXCEPTION) and a batch\n"
                "under a deadline (ALL_COMPLETED with a timeout).\n"
                "\n"
                "  --workers N      worker threads per executor (default 0: usable CPUs)\n"
                "  --mode M         race, fail-fast, deadline or all (default all)\n"
                "  --solvers N      race: solvers (default 4)\n"
                "  --bits K         race: leading zero bits of the hash, 1-40 (default 23)\n"
                "  --chunks N       fail-fast: chunks (default 256)\n"
                "  --chunk-kib N    fail-fast: KiB per chunk (default 128)\n"
                "  --bad-chunk I    fail-fast: the corrupted chunk, -1 for none\n"
                "                   (default 38%% of the chunks: 97 of 256)\n"
                "  --items N        deadline: prime-counting items (default 16)\n"
                "  --deadline-ms MS deadline: timeout of the first wait (default 200)\n"
                "  --seed S         seed of the generated data (default 1)\n"
                "  --quick          small sizes (for tests): bits 16, 64 chunks of 16 KiB,\n"
                "                   items a tenth as large, deadline 20 ms\n"
                "  -h, --help       this text\n"
                "Exit status: 0 when every mode ran and its results verified.\n");
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

int
main(int argc, char **argv)
{
    struct config cfg = {
        .workers = 0,
        .solvers = 4,
        .bits = 23,
        .chunks = 256,
        .chunk_kib = 128,
        .bad_chunk = 97,
        .items = 16,
        .item_unit = 20000,
        .deadline_ms = 200,
        .seed = 1,
    };
    bool bits_set = false;
    bool chunks_set = false;
    bool kib_set = false;
    bool bad_set = false;
    bool deadline_set = false;
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
                                 strcmp(val, "fail-fast") == 0 || strcmp(val, "deadline") == 0);
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
        } else if (strcmp(opt, "--bad-chunk") == 0) {
            bad_set = true;
            if (val != NULL && strcmp(val, "-1") == 0) {
                cfg.bad_chunk = -1;
            } else {
                ok = parse_ulong(val, 0, 1u << 20, &v);
                cfg.bad_chunk = (long)v;
            }
        } else if (strcmp(opt, "--items") == 0) {
            ok = parse_ulong(val, 1, 64, &v);
            cfg.items = (unsigned)v;
        } else if (strcmp(opt, "--deadline-ms") == 0) {
            ok = parse_ulong(val, 0, 3600000, &v);
            cfg.deadline_ms = (unsigned)v;
            deadline_set = true;
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
        cfg.deadline_ms = deadline_set ? cfg.deadline_ms : 20;
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
    if (all || strcmp(mode, "deadline") == 0)
        failed |= run_deadline(&cfg);
    printf("\nwse-demo: %s\n", failed ? "FAILED" : "all checks passed");
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

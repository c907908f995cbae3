/*
 * wse-mpi-demo: the three wait modes of wsexec across the ranks of an MPI job.
 *
 *   mpirun -np 2 wse-mpi-demo            (on one machine: add --oversubscribe
 *                                         if there are fewer cores than ranks)
 *   mpirun --host a,b -np 2 wse-mpi-demo (two hosts)
 *
 * Every rank creates an executor and the layer and registers the same tasks; rank 0
 * submits and waits, the others serve; every rank destroys.
 *
 *   race      WSE_FIRST_COMPLETED  2 solvers per rank, each placed on a given rank,
 *                                  search their region of the nonce space for a hash
 *                                  with --bits leading zero bits; the first answer
 *                                  wins, then wse_future_request_stop() on the
 *                                  others reaches their ranks and they stop.
 *   fail-fast WSE_FIRST_EXCEPTION  64 chunks of generated data are checksum-verified
 *                                  wherever workers are free (WSE_MPI_ANY_RANK); one
 *                                  is corrupted: the wait returns at its failure,
 *                                  then a stop of every other chunk.
 *   deadline  WSE_ALL_COMPLETED    prime counting over ranges of varying size
 *           + timeout              (ANY_RANK) under a 200 ms deadline: what finished,
 *                                  what was pending; then the rest, checked against
 *                                  a sieve.
 *
 * Rank 0 prints each task with the rank and host it ran on, how long it ran there,
 * and when (ms since the mode started, on rank 0's clock) its result arrived. Every
 * rank then prints how many tasks it ran. Options: --bits N, --workers N, --quick.
 * Exit status 0: every check passed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsexec_mpi.h"

static int my_rank;
static char my_host[32];
static atomic_int n_ran;

#define CHECK(call)                                                                                \
    do {                                                                                           \
        int check_rc_ = (call);                                                                    \
        if (check_rc_ != 0) {                                                                      \
            fprintf(stderr, "wse-mpi-demo: rank %d: %s failed: %s (line %d)\n", my_rank, #call,    \
                    strerror(check_rc_), __LINE__);                                                \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                          \
        }                                                                                          \
    } while (0)

#define EXPECT(cond, what)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "wse-mpi-demo: check failed: %s\n", what);                             \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)

static double
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Every task answers with this header, then its own fields. */
struct report {
    int32_t rank;
    char host[32];
    double run_ms;
    uint64_t value; /* race: nonce; fail-fast: checksum; deadline: prime count */
};

static int
reply(double t_start, uint64_t value, void **out, size_t *out_len)
{
    struct report *r = malloc(sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    memset(r, 0, sizeof(*r));
    r->rank = my_rank;
    memcpy(r->host, my_host, sizeof(r->host));
    r->run_ms = mono_ms() - t_start;
    r->value = value;
    *out = r;
    *out_len = sizeof(*r);
    atomic_fetch_add(&n_ran, 1);
    return 0;
}

static const struct report *
report_of(const wse_future *f)
{
    size_t len = 0;
    const void *p = wse_mpi_result(f, &len);
    return len == sizeof(struct report) ? p : NULL;
}

static const char *
state_name(wse_state s)
{
    static const char *const names[] = {"PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"};
    return (unsigned)s < 5 ? names[s] : "?";
}

/* When each future of a mode completed (µs on rank 0's monotonic clock), written by
 * a done callback on the progress thread, read by main: atomic. */
static atomic_llong arrived_us[64];

static void
note_arrival(wse_future *f, void *arg)
{
    (void)f;
    atomic_store((atomic_llong *)arg, (long long)(mono_ms() * 1e3));
}

static void
track(wse_future *f, size_t i)
{
    atomic_store(&arrived_us[i], 0);
    CHECK(wse_future_on_done(f, note_arrival, &arrived_us[i]));
}

static void
print_task(const char *what, size_t i, const wse_future *f, double t0)
{
    const struct report *r = report_of(f);
    long long us = atomic_load(&arrived_us[i]);
    if (r != NULL)
        printf("  %s %2zu  %-9s on rank %d (%s), ran %7.1f ms, result at %7.1f ms\n", what, i,
               state_name(wse_future_state(f)), (int)r->rank, r->host, r->run_ms,
               us != 0 ? (double)us / 1e3 - t0 : mono_ms() - t0);
    else
        printf("  %s %2zu  %-9s (%s)\n", what, i, state_name(wse_future_state(f)),
               wse_future_error(f) ? strerror(wse_future_error(f)) : "no result");
}

/* ---- Race ------------------------------------------------------------------------- */

struct solve_in {
    uint64_t start;
    uint64_t header;
    uint32_t bits;
};

static int
t_solve(const void *in, size_t in_len, void **out, size_t *out_len)
{
    struct solve_in s;
    if (in_len != sizeof(s))
        return EINVAL;
    memcpy(&s, in, sizeof(s));
    double t = mono_ms();
    uint64_t limit = UINT64_C(1) << 40;
    for (uint64_t n = s.start; n < s.start + limit; n++) {
        if ((n & 4095) == 0 && wse_stop_requested())
            return ECANCELED;
        uint64_t h = mix64(s.header ^ mix64(n));
        if (h >> (64 - s.bits) == 0)
            return reply(t, n, out, out_len);
    }
    return ENOENT;
}

static bool
race(wse_mpi *m, unsigned bits)
{
    bool ok = true;
    int size = wse_mpi_size(m);
    size_t n = size > 32 ? 64 : 2 * (size_t)size;
    wse_future *f[64];
    double t0 = mono_ms();
    printf("race (FIRST_COMPLETED): %zu solvers on %d ranks, %u zero bits\n", n, size, bits);
    for (size_t i = 0; i < n; i++) {
        struct solve_in s = {.start = (uint64_t)i << 48, .header = 0x5eed, .bits = bits};
        CHECK(wse_mpi_submit(m, (int)(i % (size_t)size), "solve", &s, sizeof(s), &f[i]));
        track(f[i], i);
    }
    wse_future *part[64];
    size_t n_done = 0;
    CHECK(wse_wait(f, n, WSE_FOREVER, WSE_FIRST_COMPLETED, part, &n_done));
    printf("  first result after %.1f ms:\n", mono_ms() - t0);
    for (size_t i = 0; i < n; i++)
        if (wse_future_done(f[i]))
            print_task("solver", i, f[i], t0);
    for (size_t i = 0; i < n; i++)
        wse_future_request_stop(f[i]);
    CHECK(wse_wait(f, n, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    size_t won = 0;
    for (size_t i = 0; i < n; i++) {
        const struct report *r = report_of(f[i]);
        if (r != NULL) {
            won++;
            uint64_t h = mix64(0x5eed ^ mix64(r->value));
            EXPECT(h >> (64 - bits) == 0, "the winning nonce has the zero bits");
        }
    }
    printf("  after request_stop on the others: %zu DONE, %zu CANCELLED\n", won, n - won);
    EXPECT(won >= 1, "a solver won");
    for (size_t i = 0; i < n; i++)
        wse_future_release(f[i]);
    return ok;
}

/* ---- Fail-fast ---------------------------------------------------------------------- */

#define CHUNK_WORDS (1024 * 1024)

/* A chunk: its index, whether to corrupt it, then the checksum the data must have. */
struct verify_in {
    uint32_t index;
    uint32_t corrupt;
    uint64_t want;
};

static uint64_t
chunk_sum(uint32_t index, bool corrupt, bool (*stop)(void))
{
    uint64_t sum = 0;
    for (uint64_t k = 0; k < CHUNK_WORDS; k++) {
        if ((k & 8191) == 0 && stop != NULL && stop())
            return 0;
        uint64_t w = mix64(((uint64_t)index << 32) | k);
        if (corrupt && k == 12345)
            w ^= 1;
        sum = mix64(sum ^ w);
    }
    return sum;
}

static int
t_verify(const void *in, size_t in_len, void **out, size_t *out_len)
{
    struct verify_in v;
    if (in_len != sizeof(v))
        return EINVAL;
    memcpy(&v, in, sizeof(v));
    double t = mono_ms();
    uint64_t sum = chunk_sum(v.index, v.corrupt != 0, wse_stop_requested);
    if (wse_stop_requested())
        return ECANCELED;
    if (sum != v.want)
        return EILSEQ;
    return reply(t, sum, out, out_len);
}

static bool
fail_fast(wse_mpi *m, size_t chunks, uint32_t bad)
{
    bool ok = true;
    wse_future **f = calloc(chunks, sizeof(*f));
    if (f == NULL)
        return false;
    struct verify_in *v = calloc(chunks, sizeof(*v));
    if (v == NULL) {
        free(f);
        return false;
    }
    printf("fail-fast (FIRST_EXCEPTION): %zu chunks on any rank, chunk %u is corrupted\n", chunks,
           bad);
    for (size_t i = 0; i < chunks; i++) { /* the published checksums */
        v[i].index = (uint32_t)i;
        v[i].corrupt = i == bad;
        v[i].want = chunk_sum((uint32_t)i, false, NULL);
    }
    double t0 = mono_ms();
    for (size_t i = 0; i < chunks; i++)
        CHECK(wse_mpi_submit(m, WSE_MPI_ANY_RANK, "verify", &v[i], sizeof(v[i]), &f[i]));
    free(v);
    double t_sub = mono_ms() - t0;
    size_t n_done = 0;
    CHECK(wse_wait(f, chunks, WSE_FOREVER, WSE_FIRST_EXCEPTION, NULL, &n_done));
    double t_fail = mono_ms() - t0;
    for (size_t i = 0; i < chunks; i++)
        wse_future_request_stop(f[i]);
    CHECK(wse_wait(f, chunks, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    size_t done = 0, cancelled = 0, failed = 0;
    int per_rank[64] = {0};
    for (size_t i = 0; i < chunks; i++) {
        wse_state s = wse_future_state(f[i]);
        done += s == WSE_DONE;
        cancelled += s == WSE_CANCELLED;
        failed += s == WSE_FAILED;
        const struct report *r = report_of(f[i]);
        if (r != NULL && r->rank >= 0 && r->rank < 64)
            per_rank[r->rank]++;
        if (s == WSE_FAILED)
            printf("  chunk %zu FAILED: %s\n", i, strerror(wse_future_error(f[i])));
    }
    printf("  submitted in %.1f ms; failure seen at %.1f ms with %zu done; in the end %zu "
           "DONE, %zu FAILED, %zu CANCELLED\n  verified chunks per rank:",
           t_sub, t_fail, n_done, done, failed, cancelled);
    for (int r = 0; r < wse_mpi_size(m) && r < 64; r++)
        printf(" %d", per_rank[r]);
    printf("\n");
    EXPECT(failed == 1 && wse_future_error(f[bad]) == EILSEQ, "exactly the bad chunk failed");
    for (size_t i = 0; i < chunks; i++)
        wse_future_release(f[i]);
    free(f);
    return ok;
}

/* ---- Deadline ------------------------------------------------------------------------ */

struct primes_in {
    uint64_t lo;
    uint64_t hi;
};

static bool
is_prime(uint64_t n)
{
    if (n < 2)
        return false;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

static int
t_primes(const void *in, size_t in_len, void **out, size_t *out_len)
{
    struct primes_in p;
    if (in_len != sizeof(p))
        return EINVAL;
    memcpy(&p, in, sizeof(p));
    double t = mono_ms();
    uint64_t count = 0;
    for (uint64_t n = p.lo; n < p.hi; n++)
        count += is_prime(n);
    return reply(t, count, out, out_len);
}

static uint64_t
sieve_count(uint64_t hi)
{
    unsigned char *c = calloc(hi, 1);
    uint64_t count = 0;
    if (c == NULL)
        return 0;
    for (uint64_t i = 2; i < hi; i++) {
        if (c[i])
            continue;
        count++;
        for (uint64_t j = i * i; j < hi; j += i)
            c[j] = 1;
    }
    free(c);
    return count;
}

static bool
deadline(wse_mpi *m, size_t items, uint64_t unit)
{
    bool ok = true;
    wse_future *f[64];
    size_t idx[64];
    uint64_t hi = 0;
    printf("deadline (ALL_COMPLETED, 200 ms): %zu prime-counting ranges on any rank\n", items);
    double t0 = mono_ms();
    for (size_t i = 0; i < items; i++) {
        struct primes_in p = {.lo = hi, .hi = hi + unit * (1 + (i * 7) % 10)};
        hi = p.hi;
        CHECK(wse_mpi_submit(m, WSE_MPI_ANY_RANK, "primes", &p, sizeof(p), &f[i]));
        track(f[i], i);
    }
    wse_future *part[64];
    size_t n_done = 0;
    int rc = wse_wait(f, items, 0.2, WSE_ALL_COMPLETED, part, &n_done);
    printf("  at the deadline (%s): %zu done, %zu pending\n", rc == ETIMEDOUT ? "ETIMEDOUT" : "0",
           n_done, items - n_done);
    for (size_t k = 0; k < items; k++)
        for (idx[k] = 0; idx[k] < items && f[idx[k]] != part[k]; idx[k]++)
            ;
    for (size_t k = 0; k < n_done; k++)
        print_task("range", idx[k], part[k], t0);
    CHECK(wse_wait(f, items, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    printf("  the rest:\n");
    uint64_t total = 0;
    for (size_t k = n_done; k < items; k++)
        print_task("range", idx[k], part[k], t0);
    for (size_t i = 0; i < items; i++) {
        const struct report *r = report_of(f[i]);
        EXPECT(r != NULL, "every range is DONE");
        total += r != NULL ? r->value : 0;
        wse_future_release(f[i]);
    }
    uint64_t want = sieve_count(hi);
    printf("  primes below %" PRIu64 ": %" PRIu64 " (sieve: %" PRIu64 ")\n", hi, total, want);
    EXPECT(total == want, "the prime count matches the sieve");
    return ok;
}

int
main(int argc, char **argv)
{
    unsigned bits = 22;
    unsigned workers = 0;
    bool quick = false;
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc)
            bits = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            workers = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else {
            if (my_rank == 0)
                fprintf(stderr, "usage: mpirun -np N wse-mpi-demo [--bits N] [--workers N] "
                                "[--quick]\n");
            MPI_Finalize();
            return 2;
        }
    }
    if (quick)
        bits = bits > 16 ? 16 : bits;
    if (bits < 1 || bits > 40)
        bits = 22;
    gethostname(my_host, sizeof(my_host) - 1);

    wse_executor *ex;
    wse_options o;
    memset(&o, 0, sizeof(o));
    o.workers = workers;
    CHECK(wse_executor_create(&ex, &o));
    wse_mpi *m;
    CHECK(wse_mpi_create(&m, ex, MPI_COMM_WORLD));
    CHECK(wse_mpi_register(m, "solve", t_solve));
    CHECK(wse_mpi_register(m, "verify", t_verify));
    CHECK(wse_mpi_register(m, "primes", t_primes));
    MPI_Barrier(MPI_COMM_WORLD);

    int ok = 1;
    if (my_rank == 0) {
        printf("wse-mpi-demo: %d ranks, %u workers on rank 0\n\n", wse_mpi_size(m),
               wse_executor_workers(ex));
        ok &= race(m, bits);
        printf("\n");
        ok &= fail_fast(m, quick ? 16 : 64, quick ? 5 : 13);
        printf("\n");
        ok &= deadline(m, quick ? 8 : 24, quick ? 2000 : 20000);
        printf("\n");
        fflush(stdout);
    }
    CHECK(wse_mpi_destroy(m));
    CHECK(wse_executor_destroy(ex));

    /* Per rank, in rank order. */
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int mine = atomic_load(&n_ran);
    int *all = my_rank == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
    char *hosts = my_rank == 0 ? calloc((size_t)size, sizeof(my_host)) : NULL;
    MPI_Gather(&mine, 1, MPI_INT, all, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Gather(my_host, (int)sizeof(my_host), MPI_CHAR, hosts, (int)sizeof(my_host), MPI_CHAR, 0,
               MPI_COMM_WORLD);
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (my_rank == 0 && all != NULL && hosts != NULL) {
        for (int r = 0; r < size; r++)
            printf("rank %d (%s): ran %d tasks to completion\n", r, hosts + r * sizeof(my_host),
                   all[r]);
        printf("%s\n", ok ? "all checks passed" : "SOME CHECKS FAILED");
    }
    free(all);
    free(hosts);
    MPI_Finalize();
    return ok ? 0 : 1;
}

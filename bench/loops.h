/* The parallel-loop workloads, shared by every peer (C and C++): the calibrated loop
 * body and its closed-form checks, the Mandelbrot rows, the reduce array, and the
 * repeat-and-time helpers. The workloads:
 *   forempty  a 2-iteration parallel loop of an empty body, called again and again
 *             from the main thread: ns per call (median over batches of calls)
 *   forflat   N iterations of a ~5 ns or ~50 ns body (param "5ns-1e8"), summed
 *   forirr    N iterations, iteration i costing i / N of FORIRR_US (param N), summed
 *   mandel    a Mandelbrot image, parallel over rows (param "WxH"), checked row by row
 *             against a sequential computation in the same process
 *   reduce    the sum of N doubles whose sum depends on the order of the additions */
#ifndef BENCH_LOOPS_H
#define BENCH_LOOPS_H

#include <sys/mman.h>

#include "common.h"

/* ---- The loop body: m dependent multiply-adds (an LCG) from i + 1. The empty asm
 * makes x opaque at every step, so no compiler folds the chain or vectorises the loop
 * over i: gcc, g++ and clang run the same chain of 64-bit multiply-adds. `after` is
 * the running sum of the iterations before in the same thread, and the chain starts
 * from i + 1 + (z - after), z an opaque copy of after (0, but the compiler cannot know
 * it): a real data dependency, so the out-of-order core cannot overlap consecutive
 * iterations and an iteration costs m steps of multiply-add latency plus a constant,
 * with every compiler and any unrolling (independent iterations overlap by an amount
 * that depends on m and on the code generated: a 50 ns chain measured 28 ns per
 * iteration, and -O2 and -O3 differed). */
#define LOOP_A 6364136223846793005u
#define LOOP_C 1442695040888963407u

static inline uint64_t
loop_work(uint64_t i, uint64_t m, uint64_t after)
{
    uint64_t z = after;
    __asm__("" : "+r"(z));
    uint64_t x = i + 1 + (z - after);
    for (uint64_t j = 0; j < m; j++) {
        x = x * LOOP_A + LOOP_C;
        __asm__("" : "+r"(x));
    }
    return x;
}

/* The cost model of an iteration of m steps in a loop: LOOP_NS_PER_STEP ns per step
 * plus LOOP_NS_PER_ITER ns. The driver measures both once (`seq_bench loopcalib`) and
 * passes them to every child, so that they all run the same step counts; unset: 1.2
 * and 1.0, about what the 2-core machine of the committed results measures. */
static inline double
loop_env_double(const char *name, double dflt)
{
    const char *s = getenv(name);
    double v = s && *s ? strtod(s, NULL) : -1.0;
    return v >= 0 ? v : dflt;
}

/* The steps of an iteration of about ns nanoseconds (at least 1). */
static inline uint64_t
loop_steps(double ns)
{
    double per = loop_env_double("LOOP_NS_PER_STEP", 1.2);
    double m = (ns - loop_env_double("LOOP_NS_PER_ITER", 1.0)) / (per > 0 ? per : 1.2) + 0.5;
    return m < 1 ? 1 : (uint64_t)m;
}

/* forirr: iteration i of n runs i * kmax / n steps. */
static inline uint64_t
forirr_steps(uint64_t i, uint64_t n, uint64_t kmax)
{
    return i * kmax / n;
}

/* The chunk [b, e) of forflat (m steps per iteration) and of forirr (n iterations,
 * kmax steps at most): the sum of its iterations. Not inlined: the sequential floor
 * and wsexec's and oneTBB's chunks run this same machine code (OpenMP's outlined loop
 * has its own copy of the body, the same chain). */
static __attribute__((noinline, unused)) uint64_t
forflat_chunk(uint64_t b, uint64_t e, uint64_t m)
{
    uint64_t s = 0;
    for (uint64_t i = b; i < e; i++)
        s += loop_work(i, m, s);
    return s;
}

static __attribute__((noinline, unused)) uint64_t
forirr_chunk(uint64_t b, uint64_t e, uint64_t n, uint64_t kmax)
{
    uint64_t s = 0;
    for (uint64_t i = b; i < e; i++)
        s += loop_work(i, forirr_steps(i, n, kmax), s);
    return s;
}

/* The cost model, measured: the fastest ns per iteration of sequential flat loops of
 * 2^14 iterations of m1 and of m2 steps, alternated for 40 ms (at least 5 each; on a
 * busy machine the fastest is the one least disturbed, alternating exposes both to
 * the same disturbances): *step and *iter of the line through the two. */
static inline void
loop_calibrate(uint64_t m1, uint64_t m2, double *step, double *iter)
{
    int64_t best[2] = {INT64_MAX, INT64_MAX}, until = now_ns() + 40000000;
    uint64_t s = 0, n = 1u << 14, m[2] = {m1, m2};
    for (int r = 0; r < 10 || now_ns() < until; r++) {
        int64_t t0 = now_ns();
        s += forflat_chunk(0, n, m[r & 1]);
        int64_t t = now_ns() - t0;
        best[r & 1] = t < best[r & 1] ? t : best[r & 1];
    }
    __asm__ volatile("" ::"r"(s));
    double t1 = (double)best[0] / (double)n, t2 = (double)best[1] / (double)n;
    *step = (t2 - t1) / (double)(m2 - m1);
    *iter = t1 - (double)m1 * *step;
}

/* The map x -> a x + c of m steps, built one step at a time. */
struct loop_map {
    uint64_t a, c, m;
};

static inline void
loop_map_advance(struct loop_map *f, uint64_t m)
{
    for (; f->m < m; f->m++) {
        f->a *= LOOP_A;
        f->c = f->c * LOOP_A + LOOP_C;
    }
}

/* The sum (mod 2^64) of loop_work(i, m, .) over 0 <= i < n, in closed form. */
static inline uint64_t
forflat_expect(uint64_t n, uint64_t m)
{
    struct loop_map f = {1, 0, 0};
    loop_map_advance(&f, m);
    uint64_t t = n % 2 == 0 ? (n / 2) * (n + 1) : n * ((n + 1) / 2); /* sum of i + 1 */
    return f.a * t + n * f.c;
}

/* The sum (mod 2^64) of forirr's iterations, O(n + kmax). */
static inline uint64_t
forirr_expect(uint64_t n, uint64_t kmax)
{
    struct loop_map f = {1, 0, 0};
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++) {
        loop_map_advance(&f, forirr_steps(i, n, kmax));
        s += f.a * (i + 1) + f.c;
    }
    return s;
}

/* forirr's kmax: the last iteration costs about FORIRR_US microseconds (default 8),
 * so the loop is about n * FORIRR_US / 2 us of work. */
static inline uint64_t
forirr_kmax(void)
{
    return loop_steps(1000.0 * (double)env_long("FORIRR_US", 8));
}

/* forflat's param "5ns-1e8": body ns and n. Exits on a malformed param. */
static inline void
forflat_param(const char *param, double *ns, uint64_t *n)
{
    char *end;
    *ns = strtod(param, &end);
    if (strncmp(end, "ns-", 3) != 0 || *ns <= 0) {
        fprintf(stderr, "forflat: param %s is not like 5ns-1e8\n", param);
        exit(2);
    }
    *n = (uint64_t)strtod(end + 3, NULL);
    if (*n == 0) {
        fprintf(stderr, "forflat: param %s has no iteration count\n", param);
        exit(2);
    }
}

/* Exits unless a loop's sum is the expected one. */
static inline void
loop_check(const char *workload, const char *config, uint64_t got, uint64_t want)
{
    if (got != want) {
        fprintf(stderr, "%s: %s: sum %llx, expected %llx: an iteration ran twice or not at all\n",
                config, workload, (unsigned long long)got, (unsigned long long)want);
        exit(1);
    }
}

/* The empty body of forempty: a call the compiler must make (not inlined, an empty asm
 * on its argument), the same for every peer. */
static __attribute__((noinline, unused)) void
loop_empty(size_t i)
{
    __asm__ volatile("" ::"r"(i));
}

/* ---- Timing: repeated runs until LOOP_MIN_MS (default 200) have passed, at least one,
 * at most LOOP_MAX_REPS; the median run is reported.
 *   struct loop_reps r; loop_reps_init(&r);
 *   do { int64_t t0 = now_ns(); ...; loop_reps_add(&r, now_ns() - t0); } while (loop_reps_more(&r)); */
#define LOOP_MAX_REPS 64
struct loop_reps {
    int64_t t[LOOP_MAX_REPS];
    size_t n;
    int64_t until;
};

static inline void
loop_reps_init(struct loop_reps *r)
{
    r->n = 0;
    r->until = now_ns() + env_long("LOOP_MIN_MS", 200) * 1000000;
}

static inline void
loop_reps_add(struct loop_reps *r, int64_t ns)
{
    r->t[r->n++] = ns;
}

static inline int
loop_reps_more(const struct loop_reps *r)
{
    return r->n < LOOP_MAX_REPS && now_ns() < r->until;
}

static inline int64_t
loop_reps_median(struct loop_reps *r)
{
    return quantile(r->t, r->n, 0.5);
}

/* The warm-up size of a loop of n iterations: a tenth, at most 10^6 (the runtime's
 * threads start and the code is hot; a full 10^8 loop would only cost time). */
static inline uint64_t
loop_warm_n(uint64_t n)
{
    uint64_t w = n / 10;
    return w < 1 ? 1 : (w > 1000000 ? 1000000 : w);
}

/* time_ms, and with n > 0 the rate Mit_s (million iterations per second). */
static inline void
loop_emit(const char *workload, const char *param, const char *config, int64_t ns, uint64_t n)
{
    emit(workload, param, config, "time_ms", (double)ns / 1e6);
    if (n)
        emit(workload, param, config, "Mit_s", (double)n / ((double)ns / 1e3));
}

/* ---- forempty: FOREMPTY_B batches (default 200) of FOREMPTY_CALLS calls (default
 * 1000) of call(arg), after one warm-up batch, stopping early (after 5 batches at
 * least) once FOREMPTY_MAX_MS (default 3000) have passed: the median and the p90 of
 * the per-batch mean, in ns per call. */
static inline void
forempty_run(const char *workload, const char *param, const char *config, void (*call)(void *),
             void *arg)
{
    size_t b = (size_t)env_long("FOREMPTY_B", 200),
           calls = (size_t)env_long("FOREMPTY_CALLS", 1000);
    int64_t until = 0, *v = (int64_t *)malloc((b ? b : 1) * sizeof *v);
    size_t done = 0;
    if (!v || b == 0 || calls == 0) {
        fprintf(stderr, "forempty: no batches or out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k <= b; k++) {
        if (k == 1)
            until = now_ns() + env_long("FOREMPTY_MAX_MS", 3000) * 1000000;
        int64_t t0 = now_ns();
        for (size_t c = 0; c < calls; c++)
            call(arg);
        int64_t t = now_ns() - t0;
        if (k == 0)
            continue;
        v[done++] = t;
        if (done >= 5 && now_ns() > until)
            break;
    }
    double per = (double)calls;
    emit(workload, param, config, "ns_per_call", (double)quantile(v, done, 0.5) / per);
    emit(workload, param, config, "p90_ns_per_call", (double)quantile(v, done, 0.9) / per);
    free(v);
}

/* ---- mandel: the escape counts (at most MANDEL_MAXIT, default 256) of a w x h image
 * of [-2.2, 0.8] x [-1.2, 1.2]; a row's result is the sum of its counts. Not inlined,
 * so that the parallel runs and the sequential reference of a process run the same
 * machine code (the sums must match exactly). */
struct mandel {
    int w, h, maxit;
    uint64_t *row; /* h sums */
};

static __attribute__((noinline, unused)) uint64_t
mandel_row(const struct mandel *m, int y)
{
    double ci = 1.2 - 2.4 * (double)y / (double)(m->h - 1);
    uint64_t sum = 0;
    for (int x = 0; x < m->w; x++) {
        double cr = -2.2 + 3.0 * (double)x / (double)(m->w - 1);
        double zr = 0.0, zi = 0.0;
        int k = 0;
        while (k < m->maxit && zr * zr + zi * zi <= 4.0) {
            double t = zr * zr - zi * zi + cr;
            zi = 2.0 * zr * zi + ci;
            zr = t;
            k++;
        }
        sum += (uint64_t)k;
    }
    return sum;
}

/* Parses "WxH", allocates the rows. */
static inline void
mandel_init(struct mandel *m, const char *param)
{
    if (sscanf(param, "%dx%d", &m->w, &m->h) != 2 || m->w < 2 || m->h < 2) {
        fprintf(stderr, "mandel: param %s is not like 1024x768\n", param);
        exit(2);
    }
    m->maxit = (int)env_long("MANDEL_MAXIT", 256);
    m->row = (uint64_t *)calloc((size_t)m->h, sizeof *m->row);
    if (!m->row) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
}

/* Clears the rows (a row left at ~0 by a skipped iteration shows up in the check). */
static inline void
mandel_clear(struct mandel *m)
{
    memset(m->row, 0xff, (size_t)m->h * sizeof *m->row);
}

/* Exits unless every row equals the sequential computation's. */
static inline void
mandel_check(const struct mandel *m, const char *config)
{
    for (int y = 0; y < m->h; y++)
        if (m->row[y] != mandel_row(m, y)) {
            fprintf(stderr, "%s: mandel: row %d is %llu, the sequential run gives %llu\n", config,
                    y, (unsigned long long)m->row[y], (unsigned long long)mandel_row(m, y));
            exit(1);
        }
}

/* ---- reduce: element i is a double of pseudo-random sign, mantissa and binary
 * exponent in [-32, 31] (a hash of i), so that the sum depends on the order of the
 * additions (different chunkings give different low bits). Built from its bits: no
 * libm. */
static inline double
reduce_value(uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15u;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 29;
    uint64_t sign = h >> 63, expo = (uint64_t)(1023 - 32) + ((h >> 52) & 63);
    uint64_t bits = sign << 63 | expo << 52 | (h & ((UINT64_C(1) << 52) - 1));
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* The array of n values (sequential, untimed). 2 MiB aligned and, on Linux, marked
 * for transparent huge pages: 10^8 doubles in 4 KiB pages cost seconds of page faults
 * on a small VM. */
static inline double *
reduce_array(uint64_t n)
{
    void *p = NULL;
    size_t bytes = ((size_t)n * sizeof(double) + (1u << 21) - 1) & ~(size_t)((1u << 21) - 1);
    double *v = posix_memalign(&p, 1u << 21, bytes) == 0 ? (double *)p : NULL;
#ifdef MADV_HUGEPAGE
    if (v)
        madvise(v, bytes, MADV_HUGEPAGE);
#endif
    if (!v) {
        fprintf(stderr, "reduce: out of memory for %llu doubles\n", (unsigned long long)n);
        exit(1);
    }
    for (uint64_t i = 0; i < n; i++)
        v[i] = reduce_value(i);
    return v;
}

static inline uint64_t
reduce_n(const char *param)
{
    uint64_t n = (uint64_t)strtod(param, NULL);
    if (n == 0) {
        fprintf(stderr, "reduce: param %s is no element count\n", param);
        exit(2);
    }
    return n;
}

/* The plain sequential fold, left to right. */
static inline double
reduce_seq(const double *v, uint64_t n)
{
    double s = 0.0;
    for (uint64_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* time_ms, the rate Melem_s and reldiff_seq: |result - the sequential left fold| /
 * |the fold| (0 when the bits agree: the order-sensitivity shows here). */
static inline void
reduce_emit(const char *workload, const char *param, const char *config, int64_t ns, uint64_t n,
            double result, double seq)
{
    emit(workload, param, config, "time_ms", (double)ns / 1e6);
    emit(workload, param, config, "Melem_s", (double)n / ((double)ns / 1e3));
    double d = result - seq;
    emit(workload, param, config, "reldiff_seq", (d < 0 ? -d : d) / (seq < 0 ? -seq : seq));
}

#endif

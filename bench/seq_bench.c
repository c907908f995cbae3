/* Sequential C, the floor. Usage: seq_bench WORKLOAD PARAM CONFIG WORKERS (fib, flat,
 * calib, rounds, loopcalib, forflat, forirr, mandel, reduce). */
#include "common.h"
#include "loops.h"

static volatile uint64_t sink;

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s WORKLOAD PARAM CONFIG WORKERS\n", argv[0]);
        return 2;
    }
    const char *w = argv[1], *param = argv[2], *config = argv[3];
    if (strcmp(w, "fib") == 0) {
        int n = atoi(param);
        sink = (uint64_t)fib_seq(n > 25 ? 25 : n); /* warm-up */
        int64_t t0 = now_ns();
        long v = fib_seq(n);
        int64_t t1 = now_ns();
        if (v != fib_expected(n))
            return 1;
        emit(w, param, config, "time_ms", (double)(t1 - t0) / 1e6);
    } else if (strcmp(w, "flat") == 0) {
        size_t n = (size_t)atol(param);
        uint64_t *res = malloc(n * sizeof *res);
        if (!res)
            return 1;
        for (int round = 0; round < 2; round++) {
            int64_t t0 = now_ns();
            for (size_t i = 0; i < n; i++)
                res[i] = tiny_work(i + 1);
            int64_t t1 = now_ns();
            sink = res[n / 2];
            emit(w, param, config, round == 0 ? "cold_Mtasks_s" : "warm_Mtasks_s",
                 (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
        }
        free(res);
    } else if (strcmp(w, "calib") == 0) {
        /* ns per iteration of the rounds kernel: the fastest of 21 chains of 2^18 (on a
         * busy machine the minimum is the one least disturbed) */
        int64_t v[21];
        for (int r = 0; r < 21; r++) {
            int64_t t0 = now_ns();
            sink = (uint64_t)fma_chain(2.0, 1L << 18);
            v[r] = now_ns() - t0;
        }
        emit(w, param, config, "ns_per_iter", (double)quantile(v, 21, 0.0) / (double)(1L << 18));
    } else if (strcmp(w, "rounds") == 0) {
        /* one rounds task run alone: the fastest of 5 batches, each of back-to-back
         * calls (16 per clock read) for at least 20 ms, of the mean time per call (on a
         * busy machine the fastest batch is the one least disturbed) */
        long k = atol(param);
        double v[5];
        sink = (uint64_t)fma_chain(2.0, k);
        for (int r = 0; r < 5; r++) {
            long n = 0;
            double x = 2.0;
            int64_t t0 = now_ns(), t1;
            do {
                for (int j = 0; j < 16; j++)
                    x = fma_chain(x + 1.0, k);
                n += 16;
                t1 = now_ns();
            } while (t1 - t0 < 20000000);
            sink = (uint64_t)x;
            v[r] = (double)(t1 - t0) / (double)n;
        }
        double best = v[0];
        for (int r = 1; r < 5; r++)
            best = v[r] < best ? v[r] : best;
        emit(w, param, config, "task_us", best / 1e3);
    } else if (strcmp(w, "loopcalib") == 0) {
        /* the cost model of loops.h: flat loops of 8 and 72 steps per iteration, a
         * line through the two */
        double per, iter;
        loop_calibrate(8, 72, &per, &iter);
        emit(w, param, config, "ns_per_step", per);
        emit(w, param, config, "ns_per_iter", iter > 0 ? iter : 0.0);
    } else if (strcmp(w, "forflat") == 0 || strcmp(w, "forirr") == 0) {
        /* the loops of loops.h, one thread: the floor of the parallel runs */
        int irr = strcmp(w, "forirr") == 0;
        double ns = 0;
        uint64_t n, m;
        if (irr) {
            n = (uint64_t)strtod(param, NULL);
            m = forirr_kmax();
        } else {
            forflat_param(param, &ns, &n);
            m = loop_steps(ns);
        }
        uint64_t want = irr ? forirr_expect(n, m) : forflat_expect(n, m), s, wn = loop_warm_n(n);
        struct loop_reps r;
        sink = irr ? forirr_chunk(0, wn, wn, m) : forflat_chunk(0, wn, m); /* warm-up */
        loop_reps_init(&r);
        do {
            int64_t t0 = now_ns();
            s = irr ? forirr_chunk(0, n, n, m) : forflat_chunk(0, n, m);
            loop_reps_add(&r, now_ns() - t0);
            loop_check(w, config, s, want);
        } while (loop_reps_more(&r));
        loop_emit(w, param, config, loop_reps_median(&r), irr ? 0 : n);
    } else if (strcmp(w, "mandel") == 0) {
        struct mandel m;
        struct loop_reps r;
        mandel_init(&m, param);
        loop_reps_init(&r);
        do {
            mandel_clear(&m);
            int64_t t0 = now_ns();
            for (int y = 0; y < m.h; y++)
                m.row[y] = mandel_row(&m, y);
            loop_reps_add(&r, now_ns() - t0);
        } while (loop_reps_more(&r));
        uint64_t total = 0;
        for (int y = 0; y < m.h; y++)
            total += m.row[y];
        loop_emit(w, param, config, loop_reps_median(&r), 0);
        emit(w, param, config, "Giters", (double)total / 1e9);
        free(m.row);
    } else if (strcmp(w, "reduce") == 0) {
        uint64_t n = reduce_n(param);
        double *v = reduce_array(n), s = 0;
        struct loop_reps r;
        loop_reps_init(&r);
        do {
            int64_t t0 = now_ns();
            s = reduce_seq(v, n);
            loop_reps_add(&r, now_ns() - t0);
        } while (loop_reps_more(&r));
        reduce_emit(w, param, config, loop_reps_median(&r), n, s, s);
        free(v);
    } else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], w);
        return 2;
    }
    return fflush(stdout) != 0;
}

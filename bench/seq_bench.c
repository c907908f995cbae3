/* Sequential C, the floor. Usage: seq_bench WORKLOAD PARAM CONFIG WORKERS (fib, flat). */
#include "common.h"

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
    } else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], w);
        return 2;
    }
    return fflush(stdout) != 0;
}

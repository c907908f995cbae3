// The C++ interface (include/wsexec.hpp) against the C API, in one binary and one run.
// Usage: cxx_bench fib N CONFIG WORKERS
// Runs fork-join fib(N) ROUNDS times (environment CXX_ROUNDS, default 5) with each of
// three variants on one executor, rotating which goes first, and prints the median
// times as CSV lines (see common.h), CONFIG's first "cxx" replaced by the variant
// (e.g. wsexec-cxx-2w gives wsexec-c++-2w): "c++" (lambdas, one block per task),
// "c++noexcept" (noexcept lambdas, no block: plain C tasks), "c" (the C API), and
// the ratios "c++/c" and "c++noexcept/c".
#include <wsexec.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "common.h"

// ---- C: exactly bench/wse_bench.c's fib (a future per task, wait(ALL_COMPLETED))
static int
fib_c_task(void *arg, void **res)
{
    intptr_t n = reinterpret_cast<intptr_t>(arg);
    if (n < 2) {
        *res = reinterpret_cast<void *>(n);
        return 0;
    }
    wse_executor *ex = wse_current();
    wse_future *f[2];
    BENCH_CHECK(wse_submit(ex, fib_c_task, reinterpret_cast<void *>(n - 1), &f[0]));
    BENCH_CHECK(wse_submit(ex, fib_c_task, reinterpret_cast<void *>(n - 2), &f[1]));
    BENCH_CHECK(wse_wait(f, 2, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL));
    *res = reinterpret_cast<void *>(reinterpret_cast<intptr_t>(wse_future_value(f[0])) +
                                    reinterpret_cast<intptr_t>(wse_future_value(f[1])));
    wse_future_release(f[0]);
    wse_future_release(f[1]);
    return 0;
}

static long
fib_c(wse::executor &ex, int n)
{
    wse_future *f;
    BENCH_CHECK(wse_submit(ex.native_handle(), fib_c_task,
                           reinterpret_cast<void *>(static_cast<intptr_t>(n)), &f));
    BENCH_CHECK(wse_future_wait(f, WSE_FOREVER));
    long v = static_cast<long>(reinterpret_cast<intptr_t>(wse_future_value(f)));
    wse_future_release(f);
    return v;
}

// ---- C++: the same shape with the wrapper: lambdas, futures of long, get()
static long
fib_cxx_task(int n)
{
    if (n < 2)
        return n;
    wse::executor_ref ex = wse::current_executor();
    auto a = ex.submit([n] { return fib_cxx_task(n - 1); });
    auto b = ex.submit([n] { return fib_cxx_task(n - 2); });
    wse::wait_all(a, b);
    return a.get() + b.get();
}

static long
fib_cxx(wse::executor &ex, int n)
{
    return ex.submit([n] { return fib_cxx_task(n); }).get();
}

// ---- C++, noexcept lambdas: small enough to need no block (a plain C task)
static long
fib_nx_task(int n) noexcept
{
    if (n < 2)
        return n;
    wse::executor_ref ex = wse::current_executor();
    auto a = ex.submit([n]() noexcept { return fib_nx_task(n - 1); });
    auto b = ex.submit([n]() noexcept { return fib_nx_task(n - 2); });
    wse::wait_all(a, b);
    return a.get() + b.get();
}

static long
fib_nx(wse::executor &ex, int n)
{
    return ex.submit([n]() noexcept { return fib_nx_task(n); }).get();
}

template <class F>
static double
time_ms(F &&run, int n)
{
    int64_t t0 = now_ns();
    long v = run(n);
    int64_t t1 = now_ns();
    if (v != fib_expected(n)) {
        fprintf(stderr, "fib(%d) = %ld, wrong\n", n, v);
        exit(1);
    }
    return static_cast<double>(t1 - t0) / 1e6;
}

static double
median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t k = v.size() / 2;
    return v.size() % 2 ? v[k] : (v[k - 1] + v[k]) / 2;
}

static std::string
rename(const std::string &config, const char *what)
{
    std::string s = config;
    size_t at = s.find("cxx");
    if (at == std::string::npos)
        return s + "-" + what;
    return s.replace(at, 3, what);
}

int
main(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[1], "fib") != 0) {
        fprintf(stderr, "usage: cxx_bench fib N CONFIG WORKERS\n");
        return 2;
    }
    int n = atoi(argv[2]);
    std::string config = argv[3];
    unsigned workers = static_cast<unsigned>(atoi(argv[4]));
    int rounds = static_cast<int>(env_long("CXX_ROUNDS", 5));

    wse::executor ex(workers);
    auto c = [&ex](int k) { return fib_c(ex, k); };
    auto cxx = [&ex](int k) { return fib_cxx(ex, k); };
    auto nx = [&ex](int k) { return fib_nx(ex, k); };
    time_ms(c, n > 25 ? 25 : n); // warm-up
    time_ms(cxx, n > 25 ? 25 : n);
    time_ms(nx, n > 25 ? 25 : n);
    std::vector<double> tc, tcxx, tnx;
    for (int r = 0; r < rounds; r++) {
        // Rotate the order: each variant goes first, second and third in turn.
        for (int k = 0; k < 3; k++) {
            switch ((r + k) % 3) {
            case 0:
                tc.push_back(time_ms(c, n));
                break;
            case 1:
                tcxx.push_back(time_ms(cxx, n));
                break;
            default:
                tnx.push_back(time_ms(nx, n));
            }
        }
    }
    double mc = median(tc), mcxx = median(tcxx), mnx = median(tnx);
    emit("fib", argv[2], rename(config, "c++").c_str(), "time_ms", mcxx);
    emit("fib", argv[2], rename(config, "c++noexcept").c_str(), "time_ms", mnx);
    emit("fib", argv[2], rename(config, "c").c_str(), "time_ms", mc);
    emit("fib", argv[2], rename(config, "c++/c").c_str(), "ratio", mcxx / mc);
    emit("fib", argv[2], rename(config, "c++noexcept/c").c_str(), "ratio", mnx / mc);
    return 0;
}

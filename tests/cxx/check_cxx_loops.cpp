/*
 * Check suite for the C++ parallel loops of include/wsexec.hpp (parallel_for,
 * parallel_reduce and their _async forms over wse_for() and wse_reduce()): every index
 * exactly once in both body forms, reductions equal to a sequential one, bit-identical
 * double sums on 1 to 4 workers, non-commutative combines (a matrix product in place, a
 * string and a vector in nodes), exceptions of body, fold and combine (the first one
 * rethrown, no chunk started after it), C errors, futures (get, timeouts, cancel, stop,
 * dropped before the loop ends: nothing leaks, under ASan/LSan too) and nested loops.
 *
 * Bodies never call ck_assert (they run on worker threads): they record what they see
 * in atomics, and the test thread checks them.
 */
#include <wsexec.hpp>

#include <check.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

#if WSE_VERSION_MINOR >= 3

namespace
{

constexpr int test_timeout = 60; /* per test case; CK_TIMEOUT_MULTIPLIER scales it */

/* Holds every worker of an executor in a task until open(), so that a loop queued
 * afterwards stays PENDING. */
struct gate {
    std::atomic<bool> is_open{false};
    std::atomic<int> entered{0};
    std::vector<wse::future<void>> held;

    void
    block(wse::executor_ref ex)
    {
        for (unsigned i = 0; i < ex.workers(); i++)
            held.push_back(ex.submit([this] {
                entered.fetch_add(1);
                while (!is_open.load())
                    std::this_thread::yield();
            }));
        while (entered.load() < static_cast<int>(ex.workers()))
            std::this_thread::yield();
    }
    void
    open()
    {
        is_open.store(true);
    }

    gate() = default;
    gate(const gate &) = delete;
    gate &operator=(const gate &) = delete;
    ~gate()
    {
        open();
        for (auto &h : held)
            h.wait();
    }
};

/* Counts live instances and copies, to prove each is destroyed exactly once. */
struct tracked {
    static std::atomic<int> live;
    static std::atomic<int> copies;
    int v;
    explicit tracked(int x) : v(x)
    {
        live.fetch_add(1);
    }
    tracked(const tracked &o) : v(o.v)
    {
        live.fetch_add(1);
        copies.fetch_add(1);
    }
    tracked(tracked &&o) noexcept : v(o.v)
    {
        live.fetch_add(1);
    }
    tracked &operator=(const tracked &) = default;
    tracked &operator=(tracked &&) = default;
    ~tracked()
    {
        live.fetch_sub(1);
    }
};
std::atomic<int> tracked::live{0};
std::atomic<int> tracked::copies{0};

struct custom_error : std::runtime_error {
    std::size_t detail;
    explicit custom_error(std::size_t d) : std::runtime_error("custom"), detail(d)
    {
    }
};

/* One counter per index. */
struct counters {
    std::vector<std::atomic<int>> c;
    explicit counters(std::size_t n) : c(n)
    {
    }
    void
    hit(std::size_t i)
    {
        c[i].fetch_add(1, std::memory_order_relaxed);
    }
    /* Indices in [lo, hi) ran exactly once, all others never. */
    bool
    exactly_once(std::size_t lo, std::size_t hi) const
    {
        for (std::size_t i = 0; i < c.size(); i++)
            if (c[i].load() != (i >= lo && i < hi ? 1 : 0))
                return false;
        return true;
    }
    int
    total() const
    {
        int t = 0;
        for (const auto &x : c)
            t += x.load();
        return t;
    }
};

/* A 2x2 matrix over the integers mod 2^64: associative, not commutative. */
struct mat {
    std::uint64_t a, b, c, d;
    friend mat
    operator*(const mat &x, const mat &y)
    {
        return {x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.d, x.c * y.a + x.d * y.c,
                x.c * y.b + x.d * y.d};
    }
    friend bool
    operator==(const mat &x, const mat &y)
    {
        return x.a == y.a && x.b == y.b && x.c == y.c && x.d == y.d;
    }
};
constexpr mat mat_one{1, 0, 0, 1};

mat
mat_of(std::size_t i)
{
    return {i % 7 + 1, 1, i % 3, 2};
}

template <class F>
int
error_code_of(F &&f)
{
    try {
        f();
    } catch (const std::system_error &e) {
        return e.code().value();
    }
    return 0;
}

} // namespace

/* ---- parallel_for ---------------------------------------------------------------- */

START_TEST(for_index_form_runs_each_index_once)
{
    const std::size_t n = 5003;
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        for (std::size_t g : {0, 1, 7, 5003, 100000}) {
            counters k(n);
            wse::parallel_for(ex, 0, n, wse::grain(g), [&k](std::size_t i) { k.hit(i); });
            ck_assert(k.exactly_once(0, n));
            /* An offset range, and a body whose result is ignored. */
            counters m(n);
            wse::parallel_for(ex, 100, n - 3, wse::grain(g), [&m](std::size_t i) {
                m.hit(i);
                return i;
            });
            ck_assert(m.exactly_once(100, n - 3));
        }
        counters k(n);
        wse::parallel_for(ex, 0, n, [&k](std::size_t i) { k.hit(i); }); /* no grain */
        ck_assert(k.exactly_once(0, n));
    }
}
END_TEST

START_TEST(for_range_form_chunks_cover_once_within_grain)
{
    const std::size_t n = 4099;
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        for (std::size_t g : {0, 1, 16, 1000}) {
            counters k(n);
            std::atomic<int> bad{0};
            std::atomic<int> chunks{0};
            wse::parallel_for(ex, 3, n, wse::grain(g), [&](std::size_t b, std::size_t e) {
                chunks.fetch_add(1);
                if (b >= e || b < 3 || e > n || (g != 0 && e - b > g))
                    bad.fetch_add(1);
                for (std::size_t i = b; i < e; i++)
                    k.hit(i);
            });
            ck_assert_int_eq(bad.load(), 0);
            ck_assert(k.exactly_once(3, n));
            if (g != 0)
                ck_assert_int_ge(chunks.load(), static_cast<int>((n - 3 + g - 1) / g));
        }
    }
}
END_TEST

START_TEST(for_range_form_wins_when_both_fit)
{
    struct both {
        std::atomic<int> *index_calls;
        counters *k;
        void
        operator()(std::size_t) const
        {
            index_calls->fetch_add(1);
        }
        void
        operator()(std::size_t b, std::size_t e) const
        {
            for (std::size_t i = b; i < e; i++)
                k->hit(i);
        }
    };
    wse::executor ex(2);
    std::atomic<int> index_calls{0};
    counters k(1000);
    wse::parallel_for(ex, 0, 1000, both{&index_calls, &k});
    ck_assert_int_eq(index_calls.load(), 0);
    ck_assert(k.exactly_once(0, 1000));
    counters a(1000);
    wse::parallel_for_async(ex, 0, 1000, wse::grain(10), both{&index_calls, &a}).get();
    ck_assert_int_eq(index_calls.load(), 0);
    ck_assert(a.exactly_once(0, 1000));
}
END_TEST

START_TEST(for_blocking_form_does_not_copy_the_body)
{
    wse::executor ex(3);
    tracked t(5);
    std::atomic<long> sum{0};
    auto body = [t, &sum](std::size_t i) { sum.fetch_add(static_cast<long>(i) + t.v); };
    int copies = tracked::copies.load();
    wse::parallel_for(ex, 0, 100, wse::grain(3), body);
    ck_assert_int_eq(tracked::copies.load(), copies);
    ck_assert_int_eq(sum.load(), 4950 + 500);
    /* A const body is called as const. */
    const auto &cbody = body;
    wse::parallel_for(ex, 0, 100, cbody);
    ck_assert_int_eq(tracked::copies.load(), copies);
    ck_assert_int_eq(sum.load(), 2 * (4950 + 500));
}
END_TEST

START_TEST(for_empty_range_and_bad_input)
{
    wse::executor ex(2);
    std::atomic<int> ran{0};
    auto body = [&ran](std::size_t) { ran.fetch_add(1); };
    wse::parallel_for(ex, 7, 7, body);
    wse::parallel_for(ex, 7, 7, [&ran](std::size_t, std::size_t) { ran.fetch_add(1); });
    auto f = wse::parallel_for_async(ex, 7, 7, body);
    ck_assert(f.done());
    f.get();
    ck_assert_int_eq(ran.load(), 0);

    /* begin > end, an empty executor_ref, a shut-down executor: std::system_error with
     * the C code, nothing ran. */
    ck_assert_int_eq(error_code_of([&] { wse::parallel_for(ex, 8, 7, body); }), EINVAL);
    ck_assert_int_eq(error_code_of([&] { (void)wse::parallel_for_async(ex, 8, 7, body); }), EINVAL);
    wse::executor_ref none;
    ck_assert_int_eq(error_code_of([&] { wse::parallel_for(none, 0, 7, body); }), EINVAL);
    ck_assert_int_eq(error_code_of([&] { (void)wse::parallel_for_async(none, 0, 7, body); }),
                     EINVAL);
    auto add = [](long a, long b) { return a + b; };
    auto fold = [](long acc, std::size_t i) { return acc + static_cast<long>(i); };
    ck_assert_int_eq(error_code_of([&] { (void)wse::parallel_reduce(ex, 8, 7, 0L, fold, add); }),
                     EINVAL);
    ck_assert_int_eq(
        error_code_of([&] { (void)wse::parallel_reduce_async(ex, 8, 7, 0L, fold, add); }), EINVAL);
    ck_assert_int_eq(error_code_of([&] {
                         (void)wse::parallel_reduce(
                             ex, 8, 7, std::string("x"),
                             [](std::string s, std::size_t) { return s; },
                             [](std::string a, std::string) { return a; });
                     }),
                     EINVAL);
    ex.shutdown();
    ck_assert_int_eq(error_code_of([&] { wse::parallel_for(ex, 0, 7, body); }), ESHUTDOWN);
    ck_assert_int_eq(error_code_of([&] { (void)wse::parallel_for_async(ex, 0, 7, body); }),
                     ESHUTDOWN);
    ck_assert_int_eq(error_code_of([&] { (void)wse::parallel_reduce(ex, 0, 7, 0L, fold, add); }),
                     ESHUTDOWN);
    ck_assert_int_eq(ran.load(), 0);
}
END_TEST

/* ---- parallel_reduce -------------------------------------------------------------- */

START_TEST(reduce_matches_sequential)
{
    const std::size_t lo = 11, hi = 30011;
    auto term = [](std::size_t i) { return static_cast<long long>(i * i % 1000003); };
    long long expect = 0;
    for (std::size_t i = lo; i < hi; i++)
        expect += term(i);
    auto add = [](long long a, long long b) { return a + b; };
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        for (std::size_t g : {0, 1, 64, 30000, 100000}) {
            long long r1 = wse::parallel_reduce(
                ex, lo, hi, wse::grain(g), 0LL,
                [&term](long long acc, std::size_t i) { return acc + term(i); }, add);
            long long r2 = wse::parallel_reduce(
                ex, lo, hi, wse::grain(g), 0LL,
                [&term](std::size_t b, std::size_t e, long long acc) {
                    for (std::size_t i = b; i < e; i++)
                        acc += term(i);
                    return acc;
                },
                add);
            auto f = wse::parallel_reduce_async(
                ex, lo, hi, wse::grain(g), 0LL,
                [&term](long long acc, std::size_t i) { return acc + term(i); }, add);
            ck_assert_int_eq(r1, expect);
            ck_assert_int_eq(r2, expect);
            ck_assert_int_eq(f.get(), expect);
        }
    }
    /* Empty: the identity, blocking and as a future. */
    wse::executor ex(2);
    ck_assert_int_eq(wse::parallel_reduce(
                         ex, 5, 5, 42LL, [](long long, std::size_t) { return -1LL; }, add),
                     42);
    auto f = wse::parallel_reduce_async(
        ex, 5, 5, 42LL, [](long long, std::size_t) { return -1LL; }, add);
    ck_assert(f.done());
    ck_assert_int_eq(f.get(), 42);
    auto s = wse::parallel_reduce_async(
        ex, 5, 5, std::string("id"), [](std::string, std::size_t) { return std::string(); },
        [](std::string a, std::string b) { return a + b; });
    ck_assert(s.get() == "id");
}
END_TEST

START_TEST(reduce_double_sum_is_bit_identical_on_1_to_4_workers)
{
    const std::size_t n = 100003;
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; i++)
        v[i] = (i % 2 ? 1.0 : -1.0) / static_cast<double>(i + 1) + 1e-7 * static_cast<double>(i);
    auto fold = [&v](std::size_t b, std::size_t e, double acc) {
        for (std::size_t i = b; i < e; i++)
            acc += v[i];
        return acc;
    };
    auto add = [](double a, double b) { return a + b; };
    double seq = 0.0;
    for (double x : v)
        seq += x;
    for (std::size_t g : {0, 1, 37, 5000}) {
        double first = 0.0;
        for (unsigned w = 1; w <= 4; w++) {
            wse::executor ex(w);
            for (int rep = 0; rep < 2; rep++) {
                double r = wse::parallel_reduce(ex, 0, n, wse::grain(g), 0.0, fold, add);
                double a =
                    wse::parallel_reduce_async(ex, 0, n, wse::grain(g), 0.0, fold, add).get();
                if (w == 1 && rep == 0)
                    first = r;
                ck_assert_int_eq(std::memcmp(&r, &first, sizeof r), 0);
                ck_assert_int_eq(std::memcmp(&a, &first, sizeof a), 0);
            }
        }
        ck_assert(std::fabs(first - seq) < 1e-6);
    }
}
END_TEST

START_TEST(reduce_non_commutative_matrix_product)
{
    const std::size_t n = 3001;
    mat expect = mat_one;
    for (std::size_t i = 0; i < n; i++)
        expect = expect * mat_of(i);
    ck_assert(!(mat_of(1) * mat_of(2) == mat_of(2) * mat_of(1)));
    auto mul = [](mat a, mat b) { return a * b; };
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        for (std::size_t g : {0, 1, 5, 500}) {
            mat r1 = wse::parallel_reduce(
                ex, 0, n, wse::grain(g), mat_one,
                [](mat acc, std::size_t i) { return acc * mat_of(i); }, mul);
            mat r2 = wse::parallel_reduce(
                ex, 0, n, wse::grain(g), mat_one,
                [](std::size_t b, std::size_t e, mat acc) {
                    for (std::size_t i = b; i < e; i++)
                        acc = acc * mat_of(i);
                    return acc;
                },
                mul);
            mat r3 = wse::parallel_reduce_async(
                         ex, 0, n, wse::grain(g), mat_one,
                         [](mat acc, std::size_t i) { return acc * mat_of(i); }, mul)
                         .get();
            ck_assert(r1 == expect);
            ck_assert(r2 == expect);
            ck_assert(r3 == expect);
        }
    }
}
END_TEST

START_TEST(reduce_string_and_vector_in_index_order)
{
    const std::size_t n = 2500;
    std::string digits;
    for (std::size_t i = 0; i < n; i++)
        digits += static_cast<char>('0' + i % 10);
    auto cat = [](std::string a, const std::string &b) { return a + b; };
    auto digit = [](std::string acc, std::size_t i) {
        acc += static_cast<char>('0' + i % 10);
        return acc;
    };
    auto append = [](std::vector<std::size_t> a, const std::vector<std::size_t> &b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        for (std::size_t g : {0, 1, 10, 2500}) {
            std::string s =
                wse::parallel_reduce(ex, 0, n, wse::grain(g), std::string(), digit, cat);
            ck_assert(s == digits);
            /* Not an identity of combine: it is folded into every chunk. */
            std::string x = wse::parallel_reduce(
                ex, 0, 4, wse::grain(1), std::string("<"),
                [](std::string acc, std::size_t i) { return acc + std::to_string(i); }, cat);
            ck_assert_str_eq(x.c_str(), "<0<1<2<3");
            auto f = wse::parallel_reduce_async(ex, 0, n, wse::grain(g), std::string(), digit, cat);
            ck_assert(f.get() == digits);
            std::vector<std::size_t> idx = wse::parallel_reduce(
                ex, 0, n, wse::grain(g), std::vector<std::size_t>(),
                [](std::size_t b, std::size_t e, std::vector<std::size_t> acc) {
                    for (std::size_t i = b; i < e; i++)
                        acc.push_back(i);
                    return acc;
                },
                append);
            ck_assert_uint_eq(idx.size(), n);
            bool in_order = true;
            for (std::size_t i = 0; i < n; i++)
                in_order = in_order && idx[i] == i;
            ck_assert(in_order);
        }
    }
}
END_TEST

START_TEST(reduce_node_values_destroyed_exactly_once)
{
    const int base = tracked::live.load();
    auto add = [](tracked a, const tracked &b) { return tracked(a.v + b.v); };
    auto fold = [](tracked acc, std::size_t i) { return tracked(acc.v + static_cast<int>(i)); };
    for (unsigned w = 1; w <= 3; w++) {
        wse::executor ex(w);
        {
            tracked r = wse::parallel_reduce(ex, 0, 1000, wse::grain(7), tracked(0), fold, add);
            ck_assert_int_eq(r.v, 499500);
            ck_assert_int_eq(tracked::live.load(), base + 1); /* only r */
        }
        ck_assert_int_eq(tracked::live.load(), base);
        {
            auto f = wse::parallel_reduce_async(ex, 0, 1000, tracked(0), fold, add);
            ck_assert_int_eq(f.get().v, 499500);
        }
        ck_assert_int_eq(tracked::live.load(), base);
        /* A fold that throws half-way: every node is freed. */
        bool caught = false;
        try {
            (void)wse::parallel_reduce(
                ex, 0, 1000, wse::grain(3), tracked(0),
                [](tracked acc, std::size_t i) {
                    if (i == 500)
                        throw custom_error(i);
                    return acc;
                },
                add);
        } catch (const custom_error &e) {
            caught = e.detail == 500;
        }
        ck_assert(caught);
        ck_assert_int_eq(tracked::live.load(), base);
    }
}
END_TEST

/* ---- Exceptions ------------------------------------------------------------------- */

START_TEST(for_exception_is_rethrown_and_stops_the_loop)
{
    const std::size_t n = 1000;
    /* From a plain thread on 2 workers: the exception itself comes back, and the rest
     * of the claim of the chunk that threw never runs. */
    {
        wse::executor ex(2);
        counters k(n);
        std::size_t detail = 0;
        std::string what;
        try {
            wse::parallel_for(ex, 0, n, wse::grain(1), [&k](std::size_t i) {
                k.hit(i);
                if (i == 0)
                    throw custom_error(i + 7);
            });
        } catch (const custom_error &e) {
            detail = e.detail;
            what = e.what();
        }
        ck_assert_uint_eq(detail, 7);
        ck_assert_str_eq(what.c_str(), "custom");
        ck_assert_int_eq(k.c[0].load(), 1);
        ck_assert_int_lt(k.total(), static_cast<int>(n));
    }
    /* One worker calling the loop in a task is its only participant: after the throw
     * no chunk starts, so only index 0 ran. Range form too. */
    {
        wse::executor ex(1);
        counters k(n);
        counters r(n);
        auto t = ex.submit([&ex, &k, &r] {
            int caught = 0;
            try {
                wse::parallel_for(ex, 0, n, wse::grain(1), [&k](std::size_t i) {
                    k.hit(i);
                    throw custom_error(i);
                });
            } catch (const custom_error &e) {
                caught += e.detail == 0;
            }
            try {
                wse::parallel_for(ex, 0, n, wse::grain(1), [&r](std::size_t b, std::size_t) {
                    r.hit(b);
                    if (b == 0)
                        throw std::out_of_range("range");
                });
            } catch (const std::out_of_range &e) {
                caught += std::string(e.what()) == "range";
            }
            return caught;
        });
        ck_assert_int_eq(t.get(), 2);
        ck_assert_int_eq(k.total(), 1);
        ck_assert_int_eq(k.c[0].load(), 1);
        ck_assert_int_eq(r.total(), 1);
    }
    /* A future on one worker: one runner, so again only index 0 ran; get() rethrows,
     * the C future is FAILED with exception_code. */
    {
        wse::executor ex(1);
        counters k(n);
        auto f = wse::parallel_for_async(ex, 0, n, wse::grain(1), [&k](std::size_t i) {
            k.hit(i);
            throw custom_error(i + 1);
        });
        std::size_t detail = 0;
        try {
            f.get();
        } catch (const custom_error &e) {
            detail = e.detail;
        }
        ck_assert_uint_eq(detail, 1);
        ck_assert(f.state() == wse::state::failed);
        ck_assert_int_eq(f.error(), wse::exception_code);
        ck_assert_int_eq(k.total(), 1);
    }
}
END_TEST

START_TEST(for_exceptions_from_every_chunk_one_wins)
{
    const std::size_t n = 2000;
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        for (int rep = 0; rep < 3; rep++) {
            std::atomic<int> thrown{0};
            int caught = 0;
            std::size_t detail = n;
            try {
                wse::parallel_for(ex, 0, n, wse::grain(1), [&thrown](std::size_t i) {
                    thrown.fetch_add(1);
                    throw custom_error(i);
                });
            } catch (const custom_error &e) {
                caught++;
                detail = e.detail;
            }
            ck_assert_int_eq(caught, 1);
            ck_assert_uint_lt(detail, n);
            ck_assert_int_ge(thrown.load(), 1);
            /* At most one chunk per participant: started before it saw the failure. */
            ck_assert_int_le(thrown.load(), static_cast<int>(w) + 1);
        }
        /* A shared future rethrows the exception at every get(). */
        auto s = wse::parallel_for_async(ex, 0, n, [](std::size_t i) {
                     if (i == 3)
                         throw custom_error(3);
                 }).share();
        int seen = 0;
        for (int i = 0; i < 2; i++) {
            try {
                s.get();
            } catch (const custom_error &e) {
                seen += e.detail == 3;
            }
        }
        ck_assert_int_eq(seen, 2);
    }
}
END_TEST

START_TEST(reduce_fold_exception_is_rethrown)
{
    auto add = [](long a, long b) { return a + b; };
    for (unsigned w = 1; w <= 3; w++) {
        wse::executor ex(w);
        auto fold = [](long acc, std::size_t i) {
            if (i == 777)
                throw custom_error(i);
            return acc + 1;
        };
        std::size_t d1 = 0;
        std::size_t d2 = 0;
        try {
            (void)wse::parallel_reduce(ex, 0, 5000, 0L, fold, add);
        } catch (const custom_error &e) {
            d1 = e.detail;
        }
        auto f = wse::parallel_reduce_async(ex, 0, 5000, wse::grain(10), 0L, fold, add);
        try {
            (void)f.get();
        } catch (const custom_error &e) {
            d2 = e.detail;
        }
        ck_assert_uint_eq(d1, 777);
        ck_assert_uint_eq(d2, 777);
        ck_assert(f.state() == wse::state::failed);
        /* A node type: nothing leaks (LSan). */
        auto g = wse::parallel_reduce_async(
            ex, 0, 5000, wse::grain(10), std::string(),
            [](std::string acc, std::size_t i) {
                if (i == 4321)
                    throw std::length_error("fold");
                return acc + "x";
            },
            [](std::string a, const std::string &b) { return a + b; });
        bool caught = false;
        try {
            (void)g.get();
        } catch (const std::length_error &e) {
            caught = std::string(e.what()) == "fold";
        }
        ck_assert(caught);
    }
}
END_TEST

namespace
{

/* A segment [lo, hi) of the range with a digest of its indices (in place). */
struct seg {
    std::size_t lo, hi;
    std::uint64_t h;
};

/* The same with a string (in a node). */
struct sseg {
    std::size_t lo, hi;
    std::string s;
};

} // namespace

START_TEST(reduce_combine_exception_is_rethrown)
{
    const std::size_t n = 1000;
    auto fold = [](std::size_t b, std::size_t e, seg acc) {
        acc.lo = b;
        acc.hi = e;
        for (std::size_t i = b; i < e; i++)
            acc.h = acc.h * 31 + i;
        return acc;
    };
    /* Throws at the last combine (the one that covers the whole range): every fold
     * has run, so the C loop ends DONE, yet the exception comes back. */
    auto last_throws = [](seg a, seg b) {
        if (a.hi != b.lo)
            throw std::logic_error("not adjacent");
        if (a.lo == 0 && b.hi == n)
            throw custom_error(n);
        return seg{a.lo, b.hi, a.h ^ (b.h << 1)};
    };
    auto sfold = [](std::size_t b, std::size_t e, sseg acc) {
        acc.lo = b;
        acc.hi = e;
        acc.s += std::to_string(b);
        return acc;
    };
    auto slast_throws = [](sseg a, const sseg &b) {
        if (a.lo == 0 && b.hi == n)
            throw custom_error(n + 1);
        return sseg{a.lo, b.hi, a.s + b.s};
    };
    for (unsigned w = 1; w <= 4; w++) {
        wse::executor ex(w);
        std::size_t d[4] = {0, 0, 0, 0};
        try {
            (void)wse::parallel_reduce(ex, 0, n, wse::grain(10), seg{0, 0, 0}, fold, last_throws);
        } catch (const custom_error &e) {
            d[0] = e.detail;
        }
        auto f =
            wse::parallel_reduce_async(ex, 0, n, wse::grain(10), seg{0, 0, 0}, fold, last_throws);
        f.wait();
        ck_assert(f.state() == wse::state::done);
        try {
            (void)f.get();
        } catch (const custom_error &e) {
            d[1] = e.detail;
        }
        try {
            (void)wse::parallel_reduce(ex, 0, n, wse::grain(10), sseg{0, 0, ""}, sfold,
                                       slast_throws);
        } catch (const custom_error &e) {
            d[2] = e.detail;
        }
        auto s = wse::parallel_reduce_async(ex, 0, n, wse::grain(10), sseg{0, 0, ""}, sfold,
                                            slast_throws)
                     .share();
        try {
            (void)s.get();
        } catch (const custom_error &e) {
            d[3] = e.detail;
        }
        ck_assert_uint_eq(d[0], n);
        ck_assert_uint_eq(d[1], n);
        ck_assert_uint_eq(d[2], n + 1);
        ck_assert_uint_eq(d[3], n + 1);

        /* Throws at the first combine it sees: whatever the C future's state, the
         * exception comes back and nothing leaks. */
        std::atomic<int> combines{0};
        auto first_throws = [&combines](sseg a, const sseg &b) {
            if (combines.fetch_add(1) == 0)
                throw custom_error(0);
            return sseg{a.lo, b.hi, a.s + b.s};
        };
        bool caught = false;
        try {
            (void)wse::parallel_reduce(ex, 0, n, wse::grain(1), sseg{0, 0, ""}, sfold,
                                       first_throws);
        } catch (const custom_error &) {
            caught = true;
        }
        ck_assert(caught);
    }
}
END_TEST

/* ---- Futures ----------------------------------------------------------------------- */

START_TEST(async_get_wait_timeout_and_share)
{
    wse::executor ex(2);
    std::atomic<bool> go{false};
    std::atomic<int> started{0};
    counters k(64);
    auto f = wse::parallel_for_async(ex, 0, 64, wse::grain(8), [&](std::size_t b, std::size_t e) {
        started.fetch_add(1);
        while (!go.load())
            std::this_thread::yield();
        for (std::size_t i = b; i < e; i++)
            k.hit(i);
    });
    ck_assert(f.valid());
    while (started.load() == 0)
        std::this_thread::yield();
    ck_assert(!f.wait_for(20ms));
    ck_assert(!f.wait_until(std::chrono::steady_clock::now() + 5ms));
    ck_assert(f.state() == wse::state::running);
    ck_assert(!f.done());
    go.store(true);
    ck_assert(f.wait_for(60s));
    ck_assert(f.state() == wse::state::done);
    f.get();
    ck_assert(k.exactly_once(0, 64));
    /* The C value of a loop future is NULL; the result lives in the C++ block. */
    auto r = wse::parallel_reduce_async(
        ex, 0, 100, 0L, [](long acc, std::size_t i) { return acc + static_cast<long>(i); },
        [](long a, long b) { return a + b; });
    r.wait();
    ck_assert_ptr_null(wse_future_value(r.native_handle()));
    wse::shared_future<long> s = r.share();
    wse::shared_future<long> t = s;
    ck_assert_int_eq(s.get(), 4950);
    ck_assert_int_eq(t.get(), 4950);
    /* Loop futures mix with task futures in wait(). */
    auto a = wse::parallel_for_async(ex, 0, 10, [](std::size_t) {});
    auto b = ex.submit([] { return 1; });
    auto [done, not_done] = wse::wait({&a, &b});
    ck_assert_uint_eq(done.size(), 2);
    ck_assert_uint_eq(not_done.size(), 0);
}
END_TEST

START_TEST(async_cancel_pending_runs_nothing)
{
    wse::executor ex(2);
    gate g;
    g.block(ex);
    std::atomic<int> ran{0};
    auto f = wse::parallel_for_async(ex, 0, 100, [&ran](std::size_t) { ran.fetch_add(1); });
    auto r = wse::parallel_reduce_async(
        ex, 0, 100, std::string(),
        [&ran](std::string acc, std::size_t) {
            ran.fetch_add(1);
            return acc;
        },
        [](std::string a, const std::string &b) { return a + b; });
    ck_assert(f.state() == wse::state::pending);
    ck_assert(f.cancel());
    ck_assert(r.cancel());
    bool c1 = false;
    bool c2 = false;
    try {
        f.get();
    } catch (const wse::cancelled_error &) {
        c1 = true;
    }
    try {
        (void)r.get();
    } catch (const wse::cancelled_error &) {
        c2 = true;
    }
    ck_assert(c1 && c2);
    ck_assert(f.state() == wse::state::cancelled);
    g.open();
    ex.shutdown();
    ck_assert_int_eq(ran.load(), 0);
}
END_TEST

START_TEST(async_request_stop_reaches_running_chunks)
{
    wse::executor ex(2);
    std::atomic<int> started{0};
    std::atomic<int> saw_stop{0};
    auto f = wse::parallel_for_async(ex, 0, 1000, wse::grain(1), [&](std::size_t) {
        started.fetch_add(1);
        while (!wse::stop_requested())
            std::this_thread::yield();
        saw_stop.fetch_add(1);
        wse::throw_if_stop_requested(); /* gives the chunk up: no failure */
    });
    while (started.load() == 0)
        std::this_thread::yield();
    ck_assert(f.request_stop());
    bool cancelled = false;
    try {
        f.get();
    } catch (const wse::cancelled_error &) {
        cancelled = true;
    }
    ck_assert(cancelled);
    ck_assert(f.state() == wse::state::cancelled);
    ck_assert_int_eq(saw_stop.load(), started.load());
    ck_assert_int_lt(started.load(), 1000);

    /* A blocking loop inside a task is the task's child for stop: it throws
     * cancelled_error there, and the task ends CANCELLED. */
    std::atomic<int> in_loop{0};
    std::atomic<bool> loop_threw_cancelled{false};
    auto t = ex.submit([&] {
        try {
            wse::parallel_for(ex, 0, 4, wse::grain(1), [&in_loop](std::size_t) {
                in_loop.fetch_add(1);
                while (!wse::stop_requested())
                    std::this_thread::yield();
            });
        } catch (const wse::cancelled_error &) {
            loop_threw_cancelled.store(true);
            throw;
        }
    });
    while (in_loop.load() == 0)
        std::this_thread::yield();
    ck_assert(t.request_stop());
    cancelled = false;
    try {
        t.get();
    } catch (const wse::cancelled_error &) {
        cancelled = true;
    }
    ck_assert(cancelled);
    ck_assert(loop_threw_cancelled.load());
    ck_assert(t.state() == wse::state::cancelled);
}
END_TEST

START_TEST(async_dropped_before_completion_leaks_nothing)
{
    const int base = tracked::live.load();
    std::atomic<int> ran{0};
    std::atomic<bool> go{false}; /* outlive the executor: its loops read them */
    std::atomic<int> started{0};
    {
        wse::executor ex(2);
        gate g;
        g.block(ex);
        tracked t(1);
        /* Dropped while PENDING: the block goes when the loop ends. */
        (void)wse::parallel_for_async(ex, 0, 100, [t, &ran](std::size_t) { ran.fetch_add(t.v); });
        (void)wse::parallel_reduce_async(
            ex, 0, 1000, wse::grain(7), std::string(),
            [t, &ran](std::string acc, std::size_t i) {
                ran.fetch_add(t.v);
                return acc + std::to_string(i);
            },
            [](std::string a, const std::string &b) { return a + b; });
        (void)wse::parallel_reduce_async(
            ex, 0, 1000, tracked(0),
            [](tracked acc, std::size_t i) { return tracked(acc.v + static_cast<int>(i)); },
            [](tracked a, const tracked &b) { return tracked(a.v + b.v); });
        /* Dropped while running. */
        {
            auto f = wse::parallel_reduce_async(
                ex, 0, 100, wse::grain(1), std::vector<int>(),
                [&go, &started](std::vector<int> acc, std::size_t i) {
                    started.fetch_add(1);
                    while (!go.load())
                        std::this_thread::yield();
                    acc.push_back(static_cast<int>(i));
                    return acc;
                },
                [](std::vector<int> a, const std::vector<int> &b) {
                    a.insert(a.end(), b.begin(), b.end());
                    return a;
                });
            g.open();
            while (started.load() == 0)
                std::this_thread::yield();
        }
        go.store(true);
        /* The executor's destructor runs what is queued; the loops' blocks go as
         * they end. */
    }
    ck_assert_int_eq(ran.load(), 1100);
    ck_assert_int_eq(tracked::live.load(), base);
}
END_TEST

START_TEST(async_futures_outlive_executor)
{
    wse::future<std::string> s;
    wse::future<double> d;
    wse::future<void> v;
    std::atomic<int> ran{0};
    {
        wse::executor ex(2);
        s = wse::parallel_reduce_async(
            ex, 0, 300, std::string(),
            [](std::string acc, std::size_t i) { return acc + static_cast<char>('a' + i % 26); },
            [](std::string a, const std::string &b) { return a + b; });
        d = wse::parallel_reduce_async(
            ex, 0, 300, 0.5, [](double acc, std::size_t) { return acc + 1.0; },
            [](double a, double b) { return a + b - 0.5; });
        v = wse::parallel_for_async(ex, 0, 300, [&ran](std::size_t) { ran.fetch_add(1); });
    }
    std::string expect;
    for (std::size_t i = 0; i < 300; i++)
        expect += static_cast<char>('a' + i % 26);
    ck_assert(s.get() == expect);
    ck_assert(d.get() == 300.5);
    v.get();
    ck_assert_int_eq(ran.load(), 300);
}
END_TEST

/* ---- Nesting ----------------------------------------------------------------------- */

START_TEST(nested_loops_inside_chunks)
{
    constexpr std::size_t outer = 8, inner = 500;
    for (unsigned w = 1; w <= 2; w++) {
        wse::executor ex(w);
        counters k(outer * inner);
        std::vector<long> sums(outer);
        wse::parallel_for(ex, 0, outer, wse::grain(1), [&](std::size_t b, std::size_t e) {
            for (std::size_t o = b; o < e; o++) {
                wse::parallel_for(wse::current_executor(), 0, inner,
                                  [&k, row = o * inner](std::size_t i) { k.hit(row + i); });
                sums[o] = wse::parallel_reduce(
                    ex, 0, inner, wse::grain(16), 0L,
                    [o](long acc, std::size_t i) { return acc + static_cast<long>(o * i); },
                    [](long a, long c) { return a + c; });
            }
        });
        ck_assert(k.exactly_once(0, outer * inner));
        for (std::size_t o = 0; o < outer; o++)
            ck_assert_int_eq(sums[o], static_cast<long>(o * inner * (inner - 1) / 2));
        /* A loop future whose chunks wait on loops of their own. */
        auto f = wse::parallel_reduce_async(
            ex, 0, outer, 0L,
            [&ex](long acc, std::size_t o) {
                return acc +
                       wse::parallel_reduce_async(
                           ex, 0, 100, 0L,
                           [o](long a, std::size_t i) { return a + static_cast<long>(o + i); },
                           [](long a, long c) { return a + c; })
                           .get();
            },
            [](long a, long c) { return a + c; });
        ck_assert_int_eq(f.get(),
                         static_cast<long>(100 * (outer * (outer - 1) / 2) + outer * 4950));
    }
}
END_TEST

#endif /* WSE_VERSION_MINOR >= 3 */

int
main()
{
    Suite *s = suite_create("cxx_loops");
#if WSE_VERSION_MINOR >= 3
    TCase *f = tcase_create("parallel_for");
    tcase_set_timeout(f, test_timeout);
    tcase_add_test(f, for_index_form_runs_each_index_once);
    tcase_add_test(f, for_range_form_chunks_cover_once_within_grain);
    tcase_add_test(f, for_range_form_wins_when_both_fit);
    tcase_add_test(f, for_blocking_form_does_not_copy_the_body);
    tcase_add_test(f, for_empty_range_and_bad_input);
    suite_add_tcase(s, f);

    TCase *r = tcase_create("parallel_reduce");
    tcase_set_timeout(r, test_timeout);
    tcase_add_test(r, reduce_matches_sequential);
    tcase_add_test(r, reduce_double_sum_is_bit_identical_on_1_to_4_workers);
    tcase_add_test(r, reduce_non_commutative_matrix_product);
    tcase_add_test(r, reduce_string_and_vector_in_index_order);
    tcase_add_test(r, reduce_node_values_destroyed_exactly_once);
    suite_add_tcase(s, r);

    TCase *e = tcase_create("exceptions");
    tcase_set_timeout(e, test_timeout);
    tcase_add_test(e, for_exception_is_rethrown_and_stops_the_loop);
    tcase_add_test(e, for_exceptions_from_every_chunk_one_wins);
    tcase_add_test(e, reduce_fold_exception_is_rethrown);
    tcase_add_test(e, reduce_combine_exception_is_rethrown);
    suite_add_tcase(s, e);

    TCase *a = tcase_create("async");
    tcase_set_timeout(a, test_timeout);
    tcase_add_test(a, async_get_wait_timeout_and_share);
    tcase_add_test(a, async_cancel_pending_runs_nothing);
    tcase_add_test(a, async_request_stop_reaches_running_chunks);
    tcase_add_test(a, async_dropped_before_completion_leaks_nothing);
    tcase_add_test(a, async_futures_outlive_executor);
    suite_add_tcase(s, a);

    TCase *n = tcase_create("nesting");
    tcase_set_timeout(n, test_timeout);
    tcase_add_test(n, nested_loops_inside_chunks);
    suite_add_tcase(s, n);
#endif

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Check suite for the C++ interface (include/wsexec.hpp): results of every kind,
 * exceptions across the task boundary, C error codes, cancel, the three wait modes
 * and timeouts, nested fork-join on one worker, ownership of the task block (no
 * leak, the callable and the result destroyed exactly once, under ASan/LSan too),
 * and futures that outlive their executor.
 *
 * Tasks never call ck_assert (they run on worker threads): they record what they
 * see in atomics, and the test thread checks them.
 */
#include <wsexec.hpp>

#include <check.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace
{

constexpr int test_timeout = 60; /* per test case; CK_TIMEOUT_MULTIPLIER scales it */

/* Holds every worker of an executor in a task until open(), so that whatever is
 * submitted afterwards stays PENDING. */
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

    /* The held tasks read this object: let them finish before it goes. */
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

/* Counts live instances, to prove each is destroyed exactly once. */
struct tracked {
    static std::atomic<int> live;
    int v;
    explicit tracked(int x) : v(x)
    {
        live.fetch_add(1);
    }
    tracked(const tracked &o) : v(o.v)
    {
        live.fetch_add(1);
    }
    tracked(tracked &&o) noexcept : v(o.v)
    {
        live.fetch_add(1);
    }
    tracked &operator=(const tracked &) = default;
    ~tracked()
    {
        live.fetch_sub(1);
    }
};
std::atomic<int> tracked::live{0};

struct custom_error : std::runtime_error {
    int detail;
    explicit custom_error(int d) : std::runtime_error("custom"), detail(d)
    {
    }
};

long
fib(int n)
{
    if (n < 2)
        return n;
    wse::executor_ref ex = wse::current_executor();
    auto a = ex.submit(fib, n - 1);
    auto b = ex.submit([n] { return fib(n - 2); });
    return a.get() + b.get();
}

long
fib_seq(int n)
{
    return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

int
c_task_eio(void *, void **)
{
    return EIO;
}

int
c_task_value(void *arg, void **result)
{
    *result = arg;
    return 0;
}

} // namespace

/* ---- Results ----------------------------------------------------------------- */

START_TEST(submit_get_int)
{
    wse::executor ex(2);
    ck_assert_uint_eq(ex.workers(), 2);
    int x = 20;
    auto f = ex.submit([&x] { return x * 2 + 2; });
    ck_assert_int_eq(f.get(), 42);
    ck_assert(f.state() == wse::state::done);
    ck_assert(f.done());
    ck_assert_int_eq(f.error(), 0);
    /* The C value of a C++ task is NULL: the result lives in the C++ block. */
    ck_assert_ptr_null(wse_future_value(f.native_handle()));
}
END_TEST

START_TEST(submit_with_arguments_copies_and_moves_them)
{
    wse::executor ex(2);
    std::string s = "abc";
    auto f = ex.submit([](std::string a, int b) { return a + std::to_string(b); }, s, 7);
    s = "changed";
    std::string r = f.get();
    ck_assert_str_eq(r.c_str(), "abc7");
    auto p = std::make_unique<int>(5);
    auto g = ex.submit([](std::unique_ptr<int> q) { return *q + 1; }, std::move(p));
    ck_assert_ptr_null(p.get());
    ck_assert_int_eq(g.get(), 6);
    /* A plain function pointer with an argument. */
    auto h = ex.submit(fib_seq, 10);
    ck_assert_int_eq(h.get(), 55);
    /* A member function with its object (std::invoke rules). */
    struct adder {
        int base;
        int
        add(int x) const
        {
            return base + x;
        }
    };
    auto m = ex.submit(&adder::add, adder{30}, 12);
    ck_assert_int_eq(m.get(), 42);
}
END_TEST

START_TEST(submit_void)
{
    wse::executor ex(1);
    std::atomic<int> ran{0};
    wse::future<void> f = ex.submit([&ran] { ran.fetch_add(1); });
    f.get();
    ck_assert_int_eq(ran.load(), 1);
    ck_assert(f.state() == wse::state::done);
}
END_TEST

START_TEST(move_only_result)
{
    wse::executor ex(2);
    auto f = ex.submit([] { return std::make_unique<std::string>("moved"); });
    std::unique_ptr<std::string> p = f.get();
    ck_assert_ptr_nonnull(p.get());
    ck_assert_str_eq(p->c_str(), "moved");
}
END_TEST

START_TEST(small_noexcept_task_lives_in_the_c_future)
{
    wse::executor ex(2);
    int x = 41;
    /* A noexcept lambda capturing one reference, returning an int: no block, the
     * value is in the C future's own slot. */
    auto f = ex.submit([&x]() noexcept { return x + 1; });
    f.wait();
    void *slot = wse_future_value(f.native_handle());
    int in_slot = 0;
    std::memcpy(&in_slot, &slot, sizeof in_slot);
    ck_assert_int_eq(in_slot, 42);
    ck_assert_int_eq(f.get(), 42);
    bool threw = false;
    try {
        (void)f.get();
    } catch (const std::future_error &e) {
        threw = e.code() == std::future_errc::future_already_retrieved;
    }
    ck_assert(threw);

    std::atomic<int> ran{0};
    wse::future<void> v = ex.submit([&ran]() noexcept { ran.fetch_add(1); });
    v.get();
    ck_assert_int_eq(ran.load(), 1);
    auto d = ex.submit([]() noexcept { return 2.5; });
    ck_assert(d.get() == 2.5);
    auto s = ex.submit([]() noexcept { return -7L; }).share();
    auto s2 = s;
    ck_assert_int_eq(s.get(), -7);
    ck_assert_int_eq(s2.get(), -7);
    /* Cancelled before it ran: nothing to free, get() throws. */
    gate g;
    wse::executor one(1);
    g.block(one);
    auto c = one.submit([&ran]() noexcept { ran.fetch_add(1); });
    ck_assert(c.cancel());
    threw = false;
    try {
        c.get();
    } catch (const wse::cancelled_error &) {
        threw = true;
    }
    ck_assert(threw);
    g.open();
    one.shutdown();
    ck_assert_int_eq(ran.load(), 1);
}
END_TEST

START_TEST(get_twice_and_empty_future)
{
    wse::executor ex(1);
    auto f = ex.submit([] { return 1; });
    ck_assert_int_eq(f.get(), 1);
    bool threw = false;
    try {
        (void)f.get();
    } catch (const std::future_error &e) {
        threw = e.code() == std::future_errc::future_already_retrieved;
    }
    ck_assert(threw);

    wse::future<int> empty;
    ck_assert(!empty.valid());
    ck_assert(empty.state() == wse::state::pending);
    ck_assert(!empty.done());
    threw = false;
    try {
        (void)empty.get();
    } catch (const std::future_error &e) {
        threw = e.code() == std::future_errc::no_state;
    }
    ck_assert(threw);

    wse::future<int> moved = std::move(f);
    ck_assert(!f.valid()); // NOLINT(bugprone-use-after-move): moved-from is empty
    ck_assert(moved.valid());
    ck_assert(moved.done());
}
END_TEST

START_TEST(shared_future_reads_many_times)
{
    wse::executor ex(2);
    wse::shared_future<std::string> s = ex.submit([] { return std::string("shared"); }).share();
    wse::shared_future<std::string> t = s;
    std::vector<wse::shared_future<std::string>> copies(8, s);
    std::atomic<int> good{0};
    std::vector<wse::future<void>> readers;
    for (auto &c : copies)
        readers.push_back(ex.submit([c, &good] {
            if (c.get() == "shared")
                good.fetch_add(1);
        }));
    for (auto &r : readers)
        r.get();
    ck_assert_int_eq(good.load(), 8);
    ck_assert_str_eq(s.get().c_str(), "shared");
    ck_assert_ptr_eq(&s.get(), &t.get()); /* one result, in place */
}
END_TEST

/* ---- Errors -------------------------------------------------------------------- */

START_TEST(exception_is_rethrown_by_get)
{
    wse::executor ex(2);
    auto f = ex.submit([]() -> int { throw custom_error(17); });
    int detail = 0;
    try {
        (void)f.get();
    } catch (const custom_error &e) {
        detail = e.detail;
    }
    ck_assert_int_eq(detail, 17);
    ck_assert(f.state() == wse::state::failed);
    ck_assert_int_eq(f.error(), wse::exception_code);
    ck_assert_int_eq(wse_future_error(f.native_handle()), wse::exception_code);

    /* A void task, and a shared future rethrows the same exception each time. */
    auto s = ex.submit([] { throw std::out_of_range("oor"); }).share();
    for (int i = 0; i < 2; i++) {
        bool caught = false;
        try {
            s.get();
        } catch (const std::out_of_range &e) {
            caught = std::string(e.what()) == "oor";
        }
        ck_assert(caught);
    }
}
END_TEST

START_TEST(exception_counts_as_failure_for_first_exception)
{
    wse::executor ex(2);
    gate g;
    std::vector<wse::future<int>> fs;
    fs.push_back(ex.submit([&g]() -> int {
        while (!g.is_open.load())
            std::this_thread::yield();
        return 1;
    }));
    fs.push_back(ex.submit([]() -> int { throw custom_error(1); }));
    auto [done, not_done] = wse::wait(fs, wse::return_when::first_exception);
    ck_assert_uint_eq(done.size(), 1);
    ck_assert_uint_eq(done[0], 1);
    ck_assert_uint_eq(not_done.size(), 1);
    ck_assert_uint_eq(not_done[0], 0);
    g.open();
    ck_assert_int_eq(fs[0].get(), 1);
}
END_TEST

START_TEST(c_error_code_throws_system_error)
{
    wse::executor ex(1);
    wse_future *raw;
    ck_assert_int_eq(wse_submit(ex.native_handle(), c_task_eio, nullptr, &raw), 0);
    auto f = wse::future<void *>::adopt(raw);
    int code = 0;
    try {
        (void)f.get();
    } catch (const std::system_error &e) {
        code = e.code().value();
        ck_assert(e.code().category() == std::generic_category());
    }
    ck_assert_int_eq(code, EIO);

    int v = 3;
    ck_assert_int_eq(wse_submit(ex.native_handle(), c_task_value, &v, &raw), 0);
    auto g = wse::future<void *>::adopt(raw);
    ck_assert_ptr_eq(g.get(), &v);
}
END_TEST

START_TEST(executor_create_failure_throws)
{
    wse::options o;
    o.workers = 5000;
    int code = 0;
    try {
        wse::executor ex(o);
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(code, EINVAL);
}
END_TEST

START_TEST(submit_after_shutdown_throws_eshutdown)
{
    wse::executor ex(1);
    ex.shutdown();
    int code = 0;
    try {
        (void)ex.submit([] { return 1; });
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(code, ESHUTDOWN);

    /* An empty executor_ref: EINVAL, nothing leaked. */
    wse::executor_ref none;
    ck_assert(!none);
    code = 0;
    try {
        (void)none.submit([] {});
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(code, EINVAL);
}
END_TEST

START_TEST(submit_whose_copy_throws_submits_nothing)
{
    struct copy_throws {
        int n = 0;
        copy_throws() = default;
        copy_throws(const copy_throws &)
        {
            throw std::length_error("copy");
        }
        int
        operator()(const tracked &t) const
        {
            return n + t.v;
        }
    };
    wse::executor ex(1);
    copy_throws c;
    bool caught = false;
    try {
        (void)ex.submit(c, tracked(1)); /* the callable's copy throws: block freed */
    } catch (const std::length_error &) {
        caught = true;
    }
    ck_assert(caught);
    ck_assert_int_eq(tracked::live.load(), 0);
    caught = false;
    try {
        /* The argument's copy throws after the callable was built: both go. */
        (void)ex.submit([t = tracked(2)](const copy_throws &) { return t.v; }, c);
    } catch (const std::length_error &) {
        caught = true;
    }
    ck_assert(caught);
    ck_assert_int_eq(tracked::live.load(), 0);
    ex.shutdown();
}
END_TEST

/* ---- Cancel ---------------------------------------------------------------------- */

START_TEST(cancel_pending_task)
{
    wse::executor ex(1);
    gate g;
    g.block(ex);
    std::atomic<int> ran{0};
    auto f = ex.submit([&ran, t = tracked(1)] {
        ran.fetch_add(1);
        return t.v;
    });
    ck_assert(f.state() == wse::state::pending);
    ck_assert(f.cancel());
    ck_assert(!f.cancel());
    ck_assert(f.state() == wse::state::cancelled);
    ck_assert_int_eq(f.error(), ECANCELED);
    bool caught = false;
    try {
        (void)f.get();
    } catch (const wse::cancelled_error &e) {
        caught = e.code().value() == ECANCELED;
    }
    ck_assert(caught);
    g.open();
    ex.shutdown();
    ck_assert_int_eq(ran.load(), 0);
    /* The callable (and its tracked capture) dies with the block. */
    ck_assert_int_eq(tracked::live.load(), 1);
    f = wse::future<int>();
    ck_assert_int_eq(tracked::live.load(), 0);
}
END_TEST

START_TEST(cancel_running_task_fails_and_it_finishes)
{
    wse::executor ex(1);
    gate g;
    g.block(ex);
    ck_assert(!g.held[0].cancel());
    ck_assert(g.held[0].state() == wse::state::running);
    g.open();
    g.held[0].get();
}
END_TEST

START_TEST(shutdown_cancel_pending_frees_dropped_tasks)
{
    std::atomic<int> ran{0};
    {
        wse::executor ex(1);
        gate g;
        g.block(ex);
        for (int i = 0; i < 20; i++)
            (void)ex.submit([&ran, t = tracked(i)] { ran.fetch_add(1); });
        ck_assert_int_eq(tracked::live.load(), 20);
        auto kept = ex.submit([t = tracked(99)] { return t.v; });
        ex.shutdown(false, true);
        ck_assert(kept.state() == wse::state::cancelled);
        /* Dropped futures: their blocks were freed by the cancellation. */
        ck_assert_int_eq(tracked::live.load(), 1);
        g.open();
    }
    ck_assert_int_eq(ran.load(), 0);
    ck_assert_int_eq(tracked::live.load(), 0);
}
END_TEST

/* ---- wait() ---------------------------------------------------------------------- */

START_TEST(wait_all_completed)
{
    wse::executor ex(2);
    std::vector<wse::future<int>> fs;
    for (int i = 0; i < 20; i++)
        fs.push_back(ex.submit([i] { return i * i; }));
    auto r = wse::wait(fs);
    ck_assert_uint_eq(r.done.size(), 20);
    ck_assert_uint_eq(r.not_done.size(), 0);
    for (std::size_t i = 0; i < r.done.size(); i++)
        ck_assert_uint_eq(r.done[i], i);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(fs[static_cast<std::size_t>(i)].get(), i * i);
}
END_TEST

START_TEST(wait_first_completed_and_timeout)
{
    wse::executor ex(2);
    gate g;
    std::vector<wse::future<int>> fs;
    fs.push_back(ex.submit([&g] {
        while (!g.is_open.load())
            std::this_thread::yield();
        return 0;
    }));
    fs.push_back(ex.submit([] { return 1; }));
    auto [done, not_done] = wse::wait(fs, wse::return_when::first_completed);
    ck_assert_uint_eq(done.size(), 1);
    ck_assert_uint_eq(done[0], 1);
    ck_assert_uint_eq(not_done.size(), 1);
    ck_assert_uint_eq(not_done[0], 0);

    /* A timeout is no error: the pending one is in not_done, nothing cancelled. */
    auto t0 = std::chrono::steady_clock::now();
    auto r = wse::wait(fs, wse::return_when::all_completed, 50ms);
    ck_assert(std::chrono::steady_clock::now() - t0 >= 45ms);
    ck_assert_uint_eq(r.done.size(), 1);
    ck_assert_uint_eq(r.not_done.size(), 1);
    ck_assert_uint_eq(r.not_done[0], 0);
    ck_assert(!fs[0].wait_for(10ms));
    ck_assert(!fs[0].wait_until(std::chrono::steady_clock::now() + 10ms));
    ck_assert(!fs[0].wait_for(-5s)); /* a negative timeout polls */
    ck_assert(!fs[0].done());
    /* Poll. */
    r = wse::wait(fs, wse::return_when::first_exception, 0s);
    ck_assert_uint_eq(r.done.size(), 1);
    g.open();
    ck_assert(fs[0].wait_for(60s));
    ck_assert_int_eq(fs[0].get(), 0);
}
END_TEST

START_TEST(wait_first_exception_ignores_cancelled)
{
    wse::executor ex(1);
    gate g;
    g.block(ex);
    std::vector<wse::future<int>> fs;
    fs.push_back(ex.submit([] { return 1; }));
    fs.push_back(ex.submit([] { return 2; }));
    ck_assert(fs[0].cancel());
    /* A cancelled future is no exception: with the other still pending, the wait
     * times out. */
    auto r = wse::wait(fs, wse::return_when::first_exception, 20ms);
    ck_assert_uint_eq(r.done.size(), 1);
    ck_assert_uint_eq(r.done[0], 0);
    g.open();
    r = wse::wait(fs, wse::return_when::first_exception);
    ck_assert_uint_eq(r.done.size(), 2);
    ck_assert_int_eq(fs[1].get(), 2);
}
END_TEST

START_TEST(wait_mixed_ranges_and_errors)
{
    wse::executor ex(2);
    auto a = ex.submit([] { return 1; });
    auto b = ex.submit([] {});
    auto c = ex.submit([] { return std::string("c"); }).share();
    /* Pointers to futures of different types, duplicates allowed. */
    std::array<wse::future_base *, 4> mixed{&a, &b, &c, &a};
    auto r = wse::wait(mixed);
    ck_assert_uint_eq(r.done.size(), 4);
    wse::wait_all(a, b, c);
    ck_assert_uint_lt(wse::wait_any(a, b, c), 3);
    /* A braced list of pointers. */
    auto [d2, nd2] = wse::wait({&a, &b, &c}, wse::return_when::first_completed, 10s);
    ck_assert_uint_eq(d2.size(), 3);
    ck_assert_uint_eq(nd2.size(), 0);
    /* Empty range: at once, empty answer. */
    std::vector<wse::future<int>> none;
    r = wse::wait(none, wse::return_when::first_completed);
    ck_assert(r.done.empty() && r.not_done.empty());
    /* An empty future in the range: EINVAL. */
    std::vector<wse::future<int>> with_empty(1);
    int code = 0;
    try {
        (void)wse::wait(with_empty);
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(code, EINVAL);
}
END_TEST

START_TEST(wait_own_future_is_edeadlk)
{
    wse::executor ex(1);
    std::atomic<wse_future *> self{nullptr};
    std::atomic<int> code{0};
    auto f = ex.submit([&self, &code] {
        wse_future *me;
        while ((me = self.load()) == nullptr)
            std::this_thread::yield();
        std::array<wse_future *, 1> one{me};
        try {
            (void)wse::wait(one);
        } catch (const std::system_error &e) {
            code.store(e.code().value());
        }
    });
    self.store(f.native_handle());
    f.get();
    ck_assert_int_eq(code.load(), EDEADLK);
}
END_TEST

START_TEST(get_own_future_is_edeadlk_and_keeps_the_result)
{
    wse::executor ex(1);
    std::atomic<wse::future<int> *> self{nullptr};
    std::atomic<int> code{0};
    wse::future<int> f = ex.submit([&self, &code] {
        wse::future<int> *me;
        while ((me = self.load()) == nullptr)
            std::this_thread::yield();
        try {
            (void)me->get();
        } catch (const std::system_error &e) {
            code.store(e.code().value());
        }
        return 5;
    });
    self.store(&f);
    f.wait();
    ck_assert_int_eq(code.load(), EDEADLK);
    ck_assert_int_eq(f.get(), 5); /* the failed wait consumed nothing */
}
END_TEST

/* ---- Fork-join --------------------------------------------------------------------- */

START_TEST(nested_fork_join_one_worker)
{
    wse::executor ex(1);
    auto f = ex.submit(fib, 18);
    ck_assert_int_eq(f.get(), fib_seq(18));
    /* The same with the wait sugar, from several outside threads at once. */
    std::vector<std::thread> ts;
    std::atomic<int> good{0};
    for (int i = 0; i < 3; i++)
        ts.emplace_back([&ex, &good] {
            auto g = ex.submit(fib, 14);
            wse::wait_all(g);
            if (g.get() == fib_seq(14))
                good.fetch_add(1);
        });
    for (auto &t : ts)
        t.join();
    ck_assert_int_eq(good.load(), 3);
}
END_TEST

START_TEST(current_executor_outside_and_inside)
{
    ck_assert(!wse::current_executor());
    wse::executor ex(2);
    auto f = ex.submit([] { return wse::current_executor().native_handle(); });
    ck_assert_ptr_eq(f.get(), ex.native_handle());
}
END_TEST

/* ---- Ownership ---------------------------------------------------------------------- */

START_TEST(results_and_callables_destroyed_once)
{
    {
        wse::executor ex(2);
        std::vector<wse::future<tracked>> kept;
        for (int i = 0; i < 50; i++) {
            kept.push_back(ex.submit([t = tracked(i)] { return tracked(t.v + 1); }));
            (void)ex.submit([t = tracked(i)] { (void)t; }); /* dropped at once */
        }
        (void)wse::wait(kept);
        ck_assert_int_eq(kept[7].get().v, 8);
        /* 50 results kept; every callable destroyed after it ran. */
        ex.shutdown();
        ck_assert_int_eq(tracked::live.load(), 50);
    }
    ck_assert_int_eq(tracked::live.load(), 0);
}
END_TEST

START_TEST(futures_dropped_while_tasks_complete)
{
    /* Each future is dropped at once, while its task may be completing on another
     * thread: the block is freed exactly once, by whichever side is last. */
    const int n = 5000;
    {
        wse::executor ex(2);
        for (int i = 0; i < n; i++) {
            auto f = ex.submit([i] { return tracked(i); });
            if (i % 3 == 0)
                std::this_thread::yield(); /* vary who wins */
        }
    }
    ck_assert_int_eq(tracked::live.load(), 0);
}
END_TEST

START_TEST(futures_outlive_executor)
{
    wse::future<std::string> f;
    wse::shared_future<int> s;
    wse::future<int> never_read;
    {
        wse::executor ex(2);
        f = ex.submit([] { return std::string(100, 'x'); });
        s = ex.submit([] { return 5; }).share();
        never_read = ex.submit([t = tracked(3)] { return t.v; });
    } /* destroy runs everything queued */
    ck_assert(f.done());
    ck_assert_uint_eq(f.get().size(), 100);
    wse::shared_future<int> s2 = s;
    ck_assert_int_eq(s2.get(), 5);
    ck_assert_int_eq(tracked::live.load(), 0); /* the callable died after its run */
}
END_TEST

START_TEST(executor_move)
{
    wse::executor a(1);
    wse_executor *h = a.native_handle();
    wse::executor b(std::move(a));
    ck_assert_ptr_null(a.native_handle()); // NOLINT(bugprone-use-after-move)
    ck_assert_ptr_eq(b.native_handle(), h);
    wse::executor c(1);
    c = std::move(b);
    ck_assert_ptr_eq(c.native_handle(), h);
    ck_assert_int_eq(c.submit([] { return 9; }).get(), 9);
}
END_TEST

START_TEST(shutdown_wait_from_own_worker_is_edeadlk)
{
    wse::executor ex(1);
    wse::executor_ref ref = ex;
    auto f = ex.submit([ref] {
        int code = 0;
        try {
            ref.shutdown(true, false);
        } catch (const std::system_error &e) {
            code = e.code().value();
        }
        return code;
    });
    ck_assert_int_eq(f.get(), EDEADLK);
    /* Nothing was changed: the executor still takes work. */
    ck_assert_int_eq(ex.submit([] { return 4; }).get(), 4);
}
END_TEST

/* ---- API 0.2: promises, dependencies, stop, as_completed, workers ---------------- */
#if WSE_VERSION_MINOR >= 2

START_TEST(promise_set_value_from_another_thread)
{
    wse::promise<std::unique_ptr<int>> p;
    wse::future<std::unique_ptr<int>> f = p.get_future();
    bool threw = false;
    try {
        (void)p.get_future();
    } catch (const std::future_error &e) {
        threw = e.code() == std::future_errc::future_already_retrieved;
    }
    ck_assert(threw);
    ck_assert(f.state() == wse::state::pending);
    ck_assert(!f.wait_for(1ms));
    std::thread t([&p] { p.set_value(std::make_unique<int>(8)); });
    std::unique_ptr<int> v = f.get();
    t.join();
    ck_assert_int_eq(*v, 8);
    threw = false;
    try {
        p.set_value(std::make_unique<int>(9));
    } catch (const std::future_error &e) {
        threw = e.code() == std::future_errc::promise_already_satisfied;
    }
    ck_assert(threw);

    wse::promise<void> pv;
    auto fv = pv.get_future();
    pv.set_value();
    fv.get();
    ck_assert(fv.state() == wse::state::done);
}
END_TEST

START_TEST(promise_concurrent_sets_one_wins)
{
    for (int round = 0; round < 20; round++) {
        wse::promise<int> p;
        auto f = p.get_future();
        std::atomic<int> won{0};
        std::atomic<int> lost{0};
        std::vector<std::thread> ts;
        for (int i = 0; i < 4; i++)
            ts.emplace_back([&p, &won, &lost, i] {
                try {
                    if (i % 2 == 0)
                        p.set_value(i);
                    else
                        p.set_error(EIO);
                    won.fetch_add(1);
                } catch (const std::future_error &e) {
                    if (e.code() == std::future_errc::promise_already_satisfied)
                        lost.fetch_add(1);
                }
            });
        for (auto &t : ts)
            t.join();
        ck_assert_int_eq(won.load(), 1);
        ck_assert_int_eq(lost.load(), 3);
        ck_assert(f.done());
    }

    /* A value whose copy throws leaves the promise unset. */
    struct copy_throws {
        copy_throws() = default;
        copy_throws(const copy_throws &)
        {
            throw std::length_error("copy");
        }
        copy_throws(copy_throws &&) = default;
    };
    wse::promise<copy_throws> q;
    auto g = q.get_future();
    copy_throws c;
    bool caught = false;
    try {
        q.set_value(c);
    } catch (const std::length_error &) {
        caught = true;
    }
    ck_assert(caught);
    ck_assert(g.state() == wse::state::pending);
    q.set_value(copy_throws());
    (void)g.get();
}
END_TEST

START_TEST(promise_exception_error_and_broken)
{
    wse::promise<int> p;
    auto f = p.get_future();
    p.set_exception(std::make_exception_ptr(custom_error(4)));
    int detail = 0;
    try {
        (void)f.get();
    } catch (const custom_error &e) {
        detail = e.detail;
    }
    ck_assert_int_eq(detail, 4);
    ck_assert(f.state() == wse::state::failed);
    ck_assert_int_eq(f.error(), wse::exception_code);

    wse::promise<int> q;
    auto g = q.get_future();
    q.set_error(EIO);
    int code = 0;
    try {
        (void)g.get();
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(code, EIO);

    wse::future<std::string> h;
    {
        wse::promise<std::string> r;
        h = r.get_future();
    }
    bool broken = false;
    try {
        (void)h.get();
    } catch (const std::future_error &e) {
        broken = e.code() == std::future_errc::broken_promise;
    }
    ck_assert(broken);
}
END_TEST

START_TEST(promise_cancelled_then_set_and_no_leak)
{
    {
        wse::promise<tracked> p;
        auto f = p.get_future();
        ck_assert(f.cancel());
        bool threw = false;
        try {
            p.set_value(tracked(1));
        } catch (const std::future_error &e) {
            threw = e.code() == std::future_errc::promise_already_satisfied;
        }
        ck_assert(threw);
        ck_assert_int_eq(tracked::live.load(), 0);
    }
    {
        /* Future dropped first, then the promise set: the value dies with the block. */
        wse::promise<tracked> p;
        (void)p.get_future();
        p.set_value(tracked(2));
        ck_assert_int_eq(tracked::live.load(), 1);
    }
    ck_assert_int_eq(tracked::live.load(), 0);
    {
        /* Promise set and dropped first; the future reads it later. */
        wse::future<tracked> f;
        {
            wse::promise<tracked> p;
            f = p.get_future();
            p.set_value(tracked(3));
        }
        ck_assert_int_eq(f.get().v, 3);
    }
    ck_assert_int_eq(tracked::live.load(), 0);
}
END_TEST

START_TEST(promise_mixes_with_tasks_in_wait)
{
    wse::executor ex(2);
    wse::promise<int> p;
    auto pf = p.get_future();
    auto t = ex.submit([] { return 1; });
    std::array<wse::future_base *, 2> both{&pf, &t};
    auto r = wse::wait(both, wse::return_when::all_completed, 20ms);
    ck_assert_uint_eq(r.not_done.size(), 1);
    ck_assert_uint_eq(r.not_done[0], 0);
    p.set_value(5);
    r = wse::wait(both);
    ck_assert_uint_eq(r.done.size(), 2);
    ck_assert_int_eq(pf.get() + t.get(), 6);
}
END_TEST

START_TEST(submit_after_runs_when_deps_are_done)
{
    wse::executor ex(2);
    wse::promise<int> gate_p;
    auto dep_p = gate_p.get_future().share();
    std::vector<wse::future<int>> deps;
    deps.push_back(ex.submit([] { return 10; }));
    deps.push_back(ex.submit([]() -> int { throw custom_error(0); }));
    std::vector<wse_future *> handles{deps[0].native_handle(), deps[1].native_handle(),
                                      dep_p.native_handle()};
    auto sum = ex.submit_after(handles, [&deps, dep_p] {
        /* Every dep is done here, the failed one included. */
        int failed = deps[1].state() == wse::state::failed ? 1 : 0;
        return deps[0].get() + dep_p.get() + failed;
    });
    ck_assert(!sum.wait_for(20ms));
    ck_assert(sum.state() == wse::state::pending);
    gate_p.set_value(100);
    ck_assert_int_eq(sum.get(), 111);

    /* A task waiting for a dep can be cancelled; it never runs. */
    wse::promise<void> never;
    auto nf = never.get_future();
    std::atomic<int> ran{0};
    std::array<wse::future_base *, 1> one{&nf};
    auto waiting = ex.submit_after(one, [&ran] { ran.fetch_add(1); });
    ck_assert(waiting.cancel());
    never.set_value();
    ex.shutdown();
    ck_assert_int_eq(ran.load(), 0);
}
END_TEST

START_TEST(request_stop_ends_a_polling_task_cancelled)
{
    wse::executor ex(2);
    std::atomic<int> started{0};
    std::atomic<bool> child_saw_stop{false};
    auto f = ex.submit([&started, &child_saw_stop] {
        auto child = wse::current_executor().submit([&started, &child_saw_stop] {
            started.fetch_add(1);
            while (!wse::stop_requested())
                std::this_thread::yield();
            child_saw_stop.store(true);
        });
        started.fetch_add(1);
        for (;;) {
            wse::throw_if_stop_requested();
            std::this_thread::yield();
        }
    });
    while (started.load() < 2)
        std::this_thread::yield();
    ck_assert(!wse::stop_requested()); /* a plain thread */
    ck_assert(f.request_stop());
    bool cancelled = false;
    try {
        f.get();
    } catch (const wse::cancelled_error &) {
        cancelled = true;
    }
    ck_assert(cancelled);
    ck_assert(f.state() == wse::state::cancelled);
    ex.shutdown();
    ck_assert(child_saw_stop.load());
    ck_assert(!f.request_stop()); /* done: nothing happens */
}
END_TEST

START_TEST(as_completed_yields_done_first_then_in_completion_order)
{
    wse::executor ex(2);
    std::vector<wse::promise<int>> ps(3);
    std::vector<wse::future<int>> fs;
    for (auto &p : ps)
        fs.push_back(p.get_future());
    ps[1].set_value(1);
    std::vector<int> order;
    auto range = wse::as_completed(fs);
    for (auto it = range.begin(); it != range.end(); ++it) {
        order.push_back(it->get());
        ck_assert_uint_eq(it.index(), static_cast<std::size_t>(order.back()));
        /* Complete the others after the iteration began: 2, from another thread,
         * then 0. */
        if (order.size() == 1)
            std::thread([&ps] { ps[2].set_value(2); }).join();
        else if (order.size() == 2)
            ps[0].set_value(0);
    }
    ck_assert_uint_eq(order.size(), 3);
    ck_assert_int_eq(order[0], 1); /* done at create */
    ck_assert_int_eq(order[1], 2); /* then in completion order */
    ck_assert_int_eq(order[2], 0);

    /* A deadline: the done ones, then ETIMEDOUT. */
    wse::promise<int> never;
    std::vector<wse::future<int>> gs;
    gs.push_back(ex.submit([] { return 7; }));
    gs.push_back(never.get_future());
    gs[0].wait();
    int seen = 0;
    int code = 0;
    try {
        for (auto &g : wse::as_completed(gs, 20ms)) {
            ck_assert_int_eq(g.get(), 7);
            seen++;
        }
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(seen, 1);
    ck_assert_int_eq(code, ETIMEDOUT);
    never.set_value(0);
    /* An empty range: nothing. */
    std::vector<wse::future<int>> none;
    for (auto &n : wse::as_completed(none)) {
        (void)n;
        ck_abort_msg("an empty range yields nothing");
    }
}
END_TEST

START_TEST(worker_index_and_hooks)
{
    ck_assert_int_eq(wse::worker_index(), -1);
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
    std::atomic<unsigned> seen_mask{0};
    {
        wse::options o;
        o.workers = 3;
        o.thread_name = "cxxtest";
        o.on_worker_start = [&](unsigned i) {
            started.fetch_add(1);
            seen_mask.fetch_or(1u << i);
        };
        o.on_worker_stop = [&](unsigned) { stopped.fetch_add(1); };
        wse::executor ex(o);
        ck_assert_int_eq(started.load(), 3); /* create returns after every start hook */
        ck_assert_uint_eq(seen_mask.load(), 7);
        std::vector<wse::future<int>> fs;
        for (int i = 0; i < 30; i++)
            fs.push_back(ex.submit([] { return wse::worker_index(); }));
        for (auto &f : fs) {
            int w = f.get();
            ck_assert(w >= 0 && w < 3);
        }
        ck_assert_int_eq(stopped.load(), 0);
    }
    ck_assert_int_eq(stopped.load(), 3);
}
END_TEST

/* stats() counts the tasks; the recorder writes a file, and a write before any
 * start throws EINVAL. */
START_TEST(stats_and_trace)
{
    wse::executor ex(2);
    char path[64];

    std::snprintf(path, sizeof path, "/tmp/wse-cxx-trace-%ld.json", static_cast<long>(getpid()));
    try {
        ex.trace_write(path);
        ck_abort_msg("trace_write before trace_start did not throw");
    } catch (const std::system_error &e) {
        ck_assert_int_eq(e.code().value(), EINVAL);
    }
    wse_stats before = ex.stats();
    ex.trace_start();
    std::vector<wse::future<int>> fs;
    for (int i = 0; i < 20; i++)
        fs.push_back(ex.submit([i] { return i; }));
    for (auto &f : fs)
        f.get();
    ex.trace_stop();
    ex.trace_write(path);
    wse_stats after = ex.stats();
    ck_assert_uint_eq(after.tasks - before.tasks, 20);
    FILE *in = std::fopen(path, "r");
    ck_assert_ptr_nonnull(in);
    char head[32] = {0};
    ck_assert_uint_gt(std::fread(head, 1, sizeof head - 1, in), 0);
    std::fclose(in);
    ck_assert_ptr_nonnull(std::strstr(head, "displayTimeUnit"));
    std::remove(path);
}
END_TEST

/* The options reach wse_options: a bad spin_us throws EINVAL; with caller_runs
 * this thread runs the task it waits on while the one worker is busy. */
START_TEST(spin_us_and_caller_runs_options)
{
    {
        wse::options o;
        o.workers = 1;
        o.spin_us = WSE_MAX_SPIN_US + 1;
        bool threw = false;
        try {
            wse::executor ex(o);
        } catch (const std::system_error &e) {
            threw = e.code().value() == EINVAL;
        }
        ck_assert(threw);
    }
    wse::options o;
    o.workers = 1;
    o.spin_us = 50;
    o.caller_runs = true;
    wse::executor ex(o);
    std::atomic<bool> open{false};
    auto held = ex.submit([&] {
        while (!open.load())
            std::this_thread::yield();
        return 0;
    });
    while (held.state() != wse::state::running)
        std::this_thread::yield();
    auto me = std::this_thread::get_id();
    auto f = ex.submit([&] { return std::this_thread::get_id() == me ? 1 : 0; });
    ck_assert_int_eq(f.get(), 1);
    open.store(true);
    ck_assert_int_eq(held.get(), 0);
}
END_TEST

#endif /* WSE_VERSION_MINOR >= 2 */

int
main()
{
    Suite *s = suite_create("cxx");
    TCase *r = tcase_create("results");
    tcase_set_timeout(r, test_timeout);
    tcase_add_test(r, submit_get_int);
    tcase_add_test(r, submit_with_arguments_copies_and_moves_them);
    tcase_add_test(r, submit_void);
    tcase_add_test(r, move_only_result);
    tcase_add_test(r, small_noexcept_task_lives_in_the_c_future);
    tcase_add_test(r, get_twice_and_empty_future);
    tcase_add_test(r, shared_future_reads_many_times);
    suite_add_tcase(s, r);

    TCase *e = tcase_create("errors");
    tcase_set_timeout(e, test_timeout);
    tcase_add_test(e, exception_is_rethrown_by_get);
    tcase_add_test(e, exception_counts_as_failure_for_first_exception);
    tcase_add_test(e, c_error_code_throws_system_error);
    tcase_add_test(e, executor_create_failure_throws);
    tcase_add_test(e, submit_after_shutdown_throws_eshutdown);
    tcase_add_test(e, submit_whose_copy_throws_submits_nothing);
    suite_add_tcase(s, e);

    TCase *c = tcase_create("cancel");
    tcase_set_timeout(c, test_timeout);
    tcase_add_test(c, cancel_pending_task);
    tcase_add_test(c, cancel_running_task_fails_and_it_finishes);
    tcase_add_test(c, shutdown_cancel_pending_frees_dropped_tasks);
    suite_add_tcase(s, c);

    TCase *w = tcase_create("wait");
    tcase_set_timeout(w, test_timeout);
    tcase_add_test(w, wait_all_completed);
    tcase_add_test(w, wait_first_completed_and_timeout);
    tcase_add_test(w, wait_first_exception_ignores_cancelled);
    tcase_add_test(w, wait_mixed_ranges_and_errors);
    tcase_add_test(w, wait_own_future_is_edeadlk);
    tcase_add_test(w, get_own_future_is_edeadlk_and_keeps_the_result);
    suite_add_tcase(s, w);

    TCase *fj = tcase_create("fork_join");
    tcase_set_timeout(fj, test_timeout);
    tcase_add_test(fj, nested_fork_join_one_worker);
    tcase_add_test(fj, current_executor_outside_and_inside);
    suite_add_tcase(s, fj);

    TCase *o = tcase_create("ownership");
    tcase_set_timeout(o, test_timeout);
    tcase_add_test(o, results_and_callables_destroyed_once);
    tcase_add_test(o, futures_dropped_while_tasks_complete);
    tcase_add_test(o, futures_outlive_executor);
    tcase_add_test(o, executor_move);
    tcase_add_test(o, shutdown_wait_from_own_worker_is_edeadlk);
    suite_add_tcase(s, o);

#if WSE_VERSION_MINOR >= 2
    TCase *v2 = tcase_create("api_0_2");
    tcase_set_timeout(v2, test_timeout);
    tcase_add_test(v2, promise_set_value_from_another_thread);
    tcase_add_test(v2, promise_concurrent_sets_one_wins);
    tcase_add_test(v2, promise_exception_error_and_broken);
    tcase_add_test(v2, promise_cancelled_then_set_and_no_leak);
    tcase_add_test(v2, promise_mixes_with_tasks_in_wait);
    tcase_add_test(v2, submit_after_runs_when_deps_are_done);
    tcase_add_test(v2, request_stop_ends_a_polling_task_cancelled);
    tcase_add_test(v2, as_completed_yields_done_first_then_in_completion_order);
    tcase_add_test(v2, worker_index_and_hooks);
    tcase_add_test(v2, spin_us_and_caller_runs_options);
    tcase_add_test(v2, stats_and_trace);
    suite_add_tcase(s, v2);
#endif

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

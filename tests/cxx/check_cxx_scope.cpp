/*
 * Check suite for wse::scope (include/wsexec.hpp over wse_scope_*): the winner's
 * position under first_completed with the losers stopped, the first exception
 * rethrown under first_exception (again on a second join), the first failure's
 * position under all_completed, an empty scope, a deadline (timed_out()), submits
 * after settling and after join, the destructor's join, children submitting
 * siblings through the scope, a join inside a task (one worker), blockless tasks,
 * and futures dropped before their children finish (nothing leaks, under ASan/LSan).
 *
 * Tasks never call ck_assert (they run on worker threads): they record what they see
 * in atomics, and the test thread checks them.
 */
#include <wsexec.hpp>

#include <check.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace
{

constexpr int test_timeout = 60; /* per test case; CK_TIMEOUT_MULTIPLIER scales it */

/* Spins until a stop is requested (at most 30 s), then throws cancelled_error. */
struct losers {
    std::atomic<int> entered{0};
    std::atomic<int> stopped{0};
    std::atomic<int> bad{0};

    void
    run()
    {
        entered.fetch_add(1);
        auto limit = std::chrono::steady_clock::now() + 30s;
        while (!wse::stop_requested()) {
            if (std::chrono::steady_clock::now() > limit) {
                bad.fetch_add(1);
                return;
            }
            std::this_thread::yield();
        }
        stopped.fetch_add(1);
        throw wse::cancelled_error();
    }
    void
    wait_entered(int n) const
    {
        while (entered.load() < n)
            std::this_thread::yield();
    }
};

START_TEST(first_completed_returns_the_winner_and_stops_the_losers)
{
    wse::executor ex(3);
    losers l;
    std::atomic<bool> go{false};
    wse::scope sc(ex, wse::return_when::first_completed);
    auto a = sc.submit([&l] { l.run(); });
    auto b = sc.submit([&l] { l.run(); });
    l.wait_entered(2);
    auto w = sc.submit([&go] {
        while (!go.load())
            std::this_thread::yield();
        return 7;
    });
    go.store(true);
    std::optional<std::size_t> won = sc.join();
    ck_assert(won.has_value());
    ck_assert_uint_eq(*won, 2);
    ck_assert(!sc.timed_out());
    ck_assert_int_eq(w.get(), 7);
    ck_assert(a.state() == wse::state::cancelled);
    ck_assert(b.state() == wse::state::cancelled);
    ck_assert_int_eq(l.stopped.load(), 2);
    ck_assert_int_eq(l.bad.load(), 0);
    bool threw = false;
    try {
        a.get();
    } catch (const wse::cancelled_error &) {
        threw = true;
    }
    ck_assert(threw);
}
END_TEST

START_TEST(first_exception_rethrows_and_stops_the_rest)
{
    wse::executor ex(3);
    losers l;
    wse::scope sc(ex, wse::return_when::first_exception);
    auto a = sc.submit([&l] { l.run(); });
    l.wait_entered(1);
    auto bad = sc.submit([]() -> int { throw std::domain_error("bad input"); });
    for (int k = 0; k < 2; k++) { /* a second join answers the same */
        bool threw = false;
        try {
            (void)sc.join();
        } catch (const std::domain_error &e) {
            threw = std::string(e.what()) == "bad input";
        }
        ck_assert(threw);
    }
    ck_assert(a.state() == wse::state::cancelled);
    ck_assert(bad.state() == wse::state::failed);
    ck_assert_int_eq(l.bad.load(), 0);
}
END_TEST

START_TEST(first_exception_without_failure_returns_nullopt)
{
    wse::executor ex(2);
    wse::scope sc(ex, wse::return_when::first_exception);
    std::vector<wse::future<int>> fs;
    for (int i = 0; i < 10; i++)
        fs.push_back(sc.submit([i] { return i * i; }));
    ck_assert(!sc.join().has_value());
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(fs[static_cast<std::size_t>(i)].get(), i * i);
}
END_TEST

START_TEST(all_completed_reports_the_first_failure_by_position)
{
    wse::executor ex(1); /* one worker: children run in submission order */
    wse::scope sc(ex, wse::return_when::all_completed);
    std::vector<wse::future<int>> fs;
    for (int i = 0; i < 6; i++)
        fs.push_back(sc.submit([i]() -> int {
            if (i == 2 || i == 4)
                throw std::runtime_error("no");
            return i;
        }));
    std::optional<std::size_t> first = sc.join(); /* no rethrow under all_completed */
    ck_assert(first.has_value());
    ck_assert_uint_eq(*first, 2);
    ck_assert_int_eq(fs[5].get(), 5);
    ck_assert(fs[4].state() == wse::state::failed);
}
END_TEST

START_TEST(empty_scope_joins_at_once)
{
    wse::executor ex(1);
    wse::scope sc(ex, wse::return_when::first_completed, 0ms);
    ck_assert(!sc.join().has_value());
    ck_assert(!sc.timed_out());
}
END_TEST

START_TEST(deadline_stops_everything_and_says_so)
{
    wse::executor ex(2);
    losers l;
    auto t0 = std::chrono::steady_clock::now();
    wse::scope sc(ex, wse::return_when::all_completed, 50ms);
    auto a = sc.submit([&l] { l.run(); });
    auto b = sc.submit([&l] { l.run(); });
    ck_assert(!sc.join().has_value());
    ck_assert(sc.timed_out());
    ck_assert(std::chrono::steady_clock::now() - t0 >= 49ms);
    ck_assert(a.state() == wse::state::cancelled);
    ck_assert(b.state() == wse::state::cancelled);
    ck_assert_int_eq(l.bad.load(), 0);
}
END_TEST

START_TEST(submit_after_settle_and_after_join_throws)
{
    wse::executor ex(2);
    losers l;
    wse::scope sc(ex, wse::return_when::first_completed);
    auto a = sc.submit([&l] { l.run(); });
    l.wait_entered(1);
    auto w = sc.submit([] { return 1; });
    while (a.state() != wse::state::cancelled) /* the settle stopped it */
        std::this_thread::yield();
    bool cancelled = false;
    try {
        (void)sc.submit([] { return 2; });
    } catch (const wse::cancelled_error &) {
        cancelled = true;
    }
    ck_assert(cancelled);
    ck_assert_uint_eq(*sc.join(), 1);
    int code = 0;
    try {
        (void)sc.submit([] { return 3; });
    } catch (const std::system_error &e) {
        code = e.code().value();
    }
    ck_assert_int_eq(code, EINVAL);
}
END_TEST

START_TEST(destructor_joins_and_futures_may_go_first)
{
    wse::executor ex(2);
    std::atomic<int> done{0};
    std::vector<wse::future<void>> kept;
    {
        wse::scope sc(ex);
        for (int i = 0; i < 8; i++) {
            auto f = sc.submit([&done] {
                std::this_thread::sleep_for(5ms);
                done.fetch_add(1);
            });
            if (i % 2 == 0)
                kept.push_back(std::move(f)); /* the others are dropped at once */
        }
    }
    ck_assert_int_eq(done.load(), 8); /* nothing outlived the scope */
    for (auto &f : kept)
        ck_assert(f.state() == wse::state::done);
}
END_TEST

/* Each node of a binary tree of depth 4 submits its two children through the scope. */
void
grow(wse::scope &sc, std::atomic<int> &runs, int depth)
{
    runs.fetch_add(1);
    if (depth == 0)
        return;
    for (int c = 0; c < 2; c++)
        (void)sc.submit([&sc, &runs, depth] { grow(sc, runs, depth - 1); });
}

START_TEST(children_submit_siblings)
{
    wse::executor ex(2);
    std::atomic<int> runs{0};
    wse::scope sc(ex);
    (void)sc.submit([&sc, &runs] { grow(sc, runs, 4); });
    ck_assert(!sc.join().has_value());
    ck_assert_int_eq(runs.load(), 31);
}
END_TEST

START_TEST(join_inside_a_task_on_one_worker)
{
    wse::executor ex(1);
    auto f = ex.submit([] {
        wse::scope sc(wse::current_executor(), wse::return_when::first_completed);
        std::vector<wse::future<long>> fs;
        for (long i = 1; i <= 8; i++)
            fs.push_back(sc.submit([i] { return i * 10; }));
        std::optional<std::size_t> w = sc.join();
        return w ? fs[*w].get() : -1L;
    });
    long v = f.get();
    ck_assert(v >= 10 && v <= 80 && v % 10 == 0);
}
END_TEST

/* A noexcept callable of one pointer returning a pointer-sized value needs no block:
 * the scope still reports its position. */
START_TEST(blockless_children_have_positions)
{
    wse::executor ex(1);
    int x = 5;
    wse::scope sc(ex, wse::return_when::first_completed);
    auto f = sc.submit([p = &x]() noexcept { return *p + 1; });
    ck_assert_uint_eq(*sc.join(), 0);
    ck_assert_int_eq(f.get(), 6);
}
END_TEST

START_TEST(join_inside_a_child_throws_edeadlk)
{
    wse::executor ex(1);
    std::atomic<int> code{-1};
    wse::scope sc(ex);
    (void)sc.submit([&sc, &code] {
        try {
            (void)sc.join();
            code.store(0);
        } catch (const std::system_error &e) {
            code.store(e.code().value());
        }
    });
    ck_assert(!sc.join().has_value());
    ck_assert_int_eq(code.load(), EDEADLK);
}
END_TEST

} // namespace

int
main()
{
    Suite *s = suite_create("cxx_scope");
    TCase *tc = tcase_create("scope");
    tcase_set_timeout(tc, test_timeout);
    tcase_add_test(tc, first_completed_returns_the_winner_and_stops_the_losers);
    tcase_add_test(tc, first_exception_rethrows_and_stops_the_rest);
    tcase_add_test(tc, first_exception_without_failure_returns_nullopt);
    tcase_add_test(tc, all_completed_reports_the_first_failure_by_position);
    tcase_add_test(tc, empty_scope_joins_at_once);
    tcase_add_test(tc, deadline_stops_everything_and_says_so);
    tcase_add_test(tc, submit_after_settle_and_after_join_throws);
    tcase_add_test(tc, destructor_joins_and_futures_may_go_first);
    tcase_add_test(tc, children_submit_siblings);
    tcase_add_test(tc, join_inside_a_task_on_one_worker);
    tcase_add_test(tc, blockless_children_have_positions);
    tcase_add_test(tc, join_inside_a_child_throws_edeadlk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

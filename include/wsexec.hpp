/*
 * wsexec.hpp - a header-only C++17 interface to wsexec (include/wsexec.h).
 *
 * Usage:
 *
 *     wse::executor ex(4);                                  // 4 workers; throws on failure
 *     auto a = ex.submit([] { return 6 * 7; });             // wse::future<int>
 *     auto b = ex.submit([](int x) { return x + 1; }, 41);  // arguments are copied
 *     auto [done, not_done] = wse::wait({&a, &b}, wse::return_when::first_completed);
 *     int v = a.get() + b.get();                            // waits; rethrows the task's exception
 *
 * Inside a task, wse::current_executor() is the executor running it, so fork-join is
 * submit, then get(): a worker that waits runs other tasks meanwhile (see wse_wait()),
 * so nesting never deadlocks, even with one worker.
 *
 * Errors: a failed wsexec call throws std::system_error with its errno value
 * (std::generic_category()). A cancelled task's get() throws wse::cancelled_error.
 *
 * Exceptions belong to this header: no exception of code it wraps ever unwinds
 * through the library's C frames. Every callable it hands to the library (a task, a
 * loop body, fold or combine) runs in a trampoline that catches everything, keeps
 * the exception for get() (or the blocking loop) to rethrow, and returns a C code:
 * the C future ends FAILED with wse::exception_code (CANCELLED for a
 * cancelled_error after a stop request; a parallel_reduce_async whose combine alone
 * threw may end DONE in C, and its get() rethrows all the same). The C callbacks
 * that cannot return a code, the worker hooks of wse::options and the one that frees
 * a block, are noexcept: an exception there calls std::terminate(). (The library is
 * built with -fexceptions for C++ code that calls the C API directly with a task
 * function that throws, see wse_wait() in wsexec.h; this header does not rely on
 * it.)
 *
 * Ownership: each submit allocates one block holding the callable, its arguments and
 * the result slot (from a per-thread cache). The futures handed out own it
 * (wse::future is move-only, wse::shared_future copyable); the last of them frees it,
 * or, if the task has not finished by then, the task's completion does (a
 * wse_future_on_done() callback; if even that cannot be allocated, the last handle's
 * destructor waits for the task), so nothing leaks whether or not anybody calls get().
 * The callable is destroyed on the worker right after it returns (or with the block
 * if the task is cancelled). A noexcept, pointer-sized, trivially copyable callable
 * with a pointer-sized result needs no block: it is a plain C task (see submit()).
 * A loop future (parallel_for_async, parallel_reduce_async) owns a block the same way,
 * holding the body and the result; the body goes with the block.
 * A future stays valid after its executor is destroyed.
 *
 * Also: wse::promise, executor_ref::submit_after, future_base::request_stop with
 * wse::stop_requested(), wse::as_completed, wse::worker_index and worker hooks in
 * wse::options; wse::parallel_for and wse::parallel_reduce, blocking or as futures;
 * wse::scope. The header wraps the wsexec.h of its own release (a static_assert checks
 * it).
 * Thread safety as std::future: one future object is used by one thread at a time;
 * distinct futures (shared_future copies included) may be used concurrently.
 */
#ifndef WSEXEC_HPP
#define WSEXEC_HPP

#include <wsexec.h>

/* This header wraps the wsexec.h installed beside it, and only that one. */
static_assert(WSE_VERSION_MAJOR == 0 && WSE_VERSION_MINOR == 3,
              "wsexec.hpp was written for wsexec.h 0.3: use the two headers of one release");

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace wse
{

/*
 * The code a C++ task's future fails with when the task throws (wse_future_error()
 * on its native handle): 0x57534558, "WSEX" in ASCII, far above every errno value
 * (Linux keeps them below 4096), so C code inspecting the future can tell a C++
 * exception from an errno-style failure.
 */
inline constexpr int exception_code = 0x57534558;

/* Thrown by get() on a CANCELLED future; a std::system_error with ECANCELED. A task
 * may throw it itself to end CANCELLED after a stop request (see request_stop()). */
class cancelled_error : public std::system_error
{
  public:
    cancelled_error() : std::system_error(ECANCELED, std::generic_category(), "wsexec: cancelled")
    {
    }
};

/* Python's return_when values for wait(). */
enum class return_when {
    first_completed = WSE_FIRST_COMPLETED, /* any future is done */
    first_exception = WSE_FIRST_EXCEPTION, /* any FAILED (CANCELLED is no failure); else all */
    all_completed = WSE_ALL_COMPLETED      /* every future is done */
};

/* A future's state, as wse_state. */
enum class state {
    pending = WSE_PENDING,
    running = WSE_RUNNING,
    done = WSE_DONE,
    failed = WSE_FAILED,
    cancelled = WSE_CANCELLED
};

namespace detail
{

[[noreturn]] inline void
throw_errno(int rc, const char *what)
{
    if (rc == ECANCELED)
        throw cancelled_error();
    throw std::system_error(rc, std::generic_category(), what);
}

inline void
check(int rc, const char *what)
{
    if (rc != 0)
        throw_errno(rc, what);
}

/* Seconds for the C API: a negative duration is in the past (poll), never "forever". */
template <class Rep, class Period>
double
seconds(const std::chrono::duration<Rep, Period> &d) noexcept
{
    double s = std::chrono::duration<double>(d).count();
    return s > 0 ? s : 0.0;
}

/*
 * Blocks of up to 64 bytes (a task with a few words of captures) come from a free
 * list of the calling thread, as the library caches its futures per worker: fork-join
 * frees each block on the thread that made it, moments later, deeper than malloc's
 * own per-thread cache holds (fib: a C++ task costs 1.1-1.2 x a C task with this
 * cache, 1.5 x without; docs/performance.md). At most 256 blocks are kept per thread;
 * a thread's list is freed when the thread exits, and a block freed after that goes to
 * the heap. Under AddressSanitizer (or with WSE_CXX_BLOCK_CACHE defined to 0) every
 * block is new/delete.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WSE_CXX_BLOCK_CACHE 0 /* let AddressSanitizer see every block's free */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSE_CXX_BLOCK_CACHE 0
#endif
#endif
#ifndef WSE_CXX_BLOCK_CACHE
#define WSE_CXX_BLOCK_CACHE 1 /* define it to 0 to allocate every block with new */
#endif

struct block_cache {
    static constexpr std::size_t block_size = 64;
    static constexpr unsigned capacity = 256;
    struct node {
        node *next;
    };
    node *head;       /* free blocks of this thread */
    unsigned count;   /* length of the list */
    bool drain_armed; /* the exit hook is registered */
    bool closed;      /* the thread is exiting: no more caching */
};

inline block_cache &
thread_block_cache() noexcept
{
    static thread_local block_cache c; /* zero-initialised, trivial: no guard, no hook */
    return c;
}

struct block_cache_drain {
    ~block_cache_drain()
    {
        block_cache &c = thread_block_cache();
        c.closed = true;
        while (c.head != nullptr) {
            block_cache::node *n = c.head;
            c.head = n->next;
            ::operator delete(static_cast<void *>(n));
        }
        c.count = 0;
    }
};

inline void *
alloc_block()
{
    if (!WSE_CXX_BLOCK_CACHE)
        return ::operator new(block_cache::block_size);
    block_cache &c = thread_block_cache();
    if (c.head != nullptr) {
        block_cache::node *n = c.head;
        c.head = n->next;
        c.count--;
        return n;
    }
    return ::operator new(block_cache::block_size);
}

inline void
free_block(void *p) noexcept
{
    block_cache &c = thread_block_cache();
    if (!WSE_CXX_BLOCK_CACHE || c.closed || c.count >= block_cache::capacity) {
        ::operator delete(p);
        return;
    }
    if (!c.drain_armed) {
        c.drain_armed = true;
        static thread_local block_cache_drain drain; /* frees the list at thread exit */
        (void)drain;
    }
    auto *n = static_cast<block_cache::node *>(p);
    n->next = c.head;
    c.head = n;
    c.count++;
}

/*
 * The block shared by a task (or promise) and its futures. `handles` counts the C++
 * handles (future, shared_future, promise); the last one retires the block: at once
 * if the C future is done, else from the future's completion callback. The task side
 * writes value/error before the C future completes; readers read them only after
 * observing completion (the library's release store of the state and acquire load in
 * wse_future_state(), wse_future_wait(), wse_wait() order the two).
 */
struct box_base {
    std::atomic<unsigned> handles{1};
    std::exception_ptr error; /* the task's exception (or a promise's) */

    box_base() = default;
    box_base(const box_base &) = delete;
    box_base &operator=(const box_base &) = delete;
    virtual ~box_base() = default;

    /* n is the size of the derived type: small ones come from the thread's cache. */
    static void *
    operator new(std::size_t n)
    {
        return n <= block_cache::block_size ? alloc_block() : ::operator new(n);
    }
    static void
    operator delete(void *p, std::size_t n) noexcept
    {
        if (n <= block_cache::block_size)
            free_block(p);
        else
            ::operator delete(p);
    }
    static void *
    operator new(std::size_t n, std::align_val_t a)
    {
        return ::operator new(n, a);
    }
    static void
    operator delete(void *p, std::size_t, std::align_val_t a) noexcept
    {
        ::operator delete(p, a);
    }
};

template <class T> struct result_box : box_base {
    union {
        T value; /* alive iff has_value */
    };
    bool has_value = false;

    result_box() noexcept
    {
    }
    ~result_box() override
    {
        if (has_value)
            value.~T();
    }
    template <class... A>
    void
    emplace(A &&...a)
    {
        ::new (static_cast<void *>(std::addressof(value))) T(std::forward<A>(a)...);
        has_value = true;
    }
};

template <> struct result_box<void> : box_base {
};

/* A callable with its arguments (copied, decayed), invoked once as an rvalue. */
template <class F, class... A> struct bound {
    F fn;
    std::tuple<A...> args;
    template <class G, class... B>
    explicit bound(G &&g, B &&...b) : fn(std::forward<G>(g)), args(std::forward<B>(b)...)
    {
    }
    decltype(auto)
    operator()()
    {
        return std::apply(
            [this](A &...a) -> decltype(auto) {
                return std::invoke(std::move(fn), std::move(a)...);
            },
            args);
    }
};
template <class F> struct bound<F> {
    F fn;
    template <class G, class = std::enable_if_t<!std::is_same_v<std::decay_t<G>, bound>>>
    explicit bound(G &&g) : fn(std::forward<G>(g))
    {
    }
    decltype(auto)
    operator()()
    {
        return std::invoke(std::move(fn));
    }
};

template <class R, class C> struct task_box final : result_box<R> {
    union {
        C call; /* alive until the task ran (or the block is freed) */
    };
    bool call_alive = true;

    template <class... A> explicit task_box(A &&...a) : call(std::forward<A>(a)...)
    {
    }
    ~task_box() override
    {
        if (call_alive)
            call.~C();
    }

    /* The task: runs on a worker. Never lets an exception reach the C caller. */
    static int
    run(void *arg, void **result) noexcept
    {
        (void)result; /* the value lives in the block; the C value stays NULL */
        auto *b = static_cast<task_box *>(arg);
        int rc = 0;
        try {
            if constexpr (std::is_void_v<R>)
                b->call();
            else
                b->emplace(b->call());
        } catch (const cancelled_error &) {
            b->error = std::current_exception();
            rc = ECANCELED; /* CANCELLED after a stop request; FAILED otherwise */
        } catch (...) {
            b->error = std::current_exception();
            rc = exception_code;
        }
        b->call.~C();
        b->call_alive = false;
        return rc;
    }
};

inline void
free_box_cb(wse_future *, void *b) noexcept
{
    delete static_cast<box_base *>(b);
}

/* Drop one C++ handle: the C reference, and the block if this was the last handle.
 * known_done: the caller saw f done (get() returned or threw), no need to ask. */
inline void
drop(wse_future *f, box_base *b, bool known_done = false) noexcept
{
    /* acquire: pairs with the acq_rel decrement of every other handle, so their uses
     * of the block happen before its free. Holding the only handle, nobody can take
     * another, so the common case needs no read-modify-write. */
    if (b != nullptr && (b->handles.load(std::memory_order_acquire) == 1 ||
                         b->handles.fetch_sub(1, std::memory_order_acq_rel) == 1)) {
        if (known_done || wse_future_done(f)) {
            delete b;
        } else if (wse_future_on_done(f, free_box_cb, b) != 0) {
            /* No memory for the callback: wait for the task (it always ends:
             * runs, or is cancelled), then free. If even that fails, leak. */
            if (wse_future_wait(f, WSE_FOREVER) == 0)
                delete b;
        }
    }
    wse_future_release(f);
}

template <class T> using result_t = std::remove_cv_t<std::remove_reference_t<T>>;

template <class F, class... A>
using task_result_t = result_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>>;

template <class F, class... A>
using task_box_t = task_box<task_result_t<F, A...>, bound<std::decay_t<F>, std::decay_t<A>...>>;

/* A value that travels in the C future's own value slot (void *). */
template <class T>
struct fits_slot
    : std::bool_constant<std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(void *) &&
                         alignof(T) <= alignof(void *)> {
};
template <> struct fits_slot<void> : std::false_type {
};
template <class T> inline constexpr bool fits_slot_v = fits_slot<T>::value;

/* A result that can live in the C value slot: then get() reads it from there. */
template <class R> inline constexpr bool slot_result_v = std::is_void_v<R> || fits_slot_v<R>;

/*
 * The allocation-free task: a callable that fits the C task's arg, cannot throw
 * (no exception to store) and gives a result that fits the C value slot is passed
 * as the arg itself; the task is then exactly a C task (fib: about 5 % faster than
 * with a cached block; docs/performance.md).
 */
template <class C, class R>
inline constexpr bool slot_task_v =
    fits_slot_v<C> &&std::is_nothrow_invocable_v<C> &&slot_result_v<R>;

/* The trivially copyable T whose bytes start at p (a C value slot, an accumulator). */
template <class T>
T
load_bytes(const void *p) noexcept
{
    alignas(T) unsigned char buf[sizeof(T)];
    std::memcpy(buf, p, sizeof(T));
    return *std::launder(reinterpret_cast<T *>(buf));
}

/* The result that a task without a block (or an adopted C future) left in the C
 * future's value slot. */
template <class T>
T
from_slot(const wse_future *f) noexcept
{
    void *v = wse_future_value(f);
    return load_bytes<T>(&v);
}

template <class C, class R>
int
run_slot(void *arg, void **result) noexcept
{
    C &c = *std::launder(reinterpret_cast<C *>(&arg));
    if constexpr (std::is_void_v<R>) {
        std::invoke(std::move(c));
    } else {
        R r = std::invoke(std::move(c));
        std::memcpy(result, &r, sizeof(R)); /* *result starts NULL: the rest stays 0 */
    }
    return 0;
}

inline wse_future *
handle_of(wse_future *f) noexcept
{
    return f;
}
template <class F>
auto
handle_of(const F &f) noexcept -> decltype(f.native_handle())
{
    return f.native_handle();
}
template <class F>
auto
handle_of(F *f) noexcept -> decltype(f->native_handle())
{
    return f->native_handle();
}
template <class F>
auto
handle_of(const std::reference_wrapper<F> &f) noexcept -> decltype(f.get().native_handle())
{
    return f.get().native_handle();
}

template <class Range>
std::vector<wse_future *>
handles_of(const Range &futures)
{
    std::vector<wse_future *> v;
    using std::begin;
    using std::end;
    for (auto it = begin(futures); it != end(futures); ++it)
        v.push_back(handle_of(*it));
    return v;
}

} // namespace detail

template <class T> class future;
template <class T> class shared_future;
class executor_ref;
class scope;

namespace detail
{
struct future_access;
}

/*
 * What every future has, whatever its result type: the C handle and the queries.
 * An empty (default-constructed or moved-from) future has a null handle: queries
 * answer as for NULL in the C API, wait() and get() throw std::future_error(no_state).
 */
class future_base
{
  public:
    /* The C future (borrowed: valid while this object holds it). For a future made by
     * submit its C value is NULL, as the result lives in the C++ block, except for a
     * task that needs no block (see submit()), whose value is its C value. */
    wse_future *
    native_handle() const noexcept
    {
        return f_;
    }
    bool
    valid() const noexcept
    {
        return f_ != nullptr;
    }

    wse::state
    state() const noexcept
    {
        return static_cast<wse::state>(wse_future_state(f_));
    }
    /* DONE, FAILED or CANCELLED. */
    bool
    done() const noexcept
    {
        return wse_future_done(f_);
    }
    /* The C error: the task's code when FAILED (exception_code for an exception),
     * ECANCELED when CANCELLED, otherwise 0. */
    int
    error() const noexcept
    {
        return wse_future_error(f_);
    }

    /* Cancel if not started: true if it was PENDING and is now CANCELLED. */
    bool
    cancel() noexcept
    {
        return wse_future_cancel(f_);
    }

    /* Cooperative stop (wse_future_request_stop()): cancels a pending task; a running
     * one (and the tasks it submitted) sees wse::stop_requested(). True if it was not
     * done yet. */
    bool
    request_stop() noexcept
    {
        return wse_future_request_stop(f_);
    }

    /* Wait until done. On a worker the caller runs other tasks meanwhile. Throws
     * std::system_error on EDEADLK (the calling task's own future). */
    void
    wait() const
    {
        wait_seconds(WSE_FOREVER);
    }

    /* Wait at most d: true if done, false on timeout (nothing is cancelled). */
    template <class Rep, class Period>
    bool
    wait_for(const std::chrono::duration<Rep, Period> &d) const
    {
        return wait_seconds(detail::seconds(d));
    }

    /* Wait until t (any clock; converted to a duration from now). */
    template <class Clock, class Duration>
    bool
    wait_until(const std::chrono::time_point<Clock, Duration> &t) const
    {
        return wait_for(t - Clock::now());
    }

  protected:
    future_base() noexcept = default;
    future_base(wse_future *f, detail::box_base *b) noexcept : f_(f), box_(b)
    {
    }
    future_base(future_base &&o) noexcept
        : f_(std::exchange(o.f_, nullptr)), box_(std::exchange(o.box_, nullptr)),
          retrieved_(std::exchange(o.retrieved_, false))
    {
    }
    future_base &
    operator=(future_base &&o) noexcept
    {
        if (this != &o) {
            reset(retrieved_);
            f_ = std::exchange(o.f_, nullptr);
            box_ = std::exchange(o.box_, nullptr);
            retrieved_ = std::exchange(o.retrieved_, false);
        }
        return *this;
    }
    ~future_base()
    {
        reset();
    }

    void
    reset(bool known_done = false) noexcept
    {
        if (f_ != nullptr)
            detail::drop(f_, box_, known_done);
        f_ = nullptr;
        box_ = nullptr;
        retrieved_ = false;
    }

    bool
    wait_seconds(double s) const
    {
        if (f_ == nullptr)
            throw std::future_error(std::future_errc::no_state);
        int rc = wse_future_wait(f_, s);
        if (rc == ETIMEDOUT)
            return false;
        detail::check(rc, "wse_future_wait");
        return true;
    }

    /* Wait (a failed wait throws and changes nothing), then return the final state. */
    wse_state
    wait_final() const
    {
        wse_state s = wse_future_state(f_);
        if (s == WSE_DONE || s == WSE_FAILED || s == WSE_CANCELLED)
            return s;
        wait();
        return wse_future_state(f_);
    }

    /* Wait, then throw what a non-DONE future means. */
    void
    wait_and_check() const
    {
        check_final(wait_final());
    }

    void
    check_final(wse_state s) const
    {
        switch (s) {
        case WSE_DONE:
            /* Only a reduction whose combine threw ends DONE with an exception. */
            if (box_ != nullptr && box_->error)
                std::rethrow_exception(box_->error);
            return;
        case WSE_CANCELLED:
            throw cancelled_error();
        default:
            if (box_ != nullptr && box_->error)
                std::rethrow_exception(box_->error);
            detail::throw_errno(wse_future_error(f_), "wsexec task failed");
        }
    }

    wse_future *f_ = nullptr;
    detail::box_base *box_ = nullptr;
    bool retrieved_ = false; /* future::get() was called: the future is done */

    template <class U> friend class shared_future;
    friend class scope; /* keeps a handle on each child (the scopes block below) */
};

/*
 * The result of a task (or a promise), move-only, as std::future. get() may be called
 * once; use share() for repeated or concurrent reads. A future made by adopt() wraps
 * a C future: future<void *> yields its wse_future_value().
 */
template <class T> class future : public future_base
{
  public:
    using value_type = T;

    future() noexcept = default;
    future(future &&) noexcept = default;
    future &operator=(future &&) noexcept = default;
    ~future()
    {
        reset(retrieved_);
    } /* after get() the future is known to be done */

    /* Wait, then return the result (moved out), or rethrow the task's exception,
     * throw cancelled_error if CANCELLED, or std::system_error(code) if a C task
     * failed with code. A second call throws future_errc::future_already_retrieved;
     * a wait that fails (EDEADLK: the calling task's own future) throws
     * std::system_error and leaves the result in place. */
    T
    get()
    {
        if (f_ == nullptr)
            throw std::future_error(std::future_errc::no_state);
        if (retrieved_)
            throw std::future_error(std::future_errc::future_already_retrieved);
        wse_state s = wait_final();
        retrieved_ = true;
        check_final(s);
        if constexpr (!std::is_void_v<T>) {
            if constexpr (detail::slot_result_v<T>) {
                if (box_ == nullptr)
                    return detail::from_slot<T>(f_);
            }
            return std::move(static_cast<detail::result_box<T> *>(box_)->value);
        }
    }

    /* A copyable handle on the same result; this future becomes empty. */
    shared_future<T>
    share() noexcept
    {
        return shared_future<T>(std::move(*this));
    }

    /* Take over one reference to a C future (e.g. from wse_submit()); for T = void *
     * or void only. get() then returns its C value, or throws its C error. */
    static future
    adopt(wse_future *f) noexcept
    {
        static_assert(adopted_result, "adopt() makes a future<void *> or a future<void>");
        return future(f, nullptr);
    }

  private:
    static constexpr bool adopted_result = std::is_void_v<T> || std::is_same_v<T, void *>;

    future(wse_future *f, detail::box_base *b) noexcept : future_base(f, b)
    {
    }

    friend class executor_ref;
    template <class U> friend class promise;
    template <class U> friend class shared_future;
    friend struct detail::future_access;
};

/* A copyable future (as std::shared_future): get() returns a const reference, and may
 * be called any number of times, from any thread. */
template <class T> class shared_future : public future_base
{
  public:
    using value_type = T;

    shared_future() noexcept = default;
    shared_future(future<T> &&f) noexcept : future_base(std::move(f))
    {
    }
    shared_future(const shared_future &o) noexcept : future_base(o.retain(), o.box_)
    {
    }
    shared_future(shared_future &&) noexcept = default;
    shared_future &
    operator=(const shared_future &o) noexcept
    {
        if (this != &o) {
            shared_future c(o);
            *this = std::move(c);
        }
        return *this;
    }
    shared_future &operator=(shared_future &&) noexcept = default;
    ~shared_future() = default;

    /* As future::get(), but the result stays in place; a result that fits a pointer
     * (trivially copyable) is returned by value. */
    decltype(auto)
    get() const
    {
        if (f_ == nullptr)
            throw std::future_error(std::future_errc::no_state);
        wait_and_check();
        if constexpr (std::is_void_v<T>) {
            return;
        } else if constexpr (detail::slot_result_v<T>) {
            if (box_ == nullptr)
                return detail::from_slot<T>(f_);
            return static_cast<T>(static_cast<detail::result_box<T> *>(box_)->value);
        } else {
            return static_cast<const T &>(static_cast<detail::result_box<T> *>(box_)->value);
        }
    }

  private:
    wse_future *
    retain() const noexcept
    {
        if (box_ != nullptr) /* relaxed: the caller holds a handle, so the block lives */
            box_->handles.fetch_add(1, std::memory_order_relaxed);
        return wse_future_retain(f_);
    }
};

/*
 * A non-owning view of an executor: what tasks use (wse::current_executor()) and
 * what an owning wse::executor is too. Copy it freely; it must not outlive the
 * executor.
 */
class executor_ref
{
  public:
    executor_ref() noexcept = default;
    explicit executor_ref(wse_executor *ex) noexcept : ex_(ex)
    {
    }

    wse_executor *
    native_handle() const noexcept
    {
        return ex_;
    }
    explicit operator bool() const noexcept
    {
        return ex_ != nullptr;
    }
    unsigned
    workers() const noexcept
    {
        return wse_executor_workers(ex_);
    }

    /*
     * Submit fn(args...) (fn and args copied or moved into the task's block); returns
     * a wse::future of its result (stored by value; a reference result is copied).
     * From a worker of this executor the task goes on that worker's deque (LIFO),
     * otherwise on the injection queue. Throws std::system_error (EINVAL on an empty
     * executor_ref, ESHUTDOWN, ENOMEM) or std::bad_alloc; then nothing was submitted.
     *
     * Cost: one allocation for the block, freed with the last future. A noexcept
     * callable without arguments that is trivially copyable and pointer-sized (a
     * lambda capturing one reference, or an int, by value) and returns void or a
     * trivially copyable pointer-sized value needs no block: it is a plain C task.
     */
    template <class F, class... A>
    future<detail::task_result_t<F, A...>>
    submit(F &&fn, A &&...args) const
    {
        return make_task(
            [this](wse_task_fn t, void *arg, wse_future **f) { return wse_submit(ex_, t, arg, f); },
            "wse_submit", std::forward<F>(fn), std::forward<A>(args)...);
    }

    /*
     * Submit fn(args...) to run once every future in deps is done (DONE, FAILED or
     * CANCELLED; fn may inspect them). deps: a range of futures (or of pointers to
     * them, or wse_future *); they may belong to any executor, or be promises. Until
     * then the returned future is PENDING and can be cancelled. Errors and cost as
     * submit(), plus a vector of the deps' handles.
     */
    template <class Range, class F, class... A>
    future<detail::task_result_t<F, A...>>
    submit_after(const Range &deps, F &&fn, A &&...args) const
    {
        std::vector<wse_future *> d = detail::handles_of(deps);
        return make_task(
            [this, &d](wse_task_fn t, void *arg, wse_future **f) {
                return wse_submit_after(ex_, d.data(), d.size(), t, arg, f);
            },
            "wse_submit_after", std::forward<F>(fn), std::forward<A>(args)...);
    }

    /* wse_shutdown(): stop accepting work; cancel_pending cancels what has not started;
     * wait returns once every started task has finished. Throws on EDEADLK (wait from
     * one of this executor's workers). */
    void
    shutdown(bool wait = true, bool cancel_pending = false) const
    {
        detail::check(wse_shutdown(ex_, wait, cancel_pending), "wse_shutdown");
    }

    /* wse_executor_stats(): the counters since create (tasks, stolen, injected,
     * helped, parks, wakeups, spares, busy_ns). Throws on an empty executor_ref. */
    wse_stats
    stats() const
    {
        wse_stats s{};
        detail::check(wse_executor_stats(ex_, &s, sizeof s), "wse_executor_stats");
        return s;
    }

    /* The flight recorder: wse_trace_start() (0: the default ring size),
     * wse_trace_stop(), wse_trace_write() (a Trace Event Format file for Perfetto).
     * Throw std::system_error (ENOMEM, ESHUTDOWN, a file error, ...). */
    void
    trace_start(std::size_t events_per_thread = 0) const
    {
        detail::check(wse_trace_start(ex_, events_per_thread), "wse_trace_start");
    }
    void
    trace_stop() const
    {
        detail::check(wse_trace_stop(ex_), "wse_trace_stop");
    }
    void
    trace_write(const char *path) const
    {
        detail::check(wse_trace_write(ex_, path), "wse_trace_write");
    }

  protected:
    wse_executor *ex_ = nullptr;

  private:
    friend class scope; /* submits through make_task() */

    template <class Submit, class F, class... A>
    static future<detail::task_result_t<F, A...>>
    make_task(Submit &&c_submit, const char *what, F &&fn, A &&...args)
    {
        using R = detail::task_result_t<F, A...>;
        wse_future *f;
        if constexpr (sizeof...(A) == 0 && detail::slot_task_v<std::decay_t<F>, R>) {
            using C = std::decay_t<F>;
            void *arg = nullptr;
            ::new (static_cast<void *>(&arg)) C(std::forward<F>(fn));
            detail::check(c_submit(&detail::run_slot<C, R>, arg, &f), what);
            return future<R>(f, nullptr);
        } else {
            using box_t = detail::task_box_t<F, A...>;
            std::unique_ptr<box_t> b(new box_t(std::forward<F>(fn), std::forward<A>(args)...));
            detail::check(c_submit(&box_t::run, static_cast<void *>(b.get()), &f), what);
            return future<R>(f, b.release());
        }
    }
};

/* The executor whose worker is calling (empty on any other thread). */
inline executor_ref
current_executor() noexcept
{
    return executor_ref(wse_current());
}

/* The calling worker's index in its executor, -1 on any other thread. */
inline int
worker_index() noexcept
{
    return wse_worker_index();
}

/* Inside a task: true once a stop was requested for it or a task it descends from. */
inline bool
stop_requested() noexcept
{
    return wse_stop_requested();
}

/* Inside a task: throw cancelled_error if a stop was requested; the task then ends
 * CANCELLED (not FAILED). */
inline void
throw_if_stop_requested()
{
    if (wse_stop_requested())
        throw cancelled_error();
}

/* Executor options; as wse_options, with defaults for zero. */
struct options {
    unsigned workers = 0;        /* max 1024; 0: WSE_WORKERS, else one per usable CPU */
    unsigned deque_capacity = 0; /* initial deque slots; 0: 256 */
    unsigned spin_rounds = 0;    /* idle search rounds before the timed spin; 0: 64 */
    std::string thread_name;     /* worker thread name prefix; empty: "wse" */
    unsigned spin_us = 0;        /* timed idle spin, us (adaptive); 0: 100 */
    bool caller_runs = false;    /* a plain waiter runs the queued tasks it waits on */
    /* Run on worker `index` before its first task / after its last one (see
     * wse_options). They must not throw (std::terminate is called). */
    std::function<void(unsigned index)> on_worker_start;
    std::function<void(unsigned index)> on_worker_stop;
};

/*
 * An executor that owns its workers (move-only). The destructor is
 * wse_executor_destroy(): it runs what is queued, joins the workers and frees the
 * executor; futures stay valid. Destroying it from one of its own workers cannot join
 * them: the destructor then only shuts it down (no wait) and leaks it.
 */
class executor : public executor_ref
{
  public:
    /* The default worker count (WSE_WORKERS, else one per usable CPU). */
    executor() : executor(options{})
    {
    }
    explicit executor(unsigned workers) : executor(make_options(workers))
    {
    }
    /* Throws std::system_error: EINVAL (more than 1024 workers), ENOMEM, EAGAIN. */
    explicit executor(const options &o)
    {
        wse_options c{};
        c.workers = o.workers;
        c.deque_capacity = o.deque_capacity;
        c.spin_rounds = o.spin_rounds;
        c.thread_name = o.thread_name.empty() ? nullptr : o.thread_name.c_str();
        c.spin_us = o.spin_us;
        c.caller_runs = o.caller_runs;
        if (o.on_worker_start || o.on_worker_stop) {
            hooks_.reset(new hooks{o.on_worker_start, o.on_worker_stop});
            c.on_worker_start = o.on_worker_start ? &hooks::start : nullptr;
            c.on_worker_stop = o.on_worker_stop ? &hooks::stop : nullptr;
            c.hook_ctx = hooks_.get();
        }
        detail::check(wse_executor_create(&ex_, &c), "wse_executor_create");
    }

    executor(executor &&o) noexcept
        : executor_ref(std::exchange(o.ex_, nullptr)), hooks_(std::move(o.hooks_))
    {
    }
    executor &
    operator=(executor &&o) noexcept
    {
        if (this != &o) {
            destroy();
            ex_ = std::exchange(o.ex_, nullptr);
            hooks_ = std::move(o.hooks_);
        }
        return *this;
    }
    executor(const executor &) = delete;
    executor &operator=(const executor &) = delete;
    ~executor()
    {
        destroy();
    }

  private:
    static options
    make_options(unsigned workers)
    {
        options o;
        o.workers = workers;
        return o;
    }

    void
    destroy() noexcept
    {
        if (ex_ != nullptr && wse_executor_destroy(ex_) == EDEADLK) {
            (void)wse_shutdown(ex_, false, false);
            (void)hooks_.release(); /* the workers still use them */
        }
        ex_ = nullptr;
        hooks_.reset();
    }

    struct hooks {
        std::function<void(unsigned)> on_start;
        std::function<void(unsigned)> on_stop;
        static void
        start(wse_executor *, unsigned i, void *ctx) noexcept
        {
            static_cast<hooks *>(ctx)->on_start(i);
        }
        static void
        stop(wse_executor *, unsigned i, void *ctx) noexcept
        {
            static_cast<hooks *>(ctx)->on_stop(i);
        }
    };
    std::unique_ptr<hooks> hooks_;
};

/* wait()'s answer: positions in the input, each part in input order. Python's
 * (done, not_done); `auto [done, not_done] = wse::wait(...)` works. */
struct wait_result {
    std::vector<std::size_t> done;
    std::vector<std::size_t> not_done;
};

namespace detail
{

inline wait_result
wait_handles(const std::vector<wse_future *> &in, return_when when, double timeout_s)
{
    wait_result r;
    if (in.empty())
        return r;
    std::vector<wse_future *> out(in.size());
    std::size_t n_done = 0;
    int rc = wse_wait(in.data(), in.size(), timeout_s, static_cast<wse_return_when>(when),
                      out.data(), &n_done);
    if (rc != ETIMEDOUT)
        check(rc, "wse_wait");
    /* out[0 .. n_done) is the done part, in input order: match it back to positions. */
    r.done.reserve(n_done);
    r.not_done.reserve(in.size() - n_done);
    std::size_t j = 0;
    for (std::size_t i = 0; i < in.size(); i++) {
        if (j < n_done && out[j] == in[i]) {
            r.done.push_back(i);
            j++;
        } else {
            r.not_done.push_back(i);
        }
    }
    return r;
}

} // namespace detail

/*
 * Wait on a range of futures (wse::future, wse::shared_future, pointers or
 * std::reference_wrappers to them, or wse_future *) with Python's wait() rules; see
 * wse_wait(). Returns when the condition holds or the timeout passes (a timeout is no
 * error and cancels nothing: check not_done). An empty range returns at once. Throws
 * std::system_error: EINVAL (an empty future in the range), EDEADLK, ENOMEM.
 */
template <class Range>
wait_result
wait(const Range &futures, return_when when = return_when::all_completed)
{
    return detail::wait_handles(detail::handles_of(futures), when, WSE_FOREVER);
}

template <class Range, class Rep, class Period>
wait_result
wait(const Range &futures, return_when when, const std::chrono::duration<Rep, Period> &timeout)
{
    return detail::wait_handles(detail::handles_of(futures), when, detail::seconds(timeout));
}

/* The same over a braced list of future pointers: wse::wait({&a, &b}, ...). */
inline wait_result
wait(std::initializer_list<const future_base *> futures,
     return_when when = return_when::all_completed)
{
    return detail::wait_handles(detail::handles_of(futures), when, WSE_FOREVER);
}

template <class Rep, class Period>
wait_result
wait(std::initializer_list<const future_base *> futures, return_when when,
     const std::chrono::duration<Rep, Period> &timeout)
{
    return detail::wait_handles(detail::handles_of(futures), when, detail::seconds(timeout));
}

/* Wait until every one of the given futures is done. */
template <class... F>
void
wait_all(const F &...futures)
{
    wse_future *h[] = {detail::handle_of(futures)...};
    detail::check(wse_wait(h, sizeof...(F), WSE_FOREVER, WSE_ALL_COMPLETED, nullptr, nullptr),
                  "wse_wait");
}

/* Wait until one of the given futures is done; returns the position of the first
 * done one in argument order. */
template <class... F>
std::size_t
wait_any(const F &...futures)
{
    wse_future *h[] = {detail::handle_of(futures)...};
    detail::check(wse_wait(h, sizeof...(F), WSE_FOREVER, WSE_FIRST_COMPLETED, nullptr, nullptr),
                  "wse_wait");
    for (std::size_t i = 0; i < sizeof...(F); i++)
        if (wse_future_done(h[i]))
            return i;
    return 0; /* not reached: the wait returned 0 */
}

/*
 * A promise (as std::promise): a future that the program completes, from any thread
 * (concurrent set_* calls are safe: one wins, the others throw). It belongs to no
 * executor and mixes freely with task futures in wait(), as_completed() and
 * submit_after(). Destroying a promise that was never set completes its future with
 * std::future_error(broken_promise). set_value/set_exception/set_error on a promise
 * already set throw future_errc::promise_already_satisfied, and so they do when its
 * future was cancelled. Move-only.
 */
template <class T> class promise
{
  public:
    promise()
    {
        std::unique_ptr<box> b(new box);
        detail::check(wse_promise_create(&f_, nullptr), "wse_promise_create");
        box_ = b.release();
    }
    promise(promise &&o) noexcept
        : f_(std::exchange(o.f_, nullptr)), box_(std::exchange(o.box_, nullptr)),
          future_taken_(std::exchange(o.future_taken_, false))
    {
    }
    promise &
    operator=(promise &&o) noexcept
    {
        if (this != &o) {
            reset();
            f_ = std::exchange(o.f_, nullptr);
            box_ = std::exchange(o.box_, nullptr);
            future_taken_ = std::exchange(o.future_taken_, false);
        }
        return *this;
    }
    promise(const promise &) = delete;
    promise &operator=(const promise &) = delete;
    ~promise()
    {
        reset();
    }

    /* The future (once; then future_errc::future_already_retrieved). */
    future<T>
    get_future()
    {
        if (f_ == nullptr)
            throw std::future_error(std::future_errc::no_state);
        if (future_taken_)
            throw std::future_error(std::future_errc::future_already_retrieved);
        future_taken_ = true;
        /* relaxed: this promise holds a handle, so the block lives */
        box_->handles.fetch_add(1, std::memory_order_relaxed);
        return future<T>(wse_future_retain(f_), box_);
    }

    /* Complete the future DONE with T(v...) (nothing for promise<void>). If building
     * the value throws, the promise stays unset. */
    template <class... A>
    void
    set_value(A &&...v)
    {
        claim();
        if constexpr (!std::is_void_v<T>) {
            try {
                box_->emplace(std::forward<A>(v)...);
            } catch (...) {
                /* release: nothing was published; pairs with the next claim() */
                box_->claimed.store(false, std::memory_order_release);
                throw;
            }
        }
        int rc = wse_promise_set_value(f_, nullptr);
        if (rc != 0) {
            discard_value();
            throw_set_error(rc);
        }
    }

    /* Complete the future FAILED: get() rethrows e (not null). */
    void
    set_exception(std::exception_ptr e)
    {
        if (!e)
            throw std::invalid_argument("wse::promise::set_exception: null exception_ptr");
        claim();
        box_->error = std::move(e);
        int rc = wse_promise_set_error(f_, exception_code);
        if (rc != 0) {
            box_->error = nullptr;
            throw_set_error(rc);
        }
    }

    /* Complete the future FAILED with a C code: get() throws std::system_error(code).
     * code 0: std::system_error(EINVAL), nothing changes. */
    void
    set_error(int code)
    {
        if (code == 0)
            detail::throw_errno(EINVAL, "wse_promise_set_error");
        claim();
        int rc = wse_promise_set_error(f_, code);
        if (rc != 0)
            throw_set_error(rc);
    }

    wse_future *
    native_handle() const noexcept
    {
        return f_;
    }

  private:
    struct box : detail::result_box<T> {
        std::atomic<bool> claimed{false}; /* one set_* call won the right to set */
    };

    void
    claim()
    {
        if (f_ == nullptr)
            throw std::future_error(std::future_errc::no_state);
        /* acquire: pairs with the release store of a set_value whose value threw, so
         * its half-built value was destroyed before this call builds another */
        if (box_->claimed.exchange(true, std::memory_order_acquire))
            throw std::future_error(std::future_errc::promise_already_satisfied);
    }
    void
    discard_value() noexcept
    {
        if constexpr (!std::is_void_v<T>) {
            box_->value.~T();
            box_->has_value = false;
        }
    }
    [[noreturn]] static void
    throw_set_error(int rc)
    {
        if (rc == EALREADY) /* cancelled through its future */
            throw std::future_error(std::future_errc::promise_already_satisfied);
        detail::throw_errno(rc, "wse_promise_set");
    }
    void
    reset() noexcept
    {
        if (f_ == nullptr)
            return;
        /* acquire: as in claim() */
        if (!box_->claimed.exchange(true, std::memory_order_acquire)) {
            box_->error =
                std::make_exception_ptr(std::future_error(std::future_errc::broken_promise));
            if (wse_promise_set_error(f_, exception_code) != 0)
                box_->error = nullptr; /* cancelled meanwhile */
        }
        detail::drop(f_, box_);
        f_ = nullptr;
        box_ = nullptr;
    }

    wse_future *f_ = nullptr;
    box *box_ = nullptr;
    bool future_taken_ = false;
};

/*
 * Futures as they complete (Python's as_completed()): iterating yields each element
 * of the range once, by reference, those already done first (in input order), then
 * in completion order. The timeout covers the whole iteration; when it passes before
 * the next completion, the iterator's ++ (or begin()) throws std::system_error
 * (ETIMEDOUT); nothing is cancelled. The range must outlive the iteration and support
 * std::begin(range) + index. One thread iterates at a time.
 */
template <class Range> class as_completed_range
{
  public:
    using element = std::remove_reference_t<decltype(*std::begin(std::declval<Range &>()))>;

    class iterator
    {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::remove_cv_t<element>;
        using difference_type = std::ptrdiff_t;
        using pointer = element *;
        using reference = element &;

        reference
        operator*() const
        {
            return *std::next(std::begin(*r_->range_), static_cast<difference_type>(index_));
        }
        pointer
        operator->() const
        {
            return std::addressof(**this);
        }
        /* The element's position in the range. */
        std::size_t
        index() const noexcept
        {
            return index_;
        }
        iterator &
        operator++()
        {
            next();
            return *this;
        }
        bool
        operator==(const iterator &o) const noexcept
        {
            return r_ == o.r_;
        }
        bool
        operator!=(const iterator &o) const noexcept
        {
            return r_ != o.r_;
        }

      private:
        friend class as_completed_range;
        explicit iterator(as_completed_range *r) : r_(r)
        {
        }
        void
        next()
        {
            int rc = wse_as_completed_next(r_->it_, nullptr, &index_);
            if (rc == ENOENT) {
                r_ = nullptr;
                return;
            }
            detail::check(rc, "wse_as_completed_next");
        }
        as_completed_range *r_;
        std::size_t index_ = 0;
    };

    as_completed_range(Range &range, double timeout_s) : range_(&range)
    {
        std::vector<wse_future *> h = detail::handles_of(range);
        if (!h.empty())
            detail::check(wse_as_completed_create(&it_, h.data(), h.size(), timeout_s),
                          "wse_as_completed_create");
    }
    as_completed_range(const as_completed_range &) = delete;
    as_completed_range &operator=(const as_completed_range &) = delete;
    ~as_completed_range()
    {
        wse_as_completed_destroy(it_);
    }

    iterator
    begin()
    {
        if (it_ == nullptr)
            return end();
        iterator i(this);
        i.next();
        return i;
    }
    iterator
    end() noexcept
    {
        return iterator(nullptr);
    }

  private:
    Range *range_;
    wse_as_completed *it_ = nullptr;
};

template <class Range>
as_completed_range<Range>
as_completed(Range &futures)
{
    return as_completed_range<Range>(futures, WSE_FOREVER);
}

template <class Range, class Rep, class Period>
as_completed_range<Range>
as_completed(Range &futures, const std::chrono::duration<Rep, Period> &timeout)
{
    return as_completed_range<Range>(futures, detail::seconds(timeout));
}

/*
 * Parallel loops (API 0.3): wse_for() and wse_reduce() with C++ bodies.
 *
 *     wse::parallel_for(ex, 0, n, [&](std::size_t i) { v[i] *= 2; });
 *     double s = wse::parallel_reduce(
 *         ex, 0, n, 0.0,
 *         [&](std::size_t b, std::size_t e, double acc) {  // a chunk [b, e)
 *             for (std::size_t i = b; i < e; i++)
 *                 acc += v[i];
 *             return acc;
 *         },
 *         [](double a, double b) { return a + b; });
 *
 * A body takes one index, f(i) (its result is ignored), or a chunk of indices,
 * f(b, e) for [b, e); when f accepts both, the chunk form wins. Chunks are disjoint,
 * non-empty and cover [begin, end) exactly once, in no promised order, concurrently on
 * the executor's workers; the calling thread of the blocking forms runs chunks too.
 * The body is called concurrently (as an lvalue), so it must be safe to call from
 * several threads at once. The optional wse::grain(n) argument after `end` caps a
 * chunk at n indices (0, the default: the library chooses).
 *
 * Exceptions. The first exception thrown by a body, fold or combine (first in time)
 * is kept and the others are dropped: no chunk that has not started is started after
 * it, an index body skips the rest of its chunk, and once a body or fold has failed
 * the running chunks see wse::stop_requested(). The blocking form rethrows it once
 * the loop is over; a loop future's get() rethrows it. A body or fold that throws
 * wse::cancelled_error (as wse::throw_if_stop_requested() does) gives up its chunk
 * without failing the loop when a stop was requested for it (the loop then ends
 * cancelled: cancelled_error); without a stop request it fails the loop (ECANCELED,
 * which throws cancelled_error too).
 * C errors throw std::system_error: EINVAL (begin > end, an empty executor_ref),
 * ESHUTDOWN, ENOMEM, EOWNERDEAD; nothing ran then.
 *
 * Stop: a loop called inside a task is that task's child for stop; chunks may poll
 * wse::stop_requested(). Loops nest: a chunk may run a loop, or submit and wait.
 */
struct grain {
    std::size_t size = 0; /* the most indices per chunk; 0: the library chooses */
    constexpr explicit grain(std::size_t n = 0) noexcept : size(n)
    {
    }
};

namespace detail
{

struct future_access {
    template <class T>
    static future<T>
    make(wse_future *f, box_base *b) noexcept
    {
        return future<T>(f, b);
    }
};

/* What the chunks of one loop share about failure: the first exception goes to
 * *error (read once the loop is over: its completion orders the two). */
struct loop_state {
    std::atomic<bool> raised{false};
    std::exception_ptr *error;

    explicit loop_state(std::exception_ptr *e) noexcept : error(e)
    {
    }
    bool
    failed() const noexcept
    {
        /* relaxed: a hint for stopping early; only the winner below writes *error */
        return raised.load(std::memory_order_relaxed);
    }
    /* In a handler: keep the exception if it is the first. The chunk's C code. */
    int
    raise() noexcept
    {
        if (!raised.exchange(true, std::memory_order_relaxed))
            *error = std::current_exception();
        return exception_code;
    }

    /* Run a chunk: its C code. No exception reaches the library's frames. */
    template <class Body>
    int
    guard(Body &&body) noexcept
    {
        if (failed())
            return exception_code;
        try {
            body();
        } catch (const cancelled_error &) {
            return ECANCELED; /* no failure after a stop request for the loop */
        } catch (...) {
            return raise();
        }
        return failed() ? exception_code : 0;
    }
};

template <class F>
inline constexpr bool range_body_v = std::is_invocable_v<F &, std::size_t, std::size_t>;

template <class F>
constexpr void
check_for_body() noexcept
{
    static_assert(range_body_v<F> || std::is_invocable_v<F &, std::size_t>,
                  "wse::parallel_for: the body takes (std::size_t i) or "
                  "(std::size_t begin, std::size_t end)");
}

/* A parallel_for's context: F is the body's type, or a reference to the caller's. */
template <class F> struct for_body {
    F f;
    loop_state state;

    template <class G>
    for_body(G &&g, std::exception_ptr *error) : f(std::forward<G>(g)), state(error)
    {
    }

    static int
    run(std::size_t b, std::size_t e, void *ctx) noexcept
    {
        auto *self = static_cast<for_body *>(ctx);
        return self->state.guard([self, b, e] {
            if constexpr (range_body_v<F>) {
                std::invoke(self->f, b, e);
            } else {
                for (std::size_t i = b; i < e && !self->state.failed(); i++)
                    std::invoke(self->f, i);
            }
        });
    }
};

template <class F> struct for_box final : result_box<void> {
    for_body<F> body;

    template <class G, class = std::enable_if_t<!std::is_same_v<std::decay_t<G>, for_box>>>
    explicit for_box(G &&g) : body(std::forward<G>(g), &this->error)
    {
    }
};

template <class T, class Fold>
inline constexpr bool range_fold_v = std::is_invocable_r_v<T, Fold &, std::size_t, std::size_t, T>;

template <class T, class Fold, class Combine>
constexpr void
check_reduce_body() noexcept
{
    static_assert(std::is_copy_constructible_v<T> && std::is_move_assignable_v<T>,
                  "wse::parallel_reduce: T must be copy-constructible and move-assignable");
    static_assert(range_fold_v<T, Fold> || std::is_invocable_r_v<T, Fold &, T, std::size_t>,
                  "wse::parallel_reduce: fold is T(std::size_t begin, std::size_t end, T acc) "
                  "or T(T acc, std::size_t i)");
    static_assert(std::is_invocable_r_v<T, Combine &, T, T>,
                  "wse::parallel_reduce: combine is T(T left, T right)");
}

/*
 * A parallel_reduce's context. wse_reduce() makes each chunk's accumulator a byte copy
 * of the identity. A trivially copyable T is the accumulator itself. Any other T lives
 * in a node, and the accumulator is a pointer to it: null (the identity's bytes) until
 * the chunk's fold makes its node from a copy of the identity. combine frees the right
 * node; the nodes a failed loop leaves are freed with the context.
 *
 * The result goes to *res. A trivially copyable T is there from the start (the
 * identity) and wse_reduce() writes the reduction over it. For a node T, the fold or
 * combine that completes the reduction moves it there, before the loop's future
 * completes: each fold of k indices lowers `potential` by k - 1 and each combine by 1,
 * from n - 1 (n = end - begin). It is (indices not folded) + (accumulators - 1), which
 * is 0 exactly when every index is folded and one accumulator is left: after the last
 * operation, whose thread holds that accumulator.
 */
template <class T, class Fold, class Combine> struct reduce_body {
    static constexpr bool in_place = std::is_trivially_copyable_v<T>;

    struct node {
        T value;
        node *prev;
        node *next;
    };

    Fold fold;
    Combine combine;
    T identity;
    loop_state state;
    result_box<T> *res;
    node *root = nullptr;  /* wse_reduce()'s result for a node T: never read */
    std::mutex lock;       /* guards the list of nodes */
    node *nodes = nullptr; /* every live node */
    std::atomic<std::size_t> potential;

    template <class G, class C>
    reduce_body(G &&g, C &&c, T id, result_box<T> *r, std::size_t begin, std::size_t end)
        : fold(std::forward<G>(g)), combine(std::forward<C>(c)), identity(std::move(id)),
          state(&r->error), res(r), potential(end > begin ? end - begin - 1 : 0)
    {
        if (in_place || end <= begin)
            res->emplace(identity);
    }
    reduce_body(const reduce_body &) = delete;
    reduce_body &operator=(const reduce_body &) = delete;
    ~reduce_body()
    {
        while (nodes != nullptr) {
            node *n = nodes;
            nodes = n->next;
            delete n;
        }
    }

    int
    start(wse_executor *ex, std::size_t begin, std::size_t end, std::size_t grain_size,
          wse_future **out)
    {
        void *result = &root;
        std::size_t size = sizeof root;
        if constexpr (in_place) {
            result = std::addressof(res->value);
            size = sizeof(T);
        }
        return wse_reduce(ex, begin, end, grain_size, result, size, &run_fold, &run_combine, this,
                          out);
    }

    T
    fold_range(std::size_t b, std::size_t e, T acc)
    {
        if constexpr (range_fold_v<T, Fold>) {
            return std::invoke(fold, b, e, std::move(acc));
        } else {
            for (std::size_t i = b; i < e && !state.failed(); i++)
                acc = std::invoke(fold, std::move(acc), i);
            return acc;
        }
    }

    static int
    run_fold(std::size_t b, std::size_t e, void *acc, void *ctx) noexcept
    {
        auto *self = static_cast<reduce_body *>(ctx);
        return self->state.guard([self, b, e, acc] {
            if constexpr (in_place) {
                T r = self->fold_range(b, e, load_bytes<T>(acc));
                std::memcpy(acc, std::addressof(r), sizeof(T));
            } else {
                node *n;
                std::memcpy(&n, acc, sizeof n);
                bool fresh = n == nullptr;
                if (fresh) {
                    n = self->adopt(
                        std::unique_ptr<node>(new node{self->identity, nullptr, nullptr}));
                    std::memcpy(acc, &n, sizeof n);
                }
                n->value = self->fold_range(b, e, std::move(n->value));
                if (fresh)
                    self->settle(e - b - 1, n);
            }
        });
    }

    static void
    run_combine(void *acc, const void *next, void *ctx) noexcept
    {
        auto *self = static_cast<reduce_body *>(ctx);
        if (self->state.failed())
            return;
        try {
            if constexpr (in_place) {
                T r = std::invoke(self->combine, load_bytes<T>(acc), load_bytes<T>(next));
                std::memcpy(acc, std::addressof(r), sizeof(T));
            } else {
                node *a;
                node *n;
                std::memcpy(&a, acc, sizeof a);
                std::memcpy(&n, next, sizeof n);
                a->value = std::invoke(self->combine, std::move(a->value), std::move(n->value));
                self->release(n);
                self->settle(1, a);
            }
        } catch (...) {
            /* wse_reduce() cannot fail here: the next fold fails, or the wrapper
             * throws once the loop is over */
            (void)self->state.raise();
        }
    }

    node *
    adopt(std::unique_ptr<node> p)
    {
        std::lock_guard<std::mutex> g(lock);
        node *n = p.release();
        n->next = nodes;
        if (nodes != nullptr)
            nodes->prev = n;
        nodes = n;
        return n;
    }
    void
    release(node *n) noexcept
    {
        {
            std::lock_guard<std::mutex> g(lock);
            if (n->prev != nullptr)
                n->prev->next = n->next;
            else
                nodes = n->next;
            if (n->next != nullptr)
                n->next->prev = n->prev;
        }
        delete n;
    }
    void
    settle(std::size_t d, node *n)
    {
        /* acq_rel: the last operation sees every earlier one's node */
        if (potential.fetch_sub(d, std::memory_order_acq_rel) == d)
            res->emplace(std::move(n->value));
    }
};

template <class T, class Fold, class Combine> struct reduce_box final : result_box<T> {
    reduce_body<T, Fold, Combine> body;

    template <class G, class C>
    reduce_box(G &&g, C &&c, T identity, std::size_t begin, std::size_t end)
        : body(std::forward<G>(g), std::forward<C>(c), std::move(identity), this, begin, end)
    {
    }
};

} // namespace detail

/*
 * Run f on every index of [begin, end) (see above): f(i), or f(b, e) per chunk. Returns
 * when the loop is over; the calling thread runs chunks meanwhile. Rethrows the first
 * exception of f; throws wse::cancelled_error if a stop was requested for the loop
 * (through the task calling it), std::system_error on a C error.
 */
template <class F>
void
parallel_for(const executor_ref &ex, std::size_t begin, std::size_t end, grain g, F &&f)
{
    using body_t = detail::for_body<std::remove_reference_t<F> &>;
    detail::check_for_body<std::remove_reference_t<F>>();
    std::exception_ptr error;
    body_t body(f, &error);
    int rc = wse_for(ex.native_handle(), begin, end, g.size, &body_t::run, &body, nullptr);
    if (error)
        std::rethrow_exception(error);
    detail::check(rc, "wse_for");
}

template <class F>
void
parallel_for(const executor_ref &ex, std::size_t begin, std::size_t end, F &&f)
{
    parallel_for(ex, begin, end, grain(), std::forward<F>(f));
}

/*
 * parallel_for() as a future (f is copied or moved into the loop's block): returns once
 * the loop is queued; the calling thread runs no chunk. The future is the loop's C
 * future: PENDING until a chunk starts; cancel() while PENDING runs nothing,
 * request_stop() reaches the running chunks; get() rethrows as parallel_for() throws.
 * The block (with f) is freed with the last handle or when the loop ends, whichever is
 * later. C errors throw std::system_error at the call.
 */
template <class F>
future<void>
parallel_for_async(const executor_ref &ex, std::size_t begin, std::size_t end, grain g, F &&f)
{
    using box_t = detail::for_box<std::decay_t<F>>;
    detail::check_for_body<std::decay_t<F>>();
    std::unique_ptr<box_t> b(new box_t(std::forward<F>(f)));
    wse_future *h;
    detail::check(wse_for(ex.native_handle(), begin, end, g.size,
                          &detail::for_body<std::decay_t<F>>::run, &b->body, &h),
                  "wse_for");
    return detail::future_access::make<void>(h, b.release());
}

template <class F>
future<void>
parallel_for_async(const executor_ref &ex, std::size_t begin, std::size_t end, F &&f)
{
    return parallel_for_async(ex, begin, end, grain(), std::forward<F>(f));
}

/*
 * A deterministic reduction of [begin, end), as wse_reduce(): each chunk folds into its
 * own copy of identity, with fold(b, e, acc) -> T for a chunk [b, e), or fold(acc, i)
 * -> T per index (the chunk form wins when both fit); adjacent accumulators are
 * combined in index order by combine(left, right) -> T, which must be associative, not
 * commutative. Chunks and combination tree depend only on begin, end, grain and T
 * (grain 0: a chunk size derived from end - begin), so the result is the same on any
 * number of workers (a floating-point sum is bit-identical). begin == end: identity.
 *
 * T needs a copy constructor and move assignment. A trivially copyable T is the
 * accumulator itself; any other T (std::string, std::vector) costs one allocation per
 * chunk for its accumulator. Rethrows the first exception of fold or combine (combine
 * runs where the library calls it: its exception stops the chunks that follow and is
 * rethrown when the loop is over); other errors as parallel_for().
 */
template <class T, class Fold, class Combine>
T
parallel_reduce(const executor_ref &ex, std::size_t begin, std::size_t end, grain g, T identity,
                Fold &&fold, Combine &&combine)
{
    using body_t =
        detail::reduce_body<T, std::remove_reference_t<Fold> &, std::remove_reference_t<Combine> &>;
    detail::check_reduce_body<T, std::remove_reference_t<Fold>, std::remove_reference_t<Combine>>();
    detail::result_box<T> out;
    body_t body(fold, combine, std::move(identity), &out, begin, end);
    int rc = body.start(ex.native_handle(), begin, end, g.size, nullptr);
    if (out.error)
        std::rethrow_exception(out.error);
    detail::check(rc, "wse_reduce");
    return std::move(out.value);
}

template <class T, class Fold, class Combine>
T
parallel_reduce(const executor_ref &ex, std::size_t begin, std::size_t end, T identity, Fold &&fold,
                Combine &&combine)
{
    return parallel_reduce(ex, begin, end, grain(), std::move(identity), std::forward<Fold>(fold),
                           std::forward<Combine>(combine));
}

/*
 * parallel_reduce() as a future<T>, with the ownership and stop rules of
 * parallel_for_async(). fold and combine are copied or moved into the block. If only a
 * combine threw, the C future may end DONE (nothing failed in the library's eyes), but
 * get() rethrows the exception all the same.
 */
template <class T, class Fold, class Combine>
future<T>
parallel_reduce_async(const executor_ref &ex, std::size_t begin, std::size_t end, grain g,
                      T identity, Fold &&fold, Combine &&combine)
{
    using box_t = detail::reduce_box<T, std::decay_t<Fold>, std::decay_t<Combine>>;
    detail::check_reduce_body<T, std::decay_t<Fold>, std::decay_t<Combine>>();
    std::unique_ptr<box_t> b(new box_t(std::forward<Fold>(fold), std::forward<Combine>(combine),
                                       std::move(identity), begin, end));
    wse_future *h;
    detail::check(b->body.start(ex.native_handle(), begin, end, g.size, &h), "wse_reduce");
    return detail::future_access::make<T>(h, b.release());
}

template <class T, class Fold, class Combine>
future<T>
parallel_reduce_async(const executor_ref &ex, std::size_t begin, std::size_t end, T identity,
                      Fold &&fold, Combine &&combine)
{
    return parallel_reduce_async(ex, begin, end, grain(), std::move(identity),
                                 std::forward<Fold>(fold), std::forward<Combine>(combine));
}

/* ===================================================================== */
/* Scopes (API 0.3)                                                        */

/*
 * A scope (wse_scope_*): a group of child tasks that nothing outlives, with a wait
 * mode as its policy and an optional deadline. The scope settles early when the
 * policy is met (first_completed: a child is done; first_exception: a child threw or
 * failed; all_completed never settles early): every other child is then asked to
 * stop at once, from the thread that completed the deciding child (pending ones
 * never run; running ones see wse::stop_requested(), and a child that then throws
 * wse::cancelled_error ends cancelled, not failed).
 *
 *     wse::scope sc(ex, wse::return_when::first_completed, 2s);
 *     for (int i = 0; i < 4; i++)
 *         sc.submit([i] { return search(i); });      // a search polls wse::stop_requested()
 *     std::optional<std::size_t> winner = sc.join();   // the first to finish, by position
 *
 * submit(fn, args...) is executor_ref::submit() through the scope (the task's block,
 * its exception stored, a wse::future of its result), from any thread, the children
 * included; it throws wse::cancelled_error once the scope has settled and
 * std::system_error EINVAL once join() has returned (ESHUTDOWN, ENOMEM as submit()).
 *
 * join() waits for every child (a worker runs children meanwhile) and returns the
 * position of the deciding child in submission order through this object (0 for
 * the first submit()): first_completed, the child whose completion settled the scope;
 * all_completed, the first child that failed; std::nullopt if there is none (no
 * child, no failure, the deadline came first, or the child was submitted through
 * native_handle()). Under first_exception it rethrows the first failed child's
 * exception (std::system_error for a C failure code) instead, and returns
 * std::nullopt if no child failed. timed_out() says whether the deadline passed
 * first (join() then asked every child to stop). A second join() answers the same.
 * Throws std::system_error EDEADLK when called inside one of the children.
 *
 * The destructor joins (if join() was not called) and drops the scope's handles;
 * inside one of its own children it cannot wait, and the last child frees the C
 * scope. A scope is neither copyable nor movable (children refer to it); one thread
 * joins, any thread submits.
 */
class scope
{
  public:
    explicit scope(const executor_ref &ex, return_when policy = return_when::all_completed)
        : scope(ex, policy, WSE_FOREVER)
    {
    }

    /* timeout from now; a zero or negative one has passed at once. */
    template <class Rep, class Period>
    scope(const executor_ref &ex, return_when policy,
          const std::chrono::duration<Rep, Period> &timeout)
        : scope(ex, policy, detail::seconds(timeout))
    {
    }

    scope(const scope &) = delete;
    scope &operator=(const scope &) = delete;

    ~scope()
    {
        wse_scope_destroy(s_);
        for (const child &c : children_)
            detail::drop(c.f, c.box);
    }

    wse_scope *
    native_handle() const noexcept
    {
        return s_;
    }

    template <class F, class... A>
    future<detail::task_result_t<F, A...>>
    submit(F &&fn, A &&...args)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        /* Room first, so recording the child cannot throw after it was submitted. */
        if (children_.size() == children_.capacity())
            children_.reserve(children_.empty() ? 8 : 2 * children_.size());
        auto fut = executor_ref::make_task(
            [this](wse_task_fn t, void *arg, wse_future **f) {
                return wse_scope_submit(s_, t, arg, f);
            },
            "wse_scope_submit", std::forward<F>(fn), std::forward<A>(args)...);
        future_base &b = fut;
        /* One more handle for the scope (as a shared_future copy takes): the box keeps
         * the child's exception until the scope is gone. relaxed: we hold one. */
        if (b.box_ != nullptr)
            b.box_->handles.fetch_add(1, std::memory_order_relaxed);
        children_.push_back(child{wse_future_retain(b.f_), b.box_});
        return fut;
    }

    std::optional<std::size_t>
    join()
    {
        wse_future *d = nullptr;
        int rc = wse_scope_join(s_, &d);
        if (rc != ETIMEDOUT)
            detail::check(rc, "wse_scope_join");
        timed_out_ = rc == ETIMEDOUT;
        if (d == nullptr)
            return std::nullopt;
        /* The scope is closed: no child is added any more. */
        std::optional<std::size_t> i = position(d);
        if (policy_ == return_when::first_exception) {
            if (i && children_[*i].box != nullptr && children_[*i].box->error)
                std::rethrow_exception(children_[*i].box->error);
            detail::throw_errno(wse_future_error(d), "wsexec task failed");
        }
        return i;
    }

    /* The last join() returned because the deadline passed first. */
    bool
    timed_out() const noexcept
    {
        return timed_out_;
    }

  private:
    struct child {
        wse_future *f;         /* a reference of the scope's */
        detail::box_base *box; /* a handle of the scope's, or null (a blockless task) */
    };

    scope(const executor_ref &ex, return_when policy, double timeout_s) : policy_(policy)
    {
        detail::check(wse_scope_create(&s_, ex.native_handle(),
                                       static_cast<wse_return_when>(policy), timeout_s),
                      "wse_scope_create");
    }

    std::optional<std::size_t>
    position(const wse_future *f)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (std::size_t i = 0; i < children_.size(); i++)
            if (children_[i].f == f)
                return i;
        return std::nullopt;
    }

    wse_scope *s_ = nullptr;
    return_when policy_;
    bool timed_out_ = false;
    std::mutex mutex_;            /* guards children_ */
    std::vector<child> children_; /* in submission order */
};

/* ===================================================================== */

} // namespace wse

#endif /* WSEXEC_HPP */

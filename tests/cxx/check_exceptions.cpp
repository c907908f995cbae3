// A C++ exception thrown by a task and caught in an enclosing task, after it
// unwound through wsexec's frames (the enclosing task's wait ran the thrower on
// top of itself): the thrower ends FAILED with ENOTRECOVERABLE, the waits it
// crossed are unlinked, the running chain is the enclosing task's again, and no
// reference is lost (LeakSanitizer checks in the ASan build). An exception that
// no task catches terminates the process (std::terminate: SIGABRT), checked in a
// child process.
//
// A plain asserting program: prints what failed and exits 1; 0 when all passed.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "wsexec.h"

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int
thrower(void *, void **)
{
    throw std::runtime_error("task failed");
}

static int
noop(void *, void **)
{
    return 0;
}

struct outer_state {
    bool by_claim; // force the wait past its fast path (registered nodes)
    bool caught;
    wse_state inner_state;
    int inner_error;
    int wait_after; // wse_future_wait on the inner future after the catch
    int self_wait;  // wse_future_wait on the outer's own future: EDEADLK
    wse_future *self;
};

static int
outer(void *arg, void **)
{
    outer_state *s = static_cast<outer_state *>(arg);
    wse_future *inner = nullptr;
    wse_future *top = nullptr;

    if (wse_submit(wse_current(), thrower, nullptr, &inner) != 0)
        return 1;
    if (s->by_claim) {
        // A task the wait does not wait on, newest on the deque: the fast path
        // stops there, the wait registers its nodes, then claims `inner` from
        // the deque and runs it inside the registered wait.
        if (wse_submit(wse_current(), noop, nullptr, &top) != 0)
            return 2;
    }
    try {
        wse_future *both[2] = {inner, inner};
        (void)wse_wait(both, 2, WSE_FOREVER, WSE_ALL_COMPLETED, nullptr, nullptr);
    } catch (const std::runtime_error &) {
        s->caught = true;
    }
    s->inner_state = wse_future_state(inner);
    s->inner_error = wse_future_error(inner);
    s->wait_after = wse_future_wait(inner, 1.0);
    while (__atomic_load_n(&s->self, __ATOMIC_ACQUIRE) == nullptr)
        ;
    s->self_wait = wse_future_wait(s->self, 0.0);
    wse_future_release(inner);
    if (top != nullptr) {
        (void)wse_future_wait(top, WSE_FOREVER);
        wse_future_release(top);
    }
    return 0;
}

static void
caught(bool by_claim)
{
    wse_options o = {};
    o.workers = 1;
    wse_executor *ex = nullptr;
    CHECK(wse_executor_create(&ex, &o) == 0);
    outer_state s = {};
    s.by_claim = by_claim;
    wse_future *f = nullptr;
    CHECK(wse_submit(ex, outer, &s, &f) == 0);
    __atomic_store_n(&s.self, f, __ATOMIC_RELEASE);
    CHECK(wse_future_wait(f, 60.0) == 0);
    CHECK(wse_future_state(f) == WSE_DONE);
    CHECK(s.caught);
    CHECK(s.inner_state == WSE_FAILED);
    CHECK(s.inner_error == ENOTRECOVERABLE);
    CHECK(s.wait_after == 0);
    CHECK(s.self_wait == EDEADLK); // the chain is the outer task's again
    wse_future_release(f);
    // The executor still works, and destroy finds nothing RUNNING.
    wse_future *g = nullptr;
    CHECK(wse_submit(ex, noop, nullptr, &g) == 0);
    CHECK(wse_future_wait(g, 60.0) == 0);
    wse_future_release(g);
    CHECK(wse_executor_destroy(ex) == 0);
}

// The same through a scope's join: the join runs the scope's children on top
// of the joining task, counting those that complete there itself; an exception
// out of one unwinds through the join. The count so far must still reach the
// scope: joined again, it closes (a lost count would make it wait forever).
struct scope_state {
    bool caught;
    int rejoin;
    bool decided_is_thrower;
    wse_state thrower_state;
    int thrower_error;
    int ran;
};

static int
counting_noop(void *arg, void **)
{
    __atomic_add_fetch(static_cast<int *>(arg), 1, __ATOMIC_RELAXED);
    return 0;
}

static int
scope_outer(void *arg, void **)
{
    scope_state *s = static_cast<scope_state *>(arg);
    wse_scope *sc = nullptr;
    wse_future *t = nullptr;
    wse_future *decided = nullptr;

    if (wse_scope_create(&sc, wse_current(), WSE_ALL_COMPLETED, WSE_FOREVER) != 0)
        return 1;
    // Newest first: the join runs the two counting tasks, then the thrower.
    if (wse_scope_submit(sc, thrower, nullptr, &t) != 0 ||
        wse_scope_submit(sc, counting_noop, &s->ran, nullptr) != 0 ||
        wse_scope_submit(sc, counting_noop, &s->ran, nullptr) != 0)
        return 2;
    try {
        (void)wse_scope_join(sc, nullptr);
    } catch (const std::runtime_error &) {
        s->caught = true;
    }
    s->rejoin = wse_scope_join(sc, &decided);
    s->decided_is_thrower = decided == t;
    s->thrower_state = wse_future_state(t);
    s->thrower_error = wse_future_error(t);
    wse_future_release(t);
    wse_scope_destroy(sc);
    return 0;
}

static void
caught_in_scope()
{
    wse_options o = {};
    o.workers = 1;
    wse_executor *ex = nullptr;
    CHECK(wse_executor_create(&ex, &o) == 0);
    scope_state s = {};
    wse_future *f = nullptr;
    CHECK(wse_submit(ex, scope_outer, &s, &f) == 0);
    CHECK(wse_future_wait(f, 60.0) == 0);
    CHECK(wse_future_state(f) == WSE_DONE);
    CHECK(wse_future_error(f) == 0);
    CHECK(s.caught);
    CHECK(s.ran == 2);
    CHECK(s.rejoin == 0);
    CHECK(s.decided_is_thrower);
    CHECK(s.thrower_state == WSE_FAILED);
    CHECK(s.thrower_error == ENOTRECOVERABLE);
    wse_future_release(f);
    CHECK(wse_executor_destroy(ex) == 0);
}

static void
uncaught()
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60);
        wse_executor *ex = nullptr;
        if (wse_executor_create(&ex, nullptr) != 0)
            _exit(3);
        wse_future *f = nullptr;
        if (wse_submit(ex, thrower, nullptr, &f) != 0)
            _exit(4);
        (void)wse_future_wait(f, WSE_FOREVER);
        _exit(5); // not reached: the worker's uncaught exception terminates
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

int
main()
{
    caught(false);
    caught(true);
    caught_in_scope();
    uncaught();
    if (failures != 0) {
        std::fprintf(stderr, "check_exceptions: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("check_exceptions: caught (fast path, claimed in a registered wait, through a "
                "scope's join) and uncaught (SIGABRT): all passed\n");
    return 0;
}

/*
 * Helping: what a thread that waits may run while it waits.
 *
 * The rule. A worker waiting inside a task runs a task on top of its waiting
 * frame only if the wait waits on that task, directly or through a chain of
 * waits that lasts until the task is done. Why that cannot deadlock: a task
 * run on top of the frame adds a stack edge "the waiter returns after it".
 * If the wait waits on the task, the wait edge "the waiter is done after it"
 * exists anyway, so the graph of waits plus stack edges has a cycle only if
 * the graph of waits alone has one, and an acyclic pattern of waits cannot
 * deadlock. A task the waiter does not wait on could wait, through others,
 * on the waiter's own future: run on top of the frame, it would close a cycle
 * through the stack although no task's waits form one. (No descendant rule is
 * enough: a child the waiter does not wait on may wait on a task that waits on
 * the waiter.)
 *
 * Leapfrogging. If the wait waits on T, T waits on D, and D is queued, running
 * D here adds an edge that waiter -> T -> D already implies, provided T's wait
 * lasts until D is done: an ALL_COMPLETED wait with no deadline. A task in such
 * a wait on every child it has marks itself (wse__help_mark_set(), the mark of
 * future.h), and a waiter with nothing awaited to run steals a task and walks
 * up its parents through marked ones only (leapfrog_ok()): it runs the task if
 * the walk reaches an entry of its own wait, else gives it back. Parents are
 * alive: the stolen child, which the walker holds, keeps them.
 *
 * Taking. What a waiter runs it takes from the queues as any taker would: the
 * newest entry of its own deque by a pop (the fork-join case: the fast path,
 * inline in help.h), any other awaited task still PENDING by claiming it in place with the
 * PENDING -> RUNNING CAS (whoever takes its queue entry later loses that CAS and
 * drops the entry: a tombstone). A future found in this pool's queues is a task
 * of this executor, so wse_current() stays right; promises and held dependents
 * are in no queue and never run here.
 *
 * Blocking. With nothing it may run, a worker spins a while on its latch, then
 * blocks with a spare in its place (spares.c). With too little stack left for
 * another task it blocks at once.
 *
 * Plain threads with caller_runs (callers.c) follow the same rule: they run only
 * what they wait on. docs/design.md, "Safe helping", has the long form.
 */
#include "help.h"

#include <errno.h>

#include "clock.h"
#include "spares.h"
#include "tune.h"

/* What take() did with a future the waiter waits on. */
enum take { TAKE_NONE, TAKE_POPPED, TAKE_CLAIMED };

/*
 * f is a task w waits on: take it if it is still PENDING and queued in w's pool.
 * TAKE_POPPED: popped from w's deque (run it as a queue's taker does);
 * TAKE_CLAIMED: started in place (the queue's entry stays, a tombstone that its
 * taker drops). *budget bounds the queue entries looked at.
 */
static enum take
take(struct wse__worker *w, wse_future *f, int64_t *budget)
{
    wse_future *g;

    if (wse__future_state_acquire(f) != WSE_PENDING)
        return TAKE_NONE;
    if (!wse__worker_may_claim(w->pool, f))
        return TAKE_NONE;
    if (wse__deque_peek(&w->deque) == f) {
        /* The usual fork-join case: the child just pushed. The pop returns f
         * or, if a thief took it meanwhile, NULL (only we write our slots). */
        g = wse__deque_pop(&w->deque);
        if (g == f)
            return TAKE_POPPED;
    }
    /* Anywhere else in the pool: a future found in our queues is a task of
     * this executor, so it may run here; starting it decides the race with
     * whoever takes its queue entry. */
    if (wse__worker_queued_in_pool(w->pool, w, f, budget) && wse__future_start(f))
        return TAKE_CLAIMED;
    return TAKE_NONE;
}

/* A stolen task w may not run goes on w's own deque (or, without memory to
 * grow it, the injection queue), where any thread may take it. */
static void
give_back(struct wse__worker *w, wse_future *f)
{
    if (wse__deque_push(&w->deque, f) != 0) {
        /* No room and no memory to grow: the injection queue takes it (past a
         * shutdown too: the task was accepted before it). */
        wse__inject_push_always(&w->pool->inject, f);
    }
    /* With the full fence, as for a submission from outside: this thread is
     * inside a wait and may block without re-checking its deque, so a worker
     * that parked while the task was in our hands must hear of it. */
    wse__park_wake_some(&w->pool->park, 1, true);
}

/* Could wse__callers_claim() find one of these later? Some entry is a
 * task nobody has started yet (a promise too, which it never finds: the retry
 * is bounded in time). */
static bool
caller_may_find(wse_future *const futures[], size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (wse__future_state_acquire(futures[i]) == WSE_PENDING)
            return true;
    }
    return false;
}

/* Is f one of the n entries? */
static bool
awaited(wse_future *const futures[], size_t n, const wse_future *f)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (futures[i] == f)
            return true;
    }
    return false;
}

/*
 * May a worker waiting on futures run f, a task it took from a queue, on top of
 * its frame? Yes if f is one of them, or if a task waits (no deadline, until f
 * is done) on f and may run here by the same rule, or is the waiting task
 * itself: then this wait waits, through a chain of waits that can only end
 * once f is done, on f, and a task this wait waits on cannot need it to return
 * first unless the waits form a cycle (docs/design.md, "Safe helping"). Who
 * waits on f: a parent marked as waiting on every child it has, or the joiner
 * of f's scope (wse__future_waiter()). The waiting task itself: the innermost
 * one running here, which can be in no other wait than this one (a task run
 * on top of a wait becomes the innermost); it is reached when it joins f's
 * scope, or is marked by this wait. Each task on the chain is alive: it cannot
 * end its wait before the held task is done.
 */
static bool
leapfrog_ok(wse_future *const futures[], size_t n, const wse_future *f)
{
    const struct wse__running *r = wse__future_running;
    const wse_future *self = r != NULL ? r->future : NULL;
    unsigned depth;

    for (depth = 0; depth < WSE__LEAPFROG_DEPTH; depth++) {
        if (awaited(futures, n, f))
            return true;
        f = wse__future_waiter(f);
        if (f == NULL)
            return false;
        if (f == self)
            return true;
    }
    return false;
}

/* Find and run one task that leapfrog_ok() allows: the newest of our own deque
 * (a task stolen earlier and given back), else one stolen from another deque.
 * False if none ran. */
static bool
leapfrog(struct wse__worker *w, wse_future *const futures[], size_t n)
{
    wse_future *f;

    f = wse__deque_pop(&w->deque);
    if (f != NULL) {
        if (leapfrog_ok(futures, n, f)) {
            wse__worker_run_task(w, f, WSE__STAT_OWN + WSE__STAT_HELPED);
            return true;
        }
        /* The owner's push cannot fail: the slot was just freed. */
        (void)wse__deque_push(&w->deque, f);
        if (wse__deque_size_hint(&w->deque) >= WSE__LEAPFROG_HOARD)
            return false;
    }
    f = wse__worker_steal(w);
    if (f == NULL)
        return false;
    if (!leapfrog_ok(futures, n, f)) {
        give_back(w, f);
        return false;
    }
    wse__worker_run_task(w, f, WSE__STAT_STOLEN + WSE__STAT_HELPED);
    return true;
}

/*
 * A worker: until the latch trips or the deadline passes, run the tasks it
 * waits on that are still queued in its pool, or tasks those wait on through
 * their parents' waits (leapfrog_ok()), while the stack has room; spin when
 * there are none, then block (a spare runs the rest meanwhile). Never another
 * task: a task run on top of this frame must not need this frame to return
 * first, and only a task this wait waits on is sure not to (see
 * docs/design.md, "Safe helping"). The deadline is checked between tasks.
 */
int
wse__help_wait(struct wse__worker *w, struct wse__latch *l, wse_future *const futures[], size_t n,
               const struct wse__deadline *deadline)
{
    size_t cursor = 0;
    size_t k;
    int64_t budget;
    enum take took;
    wse_future *f;
    bool stack_ok;
    bool spinning = false;
    struct timespec spin_start = {0, 0};
    struct timespec now;
    unsigned i;

    while (!wse__latch_tripped(l) && !wse__clock_deadline_passed(deadline)) {
        took = TAKE_NONE;
        f = NULL;
        stack_ok = wse__worker_stack_ok(w);
        if (!stack_ok) {
            if (wse__spares_block(w, l, deadline, n > 0, true) != 0)
                return EAGAIN;
            continue;
        }
        budget = WSE__TAKE_BUDGET;
        for (k = 0; k < n && took == TAKE_NONE && budget > 0; k++) {
            f = futures[cursor];
            cursor = cursor + 1 < n ? cursor + 1 : 0;
            took = take(w, f, &budget);
        }
        if (took == TAKE_POPPED) {
            wse__worker_run_task(w, f, WSE__STAT_OWN + WSE__STAT_HELPED);
        } else if (took == TAKE_CLAIMED) {
            wse__worker_run_claimed(w->pool, w, f);
        } else if (n == 0 || !leapfrog(w, futures, n)) {
            /* Nothing to run: spin a while (looking again every few hundred
             * nanoseconds: a thief's own children appear on its deque), then
             * block. */
            now = wse__clock_now();
            if (!spinning) {
                spinning = true;
                spin_start = now;
            } else if (wse__clock_elapsed_ns(&spin_start, &now) >= WSE__BLOCK_SPIN_NS) {
                spinning = false;
                if (wse__spares_block(w, l, deadline, false, false) != 0)
                    return EAGAIN;
                continue;
            }
            for (i = 0; i < 32 && !wse__latch_tripped(l); i++)
                wse__atomic_pause();
            continue;
        }
        spinning = false;
    }
    return 0;
}

/*
 * A plain thread, outside any task: with caller_runs, run the entries still
 * queued in their executor here (the same rule as a worker's: only what it
 * waits on), until none is left or the condition may hold; then the caller
 * waits as usual. An entry nobody has started may be in no queue for a moment
 * (taken by a worker that has not started it yet, or moving from the injection
 * queue's list to its front): look again for up to WSE__CALLER_RETRY_NS. True as
 * wse__help_fast_path().
 */
bool
wse__help_caller_runs(wse_future *const futures[], size_t n, const struct wse__deadline *deadline,
                      wse_return_when mode)
{
    struct wse__pool *pool;
    wse_future *f;
    bool retrying = false;
    struct timespec since = {0, 0};
    struct timespec now;

    while (wse__help_may_run_more(futures, n, deadline, mode)) {
        f = wse__callers_claim(futures, n, &pool);
        if (f != NULL) {
            wse__callers_run(pool, f);
            if (mode == WSE_ALL_COMPLETED && wse__help_every_done(futures, n))
                return true;
            retrying = false;
            continue;
        }
        if (!caller_may_find(futures, n))
            break;
        now = wse__clock_now();
        if (!retrying) {
            retrying = true;
            since = now;
        } else if (wse__clock_elapsed_ns(&since, &now) >= WSE__CALLER_RETRY_NS) {
            break;
        }
        wse__atomic_pause();
    }
    return false;
}

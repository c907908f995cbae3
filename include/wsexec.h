/*
 * wsexec - a work-stealing executor for CPU-bound tasks, with Python's wait().
 *
 * Usage:
 *
 *     static int square(void *arg, void **result) {
 *         *result = (void *)((long)arg * (long)arg);
 *         return 0;                         // nonzero: the task "raised" that code
 *     }
 *
 *     wse_executor *ex;
 *     wse_executor_create(&ex, NULL);       // one worker per usable CPU
 *     wse_future *f[4];
 *     for (long i = 0; i < 4; i++)
 *         wse_submit(ex, square, (void *)i, &f[i]);
 *     size_t n_done;
 *     wse_wait(f, 4, 1.5, WSE_ALL_COMPLETED, f, &n_done);   // f is now partitioned
 *     for (size_t i = 0; i < 4; i++)
 *         wse_future_release(f[i]);
 *     wse_executor_destroy(ex);            // runs what is queued, joins, frees
 *
 * Conventions: every command returns 0 or a positive errno value (as pthreads does)
 * and never prints or aborts on a caller's mistake; predicates return bool; getters
 * return the value. Any thread may call any function unless its comment says
 * otherwise. ABI: versions with the same major number are ABI compatible;
 * wse_options only ever grows at its end, and a zeroed wse_options means defaults.
 *
 * fork(): in the child, every call on an executor created before the fork
 * returns EOWNERDEAD (its threads exist only in the parent); there
 * wse_executor_destroy() frees the executor's memory without joining or locking
 * anything and returns EOWNERDEAD; its pending futures stay pending in the child
 * (a wait on them ends only at its deadline). New executors work in the child.
 */
#ifndef WSEXEC_H
#define WSEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WSE_EXPORT __attribute__((visibility("default")))
#else
#define WSE_EXPORT
#endif

#define WSE_VERSION_MAJOR 0
#define WSE_VERSION_MINOR 3
#define WSE_VERSION_PATCH 0
#define WSE_VERSION_HEX ((WSE_VERSION_MAJOR << 16) | (WSE_VERSION_MINOR << 8) | WSE_VERSION_PATCH)
#define WSE__STR(x) #x
#define WSE__XSTR(x) WSE__STR(x)
/* "MAJOR.MINOR.PATCH" of this header, e.g. "0.1.0". */
#define WSE_VERSION_STRING                                                                         \
    WSE__XSTR(WSE_VERSION_MAJOR) "." WSE__XSTR(WSE_VERSION_MINOR) "." WSE__XSTR(WSE_VERSION_PATCH)

/* The version of the library actually linked, as WSE_VERSION_HEX. */
WSE_EXPORT unsigned wse_version(void);

/* The version of the library actually linked, as WSE_VERSION_STRING (static
 * storage, never NULL). */
WSE_EXPORT const char *wse_version_string(void);

typedef struct wse_executor wse_executor;
typedef struct wse_future wse_future;

/*
 * A task. Return 0 on success and optionally store a value in *result (it starts
 * as NULL). Any nonzero return means the task failed ("raised an exception") with
 * that code; a value stored by a failing task is ignored.
 */
typedef int (*wse_task_fn)(void *arg, void **result);

/* Executor options. Zero-initialise, then set what you need; 0 means default. */
typedef struct wse_options {
    unsigned workers;           /* worker threads (max 1024); 0: the environment
                                  variable WSE_WORKERS if it is a positive integer
                                  (capped at 1024; other values are ignored), else
                                  one per CPU the process may run on (its affinity
                                  mask, as set by taskset), at most the cgroup v2 CPU
                                  quota rounded up (cpu.max "150000 100000": 2). An
                                  explicit count is never overridden */
    unsigned deque_capacity;    /* initial slots of each worker's deque, rounded up
                                  to a power of two; 0: 256. Deques grow as needed */
    unsigned spin_rounds;       /* rounds an idle worker searches for work before
                                  its timed spin (spin_us) starts; 0: default (64);
                                  at most WSE_MAX_SPIN_ROUNDS. Shutdown ends a spin
                                  at once */
    const char *thread_name;    /* prefix of worker thread names (at most 10 bytes
                                  are used, then the worker index); NULL: "wse" */
    size_t stack_size;          /* bytes of stack of each worker thread; 0: 64 MiB
                                  (virtual memory: pages cost only once touched);
                                  at least WSE_MIN_STACK_SIZE */
    unsigned max_spare_workers; /* threads started beyond `workers` to keep that
                                  many running while workers block in waits;
                                  0: 4 * workers + 64; at most 65536 */
    /* Hooks (both may be NULL). on_worker_start runs on worker `index` (0 ..
     * workers-1; never on a spare) before it takes its first task, and
     * wse_executor_create()
     * returns only after every start hook has returned, so a hook may set up
     * per-worker state the first tasks use. on_worker_stop runs on the worker
     * after its last task, before it exits (during destroy; also for the
     * workers that started when create fails later). A hook may submit (from
     * start the task queues normally) but must not call wse_shutdown() or
     * wse_executor_destroy() on ex. */
    void (*on_worker_start)(wse_executor *ex, unsigned index, void *ctx);
    void (*on_worker_stop)(wse_executor *ex, unsigned index, void *ctx);
    void *hook_ctx; /* passed to both hooks as ctx */
    /* The most microseconds an idle worker keeps searching (after spin_rounds)
     * before it parks; 0: default (100); WSE_SPIN_US_NONE: park after
     * spin_rounds; at most WSE_MAX_SPIN_US. The spin adapts: a worker whose
     * search or park ended with work after t spins up to 2t next time, one whose
     * spin ran out halves it (down to 2 us, or spin_us if less). An idle
     * executor parks all its workers within spin_us of its last task. */
    unsigned spin_us;
    /* A plain thread (not a worker, not inside a task) waiting in wse_wait()
     * or wse_future_wait() on tasks of this executor that are still queued
     * runs them itself, one after another, before it sleeps: only the tasks it
     * waits on, and only while the executor is not shut down. Inside such a
     * task wse_current() returns this executor, wse_worker_index() returns -1,
     * a nested wait runs nothing (it sleeps), and wse_shutdown(ex, true, ...)
     * and wse_executor_destroy(ex) return EDEADLK, as on a worker; destroy
     * waits for the task to finish. Default false. */
    bool caller_runs;
} wse_options;

#define WSE_MAX_SPIN_US 100000u
#define WSE_SPIN_US_NONE (~0u)

#define WSE_MAX_SPIN_ROUNDS 1000000u
#define WSE_MIN_STACK_SIZE ((size_t)1 << 20)

/*
 * Create an executor and start its workers. opts may be NULL (defaults).
 * EINVAL: out is NULL, opts->workers > 1024, opts->spin_rounds >
 * WSE_MAX_SPIN_ROUNDS, opts->spin_us > WSE_MAX_SPIN_US (other than
 * WSE_SPIN_US_NONE), opts->stack_size is nonzero and below WSE_MIN_STACK_SIZE,
 * or opts->max_spare_workers > 65536. ENOMEM: out of memory. EAGAIN:
 * the system could not start a thread. On error nothing is left running or
 * allocated and *out is untouched.
 */
WSE_EXPORT int wse_executor_create(wse_executor **out, const wse_options *opts);

/*
 * Stop accepting work, as Python's Executor.shutdown. Afterwards every submit
 * returns ESHUTDOWN, also from the executor's own workers, so a task that spawns
 * children must expect it. With cancel_pending, every task not yet started
 * becomes CANCELLED now (its waiters and callbacks run); without it, queued tasks
 * still run. With wait, returns once the queues are empty and every started task
 * has finished; without it, returns at once. May be called more than once (a later
 * call may add cancel_pending or wait).
 * EINVAL: ex is NULL. EDEADLK: wait is true and the caller is one of ex's workers
 * (nothing is changed then).
 */
WSE_EXPORT int wse_shutdown(wse_executor *ex, bool wait, bool cancel_pending);

/*
 * wse_shutdown(ex, true, false), then join the workers and free the executor.
 * Futures stay valid until released. EINVAL: ex is NULL. EDEADLK: called from one
 * of ex's workers (nothing is changed then).
 */
WSE_EXPORT int wse_executor_destroy(wse_executor *ex);

/* The executor whose worker is calling, or NULL on any other thread. */
WSE_EXPORT wse_executor *wse_current(void);

/* The number of worker threads of ex (0 if ex is NULL). */
WSE_EXPORT unsigned wse_executor_workers(const wse_executor *ex);

/*
 * Submit fn(arg). From a worker of ex the task goes on that worker's own deque (it
 * will usually run next on the same thread: LIFO); from any other thread it goes on
 * the executor's injection queue (FIFO). out may be NULL (fire and forget);
 * otherwise *out receives a future holding one reference, which the caller must
 * release with wse_future_release().
 * EINVAL: ex or fn is NULL. ESHUTDOWN: ex is shut down. ENOMEM: out of memory.
 * On error nothing was submitted and *out is untouched.
 */
WSE_EXPORT int wse_submit(wse_executor *ex, wse_task_fn fn, void *arg, wse_future **out);

/*
 * Submit n tasks fn(args[i]) at once. args may be NULL (every arg is NULL). out
 * (n slots) may be NULL. All or nothing: on any error no task was submitted and
 * out is untouched. EINVAL: ex or fn is NULL, or n is 0. ESHUTDOWN, ENOMEM: as
 * wse_submit. From 256 tasks on, the futures share memory blocks of 511 (one
 * allocation each instead of one per task), and the first tasks may start (and
 * out be partly written) before the call returns; a block is freed when its
 * last future is released, so keeping a few futures of a big batch keeps up to
 * 32 KiB each.
 */
WSE_EXPORT int wse_submit_batch(wse_executor *ex, wse_task_fn fn, void *const args[], size_t n,
                                wse_future *out[]);

/* States. A future moves only forward: PENDING -> RUNNING -> DONE | FAILED, or
 * PENDING -> CANCELLED; RUNNING -> CANCELLED when a task returns ECANCELED after
 * a stop was requested for it; and for promises PENDING -> DONE | FAILED. */
typedef enum { WSE_PENDING, WSE_RUNNING, WSE_DONE, WSE_FAILED, WSE_CANCELLED } wse_state;

/* The current state of f (WSE_PENDING if f is NULL). */
WSE_EXPORT wse_state wse_future_state(const wse_future *f);

/* True if f is DONE, FAILED or CANCELLED (false if f is NULL). */
WSE_EXPORT bool wse_future_done(const wse_future *f);

/* The value the task stored in *result, once DONE; NULL otherwise. */
WSE_EXPORT void *wse_future_value(const wse_future *f);

/* FAILED: the task's nonzero return; CANCELLED: ECANCELED; otherwise 0 (EINVAL if
 * f is NULL). */
WSE_EXPORT int wse_future_error(const wse_future *f);

/*
 * Cancel f if it has not started: true if it was PENDING and is now CANCELLED (its
 * waiters wake and its callbacks run on the calling thread). False if it is running
 * or done, or f is NULL. A running task is never interrupted.
 */
WSE_EXPORT bool wse_future_cancel(wse_future *f);

/*
 * Wait until f is done or timeout_s seconds have passed (WSE_FOREVER: no limit;
 * 0: poll). 0 when f is done, ETIMEDOUT otherwise (nothing is cancelled).
 * EINVAL: f is NULL or timeout_s is NaN. EDEADLK: f is the future of the task the
 * calling worker is running (or of one it is nested in). ENOMEM: out of memory.
 * EAGAIN: a worker could not run f nor get a spare to run it; see wse_wait(). On a
 * worker thread the caller runs f itself if it is still queued; see wse_wait().
 */
WSE_EXPORT int wse_future_wait(wse_future *f, double timeout_s);

/*
 * Run cb(f, arg) once when f completes (DONE, FAILED or CANCELLED), on the thread
 * that completes it; if f is already done, run it now on the calling thread.
 * Callbacks of one future run in the order they were added: one added while the
 * completing thread is still running earlier callbacks (from another thread, or
 * from inside a callback) is queued and runs on that thread after them. cb may
 * call any wsexec function; it must not block for long, as it delays the
 * completing worker. EINVAL: f or cb is NULL. ENOMEM: out of memory (cb will not
 * run).
 */
WSE_EXPORT int wse_future_on_done(wse_future *f, void (*cb)(wse_future *, void *), void *arg);

/* Take one more reference to f; returns f. */
WSE_EXPORT wse_future *wse_future_retain(wse_future *f);

/* Drop one reference; the last one frees f. NULL is ignored. The executor holds
 * its own reference until the task has run or was cancelled, so releasing early
 * never stops a task. */
WSE_EXPORT void wse_future_release(wse_future *f);

typedef enum {
    WSE_FIRST_COMPLETED = 1, /* any future is done */
    WSE_FIRST_EXCEPTION,     /* any future FAILED (CANCELLED is no failure); else all done */
    WSE_ALL_COMPLETED        /* every future is done */
} wse_return_when;

#define WSE_FOREVER (-1.0)

/*
 * Wait on a set of futures with Python's concurrent.futures.wait() rules
 * (wse_wait(3) has the details of how each kind of thread waits).
 *
 * Returns 0 when the return_when condition holds, ETIMEDOUT when the deadline
 * passed first (not an error; nothing is cancelled). Either way out[0 .. *n_done)
 * holds the done futures and out[*n_done .. n) the others, each part in input
 * order. out may be NULL or any n slots, the futures array itself or overlapping
 * it; n_done may be NULL. Duplicates are allowed (each reported in its own slot);
 * futures may belong to different executors. No references are taken or dropped.
 * timeout_s < 0 (WSE_FOREVER): no limit; 0: poll, never blocks. The deadline is on
 * CLOCK_MONOTONIC.
 *
 * Helping. A plain thread spins briefly, then sleeps (with wse_options.caller_runs
 * it first runs the entries still queued itself). A worker (inside a task) runs
 * only entries still queued in its executor and, through tasks that wait with
 * ALL_COMPLETED and no deadline on all their children (up to 8), those children,
 * and so on down; never any other task, so no acyclic pattern of waits deadlocks,
 * at any depth of nesting, even with one worker. When it can run none it blocks and a spare thread
 * takes its place (wse_options.max_spare_workers); past that ceiling, if every
 * thread of the executor waits on work that only a blocked thread could run, only
 * the deadlines end the waits. A worker checks its deadline between the tasks it
 * runs: its wait may return late by the run time of one of them. The same holds
 * for wse_future_wait() and wse_as_completed_next().
 *
 * C++ exceptions. One that leaves a task unwinds through the library (built with
 * -fexceptions): the task ends FAILED with ENOTRECOVERABLE (waiters wake,
 * callbacks run), every wait it unwinds through lets go of its futures, the
 * worker's chain of running tasks is restored, and the exception goes on to a
 * handler in an enclosing task that waited (directly or not) on the thrower, on
 * the same thread; with none on the worker's stack, std::terminate() ends the
 * process. Callbacks and hooks must not throw.
 *
 * Errors (nothing is touched): EINVAL: futures is NULL, n is 0, an entry is NULL,
 * return_when is unknown, or timeout_s is NaN. EDEADLK: ALL_COMPLETED over a set
 * holding the future of the task the calling worker is running (or one it is
 * nested in); FIRST_COMPLETED and FIRST_EXCEPTION over such a set are allowed
 * (another future can satisfy them) and otherwise wait for the deadline. ENOMEM:
 * more than 8 futures and no memory for the waiter block (never for a plain
 * thread's ALL_COMPLETED wait that completes in time). EAGAIN: a worker had no
 * stack left to run a queued entry, every spare was in use and no other thread of
 * the executor was running, so nobody could run it: the wait returns with the
 * partition, as for ETIMEDOUT, rather than hang.
 */
WSE_EXPORT int wse_wait(wse_future *const futures[], size_t n, double timeout_s,
                        wse_return_when return_when, wse_future *out[], size_t *n_done);

/*
 * wse_wait() with an absolute CLOCK_MONOTONIC deadline (NULL: no limit; a past
 * deadline polls). EINVAL also for tv_nsec outside [0, 1e9).
 */
WSE_EXPORT int wse_wait_until(wse_future *const futures[], size_t n,
                              const struct timespec *deadline, wse_return_when return_when,
                              wse_future *out[], size_t *n_done);

/* ------------------------------------------------------------------------- */
/* Cooperative stop                                                            */

/*
 * Ask f to stop. PENDING: f becomes CANCELLED at once (as wse_future_cancel()).
 * RUNNING: a stop flag is set that the task polls with wse_stop_requested();
 * nothing is interrupted. The request also reaches every task submitted, with any
 * submit function, from inside f's task (transitively) that has not finished:
 * pending ones are cancelled when a worker would start them (they never run),
 * running ones see the flag. A task that returns ECANCELED after a stop was
 * requested for it (or for a task it descends from) ends CANCELLED, not FAILED.
 * Returns true if f was not done (also on a repeated call while it runs), false
 * if it was done (nothing happens) or f is NULL. Any thread; idempotent.
 * Lineage costs memory: a finished task stays allocated while tasks submitted
 * from inside it are alive.
 */
WSE_EXPORT bool wse_future_request_stop(wse_future *f);

/*
 * Inside a task: true once a stop was requested for it or for a task it descends
 * from. False on a thread that is not running a task, and inside an unrelated task
 * that a stopped task's worker runs while it helps. A few plain loads, no
 * read-modify-write or system call: fine in an inner loop.
 */
WSE_EXPORT bool wse_stop_requested(void);

/* ------------------------------------------------------------------------- */
/* Promises: futures the program completes                                     */

typedef void (*wse_value_free_fn)(void *value);

/*
 * A PENDING future with no task; *out holds one reference. free_value (may be
 * NULL) is called once on the value when the future is freed, if it ended DONE
 * with a non-NULL value. A promise belongs to no executor and outlives them all;
 * wse_wait(), callbacks and wse_submit_after() take promises like any future, and
 * wse_future_cancel()/wse_future_request_stop() cancel a pending one.
 * EINVAL: out is NULL. ENOMEM.
 */
WSE_EXPORT int wse_promise_create(wse_future **out, wse_value_free_fn free_value);

/*
 * Complete promise f: DONE with value, or FAILED with error (nonzero). Exactly one
 * completion wins; waiters wake and callbacks run on the calling thread, as for a
 * task. Any thread, a worker or a callback included. EINVAL: f is NULL, error is
 * 0 (checked first, whatever the state), or f was made by a submit. EALREADY: f
 * is already done (set or cancelled) or being set by another thread; nothing
 * changes, and the value still belongs to the caller.
 */
WSE_EXPORT int wse_promise_set_value(wse_future *f, void *value);
WSE_EXPORT int wse_promise_set_error(wse_future *f, int error);

/* ------------------------------------------------------------------------- */
/* Dependencies                                                                */

/*
 * Submit fn(arg) to run once every future in deps is done (DONE, FAILED or
 * CANCELLED: it runs in every case and may inspect them). Until then its future is
 * PENDING: it can be cancelled, and wse_shutdown(cancel_pending) cancels it; it
 * counts as queued, so wse_shutdown(wait) and destroy wait for it (a dependency
 * that never completes keeps them waiting: cancel the task first). Deps may be
 * task futures of any executor or promises, and may repeat; the library holds a
 * reference to each until the task is queued (release yours at once if you like).
 * n_deps == 0 is wse_submit(). When the last dependency completes, the task is
 * queued on the completing worker's own deque if it is a worker of ex, otherwise
 * on ex's injection queue: nobody blocks or polls; O(n_deps) here, O(1) per
 * completed dependency. *out as wse_submit() (may be NULL).
 * EINVAL: ex or fn NULL, deps NULL with n_deps > 0, or a NULL entry. ESHUTDOWN.
 * ENOMEM. On error nothing was submitted and *out is untouched.
 */
WSE_EXPORT int wse_submit_after(wse_executor *ex, wse_future *const deps[], size_t n_deps,
                                wse_task_fn fn, void *arg, wse_future **out);

/* ------------------------------------------------------------------------- */
/* Workers                                                                     */

/* The calling worker's index in its executor (0 .. workers-1, stable), or -1 on
 * any other thread. One thread-local load. A spare thread (started while a
 * worker blocks in a wait, wse_options.max_spare_workers) stands in for that
 * worker: it reports the worker's index and runs no hooks. When the worker's
 * wait ends while its spare is still inside a task, both run under that index
 * until the spare's task returns, so per-worker state must not be assumed
 * exclusive across a wse_wait() in a task. */
WSE_EXPORT int wse_worker_index(void);

/* ------------------------------------------------------------------------- */
/* as_completed                                                                */

typedef struct wse_as_completed wse_as_completed;

/*
 * An iterator that hands back each of the n entries once, as it completes, as
 * Python's as_completed(). The deadline is timeout_s from now for the whole
 * iteration (WSE_FOREVER: none; 0: only what is already done). Takes a reference
 * to each future, dropped by wse_as_completed_destroy(). O(n) here; O(1) per
 * completion and no allocation afterwards.
 * EINVAL: out or futures NULL, n == 0, a NULL entry, NaN timeout. ENOMEM.
 */
WSE_EXPORT int wse_as_completed_create(wse_as_completed **out, wse_future *const futures[],
                                       size_t n, double timeout_s);

/*
 * The next done entry: 0 with *f the future (borrowed, valid until destroy) and
 * *index its position in the input (f and index may be NULL). Entries already
 * done at create come first, in input order, then the others in completion
 * order; duplicates are returned once per entry. ETIMEDOUT: the deadline passed
 * before another entry completed (nothing is cancelled; a later call still
 * returns entries that completed meanwhile, then ETIMEDOUT again). ENOENT: all n
 * entries have been returned. EINVAL: it is NULL. A worker helps while it waits,
 * as in wse_wait(); a plain thread sleeps. One thread at a time per iterator.
 */
WSE_EXPORT int wse_as_completed_next(wse_as_completed *it, wse_future **f, size_t *index);

/* Unlink from the futures still pending and drop the references; NULL is ignored.
 * Safe while futures complete on other threads. */
WSE_EXPORT void wse_as_completed_destroy(wse_as_completed *it);

/* ------------------------------------------------------------------------- */
/* Parallel loops (API 0.3)                                                    */

/* A loop body: run the indices begin .. end-1 (a chunk); 0 or an error code. */
typedef int (*wse_for_fn)(size_t begin, size_t end, void *ctx);

/*
 * Run fn on chunks [b, e) that are disjoint, non-empty and cover [begin, end)
 * exactly once, concurrently on ex's workers and the calling thread, in no
 * promised order. Each chunk has at most `grain` indices; grain 0 lets the
 * library choose (see wse_for(3)).
 *
 * The first nonzero return of fn (first in time) is the loop's error: no chunk
 * that has not started is started after it, and running chunks see
 * wse_stop_requested(). A chunk that returns ECANCELED after a stop was
 * requested for the loop is no failure.
 *
 * out != NULL: returns once the loop is queued; *out is its future (one
 * reference): PENDING until a chunk starts, RUNNING, then DONE (value NULL),
 * FAILED (the loop's error), or CANCELLED (a stop requested for it, directly or
 * through its parent task, with no chunk failed; or wse_future_cancel() while
 * PENDING: then no chunk runs). It works with every wait, as_completed,
 * wse_submit_after() and wse_future_on_done().
 * out == NULL: returns when the loop has finished: 0, the loop's error, or
 * ECANCELED if it was stopped. The calling thread (worker or not) runs chunks
 * meanwhile.
 *
 * Called inside a task, the loop is that task's child for stop; tasks submitted
 * from a chunk are the loop's children. Chunks may call wse_for(), wse_reduce()
 * or wait (loops nest). begin == end: nothing runs; 0 (with out: a DONE future).
 * Errors, with no chunk run and *out untouched: EINVAL (ex or fn NULL,
 * begin > end), ESHUTDOWN, ENOMEM, EOWNERDEAD (a forked child). No allocation per
 * chunk: a loop allocates a bounded amount at its start.
 */
WSE_EXPORT int wse_for(wse_executor *ex, size_t begin, size_t end, size_t grain, wse_for_fn fn,
                       void *ctx, wse_future **out);

/* A reduction body: fold the indices begin .. end-1 into acc; 0 or an error. */
typedef int (*wse_reduce_fn)(size_t begin, size_t end, void *acc, void *ctx);
/* Combine next (the indices right after acc's) into acc. */
typedef void (*wse_combine_fn)(void *acc, const void *next, void *ctx);

/*
 * A deterministic parallel reduction. *result (size bytes) holds the identity
 * element when called. Each chunk's accumulator starts as a copy of it and fn
 * folds the chunk into it; accumulators of adjacent ranges are combined with
 * combine(acc, next) in index order (combine need be associative, not
 * commutative). The chunk boundaries and the combination tree depend only on
 * begin, end, grain and size (grain 0: a chunk size derived from end - begin),
 * never on the number of workers or on timing: the same call gives a
 * bit-identical result (floating-point sums included) on every run and
 * executor. On success *result holds the reduction; on failure or stop it is
 * unchanged. result and ctx must stay valid until the loop is done.
 * Failure, stop, out and errors as wse_for(), plus EINVAL for result or combine
 * NULL or size 0.
 */
WSE_EXPORT int wse_reduce(wse_executor *ex, size_t begin, size_t end, size_t grain, void *result,
                          size_t size, wse_reduce_fn fn, wse_combine_fn combine, void *ctx,
                          wse_future **out);

/* ------------------------------------------------------------------------- */
/* Scopes (API 0.3)                                                            */

typedef struct wse_scope wse_scope;

/*
 * A scope: a group of child tasks (submitted with wse_scope_submit()) that
 * nothing outlives, with a wait mode as its policy and a deadline timeout_s
 * from now (WSE_FOREVER, or any negative value: none; 0: already passed).
 * The scope settles early when the policy's condition holds over its children:
 * FIRST_COMPLETED, a child is done; FIRST_EXCEPTION, a child FAILED;
 * ALL_COMPLETED never settles early (it has nothing to stop). At that moment,
 * on the thread that completed the deciding child, every other child gets
 * wse_future_request_stop(): pending ones are cancelled and never run, running
 * ones see wse_stop_requested() (and end CANCELLED if they then return
 * ECANCELED). Created inside a task, the scope is in that task's lineage: a
 * stop requested for the task reaches every child.
 * EINVAL: out or ex NULL, policy unknown, timeout_s NaN. ENOMEM. On error
 * *out is untouched.
 */
WSE_EXPORT int wse_scope_create(wse_scope **out, wse_executor *ex, wse_return_when policy,
                                double timeout_s);

/*
 * Submit fn(arg) as a child of s, like wse_submit() on the scope's executor
 * (out may be NULL). Any thread may submit, the scope's own children included,
 * until the scope settles or is joined. A child submitted from a plain thread
 * has the task that created the scope (if any) as its stop parent; from inside
 * a task, that task, as for wse_submit(). A submit that races with the
 * settling either returns ECANCELED or submits a child that then gets the stop
 * request. ECANCELED: the scope has settled (nothing submitted). EINVAL: s or
 * fn NULL, or a join has returned (or is returning: every child finished).
 * ESHUTDOWN, ENOMEM: as wse_submit(). On error *out is untouched. No
 * allocation per child beyond the future (the scope keeps its children in
 * chunks that double in size).
 */
WSE_EXPORT int wse_scope_submit(wse_scope *s, wse_task_fn fn, void *arg, wse_future **out);

/*
 * Wait until every child is done, whatever the policy (a worker runs queued
 * children meanwhile, as in wse_wait()). 0 when the policy's condition held (a
 * scope without children, and FIRST_EXCEPTION without a failure, included);
 * ETIMEDOUT when the deadline passed first: the join then requested stop for
 * every child not yet done, and waited for them. A deadline that passed before
 * the call counts as passing at its start, after the condition is checked.
 * *decided (decided may be NULL): FIRST_COMPLETED, the child whose completion
 * settled the scope (NULL if the deadline came first); FIRST_EXCEPTION and
 * ALL_COMPLETED, the first child that FAILED, or NULL. Borrowed: valid until
 * wse_scope_destroy(). A later join returns the same at once. One thread joins.
 * EINVAL: s is NULL. EDEADLK: called inside one of s's children (nothing
 * changes). EAGAIN: as wse_wait() (the join is not over; join again).
 */
WSE_EXPORT int wse_scope_join(wse_scope *s, wse_future **decided);

/*
 * Join s if no join has returned, then free it and its references to the
 * children. NULL is ignored. Inside one of s's children (where a join would
 * wait for itself) it returns at once, and the last child to finish frees s.
 */
WSE_EXPORT void wse_scope_destroy(wse_scope *s);

/* ---- Observability ------------------------------------------------------ */

/*
 * Counters of an executor since its creation. They only grow. Each thread
 * counts its own (no shared counter is written per task); a read sums them.
 */
typedef struct wse_stats {
    uint64_t tasks;    /* tasks and loop chunks run to the end (a loop's runner
                          tasks are not counted: their chunks are) */
    uint64_t stolen;   /* of those, taken from another worker's deque */
    uint64_t injected; /* of those, taken from the injection queue */
    uint64_t helped;   /* of those, run by a thread while it waited (a worker
                          helping, a plain thread running queued tasks itself, a
                          loop's caller) */
    uint64_t parks;    /* times a worker went to sleep */
    uint64_t wakeups;  /* times a sleeping worker was woken */
    uint64_t spares;   /* threads started beyond `workers` so that blocked waits
                          go on */
    uint64_t busy_ns;  /* time threads of the executor spent inside tasks and
                          chunks (a worker: from finding work until its search
                          for more comes up empty) */
} wse_stats;

/*
 * Fill the first `size` bytes of *out with ex's counters (a program built
 * against an older, shorter wse_stats keeps working; bytes past the library's
 * own struct are zeroed). Any thread, any time; takes no lock a worker waits
 * on. EINVAL: ex or out NULL.
 */
WSE_EXPORT int wse_executor_stats(wse_executor *ex, wse_stats *out, size_t size);

/* Events per thread when wse_trace_start() is given 0. */
#define WSE_TRACE_DEFAULT_EVENTS 32768u

/*
 * Start recording: from now on every thread of ex (workers, spares, and plain
 * threads that submit to it, run its tasks or its loops, or wait) records
 * events into a ring of its own of events_per_thread events (0:
 * WSE_TRACE_DEFAULT_EVENTS; 40 bytes each), keeping the newest (a flight
 * recorder). Restarting drops what the rings held. EINVAL: ex NULL, or more
 * than 2^24 events per thread. ENOMEM (nothing recorded, no task affected).
 * ESHUTDOWN: ex is shutting down.
 */
WSE_EXPORT int wse_trace_start(wse_executor *ex, size_t events_per_thread);

/* Stop recording; the rings keep their events for wse_trace_write(). 0, or
 * EINVAL for ex NULL. Stopping a stopped trace does nothing. */
WSE_EXPORT int wse_trace_stop(wse_executor *ex);

/*
 * Write what the rings hold (recording or not) to path as Trace Event Format
 * JSON, which ui.perfetto.dev and chrome://tracing open: one track per thread;
 * a slice per task or chunk run (named after its function where the binary
 * exports the symbol, e.g. linked with -rdynamic, else its address), per wait
 * (mode, number of futures, outcome, deadline), per idle spin and per park;
 * an arrow from each submit to the start of its task, and from a completion
 * to the sleeping wait it woke; steals marked.
 * tools/wse-trace summarises and draws such files. EINVAL: ex or path NULL, or
 * no trace was ever started. ENOMEM, or the errno of a failed open or write
 * (a partial file is removed).
 */
WSE_EXPORT int wse_trace_write(wse_executor *ex, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* WSEXEC_H */

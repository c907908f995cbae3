/*
 * The countdown latch a waiter blocks on (wse_wait(), and the other waits built on
 * it). Completing threads count it down with wse__latch_notify(); the condition
 * trips it once; the first tripper wakes the waiter:
 *   - a plain thread sleeps on the latch's own mutex and condition variable
 *     (CLOCK_MONOTONIC), after a short spin (wse__latch_sleep());
 *   - any other waiter (a worker, which must not block idle) gives a wake
 *     function that the tripper calls instead. So this layer knows nothing of
 *     workers or parking: the wait layer above plugs them in.
 */
#ifndef WSE__LATCH_H
#define WSE__LATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wsexec.h"

#include "atomic.h"
#include "clock.h"

struct wse__latch;

/* Wake the waiter of a tripped latch. Called once per arming, by the tripper,
 * on its thread, possibly under a future's lock: it must not block for long. */
typedef void (*wse__latch_wake_fn)(struct wse__latch *l);

struct wse__latch {
    wse__atomic_u32 remaining; /* completions still needed */
    wse__atomic_u32 tripped;   /* the condition holds */
    wse_return_when mode;      /* how a completion counts */
    wse__latch_wake_fn wake;   /* NULL: a plain thread (mutex + cond) */
    void *wake_ctx;            /* for wake */
    pthread_mutex_t mutex;     /* plain thread: the sleep/wake handshake; order: a leaf */
    pthread_cond_t cond;       /* plain thread: CLOCK_MONOTONIC */
    bool sleeping;             /* plain thread: blocked in cond; under mutex */
    bool want_cause;           /* record what tripped it (a trace runs); fixed at arm */
    wse__atomic_ptr cause;     /* with want_cause: the completion that tripped it,
                                  stored before the waiter is woken */
    bool kicked;               /* plain thread: signalled, counted in
                                     wse__latch_plain_wakeups; under mutex */
};

/* Plain waiters signalled and not yet running again; atomic, a hint (see
 * wse__latch_wakeups_pending()). */
extern wse__atomic_u32 wse__latch_plain_wakeups;

/* A plain thread's latch: initialise (0 or a pthread error) and destroy its
 * mutex and condition variable. */
int wse__latch_init_plain(struct wse__latch *l);
void wse__latch_destroy_plain(struct wse__latch *l);

/* Arm l before it is shared: trip after `count` completions (a failure trips a
 * FIRST_EXCEPTION latch at once, any completion a FIRST_COMPLETED one). wake NULL
 * for a plain thread. */
void wse__latch_arm(struct wse__latch *l, wse_return_when mode, uint32_t count,
                    wse__latch_wake_fn wake, void *wake_ctx);

/* A watched future completed with state s: count down, trip, wake. */
void wse__latch_notify(struct wse__latch *l, wse_state s, void *cause);

/* Trip l without waking anybody (the waiter is leaving: later notifications
 * only count). */
void wse__latch_silence(struct wse__latch *l);

/* Has l tripped? */
static inline bool
wse__latch_tripped(const struct wse__latch *l)
{
    /* acquire: pairs with the exchange in wse__latch_notify(). */
    return wse__atomic_load_u32_acquire(&l->tripped) != 0;
}

/* Spin (pause) until done(arg) for up to budget_ns or the deadline (NULL: none),
 * reading the clock every check_every rounds. True if done(arg) held. *spun_ns
 * (if not NULL): the time spun as of the last clock read (0 before the first).
 * Every timed spin on a condition some other thread makes true is this one. */
bool wse__spin_until(bool (*done)(const void *arg), const void *arg,
                     const struct wse__deadline *deadline, int64_t budget_ns, unsigned check_every,
                     int64_t *spun_ns);
/* wse__spin_until() on l tripping. */
bool wse__latch_spin(const struct wse__latch *l, const struct wse__deadline *deadline,
                     int64_t budget_ns, unsigned check_every, int64_t *spun_ns);

/* The calling thread has just woken a parked worker (the park layer): its next
 * plain wait spins only the minimum, WSE__WAIT_SPIN_NS, since the worker (woken
 * onto this thread's CPU, as the scheduler tends to) may need that CPU to run
 * what the wait waits on. */
void wse__latch_note_woke(void);

/* The calling thread submits to an executor that is `crowded`: it has a worker
 * for every CPU the process may use, so while they all run tasks a plain
 * thread's spin takes one of their CPUs and the tasks run one after another.
 * The thread's later plain waits then spin at most WSE__WAIT_SPIN_CROWDED_NS
 * (twice a futex wake-up on a busy machine) and sleep past that. */
void wse__latch_note_crowded(bool crowded);

/* A plain thread: spin briefly (if `spin`), then sleep until l trips or the
 * deadline passes. A wait on promises only passes false: their completer is some
 * other thread, which may need this thread's CPU to get there (spinning a CPU it
 * needs only delays it), so such a wait sleeps at once. */
void wse__latch_sleep(struct wse__latch *l, const struct wse__deadline *deadline, bool spin);

/* True while some plain waiter has been signalled but has not run yet: a worker
 * yields between tasks then, so the woken thread gets a CPU (2 CPUs, busy
 * workers: the scheduler may otherwise queue it for a whole slice). */
static inline bool
wse__latch_wakeups_pending(void)
{
    /* relaxed: a hint, read between tasks. */
    return wse__atomic_load_u32_relaxed(&wse__latch_plain_wakeups) != 0;
}

#endif /* WSE__LATCH_H */

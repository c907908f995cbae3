/*
 * The countdown latch (see latch.h).
 *
 * Counting. `remaining` is set by the waiter before the latch is shared. Every
 * completion that counts decrements it; the one that reaches zero trips the
 * latch, as does any completion of a FIRST_COMPLETED latch and a failure of a
 * FIRST_EXCEPTION one. `tripped` is set by an exchange, so exactly one tripper
 * per arming goes on to wake the waiter.
 *
 * No lost wake-up (plain thread). The tripper sets `tripped` before it takes the
 * latch's mutex; the waiter reads `tripped` under that mutex before each sleep.
 * So either the waiter sees it and does not sleep, or it is asleep (sleeping is
 * true) when the tripper holds the mutex and signals. A waker of another kind
 * (a worker's, see wait.c) gives the same guarantee through its own lock.
 */
#include "latch.h"

#include <time.h>

#include "sync.h"
#include "tune.h"

wse__atomic_u32 wse__latch_plain_wakeups;

/* This thread's current spin budget (0: not set yet: WSE__WAIT_SPIN_NS), whether
 * it woke a parked worker since its last wait, and its spin's ceiling. */
static WSE__TLS int64_t wait_spin_ns;
static WSE__TLS bool woke_worker;
static WSE__TLS int64_t wait_spin_max_ns = WSE__WAIT_SPIN_MAX_NS;

void
wse__latch_note_woke(void)
{
    woke_worker = true;
}

void
wse__latch_note_crowded(bool crowded)
{
    wait_spin_max_ns = crowded ? WSE__WAIT_SPIN_CROWDED_NS : WSE__WAIT_SPIN_MAX_NS;
}

int
wse__latch_init_plain(struct wse__latch *l)
{
    int rc = pthread_mutex_init(&l->mutex, NULL);

    if (rc != 0)
        return rc;
    rc = wse__sync_cond_init(&l->cond);
    if (rc != 0)
        pthread_mutex_destroy(&l->mutex);
    return rc;
}

void
wse__latch_destroy_plain(struct wse__latch *l)
{
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mutex);
}

void
wse__latch_arm(struct wse__latch *l, wse_return_when mode, uint32_t count, wse__latch_wake_fn wake,
               void *wake_ctx)
{
    /* Plain writes: the latch is not shared yet; the lock of each future it is
     * linked on publishes it to the completers. */
    wse__atomic_init_u32(&l->remaining, count);
    wse__atomic_init_u32(&l->tripped, 0);
    l->mode = mode;
    l->wake = wake;
    l->wake_ctx = wake_ctx;
    l->sleeping = false;
    l->kicked = false;
    l->want_cause = false;
    wse__atomic_init_ptr(&l->cause, NULL);
}

void
wse__latch_notify(struct wse__latch *l, wse_state s, void *cause)
{
    bool trip;
    bool kick;

    if (l->mode == WSE_FIRST_COMPLETED || (l->mode == WSE_FIRST_EXCEPTION && s == WSE_FAILED))
        trip = true; /* any completion, or a failure, ends the wait at once */
    else
        /* acq_rel: the count of one latch, decremented by several completers. */
        trip = wse__atomic_faa_u32_acq_rel(&l->remaining, (uint32_t)-1) == 1;
    if (!trip)
        return;
    /* acq_rel exchange: only the first tripper wakes the waiter; release pairs
     * with the acquire load in wse__latch_tripped(). */
    if (wse__atomic_fas_u32_acq_rel(&l->tripped, 1) != 0)
        return;
    /* relaxed: the wake below (the latch's or the park's mutex) orders it
     * before the woken waiter's load; a waiter that never slept may miss it,
     * and then it was woken by nobody. */
    if (l->want_cause)
        wse__atomic_store_ptr_relaxed(&l->cause, cause);
    if (l->wake != NULL) {
        l->wake(l);
        return;
    }
    /* tripped is set before we take the mutex; the waiter checks it under the
     * mutex before each sleep, so the signal cannot be lost. */
    wse__sync_lock(&l->mutex);
    kick = l->sleeping && !l->kicked;
    if (kick) {
        l->kicked = true;
        /* acq_rel: a counter read as a hint by wse__latch_wakeups_pending(). */
        wse__atomic_faa_u32_acq_rel(&wse__latch_plain_wakeups, 1);
    }
    wse__sync_unlock(&l->mutex);
    if (kick)
        pthread_cond_signal(&l->cond);
}

void
wse__latch_silence(struct wse__latch *l)
{
    /* acq_rel exchange, as in wse__latch_notify(): from now on a notification
     * only counts, it wakes nobody. */
    (void)wse__atomic_fas_u32_acq_rel(&l->tripped, 1);
}

bool
wse__spin_until(bool (*done)(const void *arg), const void *arg,
                const struct wse__deadline *deadline, int64_t budget_ns, unsigned check_every,
                int64_t *spun_ns)
{
    struct timespec start = wse__clock_now();
    struct timespec now;
    int64_t spun = 0;
    unsigned i;

    for (i = 1;; i++) {
        if (done(arg)) {
            if (spun_ns != NULL)
                *spun_ns = spun;
            return true;
        }
        /* pause only: yielding here (once a microsecond) made a plain waiter
         * woken on a machine whose workers are all busy wait a whole
         * scheduler slice (first-completed wake-up, 2 CPUs: 30 us -> 3 ms),
         * and did not help the steps of iterative jobs. */
        wse__atomic_pause();
        if (i % check_every == 0) {
            now = wse__clock_now();
            spun = wse__clock_elapsed_ns(&start, &now);
            if (spun >= budget_ns || (deadline != NULL && wse__clock_deadline_passed(deadline))) {
                if (spun_ns != NULL)
                    *spun_ns = spun;
                return false;
            }
        }
    }
}

static bool
latch_done(const void *l)
{
    return wse__latch_tripped(l);
}

bool
wse__latch_spin(const struct wse__latch *l, const struct wse__deadline *deadline, int64_t budget_ns,
                unsigned check_every, int64_t *spun_ns)
{
    return wse__spin_until(latch_done, l, deadline, budget_ns, check_every, spun_ns);
}

/* After a wait that lasted `ns` from its spin's start: the next spin lasts
 * twice that, between the floor and the ceiling, if spinning that long would
 * have avoided the sleep; a longer wait sets it back to the floor (spinning
 * would not have helped). So a thread that waits on short batches over and
 * over (the steps of an iterative job) stops sleeping, and one that waits long
 * spins little. */
static void
wait_spin_learn(int64_t ns)
{
    int64_t max = wait_spin_max_ns;

    if (ns >= max)
        wait_spin_ns = WSE__WAIT_SPIN_NS;
    else
        wait_spin_ns = 2 * ns < WSE__WAIT_SPIN_NS ? WSE__WAIT_SPIN_NS : 2 * ns > max ? max : 2 * ns;
}

void
wse__latch_sleep(struct wse__latch *l, const struct wse__deadline *deadline, bool spin)
{
    int64_t budget = wait_spin_ns != 0 ? wait_spin_ns : WSE__WAIT_SPIN_NS;
    int64_t spun = 0;
    struct timespec start;
    struct timespec end;
    bool rc;

    /* The ceiling may have dropped since the budget was learnt. */
    if (budget > wait_spin_max_ns)
        budget = wait_spin_max_ns;
    /* The spin must not take the CPU of a worker this thread has just woken. */
    if (woke_worker) {
        woke_worker = false;
        budget = WSE__WAIT_SPIN_NS;
    }
    /* A short task completes sooner than a futex wake-up reaches a sleeping
     * thread: spin first, so the waiter neither sleeps nor costs its completer a
     * system call (the latch is signalled only if `sleeping`). */
    if (spin && wse__latch_spin(l, deadline, budget, 16, &spun)) {
        /* As of the spin's last look at the clock: no extra clock read. */
        wait_spin_learn(spun);
        return;
    }
    start = wse__clock_now();
    wse__sync_lock(&l->mutex);
    while (!wse__latch_tripped(l)) {
        l->sleeping = true;
        rc = wse__sync_cond_wait(&l->cond, &l->mutex, deadline);
        l->sleeping = false;
        if (l->kicked) {
            l->kicked = false;
            /* acq_rel: the count of wse__latch_notify(); we run again. */
            wse__atomic_faa_u32_acq_rel(&wse__latch_plain_wakeups, (uint32_t)-1);
        }
        if (!rc)
            break;
    }
    wse__sync_unlock(&l->mutex);
    /* A wait without a spin says nothing about how long a spin should be. */
    if (spin) {
        end = wse__clock_now();
        wait_spin_learn(spun + wse__clock_elapsed_ns(&start, &end));
    }
}

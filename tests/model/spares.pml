/*
 * Promela model of the blocking handshake of a waiting worker and the spare
 * that takes its place (src/worker.c wse__worker_block(), spare_retire_if_excess(),
 * activate_spare(); src/park.c wse__park_block(), wse__park_wake_one()), written
 * from the code.
 *
 * Every variable here is guarded by one of the two mutexes (spares.mutex: the
 * counts and `retired`; park.mutex: `blocked`), except the latch's `tripped`,
 * which the tripper sets before it takes park.mutex and the waiter reads under
 * it. So this model is sequentially consistent; what it checks is the order of
 * the checks and the sleeps.
 *
 * The scenario (the stack guard's case): worker W waits on a task that only the
 * spare S can run (W's stack has no room for it). S starts active and, since
 * nobody is blocked yet, may retire at any moment before W blocks; W's block
 * must resume it, S must run the task, and the task's completion must wake W.
 * A process blocked forever is an invalid end state: spin reports a lost
 * resume or a lost wake-up.
 *
 * Mutants (compile-time, see run.sh): TRIPPED_OUTSIDE_LOCK makes W test the
 * latch before taking park.mutex (and sleep without re-testing);
 * RETIRED_OUTSIDE_LOCK makes S test `retired` after releasing spares.mutex;
 * COUNT_AFTER makes W decide on a spare before counting itself blocked. Each
 * must be caught.
 */

bit spares_mutex;
bit park_mutex;

byte n_blocked;
byte n_active = 1;   /* S starts active */
bool retired;
bool closing;

bool blocked;        /* W in wse__park_block(); under park_mutex */
bool tripped;        /* W's latch */
bool task_queued = true;

/* One waiter per condition variable: a flag per cond. A wait releases the
 * mutex and sleeps in one step; a signal clears the flag; the woken thread
 * re-takes the mutex. Spurious wake-ups would only add states. */
bool w_sleeping;     /* W's parker condition */
bool s_sleeping;     /* S's resume condition */

inline lock(m) { atomic { m == 0 -> m = 1 } }
inline unlock(m) { m = 0 }

active proctype W()
{
    /* wse__worker_block(): count, then make sure a spare runs. */
    lock(spares_mutex);
#ifdef COUNT_AFTER
    if
    :: n_active < n_blocked -> /* the decision without us counted */
        if
        :: retired -> retired = false; n_active++; s_sleeping = false
        :: else -> skip
        fi
    :: else -> skip
    fi;
    n_blocked++;
#else
    if
    :: n_active < n_blocked + 1 ->
        if
        :: retired -> retired = false; n_active++; s_sleeping = false
        :: else -> skip   /* no spare: the ceiling (not in this scenario) */
        fi
    :: else -> skip
    fi;
    n_blocked++;
#endif
    unlock(spares_mutex);

    /* wse__park_block(). */
#ifdef TRIPPED_OUTSIDE_LOCK
    if
    :: tripped -> skip
    :: else ->
        lock(park_mutex);
        blocked = true;
        atomic { park_mutex = 0; w_sleeping = true };
        atomic { !w_sleeping && park_mutex == 0 -> park_mutex = 1 };
        blocked = false;
        unlock(park_mutex)
    fi;
#else
    lock(park_mutex);
    blocked = true;
    do
    :: tripped -> break
    :: else ->
        atomic { park_mutex = 0; w_sleeping = true };
        atomic { !w_sleeping && park_mutex == 0 -> park_mutex = 1 }
    od;
    blocked = false;
    unlock(park_mutex);
#endif
    assert(tripped);

    lock(spares_mutex);
    n_blocked--;
    unlock(spares_mutex)
}

active proctype S()
{
    do
    :: !task_queued -> break
    :: else ->
        /* At top level: spare_retire_if_excess(). */
        lock(spares_mutex);
        if
        :: n_active > n_blocked && !closing ->
            n_active--;
            retired = true;
#ifdef RETIRED_OUTSIDE_LOCK
            unlock(spares_mutex);
            if
            :: retired ->
                atomic { s_sleeping = true };
                atomic { !s_sleeping -> skip }
            :: else -> skip
            fi;
            lock(spares_mutex);
#else
            do
            :: !retired || closing -> break
            :: else ->
                atomic { spares_mutex = 0; s_sleeping = true };
                atomic { !s_sleeping && spares_mutex == 0 -> spares_mutex = 1 }
            od;
#endif
            skip
        :: else -> skip
        fi;
        unlock(spares_mutex);
        /* Search: the task W waits on (it sits in W's deque). */
        if
        :: !retired && task_queued ->
            task_queued = false;
            /* The task runs and completes: the latch trips, then the wake
             * function takes park.mutex and signals a blocked W. */
            tripped = true;
            lock(park_mutex);
            if
            :: blocked -> w_sleeping = false
            :: else -> skip
            fi;
            unlock(park_mutex)
        :: else -> skip
        fi
    od
}

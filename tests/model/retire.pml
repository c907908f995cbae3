/*
 * Promela model of a submission's wake meeting a spare that retires (src/park.c
 * wse__park_sleep(), wse__park_wake_some(); src/worker.c wse__worker_main(),
 * spare_retire_if_excess()), written from the code.
 *
 * Worker A and spare S are idle at top level: each looks for work, parks on the
 * park's stack of sleepers (announce, re-check, sleep) and, when woken, looks
 * again; S first checks whether it is in excess and, if so, retires (leaves for
 * good in this model). The excess appears at any moment (a blocked worker
 * resuming elsewhere). A plain thread submits one task: push, then wake the most
 * recent sleeper if anyone is parked. The task must be taken: an end state with
 * the task still queued and A asleep is a lost wake-up.
 *
 * Everything is under park_mutex except the queue and the sleeper count, which
 * are read and written with sequentially consistent steps (the full fences of
 * park.c), so the model checks the order of the steps, not the memory orders
 * (park.pml does those).
 *
 * Mutant (run.sh): NO_PASS_ON, a retiring spare that does not pass the wake on:
 * must be caught.
 */

bit park_mutex;
bool queued;              /* the injection queue holds the task */
bool taken;
bool excess;              /* a blocked worker resumed: one active thread too many */
byte n_parked;            /* the sleepers' stack, most recent on top */
byte stack[2];
bool notified[2];         /* per parker, under park_mutex */
bool sleeping[2];         /* in the condition wait; a signal clears it */
bool parked[2];

#define A 0
#define S 1

inline lock(m) { atomic { m == 0 -> m = 1 } }
inline unlock(m) { m = 0 }

/* Take the task if it is queued (the pop under the queue's mutex). */
inline try_take(got) {
    atomic { if :: queued -> queued = false; taken = true; got = true :: else -> got = false fi }
}

inline push_self(me) {
    stack[n_parked] = me; n_parked++; parked[me] = true
}

inline remove_self(me) {
    if
    :: parked[me] ->
        if
        :: n_parked == 2 && stack[0] == me -> stack[0] = stack[1]
        :: else -> skip
        fi;
        n_parked--; parked[me] = false
    :: else -> skip
    fi
}

/* wse__park_wake_some(1): pop the top sleeper, notify it, signal after unlock. */
inline wake_one(who) {
    lock(park_mutex);
    if
    :: n_parked > 0 ->
        n_parked--; who = stack[n_parked]; parked[who] = false; notified[who] = true
    :: else -> who = 2
    fi;
    unlock(park_mutex);
    if
    :: who < 2 -> sleeping[who] = false
    :: else -> skip
    fi
}

/* wse__park_sleep(): announce, re-check, sleep until notified. */
inline park(me) {
    lock(park_mutex);
    if
    :: notified[me] -> notified[me] = false; unlock(park_mutex)
    :: else ->
        push_self(me);
        unlock(park_mutex);
        /* full fence, then the re-check */
        lock(park_mutex);
        if
        :: queued -> remove_self(me); notified[me] = false; unlock(park_mutex)
        :: else ->
            do
            :: parked[me] && !notified[me] ->
                atomic { sleeping[me] = true; park_mutex = 0 };
end_sleep:      atomic { !sleeping[me] -> skip };
                lock(park_mutex)
            :: else -> break
            od;
            remove_self(me);
            notified[me] = false;
            unlock(park_mutex)
        fi
    fi
}

active proctype worker_a()
{
    bool got;
    do
    :: try_take(got);
       if
       :: got -> break
       :: else -> park(A)
       fi
    od
}

active proctype spare_s()
{
    bool got;
    byte who;
    do
    :: if
       :: excess ->
           /* spare_retire_if_excess(): retire; pass the wake on. */
#ifndef NO_PASS_ON
           wake_one(who);
#endif
           break
       :: else -> skip
       fi;
       try_take(got);
       if
       :: got -> break
       :: else -> park(S)
       fi
    od
}

active proctype submitter()
{
    byte who;
    queued = true;              /* wse__inject_push() */
    /* full fence, then n_sleeping */
    if
    :: n_parked > 0 -> wake_one(who)
    :: else -> skip
    fi
}

active proctype environment()
{
    excess = true
}

/* When nothing can move any more, the task was taken. Sleeping idle is a valid
 * end state (end_sleep), so only a task left queued is reported: the lost
 * wake-up. */
active proctype check()
{
    timeout -> assert(taken || !queued)
}

/*
 * Promela model of wsexec's park/wake handshake (src/park.c) and of the waiter
 * latch (src/future.c, src/wait.c), written from the code.
 *
 * Memory model. Variables guarded by a mutex (the sleeper stack, the notified
 * flags, the queue itself) are sequentially consistent: the mutex orders them.
 * The two words that are read WITHOUT the mutex - the injection queue's length
 * and the sleeper count n_sleeping - go through a per-process store buffer, as on
 * x86-TSO (and as C11 allows for relaxed accesses): a process's store may stay in
 * its buffer while the process performs later loads, so a later load can be
 * satisfied before the store is visible (StoreLoad reordering). A full fence
 * (wse_fence_seq_cst) drains the buffer. A flusher process drains buffers at
 * nondeterministic times. Mutex operations do not drain: in C11 an unlock is only
 * a release, which does not keep a later load from passing an earlier store.
 *
 * Property 1 (park/wake, "no task left queued while every worker sleeps"):
 * submitters are plain threads that submit one task each and then block until it
 * has run (wse_wait on it). A worker asleep with nothing queued is a valid end
 * state (label end_sleep); a submitter blocked forever is not, so spin's check
 * for invalid end states reports exactly the lost wake-up that would hang a
 * wse_wait() caller.
 *
 * Property 2 (latch, "a waiter whose condition holds is woken"): a plain thread
 * waits with ALL_COMPLETED on NF futures completed by other processes; it asserts
 * after waking that every future is done, and blocking forever is an invalid end
 * state.
 *
 * Mutants (compile-time, see run.sh): NO_FENCE_SUBMIT drops the full fence in
 * wse__wake_some(); NO_FENCE_PARK drops the one in wse__park(); CHECK_OUTSIDE_LOCK
 * makes registration test "done?" before taking the future's bit lock. Each must
 * be caught.
 *
 * Observed with this model: with two workers and one task, dropping the park-side
 * fence is NOT caught, because under TSO the second worker's lock acquisition (a
 * locked instruction) waits for the first worker's unlock to reach memory, and the
 * first worker's announce is ahead of it in the FIFO buffer. C11 does not promise
 * that (an unlock/lock pair orders nothing for a third thread's relaxed load), so
 * the fence stays; the one-worker configurations catch both mutants.
 */

#ifndef NW
#define NW 2            /* workers */
#endif
#ifndef NS
#define NS 2            /* submitting threads, one task each */
#endif
#ifndef NF
#define NF 2            /* futures in the latch model */
#endif

#define NPROC 12        /* upper bound on _pid, for the store buffers */
#define DEPTH 3         /* store buffer entries per process */

/* Addresses of the buffered words. */
#define LEN 0           /* injection queue length (inject.c) */
#define NSLEEP 1        /* park.n_sleeping */
#define INJECT_MUTEX 2  /* the mutexes themselves: an unlock is a store */
#define PARK_MUTEX 3
#define LATCH_MUTEX 4   /* the waiter latch's mutex (property 2) */

byte mem[5];

/* x86-TSO: a FIFO store buffer per process. A store enters the buffer; the
 * flusher moves the oldest entry of some process to memory at any time; a load
 * reads the youngest entry for its address in its own buffer, else memory. */
byte buf_addr[NPROC * DEPTH];
byte buf_val[NPROC * DEPTH];
byte buf_n[NPROC];

/* Move process p's oldest buffered store to memory. */
inline flush_oldest(p) {
    mem[buf_addr[p * DEPTH]] = buf_val[p * DEPTH];
    k = 1;
    do
    :: k < buf_n[p] ->
        buf_addr[p * DEPTH + k - 1] = buf_addr[p * DEPTH + k];
        buf_val[p * DEPTH + k - 1] = buf_val[p * DEPTH + k];
        k++
    :: else -> break
    od;
    buf_n[p]--
}

/* The callers declare byte k (a scratch index). */
inline store(a, v) {
    atomic {
        if
        :: buf_n[_pid] == DEPTH -> flush_oldest(_pid)
        :: else -> skip
        fi;
        buf_addr[_pid * DEPTH + buf_n[_pid]] = a;
        buf_val[_pid * DEPTH + buf_n[_pid]] = v;
        buf_n[_pid]++
    }
}

inline load(a, r) {
    atomic {
        r = mem[a];
        k = 0;
        do
        :: k < buf_n[_pid] ->
            if
            :: buf_addr[_pid * DEPTH + k] == a -> r = buf_val[_pid * DEPTH + k]
            :: else -> skip
            fi;
            k++
        :: else -> break
        od
    }
}

/* A full fence (mfence; wse_fence_seq_cst): drain the buffer. */
inline fence() {
    atomic {
        do
        :: buf_n[_pid] > 0 -> flush_oldest(_pid)
        :: else -> break
        od
    }
}

/* pthread_mutex_lock is a locked read-modify-write: it drains the buffer, then
 * takes the lock when memory says it is free. Unlock is a plain (buffered)
 * store, so later loads may still pass the stores made inside the section. */
#define lock(m)   fence(); atomic { mem[m] == 0 -> mem[m] = _pid + 1 }
#define unlock(m) store(m, 0)

/* ---------------------------------------------------------------------------- */
/* Property 1: park/wake                                                         */

byte queued;            /* tasks in the injection queue; under inject_mutex */
byte ran;               /* tasks run so far */

bool parked[NW];        /* on the sleeper stack; under park_mutex */
bool notified[NW];      /* under park_mutex */
byte n_parked;          /* under park_mutex */

/* wse__inject_pop(): take a task under the mutex, publish the new length. */
inline try_pop(got) {
    lock(INJECT_MUTEX);
    if
    :: queued > 0 -> queued--; store(LEN, queued); got = true
    :: else -> got = false
    fi;
    unlock(INJECT_MUTEX)
}

proctype worker(byte id) {
    bool got;
    byte r;
    byte k;

search:
    try_pop(got);
    if
    :: got -> ran++; goto search
    :: else -> skip
    fi;

    /* wse__park(): a notification that came while running means re-check. */
    lock(PARK_MUTEX);
    if
    :: notified[id] -> notified[id] = false; unlock(PARK_MUTEX); goto search
    :: else -> skip
    fi;
    /* Announce: push on the stack, publish n_sleeping. */
    parked[id] = true;
    n_parked++;
    store(NSLEEP, n_parked);
    unlock(PARK_MUTEX);

#ifndef NO_FENCE_PARK
    fence();            /* the announce before the re-check */
#endif

    /* Re-check every queue. */
    load(LEN, r);
    lock(PARK_MUTEX);
    if
    :: r > 0 ->
        if
        :: parked[id] -> parked[id] = false; n_parked--; store(NSLEEP, n_parked)
        :: else -> skip
        fi;
        notified[id] = false;
        unlock(PARK_MUTEX);
        goto search
    :: else -> skip
    fi;

    /* Sleep until notified (pthread_cond_wait on the worker's own condvar: the
     * mutex is released atomically with the start of the wait). */
    do
    :: parked[id] && !notified[id] ->
        unlock(PARK_MUTEX);
end_sleep:
        (notified[id] || !parked[id]);
        lock(PARK_MUTEX)
    :: else -> break
    od;
    if
    :: parked[id] -> parked[id] = false; n_parked--; store(NSLEEP, n_parked)
    :: else -> skip
    fi;
    notified[id] = false;
    unlock(PARK_MUTEX);
    goto search
}

proctype submitter() {
    byte r;
    byte i;
    byte k;

    /* wse__inject_push(): queue the task under the mutex, publish the length. */
    lock(INJECT_MUTEX);
    queued++;
    store(LEN, queued);
    unlock(INJECT_MUTEX);

#ifndef NO_FENCE_SUBMIT
    fence();            /* the publication before the read of n_sleeping */
#endif

    /* wse__wake_some(): wake one parked worker if n_sleeping says there is one. */
    load(NSLEEP, r);
    if
    :: r > 0 ->
        lock(PARK_MUTEX);
        i = 0;
        do
        :: i < NW && parked[i] ->
            parked[i] = false; n_parked--; store(NSLEEP, n_parked);
            notified[i] = true;
            break
        :: i < NW && !parked[i] -> i++
        :: i >= NW -> break
        od;
        unlock(PARK_MUTEX)
    :: else -> skip
    fi;

    /* wse_wait() on the task: a plain thread blocks until it has run. If the task
     * is stranded this never becomes true: an invalid end state. */
    (ran == NS)
}

/* Drains store buffers at arbitrary times (a store does become visible). One
 * guarded alternative per process, so the flusher blocks only at its end label. */
#define FLUSH(p) :: atomic { buf_n[p] > 0 -> flush_oldest(p) }

active proctype flusher() {
    byte k;
end_flush:
    do
    FLUSH(0) FLUSH(1) FLUSH(2) FLUSH(3) FLUSH(4) FLUSH(5)
    FLUSH(6) FLUSH(7) FLUSH(8) FLUSH(9) FLUSH(10) FLUSH(11)
    od
}

/* ---------------------------------------------------------------------------- */
/* Property 2: the waiter latch                                                  */

#define PENDING 0
#define DONE 2

byte fstate[NF];        /* the state part of each future's state word */
bool flocked[NF];       /* F_LOCK */
bool fwaiters[NF];      /* F_WAITERS */
bool linked[NF];        /* the waiter's node on future i; under F_LOCK */

byte remaining;         /* latch count (atomic RMW: sequentially consistent) */
bool tripped;
bool sleeping;          /* under the latch mutex */
bool woken;             /* the condition variable's signal */

/* wse__latch_notify() for ALL_COMPLETED. */
/* Uses the caller's locals trip, was and kick. */
inline latch_notify() {
    atomic { remaining--; trip = (remaining == 0) }
    if
    :: trip ->
        atomic { was = tripped; tripped = true };
        if
        :: !was ->
            /* The decision under the mutex, the signal after it (as latch.c). */
            lock(LATCH_MUTEX);
            kick = sleeping;
            unlock(LATCH_MUTEX);
            if
            :: kick -> woken = true
            :: else -> skip
            fi
        :: else -> skip
        fi
    :: else -> skip
    fi
}

/* wse__future_finish(): the completing CAS waits for F_LOCK to be free and takes
 * it if F_WAITERS is set; then walks the list under the lock. */
proctype completer(byte f) {
    byte k;
    bool took;
    bool trip;
    bool was;
    bool kick;
    atomic {
        !flocked[f] ->
            fstate[f] = DONE;
            took = fwaiters[f];
            flocked[f] = took
    };
    if
    :: took ->
        if
        :: linked[f] -> linked[f] = false; latch_notify()
        :: else -> skip
        fi;
        fwaiters[f] = false;
        flocked[f] = false
    :: else -> skip
    fi
}

proctype waiter() {
    byte k;
    byte i;
    bool done;
    bool trip;
    bool was;
    bool kick;

    remaining = 1;      /* the registration bias */
    i = 0;
    do
    :: i < NF ->
        atomic { remaining++ };
#ifdef CHECK_OUTSIDE_LOCK
        done = (fstate[i] == DONE);     /* mutant: looked at before the lock */
        atomic { !flocked[i] -> flocked[i] = true };
#else
        atomic { !flocked[i] -> flocked[i] = true };
        done = (fstate[i] == DONE);
#endif
        if
        :: !done -> linked[i] = true; fwaiters[i] = true
        :: else -> skip
        fi;
        flocked[i] = false;
        if
        :: done -> latch_notify()
        :: else -> skip
        fi;
        i++
    :: else -> break
    od;
    latch_notify();     /* drop the bias */

    /* wait_plain(). */
    lock(LATCH_MUTEX);
    do
    :: !tripped ->
        atomic { sleeping = true; unlock(LATCH_MUTEX) };
        woken;
        woken = false;
        lock(LATCH_MUTEX);
        sleeping = false
    :: else -> break
    od;
    unlock(LATCH_MUTEX);

    /* Unregister, then the condition must hold. */
    i = 0;
    do
    :: i < NF ->
        atomic { !flocked[i] -> flocked[i] = true };
        linked[i] = false;
        flocked[i] = false;
        i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NF -> assert(fstate[i] == DONE); i++
    :: else -> break
    od
}

init {
    byte i;
    atomic {
#ifndef LATCH_ONLY
        i = 0;
        do
        :: i < NW -> run worker(i); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NS -> run submitter(); i++
        :: else -> break
        od;
#endif
#ifndef PARK_ONLY
        run waiter();
        i = 0;
        do
        :: i < NF -> run completer(i); i++
        :: else -> break
        od
#endif
    }
}

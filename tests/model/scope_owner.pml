/*
 * Promela model of a scope's owner count (src/scope.c, "Owner"; design.md 7g,
 * "The owner's count"), written from the code.
 *
 * The owner (the task that made a counted scope) reserves a unit per child in
 * `own` with plain stores; a joiner that is not the owner sets CLAIM_FOREIGN
 * with a read-modify-write, makes every thread pass a full barrier
 * (membarrier(2)), waits for in_op to be 0, and adds `own` into live. The
 * owner's step: in_op = 1, a compiler barrier, read `claim`; if it is set,
 * in_op = 0 and reserve in live with a read-modify-write (which fails once the
 * scope is closed); else own += 1, in_op = 0.
 *
 * Memory model: x86-TSO, as park.pml. in_op and own go through the owner's
 * FIFO store buffer; a load reads the youngest own buffered store for its
 * address, else memory; a flusher drains buffers at any time. The words st
 * (flags and live) and claim (foreign, merged) are written here only by
 * read-modify-writes, which drain the writer's buffer and act on memory
 * atomically: sequentially consistent variables. membarrier() drains every process's buffer at one instant:
 * what the kernel promises the caller (each running thread passes a full
 * barrier before the call returns; a thread not running has passed one).
 *
 * Properties: (1) a submit the owner counts is never accepted after the join
 * returned (assert in the owner); (2) when the join returns, every accepted
 * child has completed (assert in the joiner); (3) the join returns: a unit
 * counted twice would leave live above 0 forever, an invalid end state.
 *
 * Mutants (run.sh): NO_MEMBARRIER drops the fence; NO_INOP_WAIT reads own
 * without waiting for in_op. Each must be caught.
 */

#ifndef NK
#define NK 2            /* the owner's submits */
#endif

#define NPROC 8         /* upper bound on _pid, for the store buffers */
#define DEPTH 3         /* store buffer entries per process */

#define IN_OP 0
#define OWN 1
byte mem[2];

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

/* A locked instruction drains the buffer first. */
inline fence() {
    atomic {
        do
        :: buf_n[_pid] > 0 -> flush_oldest(_pid)
        :: else -> break
        od
    }
}

/* membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): every process's buffer. */
inline membarrier() {
    atomic {
        q = 0;
        do
        :: q < NPROC ->
            do
            :: buf_n[q] > 0 -> flush_oldest(q)
            :: else -> break
            od;
            q++
        :: else -> break
        od
    }
}

/* claim and st: read-modify-written only (sequentially consistent here). */
bool foreign;
bool merged;
bool joining;
bool closed;
short live;

byte accepted;          /* submits that returned 0 */
byte completed;         /* children that finished */
bool spawned[NK];       /* child i was queued */
bool joined;            /* the join returned */

proctype owner() {
    byte k;
    byte i = 0;
    byte o;
    bool ok;
    do
    :: i < NK ->
        /* owner_begin(): in_op = 1, a compiler barrier, read claim. */
        store(IN_OP, 1);
        if
        :: atomic { !(foreign || merged) } ->
            /* owner_add(), owner_end(). */
            load(OWN, o);
            store(OWN, o + 1);
            store(IN_OP, 0);
            ok = true
        :: else ->
            store(IN_OP, 0);
            /* reserve(): a CAS that fails on CLOSED. */
            fence();
            atomic {
                if
                :: closed -> ok = false
                :: else -> live++; ok = true
                fi
            }
        fi;
        if
        :: ok ->
            atomic {
                assert(!joined);        /* property 1 */
                accepted++;
                spawned[i] = true
            }
        :: else -> skip
        fi;
        i++
    :: else -> break
    od
}

/* A child: runs once queued, then its hook's finish(): live -= 1, closing if
 * that takes live to 0 while JOINING. */
proctype child(byte i) {
    byte k;
end_unqueued:   /* a refused submit queues nothing: waiting forever is fine */
    spawned[i];
    fence();
    atomic {
        completed++;
        live--;
        if
        :: joining && live == 0 && !closed -> closed = true
        :: else -> skip
        fi
    }
}

/* A joiner on another thread: merge_foreign(), then begin_join(), then wait
 * for the close. */
proctype joiner() {
    byte k;
    byte q;
    byte r;
    byte o;
    atomic {
        if
        :: merged || foreign -> skip
        :: else -> foreign = true
        fi
    }
#ifndef NO_MEMBARRIER
    membarrier();
#endif
#ifndef NO_INOP_WAIT
    do
    :: load(IN_OP, r);
        if
        :: r == 0 -> break
        :: else -> skip
        fi
    od;
#endif
    load(OWN, o);
    atomic { live = live + o; merged = true }
    atomic {
        joining = true;
        if
        :: live == 0 -> closed = true
        :: else -> skip
        fi
    }
    closed;
    atomic {
        joined = true;
        assert(completed == accepted)   /* property 2 */
    }
}

#define FLUSH(p) :: atomic { buf_n[p] > 0 -> flush_oldest(p) }

active proctype flusher() {
    byte k;
end_flush:
    do
    FLUSH(0) FLUSH(1) FLUSH(2) FLUSH(3) FLUSH(4) FLUSH(5) FLUSH(6) FLUSH(7)
    od
}

init {
    byte i;
    atomic {
        run owner();
        run joiner();
        i = 0;
        do
        :: i < NK -> run child(i); i++
        :: else -> break
        od
    }
}

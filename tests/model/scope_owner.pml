/*
 * Promela model of a scope's owner count (src/scope.c, "Owner"; design.md 7g,
 * "The owner's count"), written from the code.
 *
 * The owner (the task that made a counted scope) reserves a unit per child in
 * `own` with plain stores. The owner's step: in_op = 1, a compiler barrier,
 * read `claim`; if it is set, in_op = 0 and reserve in live with a
 * read-modify-write (which fails once the scope is closed); else own += 1,
 * in_op = 0. A thread that is not the owner and needs the count (a joiner, or
 * a submitter that is not one of the scope's running children) claims it:
 * CLAIM_FOREIGN with a read-modify-write, a full barrier in every thread
 * (membarrier(2)), a wait for in_op to be 0, then `own` added into live and
 * CLAIM_MERGED stored; a thread that finds the claim taken waits for
 * CLAIM_MERGED.
 *
 * Two settings:
 *   default      the owner submits NK children; a joiner on another thread
 *                merges the count, sets JOINING and waits for the close.
 *   OWNER_JOINS  the owner submits NK children, runs any of them itself (its
 *                join's run of the children: counted in ran_here), then joins:
 *                if live is 0 and every child it counted ran here, it closes
 *                with a plain store (the fork-join case), else with a
 *                read-modify-write. Meanwhile NF threads outside the scope's
 *                children submit one child each, claiming the count first.
 *
 * Memory model: x86-TSO, as park.pml. Every word (in_op, own, st, claim) goes
 * through its writer's FIFO store buffer; a load reads the youngest own
 * buffered store for its address, else memory; a flusher drains buffers at
 * any time; a read-modify-write drains the writer's buffer and acts on memory
 * atomically. membarrier() drains every process's buffer at one instant: what
 * the kernel promises the caller (each running thread passes a full barrier
 * before the call returns; a thread not running has passed one).
 *
 * Properties: (1) no submit is accepted after the join returned (assert where
 * a submit is accepted); (2) when the join returns, every accepted child has
 * completed (assert in the joiner); (3) the join returns: a unit counted
 * twice or lost would leave it waiting forever, an invalid end state.
 *
 * Mutants (run.sh): NO_MEMBARRIER drops the fence; NO_INOP_WAIT reads own
 * without waiting for in_op; NO_SUBMIT_CLAIM lets an outside submitter
 * reserve without claiming; NO_MERGED_WAIT lets a thread that finds the claim
 * taken go on at once. Each must be caught.
 */

#ifndef NK
#define NK 2            /* the owner's submits */
#endif
#ifndef NF
#define NF 1            /* outside submitters (OWNER_JOINS) */
#endif

#define NPROC 10        /* upper bound on _pid, for the store buffers */
#define DEPTH 3         /* store buffer entries per process */

#define IN_OP 0
#define OWN 1
#define ST 2            /* live and flags in one word, see ST_OF */
#define CLAIM 3
byte mem[4];

/* st: live (offset by 8: it may be negative) times 4, plus the flags. */
#define JOINING 1
#define CLOSED 2
#define ST_OF(l, fl) (((l) + 8) * 4 + (fl))
#define LIVE(v) ((v) / 4 - 8)
#define FLAGS(v) ((v) % 4)
/* claim */
#define FOREIGN 1
#define MERGED 2

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

byte accepted;          /* submits that returned 0 */
byte completed;         /* children that finished */
bool spawned[NK + NF];  /* child i was queued */
bool taken[NK + NF];    /* child i was taken to run (by its thread or the owner) */
byte ran_here;          /* the owner's join ran these itself */
bool joined;            /* the join returned */

/* A submit returned 0 for child i. */
inline accept(i) {
    atomic {
        assert(!joined);        /* property 1 */
        accepted++;
        spawned[i] = true
    }
}

/* reserve(): live += 1 by a read-modify-write, unless CLOSED. */
inline reserve(ok) {
    fence();
    atomic {
        if
        :: FLAGS(mem[ST]) & CLOSED -> ok = false
        :: else -> mem[ST] = mem[ST] + 4; ok = true
        fi
    }
}

/* merge_foreign(): claim the owner's count, or wait for whoever did. */
inline merge_foreign() {
    load(CLAIM, c);
    if
    :: c & MERGED -> skip
    :: else ->
        fence();
        atomic {
            if
            :: mem[CLAIM] == 0 -> mem[CLAIM] = FOREIGN; won = true
            :: else -> won = false
            fi
        };
        if
        :: won ->
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
            load(CLAIM, c);
            if
            :: c & MERGED -> skip
            :: else ->
                load(OWN, o);
                fence();
                atomic { mem[ST] = mem[ST] + 4 * o };
                store(CLAIM, FOREIGN | MERGED)
            fi
        :: else ->
#ifndef NO_MERGED_WAIT
            do
            :: load(CLAIM, c);
                if
                :: c & MERGED -> break
                :: else -> skip
                fi
            od
#else
            skip
#endif
        fi
    fi
}

/* A child run by its own thread: its hook's finish(): live -= 1, closing if
 * that takes live to 0 while JOINING. Child i may also be run by the owner's
 * join instead (taken). */
proctype child(byte i) {
    byte k;
end_unqueued:   /* a refused submit queues nothing: waiting forever is fine */
    spawned[i];
    atomic {
        if
        :: taken[i] -> goto end_ran_elsewhere
        :: else -> taken[i] = true
        fi
    };
    fence();
    atomic {
        completed++;
        if
        :: FLAGS(mem[ST]) & JOINING && LIVE(mem[ST]) == 1 && !(FLAGS(mem[ST]) & CLOSED) ->
            mem[ST] = ST_OF(0, JOINING | CLOSED)
        :: else -> mem[ST] = mem[ST] - 4
        fi
    };
end_ran_elsewhere:
    skip
}

/* The join's wait: until the scope is closed (done completes). */
inline wait_closed() {
    do
    :: load(ST, v);
        if
        :: FLAGS(v) & CLOSED -> break
        :: else -> skip
        fi
    od;
    atomic {
        joined = true;
        assert(completed == accepted)   /* property 2 */
    }
}

/* The JOINING read-modify-write: adds d (the count merged here less the
 * children run here) to live, closing if live becomes 0. */
inline join_rmw(d) {
    fence();
    atomic {
        if
        :: LIVE(mem[ST]) + d == 0 -> mem[ST] = ST_OF(0, JOINING | CLOSED)
        :: else -> mem[ST] = ST_OF(LIVE(mem[ST]) + d, JOINING)
        fi
    }
}

proctype owner() {
    byte k;
    byte q;
    byte i = 0;
    byte o;
    byte c;
    byte r;
    byte v;
    bool ok;
    bool won;
    do
    :: i < NK ->
        /* owner_begin(): in_op = 1, a compiler barrier, read claim. */
        store(IN_OP, 1);
        load(CLAIM, c);
        if
        :: c == 0 ->
            /* owner_add(), owner_end(). */
            load(OWN, o);
            store(OWN, o + 1);
            store(IN_OP, 0);
            ok = true
        :: else ->
            store(IN_OP, 0);
            reserve(ok)
        fi;
        if
        :: ok -> accept(i)
        :: else -> skip
        fi;
        i++
    :: else -> break
    od;
#ifdef OWNER_JOINS
    /* run_own_children(): any of the children not yet taken. */
    i = 0;
    do
    :: i < NK ->
        atomic {
            if
            :: spawned[i] && !taken[i] -> taken[i] = true; completed++; ran_here++
            :: true -> skip
            fi
        };
        i++
    :: else -> break
    od;
    /* begin_join() */
    store(IN_OP, 1);
    load(CLAIM, c);
    if
    :: c == 0 ->
        load(OWN, o);
        load(ST, v);
        if
        :: v == ST_OF(0, 0) && o == ran_here ->
            store(ST, ST_OF(0, JOINING | CLOSED))       /* the plain close */
        :: else -> join_rmw(o - ran_here)
        fi;
        store(OWN, 0);
        store(CLAIM, MERGED);
        store(IN_OP, 0)
    :: else ->
        store(IN_OP, 0);
        merge_foreign();
        join_rmw(0 - ran_here)
    fi;
    wait_closed()
#endif
}

#ifndef OWNER_JOINS
/* A joiner on another thread: merge_foreign(), then begin_join(), then wait
 * for the close. */
proctype joiner() {
    byte k;
    byte q;
    byte r;
    byte o;
    byte c;
    byte v;
    bool won;
    merge_foreign();
    join_rmw(0);
    wait_closed()
}
#else
/* A thread outside the scope's children submitting one child (submit_shared()). */
proctype outsider(byte j) {
    byte k;
    byte q;
    byte r;
    byte o;
    byte c;
    bool ok;
    bool won;
#ifndef NO_SUBMIT_CLAIM
    merge_foreign();
#endif
    reserve(ok);
    if
    :: ok -> accept(NK + j)
    :: else -> skip
    fi
}
#endif

#define FLUSH(p) :: atomic { buf_n[p] > 0 -> flush_oldest(p) }

active proctype flusher() {
    byte k;
end_flush:
    do
    FLUSH(0) FLUSH(1) FLUSH(2) FLUSH(3) FLUSH(4) FLUSH(5) FLUSH(6) FLUSH(7) FLUSH(8) FLUSH(9)
    od
}

init {
    byte i;
    atomic {
        mem[ST] = ST_OF(0, 0);
        run owner();
#ifndef OWNER_JOINS
        run joiner();
        i = 0;
        do
        :: i < NK -> run child(i); i++
        :: else -> break
        od
#else
        i = 0;
        do
        :: i < NF -> run outsider(i); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NK + NF -> run child(i); i++
        :: else -> break
        od
#endif
    }
}

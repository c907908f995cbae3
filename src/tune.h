/*
 * The library's tuning constants, in one place: spin times, search budgets and
 * defaults. Each says what it trades; docs/performance.md has the measurements
 * behind the values. None is part of the API (the public knobs are
 * wse_options); a test build may override the wait spins with -D.
 */
#ifndef WSE__TUNE_H
#define WSE__TUNE_H

#include <stddef.h>

/* --- Defaults of wse_options (0 means these). --- */
#define WSE__DEFAULT_DEQUE_CAPACITY 256
#define WSE__DEFAULT_SPIN_ROUNDS 64
#define WSE__DEFAULT_SPIN_US 100
#define WSE__DEFAULT_STACK_SIZE ((size_t)64 << 20)

/* --- Idle workers (worker.c). --- */
/* The floor of a worker's adaptive idle spin (ns): a worker that just missed
 * keeps looking this long at least (or spin_us, if that is shorter). */
#define WSE__IDLE_SPIN_FLOOR_NS 2000

/* --- Plain waiters (latch.c): an adaptive spin before sleeping (ns). --- */
#ifndef WSE__WAIT_SPIN_NS
#define WSE__WAIT_SPIN_NS 5000 /* the least, and the first */
#endif
#ifndef WSE__WAIT_SPIN_MAX_NS
#define WSE__WAIT_SPIN_MAX_NS 200000
#endif
/* The ceiling instead of WSE__WAIT_SPIN_MAX_NS once the workers have every CPU
 * (wse__latch_note_crowded(true)): past it, sleeping (a wake-up costs 15-25 us
 * on the 2-CPU machine measured) is cheaper than the serialised tasks the spin
 * causes. */
#ifndef WSE__WAIT_SPIN_CROWDED_NS
#define WSE__WAIT_SPIN_CROWDED_NS 40000
#endif

/* --- Waiting workers (help.c, spares.c). --- */
/* A waiting worker that finds nothing it may run spins this long on its latch
 * before blocking: a child stolen a moment ago often finishes sooner than a
 * spare could be woken and the waiter woken again (fork-join on 2 workers). */
#define WSE__BLOCK_SPIN_NS 50000
/* Queue entries a waiting worker looks at per attempt to find what it waits on
 * outside its own deque. */
#define WSE__TAKE_BUDGET 4096
/* How far up the lineage leapfrogging looks, and how many tasks a waiting
 * worker keeps on its own deque (stolen ones it could not run) before it stops
 * stealing more. */
#define WSE__LEAPFROG_DEPTH 64
#define WSE__LEAPFROG_HOARD 4

/* --- Plain threads with caller_runs (callers.c, help.c). --- */
/* Queue entries a plain waiter looks at per pool and attempt. */
#define WSE__CALLER_BUDGET 4096
/* How long it keeps looking for an entry that is still PENDING but in no queue
 * for a moment (ns). */
#define WSE__CALLER_RETRY_NS 20000

/* --- Parallel loops (loop.c). --- */
/* A grain-0 loop that the calling thread's last loop of the same function says
 * will take less than this (ns) runs on the caller alone: handing chunks to a
 * worker costs about that much (a cache line's round trip or two). */
#define WSE__LOOP_INLINE_NS 1000
/* grain 0 in wse_reduce(): about this many chunks. */
#define WSE__REDUCE_CHUNKS 1024u
/* At most this many blocks (accumulators) per reduction... */
#define WSE__REDUCE_BLOCKS 256u
/* ... and at most this many bytes of them. */
#define WSE__REDUCE_BYTES ((size_t)64 << 20)

#endif /* WSE__TUNE_H */

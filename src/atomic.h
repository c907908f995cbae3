/*
 * The one atomics layer of wsexec. No other file uses ck_pr_* or __atomic_*.
 *
 * Every operation names its memory order in its name, C11 style:
 *   relaxed  - atomic, no ordering;
 *   acquire  - later accesses stay after it (pairs with a release);
 *   release  - earlier accesses stay before it (pairs with an acquire);
 *   acq_rel  - both, for read-modify-write;
 *   seq_cst  - one total order with the other seq_cst operations and fences.
 *
 * Normal builds use Concurrency Kit: ck_pr loads and stores are atomic in size but
 * carry no ordering, so an acquire load is ck_pr_load + ck_pr_fence_acquire() and a
 * release store is ck_pr_fence_release() + ck_pr_store. On x86-64 (CK_MD_TSO) those
 * fences are compiler barriers only; the full fence is a locked instruction (see
 * wse__atomic_fence_seq_cst()). ck_pr
 * read-modify-writes are lock-prefixed (serialising) on TSO; on weaker machines
 * the ck_pr_fence_*atomic* fences around them give the stated order.
 *
 * ThreadSanitizer understands neither ck_pr's inline assembly nor stand-alone
 * fences (a correct message-passing program is reported as a race), so under TSan every operation maps to the
 * __atomic builtin with the order on the access itself. The code above this layer
 * puts orders on accesses (store_release of a publishing index, not a fence plus a
 * relaxed store) so that both mappings express the same synchronisation.
 */
#ifndef WSE__ATOMIC_H
#define WSE__ATOMIC_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define WSE__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WSE__TSAN 1
#endif
#endif
#ifndef WSE__TSAN
#define WSE__TSAN 0
#endif

#define WSE__CACHE_LINE 64
#define WSE__CACHE_ALIGNED __attribute__((aligned(WSE__CACHE_LINE)))

#if !WSE__TSAN
#include <ck_pr.h>
#endif

#define WSE__INLINE static inline __attribute__((always_inline))

/* Thread-locals of the library: the initial-exec model reads them with one
 * instruction, where the -fPIC default (general dynamic) calls __tls_get_addr
 * on every access, which the fork-join path makes several times per task. The
 * variables are few and small, so a libwsexec.so loaded with dlopen fits in
 * glibc's surplus of static TLS. */
#define WSE__TLS _Thread_local __attribute__((tls_model("initial-exec")))

/*
 * Atomic objects have types of their own (the Linux atomic_t idiom): a struct of
 * one member that only this header touches, so a plain read or write of an
 * atomic field does not compile. The operations below take pointers to them.
 * Before an object is shared (a field of a block being set up), write it with
 * wse__atomic_init_*(): a plain store, named so that a reader sees the choice.
 */
typedef struct {
    uint32_t raw_;
} wse__atomic_u32;
typedef struct {
    uint64_t raw_;
} wse__atomic_u64;
typedef struct {
    int64_t raw_;
} wse__atomic_i64;
typedef struct {
    void *raw_;
} wse__atomic_ptr;

/* Pointer-sized atomics carry void *; the typedef keeps const on the right
 * level when the macros below write `const T`. */
typedef void *wse__ptr;

/*
 * Chaos scheduling: in a WSE_CHAOS build (a test build) every operation below first
 * calls wse__chaos_point() (chaos.c), which yields or spins at seeded random, so
 * rare interleavings become common. In other builds the branch is constant-false
 * and vanishes.
 */
#ifndef WSE_CHAOS
#define WSE_CHAOS 0
#endif
void wse__chaos_point(void);
/* The seed of this process's chaos schedule (WSE_CHAOS_SEED, else the clock). */
int64_t wse__chaos_seed(void);
#define WSE__CHAOS_POINT()                                                                         \
    do {                                                                                           \
        if (WSE_CHAOS)                                                                             \
            wse__chaos_point();                                                                    \
    } while (0)

#if WSE__TSAN

/* ------------------------------------------------------------------------- */
/* ThreadSanitizer mapping: C11 orders on each access.                       */

#define WSE__ATOMIC_OPS(T, N)                                                                      \
    WSE__INLINE T wse__atomic_load_##N##_relaxed(const wse__atomic_##N *p)                         \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        return __atomic_load_n(&p->raw_, __ATOMIC_RELAXED);                                        \
    }                                                                                              \
    WSE__INLINE T wse__atomic_load_##N##_acquire(const wse__atomic_##N *p)                         \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        return __atomic_load_n(&p->raw_, __ATOMIC_ACQUIRE);                                        \
    }                                                                                              \
    WSE__INLINE void wse__atomic_store_##N##_relaxed(wse__atomic_##N *p, T v)                      \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        __atomic_store_n(&p->raw_, v, __ATOMIC_RELAXED);                                           \
    }                                                                                              \
    WSE__INLINE void wse__atomic_store_##N##_release(wse__atomic_##N *p, T v)                      \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        __atomic_store_n(&p->raw_, v, __ATOMIC_RELEASE);                                           \
    }                                                                                              \
    WSE__INLINE bool wse__atomic_cas_##N##_acq_rel(wse__atomic_##N *p, T *expected, T desired)     \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        return __atomic_compare_exchange_n(&p->raw_, expected, desired, false, __ATOMIC_ACQ_REL,   \
                                           __ATOMIC_ACQUIRE);                                      \
    }                                                                                              \
    WSE__INLINE bool wse__atomic_cas_##N##_seq_cst(wse__atomic_##N *p, T *expected, T desired)     \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        return __atomic_compare_exchange_n(&p->raw_, expected, desired, false, __ATOMIC_SEQ_CST,   \
                                           __ATOMIC_SEQ_CST);                                      \
    }

WSE__ATOMIC_OPS(uint32_t, u32)
WSE__ATOMIC_OPS(uint64_t, u64)
WSE__ATOMIC_OPS(int64_t, i64)
WSE__ATOMIC_OPS(wse__ptr, ptr)

WSE__INLINE uint32_t
wse__atomic_faa_u32_acq_rel(wse__atomic_u32 *p, uint32_t v)
{
    WSE__CHAOS_POINT();
    return __atomic_fetch_add(&p->raw_, v, __ATOMIC_ACQ_REL);
}

WSE__INLINE uint64_t
wse__atomic_faa_u64_acq_rel(wse__atomic_u64 *p, uint64_t v)
{
    WSE__CHAOS_POINT();
    return __atomic_fetch_add(&p->raw_, v, __ATOMIC_ACQ_REL);
}

WSE__INLINE int64_t
wse__atomic_faa_i64_relaxed(wse__atomic_i64 *p, int64_t v)
{
    WSE__CHAOS_POINT();
    return __atomic_fetch_add(&p->raw_, v, __ATOMIC_RELAXED);
}

WSE__INLINE uint32_t
wse__atomic_fas_u32_acq_rel(wse__atomic_u32 *p, uint32_t v)
{
    WSE__CHAOS_POINT();
    return __atomic_exchange_n(&p->raw_, v, __ATOMIC_ACQ_REL);
}

WSE__INLINE void *
wse__atomic_fas_ptr_acq_rel(wse__atomic_ptr *p, void *v)
{
    WSE__CHAOS_POINT();
    return __atomic_exchange_n(&p->raw_, v, __ATOMIC_ACQ_REL);
}

/* gcc warns that TSan does not model atomic_thread_fence. A seq_cst read-modify-
 * write of a thread-local word is a locked instruction, a full barrier on x86-64,
 * and carries no false synchronisation between threads. The protocols that use
 * this fence (deque pop/steal, park/wake) rely on it for liveness (which store
 * each side sees), not for the happens-before edges TSan checks, which are on
 * the accesses themselves. */
static WSE__TLS uint32_t wse__atomic_tsan_word;

WSE__INLINE void
wse__atomic_fence_seq_cst(void)
{
    WSE__CHAOS_POINT();
    __atomic_fetch_add(&wse__atomic_tsan_word, 0, __ATOMIC_SEQ_CST);
}

#else /* !WSE__TSAN */

/* ------------------------------------------------------------------------- */
/* Concurrency Kit mapping.                                                   */

/* ck_pr names its 64-bit operations on uint64_t; int64_t indices go through a
 * same-size cast (two's complement, as C11 atomics on int64_t would). CKT is the
 * ck_pr type, CK the suffix of its functions. */
#define WSE__CK_OPS(T, N, CKT, CK)                                                                 \
    WSE__INLINE T wse__atomic_load_##N##_relaxed(const wse__atomic_##N *p)                         \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        return (T)ck_pr_load_##CK((const CKT *)&p->raw_);                                          \
    }                                                                                              \
    WSE__INLINE T wse__atomic_load_##N##_acquire(const wse__atomic_##N *p)                         \
    {                                                                                              \
        T v;                                                                                       \
        WSE__CHAOS_POINT();                                                                        \
        v = (T)ck_pr_load_##CK((const CKT *)&p->raw_);                                             \
        ck_pr_fence_acquire();                                                                     \
        return v;                                                                                  \
    }                                                                                              \
    WSE__INLINE void wse__atomic_store_##N##_relaxed(wse__atomic_##N *p, T v)                      \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        ck_pr_store_##CK((CKT *)&p->raw_, (CKT)v);                                                 \
    }                                                                                              \
    WSE__INLINE void wse__atomic_store_##N##_release(wse__atomic_##N *p, T v)                      \
    {                                                                                              \
        WSE__CHAOS_POINT();                                                                        \
        ck_pr_fence_release();                                                                     \
        ck_pr_store_##CK((CKT *)&p->raw_, (CKT)v);                                                 \
    }                                                                                              \
    WSE__INLINE bool wse__atomic_cas_##N##_acq_rel(wse__atomic_##N *p, T *expected, T desired)     \
    {                                                                                              \
        CKT old;                                                                                   \
        bool ok;                                                                                   \
        WSE__CHAOS_POINT();                                                                        \
        ck_pr_fence_release();                                                                     \
        ck_pr_fence_load_atomic();                                                                 \
        ok = ck_pr_cas_##CK##_value((CKT *)&p->raw_, (CKT)*expected, (CKT)desired, &old);          \
        ck_pr_fence_atomic_load();                                                                 \
        ck_pr_fence_acquire();                                                                     \
        if (!ok)                                                                                   \
            *expected = (T)old;                                                                    \
        return ok;                                                                                 \
    }                                                                                              \
    WSE__INLINE bool wse__atomic_cas_##N##_seq_cst(wse__atomic_##N *p, T *expected, T desired)     \
    {                                                                                              \
        CKT old;                                                                                   \
        bool ok;                                                                                   \
        WSE__CHAOS_POINT();                                                                        \
        ck_pr_fence_atomic();                                                                      \
        ck_pr_fence_store_atomic();                                                                \
        ck_pr_fence_load_atomic();                                                                 \
        ok = ck_pr_cas_##CK##_value((CKT *)&p->raw_, (CKT)*expected, (CKT)desired, &old);          \
        ck_pr_fence_atomic();                                                                      \
        ck_pr_fence_atomic_load();                                                                 \
        ck_pr_fence_atomic_store();                                                                \
        if (!ok)                                                                                   \
            *expected = (T)old;                                                                    \
        return ok;                                                                                 \
    }

WSE__CK_OPS(uint32_t, u32, uint32_t, 32)
WSE__CK_OPS(uint64_t, u64, uint64_t, 64)
WSE__CK_OPS(int64_t, i64, uint64_t, 64)

/* Pointers: ck_pr_load_ptr/ck_pr_store_ptr take void *. */
WSE__INLINE void *
wse__atomic_load_ptr_relaxed(const wse__atomic_ptr *p)
{
    WSE__CHAOS_POINT();
    return ck_pr_load_ptr(&p->raw_);
}

WSE__INLINE void *
wse__atomic_load_ptr_acquire(const wse__atomic_ptr *p)
{
    void *v;

    WSE__CHAOS_POINT();
    v = ck_pr_load_ptr(&p->raw_);
    ck_pr_fence_acquire();
    return v;
}

WSE__INLINE void
wse__atomic_store_ptr_relaxed(wse__atomic_ptr *p, void *v)
{
    WSE__CHAOS_POINT();
    ck_pr_store_ptr(&p->raw_, v);
}

WSE__INLINE void
wse__atomic_store_ptr_release(wse__atomic_ptr *p, void *v)
{
    WSE__CHAOS_POINT();
    ck_pr_fence_release();
    ck_pr_store_ptr(&p->raw_, v);
}

WSE__INLINE bool
wse__atomic_cas_ptr_acq_rel(wse__atomic_ptr *p, void **expected, void *desired)
{
    void *old;
    bool ok;

    WSE__CHAOS_POINT();
    ck_pr_fence_release();
    ck_pr_fence_load_atomic();
    ok = ck_pr_cas_ptr_value(&p->raw_, *expected, desired, &old);
    ck_pr_fence_atomic_load();
    ck_pr_fence_acquire();
    if (!ok)
        *expected = old;
    return ok;
}

/* Read-modify-writes on counters and flag words: lock-prefixed on TSO; the
 * atomic fences make them acq_rel elsewhere. */
#define WSE__CK_RMW_ACQ_REL(T, A, NAME, CK_OP)                                                     \
    WSE__INLINE T NAME(A *p, T v)                                                                  \
    {                                                                                              \
        T r;                                                                                       \
        WSE__CHAOS_POINT();                                                                        \
        ck_pr_fence_release();                                                                     \
        ck_pr_fence_load_atomic();                                                                 \
        r = CK_OP(&p->raw_, v);                                                                    \
        ck_pr_fence_atomic_load();                                                                 \
        ck_pr_fence_acquire();                                                                     \
        return r;                                                                                  \
    }

WSE__CK_RMW_ACQ_REL(uint32_t, wse__atomic_u32, wse__atomic_faa_u32_acq_rel, ck_pr_faa_32)
WSE__CK_RMW_ACQ_REL(uint64_t, wse__atomic_u64, wse__atomic_faa_u64_acq_rel, ck_pr_faa_64)
WSE__CK_RMW_ACQ_REL(uint32_t, wse__atomic_u32, wse__atomic_fas_u32_acq_rel, ck_pr_fas_32)
WSE__CK_RMW_ACQ_REL(void *, wse__atomic_ptr, wse__atomic_fas_ptr_acq_rel, ck_pr_fas_ptr)

WSE__INLINE int64_t
wse__atomic_faa_i64_relaxed(wse__atomic_i64 *p, int64_t v)
{
    WSE__CHAOS_POINT();
    return (int64_t)ck_pr_faa_64((uint64_t *)&p->raw_, (uint64_t)v);
}

/* Full fence: orders every earlier load and store before every later one: the
 * StoreLoad edge of the Dekker protocols (deque pop/steal, park/wake).
 *
 * On x86-64 a locked read-modify-write is a full barrier for ordinary memory
 * (Intel SDM vol. 3, 8.2.2: loads and stores are not reordered with locked
 * instructions) and costs about half of an mfence, which also waits for
 * non-temporal and write-combining stores we never issue (crossbeam-epoch and
 * Linux's smp_mb() make the same choice). The word is on our stack, so the
 * instruction contends with nobody; ck_pr's asm clobbers memory, so it is a
 * compiler barrier too. Measured: fib(32) on one worker, where the owner's pop
 * runs this once per task (docs/performance.md). */
WSE__INLINE void
wse__atomic_fence_seq_cst(void)
{
    WSE__CHAOS_POINT();
#if defined(__x86_64__) && defined(CK_MD_TSO)
    {
        uint32_t word = 0;

        (void)ck_pr_fas_32(&word, 0);
    }
#else
    ck_pr_fence_memory();
#endif
}

#endif /* WSE__TSAN */

/* A compiler barrier only: the compiler moves no memory access across it, the
 * processor may. The fast side of an asymmetric fence (wse__sync_membarrier()),
 * whose slow side makes the processor's order visible. */
WSE__INLINE void
wse__atomic_compiler_barrier(void)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * Add 1 to a counter that only the calling thread writes (others load it,
 * relaxed): the owner needs no read-modify-write, only an atomic store of the
 * new value (relaxed). On x86-64 one unlocked increment of the aligned word is
 * that load and store in one instruction; elsewhere, and for ThreadSanitizer,
 * the load and store themselves.
 */
WSE__INLINE void
wse__atomic_inc_owned_u64(wse__atomic_u64 *p)
{
#if !WSE__TSAN && defined(__x86_64__)
    WSE__CHAOS_POINT();
    __asm__ __volatile__("incq %0" : "+m"(p->raw_));
#else
    wse__atomic_store_u64_relaxed(p, wse__atomic_load_u64_relaxed(p) + 1);
#endif
}

/* Before the object is shared: a plain store (see the types above). */
WSE__INLINE void
wse__atomic_init_u32(wse__atomic_u32 *p, uint32_t v)
{
    p->raw_ = v;
}
WSE__INLINE void
wse__atomic_init_u64(wse__atomic_u64 *p, uint64_t v)
{
    p->raw_ = v;
}
WSE__INLINE void
wse__atomic_init_i64(wse__atomic_i64 *p, int64_t v)
{
    p->raw_ = v;
}
WSE__INLINE void
wse__atomic_init_ptr(wse__atomic_ptr *p, void *v)
{
    p->raw_ = v;
}

/* A CPU hint inside spin loops (x86 pause). */
WSE__INLINE void
wse__atomic_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* One round of a spin loop that waits for another thread's few instructions:
 * pause, and after 64 rounds give up the CPU each time (that thread may be
 * preempted: 2 vCPUs). */
WSE__INLINE void
wse__atomic_backoff(unsigned *spins)
{
    if (++*spins < 64)
        wse__atomic_pause();
    else
        sched_yield();
}

#endif /* WSE__ATOMIC_H */

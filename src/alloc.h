/*
 * Every allocation of wsexec goes through these functions, so a test build can
 * make the k-th allocation fail (the WSE_FAULT_INJECTION build).
 */
#ifndef WSE__ALLOC_H
#define WSE__ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"

/* malloc(size); NULL when out of memory. */
void *wse__alloc(size_t size);
/* calloc(n, size), NULL on overflow or when out of memory. */
void *wse__alloc_array(size_t n, size_t size);
/* aligned_alloc rounded up to a multiple of align; memory is zeroed. */
void *wse__alloc_aligned(size_t align, size_t size);
/* The same, not zeroed (its pages are not touched here). */
void *wse__alloc_aligned_uninit(size_t align, size_t size);
/* free(p). */
void wse__alloc_free(void *p);

/*
 * Small blocks (futures, callback nodes): WSE__ALLOC_SMALL bytes, aligned for any
 * type. On a thread that enabled its cache (the worker threads), freed blocks are
 * kept on a thread-local free list of at most WSE__ALLOC_CACHE_MAX blocks and
 * handed out again without malloc; on other threads these are malloc and free.
 * A block may be freed on any thread, whichever allocated it. Each allocation is
 * counted by the fault injection like any other, cached or not.
 */
#define WSE__ALLOC_SMALL 64
#define WSE__ALLOC_CACHE_MAX 4096
void *wse__alloc_small(void);
void wse__alloc_small_free(void *p);
/* The same for medium blocks (a scope): WSE__ALLOC_MEDIUM bytes aligned to a
 * cache line, at most WSE__ALLOC_MEDIUM_CACHE_MAX kept per thread (glibc's own
 * cache keeps 7 of a size, and fork-join code nests a scope per level). */
#define WSE__ALLOC_MEDIUM 1024
#define WSE__ALLOC_MEDIUM_CACHE_MAX 256

/* A thread's cache of one block size: a free list, plain thread-local data. */
struct wse__alloc_cache {
    void *head; /* a block's first word links the next */
    unsigned count;
    unsigned max;
    size_t size;
    bool enabled;
    bool aligned; /* a cache line aligned block (aligned_alloc): a scope */
};
extern WSE__TLS struct wse__alloc_cache wse__alloc_medium_cache;
void *wse__alloc_medium_slow(void);
void wse__alloc_medium_free_slow(void *p);

/* Inline: a scope per fork-join call takes and gives back one each time. The
 * fault-injection build counts every allocation, so it always calls. */
static inline void *
wse__alloc_medium(void)
{
#if !defined(WSE_FAULT_INJECTION) || !WSE_FAULT_INJECTION
    struct wse__alloc_cache *c = &wse__alloc_medium_cache;
    void *b = c->head;

    if (b != NULL) {
        c->head = *(void **)b;
        c->count--;
        return b;
    }
#endif
    return wse__alloc_medium_slow();
}

static inline void
wse__alloc_medium_free(void *p)
{
    struct wse__alloc_cache *c = &wse__alloc_medium_cache;

    if (p != NULL && c->enabled && c->count < c->max) {
        *(void **)p = c->head;
        c->head = p;
        c->count++;
        return;
    }
    wse__alloc_medium_free_slow(p);
}
/* Start keeping freed small blocks on this thread (a worker, at its start). */
/* A big block kept for reuse, for allocations made and freed once per call of
 * an API function (a loop's descriptor): wse__alloc_kept() returns at least
 * size bytes, cache-line aligned, not zeroed: the kept block if it is big
 * enough, else a new one (NULL if out of memory). wse__alloc_kept_free() keeps
 * p (freeing the block kept before) unless it is over 64 KiB or the cache is
 * off (AddressSanitizer).
 * A few blocks for the process, each taken with one atomic exchange and put
 * back with one CAS: any thread may free a block another allocated. */
void *wse__alloc_kept(size_t size);
void wse__alloc_kept_free(void *p);
void wse__alloc_cache_enable(void);
/* Free this thread's cached blocks and stop caching (a worker, before it exits). */
void wse__alloc_cache_disable(void);

/* Fault injection (effective only in a WSE_FAULT_INJECTION build): reset the
 * allocation counter and make allocation number fail_at (1-based; 0: none) fail,
 * and with persistent every later one too. */
void wse__fault_arm(int64_t fail_at, bool persistent);
/* Allocations counted since the last wse__fault_arm(). */
int64_t wse__fault_count(void);
/* A failed allocation the library absorbs by design, where the caller sees no
 * error and loses nothing (a spare not started, a plain thread's counters kept
 * in the executor's shared block): noted, so that a test can tell it from an
 * ENOMEM lost on the way. wse__fault_absorbed(): those since the last arm. */
void wse__fault_absorbed_note(void);
int64_t wse__fault_absorbed(void);
/* Make thread start number fail_at (1-based; 0: none) fail with EAGAIN. */
void wse__fault_arm_thread(int64_t fail_at);
/* True if this thread start is the one to fail (always false outside a
 * WSE_FAULT_INJECTION build). */
bool wse__fault_thread_start(void);

#endif /* WSE__ALLOC_H */

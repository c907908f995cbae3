/*
 * Every allocation of wsexec goes through these three functions, so a test build
 * can make the k-th allocation fail (issue 4, WSE_FAULT_INJECTION).
 */
#ifndef WSE_ALLOC_H
#define WSE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc(size); NULL when out of memory. */
void *wse__malloc(size_t size);
/* calloc(n, size), NULL on overflow or when out of memory. */
void *wse__calloc(size_t n, size_t size);
/* aligned_alloc rounded up to a multiple of align; memory is zeroed. */
void *wse__zalloc_aligned(size_t align, size_t size);
/* free(p). */
void wse__free(void *p);

/* Fault injection (effective only in a WSE_FAULT_INJECTION build): reset the
 * allocation counter and make allocation number fail_at (1-based; 0: none) fail,
 * and with persistent every later one too. */
void wse__fault_arm(int64_t fail_at, bool persistent);
/* Allocations counted since the last wse__fault_arm(). */
int64_t wse__fault_count(void);
/* Make thread start number fail_at (1-based; 0: none) fail with EAGAIN. */
void wse__fault_arm_thread(int64_t fail_at);
/* True if this thread start is the one to fail (always false outside a
 * WSE_FAULT_INJECTION build). */
bool wse__fault_thread_start(void);

#endif /* WSE_ALLOC_H */

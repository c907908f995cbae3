/*
 * Every allocation of wsexec goes through these three functions, so a test build
 * can make the k-th allocation fail (issue 4, WSE_FAULT_INJECTION).
 */
#ifndef WSE_ALLOC_H
#define WSE_ALLOC_H

#include <stddef.h>

/* malloc(size); NULL when out of memory. */
void *wse__malloc(size_t size);
/* calloc(n, size), NULL on overflow or when out of memory. */
void *wse__calloc(size_t n, size_t size);
/* aligned_alloc rounded up to a multiple of align; memory is zeroed. */
void *wse__zalloc_aligned(size_t align, size_t size);
/* free(p). */
void wse__free(void *p);

#endif /* WSE_ALLOC_H */

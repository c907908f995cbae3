/* The one allocation point of the library (see alloc.h). */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

void *
wse__malloc(size_t size)
{
    return malloc(size);
}

void *
wse__calloc(size_t n, size_t size)
{
    return calloc(n, size);
}

void *
wse__zalloc_aligned(size_t align, size_t size)
{
    size_t rounded = (size + align - 1) / align * align;
    void *p;

    if (rounded < size)
        return NULL;
    p = aligned_alloc(align, rounded);
    if (p != NULL)
        memset(p, 0, rounded);
    return p;
}

void
wse__free(void *p)
{
    free(p);
}

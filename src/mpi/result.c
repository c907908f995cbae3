/*
 * Result blocks: the value of a DONE remote future, freed by the promise's
 * free_value. wse_mpi_result() must tell such a value from any other future's value
 * without reading through a pointer it does not own, so every live block is kept in
 * a process-wide set (a chained hash on the block's address, guarded by one mutex)
 * and wse_mpi_result() only compares addresses until it finds the value there.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "result.h"

#define RESULT_BUCKETS 1024u

struct result {
    struct result *next; /* bucket chain; protected by result_lock */
    size_t len;
    void *bytes; /* malloc'd, or NULL when len is 0 */
};

/* order: a leaf */
static pthread_mutex_t result_lock = PTHREAD_MUTEX_INITIALIZER;
static struct result *result_set[RESULT_BUCKETS]; /* protected by result_lock */

/* A non-NULL pointer for an empty result. */
static const unsigned char result_empty[1];

static size_t
result_bucket(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 32) % RESULT_BUCKETS;
}

void *
wse__mpi_result_new(void *bytes, size_t len)
{
    struct result *r = wse__mpi_malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    r->len = len;
    r->bytes = bytes;
    size_t b = result_bucket(r);
    pthread_mutex_lock(&result_lock);
    r->next = result_set[b];
    result_set[b] = r;
    pthread_mutex_unlock(&result_lock);
    return r;
}

void
wse__mpi_result_free(void *value)
{
    struct result *r = value;
    size_t b = result_bucket(r);
    pthread_mutex_lock(&result_lock);
    for (struct result **p = &result_set[b]; *p != NULL; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&result_lock);
    free(r->bytes);
    free(r);
}

const void *
wse_mpi_result(const wse_future *f, size_t *len)
{
    const void *bytes = NULL;
    size_t n = 0;
    void *v = (f != NULL && wse_future_state(f) == WSE_DONE) ? wse_future_value(f) : NULL;
    if (v != NULL) {
        size_t b = result_bucket(v);
        pthread_mutex_lock(&result_lock);
        for (const struct result *r = result_set[b]; r != NULL; r = r->next) {
            if (r == v) {
                n = r->len;
                bytes = r->len > 0 ? r->bytes : (const void *)result_empty;
                break;
            }
        }
        pthread_mutex_unlock(&result_lock);
    }
    if (len != NULL)
        *len = n;
    return bytes;
}

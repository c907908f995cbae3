/*
 * The one allocation point of the library (see alloc.h).
 *
 * With WSE_FAULT_INJECTION (a CMake option for test builds), allocations are
 * counted and the k-th one (1-based) can be made to fail, once or from then on,
 * so a test can walk every allocation of a scenario (SQLite's OOM loop). Thread
 * starts are counted the same way, so the EAGAIN path of create can be tested.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "atomic.h"

#ifndef WSE_FAULT_INJECTION
#define WSE_FAULT_INJECTION 0
#endif

/* Allocations counted since the last wse__fault_arm(); atomic. */
static wse__atomic_i64 fault_count;
/* The allocation number that fails (0: none); atomic. */
static wse__atomic_i64 fault_at;
/* Nonzero: every allocation from fault_at on fails; atomic. */
static wse__atomic_u32 fault_persistent;
/* Failed allocations the library absorbed by design since the last
 * wse__fault_arm(); atomic. */
static wse__atomic_i64 fault_absorbed;

void
wse__fault_arm(int64_t fail_at, bool persistent)
{
    /* relaxed: set up by the test before the scenario starts its threads (thread
     * creation orders it); read as a hint by should_fail(). */
    wse__atomic_store_i64_relaxed(&fault_count, 0);
    wse__atomic_store_i64_relaxed(&fault_absorbed, 0);
    wse__atomic_store_u32_relaxed(&fault_persistent, persistent);
    wse__atomic_store_i64_relaxed(&fault_at, fail_at);
}

int64_t
wse__fault_count(void)
{
    /* relaxed: read by the test after the scenario has joined its threads. */
    return wse__atomic_load_i64_relaxed(&fault_count);
}

void
wse__fault_absorbed_note(void)
{
    /* relaxed: a counter, read as wse__fault_count() is. */
    if (WSE_FAULT_INJECTION)
        (void)wse__atomic_faa_i64_relaxed(&fault_absorbed, 1);
}

int64_t
wse__fault_absorbed(void)
{
    /* relaxed: as in wse__fault_count(). */
    return wse__atomic_load_i64_relaxed(&fault_absorbed);
}

/* Thread starts counted since the last wse__fault_arm_thread(); atomic. */
static wse__atomic_i64 thread_count;
/* The thread start that fails (0: none); atomic. */
static wse__atomic_i64 thread_at;

void
wse__fault_arm_thread(int64_t fail_at)
{
    /* relaxed: set up by the test before the scenario (see wse__fault_arm()). */
    wse__atomic_store_i64_relaxed(&thread_count, 0);
    wse__atomic_store_i64_relaxed(&thread_at, fail_at);
}

/* Count one event on *count; true if it is event number *at (1-based; 0: none),
 * or a later one when persistent. */
static bool
counted_hit(wse__atomic_i64 *count, wse__atomic_i64 *at_p, bool persistent)
{
    int64_t at;
    int64_t k;

    if (!WSE_FAULT_INJECTION)
        return false;
    /* relaxed: a counter; only its atomicity matters (each number once). */
    k = wse__atomic_faa_i64_relaxed(count, 1) + 1;
    at = wse__atomic_load_i64_relaxed(at_p);
    if (at == 0)
        return false;
    return k == at || (k > at && persistent);
}

bool
wse__fault_thread_start(void)
{
    return counted_hit(&thread_count, &thread_at, false);
}

static bool
should_fail(void)
{
    /* relaxed: set by wse__fault_arm() before the scenario. */
    return counted_hit(&fault_count, &fault_at,
                       WSE_FAULT_INJECTION && wse__atomic_load_u32_relaxed(&fault_persistent));
}

void *
wse__alloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size);
}

void *
wse__alloc_array(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n, size);
}

void *
wse__alloc_aligned_uninit(size_t align, size_t size)
{
    size_t rounded = (size + align - 1) / align * align;

    if (rounded < size || should_fail())
        return NULL;
    return aligned_alloc(align, rounded);
}

void *
wse__alloc_aligned(size_t align, size_t size)
{
    size_t rounded = (size + align - 1) / align * align;
    void *p = wse__alloc_aligned_uninit(align, size);

    if (p != NULL)
        memset(p, 0, rounded);
    return p;
}

void
wse__alloc_free(void *p)
{
    free(p);
}

/* ------------------------------------------------------------------------- */
/* Small blocks: a thread-local free list (tcmalloc's and oneTBB's per-thread
 * caches, reduced to one size class). A fork-join task allocates its future on
 * one worker and its last reference often drops on the same one, so most blocks
 * never reach malloc. The list is plain thread-local data: no atomics.
 *
 * Under AddressSanitizer the cache is off, so a use after release is still caught
 * at the free. */

#if defined(__SANITIZE_ADDRESS__)
#define WSE__ALLOC_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSE__ALLOC_CACHE 0
#endif
#endif
#ifndef WSE__ALLOC_CACHE
#define WSE__ALLOC_CACHE 1
#endif

/* The two size classes: small blocks, and medium ones (scopes, whose fields
 * are grouped by cache line: scope.c). The medium cache's fast paths are
 * inline (alloc.h). */
static WSE__TLS struct wse__alloc_cache small_cache = {
    NULL, 0, WSE__ALLOC_CACHE_MAX, WSE__ALLOC_SMALL, false, false};
WSE__TLS struct wse__alloc_cache wse__alloc_medium_cache = {
    NULL, 0, WSE__ALLOC_MEDIUM_CACHE_MAX, WSE__ALLOC_MEDIUM, false, true};

static void *
cache_take(struct wse__alloc_cache *c)
{
    void *b = c->head;

    if (should_fail())
        return NULL;
    if (b != NULL) {
        c->head = *(void **)b;
        c->count--;
        return b;
    }
    return c->aligned ? aligned_alloc(WSE__CACHE_LINE, c->size) : malloc(c->size);
}

static void
cache_put(struct wse__alloc_cache *c, void *p)
{
    if (p == NULL)
        return;
    if (!c->enabled || c->count >= c->max) {
        free(p);
        return;
    }
    *(void **)p = c->head;
    c->head = p;
    c->count++;
}

static void
cache_drain(struct wse__alloc_cache *c)
{
    void *next;

    c->enabled = false;
    for (; c->head != NULL; c->head = next) {
        next = *(void **)c->head;
        free(c->head);
    }
    c->count = 0;
}

void *
wse__alloc_small(void)
{
    return cache_take(&small_cache);
}

void
wse__alloc_small_free(void *p)
{
    cache_put(&small_cache, p);
}

void *
wse__alloc_medium_slow(void)
{
    return cache_take(&wse__alloc_medium_cache);
}

void
wse__alloc_medium_free_slow(void *p)
{
    cache_put(&wse__alloc_medium_cache, p);
}

/* ------------------------------------------------------------------------- */
/* The kept blocks. A block's capacity is in a header of one cache line before
 * the pointer handed out. The slots are single pointers: an exchange takes a
 * block (leaving NULL), a CAS from NULL puts one back; no ABA, since a taker
 * owns whatever the exchange returned. Several slots, because the last
 * participant of a loop often lets go of its descriptor after the caller has
 * started the next loop. */

#define KEPT_HEADER ((size_t)WSE__CACHE_LINE)
/* The least capacity of a kept block, so that a loop over a few more workers
 * still fits the block kept by the last one. */
#define KEPT_MIN ((size_t)4096)
/* A bigger block is freed, not kept (a reduction's accumulators may be MiBs). */
#define KEPT_MAX ((size_t)64 << 10)
#define KEPT_SLOTS 8

/* atomic: kept blocks (their headers), or NULL. */
static wse__atomic_ptr kept_slots[KEPT_SLOTS];

void *
wse__alloc_kept(size_t size)
{
    unsigned char *b;
    size_t cap;
    unsigned i;

    if (should_fail())
        return NULL;
    for (i = 0; WSE__ALLOC_CACHE && i < KEPT_SLOTS; i++) {
        /* relaxed: a hint that saves the exchange of an empty slot. */
        if (wse__atomic_load_ptr_relaxed(&kept_slots[i]) == NULL)
            continue;
        /* acq_rel: pairs with the CAS in wse__alloc_kept_free(): the block's
         * header (and the freeing thread's last writes) are visible. */
        b = wse__atomic_fas_ptr_acq_rel(&kept_slots[i], NULL);
        if (b != NULL && *(size_t *)(void *)b >= size)
            return b + KEPT_HEADER;
        free(b);
    }
    cap = size < KEPT_MIN ? KEPT_MIN : (size + KEPT_HEADER - 1) / KEPT_HEADER * KEPT_HEADER;
    if (cap + KEPT_HEADER < cap)
        return NULL;
    b = aligned_alloc(KEPT_HEADER, KEPT_HEADER + cap);
    if (b == NULL)
        return NULL;
    *(size_t *)(void *)b = cap;
    return b + KEPT_HEADER;
}

void
wse__alloc_kept_free(void *p)
{
    unsigned char *b;
    void *none;
    unsigned i;

    if (p == NULL)
        return;
    b = (unsigned char *)p - KEPT_HEADER;
    for (i = 0; WSE__ALLOC_CACHE && *(size_t *)(void *)b <= KEPT_MAX && i < KEPT_SLOTS; i++) {
        none = NULL;
        /* acq_rel: pairs with the exchange in wse__alloc_kept(): our writes
         * to the block happen before its next owner's. */
        if (wse__atomic_cas_ptr_acq_rel(&kept_slots[i], &none, b))
            return;
    }
    free(b);
}

/* At exit (or unload of the shared library): no block outlives the process's
 * leak checks. */
__attribute__((destructor)) static void
kept_drain(void)
{
    unsigned i;

    for (i = 0; i < KEPT_SLOTS; i++) {
        /* acq_rel: as in wse__alloc_kept(). */
        free(wse__atomic_fas_ptr_acq_rel(&kept_slots[i], NULL));
    }
}

void
wse__alloc_cache_enable(void)
{
    small_cache.enabled = WSE__ALLOC_CACHE;
    wse__alloc_medium_cache.enabled = WSE__ALLOC_CACHE;
}

void
wse__alloc_cache_disable(void)
{
    cache_drain(&small_cache);
    cache_drain(&wse__alloc_medium_cache);
}

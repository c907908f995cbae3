/*
 * Chase-Lev work-stealing deque.
 *
 * D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque", SPAA 2005, with the
 * C11 memory orders proved correct by N. M. Le, A. Pop, A. Cohen and F. Zappa
 * Nardelli, "Correct and Efficient Work-Stealing for Weak Memory Models",
 * PPoPP 2013, Figure 1.
 *
 * Fields and who writes them:
 *   top     - the index of the oldest item. Only ever grows, and only by a
 *             successful CAS (thieves in wse__deque_steal(); the owner in wse__deque_pop()
 *             when it races thieves for the last item).
 *   bottom  - one past the newest item. Written only by the owner.
 *   array   - the circular buffer. Replaced only by the owner (grow()).
 * Indices are signed 64 bits: they never wrap in practice (2^63 pushes), so there
 * is no ABA on top, and wse__deque_pop() on an empty deque computes bottom - 1 = -1 <
 * top without the unsigned underflow that would make an empty deque look full.
 * The deque holds the items with indices in [top, bottom).
 *
 * Slots are accessed atomically (relaxed): a thief may read a slot that the owner
 * overwrites after wrap-around; the thief's CAS on top then fails and it drops
 * the value, but a plain access would still be a data race in C11.
 *
 * Two races matter:
 *  1. Owner pop vs. thief steal of the last item. wse__deque_pop() first publishes
 *     bottom - 1, then (seq_cst fence) reads top; wse__deque_steal() reads top, then
 *     (seq_cst fence) reads bottom. The fences order these Dekker-style, so they
 *     cannot both believe they own the last item without the CAS on top deciding.
 *  2. Publication: wse__deque_push() writes the slot, then stores bottom with release;
 *     wse__deque_steal() loads bottom with acquire before it reads the slot, so the
 *     thief sees the item (and everything the pusher wrote before pushing it).
 *
 * Reclamation: growth copies [top, bottom) into an array twice the size and
 * publishes it with a release store. A thief may still be reading the old array,
 * so it is not freed at once: retired arrays are kept on a list and freed in
 * wse__deque_destroy(). Each array is half the size of the next, so the retired ones
 * together are smaller than the live one: at most 2x memory, no per-steal cost
 * (ck_epoch would add an epoch section to every steal to save that memory).
 */
#include "deque.h"

#include <errno.h>

#include "alloc.h"

struct wse__deque_array {
    int64_t size;                  /* power of two */
    int64_t mask;                  /* size - 1 */
    struct wse__deque_array *next; /* retired list, owner only */
    wse__atomic_ptr slot[];
};

static struct wse__deque_array *
array_new(int64_t size)
{
    struct wse__deque_array *a;

    a = wse__alloc_array(1, sizeof(*a) + (size_t)size * sizeof(void *));
    if (a == NULL)
        return NULL;
    a->size = size;
    a->mask = size - 1;
    return a;
}

static inline void *
slot_load(struct wse__deque_array *a, int64_t i)
{
    /* relaxed: ordered by the acquire on bottom (thief) or owner-only (pop). */
    return wse__atomic_load_ptr_relaxed(&a->slot[i & a->mask]);
}

static inline void
slot_store(struct wse__deque_array *a, int64_t i, void *item)
{
    /* relaxed: published by the release store of bottom in wse__deque_push(). */
    wse__atomic_store_ptr_relaxed(&a->slot[i & a->mask], item);
}

int
wse__deque_init(struct wse__deque *dq, size_t capacity)
{
    struct wse__deque_array *a;
    int64_t size = 2;

    while ((size_t)size < capacity && size < ((int64_t)1 << 40))
        size <<= 1;
    a = array_new(size);
    if (a == NULL)
        return ENOMEM;
    /* Plain: the deque is not shared yet (its registration publishes it). */
    wse__atomic_init_ptr(&dq->array, a);
    wse__atomic_init_i64(&dq->top, 0);
    wse__atomic_init_i64(&dq->bottom, 0);
    dq->retired = NULL;
    return 0;
}

void
wse__deque_destroy(struct wse__deque *dq)
{
    /* relaxed: the deque is no longer shared. */
    struct wse__deque_array *a = wse__atomic_load_ptr_relaxed(&dq->array);
    struct wse__deque_array *next;

    wse__alloc_free(a);
    for (a = dq->retired; a != NULL; a = next) {
        next = a->next;
        wse__alloc_free(a);
    }
    wse__atomic_init_ptr(&dq->array, NULL);
    dq->retired = NULL;
}

/* Owner: replace a (which holds [t, b)) by an array twice its size. */
static struct wse__deque_array *
grow(struct wse__deque *dq, struct wse__deque_array *a, int64_t t, int64_t b)
{
    struct wse__deque_array *bigger;
    int64_t i;

    if (a->size >= ((int64_t)1 << 40))
        return NULL;
    bigger = array_new(a->size * 2);
    if (bigger == NULL)
        return NULL;
    for (i = t; i < b; i++)
        slot_store(bigger, i, slot_load(a, i));
    a->next = dq->retired;
    dq->retired = a;
    /* release: the copied slots before the new array pointer; pairs with the
     * acquire load of array in wse__deque_steal(). */
    wse__atomic_store_ptr_release(&dq->array, bigger);
    return bigger;
}

int
wse__deque_push(struct wse__deque *dq, void *item)
{
    /* relaxed: bottom is written only by this thread (the owner). */
    int64_t b = wse__atomic_load_i64_relaxed(&dq->bottom);
    /* acquire: pairs with the CAS on top in wse__deque_steal(); a slot below top is
     * free only once the thief that took it has read it. */
    int64_t t = wse__atomic_load_i64_acquire(&dq->top);
    /* relaxed: array is written only by this thread. */
    struct wse__deque_array *a = wse__atomic_load_ptr_relaxed(&dq->array);

    if (b - t > a->size - 1) {
        a = grow(dq, a, t, b);
        if (a == NULL)
            return ENOMEM;
    }
    slot_store(a, b, item);
    /* release: the slot (and the item's contents) before bottom; pairs with the
     * acquire load of bottom in wse__deque_steal(). Le et al. use a release fence and
     * a relaxed store; the order on the store is the same edge, visible to TSan. */
    wse__atomic_store_i64_release(&dq->bottom, b + 1);
    return 0;
}

void *
wse__deque_pop(struct wse__deque *dq)
{
    /* relaxed: owner-only field. */
    int64_t b = wse__atomic_load_i64_relaxed(&dq->bottom) - 1;
    struct wse__deque_array *a = wse__atomic_load_ptr_relaxed(&dq->array);
    int64_t t;
    void *item;

    /* relaxed store + seq_cst fence: bottom - 1 must be visible before we read
     * top (StoreLoad); pairs with the seq_cst fence in wse__deque_steal() between its
     * loads of top and bottom. */
    wse__atomic_store_i64_relaxed(&dq->bottom, b);
    wse__atomic_fence_seq_cst();
    /* relaxed: ordered by the fence above. */
    t = wse__atomic_load_i64_relaxed(&dq->top);
    if (t > b) {
        /* Empty: restore bottom (owner-only write). */
        wse__atomic_store_i64_relaxed(&dq->bottom, b + 1);
        return NULL;
    }
    item = slot_load(a, b);
    if (t == b) {
        /* The last item: race the thieves for it with the same CAS they use.
         * seq_cst: pairs with the CAS in wse__deque_steal(). */
        if (!wse__atomic_cas_i64_seq_cst(&dq->top, &t, t + 1))
            item = NULL;
        wse__atomic_store_i64_relaxed(&dq->bottom, b + 1);
    }
    return item;
}

enum wse__deque_steal_result
wse__deque_steal(struct wse__deque *dq, void **item)
{
    /* acquire: pairs with the seq_cst CAS on top by other takers. */
    int64_t t = wse__atomic_load_i64_acquire(&dq->top);
    int64_t b;
    struct wse__deque_array *a;
    void *x;

    /* seq_cst fence: top before bottom (pairs with the fence in wse__deque_pop()). */
    wse__atomic_fence_seq_cst();
    /* acquire: pairs with the release store of bottom in wse__deque_push(); the slot
     * and the item's contents are visible after it. */
    b = wse__atomic_load_i64_acquire(&dq->bottom);
    if (t >= b)
        return WSE__DEQUE_EMPTY;
    /* acquire: pairs with the release store of array in grow(). Le et al. use
     * consume; compilers implement consume as acquire. */
    a = wse__atomic_load_ptr_acquire(&dq->array);
    x = slot_load(a, t);
    /* seq_cst: decides the race with other thieves and with wse__deque_pop(). */
    if (!wse__atomic_cas_i64_seq_cst(&dq->top, &t, t + 1))
        return WSE__DEQUE_ABORT;
    *item = x;
    return WSE__DEQUE_STOLEN;
}

int64_t
wse__deque_size_hint(const struct wse__deque *dq)
{
    /* relaxed: a hint only; callers recheck with a real pop or steal. */
    int64_t b = wse__atomic_load_i64_relaxed(&dq->bottom);
    int64_t t = wse__atomic_load_i64_relaxed(&dq->top);

    return b > t ? b - t : 0;
}

int64_t
wse__deque_room(const struct wse__deque *dq)
{
    /* relaxed: owner-only fields. */
    int64_t b = wse__atomic_load_i64_relaxed(&dq->bottom);
    const struct wse__deque_array *a = wse__atomic_load_ptr_relaxed(&dq->array);
    /* acquire: as in wse__deque_push(); a slot below top is free once its thief
     * has read it. */
    int64_t t = wse__atomic_load_i64_acquire(&dq->top);

    return a->size - 1 - (b - t);
}

void *
wse__deque_peek(const struct wse__deque *dq)
{
    /* relaxed: owner-only fields; top is a hint here, the pop decides. */
    int64_t b = wse__atomic_load_i64_relaxed(&dq->bottom);
    int64_t t = wse__atomic_load_i64_relaxed(&dq->top);
    struct wse__deque_array *a = wse__atomic_load_ptr_relaxed(&dq->array);

    return b > t ? slot_load(a, b - 1) : NULL;
}

bool
wse__deque_contains(const struct wse__deque *dq, const void *item)
{
    /* acquire, fence, acquire: as in wse__deque_steal(), so that the slots in
     * [t, b) were written by the pushes that published b. */
    int64_t t = wse__atomic_load_i64_acquire(&dq->top);
    int64_t b;
    struct wse__deque_array *a;
    int64_t i;

    wse__atomic_fence_seq_cst();
    b = wse__atomic_load_i64_acquire(&dq->bottom);
    /* acquire: pairs with the release store of array in grow(). */
    a = wse__atomic_load_ptr_acquire(&dq->array);
    if (b - t > a->size)
        t = b - a->size;
    for (i = t; i < b; i++) {
        if (slot_load(a, i) == item)
            return true;
    }
    return false;
}

/*
 * Chase-Lev work-stealing deque (Chase & Lev, SPAA 2005), with the C11 memory
 * orders of Le, Pop, Cohen and Zappa Nardelli, PPoPP 2013 (Figure 1). See deque.c
 * for the protocol. Items are non-NULL pointers.
 *
 * Who may call what: wse__deque_push() and wse__deque_pop() only by the deque's owner thread;
 * wse__deque_steal() by any thread, concurrently with the owner and other thieves.
 */
#ifndef WSE__DEQUE_H
#define WSE__DEQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"

struct wse__deque_array;

struct wse__deque {
    /* Thieves CAS top; it only ever grows. Own cache line. */
    wse__atomic_i64 top WSE__CACHE_ALIGNED;
    /* Written by the owner only, read by thieves. Own cache line. */
    wse__atomic_i64 bottom WSE__CACHE_ALIGNED;
    /* The current array (owner writes on growth, thieves read). */
    wse__atomic_ptr array; /* struct wse__deque_array *; replaced only by the owner */
    /* Arrays retired by growth, freed by wse__deque_destroy(); owner only. */
    struct wse__deque_array *retired;
} WSE__CACHE_ALIGNED;

/* What wse__deque_steal() found. */
enum wse__deque_steal_result {
    WSE__DEQUE_STOLEN = 0, /* *item holds the stolen item */
    WSE__DEQUE_EMPTY,      /* nothing to steal */
    WSE__DEQUE_ABORT       /* lost a race with another taker; try again */
};

/* Initialise with room for capacity items (rounded up to a power of two, at least
 * 2). 0 or ENOMEM. */
int wse__deque_init(struct wse__deque *dq, size_t capacity);

/* Free the arrays. No other thread may use dq any more. */
void wse__deque_destroy(struct wse__deque *dq);

/* Owner: push item at the bottom. 0, or ENOMEM if the deque was full and could not
 * grow (item not pushed). */
int wse__deque_push(struct wse__deque *dq, void *item);

/* Owner: pop the most recently pushed item, or NULL if empty. */
void *wse__deque_pop(struct wse__deque *dq);

/* Any thread: take the oldest item. */
enum wse__deque_steal_result wse__deque_steal(struct wse__deque *dq, void **item);

/* Owner: how many more items fit without growing (a lower bound: thieves only
 * make room). */
int64_t wse__deque_room(const struct wse__deque *dq);

/* Owner: the most recently pushed item without taking it, or NULL if the deque
 * looks empty (a thief may take it at any time: take it with wse__deque_pop()). */
void *wse__deque_peek(const struct wse__deque *dq);

/* Any thread: is item among the queued items [top, bottom) as read now? Items
 * are compared as pointers and never dereferenced. Only a hint against a
 * concurrent owner (it may have taken it since); exact for the owner. */
bool wse__deque_contains(const struct wse__deque *dq, const void *item);

/* Any thread: a hint of the number of items (may be stale at once). */
int64_t wse__deque_size_hint(const struct wse__deque *dq);

#endif /* WSE__DEQUE_H */

/*
 * The flight recorder: per-thread rings of events, written out as Trace Event
 * Format JSON (the format chrome://tracing and ui.perfetto.dev read).
 *
 * A ring has one writer, the thread that owns it, and wse_trace_write() reads
 * it at any time, recording or not. The writer of event k (slot k & mask):
 *
 *     claimed = k + 1          (relaxed: only the owner writes it)
 *     slot fields = ...        (each a release store)
 *     head = k + 1             (release)
 *
 * The reader takes head with acquire, copies events [head - slots, head) with
 * acquire loads, then loads claimed, and keeps event j only if j + slots >=
 * claimed. Why nothing torn is kept: if any field it copied for event j came
 * from a later event of the same slot (j + slots or later), its acquire load
 * synchronised with that release store, which the owner made after setting
 * claimed to at least j + slots + 1, so the reader's later load of claimed sees
 * that much and drops j. And every field of a kept event is event j's, not an
 * older one's: head >= j + 1 was acquired, and the owner released head after
 * writing event j. The owner never waits and never reads what the reader
 * writes: recording costs a clock read and seven stores.
 *
 * Rings belong to a trace start (its `gen`): workers' rings are allocated by
 * wse__trace_start() (so a start without memory fails with ENOMEM), every other
 * thread's on its first event (without memory its events are lost and the file
 * says how many threads had no ring). A restart of the same size reuses the
 * rings (their `base` hides the old events); a new size makes new rings, and
 * old ones are freed only at destroy, since a thread may still hold one
 * between its check of gen and its store.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsexec.h"

#include "alloc.h"
#include "atomic.h"
#include "sync.h"
#include "trace.h"

/* The most events per ring (wse_trace_start() says EINVAL above). */
#define MAX_SLOTS ((uint64_t)1 << 24)

/* Process-unique trace starts: a cache entry never matches another executor's. */
static wse__atomic_u64 next_gen = {1};

wse__atomic_u32 wse__trace_n_on;
wse__atomic_u32 wse__trace_tsc;

/* Executors that ever traced, for plain threads' waits (wse__trace_plain_wait()).
 * order: before every executor's trace mutex. */
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct wse__trace *registry;

static WSE__TLS struct wse__trace_cache plain_cache;

struct wse__trace_cache *
wse__trace_plain_cache(void)
{
    return &plain_cache;
}

/* A forked child has one thread and no executor it can use: it starts with an
 * empty registry, whatever lock a parent thread held at the fork. */
static void
registry_reset_in_child(void)
{
    pthread_mutex_init(&registry_mutex, NULL);
    registry = NULL;
    wse__atomic_store_u32_relaxed(&wse__trace_n_on, 0); /* relaxed: one thread */
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;

/* A (counter, clock) pair taken once, at the first executor's creation: with
 * one taken later it converts tick durations to ns (wse__trace_ticks_ns()).
 * Written in process_init() only, before any thread can read it. */
static uint64_t base_ticks;
static uint64_t base_ns;

/* A counter reading and the clock at about the same moment (the clock read
 * between two counter reads not far apart, paired with their midpoint). */
static void
tick_pair(uint64_t *ticks, uint64_t *ns)
{
    uint64_t t0;
    uint64_t t1;
    int i;

    for (i = 0;; i++) {
        t0 = wse__trace_ticks();
        *ns = wse__trace_now();
        t1 = wse__trace_ticks();
        if (t1 - t0 < 10000 || i == 8)
            break; /* (interrupted in between: take another) */
    }
    *ticks = t0 + (t1 - t0) / 2;
}

/* ns per tick between two (ticks, ns) pairs: 1 where ticks are ns already (no
 * invariant counter), and where the pairs are no span to measure. */
static double
ns_per_tick(uint64_t ticks0, uint64_t ns0, uint64_t ticks1, uint64_t ns1)
{
    /* relaxed: see trace.h. */
    if (wse__atomic_load_u32_relaxed(&wse__trace_tsc) == 0 || ticks1 <= ticks0 || ns1 <= ns0)
        return 1.0;
    return (double)(ns1 - ns0) / (double)(ticks1 - ticks0);
}

/* Once per process: the fork handler, and whether the time-stamp counter is
 * invariant (CPUID 0x80000007, EDX bit 8: it runs at one rate in every power
 * state, and the kernel synchronises it across CPUs). */
static void
process_init(void)
{
    (void)pthread_atfork(NULL, NULL, registry_reset_in_child);
#if defined(__x86_64__)
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    if (__get_cpuid(0x80000007U, &a, &b, &c, &d) && (d & (1U << 8)) != 0)
        wse__atomic_store_u32_relaxed(&wse__trace_tsc, 1); /* relaxed: see trace.h */
#endif
    tick_pair(&base_ticks, &base_ns);
}

uint64_t
wse__trace_ticks_ns(uint64_t ticks)
{
    uint64_t t1;
    uint64_t n1;

    tick_pair(&t1, &n1);
    return (uint64_t)((double)ticks * ns_per_tick(base_ticks, base_ns, t1, n1));
}

int
wse__trace_init(struct wse__trace *t)
{
    memset(t, 0, sizeof *t);
    (void)pthread_once(&process_once, process_init);
    return pthread_mutex_init(&t->mutex, NULL);
}

void
wse__trace_free_inherited(struct wse__trace *t)
{
    struct wse__trace_ring *r;
    struct wse__trace_ring *next;

    /* relaxed: every recording thread has stopped (the caller's contract). */
    for (r = wse__atomic_load_ptr_relaxed(&t->rings); r != NULL; r = next) {
        next = r->next;
        wse__alloc_free(r);
    }
}

void
wse__trace_destroy(struct wse__trace *t)
{
    wse__trace_stop(t);
    wse__trace_unregister(t);
    wse__trace_free_inherited(t);
    pthread_mutex_destroy(&t->mutex);
}

static struct wse__trace_ring *
ring_new(uint64_t slots, uint64_t gen, unsigned slot, bool spare)
{
    struct wse__trace_ring *r =
        wse__alloc_aligned_uninit(WSE__CACHE_LINE, sizeof *r + slots * sizeof r->ev[0]);

    if (r == NULL)
        return NULL;
    /* Before publication: plain initialisation. The events are written before
     * head covers them, so they need none. */
    wse__atomic_init_u64(&r->claimed, 0);
    wse__atomic_init_u64(&r->head, 0);
    wse__atomic_init_u64(&r->base, 0);
    wse__atomic_init_u32(&r->tid, 0);
    r->next = NULL;
    r->gen = gen;
    r->mask = slots - 1;
    r->slot = slot;
    r->spare = spare;
    return r;
}

/* Push r on t's list; under t->mutex. */
static void
ring_push(struct wse__trace *t, struct wse__trace_ring *r)
{
    /* relaxed: pushes are under the mutex. */
    r->next = wse__atomic_load_ptr_relaxed(&t->rings);
    /* release: pairs with the acquire load in the writer's walk (under the same
     * mutex today; the order keeps the list safe to walk without it). */
    wse__atomic_store_ptr_release(&t->rings, r);
}

static void
set_on(struct wse__trace *t, bool on)
{
    /* relaxed, all three: on and the count are hints (wse__trace_on()); start and
     * stop are serialised by t->mutex. */
    if ((wse__atomic_load_u32_relaxed(&t->on) != 0) == on)
        return;
    wse__atomic_store_u32_relaxed(&t->on, on ? 1U : 0U);
    if (on)
        (void)wse__atomic_faa_u32_acq_rel(&wse__trace_n_on, 1);
    else
        (void)wse__atomic_faa_u32_acq_rel(&wse__trace_n_on, UINT32_MAX);
}

/* The (ticks, ns) pair of a start; under t->mutex. */
static void
calibrate(struct wse__trace *t)
{
    tick_pair(&t->ticks0, &t->ns0);
}

int
wse__trace_start(struct wse__trace *t, size_t events, unsigned n_workers)
{
    struct wse__trace_ring *fresh = NULL;
    struct wse__trace_ring *r;
    uint64_t slots = 1;
    uint64_t gen;
    unsigned i;

    while (slots < events)
        slots <<= 1;
    wse__sync_lock(&t->mutex);
    /* relaxed: gen is written under this mutex only. */
    gen = wse__atomic_load_u64_relaxed(&t->gen);
    if (gen != 0 && slots == t->slots) {
        /* Same size: the same rings, their old events hidden. */
        for (r = wse__atomic_load_ptr_relaxed(&t->rings); r != NULL; r = r->next) {
            /* relaxed, both: base only bounds what a later write takes; the
             * owner does not read it. */
            if (r->gen == gen)
                wse__atomic_store_u64_relaxed(&r->base, wse__atomic_load_u64_acquire(&r->head));
        }
        calibrate(t);
        set_on(t, true);
        wse__sync_unlock(&t->mutex);
        return 0;
    }
    /* acq_rel: only uniqueness matters. */
    gen = wse__atomic_faa_u64_acq_rel(&next_gen, 1);
    for (i = 0; i < n_workers; i++) {
        r = ring_new(slots, gen, i, false);
        if (r == NULL) {
            while (fresh != NULL) {
                r = fresh->next;
                wse__alloc_free(fresh);
                fresh = r;
            }
            wse__sync_unlock(&t->mutex);
            return ENOMEM;
        }
        r->next = fresh;
        fresh = r;
    }
    while (fresh != NULL) {
        r = fresh->next;
        ring_push(t, fresh);
        fresh = r;
    }
    t->slots = slots;
    calibrate(t);
    /* release: pairs with the acquire load in wse__trace_ring(): a thread that
     * sees the new gen finds its ring on the list. */
    wse__atomic_store_u64_release(&t->gen, gen);
    set_on(t, true);
    wse__sync_unlock(&t->mutex);
    return 0;
}

void
wse__trace_set_tid(struct wse__trace *t, unsigned slot, uint32_t tid)
{
    struct wse__trace_ring *r;
    uint32_t none = 0;

    wse__sync_lock(&t->mutex);
    /* relaxed: gen and the list are written under this mutex. */
    for (r = wse__atomic_load_ptr_relaxed(&t->rings); r != NULL; r = r->next) {
        if (r->gen == wse__atomic_load_u64_relaxed(&t->gen) && r->slot == slot && !r->spare) {
            /* acq_rel: only set it if the owner has not attached yet. */
            (void)wse__atomic_cas_u32_acq_rel(&r->tid, &none, tid);
            break;
        }
    }
    wse__sync_unlock(&t->mutex);
}

void
wse__trace_stop(struct wse__trace *t)
{
    wse__sync_lock(&t->mutex);
    set_on(t, false);
    wse__sync_unlock(&t->mutex);
}

struct wse__trace_ring *
wse__trace_ring_slow(struct wse__trace *t, unsigned slot, bool spare,
                     struct wse__trace_cache *cache)
{
    struct wse__trace_ring *r;
    uint32_t tid = (uint32_t)gettid();
    uint64_t gen;

    wse__sync_lock(&t->mutex);
    /* relaxed: written under this mutex. */
    gen = wse__atomic_load_u64_relaxed(&t->gen);
    for (r = wse__atomic_load_ptr_relaxed(&t->rings); r != NULL; r = r->next) {
        if (r->gen != gen)
            continue;
        if (slot == WSE__TRACE_PLAIN
                ? r->slot == WSE__TRACE_PLAIN && wse__atomic_load_u32_relaxed(&r->tid) == tid
                : r->slot == slot && r->spare == spare)
            break;
    }
    if (r == NULL && gen != 0) {
        r = ring_new(t->slots, gen, slot, spare);
        if (r != NULL)
            ring_push(t, r);
        else
            (void)wse__atomic_faa_u64_acq_rel(&t->dropped, 1);
    }
    if (r != NULL) {
        /* relaxed: read by the writer under this mutex. A slot reused by
         * another spare thread records that thread's id from now on. */
        wse__atomic_store_u32_relaxed(&r->tid, tid);
    }
    wse__sync_unlock(&t->mutex);
    /* A ring that could not be allocated stays NULL for this start: no retry
     * per event. */
    cache->gen = gen;
    cache->ring = r;
    return r;
}

void
wse__trace_put(struct wse__trace_ring *r, uint64_t ts, uint64_t dur, uint64_t a, uint64_t b,
               uint64_t c)
{
    struct wse__trace_event *e;
    uint64_t k;

    if (r == NULL)
        return;
    /* relaxed: only this thread writes claimed and head. */
    k = wse__atomic_load_u64_relaxed(&r->claimed);
    wse__atomic_store_u64_relaxed(&r->claimed, k + 1);
    e = &r->ev[k & r->mask];
    /* release, each: pairs with the reader's acquire load of the field (see the
     * top of this file): a reader that sees it also sees claimed = k + 1. */
    wse__atomic_store_u64_release(&e->ts, ts);
    wse__atomic_store_u64_release(&e->dur, dur);
    wse__atomic_store_u64_release(&e->a, a);
    wse__atomic_store_u64_release(&e->b, b);
    wse__atomic_store_u64_release(&e->c, c);
    /* release: pairs with the reader's acquire load of head: event k is whole. */
    wse__atomic_store_u64_release(&r->head, k + 1);
}

/* ------------------------------------------------------------------------- */
/* Plain threads' waits                                                      */

void
wse__trace_register(struct wse__trace *t)
{
    wse__sync_lock(&registry_mutex);
    if (!t->registered) {
        t->registered = true;
        t->reg_next = registry;
        registry = t;
    }
    wse__sync_unlock(&registry_mutex);
}

void
wse__trace_unregister(struct wse__trace *t)
{
    struct wse__trace **p;

    wse__sync_lock(&registry_mutex);
    for (p = &registry; *p != NULL; p = &(*p)->reg_next) {
        if (*p == t) {
            *p = t->reg_next;
            break;
        }
    }
    t->registered = false;
    wse__sync_unlock(&registry_mutex);
}

void
wse__trace_plain_wait(uint64_t ts, uint64_t dur, uint64_t a, uint64_t b, uint64_t c)
{
    struct wse__trace *t;

    /* Under the registry's lock: no executor on it can be freed meanwhile. */
    wse__sync_lock(&registry_mutex);
    for (t = registry; t != NULL; t = t->reg_next) {
        if (wse__trace_on(t))
            wse__trace_put(wse__trace_ring(t, WSE__TRACE_PLAIN, false, &plain_cache), ts, dur, a, b,
                           c);
    }
    wse__sync_unlock(&registry_mutex);
}

/* ------------------------------------------------------------------------- */
/* Writing the file                                                          */

/* Function addresses to names, resolved once each (open addressing). */
struct names {
    uint64_t *key;
    char **name;
    size_t cap; /* a power of two */
    size_t n;
};

static void
names_free(struct names *m)
{
    size_t i;

    for (i = 0; m->name != NULL && i < m->cap; i++)
        wse__alloc_free(m->name[i]);
    wse__alloc_free(m->key);
    wse__alloc_free(m->name);
}

static int
names_init(struct names *m, size_t cap)
{
    m->cap = cap;
    m->n = 0;
    m->key = wse__alloc_array(cap, sizeof m->key[0]);
    m->name = wse__alloc_array(cap, sizeof m->name[0]);
    if (m->key == NULL || m->name == NULL) {
        wse__alloc_free(m->key);
        wse__alloc_free(m->name);
        m->key = NULL;
        m->name = NULL;
        return ENOMEM;
    }
    return 0;
}

/* Append src to buf (at *j, size bytes), keeping only characters that need no
 * escaping in a JSON string. */
static void
append_clean(char *buf, size_t size, size_t *j, const char *src)
{
    size_t i;

    for (i = 0; src[i] != '\0' && *j + 1 < size; i++) {
        unsigned char ch = (unsigned char)src[i];
        buf[(*j)++] = (char)((ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? ch : '?');
    }
    buf[*j] = '\0';
}

/* The address an event stored as a number, as a pointer again (for dladdr). */
static void *
as_pointer(uint64_t v)
{
    uintptr_t u = (uintptr_t)v;
    void *p;

    memcpy(&p, &u, sizeof p);
    return p;
}

/* The JSON string body for fn: its symbol where the binary exports one
 * (dladdr), else "module+0xoffset" (addr2line finds it), else its address.
 * NULL when out of memory. */
static char *
resolve(uint64_t fn)
{
    Dl_info info;
    char buf[192];
    char *copy;
    const char *base;
    size_t j = 0;

    buf[0] = '\0';
    if (fn == 0) {
        append_clean(buf, sizeof buf, &j, "loop runner");
    } else if (dladdr(as_pointer(fn), &info) == 0) {
        (void)snprintf(buf, sizeof buf, "0x%" PRIx64, fn);
    } else if (info.dli_sname != NULL && info.dli_saddr == as_pointer(fn)) {
        append_clean(buf, sizeof buf, &j, info.dli_sname);
    } else {
        base = info.dli_fname != NULL ? strrchr(info.dli_fname, '/') : NULL;
        base = base != NULL ? base + 1 : info.dli_fname != NULL ? info.dli_fname : "";
        append_clean(buf, sizeof buf, &j, base);
        (void)snprintf(buf + j, sizeof buf - j, "+0x%" PRIx64,
                       fn - (uint64_t)(uintptr_t)info.dli_fbase);
    }
    copy = wse__alloc(strlen(buf) + 1);
    if (copy != NULL)
        memcpy(copy, buf, strlen(buf) + 1);
    return copy;
}

static const char *
names_get(struct names *m, uint64_t fn)
{
    size_t i;

    if (2 * (m->n + 1) > m->cap) {
        struct names bigger;
        if (names_init(&bigger, 2 * m->cap) != 0)
            return NULL;
        for (i = 0; i < m->cap; i++) {
            if (m->name[i] == NULL)
                continue;
            size_t j = (size_t)(m->key[i] * 0x9e3779b97f4a7c15U >> 32) & (bigger.cap - 1);
            while (bigger.name[j] != NULL)
                j = (j + 1) & (bigger.cap - 1);
            bigger.key[j] = m->key[i];
            bigger.name[j] = m->name[i];
            m->name[i] = NULL;
        }
        bigger.n = m->n;
        names_free(m);
        *m = bigger;
    }
    i = (size_t)(fn * 0x9e3779b97f4a7c15U >> 32) & (m->cap - 1);
    while (m->name[i] != NULL) {
        if (m->key[i] == fn)
            return m->name[i];
        i = (i + 1) & (m->cap - 1);
    }
    m->name[i] = resolve(fn);
    if (m->name[i] == NULL)
        return NULL;
    m->key[i] = fn;
    m->n++;
    return m->name[i];
}

/* Microseconds with three decimals, from ns. */
#define US_FMT "%" PRIu64 ".%03u"
#define US(ns) (ns) / 1000U, (unsigned)((ns) % 1000U)

static const char *
mode_name(unsigned mode)
{
    switch (mode) {
    case WSE_FIRST_COMPLETED:
        return "FIRST_COMPLETED";
    case WSE_FIRST_EXCEPTION:
        return "FIRST_EXCEPTION";
    default:
        return "ALL_COMPLETED";
    }
}

static const char *
outcome_name(unsigned rc, char *buf, size_t size)
{
    switch (rc) {
    case 0:
        return "0";
    case ETIMEDOUT:
        return "ETIMEDOUT";
    case EDEADLK:
        return "EDEADLK";
    case EAGAIN:
        return "EAGAIN";
    case EINVAL:
        return "EINVAL";
    case ENOMEM:
        return "ENOMEM";
    case ECANCELED:
        return "ECANCELED";
    default:
        (void)snprintf(buf, size, "%u", rc);
        return buf;
    }
}

static const char *const from_names[] = {"own", "stolen", "injected", "claimed"};

/* From ticks to ns of CLOCK_MONOTONIC: the line through the (ticks, ns) pairs
 * of the start and of the write. */
struct timebase {
    uint64_t ticks0;
    uint64_t ns0;
    double scale; /* ns per tick */
};

static uint64_t
ticks_to_ns(const struct timebase *tb, uint64_t ticks)
{
    double d = (double)(int64_t)(ticks - tb->ticks0) * tb->scale;

    return d <= -(double)tb->ns0 ? 0 : (uint64_t)((double)tb->ns0 + d);
}

/* Where a task ended, for the arrows from a completion to the wait it woke. */
struct task_end {
    uint64_t id; /* the future (first: first_of_future()) */
    uint64_t start;
    uint64_t end; /* ns */
    uint32_t tid;
};

/*
 * A submit of the file, for its arrow to the run it led to. A future's address
 * comes back once it is freed, so the file does not use it as the arrow's id
 * (viewers pair "s" and "f" by id, and some mispair a reused one): each submit
 * that a run of the file pairs with gets its own id, SUBMIT_FLOW + its index
 * here. Its run is the one of the same future whose end is the first at or
 * after it: the next submit of that address comes after that run completed.
 */
struct submit_at {
    uint64_t id; /* the future (first: first_of_future()) */
    uint64_t ts; /* ns */
    uint64_t run_end;
    bool paired; /* a run of the file (ending at run_end) is its */
};

_Static_assert(offsetof(struct task_end, id) == 0 && offsetof(struct submit_at, id) == 0,
               "first_of_future() reads the future first");

#define SUBMIT_FLOW ((uint64_t)1 << 61) /* apart from the wake arrows' 2^62 up */

/* What writing one file needs. */
struct writer {
    FILE *out;
    struct names names;
    const struct timebase *tb;
    int pid;
    bool first;            /* no event written yet */
    struct task_end *ends; /* every task event of the file, by id then end */
    size_t n_ends;
    struct submit_at *subs; /* every submit event of the file, by id then ts */
    size_t n_subs;
    uint64_t next_wake; /* ids of wake arrows: from 2^62 up */
};

/*
 * The first index of an array of n elements of `size` bytes, sorted by the
 * future each begins with (struct task_end and struct submit_at: `id` is their
 * first member), whose future is id or above.
 */
static size_t
first_of_future(const void *base, size_t n, size_t size, uint64_t id)
{
    size_t lo = 0;
    size_t hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (*(const uint64_t *)(const void *)((const char *)base + mid * size) < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int
submit_at_cmp(const void *x, const void *y)
{
    const struct submit_at *a = x;
    const struct submit_at *b = y;

    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

/* The index of the latest submit of future id at or before `by` (ns), or
 * SIZE_MAX. */
static size_t
latest_submit(const struct writer *wr, uint64_t id, uint64_t by)
{
    size_t lo = first_of_future(wr->subs, wr->n_subs, sizeof wr->subs[0], id);
    size_t best = SIZE_MAX;

    for (; lo < wr->n_subs && wr->subs[lo].id == id && wr->subs[lo].ts <= by; lo++)
        best = lo;
    return best;
}

/* Pair each run (wr->ends) with the latest submit of its future before its
 * end, unless an earlier run took that one (events lost to a ring's wrap). */
static void
pair_submits(struct writer *wr)
{
    size_t i;
    size_t k;

    for (i = 0; i < wr->n_ends; i++) {
        k = latest_submit(wr, wr->ends[i].id, wr->ends[i].end);
        if (k != SIZE_MAX && !wr->subs[k].paired) {
            wr->subs[k].paired = true;
            wr->subs[k].run_end = wr->ends[i].end;
        }
    }
}

static int
task_end_cmp(const void *x, const void *y)
{
    const struct task_end *a = x;
    const struct task_end *b = y;

    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->end < b->end ? -1 : a->end > b->end;
}

/* The latest run of future id that ended by `by` (ns, 1 us of slack), or NULL. */
static const struct task_end *
find_end(const struct writer *wr, uint64_t id, uint64_t by)
{
    size_t lo = first_of_future(wr->ends, wr->n_ends, sizeof wr->ends[0], id);
    const struct task_end *best = NULL;

    for (; lo < wr->n_ends && wr->ends[lo].id == id; lo++) {
        if (wr->ends[lo].end <= by + 1000)
            best = &wr->ends[lo];
    }
    return best;
}

/* An arrow from the end of the task that completed (inside its slice) to the
 * end of the wait it woke (inside that slice). */
static void
write_wake(struct writer *wr, const struct task_end *from, uint32_t tid, uint64_t wait_ts,
           uint64_t wait_end)
{
    uint64_t s_ts = from->end > from->start ? from->end - 1 : from->end;
    uint64_t f_ts = wait_end > wait_ts ? wait_end - 1 : wait_end;
    uint64_t id = ((uint64_t)1 << 62) + wr->next_wake++;

    (void)fprintf(
        wr->out,
        ",\n{\"name\":\"wake\",\"cat\":\"flow\",\"ph\":\"s\",\"id\":\"0x%" PRIx64
        "\",\"pid\":%d,\"tid\":%" PRIu32 ",\"ts\":" US_FMT "},\n"
        "{\"name\":\"wake\",\"cat\":\"flow\",\"ph\":\"f\",\"bp\":\"e\",\"id\":\"0x%" PRIx64
        "\",\"pid\":%d,\"tid\":%" PRIu32 ",\"ts\":" US_FMT "}",
        id, wr->pid, from->tid, US(s_ts), id, wr->pid, tid, US(f_ts));
}

/* One event as JSON (and the arrows or steal marker that go with it). */
static int
write_event(struct writer *wr, uint32_t tid, const struct wse__trace_event *e)
{
    size_t k;
    FILE *out = wr->out;
    int pid = wr->pid;
    uint64_t c = e->c.raw_;
    unsigned kind = (unsigned)(c & 0xffU);
    /* Both ends through the same monotonic map: slices that nest in ticks
     * nest in ns. */
    uint64_t ts = ticks_to_ns(wr->tb, e->ts.raw_);
    uint64_t end = ticks_to_ns(wr->tb, e->ts.raw_ + e->dur.raw_);
    uint64_t dur = end > ts ? end - ts : 0;
    unsigned flags = (unsigned)(c >> 8 & 0xffU);
    uint64_t arg = c >> 16;
    const char *sep = wr->first ? "" : ",\n";
    const struct task_end *from;
    const char *name;
    char buf[24];

    if (kind < WSE__TRACE_TASK || kind > WSE__TRACE_SUBMIT)
        return 0;
    wr->first = false;
    switch (kind) {
    case WSE__TRACE_TASK:
    case WSE__TRACE_CHUNK:
        name = names_get(&wr->names, e->a.raw_);
        if (name == NULL)
            return ENOMEM;
        if (kind == WSE__TRACE_TASK) {
            (void)fprintf(
                out,
                "%s{\"name\":\"%s\",\"cat\":\"task\",\"ph\":\"X\",\"pid\":%d,\"tid\":%" PRIu32
                ",\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"args\":{\"from\":\"%s\",\"helped\":%s}}",
                sep, name, pid, tid, US(ts), US(dur), from_names[flags & WSE__TRACE_FROM_MASK],
                (flags & WSE__TRACE_HELPED) ? "true" : "false");
            /* The end of the arrow from its submit, if the file holds it. */
            k = latest_submit(wr, e->b.raw_, end);
            if (k != SIZE_MAX && wr->subs[k].paired && wr->subs[k].run_end == end)
                (void)fprintf(out,
                              ",\n{\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"f\",\"bp\":\"e\","
                              "\"id\":\"0x%" PRIx64 "\",\"pid\":%d,\"tid\":%" PRIu32
                              ",\"ts\":" US_FMT "}",
                              SUBMIT_FLOW + k, pid, tid, US(ts));
            if ((flags & WSE__TRACE_FROM_MASK) == WSE__TRACE_STOLEN)
                (void)fprintf(
                    out,
                    ",\n{\"name\":\"steal\",\"cat\":\"steal\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,"
                    "\"tid\":%" PRIu32 ",\"ts\":" US_FMT "}",
                    pid, tid, US(ts));
        } else {
            (void)fprintf(
                out,
                "%s{\"name\":\"%s\",\"cat\":\"chunk\",\"ph\":\"X\",\"pid\":%d,\"tid\":%" PRIu32
                ",\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"args\":{\"begin\":%" PRIu64
                ",\"end\":%" PRIu64 ",\"helped\":%s}}",
                sep, name, pid, tid, US(ts), US(dur), e->b.raw_, e->b.raw_ + arg,
                (flags & WSE__TRACE_HELPED) ? "true" : "false");
        }
        return 0;
    case WSE__TRACE_WAIT:
        (void)fprintf(
            out,
            "%s{\"name\":\"wait\",\"cat\":\"wait\",\"ph\":\"X\",\"pid\":%d,\"tid\":%" PRIu32
            ",\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"args\":{\"mode\":\"%s\",\"futures\":%" PRIu64
            ",\"outcome\":\"%s\",\"timeout_s\":",
            sep, pid, tid, US(ts), US(dur), mode_name((unsigned)(arg & 0xffU)), arg >> 24,
            outcome_name((unsigned)(arg >> 8 & 0xffffU), buf, sizeof buf));
        if (e->a.raw_ == UINT64_MAX)
            (void)fprintf(out, "null}}");
        else
            (void)fprintf(out, "%.9g}}", (double)e->a.raw_ * 1e-9);
        /* Woken by a completion the trace holds: an arrow from it. */
        from = e->b.raw_ != 0 ? find_end(wr, e->b.raw_, end) : NULL;
        if (from != NULL && from->end >= ts)
            write_wake(wr, from, tid, ts, end);
        return 0;
    case WSE__TRACE_SPIN:
    case WSE__TRACE_PARK:
        name = kind == WSE__TRACE_SPIN ? "spin" : "park";
        (void)fprintf(out,
                      "%s{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%" PRIu32
                      ",\"ts\":" US_FMT ",\"dur\":" US_FMT ",\"args\":{}}",
                      sep, name, name, pid, tid, US(ts), US(dur));
        return 0;
    case WSE__TRACE_SUBMIT:
        name = names_get(&wr->names, e->a.raw_);
        if (name == NULL)
            return ENOMEM;
        (void)fprintf(out,
                      "%s{\"name\":\"submit\",\"cat\":\"submit\",\"ph\":\"X\",\"pid\":%d,"
                      "\"tid\":%" PRIu32 ",\"ts\":" US_FMT ",\"dur\":0,\"args\":{\"fn\":\"%s\"}}",
                      sep, pid, tid, US(ts), name);
        /* The start of the arrow to its run, if the file holds that. */
        k = latest_submit(wr, e->b.raw_, ts);
        if (k != SIZE_MAX && wr->subs[k].ts == ts && wr->subs[k].paired)
            (void)fprintf(
                out,
                ",\n{\"name\":\"submit\",\"cat\":\"flow\",\"ph\":\"s\",\"id\":\"0x%" PRIx64
                "\",\"pid\":%d,\"tid\":%" PRIu32 ",\"ts\":" US_FMT "}",
                SUBMIT_FLOW + k, pid, tid, US(ts));
        return 0;
    default:
        return 0;
    }
}

/* Copy what r holds of its current start into buf (r->mask + 1 events): the
 * number of events kept, from the oldest. */
static size_t
snapshot(const struct wse__trace_ring *r, struct wse__trace_event *buf)
{
    uint64_t slots = r->mask + 1;
    /* acquire: pairs with the owner's release store of head (top of file). */
    uint64_t head = wse__atomic_load_u64_acquire(&r->head);
    /* relaxed: base only bounds the range. */
    uint64_t lo = wse__atomic_load_u64_relaxed(&r->base);
    uint64_t claimed;
    uint64_t j;
    size_t n = 0;

    if (head > slots && head - slots > lo)
        lo = head - slots;
    for (j = lo; j < head; j++) {
        const struct wse__trace_event *e = &r->ev[j & r->mask];
        /* acquire, each: pairs with the owner's release stores (top of file). */
        buf[j - lo].ts.raw_ = wse__atomic_load_u64_acquire(&e->ts);
        buf[j - lo].dur.raw_ = wse__atomic_load_u64_acquire(&e->dur);
        buf[j - lo].a.raw_ = wse__atomic_load_u64_acquire(&e->a);
        buf[j - lo].b.raw_ = wse__atomic_load_u64_acquire(&e->b);
        buf[j - lo].c.raw_ = wse__atomic_load_u64_acquire(&e->c);
    }
    /* acquire: after the copies (see the top of the file). */
    claimed = wse__atomic_load_u64_acquire(&r->claimed);
    /* Drop the events whose slots were being rewritten meanwhile. */
    for (j = lo; j < head; j++) {
        if (j + slots >= claimed)
            break;
    }
    n = (size_t)(head - j);
    if (j > lo)
        memmove(buf, buf + (j - lo), n * sizeof buf[0]);
    return n;
}

/* The thread's name for its track. */
static void
track_name(const struct wse__trace_ring *r, uint32_t tid, char *buf, size_t size)
{
    if (r->slot == WSE__TRACE_PLAIN)
        (void)snprintf(buf, size, "thread %" PRIu32, tid);
    else
        (void)snprintf(buf, size, "%s %u", r->spare ? "spare" : "worker", r->slot);
}

int
wse__trace_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    size_t i;

    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long r;

        if (v == NULL || *v == '\0')
            continue;
        r = strtol(v, &end, 10);
        if (*end == '\0' && r >= 0 && r <= INT32_MAX)
            return (int)r;
    }
    return -1;
}

/* Is r a ring of start gen that recorded? Its thread's id in *tid. */
static bool
ring_of(const struct wse__trace_ring *r, uint64_t gen, uint32_t *tid)
{
    /* relaxed: written under the trace's mutex before this ring's first event,
     * which the snapshot's acquire of head then orders. */
    *tid = wse__atomic_load_u32_relaxed(&r->tid);
    return r->gen == gen && *tid != 0;
}

/* One ring's events as copied for the file. */
struct snap {
    const struct wse__trace_ring *r;
    uint32_t tid;
    size_t n;
    struct wse__trace_event *ev;
};

/* Copy every ring of start gen that recorded (one copy each, so that the wake
 * arrows and the slices they join come from the same copy): *snaps, *n_snaps.
 * 0 or ENOMEM (nothing left allocated). */
static int
take_snaps(struct wse__trace *t, uint64_t gen, uint64_t slots, struct snap **snaps, size_t *n_snaps)
{
    const struct wse__trace_ring *r;
    uint32_t tid;
    size_t n = 0;
    size_t k = 0;

    for (r = wse__atomic_load_ptr_acquire(&t->rings); r != NULL; r = r->next)
        n += ring_of(r, gen, &tid) ? 1 : 0;
    *snaps = wse__alloc_array(n != 0 ? n : 1, sizeof(**snaps));
    if (*snaps == NULL)
        return ENOMEM;
    for (r = wse__atomic_load_ptr_acquire(&t->rings); r != NULL && k < n; r = r->next) {
        if (!ring_of(r, gen, &tid))
            continue;
        (*snaps)[k].ev = wse__alloc_array(slots, sizeof(struct wse__trace_event));
        if ((*snaps)[k].ev == NULL) {
            while (k > 0)
                wse__alloc_free((*snaps)[--k].ev);
            wse__alloc_free(*snaps);
            *snaps = NULL; /* nothing left for the caller to free */
            return ENOMEM;
        }
        (*snaps)[k].r = r;
        (*snaps)[k].tid = tid;
        (*snaps)[k].n = snapshot(r, (*snaps)[k].ev);
        k++;
    }
    *n_snaps = k;
    return 0;
}

static void
free_snaps(struct snap *snaps, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        wse__alloc_free(snaps[i].ev);
    wse__alloc_free(snaps);
}

/* Every task and submit event of the copies, sorted, for the arrows: into
 * wr->ends and wr->subs, each run paired with its submit. 0 or ENOMEM. */
static int
collect_ends(struct writer *wr, const struct snap *snaps, size_t n_snaps)
{
    size_t cap = 0;
    size_t i;
    size_t j;

    for (i = 0; i < n_snaps; i++)
        cap += snaps[i].n;
    wr->ends = wse__alloc_array(cap != 0 ? cap : 1, sizeof wr->ends[0]);
    wr->subs = wse__alloc_array(cap != 0 ? cap : 1, sizeof wr->subs[0]);
    if (wr->ends == NULL || wr->subs == NULL)
        return ENOMEM;
    for (i = 0; i < n_snaps; i++) {
        for (j = 0; j < snaps[i].n; j++) {
            const struct wse__trace_event *e = &snaps[i].ev[j];
            if ((e->c.raw_ & 0xffU) == WSE__TRACE_SUBMIT)
                wr->subs[wr->n_subs++] = (struct submit_at){
                    .id = e->b.raw_,
                    .ts = ticks_to_ns(wr->tb, e->ts.raw_),
                };
            if ((e->c.raw_ & 0xffU) != WSE__TRACE_TASK)
                continue;
            wr->ends[wr->n_ends++] = (struct task_end){
                .id = e->b.raw_,
                .start = ticks_to_ns(wr->tb, e->ts.raw_),
                .end = ticks_to_ns(wr->tb, e->ts.raw_ + e->dur.raw_),
                .tid = snaps[i].tid,
            };
        }
    }
    qsort(wr->ends, wr->n_ends, sizeof wr->ends[0], task_end_cmp);
    qsort(wr->subs, wr->n_subs, sizeof wr->subs[0], submit_at_cmp);
    pair_submits(wr);
    return 0;
}

/* Write the rings of start gen (slots events each). The list is only ever
 * pushed to, and rings live until destroy: no lock is needed to walk it. */
static int
write_all(struct wse__trace *t, uint64_t gen, uint64_t slots, const struct timebase *tb, FILE *out)
{
    struct writer wr = {.out = out, .tb = tb, .pid = (int)getpid(), .first = true};
    struct snap *snaps = NULL;
    size_t n_snaps = 0;
    char name[48];
    unsigned plain = 0;
    int rank = wse__trace_rank();
    size_t i;
    size_t j;
    int rc;

    rc = names_init(&wr.names, 64);
    if (rc == 0)
        rc = take_snaps(t, gen, slots, &snaps, &n_snaps);
    if (rc == 0)
        rc = collect_ends(&wr, snaps, n_snaps);
    if (rc != 0) {
        wse__alloc_free(wr.ends);
        wse__alloc_free(wr.subs);
        if (snaps != NULL)
            free_snaps(snaps, n_snaps);
        names_free(&wr.names); /* (after a failed init: nothing to free) */
        return rc;
    }
    (void)fprintf(out,
                  "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"library\":\"wsexec %s\",\"pid\":%d,"
                  "\"events_per_thread\":%" PRIu64 ",\"threads_without_ring\":%" PRIu64,
                  wse_version_string(), wr.pid, slots, wse__atomic_load_u64_relaxed(&t->dropped));
    if (rank >= 0)
        (void)fprintf(out, ",\"rank\":%d", rank);
    (void)fprintf(out,
                  "},\n\"traceEvents\":[\n"
                  "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":"
                  "\"wsexec (pid %d)\"}}",
                  wr.pid, wr.pid);
    wr.first = false;
    for (i = 0; i < n_snaps && rc == 0; i++) {
        const struct wse__trace_ring *r = snaps[i].r;
        uint32_t tid = snaps[i].tid;

        track_name(r, tid, name, sizeof name);
        (void)fprintf(out,
                      ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRIu32
                      ",\"args\":{\"name\":\"%s\"}},\n"
                      "{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRIu32
                      ",\"args\":{\"sort_index\":%u}}",
                      wr.pid, tid, name, wr.pid, tid,
                      r->slot == WSE__TRACE_PLAIN ? 100000U + plain++
                                                  : (r->spare ? 1000U : 0U) + r->slot);
        for (j = 0; j < snaps[i].n && rc == 0; j++)
            rc = write_event(&wr, tid, &snaps[i].ev[j]);
    }
    (void)fprintf(out, "\n]}\n");
    wse__alloc_free(wr.ends);
    wse__alloc_free(wr.subs);
    free_snaps(snaps, n_snaps);
    names_free(&wr.names);
    return rc;
}

int
wse__trace_write(struct wse__trace *t, const char *path)
{
    struct timebase tb;
    FILE *out;
    uint64_t gen;
    uint64_t slots;
    uint64_t ticks1;
    uint64_t ns1;
    int rc;

    /* The start to write; then no lock (a worker's first event may need it). */
    wse__sync_lock(&t->mutex);
    /* relaxed: written under this mutex. */
    gen = wse__atomic_load_u64_relaxed(&t->gen);
    slots = t->slots;
    tb.ticks0 = t->ticks0;
    tb.ns0 = t->ns0;
    wse__sync_unlock(&t->mutex);
    if (gen == 0)
        return EINVAL;
    tick_pair(&ticks1, &ns1);
    tb.scale = ns_per_tick(tb.ticks0, tb.ns0, ticks1, ns1);
    out = fopen(path, "w");
    if (out == NULL)
        return errno != 0 ? errno : EIO;
    rc = write_all(t, gen, slots, &tb, out);
    if (rc == 0 && ferror(out))
        rc = errno != 0 ? errno : EIO;
    if (fclose(out) != 0 && rc == 0)
        rc = errno != 0 ? errno : EIO;
    if (rc != 0)
        (void)remove(path);
    return rc;
}

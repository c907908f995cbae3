/*
 * Chaos scheduling for tests: in a WSE_CHAOS build, every operation of
 * the atomics layer calls wse__chaos_point(), which, at seeded random, yields the
 * CPU or spins for a short while. Rare interleavings of the deque, the future
 * state machine and the park/wake protocol become common, and a failing seed can
 * be replayed: the seed comes from the environment variable WSE_CHAOS_SEED (else
 * from the clock) and wse__chaos_seed() reports it.
 */
#include "atomic.h"
#include "clock.h"

#include <sched.h>
#include <stdlib.h>

static wse__atomic_u32 chaos_seed_ready; /* 0, 1 (being set), 2 (set) */
static wse__atomic_i64 chaos_seed;       /* valid once ready == 2 */
static wse__atomic_u32 chaos_threads;    /* threads seen, mixed into seeds */
static WSE__TLS uint64_t chaos_state;

int64_t
wse__chaos_seed(void)
{
    uint32_t expected = 0;
    const char *env;
    int64_t seed;

    if (wse__atomic_load_u32_acquire(&chaos_seed_ready) == 2)
        return wse__atomic_load_i64_relaxed(&chaos_seed);
    /* acq_rel: one thread chooses the seed; the others spin until it is stored. */
    if (wse__atomic_cas_u32_acq_rel(&chaos_seed_ready, &expected, 1)) {
        env = getenv("WSE_CHAOS_SEED");
        seed = env != NULL ? strtoll(env, NULL, 0) : (int64_t)wse__clock_now().tv_nsec;
        wse__atomic_store_i64_relaxed(&chaos_seed, seed);
        /* release: the seed before the ready flag; pairs with the acquire above. */
        wse__atomic_store_u32_release(&chaos_seed_ready, 2);
        return seed;
    }
    while (wse__atomic_load_u32_acquire(&chaos_seed_ready) != 2)
        wse__atomic_pause();
    return wse__atomic_load_i64_relaxed(&chaos_seed);
}

void
wse__chaos_point(void)
{
    uint64_t x = chaos_state;
    unsigned spins;

    if (x == 0) {
        /* The first point on this thread. The layer's own operations below are
         * chaos points too, but chaos_state is set before they recurse here. */
        chaos_state = 1;
        x = (uint64_t)wse__chaos_seed() * 0x9E3779B97F4A7C15ULL +
            (uint64_t)wse__atomic_faa_u32_acq_rel(&chaos_threads, 1) * 0xBF58476D1CE4E5B9ULL;
        if (x == 0)
            x = 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    chaos_state = x;
    x *= 0x2545F4914F6CDD1DULL;
    switch ((x >> 59) & 0x1f) {
    case 0:
    case 1:
        sched_yield();
        break;
    case 2:
    case 3:
    case 4:
        for (spins = (unsigned)(x >> 40) & 0xff; spins > 0; spins--)
            wse__atomic_pause();
        break;
    default:
        break;
    }
}

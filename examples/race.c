/*
 * Race (FIRST_COMPLETED): several searchers look for a nonce whose hash has
 * BITS leading zero bits, each in its own region; the first answer wins. Losers
 * that are running stop through a flag they poll; those not started yet are
 * cancelled. A searcher whose region holds no answer fails with ENOENT, and the
 * race goes on among the others.
 *
 *   race [searchers]     default 8
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wsexec.h>

#define BITS 18
#define REGION (UINT64_C(1) << 26)

static atomic_bool found;

static uint64_t
hash(uint64_t x) /* splitmix64's finaliser */
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static int
search(void *arg, void **result)
{
    uint64_t first = (uint64_t)(uintptr_t)arg * REGION;

    for (uint64_t x = first; x < first + REGION; x++) {
        if ((x & 1023) == 0 && atomic_load_explicit(&found, memory_order_relaxed))
            return ECANCELED; /* someone else won: stop early */
        if (hash(x) >> (64 - BITS) == 0) {
            atomic_store_explicit(&found, true, memory_order_relaxed);
            *result = (void *)(uintptr_t)x;
            return 0;
        }
    }
    return ENOENT;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
    wse_executor *ex;
    wse_future *f[64];
    wse_future *pending[64];
    wse_future *winner = NULL;
    size_t n_pending = n;
    size_t n_done = 0;

    if (n == 0 || n > 64) {
        fprintf(stderr, "race: searchers must be in [1, 64]\n");
        return 2;
    }
    if (wse_executor_create(&ex, NULL) != 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (wse_submit(ex, search, (void *)(uintptr_t)i, &f[i]) != 0)
            return 1;
        pending[i] = f[i];
    }
    /* Wait for the first finisher; a failed one (ENOENT) drops out of the race. */
    while (winner == NULL && n_pending > 0) {
        if (wse_wait(pending, n_pending, WSE_FOREVER, WSE_FIRST_COMPLETED, pending, &n_done) != 0)
            return 1;
        for (size_t i = 0; i < n_done && winner == NULL; i++)
            if (wse_future_state(pending[i]) == WSE_DONE)
                winner = pending[i];
        /* out[n_done .. n) holds the ones still running or queued. */
        for (size_t i = n_done; i < n_pending; i++)
            pending[i - n_done] = pending[i];
        n_pending -= n_done;
    }
    /* Losers: cancel those not started; the running ones see the flag and return. */
    for (size_t i = 0; i < n_pending; i++)
        wse_future_cancel(pending[i]);

    int ok = winner != NULL;
    uint64_t nonce = ok ? (uint64_t)(uintptr_t)wse_future_value(winner) : 0;
    ok = ok && hash(nonce) >> (64 - BITS) == 0;
    printf("race: nonce %llu (hash %016llx) from searcher %llu of %zu: %s\n",
           (unsigned long long)nonce, (unsigned long long)hash(nonce),
           (unsigned long long)(nonce / REGION), n, ok ? "ok" : "FAILED");
    ok = wse_executor_destroy(ex) == 0 && ok; /* waits for the losers to return */
    for (size_t i = 0; i < n; i++) {
        wse_state s = wse_future_state(f[i]);
        /* Every searcher is done: the winner, losers that stopped, cancelled ones. */
        ok = ok && (s == WSE_DONE || s == WSE_CANCELLED ||
                    (s == WSE_FAILED &&
                     (wse_future_error(f[i]) == ECANCELED || wse_future_error(f[i]) == ENOENT)));
        wse_future_release(f[i]);
    }
    return ok ? 0 : 1;
}

/*
 * First answer wins, under a deadline, with a scope: searchers look for a nonce
 * whose hash has `bits` leading zero bits, each on its own stride of the
 * numbers. A FIRST_COMPLETED scope settles when the first one finds it: the
 * others are asked to stop at once (from the winner's thread), and the join
 * waits until every one has returned. Nothing outlives the join, so the search
 * state can live on this stack. Run twice: an easy search that finishes well
 * within its deadline, then one too hard for its deadline (ETIMEDOUT: the join
 * stops every searcher itself).
 *
 *   scope_race [searchers]     default 8
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wsexec.h>

struct search {
    unsigned bits;   /* leading zero bits wanted */
    uint64_t first;  /* this searcher's first number */
    uint64_t stride; /* the number of searchers */
    uint64_t tried;  /* numbers hashed (read after the join) */
};

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
    struct search *s = arg;
    uint64_t x = s->first;

    for (s->tried = 0;; s->tried++, x += s->stride) {
        if ((s->tried & 1023) == 0 && wse_stop_requested())
            return ECANCELED; /* another searcher won, or the deadline passed */
        if (hash(x) >> (64 - s->bits) == 0) {
            *result = (void *)(uintptr_t)x;
            return 0;
        }
    }
}

/* One race; returns 1 if it went as expected. */
static int
race(wse_executor *ex, size_t n, unsigned bits, double deadline_s, int expect)
{
    struct search s[64];
    wse_scope *scope;
    wse_future *winner = NULL;
    uint64_t tried = 0;

    if (wse_scope_create(&scope, ex, WSE_FIRST_COMPLETED, deadline_s) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        s[i] = (struct search){.bits = bits, .first = i, .stride = n};
        /* ECANCELED if a searcher already won: nothing more to start. */
        if (wse_scope_submit(scope, search, &s[i], NULL) != 0)
            break;
    }
    int rc = wse_scope_join(scope, &winner);
    for (size_t i = 0; i < n; i++)
        tried += s[i].tried;
    int ok = rc == expect;
    if (rc == 0) {
        uint64_t nonce = (uint64_t)(uintptr_t)wse_future_value(winner);
        ok = ok && wse_future_state(winner) == WSE_DONE && hash(nonce) >> (64 - bits) == 0;
        printf("scope_race: %u bits: nonce %llu (hash %016llx), %llu hashes: %s\n", bits,
               (unsigned long long)nonce, (unsigned long long)hash(nonce),
               (unsigned long long)tried, ok ? "ok" : "FAILED");
    } else {
        ok = ok && winner == NULL;
        printf("scope_race: %u bits: no answer within %.0f ms (%s), %llu hashes: %s\n", bits,
               deadline_s * 1e3, rc == ETIMEDOUT ? "ETIMEDOUT" : "error", (unsigned long long)tried,
               ok ? "ok" : "FAILED");
    }
    wse_scope_destroy(scope); /* the searchers are all done already */
    return ok;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
    wse_executor *ex;

    if (n == 0 || n > 64) {
        fprintf(stderr, "scope_race: searchers must be in [1, 64]\n");
        return 2;
    }
    if (wse_executor_create(&ex, NULL) != 0)
        return 1;
    int ok = race(ex, n, 20, 30.0, 0);           /* ~10^6 hashes: found in milliseconds */
    ok = race(ex, n, 60, 0.05, ETIMEDOUT) && ok; /* ~10^18: stopped at 50 ms */
    ok = wse_executor_destroy(ex) == 0 && ok;
    return ok ? 0 : 1;
}

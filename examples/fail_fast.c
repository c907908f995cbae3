/*
 * Fail-fast (FIRST_EXCEPTION): validate many records in parallel and stop at the
 * first invalid one. The wait returns as soon as a task fails; then
 * wse_shutdown(ex, false, true) cancels every task that has not started, so the
 * batch does no more work than it must.
 *
 *   fail_fast [records] [bad]    default 2000 records, record 700 is invalid
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wsexec.h>

static size_t bad_record;

/* Checksum record i (some work per record); record bad_record is corrupt. */
static int
validate(void *arg, void **result)
{
    size_t i = (size_t)(uintptr_t)arg;
    uint32_t sum = 0;

    for (uint32_t k = 0; k < 20000; k++)
        sum = sum * 31 + (uint32_t)(i ^ k);
    if (i == bad_record)
        return EILSEQ; /* "raise": this record is corrupt */
    *result = (void *)(uintptr_t)sum;
    return 0;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    wse_executor *ex;
    wse_future **f;
    wse_future **out;
    size_t n_done = 0;
    size_t counts[WSE_CANCELLED + 1] = {0};

    bad_record = argc > 2 ? strtoul(argv[2], NULL, 10) : 700;
    if (n == 0 || n > 1000000 || bad_record >= n) {
        fprintf(stderr, "fail_fast: need 0 < records <= 1e6 and bad < records\n");
        return 2;
    }
    f = malloc(n * sizeof(*f));
    out = malloc(n * sizeof(*out));
    if (f == NULL || out == NULL || wse_executor_create(&ex, NULL) != 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (wse_submit(ex, validate, (void *)(uintptr_t)i, &f[i]) != 0)
            return 1;

    int rc = wse_wait(f, n, WSE_FOREVER, WSE_FIRST_EXCEPTION, out, &n_done);
    /* Stop: cancel everything not started; running tasks finish. */
    wse_shutdown(ex, false, true);

    /* The failure is among the done futures of the wait. */
    wse_future *failed = NULL;
    for (size_t i = 0; i < n_done; i++)
        if (wse_future_state(out[i]) == WSE_FAILED)
            failed = out[i];
    int ok = rc == 0 && failed == f[bad_record] && wse_future_error(failed) == EILSEQ;

    ok = wse_executor_destroy(ex) == 0 && ok; /* the running ones have finished now */
    for (size_t i = 0; i < n; i++) {
        counts[wse_future_state(f[i])]++;
        wse_future_release(f[i]);
    }
    /* Exactly one failure; everything else ran to DONE or was cancelled. */
    ok = ok && counts[WSE_FAILED] == 1 && counts[WSE_PENDING] == 0 && counts[WSE_RUNNING] == 0 &&
         counts[WSE_DONE] + counts[WSE_CANCELLED] == n - 1;
    printf("fail_fast: record %zu failed with EILSEQ; %zu validated, %zu cancelled: %s\n",
           bad_record, counts[WSE_DONE], counts[WSE_CANCELLED], ok ? "ok" : "FAILED");
    free(out);
    free(f);
    return ok ? 0 : 1;
}

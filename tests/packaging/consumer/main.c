/* A consumer of an installed wsexec: submit, wait, check the values. Exit 0 on success. */
#include <stdint.h>
#include <stdio.h>

#include <wsexec.h>

static int
twice(void *arg, void **result)
{
    *result = (void *)((uintptr_t)arg * 2);
    return 0;
}

int
main(void)
{
    wse_options opts = {0};
    wse_executor *ex;
    wse_future *f[8];
    size_t n_done = 0;
    int ok = 1;

    if (wse_version() != WSE_VERSION_HEX) {
        fprintf(stderr, "consumer: header 0x%x, library 0x%x\n", WSE_VERSION_HEX, wse_version());
        return 1;
    }
    opts.workers = 2;
    if (wse_executor_create(&ex, &opts) != 0)
        return 1;
    for (uintptr_t i = 0; i < 8; i++)
        if (wse_submit(ex, twice, (void *)i, &f[i]) != 0)
            return 1;
    ok &= wse_wait(f, 8, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, &n_done) == 0 && n_done == 8;
    for (uintptr_t i = 0; i < 8; i++) {
        ok &= (uintptr_t)wse_future_value(f[i]) == 2 * i;
        wse_future_release(f[i]);
    }
    ok &= wse_executor_destroy(ex) == 0;
    printf("consumer: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

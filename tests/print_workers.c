/* Prints the worker count of an executor created with the defaults (for
 * tests/check_taskset.sh). */
#include <stdio.h>

#include "wsexec.h"

int
main(void)
{
    wse_executor *ex;

    if (wse_executor_create(&ex, NULL) != 0)
        return 1;
    printf("%u\n", wse_executor_workers(ex));
    return wse_executor_destroy(ex) == 0 ? 0 : 1;
}

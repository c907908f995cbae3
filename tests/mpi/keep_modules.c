/*
 * Test builds under sanitizers only: dlclose() does nothing. Open MPI 4.1 unloads
 * its components (mca_*.so) in MPI_Finalize, so LeakSanitizer, which reports at
 * exit, can no longer name the module of what they allocated ("<unknown module>")
 * and lsan.supp could not tell Open MPI's allocations from ours. Keeping them
 * loaded lets every leak report name its library. Exported from the executable
 * (--export-dynamic-symbol), so it interposes on libc's for the MPI libraries.
 */
#include <stddef.h>

__attribute__((visibility("default"))) int dlclose(void *handle);

int
dlclose(void *handle)
{
    (void)handle;
    return 0;
}

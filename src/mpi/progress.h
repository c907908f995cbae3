/*
 * The progress thread (progress.c), the layer below the API (mpi.c): mpi.c starts
 * it in create, hands work over under m->lock and wakes it; it never calls mpi.c.
 */
#ifndef WSE_MPI_PROGRESS_H
#define WSE_MPI_PROGRESS_H

#include "internal.h"

/* The thread's start routine (arg: the struct wse_mpi). It waits for m->go, serves
 * until the termination barrier after wse_mpi_destroy(), then frees the
 * communicator and returns. */
void *wse__mpi_progress_main(void *arg);
/* Wake the progress thread; caller holds m->lock. */
void wse__mpi_wake(struct wse_mpi *m);

#endif /* WSE_MPI_PROGRESS_H */

/*
 * Result blocks (result.c): the value of a DONE remote future. The layer above
 * result.c: progress.c makes them, mpi.c hands the free function to each promise.
 */
#ifndef WSE_MPI_RESULT_H
#define WSE_MPI_RESULT_H

#include <stddef.h>

/* A result block holding bytes (malloc'd, or NULL when len is 0), which it takes.
 * NULL on ENOMEM (bytes untouched). */
void *wse__mpi_result_new(void *bytes, size_t len);
/* A promise's free_value: frees the block and its bytes. */
void wse__mpi_result_free(void *value);

#endif /* WSE_MPI_RESULT_H */

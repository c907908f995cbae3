/*
 * wsexec_mpi - wsexec futures and wait() across the ranks of an MPI job.
 *
 * Usage (every rank runs the same program; rank 0 submits, all ranks serve):
 *
 *     int provided;
 *     MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
 *     wse_executor *ex;
 *     wse_executor_create(&ex, NULL);
 *     wse_mpi *m;
 *     wse_mpi_create(&m, ex, MPI_COMM_WORLD);          // collective
 *     wse_mpi_register(m, "square", square);           // same names on every rank
 *     MPI_Barrier(MPI_COMM_WORLD);                     // all registered before any submit
 *     if (wse_mpi_rank(m) == 0) {
 *         wse_future *f;
 *         wse_mpi_submit(m, WSE_MPI_ANY_RANK, "square", &x, sizeof x, &f);
 *         wse_wait(&f, 1, WSE_FOREVER, WSE_ALL_COMPLETED, NULL, NULL);
 *         size_t len;
 *         const void *bytes = wse_mpi_result(f, &len);  // owned by f
 *         wse_future_release(f);
 *     }
 *     wse_mpi_destroy(m);                              // collective: serves until all are done
 *     wse_executor_destroy(ex);
 *     MPI_Finalize();
 *
 * A remote future is a wsexec promise: wse_wait (every mode, deadlines),
 * as_completed, wse_submit_after and callbacks take it like any other future.
 *
 * Threads: one progress thread per rank makes every MPI call of the layer, on its
 * own duplicate of the communicator; workers and other threads only hand it work.
 * Completion of a remote future (its waiters and callbacks) happens on that
 * progress thread, so a callback on a remote future must be short and must not
 * wait. Every function below may be called from any thread unless it says
 * otherwise. Commands return 0 or a positive errno value and never print or abort.
 *
 * Failure of a rank: the layer keeps MPI's error handler of the communicator
 * (MPI_ERRORS_ARE_FATAL by default), so a rank that dies ends the whole job.
 */
#ifndef WSEXEC_MPI_H
#define WSEXEC_MPI_H

#include <stddef.h>

#include <mpi.h>

#include "wsexec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wse_mpi wse_mpi;

/* The rank argument of wse_mpi_submit: let the layer place and balance the task. */
#define WSE_MPI_ANY_RANK (-1)

/* The largest payload or result (in bytes) the layer moves: 1 TiB (EMSGSIZE above).
 * Messages above 1 GiB travel in chunks of 1 GiB, since MPI counts are ints. */
#define WSE_MPI_MAX_BYTES ((size_t)1 << (sizeof(size_t) >= 8 ? 40 : 30))

/* The longest task name (bytes, without the terminating NUL). */
#define WSE_MPI_MAX_NAME 255

/*
 * A remote task. It reads in_len bytes at in (in is NULL when in_len is 0) and may
 * store a result: *out a buffer allocated with malloc (or NULL) of *out_len bytes,
 * which the library then owns and frees (*out starts NULL, *out_len 0). Return 0
 * on success or a nonzero errno-style code: the submitter's future is then FAILED
 * with that code (a result stored by a failing task is freed and dropped). It runs
 * as a task of the executor of the rank it lands on, so wse_stop_requested()
 * works inside it; returning ECANCELED after a stop request ends CANCELLED.
 */
typedef int (*wse_mpi_fn)(const void *in, size_t in_len, void **out, size_t *out_len);

/*
 * Collective over comm: every rank of comm calls it. Creates the layer of this
 * rank on ex (which must outlive it), duplicates comm (MPI_Comm_dup) and starts
 * the progress thread. MPI must have been initialised with MPI_THREAD_MULTIPLE.
 * EINVAL: out or ex is NULL, or comm is MPI_COMM_NULL. EPROTONOSUPPORT: MPI is not
 * initialised (or already finalised), or provides less than MPI_THREAD_MULTIPLE;
 * nothing is allocated and no MPI call is made on comm. ENOMEM, EAGAIN (no thread)
 * on any rank makes the call fail on every rank (a failing rank returns its own
 * code, the others one of the failing ranks' codes); nothing is left allocated.
 * *out is untouched on error.
 */
WSE_EXPORT int wse_mpi_create(wse_mpi **out, wse_executor *ex, MPI_Comm comm);

/*
 * Register fn under name (copied; 1 to WSE_MPI_MAX_NAME bytes) on this rank.
 * Every rank must register the same names before any rank submits to them (for
 * example: register, then MPI_Barrier). EINVAL: m, name or fn NULL, or a bad
 * name length. EEXIST: the name is already registered (nothing changes).
 * ENOMEM. ESHUTDOWN: wse_mpi_destroy was called.
 */
WSE_EXPORT int wse_mpi_register(wse_mpi *m, const char *name, wse_mpi_fn fn);

/*
 * Run the task registered as name on rank (0 .. size-1, this rank included, or
 * WSE_MPI_ANY_RANK) with a copy of the in_len bytes at in (the caller may reuse
 * its buffer at once). *out receives a future (a promise) holding one reference,
 * to release with wse_future_release(); out may be NULL (fire and forget).
 *
 * The future ends DONE once the result has arrived (read it with wse_mpi_result),
 * FAILED with the remote task's code, or CANCELLED. If the name is not registered
 * on the rank that runs the task, it fails with ENOSYS; if that rank's executor
 * refuses it, with the code of wse_submit (ESHUTDOWN, ENOMEM).
 *
 * wse_future_cancel and wse_future_request_stop on the future cancel it locally at
 * once and forward a stop to the rank that runs the task: if it has not started
 * there when the stop arrives, it never runs; if it is running, it sees
 * wse_stop_requested(). Its result, if any, is then dropped. Stops are forwarded
 * in the order they were made.
 *
 * WSE_MPI_ANY_RANK: the task waits on this rank until some rank has a free worker
 * (as counted by this rank: the tasks it has there, against that rank's worker
 * count), and goes to the least loaded one, this rank first on a tie; each result
 * frees the slot for the next task, so a batch spreads as workers become idle.
 *
 * Errors (nothing is sent, *out untouched): EINVAL: m or name NULL, name not
 * registered on this rank, rank outside [WSE_MPI_ANY_RANK, size), or in NULL with
 * in_len > 0. EMSGSIZE: in_len > WSE_MPI_MAX_BYTES. ESHUTDOWN: wse_mpi_destroy was
 * called on this rank. ENOMEM.
 */
WSE_EXPORT int wse_mpi_submit(wse_mpi *m, int rank, const char *name, const void *in, size_t in_len,
                              wse_future **out);

/*
 * The result bytes of a remote future that is DONE, and their number in *len (len
 * may be NULL). The bytes belong to the future and stay valid until its last
 * reference is released. An empty result gives a non-NULL pointer and *len == 0.
 * For any other future (not from wse_mpi_submit, not DONE, or NULL): NULL and
 * *len == 0.
 */
WSE_EXPORT const void *wse_mpi_result(const wse_future *f, size_t *len);

/* This rank in the layer's communicator, and the number of ranks (-1 if m is NULL). */
WSE_EXPORT int wse_mpi_rank(const wse_mpi *m);
WSE_EXPORT int wse_mpi_size(const wse_mpi *m);

/*
 * Collective: every rank calls it once. Stops new submissions on this rank
 * (ESHUTDOWN), then keeps serving other ranks and returns once every rank has
 * called it and no task of the layer is in flight anywhere: every remote future
 * of every rank is then done. Frees the layer (remote futures stay valid until
 * released); the executor is left running. EINVAL: m is NULL. EDEADLK: called
 * from a worker of m's executor or from the progress thread (a callback of a
 * remote future); nothing is changed then.
 */
WSE_EXPORT int wse_mpi_destroy(wse_mpi *m);

#ifdef __cplusplus
}
#endif

#endif /* WSEXEC_MPI_H */

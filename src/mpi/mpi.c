/*
 * The API of libwsexec_mpi: create, register, submit, destroy. Everything here
 * runs on the caller's thread and makes no MPI call except the collectives of
 * create (MPI_Comm_dup, MPI_Allreduce, MPI_Allgather); the rest is handed to the
 * progress thread (progress.c) through m->lock: the inbox of posted tasks and the
 * list of cancelled ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "progress.h"
#include "result.h"

/* ------------------------------------------------------------------------- */
/* Create and destroy */

static void
mpi_free(struct wse_mpi *m)
{
    for (size_t i = 0; i < m->n_fns; i++)
        free(m->fns[i].name);
    free(m->fns);
    free(m->outs);
    free(m->ins);
    free(m->slots);
    free(m->in_flight);
    free(m->rxbuf);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The local half of create: memory, locks and the (waiting) progress thread. */
static int
mpi_alloc(struct wse_mpi **out, wse_executor *ex, int size)
{
    struct wse_mpi *m = wse__mpi_calloc(1, sizeof(*m));
    if (m == NULL)
        return ENOMEM;
    m->ex = ex;
    m->size = size;
    m->comm = MPI_COMM_NULL;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    m->outs = wse__mpi_calloc(WSE__MPI_BUCKETS, sizeof(struct wse__mpi_out *));
    m->ins = wse__mpi_calloc(WSE__MPI_BUCKETS, sizeof(struct wse__mpi_in *));
    m->slots = wse__mpi_calloc((size_t)size, sizeof(*m->slots));
    m->in_flight = wse__mpi_calloc((size_t)size, sizeof(*m->in_flight));
    m->rxbuf = wse__mpi_malloc(WSE__MPI_CTRL_MAX);
    if (m->outs == NULL || m->ins == NULL || m->slots == NULL || m->in_flight == NULL ||
        m->rxbuf == NULL) {
        mpi_free(m);
        return ENOMEM;
    }
    int rc = pthread_create(&m->thread, NULL, wse__mpi_progress_main, m);
    if (rc != 0) {
        mpi_free(m);
        return EAGAIN;
    }
    *out = m;
    return 0;
}

/* Tell a progress thread that is waiting for create to quit, join it, free m. */
static void
mpi_abandon(struct wse_mpi *m)
{
    pthread_mutex_lock(&m->lock);
    m->go = -1;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    mpi_free(m);
}

int
wse_mpi_create(wse_mpi **out, wse_executor *ex, MPI_Comm comm)
{
    if (out == NULL || ex == NULL || comm == MPI_COMM_NULL)
        return EINVAL;
    int initialized = 0;
    int finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
        return EPROTONOSUPPORT;
    int provided = MPI_THREAD_SINGLE;
    MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_MULTIPLE)
        return EPROTONOSUPPORT;

    int size = 0;
    int rank = 0;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    struct wse_mpi *m = NULL;
    int err = mpi_alloc(&m, ex, size);

    /* Collective from here on, whatever happened locally, so that no rank is left
     * waiting in a collective that another rank skipped. */
    MPI_Comm dup = MPI_COMM_NULL;
    MPI_Comm_dup(comm, &dup);
    int status = -err; /* 0 ok, -errno failed */
    int worst = 0;
    MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MIN, dup);
    if (worst < 0 || m == NULL) { /* m == NULL implies worst < 0 */
        MPI_Comm_free(&dup);
        if (m != NULL)
            mpi_abandon(m);
        return err != 0 ? err : (worst < 0 ? -worst : ENOMEM);
    }
    int workers = (int)wse_executor_workers(ex);
    if (workers < 1)
        workers = 1;
    MPI_Allgather(&workers, 1, MPI_INT, m->slots, 1, MPI_INT, dup);
    m->comm = dup;
    m->rank = rank;
    m->rr = (rank + 1) % size;

    pthread_mutex_lock(&m->lock);
    m->go = 1;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    *out = m;
    return 0;
}

int
wse_mpi_destroy(wse_mpi *m)
{
    if (m == NULL)
        return EINVAL;
    if (wse_current() == m->ex || pthread_equal(pthread_self(), m->thread))
        return EDEADLK;
    pthread_mutex_lock(&m->lock);
    m->closing = true;
    wse__mpi_wake(m);
    pthread_mutex_unlock(&m->lock);
    /* The progress thread returns after the termination barrier (progress.c). */
    pthread_join(m->thread, NULL);
    mpi_free(m);
    return 0;
}

int
wse_mpi_rank(const wse_mpi *m)
{
    return m != NULL ? m->rank : -1;
}

int
wse_mpi_size(const wse_mpi *m)
{
    return m != NULL ? m->size : -1;
}

/* ------------------------------------------------------------------------- */
/* Registry */

int
wse_mpi_register(wse_mpi *m, const char *name, wse_mpi_fn fn)
{
    if (m == NULL || name == NULL || fn == NULL)
        return EINVAL;
    size_t len = strnlen(name, WSE_MPI_MAX_NAME + 1);
    if (len == 0 || len > WSE_MPI_MAX_NAME)
        return EINVAL;
    int rc = 0;
    char *copy = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->closing) {
        rc = ESHUTDOWN;
        goto out_unlock;
    }
    if (wse__mpi_lookup(m, name, len) != NULL) {
        rc = EEXIST;
        goto out_unlock;
    }
    if (m->n_fns == m->cap_fns) {
        size_t cap = m->cap_fns ? 2 * m->cap_fns : 8;
        struct wse__mpi_fnent *fns = wse__mpi_realloc(m->fns, cap * sizeof(*fns));
        if (fns == NULL) {
            rc = ENOMEM;
            goto out_unlock;
        }
        m->fns = fns;
        m->cap_fns = cap;
    }
    copy = wse__mpi_malloc(len + 1);
    if (copy == NULL) {
        rc = ENOMEM;
        goto out_unlock;
    }
    memcpy(copy, name, len + 1);
    m->fns[m->n_fns].name = copy;
    m->fns[m->n_fns].fn = fn;
    m->n_fns++;
out_unlock:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Submit */

/*
 * Done callback of a remote future, on the thread that completed it. A CANCELLED
 * promise was cancelled or stopped here (or by the progress thread on a CANCELLED
 * result): hand the out to the progress thread, which forwards the stop to the
 * rank running it. The out stays allocated until the progress thread has taken it
 * from m->cancels (progress.c, out_maybe_free()), so reading it here is safe; a
 * DONE or FAILED promise was completed by the progress thread itself, inside this
 * very call, and the out is not touched.
 */
static void
out_done_cb(wse_future *f, void *arg)
{
    struct wse__mpi_out *o = arg;
    if (wse_future_state(f) != WSE_CANCELLED)
        return;
    struct wse_mpi *m = o->m;
    pthread_mutex_lock(&m->lock);
    if (o->posted) {
        o->cancel_next = NULL;
        if (m->cancels_tail != NULL)
            m->cancels_tail->cancel_next = o;
        else
            m->cancels = o;
        m->cancels_tail = o;
        wse__mpi_wake(m);
    }
    pthread_mutex_unlock(&m->lock);
}

int
wse_mpi_submit(wse_mpi *m, int rank, const char *name, const void *in, size_t in_len,
               wse_future **out)
{
    if (m == NULL || name == NULL || rank < WSE_MPI_ANY_RANK || rank >= m->size ||
        (in == NULL && in_len > 0))
        return EINVAL;
    if (in_len > WSE_MPI_MAX_BYTES)
        return EMSGSIZE;
    size_t name_len = strnlen(name, WSE_MPI_MAX_NAME + 1);
    if (name_len == 0 || name_len > WSE_MPI_MAX_NAME)
        return EINVAL;

    const char *reg_name = NULL;
    pthread_mutex_lock(&m->lock);
    const struct wse__mpi_fnent *e = wse__mpi_lookup(m, name, name_len);
    bool closing = m->closing;
    if (e != NULL)
        reg_name = e->name;
    pthread_mutex_unlock(&m->lock);
    if (closing)
        return ESHUTDOWN;
    if (reg_name == NULL)
        return EINVAL;

    int rc = ENOMEM;
    struct wse__mpi_out *o = wse__mpi_calloc(1, sizeof(*o));
    if (o == NULL)
        return ENOMEM;
    o->m = m;
    o->rank = rank;
    o->placed = -1;
    o->name = reg_name;
    o->in_len = in_len;
    if (in_len > 0) {
        o->in = wse__mpi_malloc(in_len);
        if (o->in == NULL)
            goto out_free;
        memcpy(o->in, in, in_len);
    }
    rc = wse_promise_create(&o->promise, wse__mpi_result_free);
    if (rc != 0)
        goto out_free;
    rc = wse_future_on_done(o->promise, out_done_cb, o);
    if (rc != 0)
        goto out_release;
    if (out != NULL)
        wse_future_retain(o->promise); /* the caller's; the layer keeps the first */

    pthread_mutex_lock(&m->lock);
    if (m->closing) {
        pthread_mutex_unlock(&m->lock);
        rc = ESHUTDOWN;
        if (out != NULL)
            wse_future_release(o->promise);
        /* Not posted: out_done_cb ignores this cancel. */
        wse_future_cancel(o->promise);
        goto out_release;
    }
    o->id = m->next_id++;
    o->posted = true;
    if (m->inbox_tail != NULL)
        m->inbox_tail->next = o;
    else
        m->inbox_head = o;
    m->inbox_tail = o;
    wse__mpi_wake(m);
    if (out != NULL)
        *out = o->promise;
    pthread_mutex_unlock(&m->lock);
    return 0;

out_release:
    wse_future_release(o->promise);
out_free:
    free(o->in);
    free(o);
    return rc;
}

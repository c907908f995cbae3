/*
 * Internals of libwsexec_mpi shared by the files of src/mpi/: the wire format, the
 * objects, allocation and the registry lookup. No function of another file is
 * declared here: each file's own header does that (result.h, progress.h), and the
 * files form layers (docs/design.md, section 10; tools/check_layers.sh):
 *
 *   internal.h   (this header) types, wire format, allocation, registry lookup
 *   result.c     the value blocks of DONE remote futures, wse_mpi_result()
 *   progress.c   the progress thread: every MPI call after create
 *   mpi.c        the API: create, register, submit, destroy
 *
 * Each file includes only the headers of the files above it in this list. The layer
 * uses only the public API of wsexec.h; its shared state is guarded by one mutex per
 * layer (m->lock) and otherwise owned by the progress thread, so it needs no atomics.
 *
 * Ownership, in one line per object:
 *   struct wse__mpi_out  a task this rank submitted: made by wse_mpi_submit, owned by
 *                        the progress thread from the moment it is posted
 *   struct wse__mpi_in   a task this rank runs (for another rank or for itself): owned
 *                        by the progress thread; the worker that runs it writes only
 *                        its result fields, published through m->lock (the done list)
 *   struct wse__mpi_send the MPI requests of one outgoing message and the buffers they
 *                        read, freed when every request has completed
 */
#ifndef WSE_MPI_INTERNAL_H
#define WSE_MPI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsexec_mpi.h"

/* ------------------------------------------------------------------------- */
/* Wire format (progress.c). One control message per protocol step, tag
 * WSE__MPI_TAG_CTRL: a header, the task name (TASK), and the payload when it is at
 * most WSE__MPI_INLINE bytes. A larger payload follows in ceil(len / CHUNK) messages
 * of tag WSE__MPI_TAG_DATA from the same sender, which MPI delivers in order; the
 * receiver takes them right after their header. Ranks must share byte order and
 * type sizes (the header travels as MPI_BYTE). */

enum {
    WSE__MPI_TAG_CTRL = 1,
    WSE__MPI_TAG_DATA = 2,
};

enum {
    WSE__MPI_TASK = 1,   /* submitter -> runner: run name(payload); answered by RESULT */
    WSE__MPI_RESULT,     /* runner -> submitter: code and result bytes */
    WSE__MPI_CANCEL,     /* submitter -> runner: stop the task; answered by CANCEL_ACK */
    WSE__MPI_CANCEL_ACK, /* runner -> submitter */
};

#define WSE__MPI_INLINE 8192u /* payloads up to this size ride in the header message */
/* Bytes per data message (MPI counts are ints); a test build makes it small. */
#ifdef WSE__MPI_CHUNK_BYTES
#define WSE__MPI_CHUNK ((size_t)WSE__MPI_CHUNK_BYTES)
#else
#define WSE__MPI_CHUNK ((size_t)1 << 30)
#endif

struct wse__mpi_hdr {
    uint32_t kind;     /* WSE__MPI_TASK ... */
    int32_t code;      /* RESULT: 0 DONE, else FAILED with it (unless F_CANCELLED) */
    uint64_t id;       /* task id, unique per submitting rank */
    uint64_t len;      /* payload (TASK) or result (RESULT) bytes */
    uint32_t name_len; /* TASK: bytes of the name that follow the header */
    uint32_t flags;    /* WSE__MPI_F_* */
};
#define WSE__MPI_F_INLINE 1u    /* the bytes follow the name in this message */
#define WSE__MPI_F_CANCELLED 2u /* RESULT: the task ended CANCELLED */
#define WSE__MPI_CTRL_MAX (sizeof(struct wse__mpi_hdr) + WSE_MPI_MAX_NAME + WSE__MPI_INLINE)

/* ------------------------------------------------------------------------- */
/* Objects */

struct wse__mpi_fnent {
    char *name; /* malloc'd copy; lives until the layer is freed */
    wse_mpi_fn fn;
};

struct wse__mpi_in;

struct wse__mpi_out {
    struct wse__mpi_out *next;        /* inbox, pool, or hash chain (progress thread) */
    struct wse__mpi_out *cancel_next; /* m->cancels; protected by m->lock */
    struct wse_mpi *m;
    uint64_t id;
    int rank;            /* as submitted: a rank or WSE_MPI_ANY_RANK */
    int placed;          /* where it runs; -1 while in the pool */
    const char *name;    /* the registry's copy */
    wse_future *promise; /* the layer's reference */
    void *in;            /* payload copy; handed to the send or the local task */
    size_t in_len;
    struct wse__mpi_in *local; /* placed on this rank: the task running it */
    unsigned acks;             /* CANCEL_ACKs still to come */
    bool posted;               /* in the progress thread's hands; protected by m->lock */
    bool cancel_seen;          /* the progress thread has handled the cancel callback */
    bool result_in;            /* the task has ended (RESULT received or local task done) */
};

struct wse__mpi_in {
    struct wse__mpi_in *next;      /* hash chain (progress thread) */
    struct wse__mpi_in *done_next; /* m->dones or m->polled; see in_done_cb() */
    struct wse_mpi *m;
    int src; /* submitting rank */
    uint64_t id;
    wse_mpi_fn fn;
    void *in;
    size_t in_len;
    void *out; /* written by the task; read after it is done */
    size_t out_len;
    wse_future *fut; /* the local task */
};

struct wse__mpi_send {
    struct wse__mpi_send *next;
    void *ctrl; /* the control message */
    void *data; /* payload sent in chunks, freed with free() (or NULL) */
    int nreq;
    MPI_Request req[]; /* nreq requests */
};

#define WSE__MPI_BUCKETS 4096u /* hash buckets of the out and in tables */

struct wse_mpi {
    wse_executor *ex;
    MPI_Comm comm; /* our duplicate */
    int rank;
    int size;
    pthread_t thread; /* the progress thread */

    pthread_mutex_t lock;       /* guards the fields down to `closing`; order: no lock of
                                   the core is taken under it */
    pthread_cond_t cond;        /* wakes the progress thread; see wse__mpi_wake() */
    struct wse__mpi_fnent *fns; /* registry, sorted by nothing: few names */
    size_t n_fns;
    size_t cap_fns;
    struct wse__mpi_out *inbox_head; /* posted tasks, FIFO */
    struct wse__mpi_out *inbox_tail;
    struct wse__mpi_out *cancels; /* outs whose promise was cancelled, FIFO (a
                                         cancel before a stop is forwarded first) */
    struct wse__mpi_out *cancels_tail;
    struct wse__mpi_in *dones; /* ins whose task is done */
    uint64_t next_id;
    int go;        /* create: 1 start serving, -1 quit at once */
    bool sleeping; /* the progress thread waits on cond */
    bool closing;  /* wse_mpi_destroy was called */

    /* Owned by the progress thread. */
    struct wse__mpi_out *pool_head; /* WSE_MPI_ANY_RANK tasks not yet placed */
    struct wse__mpi_out *pool_tail;
    struct wse__mpi_out **outs;  /* placed outs by id */
    struct wse__mpi_in **ins;    /* ins by (src, id) */
    struct wse__mpi_in *polled;  /* ins without a done callback (ENOMEM) */
    struct wse__mpi_send *sends; /* messages in flight */
    size_t n_live;               /* outs taken from the inbox and not yet freed */
    size_t n_ins;                /* ins not yet freed */
    int *slots;                  /* workers of each rank */
    int *in_flight;              /* this rank's tasks placed on each rank */
    size_t n_remote;             /* answers awaited from other ranks: RESULTs and CANCEL_ACKs */
    int rr;                      /* where the next tie-break starts */
    unsigned char *rxbuf;        /* WSE__MPI_CTRL_MAX bytes */
};

/* ------------------------------------------------------------------------- */
/* Allocation. Every allocation of the layer goes through these. In the fault
 * test build (WSE__MPI_FAULT: the layer compiled into tests/mpi/mpi_fault.c on
 * top of a WSE_FAULT_INJECTION core) each first takes a turn of the core's
 * allocation counter, so the test can make any one of them fail. Memory is
 * plain malloc memory either way: free() releases it. */

#ifdef WSE__MPI_FAULT
void *wse__alloc(size_t size); /* the core's counted malloc (src/alloc.h) */
void wse__alloc_free(void *p);
static inline bool
wse__mpi_alloc_fails(void)
{
    void *p = wse__alloc(1);
    wse__alloc_free(p);
    return p == NULL;
}
#else
static inline bool
wse__mpi_alloc_fails(void)
{
    return false;
}
#endif

static inline void *
wse__mpi_malloc(size_t n)
{
    return wse__mpi_alloc_fails() ? NULL : malloc(n);
}

static inline void *
wse__mpi_calloc(size_t n, size_t size)
{
    return wse__mpi_alloc_fails() ? NULL : calloc(n, size);
}

static inline void *
wse__mpi_realloc(void *p, size_t n)
{
    return wse__mpi_alloc_fails() ? NULL : realloc(p, n);
}

/* ------------------------------------------------------------------------- */
/* Registry: names are added by wse_mpi_register() (mpi.c) and looked up by the
 * submitting thread and the progress thread, all under m->lock. */

/* The registry entry for the len bytes at name, or NULL; caller holds m->lock. */
static inline const struct wse__mpi_fnent *
wse__mpi_lookup(const struct wse_mpi *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n_fns; i++) {
        const struct wse__mpi_fnent *e = &m->fns[i];
        if (strncmp(e->name, name, len) == 0 && e->name[len] == '\0')
            return e;
    }
    return NULL;
}

#endif /* WSE_MPI_INTERNAL_H */

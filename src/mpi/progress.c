/*
 * The progress thread: the only thread that makes MPI calls for a layer after
 * create. One loop:
 *
 *   1. take what the other threads handed over under m->lock: posted tasks (the
 *      inbox), cancelled remote futures (m->cancels), finished local runs of remote
 *      tasks (m->dones), and the closing flag;
 *   2. place tasks: a given rank at once, WSE_MPI_ANY_RANK from the pool as slots
 *      free up (pool_dispatch());
 *   3. receive every control message that has arrived (MPI_Improbe + MPI_Mrecv),
 *      and the data messages that follow a large one;
 *   4. test the sends in flight (MPI_Isend; never a blocking send, so two progress
 *      threads sending to each other cannot deadlock) and free what they read;
 *   5. termination: see below;
 *   6. nothing happened: sleep on m->cond with a growing timeout (backoff()). A
 *      thread that hands something over signals the condition variable, so local
 *      work never waits for the timeout; only MPI messages are found by probing.
 *
 * Protocol, and why destroy can count on it: every message that asks for
 * something is answered exactly once (TASK by RESULT, CANCEL by CANCEL_ACK), and a
 * rank counts a task of its own as live until its RESULT and every CANCEL_ACK for
 * it have arrived. Termination (wse_mpi_destroy on every rank): a rank enters a
 * non-blocking barrier (MPI_Ibarrier) once destroy was called on it and no task of
 * its own is live, and keeps serving until the barrier completes. When it does,
 * every rank had entered, so every rank had all its requests answered: every TASK
 * and CANCEL ever sent has been received and answered, and no answer is still
 * awaited, so no message of the layer is in flight and none will be sent. A rank
 * cannot leave earlier: a rank that has entered may still be sent work by one that
 * has not (its tasks run and are answered while it waits in the barrier).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "internal.h"
#include "progress.h"
#include "result.h"

/* Backoff of an idle progress thread (see backoff()). */
#define SPIN_NS 200000LL            /* probe without sleeping this long after activity */
#define SLEEP_MIN_NS 20000LL        /* the shortest sleep */
#define SLEEP_CAP_BUSY_NS 200000LL  /* cap while answers are awaited from other ranks */
#define SLEEP_CAP_IDLE_NS 2000000LL /* cap when nothing is in flight */
#define OOM_SLEEP_NS 1000000L       /* retry period when memory runs out here */

void
wse__mpi_wake(struct wse_mpi *m)
{
    if (m->sleeping)
        pthread_cond_signal(&m->cond);
}

static void
sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* malloc that waits for memory: the progress thread cannot drop a message. */
static void *
xmalloc(size_t n)
{
    void *p;
    while ((p = wse__mpi_malloc(n ? n : 1)) == NULL)
        sleep_ns(OOM_SLEEP_NS);
    return p;
}

/* ------------------------------------------------------------------------- */
/* Tables: outs by id, ins by (src, id); progress thread only. */

static size_t
bucket(int src, uint64_t id)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(unsigned)src * 0xc2b2ae3d27d4eb4fULL;
    return (size_t)(x >> 40) % WSE__MPI_BUCKETS;
}

static void
out_insert(struct wse_mpi *m, struct wse__mpi_out *o)
{
    size_t b = bucket(0, o->id);
    o->next = m->outs[b];
    m->outs[b] = o;
}

static struct wse__mpi_out *
out_find(struct wse_mpi *m, uint64_t id)
{
    for (struct wse__mpi_out *o = m->outs[bucket(0, id)]; o != NULL; o = o->next)
        if (o->id == id)
            return o;
    return NULL;
}

static void
out_remove(struct wse_mpi *m, struct wse__mpi_out *o)
{
    for (struct wse__mpi_out **p = &m->outs[bucket(0, o->id)]; *p != NULL; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            return;
        }
    }
}

static void
in_insert(struct wse_mpi *m, struct wse__mpi_in *t)
{
    size_t b = bucket(t->src, t->id);
    t->next = m->ins[b];
    m->ins[b] = t;
    m->n_ins++;
}

static struct wse__mpi_in *
in_find(struct wse_mpi *m, int src, uint64_t id)
{
    for (struct wse__mpi_in *t = m->ins[bucket(src, id)]; t != NULL; t = t->next)
        if (t->src == src && t->id == id)
            return t;
    return NULL;
}

static void
in_remove(struct wse_mpi *m, struct wse__mpi_in *t)
{
    for (struct wse__mpi_in **p = &m->ins[bucket(t->src, t->id)]; *p != NULL; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            m->n_ins--;
            return;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Sending */

/* Send a control message (hdr, then extra bytes) and, unless they fit inline,
 * data in chunks. Takes ownership of data (malloc'd, or NULL). */
static void
send_msg(struct wse_mpi *m, int dest, const struct wse__mpi_hdr *hdr, const char *name, void *data)
{
    size_t len = (size_t)hdr->len;
    bool inline_data = len <= WSE__MPI_INLINE;
    int nreq = 1 + (inline_data ? 0 : (int)((len + WSE__MPI_CHUNK - 1) / WSE__MPI_CHUNK));
    struct wse__mpi_send *s = xmalloc(sizeof(*s) + (size_t)nreq * sizeof(MPI_Request));
    size_t ctrl_len = sizeof(*hdr) + hdr->name_len + (inline_data ? len : 0);
    unsigned char *ctrl = xmalloc(ctrl_len);
    struct wse__mpi_hdr h = *hdr;
    h.flags = (hdr->flags & ~WSE__MPI_F_INLINE) | (inline_data ? WSE__MPI_F_INLINE : 0);
    memcpy(ctrl, &h, sizeof(h));
    if (h.name_len > 0)
        memcpy(ctrl + sizeof(h), name, h.name_len);
    if (inline_data && len > 0)
        memcpy(ctrl + sizeof(h) + h.name_len, data, len);
    s->ctrl = ctrl;
    s->nreq = nreq;
    MPI_Isend(ctrl, (int)ctrl_len, MPI_BYTE, dest, WSE__MPI_TAG_CTRL, m->comm, &s->req[0]);
    if (inline_data) {
        free(data);
        s->data = NULL;
    } else {
        s->data = data;
        size_t off = 0;
        for (int i = 1; i < nreq; i++) {
            size_t n = len - off < WSE__MPI_CHUNK ? len - off : WSE__MPI_CHUNK;
            MPI_Isend((unsigned char *)data + off, (int)n, MPI_BYTE, dest, WSE__MPI_TAG_DATA,
                      m->comm, &s->req[i]);
            off += n;
        }
    }
    s->next = m->sends;
    m->sends = s;
}

static void
send_simple(struct wse_mpi *m, int dest, uint32_t kind, uint64_t id)
{
    struct wse__mpi_hdr h = {.kind = kind, .id = id};
    send_msg(m, dest, &h, NULL, NULL);
}

/* Free the sends that have completed; true if some large one is still going. */
static bool
sends_progress(struct wse_mpi *m)
{
    bool large = false;
    for (struct wse__mpi_send **p = &m->sends; *p != NULL;) {
        struct wse__mpi_send *s = *p;
        int flag = 0;
        MPI_Testall(s->nreq, s->req, &flag, MPI_STATUSES_IGNORE);
        if (flag) {
            *p = s->next;
            free(s->ctrl);
            free(s->data);
            free(s);
        } else {
            large |= s->nreq > 1;
            p = &s->next;
        }
    }
    return large;
}

/* ------------------------------------------------------------------------- */
/* Tasks this rank runs */

static int
in_run(void *arg, void **result)
{
    struct wse__mpi_in *t = arg;
    (void)result;
    void *out = NULL;
    size_t out_len = 0;
    int rc = t->fn(t->in, t->in_len, &out, &out_len);
    if (rc == 0 && out != NULL && out_len > WSE_MPI_MAX_BYTES)
        rc = EMSGSIZE;
    if (rc != 0 || out == NULL) {
        free(out);
        out = NULL;
        out_len = 0;
    }
    t->out = out;
    t->out_len = out_len;
    return rc;
}

/* Done callback of a local run, on the thread that completed it (the worker, or
 * whoever cancelled it): hand it to the progress thread. t stays allocated until
 * the progress thread has taken it from m->dones. The mutex publishes t->out. */
static void
in_done_cb(wse_future *f, void *arg)
{
    struct wse__mpi_in *t = arg;
    struct wse_mpi *m = t->m;
    (void)f;
    pthread_mutex_lock(&m->lock);
    t->done_next = m->dones;
    m->dones = t;
    wse__mpi_wake(m);
    pthread_mutex_unlock(&m->lock);
}

static void out_finish(struct wse_mpi *m, struct wse__mpi_out *o, int code, bool cancelled,
                       void *bytes, size_t len);

/* Start a run of fn(in, in_len) for (src, id). Takes in. On failure to submit, the
 * task is answered at once with the error. */
static void
in_start(struct wse_mpi *m, int src, uint64_t id, wse_mpi_fn fn, void *in, size_t in_len,
         struct wse__mpi_out *local)
{
    int rc = ENOSYS;
    struct wse__mpi_in *t = NULL;
    if (fn != NULL) {
        t = xmalloc(sizeof(*t));
        memset(t, 0, sizeof(*t));
        t->m = m;
        t->src = src;
        t->id = id;
        t->fn = fn;
        t->in = in;
        t->in_len = in_len;
        rc = wse_submit(m->ex, in_run, t, &t->fut);
    }
    if (rc != 0) {
        free(t);
        free(in);
        if (local != NULL) {
            out_finish(m, local, rc, false, NULL, 0);
        } else {
            struct wse__mpi_hdr h = {.kind = WSE__MPI_RESULT, .code = rc, .id = id};
            send_msg(m, src, &h, NULL, NULL);
        }
        return;
    }
    if (local != NULL)
        local->local = t;
    in_insert(m, t);
    if (wse_future_on_done(t->fut, in_done_cb, t) != 0) {
        t->done_next = m->polled; /* ENOMEM: poll it instead */
        m->polled = t;
    }
}

/* A run has ended: answer it (or finish the local out) and free it. */
static void
in_finish(struct wse_mpi *m, struct wse__mpi_in *t)
{
    wse_state st = wse_future_state(t->fut);
    bool cancelled = st == WSE_CANCELLED;
    int code = st == WSE_FAILED ? wse_future_error(t->fut) : 0;
    in_remove(m, t);
    free(t->in);
    if (t->src == m->rank) {
        struct wse__mpi_out *o = out_find(m, t->id);
        if (o != NULL) {
            o->local = NULL;
            out_finish(m, o, code, cancelled, t->out, t->out_len);
        } else {
            free(t->out);
        }
    } else {
        struct wse__mpi_hdr h = {.kind = WSE__MPI_RESULT,
                                 .code = code,
                                 .id = t->id,
                                 .len = t->out_len,
                                 .flags = cancelled ? WSE__MPI_F_CANCELLED : 0};
        send_msg(m, t->src, &h, NULL, t->out);
    }
    wse_future_release(t->fut);
    free(t);
}

/* ------------------------------------------------------------------------- */
/* Tasks this rank submitted */

static void
out_maybe_free(struct wse_mpi *m, struct wse__mpi_out *o)
{
    if (!o->result_in || o->acks > 0)
        return;
    /* A CANCELLED promise has posted (or will post) o on m->cancels. */
    if (wse_future_state(o->promise) == WSE_CANCELLED && !o->cancel_seen)
        return;
    out_remove(m, o);
    wse_future_release(o->promise);
    free(o->in);
    free(o);
    m->n_live--;
}

/* The task has ended: CANCELLED, or DONE (code 0) with bytes (malloc'd or NULL) as its
 * result, or FAILED with code. Complete the promise, unless it was cancelled here. */
static void
out_finish(struct wse_mpi *m, struct wse__mpi_out *o, int code, bool cancelled, void *bytes,
           size_t len)
{
    o->result_in = true;
    if (o->placed >= 0) {
        m->in_flight[o->placed]--;
        if (o->placed != m->rank)
            m->n_remote--;
    }
    if (!cancelled && code == 0) {
        void *v = wse__mpi_result_new(bytes, len);
        if (v == NULL) {
            free(bytes);
            wse_promise_set_error(o->promise, ENOMEM);
        } else if (wse_promise_set_value(o->promise, v) != 0) {
            wse__mpi_result_free(v); /* cancelled here meanwhile */
        }
    } else {
        free(bytes);
        if (cancelled)
            wse_future_cancel(o->promise);
        else
            wse_promise_set_error(o->promise, code);
    }
    out_maybe_free(m, o);
}

static void
out_place(struct wse_mpi *m, struct wse__mpi_out *o, int rank)
{
    o->placed = rank;
    m->in_flight[rank]++;
    if (rank != m->rank)
        m->n_remote++;
    out_insert(m, o);
    void *in = o->in;
    o->in = NULL;
    if (rank == m->rank) {
        pthread_mutex_lock(&m->lock);
        const struct wse__mpi_fnent *e = wse__mpi_lookup(m, o->name, strlen(o->name));
        wse_mpi_fn fn = e != NULL ? e->fn : NULL;
        pthread_mutex_unlock(&m->lock);
        in_start(m, rank, o->id, fn, in, o->in_len, o);
        return;
    }
    struct wse__mpi_hdr h = {.kind = WSE__MPI_TASK,
                             .id = o->id,
                             .len = o->in_len,
                             .name_len = (uint32_t)strlen(o->name)};
    send_msg(m, rank, &h, o->name, in);
}

/* The least loaded rank with a free slot (this rank first on a tie, then round
 * robin), or -1. Loads compare as in_flight / slots by cross-multiplication. */
static int
pick_rank(struct wse_mpi *m)
{
    int best = -1;
    for (int k = -1; k < m->size; k++) {
        int r = k < 0 ? m->rank : (m->rr + k) % m->size;
        if (k >= 0 && r == m->rank)
            continue;
        if (m->in_flight[r] >= m->slots[r])
            continue;
        if (best < 0 ||
            (long)m->in_flight[r] * m->slots[best] < (long)m->in_flight[best] * m->slots[r])
            best = r;
    }
    if (best >= 0 && best != m->rank)
        m->rr = (best + 1) % m->size;
    return best;
}

static void
pool_dispatch(struct wse_mpi *m)
{
    while (m->pool_head != NULL) {
        int r = pick_rank(m);
        if (r < 0)
            return;
        struct wse__mpi_out *o = m->pool_head;
        m->pool_head = o->next;
        if (m->pool_head == NULL)
            m->pool_tail = NULL;
        out_place(m, o, r);
    }
}

static void
pool_remove(struct wse_mpi *m, const struct wse__mpi_out *o)
{
    struct wse__mpi_out *prev = NULL;
    for (struct wse__mpi_out *p = m->pool_head; p != NULL; prev = p, p = p->next) {
        if (p != o)
            continue;
        if (prev != NULL)
            prev->next = p->next;
        else
            m->pool_head = p->next;
        if (m->pool_tail == p)
            m->pool_tail = prev;
        return;
    }
}

static void
out_new(struct wse_mpi *m, struct wse__mpi_out *o)
{
    o->next = NULL;
    m->n_live++;
    if (wse_future_done(o->promise)) {
        /* Cancelled before we saw it: never sent; out_cancelled() frees it. */
        o->result_in = true;
        out_insert(m, o);
        return;
    }
    if (o->rank != WSE_MPI_ANY_RANK) {
        out_place(m, o, o->rank);
        return;
    }
    if (m->pool_tail != NULL)
        m->pool_tail->next = o;
    else
        m->pool_head = o;
    m->pool_tail = o;
}

/* The promise of o was cancelled (here, or on a CANCELLED result): stop the task. */
static void
out_cancelled(struct wse_mpi *m, struct wse__mpi_out *o)
{
    o->cancel_seen = true;
    if (o->placed < 0) {
        if (!o->result_in) {
            /* Still in the pool: it never runs. */
            pool_remove(m, o);
            o->result_in = true;
            out_insert(m, o); /* out_maybe_free() removes it again */
        }
    } else if (!o->result_in) {
        if (o->local != NULL) {
            wse_future_request_stop(o->local->fut);
        } else {
            send_simple(m, o->placed, WSE__MPI_CANCEL, o->id);
            o->acks++;
            m->n_remote++;
        }
    }
    out_maybe_free(m, o);
}

/* ------------------------------------------------------------------------- */
/* Receiving */

/* Receive the len bytes announced by hdr: inline after skip bytes of the control
 * message, or in data messages from src. malloc'd, or NULL when len is 0. */
static void *
recv_bytes(struct wse_mpi *m, int src, const struct wse__mpi_hdr *h, size_t skip)
{
    size_t len = (size_t)h->len;
    if (len == 0)
        return NULL;
    unsigned char *p = xmalloc(len);
    if (h->flags & WSE__MPI_F_INLINE) {
        memcpy(p, m->rxbuf + skip, len);
        return p;
    }
    for (size_t off = 0; off < len;) {
        size_t n = len - off < WSE__MPI_CHUNK ? len - off : WSE__MPI_CHUNK;
        MPI_Recv(p + off, (int)n, MPI_BYTE, src, WSE__MPI_TAG_DATA, m->comm, MPI_STATUS_IGNORE);
        off += n;
    }
    return p;
}

static void
on_task(struct wse_mpi *m, int src, const struct wse__mpi_hdr *h)
{
    const char *name = (const char *)m->rxbuf + sizeof(*h);
    pthread_mutex_lock(&m->lock);
    const struct wse__mpi_fnent *e = wse__mpi_lookup(m, name, h->name_len);
    wse_mpi_fn fn = e != NULL ? e->fn : NULL;
    pthread_mutex_unlock(&m->lock);
    void *in = recv_bytes(m, src, h, sizeof(*h) + h->name_len);
    in_start(m, src, h->id, fn, in, (size_t)h->len, NULL);
}

static void
on_result(struct wse_mpi *m, int src, const struct wse__mpi_hdr *h)
{
    void *bytes = recv_bytes(m, src, h, sizeof(*h));
    struct wse__mpi_out *o = out_find(m, h->id);
    if (o == NULL) { /* cannot happen: every out waits for its result */
        free(bytes);
        return;
    }
    out_finish(m, o, h->code, (h->flags & WSE__MPI_F_CANCELLED) != 0, bytes, (size_t)h->len);
}

static void
on_message(struct wse_mpi *m, int src, int count)
{
    struct wse__mpi_hdr h;
    if ((size_t)count < sizeof(h))
        return;
    memcpy(&h, m->rxbuf, sizeof(h));
    switch (h.kind) {
    case WSE__MPI_TASK:
        on_task(m, src, &h);
        break;
    case WSE__MPI_RESULT:
        on_result(m, src, &h);
        break;
    case WSE__MPI_CANCEL: {
        struct wse__mpi_in *t = in_find(m, src, h.id);
        if (t != NULL)
            wse_future_request_stop(t->fut);
        send_simple(m, src, WSE__MPI_CANCEL_ACK, h.id);
        break;
    }
    case WSE__MPI_CANCEL_ACK: {
        struct wse__mpi_out *o = out_find(m, h.id);
        if (o != NULL && o->acks > 0) {
            o->acks--;
            m->n_remote--;
            out_maybe_free(m, o);
        }
        break;
    }
    default:
        break;
    }
}

/* Receive what has arrived (at most a batch, so local work is not starved). */
static bool
recv_all(struct wse_mpi *m)
{
    bool any = false;
    for (int i = 0; i < 64; i++) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        MPI_Improbe(MPI_ANY_SOURCE, WSE__MPI_TAG_CTRL, m->comm, &flag, &msg, &st);
        if (!flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        MPI_Mrecv(m->rxbuf, (int)WSE__MPI_CTRL_MAX, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        on_message(m, st.MPI_SOURCE, count);
        any = true;
    }
    return any;
}

/* ------------------------------------------------------------------------- */
/* The loop */

/* Take what other threads handed over; true if there was anything. */
static bool
take_inbox(struct wse_mpi *m, bool *closing)
{
    pthread_mutex_lock(&m->lock);
    struct wse__mpi_out *posted = m->inbox_head;
    struct wse__mpi_out *cancels = m->cancels;
    struct wse__mpi_in *dones = m->dones;
    m->inbox_head = m->inbox_tail = NULL;
    m->cancels = m->cancels_tail = NULL;
    m->dones = NULL;
    *closing = m->closing;
    pthread_mutex_unlock(&m->lock);

    bool any = posted != NULL || cancels != NULL || dones != NULL;
    while (posted != NULL) {
        struct wse__mpi_out *o = posted;
        posted = o->next;
        out_new(m, o);
    }
    /* Runs before cancels: a cancel of a local placement needs o->local alive. */
    while (dones != NULL) {
        struct wse__mpi_in *t = dones;
        dones = t->done_next;
        in_finish(m, t);
    }
    while (cancels != NULL) {
        struct wse__mpi_out *o = cancels;
        cancels = o->cancel_next;
        out_cancelled(m, o);
    }
    for (struct wse__mpi_in **p = &m->polled; *p != NULL;) {
        struct wse__mpi_in *t = *p;
        if (wse_future_done(t->fut)) {
            *p = t->done_next;
            in_finish(m, t);
            any = true;
        } else {
            p = &t->done_next;
        }
    }
    return any;
}

static long long
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * After a quiet pass, by the time since the last activity (quiet_ns):
 *   < SPIN_NS          probe again at once (sched_yield between probes): a reply or
 *                      the next task of a burst is usually that close;
 *   later              sleep a quarter of quiet_ns, at least SLEEP_MIN_NS and at most
 *                      SLEEP_CAP_BUSY_NS while this rank awaits answers from other
 *                      ranks (a result arrives at most that late), or
 *                      SLEEP_CAP_IDLE_NS when it awaits none: local runs signal
 *                      m->cond when they end, so they need no probe (an idle rank
 *                      wakes 500 times a second; the cost is measured in
 *                      docs/performance.md).
 * So a message that comes t after the last one waits at most about t / 4 for its
 * probe, and a quiet rank's wake-ups thin out geometrically. A signal on m->cond
 * (local work handed over) ends any sleep at once.
 */
static void
backoff(struct wse_mpi *m, long long quiet_ns, bool awaiting)
{
    if (quiet_ns < SPIN_NS) {
        sched_yield();
        return;
    }
    long long cap = awaiting ? SLEEP_CAP_BUSY_NS : SLEEP_CAP_IDLE_NS;
    long long ns = quiet_ns / 4;
    if (ns < SLEEP_MIN_NS)
        ns = SLEEP_MIN_NS;
    if (ns > cap)
        ns = cap;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->lock);
    if (m->inbox_head == NULL && m->cancels == NULL && m->dones == NULL) {
        m->sleeping = true;
        pthread_cond_timedwait(&m->cond, &m->lock, &ts);
        m->sleeping = false;
    }
    pthread_mutex_unlock(&m->lock);
}

void *
wse__mpi_progress_main(void *arg)
{
    struct wse_mpi *m = arg;
    prctl(PR_SET_TIMERSLACK, 1000UL); /* ns: short sleeps stay short */
    pthread_setname_np(pthread_self(), "wse-mpi");

    pthread_mutex_lock(&m->lock);
    while (m->go == 0)
        pthread_cond_wait(&m->cond, &m->lock);
    int go = m->go;
    pthread_mutex_unlock(&m->lock);
    if (go < 0)
        return NULL;

    MPI_Request barrier = MPI_REQUEST_NULL;
    bool in_barrier = false;
    long long last_busy = mono_ns();
    for (;;) {
        bool closing = false;
        bool busy = take_inbox(m, &closing);
        pool_dispatch(m);
        busy |= recv_all(m);
        bool large = sends_progress(m);

        if (closing && !in_barrier && m->n_live == 0) {
            MPI_Ibarrier(m->comm, &barrier);
            in_barrier = true;
        }
        if (in_barrier) {
            int flag = 0;
            MPI_Test(&barrier, &flag, MPI_STATUS_IGNORE);
            if (flag)
                break;
        }

        if (busy) {
            last_busy = mono_ns();
        } else if (large) {
            sched_yield(); /* keep a large transfer moving */
        } else {
            /* Local runs and posts signal m->cond; only MPI must be probed for. */
            bool awaiting = m->n_remote > 0 || m->sends != NULL || in_barrier;
            backoff(m, mono_ns() - last_busy, awaiting);
        }
    }

    /* Every message was received (see the head comment), so these complete. */
    while (m->sends != NULL) {
        struct wse__mpi_send *s = m->sends;
        m->sends = s->next;
        MPI_Waitall(s->nreq, s->req, MPI_STATUSES_IGNORE);
        free(s->ctrl);
        free(s->data);
        free(s);
    }
    MPI_Comm_free(&m->comm);
    return NULL;
}

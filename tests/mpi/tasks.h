/*
 * Remote tasks shared by the MPI test programs (registered on every rank by
 * t_register_all()). Counters are per process; the programs add them up over the
 * ranks with MPI_Allreduce once the layer is destroyed.
 */
#ifndef WSE_MPI_TEST_TASKS_H
#define WSE_MPI_TEST_TASKS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mpi_test.h"

static atomic_int n_ran;      /* tasks that ran here (any name) */
static atomic_int n_saw_stop; /* tasks that saw wse_stop_requested() */
static atomic_int n_started;  /* "spin_stop" tasks that have started here */
static atomic_int n_counted;  /* "count" tasks that ran here */

static int
t_echo(const void *in, size_t in_len, void **out, size_t *out_len)
{
    atomic_fetch_add(&n_ran, 1);
    if (in_len == 0)
        return 0;
    *out = malloc(in_len);
    if (*out == NULL)
        return ENOMEM;
    memcpy(*out, in, in_len);
    *out_len = in_len;
    return 0;
}

static int
t_empty(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)in;
    (void)in_len;
    (void)out;
    (void)out_len;
    atomic_fetch_add(&n_ran, 1);
    return 0;
}

/* Fails with the int32 it is given. */
static int
t_fail(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)out;
    (void)out_len;
    int32_t code = 0;
    atomic_fetch_add(&n_ran, 1);
    if (in_len == sizeof(code))
        memcpy(&code, in, sizeof(code));
    return code;
}

/* Returns the rank it runs on (int32). */
static int
t_whoami(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)in;
    (void)in_len;
    atomic_fetch_add(&n_ran, 1);
    int32_t *r = malloc(sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    *r = test_rank;
    *out = r;
    *out_len = sizeof(*r);
    return 0;
}

/* Sleeps the int32 milliseconds it is given, in 1 ms steps; returns ECANCELED as
 * soon as a stop is requested; the result is the rank it ran on. */
static int
t_sleep_ms(const void *in, size_t in_len, void **out, size_t *out_len)
{
    int32_t ms = 0;
    atomic_fetch_add(&n_ran, 1);
    if (in_len == sizeof(ms))
        memcpy(&ms, in, sizeof(ms));
    double end = t_now() + ms * 1e-3;
    while (t_now() < end) {
        if (wse_stop_requested()) {
            atomic_fetch_add(&n_saw_stop, 1);
            return ECANCELED;
        }
        t_sleep(0.0005);
    }
    int32_t *r = malloc(sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    *r = test_rank;
    *out = r;
    *out_len = sizeof(*r);
    return 0;
}

/* Runs until a stop is requested (then ECANCELED), at most 60 s (then ETIME). */
static int
t_spin_stop(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)in;
    (void)in_len;
    (void)out;
    (void)out_len;
    atomic_fetch_add(&n_ran, 1);
    atomic_fetch_add(&n_started, 1);
    double end = t_now() + 60 * t_scale();
    while (t_now() < end) {
        if (wse_stop_requested()) {
            atomic_fetch_add(&n_saw_stop, 1);
            return ECANCELED;
        }
        t_sleep(0.0002);
    }
    return ETIME;
}

static int
t_count(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)in;
    (void)in_len;
    (void)out;
    (void)out_len;
    atomic_fetch_add(&n_ran, 1);
    atomic_fetch_add(&n_counted, 1);
    return 0;
}

/* Sleeps 50 ms without looking at stop requests, then returns 64 bytes. */
static int
t_ignore_stop(const void *in, size_t in_len, void **out, size_t *out_len)
{
    (void)in;
    (void)in_len;
    atomic_fetch_add(&n_ran, 1);
    t_sleep(0.05);
    *out = calloc(1, 64);
    if (*out == NULL)
        return ENOMEM;
    *out_len = 64;
    return 0;
}

static inline void
t_register_all(wse_mpi *m)
{
    T_EQ(wse_mpi_register(m, "echo", t_echo), 0);
    T_EQ(wse_mpi_register(m, "empty", t_empty), 0);
    T_EQ(wse_mpi_register(m, "fail", t_fail), 0);
    T_EQ(wse_mpi_register(m, "whoami", t_whoami), 0);
    T_EQ(wse_mpi_register(m, "sleep_ms", t_sleep_ms), 0);
    T_EQ(wse_mpi_register(m, "spin_stop", t_spin_stop), 0);
    T_EQ(wse_mpi_register(m, "count", t_count), 0);
    T_EQ(wse_mpi_register(m, "ignore_stop", t_ignore_stop), 0);
    MPI_Barrier(MPI_COMM_WORLD);
}

static inline int
t_sum(int local)
{
    int total = 0;
    MPI_Allreduce(&local, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    return total;
}

/* Submit name(int32 v) to rank and return the future. */
static inline wse_future *
t_submit_i32(wse_mpi *m, int rank, const char *name, int32_t v)
{
    wse_future *f = NULL;
    T_EQ(wse_mpi_submit(m, rank, name, &v, sizeof(v), &f), 0);
    T_ASSERT(f != NULL);
    return f;
}

/* The int32 result of a DONE remote future. */
static inline int32_t
t_result_i32(const wse_future *f)
{
    size_t len = 0;
    const void *p = wse_mpi_result(f, &len);
    T_ASSERT(p != NULL);
    T_EQ(len, sizeof(int32_t));
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

#endif /* WSE_MPI_TEST_TASKS_H */

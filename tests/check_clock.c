/*
 * The monotonic clock really holds. Run under libfaketime by
 * tests/check_clock.sh: FAKETIME_DONT_FAKE_MONOTONIC=1 (CLOCK_MONOTONIC left
 * alone), FAKETIME_NO_CACHE=1, and FAKETIME_TIMESTAMP_FILE naming a file whose
 * offset the test rewrites in the middle of a timed wait, so that the wall clock
 * (CLOCK_REALTIME) jumps by hours, forward or back, while the wait runs.
 *
 * Every timed wait must return ETIMEDOUT neither early (a forward jump must not
 * end it) nor hours late (a backward jump must not stretch it). Elapsed time is
 * measured with the clock_gettime system call itself, which libfaketime cannot
 * interpose; the test also checks that the wall clock really jumped.
 */
#include "wse_test.h"

#include <sys/syscall.h>

#define WAIT_S 0.3
#define JUMP_S (5 * 3600.0)
/* A wait returning this much after its deadline is "late": far below the jump,
 * far above scheduling noise on a loaded machine (scaled by wse_test_scale()). */
#define LATE_S wse_test_scale(2.0)

/* CLOCK_MONOTONIC straight from the kernel (not through libc / libfaketime). */
static double
kernel_now(clockid_t id)
{
    struct timespec ts;
    ck_assert_int_eq(syscall(SYS_clock_gettime, id, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CLOCK_REALTIME as the program sees it (faked). */
static double
wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
ts_file(void)
{
    const char *p = getenv("FAKETIME_TIMESTAMP_FILE");
    ck_assert_msg(p != NULL && getenv("LD_PRELOAD") != NULL,
                  "run under libfaketime: tests/check_clock.sh");
    return p;
}

static void
set_offset(const char *spec)
{
    FILE *fp = fopen(ts_file(), "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "%s\n", spec);
    ck_assert_int_eq(fclose(fp), 0);
}

/* Rewrites the faketime offset after usec microseconds, from its own thread. */
struct jumper {
    pthread_t thread;
    const char *spec;
    unsigned usec;
    int done;
};

static void *
jumper_main(void *arg)
{
    struct jumper *j = arg;
    usleep(j->usec);
    FILE *fp = fopen(ts_file(), "w");
    if (fp != NULL) {
        fprintf(fp, "%s\n", j->spec);
        fclose(fp);
        flag_set(&j->done);
    }
    return NULL;
}

/* Which waits: 0 wse_future_wait, 1 wse_wait (ALL, 12 futures: the heap block),
 * 2 wse_wait_until, 3 a worker's wse_future_wait (parks with a deadline). */
enum { WAY_FUTURE_WAIT, WAY_WAIT_MANY, WAY_WAIT_UNTIL, WAY_WORKER, N_WAYS };

struct worker_wait {
    wse_future *target;
    double elapsed;
    int rc;
};

static int
task_timed_wait(void *arg, void **result)
{
    (void)result;
    struct worker_wait *w = arg;
    double t0 = kernel_now(CLOCK_MONOTONIC);
    w->rc = wse_future_wait(w->target, WAIT_S);
    w->elapsed = kernel_now(CLOCK_MONOTONIC) - t0;
    return 0;
}

static void
timed_wait_across_jump(const char *jump, double expect_jump)
{
    set_offset("+0");
    struct blocked b;
    blocked_start(&b, 1); /* the gate future stays RUNNING */
    wse_executor *helper = make_executor(1);
    int runs = 0;

    for (int way = 0; way < N_WAYS; way++) {
        set_offset("+0");
        wse_future *fs[12];
        for (int i = 0; i < 12; i++)
            fs[i] = make_pending(&b, &runs);
        struct worker_wait ww = {.target = b.gate_f[0], .rc = -1};
        struct jumper j = {.spec = jump, .usec = 100000};

        double wall0 = wall_now();
        double t0 = kernel_now(CLOCK_MONOTONIC);
        ck_assert_int_eq(pthread_create(&j.thread, NULL, jumper_main, &j), 0);
        int rc;
        double elapsed;
        if (way == WAY_FUTURE_WAIT) {
            rc = wse_future_wait(fs[0], WAIT_S);
        } else if (way == WAY_WAIT_MANY) {
            size_t nd = SENTINEL_N;
            rc = wse_wait(fs, 12, WAIT_S, WSE_ALL_COMPLETED, NULL, &nd);
            ck_assert_uint_eq(nd, 0);
        } else if (way == WAY_WAIT_UNTIL) {
            struct timespec dl = mono_in(WAIT_S);
            rc = wse_wait_until(fs, 3, &dl, WSE_FIRST_COMPLETED, NULL, NULL);
        } else {
            wse_future *wf = NULL;
            ck_assert_int_eq(wse_submit(helper, task_timed_wait, &ww, &wf), 0);
            ck_assert_int_eq(wse_future_wait(wf, wse_test_scale(60.0)), 0);
            wse_future_release(wf);
            rc = ww.rc;
        }
        elapsed = way == WAY_WORKER ? ww.elapsed : kernel_now(CLOCK_MONOTONIC) - t0;
        ck_assert_int_eq(pthread_join(j.thread, NULL), 0);
        ck_assert(flag_get(&j.done));
        double wall1 = wall_now();

        ck_assert_msg(rc == ETIMEDOUT, "way %d: rc %d, want ETIMEDOUT", way, rc);
        ck_assert_msg(elapsed >= WAIT_S - 0.001, "way %d: returned early after %.3f s", way,
                      elapsed);
        ck_assert_msg(elapsed < WAIT_S + LATE_S, "way %d: returned late after %.3f s", way,
                      elapsed);
        /* The wall clock really jumped (by the offset, give or take the real
         * time the step took). */
        double moved = wall1 - wall0;
        ck_assert_msg(fabs(moved - expect_jump) < wse_test_scale(60.0),
                      "way %d: the wall clock moved %.0f s, want %.0f s (is libfaketime "
                      "active?)",
                      way, moved, expect_jump);
        printf("clock: %-5s way %d: wait returned ETIMEDOUT after %.3f s (deadline %.1f s) "
               "while CLOCK_REALTIME moved %+.0f s\n",
               jump, way, elapsed, WAIT_S, moved);
        fflush(stdout);
        for (int i = 0; i < 12; i++)
            ck_assert_int_eq(wse_future_state(fs[i]), WSE_PENDING);
        release_all(fs, 12);
    }
    set_offset("+0");
    ck_assert_int_eq(wse_executor_destroy(helper), 0);
    blocked_finish(&b);
    ck_assert_int_eq(runs, N_WAYS * 12);
}

START_TEST(clock_timed_wait_wall_clock_jumps_forward)
{
    timed_wait_across_jump("+5h", JUMP_S);
}
END_TEST

START_TEST(clock_timed_wait_wall_clock_jumps_back)
{
    timed_wait_across_jump("-5h", -JUMP_S);
}
END_TEST

/* The monotonic clock the library and the test see is not faked. */
START_TEST(clock_monotonic_not_faked)
{
    set_offset("+5h");
    double real = kernel_now(CLOCK_MONOTONIC);
    double seen = now_s();
    double wall = wall_now();
    double kwall = kernel_now(CLOCK_REALTIME);
    set_offset("+0");
    ck_assert_msg(fabs(seen - real) < wse_test_scale(1.0), "CLOCK_MONOTONIC is faked (%.0f s off)",
                  seen - real);
    ck_assert_msg(fabs(wall - kwall - JUMP_S) < wse_test_scale(60.0),
                  "CLOCK_REALTIME is not faked (%.0f s off): libfaketime not active?",
                  wall - kwall);
}
END_TEST

/* The preloaded libfaketime itself: a plain pthread_cond_timedwait on a
 * CLOCK_MONOTONIC condition variable must not time out early. libfaketime 0.9.10
 * (Debian bookworm) converts the deadline with the faked wall clock even under
 * FAKETIME_DONT_FAKE_MONOTONIC=1 and returns ETIMEDOUT at once (fixed upstream,
 * wolfcw/libfaketime PR #503). When this fails, the failures of the wait tests
 * above come from the tool, unless the library re-checks its deadline. */
START_TEST(clock_faketime_condvar_probe)
{
    pthread_condattr_t a;
    pthread_cond_t c;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    ck_assert_int_eq(pthread_condattr_init(&a), 0);
    ck_assert_int_eq(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), 0);
    ck_assert_int_eq(pthread_cond_init(&c, &a), 0);
    struct timespec dl = mono_in(0.05);
    double t0 = kernel_now(CLOCK_MONOTONIC);
    ck_assert_int_eq(pthread_mutex_lock(&m), 0);
    int rc = 0;
    while (rc == 0)
        rc = pthread_cond_timedwait(&c, &m, &dl);
    ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
    double el = kernel_now(CLOCK_MONOTONIC) - t0;
    pthread_cond_destroy(&c);
    pthread_condattr_destroy(&a);
    ck_assert_int_eq(rc, ETIMEDOUT);
    ck_assert_msg(el >= 0.049,
                  "libfaketime's pthread_cond_timedwait(CLOCK_MONOTONIC) timed "
                  "out after %.3f s of 0.05 s: the preloaded libfaketime is "
                  "broken (see the comment)",
                  el);
}
END_TEST

static Suite *
clock_suite(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("faketime");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, clock_monotonic_not_faked);
    tcase_add_test(tc, clock_faketime_condvar_probe);
    tcase_add_test(tc, clock_timed_wait_wall_clock_jumps_forward);
    tcase_add_test(tc, clock_timed_wait_wall_clock_jumps_back);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(clock_suite());
}

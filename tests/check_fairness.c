/*
 * Fairness for work from outside: tasks submitted from outside the executor
 * start in submission order. W workers are held by the first W tasks; k more
 * wait in the queues. Each time one running task is released, the task that
 * starts next must be the oldest still waiting, whichever worker frees up and
 * however the tasks were submitted (one at a time, in one batch, a big batch,
 * from two threads in turn).
 *
 * WSE_FAIRNESS_REPS sets the repetitions per worker count (the stress entry
 * runs many more).
 */
#include "wse_test.h"

#define MAX_TASKS 1104

struct fair {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int order[MAX_TASKS]; /* task indices in the order they started */
    int n_started;
    bool released[MAX_TASKS];
};

struct fair_arg {
    struct fair *fa;
    int index;
};

/* Record the start, then hold the worker until the test releases this task. */
static int
fair_task(void *arg, void **result)
{
    struct fair_arg *a = arg;
    struct fair *fa = a->fa;

    pthread_mutex_lock(&fa->mutex);
    if (fa->n_started < MAX_TASKS)
        fa->order[fa->n_started] = a->index;
    fa->n_started++;
    pthread_cond_broadcast(&fa->cond);
    while (!fa->released[a->index])
        pthread_cond_wait(&fa->cond, &fa->mutex);
    pthread_mutex_unlock(&fa->mutex);
    *result = NULL;
    return 0;
}

/* Wait until n tasks have started; fails the test after a (scaled) limit. */
static void
wait_started(struct fair *fa, int n)
{
    struct timespec limit;
    double deadline = now_s() + wse_test_scale(WSE_TEST_SPIN_LIMIT);

    pthread_mutex_lock(&fa->mutex);
    while (fa->n_started < n) {
        ck_assert_msg(now_s() < deadline, "only %d of %d tasks started", fa->n_started, n);
        clock_gettime(CLOCK_REALTIME, &limit);
        limit.tv_nsec += 10 * 1000 * 1000;
        if (limit.tv_nsec >= 1000000000L) {
            limit.tv_nsec -= 1000000000L;
            limit.tv_sec++;
        }
        pthread_cond_timedwait(&fa->cond, &fa->mutex, &limit);
    }
    pthread_mutex_unlock(&fa->mutex);
}

static void
release(struct fair *fa, int index)
{
    pthread_mutex_lock(&fa->mutex);
    fa->released[index] = true;
    pthread_cond_broadcast(&fa->cond);
    pthread_mutex_unlock(&fa->mutex);
}

static int
started_at(struct fair *fa, int pos)
{
    int v;

    pthread_mutex_lock(&fa->mutex);
    v = fa->order[pos];
    pthread_mutex_unlock(&fa->mutex);
    return v;
}

enum how { ONE_BY_ONE, BATCH, TWO_THREADS };

struct submitter {
    wse_executor *ex;
    struct fair_arg *args;
    int from;
    int to; /* submits [from, to) */
    int step;
    int *turn; /* the next index to submit; threads alternate */
    int rc;
};

/* Submit the indices of this thread (from, from + step, ...) when their turn
 * comes, so that the submission order is 0, 1, 2, ... across two threads. */
static void *
submitter_main(void *p)
{
    struct submitter *s = p;
    int i;

    for (i = s->from; i < s->to; i += s->step) {
        while (__atomic_load_n(s->turn, __ATOMIC_ACQUIRE) != i)
            sched_yield();
        s->rc |= wse_submit(s->ex, fair_task, &s->args[i], NULL);
        __atomic_store_n(s->turn, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void
submit_all(wse_executor *ex, struct fair_arg *args, int n, enum how how, wse_future **futures)
{
    static void *argv[MAX_TASKS];
    struct submitter sub[2];
    pthread_t thread;
    int turn = 0;
    int i;

    switch (how) {
    case ONE_BY_ONE:
        for (i = 0; i < n; i++)
            ck_assert_int_eq(wse_submit(ex, fair_task, &args[i], &futures[i]), 0);
        break;
    case BATCH:
        for (i = 0; i < n; i++)
            argv[i] = &args[i];
        ck_assert_int_eq(wse_submit_batch(ex, fair_task, argv, (size_t)n, futures), 0);
        break;
    case TWO_THREADS:
        for (i = 0; i < 2; i++)
            sub[i] = (struct submitter){ex, args, i, n, 2, &turn, 0};
        ck_assert_int_eq(pthread_create(&thread, NULL, submitter_main, &sub[1]), 0);
        submitter_main(&sub[0]);
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        ck_assert_int_eq(sub[0].rc | sub[1].rc, 0);
        for (i = 0; i < n; i++)
            futures[i] = NULL;
        break;
    }
}

/* One round: W workers, W + k tasks from outside, released one at a time in
 * an order drawn from seed. */
static void
one_round(unsigned workers, int k, enum how how, unsigned seed)
{
    static struct fair fa;
    static struct fair_arg args[MAX_TASKS];
    static wse_future *futures[MAX_TASKS];
    static bool freed[MAX_TASKS];
    wse_options o = {0};
    wse_executor *ex;
    int n = (int)workers + k;
    static int running[MAX_TASKS]; /* started and not released */
    int n_running;
    int i;
    int j;
    int pick;
    unsigned seed0 = seed;

    ck_assert_int_le(n, MAX_TASKS);
    memset(&fa, 0, sizeof fa);
    memset(freed, 0, sizeof freed);
    ck_assert_int_eq(pthread_mutex_init(&fa.mutex, NULL), 0);
    ck_assert_int_eq(pthread_cond_init(&fa.cond, NULL), 0);
    for (i = 0; i < n; i++)
        args[i] = (struct fair_arg){&fa, i};
    o.workers = workers;
    ck_assert_int_eq(wse_executor_create(&ex, &o), 0);

    submit_all(ex, args, n, how, futures);
    /* The first W to start are the first W submitted, in some order. */
    wait_started(&fa, (int)workers);
    for (i = 0; i < (int)workers; i++) {
        running[i] = started_at(&fa, i);
        ck_assert_msg(running[i] < (int)workers,
                      "%u workers: task %d of %d started among the first %u", workers, running[i],
                      n, workers);
    }
    n_running = (int)workers;
    for (j = 0; j < k; j++) {
        pick = (int)(rand_r(&seed) % (unsigned)n_running);
        release(&fa, running[pick]);
        freed[running[pick]] = true;
        wait_started(&fa, (int)workers + j + 1);
        /* Every task before W + j has started: W + j is the oldest waiting. */
        running[pick] = started_at(&fa, (int)workers + j);
        ck_assert_msg(running[pick] == (int)workers + j,
                      "%u workers, round seed %u: released one of %d running, task %d started "
                      "while task %d (older) was waiting",
                      workers, seed0, n_running, running[pick], (int)workers + j);
    }
    for (i = 0; i < n; i++) {
        if (!freed[i])
            release(&fa, i);
    }
    ck_assert_int_eq(wse_shutdown(ex, true, false), 0);
    if (how != TWO_THREADS) {
        for (i = 0; i < n; i++) {
            ck_assert_int_eq(wse_future_state(futures[i]), WSE_DONE);
            wse_future_release(futures[i]);
        }
    }
    ck_assert_int_eq(fa.n_started, n);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
    pthread_cond_destroy(&fa.cond);
    pthread_mutex_destroy(&fa.mutex);
}

static int
reps(void)
{
    const char *s = getenv("WSE_FAIRNESS_REPS");
    int v = s != NULL ? atoi(s) : 0;
    return v > 0 ? v : 20;
}

static void
rounds(enum how how, int k)
{
    unsigned w;
    int r;

    for (w = 1; w <= 4; w++) {
        for (r = 0; r < reps(); r++)
            one_round(w, k, how, (unsigned)(r * 7919 + (int)w));
    }
}

START_TEST(oldest_waiting_starts_next)
{
    rounds(ONE_BY_ONE, 6);
}
END_TEST

START_TEST(oldest_waiting_starts_next_in_a_batch)
{
    rounds(BATCH, 6);
}
END_TEST

START_TEST(oldest_waiting_starts_next_from_two_threads)
{
    rounds(TWO_THREADS, 6);
}
END_TEST

/* More tasks waiting than the injection queue's lock-free front holds (1,024),
 * submitted in one big batch (which queues its futures in chunks): the order
 * holds across the front's refills and the chunks. */
START_TEST(oldest_waiting_starts_next_in_a_big_batch)
{
    unsigned w;

    for (w = 1; w <= 2; w++)
        one_round(w, 1100, BATCH, 17u * w);
}
END_TEST

static Suite *
fairness_suite(void)
{
    Suite *s = suite_create("fairness");
    TCase *tc = tcase_create("order");

    tcase_set_timeout(tc, WSE_TEST_TIMEOUT * 4);
    tcase_add_test(tc, oldest_waiting_starts_next);
    tcase_add_test(tc, oldest_waiting_starts_next_in_a_batch);
    tcase_add_test(tc, oldest_waiting_starts_next_from_two_threads);
    tcase_add_test(tc, oldest_waiting_starts_next_in_a_big_batch);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(fairness_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

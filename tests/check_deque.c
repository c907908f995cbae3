/*
 * Check suite for the Chase-Lev deque (src/deque.h), tested alone: the owner's
 * LIFO end, the thieves' FIFO end, empty cases, growth, a model-checked random
 * sequence, and stresses where one owner pushes and pops while three thieves
 * steal, every item checked to be taken exactly once.
 *
 * Items are index + 1 cast to a pointer (never NULL).
 * WSE_STRESS_ITEMS sets the stress size (default 2,000,000; 200,000 under TSan or ASan).
 */
#include "deque.h"
#include "wse_test.h"

#define ITEM(i) ((void *)(uintptr_t)((i) + 1))
#define INDEX(p) ((uintptr_t)(p)-1)

/* ---- Single thread ------------------------------------------------------------ */

START_TEST(deque_pop_fresh_returns_null)
{
    struct wse__deque dq;
    ck_assert_int_eq(wse__deque_init(&dq, 8), 0);
    ck_assert_ptr_null(wse__deque_pop(&dq));
    ck_assert_ptr_null(wse__deque_pop(&dq));
    ck_assert_int_eq(wse__deque_size_hint(&dq), 0);
    /* Still a working deque after pops on empty (bottom must not drift). */
    ck_assert_int_eq(wse__deque_push(&dq, ITEM(7)), 0);
    ck_assert_int_eq(wse__deque_size_hint(&dq), 1);
    ck_assert_ptr_eq(wse__deque_pop(&dq), ITEM(7));
    ck_assert_ptr_null(wse__deque_pop(&dq));
    wse__deque_destroy(&dq);
}
END_TEST

START_TEST(deque_steal_fresh_returns_empty)
{
    struct wse__deque dq;
    void *item = NULL;
    ck_assert_int_eq(wse__deque_init(&dq, 8), 0);
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
    ck_assert_int_eq(wse__deque_push(&dq, ITEM(3)), 0);
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_STOLEN);
    ck_assert_ptr_eq(item, ITEM(3));
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
    wse__deque_destroy(&dq);
}
END_TEST

START_TEST(deque_empty_after_drain_both_ends)
{
    struct wse__deque dq;
    void *item = NULL;
    ck_assert_int_eq(wse__deque_init(&dq, 2), 0);
    for (int round = 0; round < 100; round++) {
        ck_assert_int_eq(wse__deque_push(&dq, ITEM(round)), 0);
        if (round % 2) {
            ck_assert_ptr_eq(wse__deque_pop(&dq), ITEM(round));
        } else {
            ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_STOLEN);
            ck_assert_ptr_eq(item, ITEM(round));
        }
        ck_assert_ptr_null(wse__deque_pop(&dq));
        ck_assert_ptr_null(wse__deque_pop(&dq));
        ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
        ck_assert_int_eq(wse__deque_size_hint(&dq), 0);
    }
    wse__deque_destroy(&dq);
}
END_TEST

START_TEST(deque_init_small_capacities)
{
    static const size_t caps[] = {0, 1, 2, 3, 5, 1000};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        struct wse__deque dq;
        ck_assert_int_eq(wse__deque_init(&dq, caps[c]), 0);
        for (int i = 0; i < 10; i++)
            ck_assert_int_eq(wse__deque_push(&dq, ITEM(i)), 0);
        for (int i = 9; i >= 0; i--)
            ck_assert_ptr_eq(wse__deque_pop(&dq), ITEM(i));
        ck_assert_ptr_null(wse__deque_pop(&dq));
        wse__deque_destroy(&dq);
    }
}
END_TEST

START_TEST(deque_pop_is_lifo)
{
    struct wse__deque dq;
    ck_assert_int_eq(wse__deque_init(&dq, 256), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(wse__deque_push(&dq, ITEM(i)), 0);
    ck_assert_int_eq(wse__deque_size_hint(&dq), 200);
    for (int i = 199; i >= 0; i--)
        ck_assert_ptr_eq(wse__deque_pop(&dq), ITEM(i));
    ck_assert_ptr_null(wse__deque_pop(&dq));
    wse__deque_destroy(&dq);
}
END_TEST

START_TEST(deque_steal_is_fifo)
{
    struct wse__deque dq;
    void *item;
    ck_assert_int_eq(wse__deque_init(&dq, 256), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(wse__deque_push(&dq, ITEM(i)), 0);
    for (int i = 0; i < 200; i++) {
        item = NULL;
        ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_STOLEN);
        ck_assert_ptr_eq(item, ITEM(i));
        ck_assert_int_eq(wse__deque_size_hint(&dq), 199 - i);
    }
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
    wse__deque_destroy(&dq);
}
END_TEST

START_TEST(deque_growth_from_two_preserves_items)
{
    enum { N = 1 << 17 }; /* 16 doublings from capacity 2 */
    struct wse__deque dq;
    void *item;
    ck_assert_int_eq(wse__deque_init(&dq, 2), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(wse__deque_push(&dq, ITEM(i)), 0);
    ck_assert_int_eq(wse__deque_size_hint(&dq), N);
    /* Oldest half from the top, in order; newest half from the bottom, reversed. */
    for (int i = 0; i < N / 2; i++) {
        ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_STOLEN);
        ck_assert_ptr_eq(item, ITEM(i));
    }
    for (int i = N - 1; i >= N / 2; i--)
        ck_assert_ptr_eq(wse__deque_pop(&dq), ITEM(i));
    ck_assert_ptr_null(wse__deque_pop(&dq));
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
    wse__deque_destroy(&dq);
}
END_TEST

/* Growth while the live range wraps around the end of the circular array. */
START_TEST(deque_growth_while_wrapped)
{
    struct wse__deque dq;
    void *item;
    int next_in = 0, next_out = 0;
    ck_assert_int_eq(wse__deque_init(&dq, 4), 0);
    for (int round = 0; round < 12; round++) {
        /* Advance top so the occupied slots wrap, then overfill to force growth. */
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(wse__deque_push(&dq, ITEM(next_in++)), 0);
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_STOLEN);
            ck_assert_ptr_eq(item, ITEM(next_out++));
        }
        for (int k = 0; k < (4 << (round % 6)); k++)
            ck_assert_int_eq(wse__deque_push(&dq, ITEM(next_in++)), 0);
    }
    ck_assert_int_eq(wse__deque_size_hint(&dq), next_in - next_out);
    while (next_out < next_in) {
        ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_STOLEN);
        ck_assert_ptr_eq(item, ITEM(next_out++));
    }
    ck_assert_int_eq(wse__deque_steal(&dq, &item), WSE__DEQUE_EMPTY);
    ck_assert_ptr_null(wse__deque_pop(&dq));
    wse__deque_destroy(&dq);
}
END_TEST

/* Random push/pop/steal against a reference model (an array with two ends). */
START_TEST(deque_interleaved_matches_model)
{
    enum { OPS = 200000 };
    uintptr_t *model = malloc(sizeof *model * OPS);
    ck_assert_ptr_nonnull(model);
    size_t head = 0, tail = 0; /* model[head .. tail) oldest .. newest */
    struct wse__deque dq;
    ck_assert_int_eq(wse__deque_init(&dq, 2), 0);
    uint32_t rnd = 12345;
    uintptr_t next = 0;
    for (int op = 0; op < OPS; op++) {
        rnd = rnd * 1103515245u + 12345u;
        unsigned r = (rnd >> 16) % 10;
        if (r < 5) {
            ck_assert_int_eq(wse__deque_push(&dq, ITEM(next)), 0);
            model[tail++] = next++;
        } else if (r < 8) {
            void *p = wse__deque_pop(&dq);
            if (head == tail) {
                ck_assert_ptr_null(p);
            } else {
                ck_assert_ptr_eq(p, ITEM(model[--tail]));
            }
        } else {
            void *p = NULL;
            enum wse__deque_steal_result sr = wse__deque_steal(&dq, &p);
            if (head == tail) {
                ck_assert_int_eq(sr, WSE__DEQUE_EMPTY);
            } else {
                ck_assert_int_eq(sr, WSE__DEQUE_STOLEN);
                ck_assert_ptr_eq(p, ITEM(model[head++]));
            }
        }
        ck_assert_int_eq(wse__deque_size_hint(&dq), (int64_t)(tail - head));
        if (head == tail)
            head = tail = 0; /* keep the model compact */
    }
    wse__deque_destroy(&dq);
    free(model);
}
END_TEST

/* ---- Concurrent stress -------------------------------------------------------- */

#define THIEVES 3

static struct wse__deque g_dq;
static unsigned char *g_taken; /* per-item take count */
static long g_items;
static long g_total;     /* items taken, all threads */
static long g_bad;       /* items outside [0, g_items) */
static long g_aborts;    /* WSE__DEQUE_ABORT results seen */
static long g_stolen;    /* items taken by thieves */
static int g_owner_done; /* owner pushed everything and drained its end */
static pthread_barrier_t g_start;

static void
take(void *item)
{
    uintptr_t idx = INDEX(item);
    if (item == NULL || idx >= (uintptr_t)g_items) {
        __atomic_add_fetch(&g_bad, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_add_fetch(&g_taken[idx], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_total, 1, __ATOMIC_RELAXED);
}

static void *
thief_main(void *arg)
{
    (void)arg;
    long mine = 0, aborts = 0;
    pthread_barrier_wait(&g_start);
    for (;;) {
        void *item = NULL;
        enum wse__deque_steal_result r = wse__deque_steal(&g_dq, &item);
        if (r == WSE__DEQUE_STOLEN) {
            take(item);
            mine++;
        } else if (r == WSE__DEQUE_ABORT) {
            aborts++;
        } else if (flag_get(&g_owner_done)) {
            /* The owner drained the deque before setting the flag and nobody
             * else pushes: nothing can appear any more. */
            break;
        } else {
            sched_yield(); /* leave the owner a CPU on small machines */
        }
    }
    __atomic_add_fetch(&g_stolen, mine, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_aborts, aborts, __ATOMIC_RELAXED);
    return NULL;
}

/* Owner, mode 0: random bursts of pushes, each followed by some pops.
 * Mode 1: push one, pop one (the last-item race with every thief). */
static void
owner_run(int mode)
{
    uint32_t rnd = 987654321u;
    long i = 0;
    while (i < g_items) {
        rnd = rnd * 1103515245u + 12345u;
        long burst = mode == 0 ? 1 + (long)((rnd >> 16) % 64) : 1;
        if (burst > g_items - i)
            burst = g_items - i;
        for (long k = 0; k < burst; k++)
            ck_assert_int_eq(wse__deque_push(&g_dq, ITEM(i + k)), 0);
        i += burst;
        long pops = mode == 0 ? (long)((rnd >> 8) % (unsigned)(burst + 1)) : 1;
        for (long k = 0; k < pops; k++) {
            void *p = wse__deque_pop(&g_dq);
            if (p == NULL)
                break;
            take(p);
        }
    }
    void *p;
    while ((p = wse__deque_pop(&g_dq)) != NULL)
        take(p);
    flag_set(&g_owner_done);
}

static void
stress(int mode, long items)
{
    g_items = items;
    g_total = g_bad = g_aborts = g_stolen = 0;
    g_owner_done = 0;
    g_taken = calloc((size_t)items, 1);
    ck_assert_ptr_nonnull(g_taken);
    ck_assert_int_eq(wse__deque_init(&g_dq, 2), 0);
    ck_assert_int_eq(pthread_barrier_init(&g_start, NULL, THIEVES + 1), 0);

    pthread_t th[THIEVES];
    for (int t = 0; t < THIEVES; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, thief_main, NULL), 0);
    pthread_barrier_wait(&g_start);
    owner_run(mode);
    for (int t = 0; t < THIEVES; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);

    ck_assert_int_eq(g_bad, 0);
    ck_assert_int_eq(g_total, items);
    for (long i = 0; i < items; i++) {
        if (g_taken[i] != 1)
            ck_abort_msg("item %ld taken %d times", i, (int)g_taken[i]);
    }
    ck_assert_int_eq(wse__deque_size_hint(&g_dq), 0);
    void *item;
    ck_assert_int_eq(wse__deque_steal(&g_dq, &item), WSE__DEQUE_EMPTY);
    ck_assert_ptr_null(wse__deque_pop(&g_dq));

    pthread_barrier_destroy(&g_start);
    wse__deque_destroy(&g_dq);
    free(g_taken);
    g_taken = NULL;
}

/* Sanitizers run the stress several times slower: a tenth by default. */
#if WSE__TSAN || defined(__SANITIZE_ADDRESS__)
#define STRESS_ITEMS_DEFAULT 200000
#else
#define STRESS_ITEMS_DEFAULT 2000000
#endif

static long
stress_items(void)
{
    return env_long("WSE_STRESS_ITEMS", STRESS_ITEMS_DEFAULT);
}

START_TEST(deque_stress_owner_bursts_three_thieves)
{
    stress(0, stress_items());
}
END_TEST

START_TEST(deque_stress_last_item_race_three_thieves)
{
    stress(1, stress_items() / 4);
}
END_TEST

static Suite *
deque_suite(void)
{
    Suite *s = suite_create("deque");

    TCase *tc = tcase_create("single_thread");
    tcase_set_timeout(tc, WSE_TEST_TIMEOUT);
    tcase_add_test(tc, deque_pop_fresh_returns_null);
    tcase_add_test(tc, deque_steal_fresh_returns_empty);
    tcase_add_test(tc, deque_empty_after_drain_both_ends);
    tcase_add_test(tc, deque_init_small_capacities);
    tcase_add_test(tc, deque_pop_is_lifo);
    tcase_add_test(tc, deque_steal_is_fifo);
    tcase_add_test(tc, deque_growth_from_two_preserves_items);
    tcase_add_test(tc, deque_growth_while_wrapped);
    tcase_add_test(tc, deque_interleaved_matches_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, deque_stress_owner_bursts_three_thieves);
    tcase_add_test(tc, deque_stress_last_item_race_three_thieves);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return run_suite(deque_suite());
}

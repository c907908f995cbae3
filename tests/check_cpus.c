/*
 * The default worker count (src/cpus.c): the affinity mask, a cgroup v2 CPU quota
 * read from a fake cgroup directory, and WSE_WORKERS. Each test restores the
 * environment, the cgroup root and the affinity mask it changed.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"
#include "wsexec.h"

/* CPUs in this process's affinity mask, counted here independently of cpus.c. */
static unsigned
mask_cpus(void)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
    return (unsigned)CPU_COUNT(&set);
}

static unsigned
min_u(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

/* A fresh fake cgroup root; cpu.max holds text (NULL: no file). */
static char fake_root[64];

static void
fake_cgroup(const char *text)
{
    char path[128];

    if (fake_root[0] == '\0') {
        strcpy(fake_root, "/tmp/wse_cgroup_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(fake_root));
    }
    snprintf(path, sizeof(path), "%s/cpu.max", fake_root);
    unlink(path);
    if (text != NULL) {
        FILE *fp = fopen(path, "w");
        ck_assert_ptr_nonnull(fp);
        ck_assert_int_ge(fputs(text, fp), 0);
        ck_assert_int_eq(fclose(fp), 0);
    }
    wse__cpus_set_cgroup_root(fake_root);
}

/* The process's own cgroup path ("0::PATH" in /proc/self/cgroup), "/" if none. */
static char own_path[4096];

static const char *
own_cgroup(void)
{
    FILE *fp = fopen("/proc/self/cgroup", "r");
    char line[sizeof(own_path) + 8];

    strcpy(own_path, "/");
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, "0::/", 4) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(own_path, sizeof(own_path), "%.4095s", line + 3);
            break;
        }
    }
    if (fp != NULL)
        fclose(fp);
    return own_path;
}

/* Write text to FAKE_ROOT/rel/cpu.max, creating the directories. */
static void
write_cpu_max(const char *rel, const char *text)
{
    char cmd[16384];
    FILE *fp;

    snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s'", fake_root, rel);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s%s/cpu.max", fake_root, rel);
    fp = fopen(cmd, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_ge(fputs(text, fp), 0);
    ck_assert_int_eq(fclose(fp), 0);
}

static void
teardown(void)
{
    char cmd[128];

    wse__cpus_set_cgroup_root(NULL);
    unsetenv("WSE_WORKERS");
    if (fake_root[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_root);
        ck_assert_int_eq(system(cmd), 0);
        fake_root[0] = '\0';
    }
}

static void
setup(void)
{
    unsetenv("WSE_WORKERS");
}

/* No cpu.max, "max P": no limit, the affinity mask counts. */
START_TEST(cpus_no_quota)
{
    unsigned n = mask_cpus();

    fake_cgroup(NULL);
    ck_assert_uint_eq(wse__cpus_default(1024), n);
    fake_cgroup("max 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), n);
    fake_cgroup("max 100000");
    ck_assert_uint_eq(wse__cpus_default(1024), n);
}
END_TEST

/* A quota below one CPU still gives one worker; 1.5 CPUs round up to 2. */
START_TEST(cpus_quota_rounds_up)
{
    unsigned n = mask_cpus();

    fake_cgroup("50000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), 1);
    fake_cgroup("150000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), min_u(n, 2));
    fake_cgroup("100000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), 1);
    /* A quota above the mask does not add CPUs. */
    fake_cgroup("6400000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), min_u(n, 64));
}
END_TEST

/* Anything that is not "max P" or "Q P" is ignored. */
START_TEST(cpus_quota_garbage_ignored)
{
    static const char *const bad[] = {
        "",
        "\n",
        "garbage",
        "50000",
        "50000 ",
        " 100000",
        "50000 0",
        "0 100000",
        "-50000 100000",
        "50000 100000x",
        "5e4 100000",
        "maxi 100000",
        "max",
        "99999999999999999999999 100000",
    };
    unsigned n = mask_cpus();

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_cgroup(bad[i]);
        ck_assert_msg(wse__cpus_default(1024) == n, "cpu.max '%s' was not ignored", bad[i]);
    }
}
END_TEST

/* The own cgroup's quota (ROOT/PATH/cpu.max) counts, and the smallest quota of
 * it and its ancestors wins. In a cgroup namespace PATH is "/": then the root's
 * file is the own one, and only that case can be checked. */
START_TEST(cpus_quota_own_cgroup)
{
    const char *rel = own_cgroup();

    fake_cgroup(NULL);
    write_cpu_max(rel, "50000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), 1);
    if (strcmp(rel, "/") == 0)
        return;
    /* The root allows more: the own cgroup's smaller quota still wins. */
    write_cpu_max("", "800000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), 1);
    /* The own cgroup allows more: the root's smaller quota wins. */
    write_cpu_max(rel, "800000 100000\n");
    write_cpu_max("", "50000 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), 1);
    /* Neither limits below the mask. */
    write_cpu_max("", "max 100000\n");
    ck_assert_uint_eq(wse__cpus_default(1024), min_u(mask_cpus(), 8));
}
END_TEST

/* The cap: never more than max_workers, never 0. */
START_TEST(cpus_capped)
{
    fake_cgroup(NULL);
    ck_assert_uint_eq(wse__cpus_default(1), 1);
    ck_assert_uint_eq(setenv("WSE_WORKERS", "5000", 1), 0);
    ck_assert_uint_eq(wse__cpus_default(1024), 1024);
    ck_assert_uint_eq(wse__cpus_default(3), 3);
}
END_TEST

/* Pinned to one CPU (as `taskset -c 0` does): one worker. */
START_TEST(cpus_affinity_one)
{
    cpu_set_t set;
    int first = -1;

    fake_cgroup(NULL);
    CPU_ZERO(&set);
    ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &set))
            first = c;
    ck_assert_int_ge(first, 0);
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
    ck_assert_uint_eq(wse__cpus_default(1024), 1);
}
END_TEST

/* WSE_WORKERS overrides the default (mask and quota), but only when it is a
 * positive decimal integer. */
START_TEST(cpus_env_override)
{
    static const char *const bad[] = {"",   "0",  "-1", "abc", "3x",
                                      " 3", "3 ", "+3", "0x3", "99999999999999999999999"};
    unsigned n = mask_cpus();

    fake_cgroup("50000 100000\n");
    ck_assert_int_eq(setenv("WSE_WORKERS", "3", 1), 0);
    ck_assert_uint_eq(wse__cpus_default(1024), 3);
    /* The CPUs available (what makes an executor crowded) ignore it. */
    ck_assert_uint_eq(wse__cpus_available(), 1);
    fake_cgroup("150000 100000\n");
    ck_assert_uint_eq(wse__cpus_available(), min_u(n, 2));
    fake_cgroup(NULL);
    ck_assert_uint_eq(wse__cpus_available(), n);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(setenv("WSE_WORKERS", bad[i], 1), 0);
        ck_assert_msg(wse__cpus_default(1024) == n, "WSE_WORKERS='%s' was not ignored", bad[i]);
    }
}
END_TEST

/* Through the public API: WSE_WORKERS sets the default, never an explicit count. */
START_TEST(cpus_env_executor)
{
    wse_options opts = {0};
    wse_executor *ex;

    ck_assert_int_eq(setenv("WSE_WORKERS", "3", 1), 0);
    ck_assert_int_eq(wse_executor_create(&ex, NULL), 0);
    ck_assert_uint_eq(wse_executor_workers(ex), 3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);

    ck_assert_int_eq(wse_executor_create(&ex, &opts), 0); /* workers = 0: the default */
    ck_assert_uint_eq(wse_executor_workers(ex), 3);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);

    opts.workers = 2;
    ck_assert_int_eq(wse_executor_create(&ex, &opts), 0);
    ck_assert_uint_eq(wse_executor_workers(ex), 2);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);

    ck_assert_int_eq(setenv("WSE_WORKERS", "junk", 1), 0);
    fake_cgroup("50000 100000\n");
    ck_assert_int_eq(wse_executor_create(&ex, NULL), 0);
    ck_assert_uint_eq(wse_executor_workers(ex), 1);
    ck_assert_int_eq(wse_executor_destroy(ex), 0);
}
END_TEST

/* The version string: the header's macro, the library's function, the build's
 * project(VERSION) all agree. */
START_TEST(version_string)
{
    char hex[32];

    ck_assert_ptr_nonnull(wse_version_string());
    ck_assert_str_eq(wse_version_string(), WSE_VERSION_STRING);
    ck_assert_str_eq(wse_version_string(), WSE_TEST_PROJECT_VERSION);
    snprintf(hex, sizeof(hex), "%u.%u.%u", wse_version() >> 16, (wse_version() >> 8) & 0xff,
             wse_version() & 0xff);
    ck_assert_str_eq(hex, WSE_VERSION_STRING);
}
END_TEST

static Suite *
cpus_suite(void)
{
    Suite *s = suite_create("cpus");
    TCase *tc = tcase_create("default_workers");
    TCase *tv = tcase_create("version");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cpus_no_quota);
    tcase_add_test(tc, cpus_quota_rounds_up);
    tcase_add_test(tc, cpus_quota_garbage_ignored);
    tcase_add_test(tc, cpus_quota_own_cgroup);
    tcase_add_test(tc, cpus_capped);
    tcase_add_test(tc, cpus_affinity_one);
    tcase_add_test(tc, cpus_env_override);
    tcase_add_test(tc, cpus_env_executor);
    suite_add_tcase(s, tc);
    tcase_add_test(tv, version_string);
    suite_add_tcase(s, tv);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cpus_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

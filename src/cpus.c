/*
 * The default worker count. sysconf(_SC_NPROCESSORS_ONLN) counts every online CPU
 * of the machine, which oversubscribes a process pinned with taskset or run in a
 * container with a CPU quota: there each extra worker only adds preemption in the
 * middle of a steal or a wait. So count the CPUs we may run on, then apply the
 * cgroup v2 quota, and let WSE_WORKERS override both.
 */
#include "cpus.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
/* Longest cgroup path we follow; deeper ones fall back to the root's quota. */
#define CGROUP_PATH_MAX 4096

static const char *cgroup_root_override;

void
wse__cpus_set_cgroup_root(const char *dir)
{
    cgroup_root_override = dir;
}

/* A decimal integer in [1, ULONG_MAX] filling all of s; 0 otherwise. */
static unsigned long
parse_positive(const char *s, const char *end)
{
    unsigned long v = 0;

    if (s == end)
        return 0;
    for (; s < end; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (d > 9 || v > (ULONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

/* WSE_WORKERS, or 0 when unset or not a positive integer. */
static unsigned long
env_workers(void)
{
    const char *s = getenv("WSE_WORKERS");

    if (s == NULL)
        return 0;
    return parse_positive(s, s + strlen(s));
}

/* CPUs in the affinity mask; 0 if it cannot be read. */
static unsigned long
affinity_cpus(void)
{
    /* The mask must be at least as large as the kernel's: grow on EINVAL. */
    for (size_t n = 1024; n <= (1U << 20); n *= 2) {
        cpu_set_t *set = CPU_ALLOC(n);
        size_t size = CPU_ALLOC_SIZE(n);
        int count;

        if (set == NULL)
            return 0;
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) != 0) {
            CPU_FREE(set);
            if (errno == EINVAL)
                continue;
            return 0;
        }
        count = CPU_COUNT_S(size, set);
        CPU_FREE(set);
        return count > 0 ? (unsigned long)count : 0;
    }
    return 0;
}

/*
 * The CPUs allowed by one cpu.max file: ceil(quota / period); 0 for no limit, a
 * missing file or text that is not "max P" or "Q P" (with an optional newline).
 */
static unsigned long
cpu_max_cpus(const char *path)
{
    char buf[64];
    FILE *fp = fopen(path, "re");
    size_t len;
    const char *sp;
    const char *end;
    unsigned long quota;
    unsigned long period;

    if (fp == NULL)
        return 0;
    len = fread(buf, 1, sizeof(buf) - 1, fp);
    (void)fclose(fp);
    buf[len] = '\0';
    end = buf + len;
    if (len > 0 && end[-1] == '\n')
        end--;
    sp = memchr(buf, ' ', (size_t)(end - buf));
    if (sp == NULL)
        return 0;
    period = parse_positive(sp + 1, end);
    if (period == 0 || (sp - buf == 3 && memcmp(buf, "max", 3) == 0))
        return 0;
    quota = parse_positive(buf, sp);
    if (quota == 0)
        return 0;
    return quota / period + (quota % period != 0);
}

/*
 * The process's cgroup v2 path ("0::PATH" in /proc/self/cgroup) into buf, "" when
 * there is none or it does not fit. Always starts with '/' when not empty.
 */
static void
own_cgroup(char *buf, size_t size)
{
    char line[CGROUP_PATH_MAX + 8];
    FILE *fp = fopen("/proc/self/cgroup", "re");

    buf[0] = '\0';
    if (fp == NULL)
        return;
    while (fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strcspn(line, "\n");

        if (strncmp(line, "0::/", 4) != 0 || line[len] != '\n' || len - 3 >= size)
            continue;
        memcpy(buf, line + 3, len - 3);
        buf[len - 3] = '\0';
        break;
    }
    (void)fclose(fp);
}

/* The smallest quota of the own cgroup and its ancestors; 0 for none. */
static unsigned long
cgroup_cpus(void)
{
    const char *root = cgroup_root_override != NULL ? cgroup_root_override : CGROUP_ROOT;
    char rel[CGROUP_PATH_MAX];
    char path[CGROUP_PATH_MAX + 64];
    unsigned long best = 0;
    size_t len;

    own_cgroup(rel, sizeof(rel));
    len = strlen(rel);
    /* rel = "/a/b": read ROOT/a/b/cpu.max, ROOT/a/cpu.max, then ROOT/cpu.max. */
    for (;;) {
        unsigned long n;

        while (len > 0 && rel[len - 1] == '/')
            len--;
        if (snprintf(path, sizeof(path), "%s%.*s/cpu.max", root, (int)len, rel) <
            (int)sizeof(path)) {
            n = cpu_max_cpus(path);
            if (n != 0 && (best == 0 || n < best))
                best = n;
        }
        if (len == 0)
            break;
        while (len > 0 && rel[len - 1] != '/')
            len--;
    }
    return best;
}

unsigned
wse__cpus_available(void)
{
    unsigned long quota = cgroup_cpus();
    unsigned long n = affinity_cpus();

    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);

        n = online > 0 ? (unsigned long)online : 1;
    }
    if (quota != 0 && quota < n)
        n = quota;
    if (n > UINT_MAX)
        return UINT_MAX;
    return n > 0 ? (unsigned)n : 1;
}

unsigned
wse__cpus_workers(unsigned available, unsigned max_workers)
{
    unsigned long n = env_workers();

    if (n == 0)
        n = available;
    if (n > max_workers)
        n = max_workers;
    return n > 0 ? (unsigned)n : 1;
}

unsigned
wse__cpus_default(unsigned max_workers)
{
    return wse__cpus_workers(wse__cpus_available(), max_workers);
}

/* The default number of workers: the CPUs this process may use. */
#ifndef WSE_CPUS_H
#define WSE_CPUS_H

/*
 * The worker count for wse_options.workers == 0, between 1 and max_workers:
 *   - WSE_WORKERS from the environment if it is a positive decimal integer
 *     (capped at max_workers; anything else is ignored);
 *   - otherwise the CPUs in the process's affinity mask (sched_getaffinity),
 *     lowered to a cgroup v2 CPU quota where one is set: cpu.max "Q P" allows
 *     ceil(Q / P) CPUs, "max P" none. The cgroup files read are
 *     ROOT/PATH/cpu.max and those of every ancestor up to ROOT/cpu.max, where PATH
 *     is the process's own cgroup ("0::PATH" in /proc/self/cgroup) and ROOT is
 *     /sys/fs/cgroup; the smallest quota wins.
 */
unsigned wse__cpus_default(unsigned max_workers);

/* The CPUs this process may use, as above without WSE_WORKERS: at least 1. */
unsigned wse__cpus_available(void);

/* wse__cpus_default() for a count of CPUs already read (wse__cpus_available()). */
unsigned wse__cpus_workers(unsigned available, unsigned max_workers);

/*
 * Test hook: read the cgroup files under dir instead of /sys/fs/cgroup (NULL:
 * the real one again). The string must stay valid while it is in use. Not
 * thread-safe: call it before creating executors.
 */
void wse__cpus_set_cgroup_root(const char *dir);

#endif /* WSE_CPUS_H */

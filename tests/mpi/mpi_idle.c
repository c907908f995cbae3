/*
 * An idle rank does not spin: with the layer created and nothing to do, its
 * progress thread (named "wse-mpi") uses less than WSE_MPI_IDLE_MAX_PCT (default 5)
 * percent of one core (times CK_TIMEOUT_MULTIPLIER) over 2 s, read from /proc/self/task/<tid>/stat. The whole
 * process (executor workers, Open MPI's own threads) is printed too (getrusage).
 */
#include <dirent.h>
#include <sys/resource.h>

#include "mpi_test.h"

/* CPU seconds of this process's thread named name, or -1. */
static double
thread_cpu(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    double cpu = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && cpu < 0) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        char comm[64] = {0};
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof(comm), f) == NULL)
            comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, name) != 0)
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')'); /* fields after the command name */
        unsigned long ut = 0, st = 0;
        if (p != NULL &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    closedir(d);
    return cpu;
}

static double
process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

int
main(int argc, char **argv)
{
    wse_executor *ex;
    wse_mpi *m;
    t_watchdog(60);
    t_init(&argc, &argv, 2, &ex, &m);
    MPI_Barrier(MPI_COMM_WORLD);
    t_sleep(0.1); /* past the backoff ramp */
    double t0 = t_now();
    double p0 = process_cpu();
    double c0 = thread_cpu("wse-mpi");
    T_ASSERT(c0 >= 0);
    t_sleep(2.0);
    double c1 = thread_cpu("wse-mpi");
    double p1 = process_cpu();
    double wall = t_now() - t0;
    double pct = 100 * (c1 - c0) / wall;
    double ppct = 100 * (p1 - p0) / wall;
    printf("mpi_idle: rank %d: progress thread %.2f%% of one core, whole process %.2f%% "
           "(over %.2f s idle)\n",
           test_rank, pct, ppct, wall);
    const char *s = getenv("WSE_MPI_IDLE_MAX_PCT");
    double max = s != NULL ? atof(s) : 5.0 * t_scale();
    if (pct > max)
        T_FAIL("idle progress thread used %.2f%% of a core (limit %.1f%%)", pct, max);
    t_fini(ex, m);
    return 0;
}

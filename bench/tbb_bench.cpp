// oneTBB task_group, parallel_for, parallel_reduce and flow::graph. Usage: tbb_bench
// WORKLOAD PARAM CONFIG WORKERS (fib flat rt idle rounds round2 forempty forflat forirr
// mandel reduce); rounds with CONFIG tbb-graph runs the dependency graph, any other
// CONFIG a parallel_for per step.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "loops.h"

static const char *workload, *param, *config;
static volatile uint64_t sink;
static volatile double dsink;

static long
fib(int n)
{
    if (n < 2)
        return n;
    long a, b;
    tbb::task_group g;
    g.run([&] { a = fib(n - 1); });
    g.run([&] { b = fib(n - 2); });
    g.wait();
    return a + b;
}

static void
bench_fib()
{
    int n = atoi(param);
    fib(n > 25 ? 25 : n);
    int64_t t0 = now_ns();
    long v = fib(n);
    int64_t t1 = now_ns();
    if (v != fib_expected(n))
        exit(1);
    emit(workload, param, config, "time_ms", (double)(t1 - t0) / 1e6);
}

static void
bench_flat()
{
    size_t n = (size_t)atol(param);
    std::vector<uint64_t> res(n);
    tbb::task_group g;
    for (int round = 0; round < 2; round++) {
        int64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            g.run([&res, i] { res[i] = tiny_work(i + 1); });
        g.wait();
        int64_t t1 = now_ns();
        emit(workload, param, config, round == 0 ? "cold_Mtasks_s" : "warm_Mtasks_s",
             (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
    }
    sink = res[n / 2];
}

static void
bench_rt()
{
    bool gap = strcmp(param, "hot") != 0;
    size_t n = (size_t)env_long(gap ? "RT_GAP_N" : "RT_HOT_N", gap ? 200 : 20000);
    int64_t gap_ns = env_long("RT_GAP_US", 5000) * 1000;
    std::vector<int64_t> lat(n);
    tbb::task_group g;
    int64_t c0 = 0, w0 = 0;
    for (size_t i = 0; i < 100 + n; i++) {
        if (i == 100) {
            c0 = process_cpu_ns();
            w0 = now_ns();
        }
        if (gap && i >= 100)
            sleep_ns(gap_ns);
        int64_t t0 = now_ns();
        uint64_t r = 0;
        g.run([&r] { r = 1; });
        g.wait();
        if (i >= 100)
            lat[i - 100] = now_ns() - t0;
        sink = r;
    }
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit_latency(workload, param, config, lat.data(), n);
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
}

static void
bench_idle()
{
    int64_t idle_ns = env_long("IDLE_MS", 2000) * 1000000;
    tbb::task_group g;
    for (int i = 0; i < 1000; i++)
        g.run([i] { sink = tiny_work((uint64_t)i); });
    g.wait();
    int64_t c0 = process_cpu_ns(), w0 = now_ns();
    sleep_ns(idle_ns);
    int64_t c1 = process_cpu_ns(), w1 = now_ns();
    emit(workload, param, config, "cpu_pct", 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
}

// rounds (common.h): a parallel_for over the width per step, one task per index
// (grainsize 1, simple_partitioner); the calling thread takes part.
static rounds rd;

static void
rounds_for(int64_t *lat)
{
    for (size_t s = 1; s <= rd.steps; s++) {
        int64_t t0 = lat ? now_ns() : 0;
        tbb::parallel_for(
            tbb::blocked_range<size_t>(0, rd.width, 1),
            [s](const tbb::blocked_range<size_t> &r) {
                for (size_t i = r.begin(); i != r.end(); i++)
                    rounds_run(&rd, s, i);
            },
            tbb::simple_partitioner());
        if (lat)
            lat[s - 1] = now_ns() - t0;
    }
}

// rounds as a dependency graph: one flow::continue_node per task (s, i), with an edge
// from each of its inputs (s-1, lo .. hi); a continue_node runs once it has had a
// message from every predecessor. The whole graph is built, then the first row is
// triggered and the calling thread waits for all (it takes part); building is timed,
// as the up-front submission of wsexec-after is.
static void
rounds_graph()
{
    using node = tbb::flow::continue_node<tbb::flow::continue_msg>;
    tbb::flow::graph g;
    std::vector<std::unique_ptr<node>> nodes; // destroyed before g
    size_t w = rd.width, lo, hi;
    nodes.reserve(rd.steps * w);
    for (size_t s = 1; s <= rd.steps; s++)
        for (size_t i = 0; i < w; i++) {
            nodes.push_back(std::make_unique<node>(
                g, [s, i](const tbb::flow::continue_msg &) { rounds_run(&rd, s, i); }));
            if (s == 1)
                continue;
            rounds_neighbours(&rd, i, &lo, &hi);
            for (size_t j = lo; j <= hi; j++)
                tbb::flow::make_edge(*nodes[(s - 2) * w + j], *nodes.back());
        }
    for (size_t i = 0; i < w; i++)
        nodes[i]->try_put(tbb::flow::continue_msg());
    g.wait_for_all();
}

static void
rounds_once(bool graph)
{
    if (graph)
        rounds_graph();
    else
        rounds_for(nullptr);
}

static void
bench_rounds(size_t width)
{
    rd.k = atol(param);
    rd.width = width;
    size_t steps = rounds_steps(rd.k);
    bool graph = strstr(config, "graph") != nullptr;
    rounds_reset(&rd, 10); // warm-up
    rounds_once(graph);
    rounds_reset(&rd, steps);
    int64_t t0 = now_ns();
    rounds_once(graph);
    int64_t t1 = now_ns();
    rounds_check(&rd, config);
    rounds_emit(workload, param, config, &rd, t1 - t0);
    free(rd.val);
}

static void
bench_round2()
{
    size_t n = (size_t)env_long("ROUND2_S", 20000);
    std::vector<int64_t> lat(n);
    rd.k = 0;
    rd.width = 2;
    rounds_reset(&rd, 100);
    rounds_for(nullptr);
    rounds_reset(&rd, n);
    rounds_for(lat.data());
    rounds_check(&rd, config);
    emit_latency(workload, param, config, lat.data(), n);
    free(rd.val);
}

// ---- The loop workloads (loops.h): tbb::parallel_for over a blocked_range (default
// grainsize 1) with the auto_partitioner, from the main thread, which takes part (one of
// the WORKERS threads: global_control). Sums: a local one per chunk, added atomically.
// reduce: parallel_deterministic_reduce (simple_partitioner, grainsize from CONFIG's
// "-g<N>": chunks of N/2 .. N elements, always the same ones) or plain parallel_reduce
// (auto_partitioner, grainsize 1).
static void
forempty_call(void *)
{
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, 2),
        [](const tbb::blocked_range<size_t> &r) {
            for (size_t i = r.begin(); i != r.end(); i++)
                loop_empty(i);
        },
        tbb::auto_partitioner());
}

static void
bench_forempty()
{
    forempty_run(workload, param, config, forempty_call, nullptr);
}

// The sum of body(b, e) over the chunks of [0, n).
template <class Body>
static uint64_t
loop_sum(uint64_t n, Body body)
{
    std::atomic<uint64_t> sum{0};
    tbb::parallel_for(
        tbb::blocked_range<uint64_t>(0, n),
        [&](const tbb::blocked_range<uint64_t> &r) {
            sum.fetch_add(body(r.begin(), r.end()), std::memory_order_relaxed);
        },
        tbb::auto_partitioner());
    return sum.load();
}

static void
bench_forflat_irr(bool irr)
{
    double ns = 0;
    uint64_t n, m;
    if (irr) {
        n = (uint64_t)strtod(param, nullptr);
        m = forirr_kmax();
    } else {
        forflat_param(param, &ns, &n);
        m = loop_steps(ns);
    }
    auto run = [irr, m](uint64_t len) {
        return loop_sum(len, [irr, m, len](uint64_t b, uint64_t e) {
            return irr ? forirr_chunk(b, e, len, m) : forflat_chunk(b, e, m);
        });
    };
    auto expect = [irr, m](uint64_t len) {
        return irr ? forirr_expect(len, m) : forflat_expect(len, m);
    };
    uint64_t wn = loop_warm_n(n), want = expect(n);
    loop_check(workload, config, run(wn), expect(wn));
    loop_reps r;
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        uint64_t s = run(n);
        loop_reps_add(&r, now_ns() - t0);
        loop_check(workload, config, s, want);
    } while (loop_reps_more(&r));
    loop_emit(workload, param, config, loop_reps_median(&r), irr ? 0 : n);
}

static void
mandel_par(mandel *m)
{
    tbb::parallel_for(
        tbb::blocked_range<int>(0, m->h),
        [m](const tbb::blocked_range<int> &r) {
            for (int y = r.begin(); y != r.end(); y++)
                m->row[y] = mandel_row(m, y);
        },
        tbb::auto_partitioner());
}

static void
bench_mandel()
{
    mandel m;
    loop_reps r;
    mandel_init(&m, param);
    mandel_par(&m); // warm-up
    loop_reps_init(&r);
    do {
        mandel_clear(&m);
        int64_t t0 = now_ns();
        mandel_par(&m);
        loop_reps_add(&r, now_ns() - t0);
    } while (loop_reps_more(&r));
    mandel_check(&m, config);
    loop_emit(workload, param, config, loop_reps_median(&r), 0);
    free(m.row);
}

static double
reduce_par(const double *v, uint64_t n, size_t det_grain)
{
    auto fold = [v](const tbb::blocked_range<uint64_t> &r, double s) {
        for (uint64_t i = r.begin(); i != r.end(); i++)
            s += v[i];
        return s;
    };
    if (det_grain)
        return tbb::parallel_deterministic_reduce(tbb::blocked_range<uint64_t>(0, n, det_grain),
                                                  0.0, fold, std::plus<double>());
    return tbb::parallel_reduce(tbb::blocked_range<uint64_t>(0, n), 0.0, fold, std::plus<double>(),
                                tbb::auto_partitioner());
}

static void
bench_reduce()
{
    uint64_t n = reduce_n(param);
    const char *g = strstr(config, "-g");
    size_t det_grain = strstr(config, "det") && g ? (size_t)atol(g + 2) : 0;
    if (strstr(config, "det") && det_grain == 0) {
        fprintf(stderr, "%s: reduce: a deterministic config needs -g<grainsize>\n", config);
        exit(2);
    }
    double *v = reduce_array(n), s = 0.0;
    loop_reps r;
    dsink = reduce_par(v, loop_warm_n(n), det_grain); // warm-up
    loop_reps_init(&r);
    do {
        int64_t t0 = now_ns();
        s = reduce_par(v, n, det_grain);
        loop_reps_add(&r, now_ns() - t0);
    } while (loop_reps_more(&r));
    reduce_emit(workload, param, config, loop_reps_median(&r), n, s, reduce_seq(v, n));
    free(v);
}

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s WORKLOAD PARAM CONFIG WORKERS\n", argv[0]);
        return 2;
    }
    workload = argv[1];
    param = argv[2];
    config = argv[3];
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)atoi(argv[4]));
    std::string w = workload;
    if (w == "fib")
        bench_fib();
    else if (w == "flat")
        bench_flat();
    else if (w == "rt")
        bench_rt();
    else if (w == "idle")
        bench_idle();
    else if (w == "rounds")
        bench_rounds((size_t)atoi(argv[4]));
    else if (w == "round2")
        bench_round2();
    else if (w == "forempty")
        bench_forempty();
    else if (w == "forflat" || w == "forirr")
        bench_forflat_irr(w == "forirr");
    else if (w == "mandel")
        bench_mandel();
    else if (w == "reduce")
        bench_reduce();
    else {
        fprintf(stderr, "%s: unsupported workload %s\n", argv[0], workload);
        return 2;
    }
    return fflush(stdout) != 0;
}

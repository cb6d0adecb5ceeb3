// Staging throughput: how many IR nodes per second kiln::stage() builds, and
// how many the default pipeline (Staged::module()) keeps up with, on three
// program shapes whose size grows:
//
//   straight_line/N  one Rep<double> updated N times (x = x * 1.0001 + 0.5,
//                    with a sin and a max every 8th step): a long region
//   nested_loops/D   for_ loops nested D deep, an accumulator declared outside
//                    all of them updated at every level: deep regions and
//                    variables crossing D region boundaries
//   sibling_loops/N  N for_ loops side by side, each updating the same
//                    accumulator: many regions, one variable stored and
//                    reloaded around each
//
// Staging is linear when time_per_node stays flat as the size grows. What
// callgrind says: straight_line and sibling_loops execute a constant number of
// instructions per node, staging and pipeline alike; straight_line's time per
// node still grows ~2-3x from 1k to 256k steps as its working set (~275 bytes
// per node while staging) leaves the caches. nested_loops is quadratic in D:
// Context::emit (stage/context.cpp) looks each new pure node up in the
// hash-consing table of every open frame, innermost to outermost, and
// Promoter::lookup (codegen/passes/promote_variables.cpp) walks the chain of
// enclosing environments for each var.load of an outer variable.
//
// Counters:
//   nodes          nodes of the module after the pipeline (what walk() visits)
//   staged_nodes   nodes right after staging (var.load/var.store included)
//   nodes_per_s    nodes / time per iteration (rate)
//   time_per_node  time per iteration / nodes, in seconds
//
//   ./build/release/bench/kiln_bench_staging --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <kiln/ir/ir.h>
#include <kiln/kiln.h>

#include "bench_support.h"

#include <cstdint>
#include <functional>
#include <utility>

namespace {

using kiln::Rep;
using namespace kiln::bench;  // bench_support.h

// --- the programs ---------------------------------------------------------------

kiln::Staged<double(double)> straight_line(int64_t steps) {
  return kiln::stage("straight_line", [steps](Rep<double> x) {
    for (int64_t k = 0; k < steps; ++k) {
      x = x * 1.0001 + 0.5;
      if (k % 8 == 7) x = kiln::max(kiln::sin(x), x);
    }
    return x;
  });
}

kiln::Staged<double(int64_t)> nested_loops(int depth) {
  return kiln::stage("nested_loops", [depth](Rep<int64_t> n) {
    Rep<double> acc = 0.0;
    std::function<void(int)> level = [&](int d) {
      kiln::for_(0, n, [&](Rep<int64_t> i) {
        acc += kiln::cast<double>(i);
        if (d + 1 < depth) level(d + 1);
      });
    };
    level(0);
    return acc;
  });
}

kiln::Staged<double(int64_t)> sibling_loops(int64_t loops) {
  return kiln::stage("sibling_loops", [loops](Rep<int64_t> n) {
    Rep<double> acc = 0.0;
    for (int64_t k = 0; k < loops; ++k)
      kiln::for_(0, n, [&](Rep<int64_t> i) { acc += kiln::cast<double>(i); });
    return acc;
  });
}

// --- the measurement ------------------------------------------------------------

void set_counters(benchmark::State& state, size_t nodes, size_t staged_nodes) {
  const double n = static_cast<double>(nodes);
  state.counters["nodes"] = benchmark::Counter(n);
  state.counters["staged_nodes"] = benchmark::Counter(static_cast<double>(staged_nodes));
  state.counters["nodes_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  // An inverted rate: seconds per node (printed with an SI prefix, e.g. 450ns).
  state.counters["time_per_node"] =
      benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Times make() (staging only) or make().module() (staging + default
// pipeline). Destroying the results is kept out of the timed region.
template <class Make>
void run(benchmark::State& state, Make make, bool with_pipeline) {
  for (auto _ : state) {
    auto staged = make();
    if (!with_pipeline) {
      benchmark::DoNotOptimize(staged);
      state.PauseTiming();
      { auto dead = std::move(staged); }
      state.ResumeTiming();
      continue;
    }
    kiln::ir::Module m = staged.module();
    benchmark::DoNotOptimize(m);
    state.PauseTiming();
    { auto dead = std::move(staged); auto dead_module = std::move(m); }
    state.ResumeTiming();
  }
  auto staged = make();
  set_counters(state, count_nodes(staged.module()), count_nodes(kiln::detail::build_module(staged.state())));
}

void BM_stage_straight_line(benchmark::State& state) {
  run(state, [&] { return straight_line(state.range(0)); }, false);
}
void BM_pipeline_straight_line(benchmark::State& state) {
  run(state, [&] { return straight_line(state.range(0)); }, true);
}
void BM_stage_nested_loops(benchmark::State& state) {
  run(state, [&] { return nested_loops(static_cast<int>(state.range(0))); }, false);
}
void BM_pipeline_nested_loops(benchmark::State& state) {
  run(state, [&] { return nested_loops(static_cast<int>(state.range(0))); }, true);
}
void BM_stage_sibling_loops(benchmark::State& state) {
  run(state, [&] { return sibling_loops(state.range(0)); }, false);
}
void BM_pipeline_sibling_loops(benchmark::State& state) {
  run(state, [&] { return sibling_loops(state.range(0)); }, true);
}

void straight_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18}) b->Arg(n);
  b->ArgName("N")->Unit(benchmark::kMicrosecond);
}
void depths(benchmark::internal::Benchmark* b) {
  // 128 and 256 go past realistic nesting to make the per-level cost's growth
  // with depth visible (see the note at the top).
  for (int64_t d : {2, 4, 8, 16, 32, 64, 128, 256}) b->Arg(d);
  b->ArgName("D")->Unit(benchmark::kMicrosecond);
}
void widths(benchmark::internal::Benchmark* b) {
  for (int64_t n : {100, 1000, 10000}) b->Arg(n);
  b->ArgName("N")->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_stage_straight_line)->Apply(straight_sizes);
BENCHMARK(BM_pipeline_straight_line)->Apply(straight_sizes);
BENCHMARK(BM_stage_nested_loops)->Apply(depths);
BENCHMARK(BM_pipeline_nested_loops)->Apply(depths);
BENCHMARK(BM_stage_sibling_loops)->Apply(widths);
BENCHMARK(BM_pipeline_sibling_loops)->Apply(widths);

}  // namespace

BENCHMARK_MAIN();

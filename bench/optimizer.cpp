// What the optimiser buys and what it costs.
//
// Part 1, the gain: six staged programs of the kind users write, each with
// something for the passes to do, run on the interpreter unoptimised
// (Options{.optimize = false}: variable promotion only) and optimised (the
// default Options):
//
//   newton_poly     a Newton step on a cubic over an array: pow(v, 2) twice,
//                   coefficients as staged constants (2 * c2 folds)
//   scaled_dot      saxpy plus dot product with `a * 2 / n` and x.size()
//                   recomputed in every iteration (loop-invariant)
//   blend           a small staged helper, smoothstep(0, 1, x[i]), called in
//                   a loop (inlining, then folding the constant edges)
//   power_unrolled  x^13 - x^6 / 2 by square-and-multiply at staging time,
//                   whose base case leaves `x * 1.0` behind
//   matmul          parallel_for_ / for_ / for_ over flat buffers: `i * n` is
//                   invariant in the two inner loops
//   branchy         an if_ on a staging-time constant (a build setting) and a
//                   loop-carried checksum that is updated but never returned
//
// Before anything is timed, every program runs once both ways on the same
// inputs and the results (return values and every buffer, bit for bit, NaNs
// alike) must agree, or the binary stops: a benchmark of a wrong program is
// worthless. Without fast_math the optimiser must not change a single bit.
//
// Part 2, the cost: run_pipeline alone (default Options) on generated
// programs of N = 1k..32k staged nodes, straight-line (`chain`: arithmetic
// with commuted repeats, identities, constant products, dead values) and
// loop-heavy (`loops`: sibling nested for_ loops with invariants). The module
// is built once; each iteration copies it with the clock paused.
//
// Counters:
//   nodes              interp/*: IR nodes of this variant (walk() over every
//                      function of the module); pipeline/*: the pipeline's
//                      input (staged nodes, var.load/var.store included)
//   nodes_before/after interp/*: unoptimised / optimised node counts
//   node_ratio         nodes_after / nodes_before
//   time_per_1k_nodes  pipeline/*: time per iteration per 1,000 input nodes
//
// After the benchmarks, a summary table measured here with std::chrono
// (medians) gives the ratios and whether the pipeline's time per 1k nodes
// stays flat from 1k to 32k nodes. --no_summary skips it.
//
//   ./build/release/bench/kiln_bench_optimizer --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <kiln/ir/ir.h>
#include <kiln/kiln.h>

#include "codegen/passes/pipeline.h"
#include "bench_support.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using kiln::Arr;
using kiln::Rep;
using namespace kiln::bench;  // bench_support.h

const kiln::Options kUnoptimised{.backend = kiln::Backend::interp, .optimize = false};
const kiln::Options kOptimised{.backend = kiln::Backend::interp};

/// Median wall times of `reps` calls of a and of b, in seconds. The calls
/// alternate so that a load change on a shared machine hits both alike.
template <class A, class B>
std::pair<double, double> median_seconds(int reps, const A& a, const B& b) {
  std::vector<double> ta, tb;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    a();
    ta.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    b();
    tb.push_back(seconds_since(start));
  }
  return {median(std::move(ta)), median(std::move(tb))};
}

// --- programs bound to fixed inputs ------------------------------------------------

/// One compiled program with its own copy of the inputs: run() calls it,
/// outputs() is what the last call returned and left in the buffers.
struct Instance {
  std::function<void()> run;
  std::function<std::vector<double>()> outputs;
};

/// A staged program and how to compile it with its inputs bound.
struct Program {
  std::string name;
  std::shared_ptr<kiln::detail::StagedState> state;
  std::function<Instance(const kiln::Options&)> instantiate;
};

// Results, scalars and whole buffers as doubles: every value used here is
// exactly representable (floats, and integers far below 2^53).
template <class X>
void append(std::vector<double>& out, const X& x) {
  if constexpr (requires { std::tuple_size<X>::value; })
    std::apply([&](const auto&... e) { (append(out, e), ...); }, x);
  else if constexpr (requires { x.data(); })
    for (auto e : x) out.push_back(static_cast<double>(e));
  else if constexpr (std::is_arithmetic_v<X>)
    out.push_back(static_cast<double>(x));
}

template <class R, class... Args, class... Inputs>
Instance bind(kiln::Compiled<R(Args...)> f, std::tuple<Inputs...> inputs) {
  struct Bound {
    std::tuple<Inputs...> in;
    std::conditional_t<std::is_void_v<R>, std::tuple<>, R> out{};
  };
  auto b = std::make_shared<Bound>(Bound{std::move(inputs), {}});
  return Instance{[f, b] {
                    if constexpr (std::is_void_v<R>) std::apply(f, b->in);
                    else b->out = std::apply(f, b->in);
                  },
                  [b] {
                    std::vector<double> v;
                    append(v, b->out);
                    append(v, b->in);
                    return v;
                  }};
}

/// `inputs` are the call's arguments: scalars, and std::vectors passed as spans.
template <class Sig, class... Inputs>
Program program(std::string name, kiln::Staged<Sig> staged, Inputs... inputs) {
  return Program{std::move(name), staged.state(),
                 [staged, in = std::make_tuple(std::move(inputs)...)](const kiln::Options& opts) {
                   return bind(kiln::compile(staged, opts), in);
                 }};
}

/// Deterministic values in [-1.5, 1.5) (an LCG: no <random> distribution
/// whose output could differ between standard libraries).
template <class T>
std::vector<T> values(size_t n, uint64_t seed) {
  std::vector<T> v(n);
  for (T& e : v) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    e = static_cast<T>(static_cast<double>(seed >> 11) * 0x1p-53 * 3.0 - 1.5);
  }
  return v;
}

std::vector<int32_t> int_values(size_t n, uint64_t seed) {
  std::vector<int32_t> v(n);
  for (int32_t& e : v) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    e = static_cast<int32_t>(seed >> 40) % 2001 - 1000;
  }
  return v;
}

/// Checks once that both variants agree, bit for bit; stops the binary if not.
void check_same_results(const std::string& name, const Instance& unopt, const Instance& opt) {
  unopt.run();
  opt.run();
  std::vector<double> a = unopt.outputs(), b = opt.outputs();
  if (a.size() != b.size()) die(name + ": optimised and unoptimised outputs differ in size");
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint64_t>(a[i]) == std::bit_cast<uint64_t>(b[i]) || (std::isnan(a[i]) && std::isnan(b[i])))
      continue;
    char buf[256];
    std::snprintf(buf, sizeof buf, "output %zu (of %zu; results first, then buffers) is %.17g (%a) unoptimised but %.17g (%a) optimised",
                  i, a.size(), a[i], a[i], b[i], b[i]);
    die(name + ": the optimised program computes something else: " + buf +
        ". A benchmark of a wrong program is worthless: fix the pass (KILN_DUMP=ir shows the IR after each pass)");
  }
}

// --- part 1: the programs ----------------------------------------------------------

Program newton_poly() {
  auto s = kiln::stage("newton_poly", [](Arr<const double> x, Arr<double> y) {
    Rep<double> acc = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      const Rep<double> c0 = -0.5, c1 = 0.75, c2 = 1.5, c3 = -0.25;
      Rep<double> v = x[i];
      Rep<double> p = c0 + c1 * v + c2 * kiln::pow(v, 2.0) + c3 * kiln::pow(v, 3.0);
      Rep<double> dp = c1 + 2.0 * c2 * v + 3.0 * c3 * kiln::pow(v, 2.0);
      Rep<double> step = p * dp / (dp * dp + 1.0);
      y[i] = v - step;
      acc += step * step;
    });
    return acc;
  });
  return program("newton_poly", s, values<double>(20000, 1), std::vector<double>(20000));
}

Program scaled_dot() {
  auto s = kiln::stage("scaled_dot", [](Rep<float> a, Arr<const float> x, Arr<const float> y, Arr<float> out) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<float> scale = a * 2.0f / kiln::cast<float>(x.size());
      out[i] = scale * x[i] + y[i];
      acc += x[i] * y[i] * scale;
    });
    return acc;
  });
  return program("scaled_dot", s, 0.75f, values<float>(20000, 2), values<float>(20000, 3), std::vector<float>(20000));
}

Program blend() {
  auto smoothstep = kiln::stage("smoothstep", [](Rep<double> e0, Rep<double> e1, Rep<double> x) {
    Rep<double> t = kiln::min(kiln::max((x - e0) / (e1 - e0), 0.0), 1.0);
    return t * t * (3.0 - 2.0 * t);
  });
  auto s = kiln::stage("blend", [smoothstep](Arr<const double> x, Arr<double> y) {
    Rep<double> acc = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<double> w = smoothstep(0.0, 1.0, x[i]);
      y[i] = w * x[i] + (1.0 - w) * 0.5;
      acc += w;
    });
    return acc;
  });
  return program("blend", s, values<double>(20000, 4), std::vector<double>(20000));
}

// Square-and-multiply, run at staging time. Written the obvious way, the base
// case's 1.0 ends up multiplied in.
Rep<double> power(const Rep<double>& x, int n) {
  if (n == 0) return 1.0;
  if (n % 2 == 0) {
    Rep<double> half = power(x, n / 2);
    return half * half;
  }
  return x * power(x, n - 1);
}

Program power_unrolled() {
  auto s = kiln::stage("power_unrolled", [](Arr<const double> x, Arr<double> y) {
    Rep<double> acc = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<double> v = x[i];
      Rep<double> r = power(v, 13) - power(v, 6) * 0.5 + power(v, 1);
      y[i] = r;
      acc += r;
    });
    return acc;
  });
  return program("power_unrolled", s, values<double>(20000, 5), std::vector<double>(20000));
}

Program matmul() {
  constexpr int64_t n = 32;
  auto s = kiln::stage("matmul", [](Arr<const float> a, Arr<const float> b, Arr<float> c, Rep<int64_t> n) {
    kiln::parallel_for_(0, n, [&](Rep<int64_t> i) {
      kiln::for_(0, n, [&](Rep<int64_t> j) {
        Rep<float> acc = 0.0f;
        kiln::for_(0, n, [&](Rep<int64_t> k) { acc += a[i * n + k] * b[k * n + j]; });
        c[i * n + j] = acc;
      });
    });
  });
  return program("matmul", s, values<float>(n * n, 6), values<float>(n * n, 7), std::vector<float>(n * n), n);
}

// A build-time setting: 1 saturates at the limit, anything else takes |v|.
constexpr int kBranchyMode = 1;

Program branchy() {
  auto s = kiln::stage("branchy", [](Arr<const int32_t> x, Rep<int32_t> limit) {
    const Rep<int32_t> mode = kBranchyMode;
    Rep<int64_t> total = 0, clipped = 0;
    Rep<int64_t> checksum = 0;  // a debugging aid, no longer returned
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<int32_t> v = x[i];
      kiln::if_(mode == 1, [&] {
        kiln::if_(v > limit, [&] {
          v = limit;
          clipped += 1;
        });
      }, [&] { v = kiln::abs(v); });
      total += v;
      checksum = checksum * 31 + kiln::cast<int64_t>(v);
    });
    return std::make_tuple(total, clipped);
  });
  return program("branchy", s, int_values(20000, 8), int32_t{600});
}

/// A program with its two compiled variants and node counts.
struct Measured {
  Program program;
  Instance unoptimised, optimised;
  size_t nodes_before = 0, nodes_after = 0;
};

Measured measure(Program p) {
  Measured m{std::move(p), {}, {}, 0, 0};
  const std::string& name = m.program.name;
  try {
    kiln::ir::Module staged = kiln::detail::build_module(m.program.state);
    m.nodes_before = count_nodes(kiln::passes::run_pipeline(staged, kUnoptimised));
    // The verifier after every pass: a broken pass is named here, not later.
    kiln::Options checked = kOptimised;
    checked.verify_each_pass = true;
    m.nodes_after = count_nodes(kiln::passes::run_pipeline(staged, checked));
    m.unoptimised = m.program.instantiate(kUnoptimised);
    m.optimised = m.program.instantiate(kOptimised);
  } catch (const std::exception& e) {
    die(name + ": compiling failed: " + e.what());
  }
  try {
    check_same_results(name, m.unoptimised, m.optimised);
  } catch (const std::exception& e) {
    die(name + ": running failed: " + e.what());
  }
  return m;
}

void BM_interp(benchmark::State& state, const Measured* m, bool optimised) {
  const Instance& inst = optimised ? m->optimised : m->unoptimised;
  for (auto _ : state) inst.run();
  const double before = static_cast<double>(m->nodes_before), after = static_cast<double>(m->nodes_after);
  state.counters["nodes"] = optimised ? after : before;
  state.counters["nodes_before"] = before;
  state.counters["nodes_after"] = after;
  state.counters["node_ratio"] = after / before;
}

// --- part 2: generated programs for the pipeline's scaling --------------------------

// Straight line: each step repeats a product commuted, multiplies by 1.0,
// multiplies two constants and computes a value nobody uses.
kiln::Staged<double(double, double)> chain(int64_t steps) {
  return kiln::stage("chain", [steps](Rep<double> x, Rep<double> y) {
    const Rep<double> half = 0.5, two = 2.0;
    for (int64_t k = 0; k < steps; ++k) {
      Rep<double> t = x * y + (y * x) * 1.0 + two * half * x;
      [[maybe_unused]] Rep<double> unused = kiln::sqrt(t * t);
      y = x;
      x = kiln::tanh(t * 0.25 + kiln::pow(y, 2.0) * 1e-3);
    }
    return x + y;
  });
}

// Loop-heavy: sibling 2-deep loop nests; the scale is invariant in both
// loops and i * n in the inner one.
kiln::Staged<double(int64_t, double)> loops(int64_t blocks) {
  return kiln::stage("loops", [blocks](Rep<int64_t> n, Rep<double> s) {
    Rep<double> acc = 0.0;
    for (int64_t k = 0; k < blocks; ++k) {
      kiln::for_(0, n, [&](Rep<int64_t> i) {
        kiln::for_(0, n, [&](Rep<int64_t> j) {
          Rep<double> scale = s * 2.0 / kiln::cast<double>(n) + static_cast<double>(k);
          acc += kiln::cast<double>(i * n + j) * scale;
        });
      });
    }
    return acc;
  });
}

struct Shape {
  const char* name;
  std::function<Program(int64_t steps)> make;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {"chain", [](int64_t k) { return program("chain", chain(k), 0.3, -0.7); }},
      {"loops", [](int64_t k) { return program("loops", loops(k), int64_t{3}, 0.5); }},
  };
  return all;
}

const std::vector<int64_t> kSizes = {1000, 2000, 4000, 8000, 16000, 32000};

/// A generated program of about `target` staged nodes and its pipeline input.
struct Scaled {
  kiln::ir::Module staged;
  size_t nodes = 0, nodes_after = 0;
};

size_t staged_nodes(const Program& p) { return count_nodes(kiln::detail::build_module(p.state)); }

Scaled scaled(const Shape& shape, int64_t target) {
  // Node count is linear in the steps: find the slope from two small ones.
  const size_t n8 = staged_nodes(shape.make(8)), n16 = staged_nodes(shape.make(16));
  const double per_step = static_cast<double>(n16 - n8) / 8.0, base = static_cast<double>(n8) - 8.0 * per_step;
  const int64_t steps = std::max<int64_t>(1, std::llround((static_cast<double>(target) - base) / per_step));
  Program p = shape.make(steps);
  p.name += "/N:" + std::to_string(target);
  Measured m = measure(p);  // compiles and checks both variants once
  Scaled s{kiln::detail::build_module(p.state), 0, m.nodes_after};
  s.nodes = count_nodes(s.staged);
  return s;
}

std::map<std::pair<std::string, int64_t>, Scaled>& scaled_programs() {
  static std::map<std::pair<std::string, int64_t>, Scaled> all;
  return all;
}

void BM_pipeline(benchmark::State& state, const Shape* shape) {
  const Scaled& s = scaled_programs().at({shape->name, state.range(0)});
  kiln::ir::Module out;
  for (auto _ : state) {
    // Copying the input and freeing the last output are not the pipeline's cost.
    state.PauseTiming();
    out = {};
    kiln::ir::Module in = s.staged;
    state.ResumeTiming();
    out = kiln::passes::run_pipeline(std::move(in), kOptimised);
    benchmark::DoNotOptimize(out);
  }
  const double n = static_cast<double>(s.nodes);
  state.SetComplexityN(static_cast<int64_t>(s.nodes));
  state.counters["nodes"] = n;
  state.counters["nodes_after"] = static_cast<double>(s.nodes_after);
  state.counters["time_per_1k_nodes"] =
      benchmark::Counter(n / 1000.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

/// Seconds of one pipeline run on s, from a batch of copies made beforehand
/// so that each timed batch covers about 32k nodes.
double pipeline_seconds(const Scaled& s) {
  const size_t batch = std::max<size_t>(1, 32000 / std::max<size_t>(1, s.nodes));
  std::vector<kiln::ir::Module> in(batch, s.staged), out(batch);
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < batch; ++i) out[i] = kiln::passes::run_pipeline(std::move(in[i]), kOptimised);
  return seconds_since(start) / static_cast<double>(batch);
}

// --- the summary -------------------------------------------------------------------

void print_summary(const std::vector<Measured>& programs) {
  std::printf("\n== optimiser summary (interpreter; medians of 9 alternating runs, std::chrono) ==\n");
  std::printf("%-16s %12s %11s %7s %16s %15s %8s\n", "program", "nodes_before", "nodes_after", "ratio", "interp_ms_before",
              "interp_ms_after", "speedup");
  for (const Measured& m : programs) {
    auto [before, after] = median_seconds(9, m.unoptimised.run, m.optimised.run);
    before *= 1e3;
    after *= 1e3;
    std::printf("%-16s %12zu %11zu %7.3f %16.3f %15.3f %7.2fx\n", m.program.name.c_str(), m.nodes_before, m.nodes_after,
                static_cast<double>(m.nodes_after) / static_cast<double>(m.nodes_before), before, after, before / after);
  }

  std::printf("\n== pipeline scaling (default Options; medians of 5 rounds over all N; time per 1,000 staged nodes) ==\n");
  std::printf("%-8s %8s %8s %11s %12s %14s\n", "shape", "N", "nodes", "nodes_after", "pipeline_ms", "us_per_1k_nodes");
  for (const Shape& shape : shapes()) {
    // Rounds over all sizes, not sizes one after another: a load change on a
    // shared machine then hits every size alike and spares the ratio.
    std::vector<std::vector<double>> t(kSizes.size());
    for (int round = 0; round < 5; ++round)
      for (size_t k = 0; k < kSizes.size(); ++k)
        t[k].push_back(pipeline_seconds(scaled_programs().at({shape.name, kSizes[k]})));
    double first = 0, last = 0;
    for (size_t k = 0; k < kSizes.size(); ++k) {
      const Scaled& s = scaled_programs().at({shape.name, kSizes[k]});
      const double sec = median(t[k]), per_1k = sec / (static_cast<double>(s.nodes) / 1000.0) * 1e6;
      if (k == 0) first = per_1k;
      last = per_1k;
      std::printf("%-8s %8lld %8zu %11zu %12.3f %14.2f\n", shape.name, static_cast<long long>(kSizes[k]), s.nodes,
                  s.nodes_after, sec * 1e3, per_1k);
    }
    const double ratio = last / first;
    std::printf("%-8s time/1k nodes at N=%lldk vs N=%lldk: %.2fx -> %s\n", shape.name,
                static_cast<long long>(kSizes.back() / 1000), static_cast<long long>(kSizes.front() / 1000), ratio,
                ratio <= 2.0 ? "flat (within 2x)" : "NOT flat (more than 2x)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  kiln::bench::g_program_name = "kiln_bench_optimizer";
  const bool summary = !kiln::bench::take_flag(argc, argv, "--no_summary");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // Built and checked before anything is timed; they live until the end.
  std::vector<Measured> programs;
  for (Program (*make)() : {newton_poly, scaled_dot, blend, power_unrolled, matmul, branchy})
    programs.push_back(measure(make()));
  for (const Shape& shape : shapes())
    for (int64_t n : kSizes) scaled_programs().emplace(std::make_pair(std::string(shape.name), n), scaled(shape, n));

  for (const Measured& m : programs)
    for (bool optimised : {false, true})
      benchmark::RegisterBenchmark(("interp/" + m.program.name + (optimised ? "/optimised" : "/unoptimised")).c_str(),
                                   BM_interp, &m, optimised)
          ->Unit(benchmark::kMillisecond);
  for (const Shape& shape : shapes()) {
    auto* b = benchmark::RegisterBenchmark((std::string("pipeline/") + shape.name).c_str(), BM_pipeline, &shape);
    for (int64_t n : kSizes) b->Arg(n);
    b->ArgName("N")->Unit(benchmark::kMicrosecond)->Complexity(benchmark::oN);
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (summary) print_summary(programs);
  return 0;
}

// What Backend::cxx costs to compile and what its code runs like.
//
// Part 1, compile latency: kiln::compile(staged, {.backend = Backend::cxx})
// from a staged function to a callable (pipeline, C++ emission, cache lookup,
// the system compiler, dlopen), for a small kernel (saxpy), a medium one
// (poly: a degree-64 polynomial, Horner form unrolled at staging time, over
// an array: about 200 IR nodes after optimisation), one with math and a trap
// (mathy: exp, log, sqrt and an integer division that traps; its source
// includes neither <cmath> nor <stdexcept> under GCC and Clang, see
// docs/export.md) and a reverse-mode gradient through a loop (taped: its
// tape is a std::vector, so the source includes <vector>, which precompiled
// headers save), in three cases:
//
//   cold        a program this process and the cache directory have never
//               seen: every call compiles a freshly staged copy of the kernel
//               whose only difference is its name (saxpy_cold_17, ...). The
//               name is in the emitted source and so in the cache key; the
//               compiler does the same work every time. The summary also
//               gives it with KILN_CXX_PCH=0 (no precompiled standard
//               headers; see docs/export.md).
//   memory_hit  the same staged function again while a Compiled of it is
//               alive: the pipeline, the emission and the hash, no compiler.
//   disk_hit    the same program again after every Compiled of it is gone
//               (the .so unloaded): found in the cache directory and dlopened.
//               The unload (dlclose) after each call is not timed.
//   interp      Backend::interp's compile of the same staged function (the
//               pipeline and the interpreter's set-up), for reference.
//
// kiln::cxx::stats() is checked around every measurement: a "cold" run that
// was a cache hit, or a "disk hit" that compiled, stops the binary. The
// cache is a fresh temporary directory (KILN_CACHE_DIR), removed at the end;
// KILN_DISK_CACHE is forced on.
//
// Part 2, run time: the code Backend::cxx generates against the same kernel
// written by hand in this file, compiled with the flags the backend uses
// (-O3 -march=native -ffp-contract=off, bench/CMakeLists.txt; the hand-written
// functions are noipa, so that neither is specialised for its call site):
//
//   saxpy     y[i] = a * x[i] + y[i], n = 1<<20 floats
//   dot       sum of x[i] * y[i], n = 1<<20 floats, one float accumulator
//   stencil5  5-point stencil on a 1024x1024 double grid (flat buffer),
//             interior points: 0.5 * c + 0.125 * (w + e + n + s)
//   mandel    Mandelbrot escape counts, 256x256, max 256 iterations: a
//             data-dependent while_ loop, an int32 result per pixel
//   recur     x = a * x + b over n = 1<<20 steps (loop-carried, latency-bound)
//
// Before anything is timed, kiln cxx and the hand-written code run once on
// the full input and kiln cxx, the interpreter and the hand-written code on
// a small input (the interpreter is slow); every result and every buffer
// must agree bit for bit (integers exactly, floats by their bits), or the
// binary stops. The interpreter is compared with cxx on the small input only.
//
// Counters: nodes (IR nodes after optimisation, every function of the
// module), n (elements, grid points, pixels or steps of that input).
//
// After the benchmarks, a summary table measured here with std::chrono
// (medians of alternating runs) gives the compile latencies, the kiln cxx /
// hand-written time ratios and the interpreter / cxx ratios. --no_summary
// skips it.
//
//   ./build/release/bench/kiln_bench_cxx --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <kiln/ir/ir.h>
#include <kiln/kiln.h>

#include "backends/cxx/cxx_backend.h"
#include "bench_support.h"
#include "kernels.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

using kiln::Arr;
using kiln::Rep;
using namespace kiln::bench;  // bench_support.h

const kiln::Options kCxx{.backend = kiln::Backend::cxx};
const kiln::Options kInterp{.backend = kiln::Backend::interp};

// --- the kernels: saxpy, dot, stencil and Mandelbrot come from kernels.h; the
// recurrence and the polynomial are this benchmark's own ------------------------------

kiln::Staged<double(double, double, double, int64_t)> stage_recur() {
  return kiln::stage("recur", {"a", "b", "x0", "n"}, [](Rep<double> a, Rep<double> b, Rep<double> x0, Rep<int64_t> n) {
    Rep<double> x = x0;
    kiln::for_(0, n, [&](Rep<int64_t>) { x = a * x + b; });
    return x;
  });
}

__attribute__((noipa)) double hand_recur(double a, double b, double x0, int64_t n) {
  double x = x0;
  for (int64_t i = 0; i < n; ++i) x = a * x + b;
  return x;
}

// The medium kernel of part 1: y[i] = p(x[i]), p of degree 64 in Horner form,
// unrolled at staging time (coefficients are staged constants).
constexpr int kPolyDegree = 64;
using PolySig = void(std::span<const double>, std::span<double>);

kiln::Staged<PolySig> stage_poly(const std::string& name) {
  return kiln::stage(name, {"x", "y"}, [](Arr<const double> x, Arr<double> y) {
    static const std::vector<double> coef = values<double>(kPolyDegree + 1, 99);
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<double> v = x[i] * 0.5;
      Rep<double> p = coef[0];
      for (int k = 1; k <= kPolyDegree; ++k) p = p * v + coef[static_cast<size_t>(k)];
      y[i] = p;
    });
  });
}

// Math (exp, log, sqrt) and an integer division that traps.
using MathySig = void(std::span<const double>, std::span<double>, int64_t);

kiln::Staged<MathySig> stage_mathy(const std::string& name) {
  return kiln::stage(name, {"x", "y", "k"}, [](Arr<const double> x, Arr<double> y, Rep<int64_t> k) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<double> v = x[i];
      y[i] = kiln::exp(-v * v) + kiln::log(1.0 + v * v) * kiln::sqrt(kiln::abs(v)) + kiln::cast<double>(i / k);
    });
  });
}

// The gradient of a loop with respect to w: reverse mode keeps the loop's
// values on a tape, a std::vector.
using TapedSig = double(double, std::span<const double>);

kiln::Staged<TapedSig> stage_taped(const std::string& name) {
  return kiln::grad<0>(kiln::stage(name, {"w", "x"}, [](Rep<double> w, Arr<const double> x) {
    Rep<double> acc = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc = kiln::tanh(acc * w + x[i]); });
    return acc;
  }));
}

// --- part 1: compile latency ---------------------------------------------------------

/// What one kiln::compile with Backend::cxx must have been.
enum class Expect { compile, memory_hit, disk_hit };

const char* expect_name(Expect e) {
  switch (e) {
    case Expect::compile: return "a compile";
    case Expect::memory_hit: return "a memory hit";
    case Expect::disk_hit: return "a disk hit";
  }
  return "?";
}

/// Stops the binary unless the `calls` compiles since `before` were all `e`.
void expect_stats(const std::string& what, const kiln::cxx::Stats& before, size_t calls, Expect e) {
  const kiln::cxx::Stats after = kiln::cxx::stats();
  const size_t c = after.compiles - before.compiles, m = after.memory_hits - before.memory_hits,
               d = after.disk_hits - before.disk_hits;
  const size_t want_c = e == Expect::compile ? calls : 0, want_m = e == Expect::memory_hit ? calls : 0,
               want_d = e == Expect::disk_hit ? calls : 0;
  if (c == want_c && m == want_m && d == want_d) return;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%zu calls should each have been %s, but kiln::cxx::stats() counted %zu compiles, %zu memory hits, %zu disk hits",
                calls, expect_name(e), c, m, d);
  die(what + ": " + buf + " (is something else holding the program, or the cache directory shared?)");
}

std::atomic<uint64_t> g_serial{0};

/// A compile-latency subject: how to stage a fresh copy (a new name) and the
/// staged function used for the hits and the interpreter.
template <class Sig>
struct LatencyKernel {
  const char* name;
  std::function<kiln::Staged<Sig>(const std::string&)> stage;
  kiln::Staged<Sig> hit;  // staged once, named "<name>_hit"
  size_t nodes = 0;

  kiln::Staged<Sig> fresh() const {
    return stage(std::string(name) + "_cold_" + std::to_string(g_serial++));
  }
};

template <class Sig>
LatencyKernel<Sig> latency_kernel(const char* name, std::function<kiln::Staged<Sig>(const std::string&)> stage) {
  LatencyKernel<Sig> k{name, stage, stage(std::string(name) + "_hit"), 0};
  k.nodes = count_nodes(k.hit.module());
  return k;
}

template <class Sig>
void BM_cold(benchmark::State& state, const LatencyKernel<Sig>* k) {
  const kiln::cxx::Stats before = kiln::cxx::stats();
  for (auto _ : state) {
    state.PauseTiming();
    kiln::Staged<Sig> s = k->fresh();
    state.ResumeTiming();
    std::optional<kiln::Compiled<Sig>> f(kiln::compile(s, kCxx));
    state.PauseTiming();
    f.reset();  // dlclose: not part of the compile
    state.ResumeTiming();
  }
  expect_stats(std::string("compile/") + k->name + "/cold", before, static_cast<size_t>(state.iterations()), Expect::compile);
  state.counters["nodes"] = static_cast<double>(k->nodes);
}

template <class Sig>
void BM_memory_hit(benchmark::State& state, const LatencyKernel<Sig>* k) {
  kiln::Compiled<Sig> alive = kiln::compile(k->hit, kCxx);  // compiled or found on disk: not timed
  const kiln::cxx::Stats before = kiln::cxx::stats();
  for (auto _ : state) {
    kiln::Compiled<Sig> f = kiln::compile(k->hit, kCxx);
    benchmark::DoNotOptimize(f);
  }
  expect_stats(std::string("compile/") + k->name + "/memory_hit", before, static_cast<size_t>(state.iterations()),
               Expect::memory_hit);
  state.counters["nodes"] = static_cast<double>(k->nodes);
}

template <class Sig>
void BM_disk_hit(benchmark::State& state, const LatencyKernel<Sig>* k) {
  { kiln::compile(k->hit, kCxx); }  // on disk now (memory_hit's handle is gone, so is this one)
  const kiln::cxx::Stats before = kiln::cxx::stats();
  for (auto _ : state) {
    std::optional<kiln::Compiled<Sig>> f(kiln::compile(k->hit, kCxx));
    state.PauseTiming();
    f.reset();  // unloads the .so: the next call must find it on disk
    state.ResumeTiming();
  }
  expect_stats(std::string("compile/") + k->name + "/disk_hit", before, static_cast<size_t>(state.iterations()),
               Expect::disk_hit);
  state.counters["nodes"] = static_cast<double>(k->nodes);
}

template <class Sig>
void BM_interp_compile(benchmark::State& state, const LatencyKernel<Sig>* k) {
  for (auto _ : state) {
    kiln::Compiled<Sig> f = kiln::compile(k->hit, kInterp);
    benchmark::DoNotOptimize(f);
  }
  state.counters["nodes"] = static_cast<double>(k->nodes);
}

/// Compile latencies of one kernel, medians in seconds.
struct Latency {
  double cold = 0, cold_no_pch = 0, memory_hit = 0, disk_hit = 0, interp = 0;
};

template <class Sig>
Latency measure_latency(const LatencyKernel<Sig>& k) {
  const std::string what = std::string("summary ") + k.name;
  Latency l;
  auto cold = [&](const std::string& label) {
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
      kiln::Staged<Sig> s = k.fresh();
      const kiln::cxx::Stats before = kiln::cxx::stats();
      auto start = std::chrono::steady_clock::now();
      std::optional<kiln::Compiled<Sig>> f(kiln::compile(s, kCxx));
      t.push_back(seconds_since(start));
      expect_stats(what + " " + label, before, 1, Expect::compile);
    }
    return median(std::move(t));
  };
  l.cold = cold("cold");
  setenv("KILN_CXX_PCH", "0", 1);  // the same without precompiled standard headers
  l.cold_no_pch = cold("cold without precompiled headers");
  unsetenv("KILN_CXX_PCH");
  {
    kiln::Compiled<Sig> alive = kiln::compile(k.hit, kCxx);
    std::function<void()> hit = [&] { benchmark::DoNotOptimize(kiln::compile(k.hit, kCxx)); };
    std::function<void()> interp = [&] { benchmark::DoNotOptimize(kiln::compile(k.hit, kInterp)); };
    const int calls = calls_per_sample(hit, 5e-3);
    const kiln::cxx::Stats before = kiln::cxx::stats();
    std::vector<double> t;
    for (int r = 0; r < 9; ++r) t.push_back(seconds_per_call(hit, calls));
    expect_stats(what + " memory_hit", before, static_cast<size_t>(9 * calls), Expect::memory_hit);
    l.memory_hit = median(std::move(t));
    const int icalls = calls_per_sample(interp, 5e-3);
    t.clear();
    for (int r = 0; r < 9; ++r) t.push_back(seconds_per_call(interp, icalls));
    l.interp = median(std::move(t));
  }
  {
    std::vector<double> t;
    for (int r = 0; r < 15; ++r) {
      const kiln::cxx::Stats before = kiln::cxx::stats();
      auto start = std::chrono::steady_clock::now();
      std::optional<kiln::Compiled<Sig>> f(kiln::compile(k.hit, kCxx));
      t.push_back(seconds_since(start));
      expect_stats(what + " disk_hit", before, 1, Expect::disk_hit);
    }
    l.disk_hit = median(std::move(t));
  }
  return l;
}

/// The compiled poly must compute what the interpreter does (a cheap check
/// that the medium kernel is a real program, not just something to compile).
void check_poly(const kiln::Staged<PolySig>& s) {
  const std::vector<double> x = values<double>(4096, 98);
  std::vector<double> y_cxx(x.size()), y_interp(x.size());
  kiln::compile(s, kCxx)(x, y_cxx);
  kiln::compile(s, kInterp)(x, y_interp);
  std::vector<Bits> a, b;
  append(a, y_interp);
  append(b, y_cxx);
  check_same("poly", "n = 4096", "the interpreter", a, "kiln cxx", b);
}

void check_mathy(const kiln::Staged<MathySig>& s) {
  const std::vector<double> x = values<double>(4096, 97);
  std::vector<double> y_cxx(x.size()), y_interp(x.size());
  kiln::compile(s, kCxx)(x, y_cxx, 7);
  kiln::compile(s, kInterp)(x, y_interp, 7);
  std::vector<Bits> a, b;
  append(a, y_interp);
  append(b, y_cxx);
  check_same("mathy", "n = 4096", "the interpreter", a, "kiln cxx", b);
}

void check_taped(const kiln::Staged<TapedSig>& s) {
  const std::vector<double> x = values<double>(4096, 96);
  std::vector<Bits> a, b;
  append(a, std::vector<double>{kiln::compile(s, kInterp)(0.5, x)});
  append(b, std::vector<double>{kiln::compile(s, kCxx)(0.5, x)});
  check_same("taped", "n = 4096", "the interpreter", a, "kiln cxx", b);
}

// --- part 2: run time ----------------------------------------------------------------

/// One kernel bound to its inputs: each closure runs one variant on its own
/// copy of the data (kiln cxx and hand-written on the full input, kiln cxx
/// and the interpreter on the small one).
struct RunCase {
  std::string name, input, small_input;
  size_t nodes = 0;
  double n = 0, small_n = 0;  // elements / points / pixels / steps
  std::function<void()> cxx, hand, cxx_small, interp_small;
};

/// A kernel's data and calls, for make_case. K provides:
///   Data data(bool small)                       fresh inputs (and zeroed outputs)
///   void call(const Compiled& f, Data& d)       runs kiln's code, keeps its result in d
///   void hand(Data& d)                          runs the hand-written code likewise
///   void outputs(const Data& d, vector<Bits>&)  the result, then every buffer
template <class K>
RunCase make_case(const K& k) {
  auto staged = k.stage();
  auto cxx = kiln::compile(staged, kCxx);
  auto interp = kiln::compile(staged, kInterp);
  auto out = [&](const typename K::Data& d) {
    std::vector<Bits> v;
    k.outputs(d, v);
    return v;
  };
  try {
    {
      typename K::Data a = k.data(false), b = k.data(false);
      k.call(cxx, a);
      k.hand(b);
      check_same(k.name, k.describe(false), "kiln cxx", out(a), "hand-written", out(b));
    }
    {
      typename K::Data a = k.data(true), b = k.data(true), c = k.data(true);
      k.call(interp, a);
      k.call(cxx, b);
      k.hand(c);
      check_same(k.name, k.describe(true), "the interpreter", out(a), "hand-written", out(c));
      check_same(k.name, k.describe(true), "kiln cxx", out(b), "hand-written", out(c));
    }
  } catch (const std::exception& e) {
    die(std::string(k.name) + ": running failed: " + e.what());
  }
  auto big_cxx = std::make_shared<typename K::Data>(k.data(false));
  auto big_hand = std::make_shared<typename K::Data>(k.data(false));
  auto small_cxx = std::make_shared<typename K::Data>(k.data(true));
  auto small_interp = std::make_shared<typename K::Data>(k.data(true));
  RunCase c;
  c.name = k.name;
  c.input = k.describe(false);
  c.small_input = k.describe(true);
  c.nodes = count_nodes(staged.module());
  c.n = k.size(false);
  c.small_n = k.size(true);
  c.cxx = [k, cxx, big_cxx] { k.call(cxx, *big_cxx); };
  c.hand = [k, big_hand] { k.hand(*big_hand); };
  c.cxx_small = [k, cxx, small_cxx] { k.call(cxx, *small_cxx); };
  c.interp_small = [k, interp, small_interp] { k.call(interp, *small_interp); };
  return c;
}

// Input sizes: the full ones of the task, and small ones for the interpreter.
constexpr int64_t kVecN = int64_t{1} << 20, kVecSmall = int64_t{1} << 14;
constexpr int64_t kGrid = 1024, kGridSmall = 128;
constexpr int32_t kPixels = 256, kPixelsSmall = 48, kMaxIter = 256;
constexpr int64_t kSteps = int64_t{1} << 20, kStepsSmall = int64_t{1} << 14;

struct Saxpy {
  const char* name = "saxpy";
  static constexpr float a = 0.75f;
  struct Data {
    std::vector<float> x, y;
  };
  auto stage() const { return stage_saxpy("saxpy"); }
  int64_t n(bool small) const { return small ? kVecSmall : kVecN; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "n=1<<14" : "n=1<<20"; }
  Data data(bool small) const { return {values<float>(static_cast<size_t>(n(small)), 1), values<float>(static_cast<size_t>(n(small)), 2)}; }
  void call(const kiln::Compiled<SaxpySig>& f, Data& d) const { f(a, d.x, d.y); }
  void hand(Data& d) const { hand_saxpy(a, d.x.data(), static_cast<int64_t>(d.x.size()), d.y.data()); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.y); }
};

struct Dot {
  const char* name = "dot";
  struct Data {
    std::vector<float> x, y;
    float result = 0;
  };
  auto stage() const { return stage_dot(); }
  int64_t n(bool small) const { return small ? kVecSmall : kVecN; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "n=1<<14" : "n=1<<20"; }
  Data data(bool small) const {
    return {values<float>(static_cast<size_t>(n(small)), 3), values<float>(static_cast<size_t>(n(small)), 4), 0};
  }
  void call(const kiln::Compiled<float(std::span<const float>, std::span<const float>)>& f, Data& d) const {
    d.result = f(d.x, d.y);
  }
  void hand(Data& d) const { d.result = hand_dot(d.x.data(), d.y.data(), static_cast<int64_t>(d.x.size())); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.result); }
};

struct Stencil {
  const char* name = "stencil5";
  struct Data {
    std::vector<double> in, out;
    int64_t n;
  };
  auto stage() const { return stage_stencil(); }
  int64_t n(bool small) const { return small ? kGridSmall : kGrid; }
  double size(bool small) const { return static_cast<double>(n(small) * n(small)); }
  std::string describe(bool small) const { return small ? "128x128" : "1024x1024"; }
  Data data(bool small) const {
    const int64_t g = n(small);
    return {values<double>(static_cast<size_t>(g * g), 5), std::vector<double>(static_cast<size_t>(g * g)), g};
  }
  void call(const kiln::Compiled<void(std::span<const double>, std::span<double>, int64_t)>& f, Data& d) const {
    f(d.in, d.out, d.n);
  }
  void hand(Data& d) const { hand_stencil(d.in.data(), d.out.data(), d.n); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.out); }
};

struct Mandel {
  const char* name = "mandel";
  struct Data {
    std::vector<int32_t> out;
    int32_t w;
  };
  auto stage() const { return stage_mandel(); }
  int32_t w(bool small) const { return small ? kPixelsSmall : kPixels; }
  double size(bool small) const { return static_cast<double>(w(small)) * w(small); }
  std::string describe(bool small) const { return small ? "48x48" : "256x256"; }
  Data data(bool small) const { return {std::vector<int32_t>(static_cast<size_t>(w(small) * w(small)), -1), w(small)}; }
  // The square [-2, 1] x [-1.5, 1.5] at every size.
  static double step(int32_t w) { return 3.0 / w; }
  void call(const kiln::Compiled<void(std::span<int32_t>, int32_t, int32_t, double, double, double, int32_t)>& f,
            Data& d) const {
    f(d.out, d.w, d.w, -2.0, -1.5, step(d.w), kMaxIter);
  }
  void hand(Data& d) const { hand_mandel(d.out.data(), d.w, d.w, -2.0, -1.5, step(d.w), kMaxIter); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.out); }
};

struct Recur {
  const char* name = "recur";
  static constexpr double a = 0.9999, b = 0.5, x0 = 1.0;
  struct Data {
    int64_t n;
    double result = 0;
  };
  auto stage() const { return stage_recur(); }
  int64_t n(bool small) const { return small ? kStepsSmall : kSteps; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "n=1<<14" : "n=1<<20"; }
  Data data(bool small) const { return {n(small), 0}; }
  void call(const kiln::Compiled<double(double, double, double, int64_t)>& f, Data& d) const { d.result = f(a, b, x0, d.n); }
  void hand(Data& d) const { d.result = hand_recur(a, b, x0, d.n); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.result); }
};

void BM_run(benchmark::State& state, const RunCase* c, const std::function<void()>* f, bool small) {
  for (auto _ : state) (*f)();
  state.counters["nodes"] = static_cast<double>(c->nodes);
  state.counters["n"] = small ? c->small_n : c->n;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(small ? c->small_n : c->n));
}

// --- the summary ---------------------------------------------------------------------

/// A row of the compile-latency table.
struct LatencyRow {
  std::string name;
  size_t nodes;
  std::function<Latency()> measure;
};

void print_summary(const std::vector<LatencyRow>& latency, const std::vector<RunCase>& cases) {
  const kiln::cxx::Toolchain tc = kiln::cxx::toolchain({});
  std::printf("\n== cxx backend: compile latency (toolchain: %s %s; medians: cold of 5, disk_hit of 15, memory_hit and interp of 9 batches) ==\n",
              tc.compiler.c_str(), tc.flags.c_str());
  std::printf("%-8s %6s %10s %12s %14s %12s %16s %12s\n", "kernel", "nodes", "cold_ms", "no_pch_ms", "memory_hit_us",
              "disk_hit_us", "interp_compile_us", "cold/interp");
  for (const LatencyRow& row : latency) {
    const Latency l = row.measure();
    std::printf("%-8s %6zu %10.1f %12.1f %14.1f %12.1f %16.1f %11.0fx\n", row.name.c_str(), row.nodes, l.cold * 1e3,
                l.cold_no_pch * 1e3, l.memory_hit * 1e6, l.disk_hit * 1e6, l.interp * 1e6, l.cold / l.interp);
  }
  std::printf("   (no_pch_ms: cold with KILN_CXX_PCH=0; only taped includes a header that is precompiled, <vector>)\n");

  std::printf("\n== run time: kiln cxx vs hand-written C++ (same flags), and the interpreter vs kiln cxx on a small input ==\n");
  std::printf("   (medians of 9 alternating samples; interpreter of 5; each sample a batch of about 5 ms or one call)\n");
  std::printf("%-9s %10s %10s %10s %9s | %9s %12s %12s %11s\n", "kernel", "input", "cxx_ms", "hand_ms", "cxx/hand",
              "small", "interp_ms", "cxx_ms", "interp/cxx");
  for (const RunCase& c : cases) {
    auto [cxx, hand] = median_pair(9, c.cxx, c.hand, 5e-3);
    auto [interp, cxx_small] = median_pair(5, c.interp_small, c.cxx_small, 5e-3);
    std::printf("%-9s %10s %10.3f %10.3f %8.2fx | %9s %12.3f %12.4f %10.0fx\n", c.name.c_str(), c.input.c_str(),
                cxx * 1e3, hand * 1e3, cxx / hand, c.small_input.c_str(), interp * 1e3, cxx_small * 1e3,
                interp / cxx_small);
  }
  if (tc.flags != "-O3 -march=native")
    std::printf("note: the backend compiles with \"%s\" (KILN_CXX_FLAGS), the hand-written code with -O3 -march=native: "
                "cxx/hand compares flags too\n", tc.flags.c_str());
#ifndef NDEBUG
  std::printf("note: this binary is not a Release build: the hand-written code is not built with -O3 as the backend's is\n");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  kiln::bench::g_program_name = "kiln_bench_cxx";
  kiln::bench::g_mismatch_hint = "compare kiln::source(staged) with the hand-written code";
  const bool summary = !kiln::bench::take_flag(argc, argv, "--no_summary");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kiln::bench::use_fresh_cache_dir("kiln-bench-cxx-");

  // Built and checked before anything is timed; they live until the end.
  std::optional<LatencyKernel<SaxpySig>> saxpy;
  std::optional<LatencyKernel<PolySig>> poly;
  std::optional<LatencyKernel<MathySig>> mathy;
  std::optional<LatencyKernel<TapedSig>> taped;
  std::vector<RunCase> cases;
  try {
    saxpy.emplace(latency_kernel<SaxpySig>("saxpy", stage_saxpy));
    poly.emplace(latency_kernel<PolySig>("poly", stage_poly));
    check_poly(poly->fresh());
    mathy.emplace(latency_kernel<MathySig>("mathy", stage_mathy));
    check_mathy(mathy->fresh());
    taped.emplace(latency_kernel<TapedSig>("taped", stage_taped));
    check_taped(taped->fresh());
    cases.push_back(make_case(Saxpy{}));
    cases.push_back(make_case(Dot{}));
    cases.push_back(make_case(Stencil{}));
    cases.push_back(make_case(Mandel{}));
    cases.push_back(make_case(Recur{}));
  } catch (const std::exception& e) {
    die(std::string("setting up failed: ") + e.what());
  }

  auto register_latency = [](const char* name, auto* k) {
    const std::string p = std::string("compile/") + name;
    // Real time: a cold compile's work is in the compiler, a child process,
    // which this process's CPU time does not see.
    benchmark::RegisterBenchmark((p + "/cold").c_str(), [k](benchmark::State& s) { BM_cold(s, k); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((p + "/memory_hit").c_str(), [k](benchmark::State& s) { BM_memory_hit(s, k); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((p + "/disk_hit").c_str(), [k](benchmark::State& s) { BM_disk_hit(s, k); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((p + "/interp").c_str(), [k](benchmark::State& s) { BM_interp_compile(s, k); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  };
  register_latency("saxpy", &*saxpy);
  register_latency("poly", &*poly);
  register_latency("mathy", &*mathy);
  register_latency("taped", &*taped);
  for (const RunCase& c : cases) {
    const std::string p = "run/" + c.name;
    benchmark::RegisterBenchmark((p + "/cxx").c_str(), BM_run, &c, &c.cxx, false)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "/hand").c_str(), BM_run, &c, &c.hand, false)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "/cxx_small").c_str(), BM_run, &c, &c.cxx_small, true)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((p + "/interp_small").c_str(), BM_run, &c, &c.interp_small, true)
        ->Unit(benchmark::kMillisecond);
  }

  try {
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (summary)
      print_summary({{"saxpy", saxpy->nodes, [&] { return measure_latency(*saxpy); }},
                     {"poly", poly->nodes, [&] { return measure_latency(*poly); }},
                     {"mathy", mathy->nodes, [&] { return measure_latency(*mathy); }},
                     {"taped", taped->nodes, [&] { return measure_latency(*taped); }}},
                    cases);
  } catch (const std::exception& e) {
    die(std::string("failed: ") + e.what());
  }
  cases.clear();
  kiln::bench::remove_cache_dir();
  return 0;
}

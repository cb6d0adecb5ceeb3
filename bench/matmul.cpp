// The lowered tensor matmul against Eigen 3.4's GEMM and a plain
// hand-written loop, on one thread, from 8x8x8 to 512x512x512 and on the MLP
// benchmarks' shapes. It measures the crossover behind
// lower::fast_math_gemm_min_work: from which size does fast_math's call of
// a GEMM library (the IR op `gemm`, backends/runtime/gemm.cpp) beat
// fast_math's loop nest?
//
//   kiln          C = matmul(A, B) staged, Backend::llvm, default Options:
//                 the loop nest (rows of C by four, k in steps of eight);
//                 every element sums k upwards from +0.0, each product
//                 rounded: bit-identical to the interpreter and to `loop`
//                 (checked).
//   kiln fm, loop nest   Options::fast_math with passes.gemm = false: the
//                 same loop nest with FMA contraction.
//   kiln fm, gemm Options::fast_math: from the threshold up one `gemm` op,
//                 which calls Eigen; below it the loop nest again.
//   loop          for i, k, j: C[i][j] += A[i][k] * B[k][j], g++ -O3
//                 -march=native -ffp-contract=off (the same order).
//   Eigen         Eigen::Map of the same row-major buffers, C.noalias() =
//                 A * B, called directly.
// The fast_math builds and Eigen are compared within a relative tolerance.
//
// One thread everywhere: kiln's pool is set to one thread, Eigen is built
// without OpenMP. Each figure is the median of alternating samples
// (bench_support.h). The summary prints one row per shape and a line
//
//   CROSSOVER gemm_faster_from=<m>x<k>x<n> threshold=<multiply-adds> ...
//
// naming the smallest square size from which the gemm build is faster than
// the loop-nest build by more than 10% on every larger square size.
#include "bench_support.h"

#include "backends/runtime/thread_pool.h"
#include "codegen/lower/lower_tensors.h"

#include <kiln/kiln.h>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace kiln::bench;
using kiln::Arr;

constexpr int kReps = 9;
constexpr double kTarget = 0.01;  // seconds per timed sample

struct Shape {
  int64_t m, k, n;
  std::string name() const { return std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n); }
  double flops() const { return 2.0 * static_cast<double>(m * k * n); }
};

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Case {
  Shape s;
  Buf<float> a, b, c_kiln, c_nest, c_fast, c_loop, c_eigen;
  std::function<void()> kiln, nest, fast, loop, eigen;
};

void hand_loop(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * n;
    for (int64_t j = 0; j < n; ++j) ci[j] = 0.0f;
    for (int64_t p = 0; p < k; ++p) {
      const float aip = a[i * k + p];
      const float* bp = b + p * n;
      for (int64_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
    }
  }
}

std::unique_ptr<Case> make_case(Shape s) {
  auto c = std::make_unique<Case>();
  c->s = s;
  c->a = aligned_values<float>(static_cast<size_t>(s.m * s.k), 1);
  c->b = aligned_values<float>(static_cast<size_t>(s.k * s.n), 2);
  for (Buf<float>* out : {&c->c_kiln, &c->c_nest, &c->c_fast, &c->c_loop, &c->c_eigen})
    out->assign(static_cast<size_t>(s.m * s.n), 0.0f);
  auto staged = kiln::stage("matmul_" + s.name(), {"a", "b", "c"}, [s](Arr<const float> a, Arr<const float> b, Arr<float> c) {
    c.store(kiln::matmul(a.tensor({s.m, s.k}), b.tensor({s.k, s.n})));
  });
  auto k0 = kiln::compile(staged, {.backend = kiln::Backend::llvm});
  auto k1 = kiln::compile(staged, {.backend = kiln::Backend::llvm, .fast_math = true});
  auto k2 = kiln::compile(staged, {.backend = kiln::Backend::llvm, .fast_math = true, .passes = {.gemm = false}});
  Case* p = c.get();
  c->kiln = [p, k0] { k0(std::span<const float>(p->a), std::span<const float>(p->b), std::span<float>(p->c_kiln)); };
  c->nest = [p, k2] { k2(std::span<const float>(p->a), std::span<const float>(p->b), std::span<float>(p->c_nest)); };
  c->fast = [p, k1] { k1(std::span<const float>(p->a), std::span<const float>(p->b), std::span<float>(p->c_fast)); };
  c->loop = [p] { hand_loop(p->a.data(), p->b.data(), p->c_loop.data(), p->s.m, p->s.k, p->s.n); };
  c->eigen = [p] {
    Eigen::Map<const RowMajor> a(p->a.data(), p->s.m, p->s.k), b(p->b.data(), p->s.k, p->s.n);
    Eigen::Map<RowMajor> out(p->c_eigen.data(), p->s.m, p->s.n);
    out.noalias() = a * b;
  };
  // Cross-check before timing: kiln and the loop sum in the same order.
  c->kiln();
  c->nest();
  c->fast();
  c->loop();
  c->eigen();
  std::vector<Bits> from_kiln, from_loop;
  append(from_kiln, c->c_kiln);
  append(from_loop, c->c_loop);
  check_same("matmul " + s.name(), "values(1), values(2)", "kiln", from_kiln, "the hand-written loop", from_loop);
  for (size_t i = 0; i < c->c_kiln.size(); ++i) {
    const double want = c->c_loop[i], tol = 1e-4 * std::sqrt(static_cast<double>(s.k)) * (1.0 + std::abs(want));
    if (std::abs(c->c_fast[i] - want) > tol || std::abs(c->c_nest[i] - want) > tol || std::abs(c->c_eigen[i] - want) > tol)
      die("matmul " + s.name() + ": fast_math or Eigen differs from the loop at " + std::to_string(i) + ": " +
          std::to_string(c->c_fast[i]) + " / " + std::to_string(c->c_nest[i]) + " / " + std::to_string(c->c_eigen[i]) +
          " vs " + std::to_string(want));
  }
  return c;
}

void BM_call(benchmark::State& state, const std::function<void()>* fn, double flops) {
  for (auto _ : state) (*fn)();
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void print_summary(const std::vector<std::unique_ptr<Case>>& cases, const std::vector<Shape>& squares) {
  std::printf("\nmatmul C = A B, float32, one thread, median of %d alternating samples (GFLOP/s)\n\n", kReps);
  std::printf("| m x k x n | kiln | kiln fm, loop nest | kiln fm, gemm%s | loop (g++ -O3) | Eigen | loop nest / gemm time |\n"
              "|---|---|---|---|---|---|---|\n",
              kiln::lower::fast_math_gemm_min_work > 0 ? " (where lowered to one)" : "");
  std::vector<double> ratio;
  for (const auto& c : cases) {
    const std::vector<double> t = median_each(kReps, {c->kiln, c->nest, c->fast, c->loop, c->eigen}, kTarget);
    const double f = c->s.flops() * 1e-9;
    std::printf("| %s | %.1f | %.1f | %.1f%s | %.1f | %.1f | %.2f |\n", c->s.name().c_str(), f / t[0], f / t[1], f / t[2],
                c->s.m * c->s.k * c->s.n >= kiln::lower::fast_math_gemm_min_work ? "" : " (nest)", f / t[3], f / t[4],
                t[1] / t[2]);
    ratio.push_back(t[1] / t[2]);
  }
  // The crossover: the smallest square size from which the GEMM call wins
  // by > 10% on every larger square size (sizes below the threshold run the
  // loop nest in both columns, so they cannot win).
  std::string from = "none";
  for (size_t q = squares.size(); q-- > 0;) {
    if (ratio[q] <= 1.1) break;
    from = squares[q].name();
  }
  std::printf("\nCROSSOVER gemm_faster_from=%s threshold=%lld (smallest square size from which fast_math's GEMM call "
              "beats its loop nest by >10%% at every larger size; one thread; the threshold is "
              "kiln::lower::fast_math_gemm_min_work multiply-adds)\n",
              from.c_str(), static_cast<long long>(kiln::lower::fast_math_gemm_min_work));
}

}  // namespace

int main(int argc, char** argv) {
  g_program_name = "kiln_bench_matmul";
  bool summary = true;
  if (!start_llvm_benchmark(argc, argv, &summary)) return 0;
  use_fresh_cache_dir("kiln-bench-matmul-");
  kiln::runtime::set_thread_count(1);
  const std::vector<Shape> squares = {{8, 8, 8}, {16, 16, 16}, {32, 32, 32}, {64, 64, 64},
                                      {128, 128, 128}, {256, 256, 256}, {512, 512, 512}};
  // The MLP benchmark's matmuls (bench/torch.cpp): the large model's
  // forward and weight gradient, the small model's hidden and output layers
  // (forward and weight gradient).
  const std::vector<Shape> mlp = {{64, 784, 128}, {784, 64, 128}, {256, 64, 64}, {64, 256, 64}, {256, 64, 3}, {64, 256, 3}};
  std::vector<std::unique_ptr<Case>> cases;
  try {
    for (const Shape& s : squares) cases.push_back(make_case(s));
    for (const Shape& s : mlp) cases.push_back(make_case(s));
  } catch (const std::exception& e) {
    die(std::string("setting up failed: ") + e.what());
  }
  for (const auto& c : cases) {
    const std::string n = "matmul/" + c->s.name();
    benchmark::RegisterBenchmark((n + "/kiln").c_str(), BM_call, &c->kiln, c->s.flops());
    benchmark::RegisterBenchmark((n + "/kiln_fast_math_loop_nest").c_str(), BM_call, &c->nest, c->s.flops());
    benchmark::RegisterBenchmark((n + "/kiln_fast_math").c_str(), BM_call, &c->fast, c->s.flops());
    benchmark::RegisterBenchmark((n + "/loop").c_str(), BM_call, &c->loop, c->s.flops());
    benchmark::RegisterBenchmark((n + "/eigen").c_str(), BM_call, &c->eigen, c->s.flops());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (summary) print_summary(cases, squares);
  remove_cache_dir();
  return 0;
}

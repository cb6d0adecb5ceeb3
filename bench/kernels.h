// The kernels the backend benchmarks share, each staged and hand-written:
// saxpy, a fused chain with sqrt and fma, dot, a 5-point stencil, a
// 64x64x64 matmul with stage-time sizes, Mandelbrot and Collatz, plus the
// Eigen and STREAM-triad baselines. Included by llvm_backend.cpp and
// cxx_backend.cpp (inline: each uses some of them).
#pragma once

#include <kiln/kiln.h>

#if KILN_BENCH_HAVE_EIGEN
#include <Eigen/Core>
#endif

#include <cmath>
#include <cstdint>
#include <span>
#include <string>

namespace {

using kiln::Arr;
using kiln::Rep;

// --- the kernels: staged and hand-written --------------------------------------------
//
// Each hand-written function is the loop a C++ programmer would write, with
// the operations in the staged program's order (no FMA contraction: the IR
// has none, and -ffp-contract=off here), so results are identical bit for bit.

using SaxpySig = void(float, std::span<const float>, std::span<float>);

inline kiln::Staged<SaxpySig> stage_saxpy(const std::string& name = "saxpy") {
  return kiln::stage(name, {"a", "x", "y"}, [](Rep<float> a, Arr<const float> x, Arr<float> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
}

__attribute__((noipa)) inline void hand_saxpy(float a, const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i] + y[i];
}

using ChainSig = void(std::span<const float>, std::span<const float>, std::span<float>);

inline kiln::Staged<ChainSig> stage_chain() {
  return kiln::stage("chain", {"x", "y", "z"}, [](Arr<const float> x, Arr<const float> y, Arr<float> z) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<float> a = x[i], b = y[i];
      z[i] = kiln::sqrt(kiln::fma(a, b, Rep<float>(1.0f))) * a + b;
    });
  });
}

// With GCC's default -fmath-errno, std::sqrt must set errno for a negative
// operand: GCC emits vsqrtss plus a guarded call of sqrtf and cannot
// vectorise the loop. kiln's IR sqrt has no errno (llvm.sqrt), so the
// fair peer is also measured: the same loop built with -fno-math-errno.
__attribute__((noipa)) inline void hand_chain(const float* x, const float* y, float* z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float a = x[i], b = y[i];
    z[i] = std::sqrt(std::fma(a, b, 1.0f)) * a + b;
  }
}
}  // namespace
extern "C" void kiln_bench_hand_chain_no_math_errno(const float* x, const float* y, float* z, int64_t n);
namespace {

#if KILN_BENCH_HAVE_EIGEN
// Eigen 3.4 has no element-wise fma: x * y + 1 rounds twice. (With its
// default EIGEN_FAST_MATH its AVX-512 float sqrt is also rsqrt14 plus a
// Newton step, not the correctly rounded vsqrtps.) GCC 12 warns inside its
// own _mm512_undefined_ps, which Eigen's sqrt reaches: not this code's.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((noipa)) inline void eigen_chain(const float* x, const float* y, float* z, int64_t n) {
  Eigen::Map<const Eigen::ArrayXf> X(x, n), Y(y, n);
  Eigen::Map<Eigen::ArrayXf> Z(z, n);
  Z = (X * Y + 1.0f).sqrt() * X + Y;
}
#pragma GCC diagnostic pop
#endif

// STREAM's triad, the bandwidth reference.
__attribute__((noipa)) inline void hand_triad(float* a, const float* b, const float* c, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// A float sum cannot be split into vector lanes without reassociating it,
// which changes the last bits: both sides are the same sequential loop.
using DotSig = float(std::span<const float>, std::span<const float>);

inline kiln::Staged<DotSig> stage_dot() {
  return kiln::stage("dot", {"x", "y"}, [](Arr<const float> x, Arr<const float> y) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += x[i] * y[i]; });
    return acc;
  });
}

__attribute__((noipa)) inline float hand_dot(const float* x, const float* y, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += x[i] * y[i];
  return acc;
}

using StencilSig = void(std::span<const double>, std::span<double>, int64_t);

inline kiln::Staged<StencilSig> stage_stencil() {
  return kiln::stage("stencil5", {"in", "out", "n"}, [](Arr<const double> in, Arr<double> out, Rep<int64_t> n) {
    kiln::for_(1, n - 1, [&](Rep<int64_t> i) {
      kiln::for_(1, n - 1, [&](Rep<int64_t> j) {
        Rep<int64_t> c = i * n + j;
        out[c] = 0.5 * in[c] + 0.125 * (in[c - 1] + in[c + 1] + in[c - n] + in[c + n]);
      });
    });
  });
}

__attribute__((noipa)) inline void hand_stencil(const double* in, double* out, int64_t n) {
  for (int64_t i = 1; i < n - 1; ++i)
    for (int64_t j = 1; j < n - 1; ++j) {
      const int64_t c = i * n + j;
      out[c] = 0.5 * in[c] + 0.125 * (in[c - 1] + in[c + 1] + in[c - n] + in[c + n]);
    }
}

// C = A * B for N x N floats, N a staging-time constant: every loop bound
// and index stride is a constant in the IR. i-k-j order (the inner loop runs
// along rows of B and C); C[i][j] still sums its products in k order.
constexpr int64_t kMat = 64;
using MatmulSig = void(std::span<const float>, std::span<const float>, std::span<float>);

inline kiln::Staged<MatmulSig> stage_matmul() {
  return kiln::stage("matmul", {"a", "b", "c"}, [](Arr<const float> a, Arr<const float> b, Arr<float> c) {
    kiln::for_(0, kMat * kMat, [&](Rep<int64_t> i) { c[i] = 0.0f; });
    kiln::for_(0, kMat, [&](Rep<int64_t> i) {
      kiln::for_(0, kMat, [&](Rep<int64_t> k) {
        Rep<float> aik = a[i * kMat + k];
        kiln::for_(0, kMat, [&](Rep<int64_t> j) { c[i * kMat + j] += aik * b[k * kMat + j]; });
      });
    });
  });
}

__attribute__((noipa)) inline void hand_matmul(const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < kMat * kMat; ++i) c[i] = 0.0f;
  for (int64_t i = 0; i < kMat; ++i)
    for (int64_t k = 0; k < kMat; ++k) {
      const float aik = a[i * kMat + k];
      for (int64_t j = 0; j < kMat; ++j) c[i * kMat + j] += aik * b[k * kMat + j];
    }
}

// The same with the buffers declared __restrict: what a C++ programmer
// writes to give the compiler what kiln's call-time overlap check gives
// Backend::llvm.
__attribute__((noipa)) inline void hand_matmul_restrict(const float* __restrict a, const float* __restrict b,
                                                 float* __restrict c) {
  for (int64_t i = 0; i < kMat * kMat; ++i) c[i] = 0.0f;
  for (int64_t i = 0; i < kMat; ++i)
    for (int64_t k = 0; k < kMat; ++k) {
      const float aik = a[i * kMat + k];
      for (int64_t j = 0; j < kMat; ++j) c[i * kMat + j] += aik * b[k * kMat + j];
    }
}

using MandelSig = void(std::span<int32_t>, int32_t, int32_t, double, double, double, int32_t);

inline kiln::Staged<MandelSig> stage_mandel() {
  return kiln::stage("mandel", {"out", "w", "h", "x0", "y0", "step", "max_iter"},
                     [](Arr<int32_t> out, Rep<int32_t> w, Rep<int32_t> h, Rep<double> x0, Rep<double> y0,
                        Rep<double> step, Rep<int32_t> max_iter) {
                       kiln::for_(0, h, [&](Rep<int32_t> py) {
                         kiln::for_(0, w, [&](Rep<int32_t> px) {
                           Rep<double> cr = x0 + kiln::cast<double>(px) * step;
                           Rep<double> ci = y0 + kiln::cast<double>(py) * step;
                           Rep<double> zr = 0.0, zi = 0.0;
                           Rep<int32_t> k = 0;
                           kiln::while_([&] { return k < max_iter && zr * zr + zi * zi <= 4.0; },
                                        [&] {
                                          Rep<double> t = zr * zr - zi * zi + cr;
                                          zi = 2.0 * zr * zi + ci;
                                          zr = t;
                                          k += 1;
                                        });
                           out[py * w + px] = k;
                         });
                       });
                     });
}

__attribute__((noipa)) inline void hand_mandel(int32_t* out, int32_t w, int32_t h, double x0, double y0, double step,
                                        int32_t max_iter) {
  for (int32_t py = 0; py < h; ++py)
    for (int32_t px = 0; px < w; ++px) {
      const double cr = x0 + static_cast<double>(px) * step, ci = y0 + static_cast<double>(py) * step;
      double zr = 0.0, zi = 0.0;
      int32_t k = 0;
      while (k < max_iter && zr * zr + zi * zi <= 4.0) {
        const double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        k += 1;
      }
      out[py * w + px] = k;
    }
}

using CollatzSig = void(std::span<int32_t>, int64_t);

inline kiln::Staged<CollatzSig> stage_collatz() {
  return kiln::stage("collatz", {"steps", "start"}, [](Arr<int32_t> steps, Rep<int64_t> start) {
    kiln::for_(0, steps.size(), [&](Rep<int64_t> i) {
      Rep<int64_t> n = start + i;
      Rep<int32_t> k = 0;
      kiln::while_([&] { return n != 1; },
                   [&] {
                     kiln::if_(n % 2 == 0, [&] { n = n / 2; }, [&] { n = 3 * n + 1; });
                     k += 1;
                   });
      steps[i] = k;
    });
  });
}

__attribute__((noipa)) inline void hand_collatz(int32_t* steps, int64_t count, int64_t start) {
  for (int64_t i = 0; i < count; ++i) {
    int64_t n = start + i;
    int32_t k = 0;
    while (n != 1) {
      if (n % 2 == 0) n = n / 2;
      else n = 3 * n + 1;
      k += 1;
    }
    steps[i] = k;
  }
}

}  // namespace

// A size-specialised kernel called on Eigen data (kiln/eigen.h).
//
// y = alpha·Aᵀ(A x) + b is the normal-equations operator that a
// least-squares solver (CGLS, LSQR) applies every iteration to one matrix
// A. kiln stages it for A's shape, M x N, known before the solver starts:
// the extents are constants of the compiled code (its loop nests are
// blocked and unrolled for them, its size checks are against constants)
// and A x is a temporary kiln allocates. The compiled function is called
// directly with the Eigen::MatrixXf and Eigen::VectorXfs the solver holds,
// checked against Eigen's expression (max abs error; non-zero exit beyond
// the tolerance) and timed against it (median of several runs). Eigen's
// matrix-vector products sum in vector lanes with FMA; kiln's default keeps
// C++'s float semantics (no reassociation, no contraction), which leaves
// its reductions scalar, so expect Eigen to be faster there. Compiled with
// {.fast_math = true}, the two products (at least 32^3 multiply-adds each)
// become calls of the runtime GEMM (Eigen's own kernels), and the rest
// may reassociate and contract like Eigen does: the second timing.
//
// Layout: kiln sees the elements in memory order. A column-major M x N
// matrix (Eigen's default) is, read row-major, its N x M transpose, so the
// kernel reads A as a.tensor({N, M}) and writes A = Atᵀ.
//
//   eigen_kernel [M N]    defaults: 512 256
#include <kiln/eigen.h>
#include <kiln/kiln.h>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;

namespace {

/// y = alpha·Aᵀ(A x) + b for a column-major M x N matrix A, M and N fixed
/// now: x and y hold N floats, b N.
auto stage_normal_operator(int64_t m, int64_t n) {
  return kiln::stage("normal_operator", {"alpha", "a", "x", "b", "y"},
                     [=](Rep<float> alpha, Arr<const float> a, Arr<const float> x, Arr<const float> b, Arr<float> y) {
                       Tensor<float> At = a.tensor({n, m});  // column-major A in memory order: Aᵀ, row-major
                       Tensor<float> Ax = kiln::matmul(At.transpose(), x.tensor({n, 1}));  // [m, 1]
                       y.store(alpha * kiln::matmul(At, Ax) + b.tensor({n, 1}));           // [n, 1]
                     });
}

/// Median wall time of one call of `fn`, in microseconds, over `samples`
/// timed batches of `batch` calls (after one untimed batch).
template <class F>
double median_us(F&& fn, int samples, int batch) {
  std::vector<double> us;
  for (int s = -1; s < samples; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < batch; ++i) fn();
    auto t1 = std::chrono::steady_clock::now();
    if (s >= 0) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / batch);
  }
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long m = argc == 3 ? std::strtol(argv[1], nullptr, 10) : 512;
  const long n = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 256;
  if ((argc != 1 && argc != 3) || m <= 0 || n <= 0) {
    std::fprintf(stderr, "usage: eigen_kernel [M N] (positive integers)\n");
    return 2;
  }

  auto t0 = std::chrono::steady_clock::now();
  auto staged = stage_normal_operator(m, n);
  auto normal_operator = kiln::compile(staged);  // the default backend
  double compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto normal_operator_fast = kiln::compile(staged, {.fast_math = true});

  Eigen::MatrixXf A = Eigen::MatrixXf::Random(m, n);
  Eigen::VectorXf x = Eigen::VectorXf::Random(n), b = Eigen::VectorXf::Random(n);
  Eigen::VectorXf y(n), want(n);
  const float alpha = 0.5f;

  // Eigen objects go straight in: no copies, no spans to spell out.
  normal_operator(alpha, A, x, b, y);
  want.noalias() = alpha * (A.transpose() * (A * x)) + b;

  // Both sum m·n products in float, in different orders (Eigen in vector
  // lanes, with FMA): the tolerance scales with the size of the terms summed.
  Eigen::VectorXf terms = alpha * A.cwiseAbs().transpose() * (A.cwiseAbs() * x.cwiseAbs()) + b.cwiseAbs();
  Eigen::VectorXf y_fast(n);
  normal_operator_fast(alpha, A, x, b, y_fast);
  float error = 0.0f, error_fast = 0.0f, scale = 1.0f;
  for (long j = 0; j < n; ++j) {
    error = std::max(error, std::abs(y[j] - want[j]));
    error_fast = std::max(error_fast, std::abs(y_fast[j] - want[j]));
    scale = std::max(scale, terms[j]);
  }
  const float tolerance = 1e-6f * scale;

  const int samples = 21, batch = std::max(1L, 2000000L / (m * n));
  double kiln_us = median_us([&] { normal_operator(alpha, A, x, b, y); }, samples, batch);
  double fast_us = median_us([&] { normal_operator_fast(alpha, A, x, b, y_fast); }, samples, batch);
  double eigen_us = median_us([&] { want.noalias() = alpha * (A.transpose() * (A * x)) + b; }, samples, batch);

  std::printf("y = alpha * A^T (A x) + b, A %ld x %ld (column-major), float\n", m, n);
  std::printf("  staged and compiled for this shape (%s) in %.1f ms\n",
              kiln::available(kiln::Backend::llvm) ? "LLVM JIT" : "interpreter", compile_ms);
  std::printf("  max abs error vs Eigen: %.3g, fast_math %.3g (tolerance %.3g)\n", error, error_fast, tolerance);
  std::printf("  median of %d runs: kiln %.1f us, kiln fast_math %.1f us, Eigen %.1f us (kiln / Eigen = %.2f, "
              "fast_math / Eigen = %.2f)\n",
              samples, kiln_us, fast_us, eigen_us, kiln_us / eigen_us, fast_us / eigen_us);
  const char* threads = std::getenv("KILN_THREADS");
  std::printf("  (kiln's large loop nests run on %s thread(s), KILN_THREADS; Eigen's products here on one)\n",
              threads ? threads : std::to_string(std::thread::hardware_concurrency()).c_str());

  // A block of partial columns (M-1 of M rows) is not contiguous: kiln
  // refuses it, naming this line, and says what to do.
  bool refused = m == 1;  // a one-row A has no partial columns
  if (m > 1) {
    try {
      normal_operator(alpha, A.topRows(m - 1), x, b, y);
    } catch (const kiln::ShapeError& e) {
      std::printf("  a non-contiguous block is refused: %s\n", e.what());
      refused = true;
    }
  }

  if (!(error <= tolerance) || !(error_fast <= tolerance) || !refused) {
    std::printf("eigen_kernel: FAILED (%s)\n", refused ? "kiln and Eigen differ" : "a non-contiguous block was taken");
    return 1;
  }
  std::printf("eigen_kernel: ok\n");
  return 0;
}

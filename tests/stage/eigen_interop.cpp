// kiln/eigen.h: compiled functions called with Eigen objects where they take
// spans. Results are checked against the Eigen expression computing the same
// thing; objects whose elements are not contiguous are a kiln::ShapeError
// naming this file's line and saying what to do. (Built only when Eigen is
// found.)
#include <catch2/catch.hpp>

#include "support.h"

#include <kiln/eigen.h>
#include <kiln/tensor.h>

#include <Eigen/Core>

#include <span>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;
using kiln::test::interp;

namespace {

std::string here(int line) { return "eigen_interop.cpp:" + std::to_string(line); }

constexpr int64_t M = 5, N = 3;

using RowMajorXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// y = 2a + b, element by element in memory order.
template <class T>
kiln::Staged<void(std::span<const T>, std::span<const T>, std::span<T>)> axpb() {
  return kiln::stage("axpb", [](Arr<const T> a, Arr<const T> b, Arr<T> y) {
    kiln::for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = T(2) * a[i] + b[i]; });
  });
}

/// y = A x for an M x N matrix A in row-major memory order.
template <class T>
kiln::Staged<void(std::span<const T>, std::span<const T>, std::span<T>)> matvec_row_major() {
  return kiln::stage("matvec_rm", [](Arr<const T> a, Arr<const T> x, Arr<T> y) {
    y.store(kiln::matmul(a.tensor({M, N}), x.tensor({N, 1})));
  });
}

/// y = A x for an M x N matrix A in column-major memory order (Eigen's
/// default): read in memory order, its elements are A^T, row-major.
template <class T>
kiln::Staged<void(std::span<const T>, std::span<const T>, std::span<T>)> matvec_col_major() {
  return kiln::stage("matvec_cm", [](Arr<const T> a, Arr<const T> x, Arr<T> y) {
    y.store(kiln::matmul(a.tensor({N, M}).transpose(), x.tensor({N, 1})));
  });
}

/// Sum of the elements.
kiln::Staged<float(std::span<const float>)> total() {
  return kiln::stage("total", [](Arr<const float> a) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, a.size(), [&](Rep<int64_t> i) { acc += a[i]; });
    return acc;
  });
}

}  // namespace

TEST_CASE("eigen: a column-major Matrix is seen in memory order, column by column", "[eigen]") {
  Eigen::MatrixXd A = Eigen::MatrixXd::Random(M, N);
  Eigen::VectorXd x = Eigen::VectorXd::Random(N), y(M);
  interp(matvec_col_major<double>())(A, x, y);
  CHECK(y.isApprox(A * x, 1e-12));
  // The default backend too.
  Eigen::VectorXd z = Eigen::VectorXd::Zero(M);
  kiln::compile(matvec_col_major<double>())(A, x, z);
  CHECK(z.isApprox(A * x, 1e-12));
}

TEST_CASE("eigen: a RowMajor Matrix is a row-major tensor", "[eigen]") {
  RowMajorXf A = RowMajorXf::Random(M, N);
  Eigen::VectorXf x = Eigen::VectorXf::Random(N), y(M);
  interp(matvec_row_major<float>())(A, x, y);
  CHECK(y.isApprox(A * x, 1e-5f));
}

TEST_CASE("eigen: Arrays in, an Array out", "[eigen]") {
  Eigen::ArrayXXf a = Eigen::ArrayXXf::Random(M, N), b = Eigen::ArrayXXf::Random(M, N), y(M, N);
  interp(axpb<float>())(a, b, y);
  CHECK(y.isApprox(2.0f * a + b));
  Eigen::ArrayXd u = Eigen::ArrayXd::LinSpaced(7, -1.0, 1.0), v = Eigen::ArrayXd::Ones(7), w(7);
  interp(axpb<double>())(u, v, w);
  CHECK((w == 2.0 * u + v).all());
}

TEST_CASE("eigen: Maps over plain memory, read-only and written", "[eigen]") {
  std::vector<float> a(M * N), b(M * N), y(M * N);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.5f * static_cast<float>(i), b[i] = 1.0f - static_cast<float>(i);
  Eigen::Map<const Eigen::MatrixXf> A(a.data(), M, N), B(b.data(), M, N);
  Eigen::Map<Eigen::MatrixXf> Y(y.data(), M, N);
  interp(axpb<float>())(A, B, Y);
  CHECK((Y == 2.0f * A + B));
}

TEST_CASE("eigen: Refs, read-only and written", "[eigen]") {
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(M, N);
  Eigen::VectorXf x = Eigen::VectorXf::Random(N), y(M);
  Eigen::Ref<const Eigen::MatrixXf> a = A;
  Eigen::Ref<const Eigen::VectorXf> rx = x;
  Eigen::Ref<Eigen::VectorXf> ry = y;
  interp(matvec_col_major<float>())(a, rx, ry);
  CHECK(y.isApprox(A * x, 1e-5f));
}

TEST_CASE("eigen: contiguous blocks: a column, whole columns of a column-major matrix", "[eigen]") {
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(M, 6), Y = Eigen::MatrixXf::Zero(M, 6);
  CHECK(interp(total())(A.col(4)) == Approx(A.col(4).sum()).epsilon(1e-6));
  // Columns 1..3 in, columns 3..5 of Y written in place (temporary blocks).
  interp(axpb<float>())(A.middleCols(1, 3), A.middleCols(0, 3), Y.middleCols(3, 3));
  CHECK((Y.middleCols(3, 3) == 2.0f * A.middleCols(1, 3) + A.middleCols(0, 3)));
  CHECK(Y.leftCols(3).isZero(0.0f));
  // A row of a RowMajor matrix is contiguous too; a column written through .col(j).
  RowMajorXf R = RowMajorXf::Random(4, M);
  Eigen::VectorXf b = Eigen::VectorXf::Ones(M);
  interp(axpb<float>())(R.row(2), b, Y.col(0));
  CHECK((Y.col(0) == 2.0f * R.row(2).transpose() + b));
}

TEST_CASE("eigen: spans, vectors and Eigen objects mix in one call", "[eigen]") {
  Eigen::VectorXd a = Eigen::VectorXd::Random(6);
  std::vector<double> b(6, 0.25), y(6);
  interp(axpb<double>())(a, b, std::span<double>(y));
  for (int i = 0; i < 6; ++i) CHECK(y[i] == 2.0 * a[i] + 0.25);
  // Spans and vectors alone still take the plain call.
  interp(axpb<double>())(b, b, y);
  CHECK(y == std::vector<double>(6, 0.75));
  std::span<const double> s = kiln::eigen_span(a);
  CHECK((s.data() == a.data() && s.size() == 6));
}

TEST_CASE("eigen: a row of a column-major matrix is not contiguous: ShapeError at the caller's line", "[eigen]") {
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(M, M);
  Eigen::VectorXf b = Eigen::VectorXf::Ones(M), y(M);
  auto f = interp(axpb<float>());
  int line = __LINE__; std::string msg = kiln::test::error_message<kiln::ShapeError>([&] { f(A.row(1), b, y); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("not contiguous") && Contains("inner stride 5") &&
                      Contains("copy it into a contiguous Eigen::Matrix first, or pass .eval()"));
  // What the message says to do works.
  f(A.row(1).eval(), b, y);
  CHECK((y == 2.0f * A.row(1).transpose() + b));
}

TEST_CASE("eigen: a strided Map and an inner block are not contiguous", "[eigen]") {
  std::vector<double> mem(2 * M * N, 1.0);
  Eigen::Map<const Eigen::VectorXd, 0, Eigen::InnerStride<2>> every_other(mem.data(), M * N);
  Eigen::MatrixXd big = Eigen::MatrixXd::Random(M + 2, N), y(M, N);
  Eigen::VectorXd flat = every_other;
  auto f = interp(axpb<double>());
  int line = __LINE__; std::string msg = kiln::test::error_message<kiln::ShapeError>([&] { f(every_other, flat, y); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("inner stride 2") && Contains(".eval()"));
  // M of M + 2 rows of a column-major matrix: outer stride M + 2.
  line = __LINE__; msg = kiln::test::error_message<kiln::ShapeError>([&] { f(flat, big.topRows(M), y); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("5x3") && Contains("outer stride 7"));
  // A strided Map of the output: written in place, so copying is no remedy.
  Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>> out(mem.data(), M, N, Eigen::OuterStride<>(M + 1));
  Eigen::MatrixXd a = big.topRows(M);
  line = __LINE__; msg = kiln::test::error_message<kiln::ShapeError>([&] { f(a, a, out); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("outer stride 6") && Contains("written in place"));
}

TEST_CASE("eigen: a buffer of the wrong size is reported as for spans", "[eigen]") {
  int line = 0;
  auto f = kiln::stage("load_exact", [&](Arr<const float> x) {
    line = __LINE__; return x.tensor({4, 3}).sum_all();
  });
  Eigen::MatrixXf wrong = Eigen::MatrixXf::Ones(4, 4), right = Eigen::MatrixXf::Ones(4, 3);
  std::string msg = kiln::test::error_message<kiln::RuntimeError>([&] { interp(f)(wrong); });
  CHECK_THAT(msg, Contains("exactly 12") && Contains(here(line)) && Contains("load_exact"));
  CHECK(interp(f)(right) == 12.0f);
}

// Derivatives of tensor programs (codegen/autodiff's tensor rules), in
// double precision: each gradient against central finite differences of the
// primal, against forward mode (jvp: directional derivatives) and the vjp
// (linear in the cotangent). Every derivative runs lowered on the
// interpreter (cross-checked bit for bit against the C++ and LLVM backends,
// kiln::test::interp), compiled for Backend::llvm, and unlowered on the
// interpreter (tensor ops executed directly), all three equal bit for bit.
// Then: a max with ties (each tied element gets g / count), the reverse-mode
// IR staying at tensor level, and a training step that calls
// value_and_grad of a loss as a staged call and runs nn::sgd.
#include "ad_support.h"

#include "codegen/autodiff/forward.h"
#include "codegen/autodiff/reverse.h"

#include <kiln/nn.h>
#include <kiln/tensor.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;
using kiln::test::ad::central;
using kiln::test::ad::close;

namespace {

using Vec = std::vector<double>;
using In = std::span<const double>;

Vec randoms(size_t n, uint32_t seed, double lo = -1.5, double hi = 1.5) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec out(n);
  for (double& x : out) x = u(rng);
  return out;
}

bool same_bits(double a, double b) { return std::isnan(a) ? std::isnan(b) : std::memcmp(&a, &b, sizeof a) == 0; }

/// "" when every element is equal bit for bit, else the first difference.
std::string bit_difference(const std::vector<Vec>& a, const std::vector<Vec>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < a[i].size(); ++k)
      if (!same_bits(a[i][k], b[i][k]))
        return "buffer " + std::to_string(i) + " element " + std::to_string(k) + ": " + std::to_string(a[i][k]) +
               " vs " + std::to_string(b[i][k]);
  return "";
}

kiln::Options on(kiln::Backend b, bool lower = true) {
  kiln::Options o;
  o.backend = b;
  o.passes.lower_tensors = lower;
  return o;
}

/// Adjoint buffers shaped like `x`, holding garbage (grad overwrites them).
std::vector<Vec> garbage_like(const std::vector<Vec>& x) {
  std::vector<Vec> out;
  for (const Vec& v : x) out.emplace_back(v.size(), 99.0);
  return out;
}

/// The gradient of a loss of N read-only double buffers, checked:
/// - grad lowered on the interpreter (with the C++/LLVM cross-check), on
///   Backend::llvm, and unlowered on the interpreter: equal bit for bit;
/// - against central differences of the primal, element by element (fd_tol);
/// - against jvp along two random directions (the directional derivative is
///   the gradient's dot product with the direction);
/// - vjp with a cotangent c gives c times the gradient.
/// Returns the gradient.
template <class... B>
std::vector<Vec> check_gradient(const kiln::Staged<double(B...)>& f, const std::vector<Vec>& x, double fd_tol = 1e-6) {
  constexpr size_t N = sizeof...(B);
  REQUIRE(x.size() == N);
  using Seq = std::make_index_sequence<N>;
  auto primal_at = [&]<size_t... I>(const auto& c, const std::vector<Vec>& v, std::index_sequence<I...>) {
    return c(In(v[I])...);
  };
  auto grad_at = [&]<size_t... I>(const auto& c, std::vector<Vec>& adj, std::index_sequence<I...>) {
    c(In(x[I])..., std::span<double>(adj[I])...);
  };

  auto g = kiln::grad(f);
  std::vector<Vec> gi = garbage_like(x), gl = garbage_like(x), gu = garbage_like(x);
  grad_at(kiln::test::interp(g), gi, Seq{});
  grad_at(kiln::compile(g, on(kiln::Backend::llvm)), gl, Seq{});
  grad_at(kiln::compile(g, on(kiln::Backend::interp, false)), gu, Seq{});
  {
    const std::string d = bit_difference(gi, gl);
    INFO("@" << f.name() << " gradient: interpreter vs llvm, " << d);
    CHECK(d.empty());
  }
  {
    const std::string d = bit_difference(gi, gu);
    INFO("@" << f.name() << " gradient: lowered vs unlowered, " << d);
    CHECK(d.empty());
  }

  // Central differences of the primal.
  auto primal = kiln::compile(f, on(kiln::Backend::llvm));
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < x[i].size(); ++k) {
      auto at = [&](double z) {
        std::vector<Vec> v = x;
        v[i][k] = z;
        return primal_at(primal, v, Seq{});
      };
      const double fd = central(at, x[i][k]);
      INFO("@" << f.name() << " d/d(input " << i << ")[" << k << "]: grad " << gi[i][k] << ", difference " << fd);
      CHECK(close(gi[i][k], fd, fd_tol));
    }

  // Forward mode: (x..., dx...) -> (f, df).
  auto j = kiln::test::interp(kiln::jvp(f));
  for (uint32_t seed : {7u, 8u}) {
    std::vector<Vec> dir;
    double dot = 0, scale = 0;
    for (size_t i = 0; i < N; ++i) {
      dir.push_back(randoms(x[i].size(), seed * 31 + static_cast<uint32_t>(i)));
      for (size_t k = 0; k < x[i].size(); ++k) {
        dot += gi[i][k] * dir[i][k];
        scale += std::abs(gi[i][k] * dir[i][k]);
      }
    }
    const auto [y, dy] = [&]<size_t... I>(std::index_sequence<I...>) {
      return j(In(x[I])..., In(dir[I])...);
    }(Seq{});
    INFO("@" << f.name() << " jvp " << dy << ", gradient . direction " << dot);
    CHECK(close(y, primal_at(primal, x, Seq{}), 1e-12));
    CHECK(std::abs(dy - dot) <= 1e-10 * std::max(1.0, scale));
  }

  // Reverse mode with a cotangent: (x..., ct, adj...) -> void.
  auto v = kiln::test::interp(kiln::vjp(f));
  std::vector<Vec> gv = garbage_like(x);
  [&]<size_t... I>(std::index_sequence<I...>) { v(In(x[I])..., -2.5, std::span<double>(gv[I])...); }(Seq{});
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < x[i].size(); ++k) CHECK(close(gv[i][k], -2.5 * gi[i][k], 1e-13));
  return gi;
}

}  // namespace

// --- elementwise ------------------------------------------------------------------

TEST_CASE("tensor grad: elementwise ops with broadcasting (unbroadcast sums)", "[autodiff][tensor]") {
  auto f = kiln::stage("bcast_loss", [](Arr<const double> a, Arr<const double> b, Arr<const double> c) {
    Tensor<double> A = a.tensor({2, 3}), B = b.tensor({3}), C = c.tensor({2, 1});
    Tensor<double> t = kiln::tanh(A * B + C) * kiln::exp(B) / (1.0 + C * C) - A;
    Tensor<double> u = kiln::sin(A - C) + kiln::cos(B * 2.0) * kiln::sqrt(kiln::abs(A) + 1.0);
    Tensor<double> w = kiln::log(1.0 + A * A) + kiln::pow(kiln::abs(B) + 0.5, C) + kiln::pow(C * C + 1.0, 1.5);
    Tensor<double> m = kiln::max(A, B * 0.5) + kiln::min(A, C) + kiln::relu(A + 0.05) + kiln::where(A > C, A * B, -C);
    return (t * u + w).sum_all() + m.sum_all() + (A / B).mean_all();
  });
  // No ties in max/min, no kinks hit: random values, shifted away from 0.
  Vec a = randoms(6, 1), b = randoms(3, 2, 0.3, 1.2), c = randoms(2, 3);
  check_gradient(f, {a, b, c});
}

TEST_CASE("tensor grad: extents of 1 broadcast, and a scalar Rep splat", "[autodiff][tensor]") {
  auto f = kiln::stage("ones_loss", [](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({1, 3, 1}), B = b.tensor({2, 1, 4});
    return (kiln::tanh(A * B) + A).sum_all() + (B.broadcast_to({3, 2, 3, 4}) * A).mean_all();
  });
  check_gradient(f, {randoms(3, 11), randoms(8, 12)});

  // A Rep<double> parameter splat into tensors: its gradient sums over every element.
  auto g = kiln::stage("splat_loss", [](Arr<const double> x, Rep<double> s) {
    Tensor<double> X = x.tensor({2, 3});
    return ((X * s + s) / (s * s + 1.0)).sum_all() + kiln::tanh(s - X).sum_all();
  });
  const Vec x = randoms(6, 13);
  const double s = 0.7;
  auto primal = kiln::compile(g, on(kiln::Backend::llvm));
  auto gg = kiln::grad(g);
  Vec gx(6, 99.0), gx_llvm(6, 99.0), gx_unlowered(6, 99.0);
  const double gs = kiln::test::interp(gg)(x, s, gx);
  const double gs_llvm = kiln::compile(gg, on(kiln::Backend::llvm))(x, s, gx_llvm);
  const double gs_unlowered = kiln::compile(gg, on(kiln::Backend::interp, false))(x, s, gx_unlowered);
  CHECK(same_bits(gs, gs_llvm));
  CHECK(same_bits(gs, gs_unlowered));
  CHECK(bit_difference({gx}, {gx_llvm}).empty());
  CHECK(bit_difference({gx}, {gx_unlowered}).empty());
  CHECK(close(gs, central([&](double z) { return primal(x, z); }, s), 1e-6));
  for (size_t k = 0; k < 6; ++k) {
    auto at = [&](double z) {
      Vec v = x;
      v[k] = z;
      return primal(v, s);
    };
    CHECK(close(gx[k], central(at, x[k]), 1e-6));
  }
  // jvp along s alone: ds/ds = 1.
  auto j = kiln::test::interp(kiln::jvp<1>(g));
  CHECK(close(std::get<1>(j(x, s, 1.0)), gs, 1e-12));
}

// --- views ------------------------------------------------------------------------

TEST_CASE("tensor grad: transpose, reshape and broadcast_to", "[autodiff][tensor]") {
  const Vec w = randoms(24, 21);
  auto f = kiln::stage("view_loss", [&](Arr<const double> x) {
    Tensor<double> X = x.tensor({2, 3, 4});
    Tensor<double> W = kiln::constant<double>(w, {4, 2, 3});
    Tensor<double> a = kiln::tanh(X.transpose({2, 0, 1})) * W;                      // [4, 2, 3]
    Tensor<double> b = kiln::sin(X.reshape({3, -1})) * W.reshape({3, 8});           // [3, 8]
    Tensor<double> c = X.transpose().reshape({12, 2}).slice(0, 0, 12, 5);           // [3, 2]
    return a.sum_all() + (b * b).sum_all() + (c * c * c).sum_all() + X.reshape({24}).sum_all() * 0.5;
  });
  check_gradient(f, {randoms(24, 22)});
}

TEST_CASE("tensor grad: slice (adjoint: embed) leaves the skipped elements at zero", "[autodiff][tensor]") {
  auto f = kiln::stage("slice_loss", [](Arr<const double> x) {
    Tensor<double> X = x.tensor({5, 6});
    Tensor<double> s = X.slice(1, 0, 6, 2);                 // columns 0, 2, 4
    Tensor<double> r = X.slice(0, -2, 5).slice(1, 1, 6, 4);   // rows 3, 4; columns 1, 5
    return (kiln::tanh(s) * s).sum_all() + (r * r).sum_all() * 3.0;
  });
  const Vec x = randoms(30, 31);
  const std::vector<Vec> g = check_gradient(f, {x});
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = 0; j < 6; ++j) {
      INFO(i << ", " << j);
      const bool in_s = j % 2 == 0, in_r = i >= 3 && (j == 1 || j == 5);
      if (!in_s && !in_r) CHECK(g[0][i * 6 + j] == 0.0);
      if (in_r) CHECK(g[0][i * 6 + j] == 6.0 * x[i * 6 + j]);
    }
}

// --- reductions -------------------------------------------------------------------

TEST_CASE("tensor grad: sum over axes, with keepdims, and all; mean", "[autodiff][tensor]") {
  const Vec w = randoms(12, 41);
  auto f = kiln::stage("sum_loss", [&](Arr<const double> x) {
    Tensor<double> X = x.tensor({2, 3, 4});
    Tensor<double> s1 = X.sum({1});                          // [2, 4]
    Tensor<double> s02 = X.sum({0, 2}, true);                 // [1, 3, 1]
    Tensor<double> m = X.mean({-1});                          // [2, 3]
    Tensor<double> W = kiln::constant<double>(w, {3, 4});
    return (s1 * s1).sum_all() + (kiln::tanh(s02) * X).sum_all() + (m * m * m).mean_all() +
           (X.sum({0}) * W).sum_all() + X.mean({0, 1, 2}, true).sum_all() + kiln::exp(X.sum_all() * 0.1);
  });
  check_gradient(f, {randoms(24, 42)});
}

TEST_CASE("tensor grad: max over axes and all, no ties", "[autodiff][tensor]") {
  const Vec w = randoms(8, 51);
  auto f = kiln::stage("max_loss", [&](Arr<const double> x) {
    Tensor<double> X = x.tensor({2, 3, 4});
    Tensor<double> W = kiln::constant<double>(w, {2, 4});
    return (X.max({1}) * W).sum_all() + kiln::tanh(X.max({0, 2}, true) * X).sum_all() + X.max_all() * 2.0 +
           (X * X).max({-1}).sum_all();
  });
  check_gradient(f, {randoms(24, 52)});
}

TEST_CASE("tensor grad: a max with ties shares g equally among the tied elements", "[autodiff][tensor]") {
  auto f = kiln::stage("tie_loss", [](Arr<const double> x) {
    Tensor<double> X = x.tensor({3, 3});
    Tensor<double> w = kiln::constant<double>({1.0, 10.0, 100.0}, {3});
    return (X.max({1}) * w).sum_all() + X.max_all() * 1000.0;
  });
  // Row 0: one max; row 1: two tied at 3; row 2: all three tied at 2. The
  // overall max 3 ties twice (row 1).
  const Vec x = {1.0, 0.5, -1.0, 3.0, 3.0, -2.0, 2.0, 2.0, 2.0};
  const Vec want = {1.0, 0, 0, 5.0 + 500.0, 5.0 + 500.0, 0, 100.0 / 3.0, 100.0 / 3.0, 100.0 / 3.0};
  auto g = kiln::grad(f);
  for (auto opts : {on(kiln::Backend::interp), on(kiln::Backend::llvm), on(kiln::Backend::interp, false)}) {
    Vec gx(9, 99.0);
    kiln::compile(g, opts)(x, gx);
    for (size_t k = 0; k < 9; ++k) {
      INFO("element " << k);
      CHECK(close(gx[k], want[k], 1e-15));
    }
  }
  Vec gx(9, 99.0);
  kiln::test::interp(g)(x, gx);
  // Forward mode takes the mean of the tied tangents: the same shares.
  auto j = kiln::test::interp(kiln::jvp(f));
  for (size_t k = 0; k < 9; ++k) {
    Vec e(9, 0.0);
    e[k] = 1.0;
    INFO("direction " << k);
    CHECK(close(std::get<1>(j(x, e)), want[k], 1e-15));
  }
}

// --- matmul -----------------------------------------------------------------------

TEST_CASE("tensor grad: matmul 2-D", "[autodiff][tensor]") {
  const Vec w = randoms(8, 61);
  auto f = kiln::stage("mm_loss", [&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> C = kiln::matmul(a.tensor({4, 3}), b.tensor({3, 2}));
    return (kiln::tanh(C) * kiln::constant<double>(w, {4, 2})).sum_all() + (C * C).mean_all();
  });
  check_gradient(f, {randoms(12, 62), randoms(6, 63)});
  // A product with itself transposed: both adjoints land on one buffer.
  auto g = kiln::stage("gram_loss", [](Arr<const double> a) {
    Tensor<double> A = a.tensor({3, 4});
    Tensor<double> G = kiln::matmul(A, A.transpose());
    return kiln::sin(G).sum_all() + kiln::matmul(A.transpose(), kiln::relu(A)).sum_all();
  });
  check_gradient(g, {randoms(12, 64)});
}

TEST_CASE("tensor grad: batched matmul, a 2-D operand broadcast over the batch", "[autodiff][tensor]") {
  auto f = kiln::stage("bmm_loss", [](Arr<const double> a, Arr<const double> b, Arr<const double> c) {
    Tensor<double> A = a.tensor({2, 3, 4}), B = b.tensor({4, 2}), C = c.tensor({2, 2, 3});
    Tensor<double> h = kiln::tanh(kiln::matmul(A, B));        // [2, 3, 2]
    Tensor<double> o = kiln::matmul(C, h);                    // [2, 2, 2]
    Tensor<double> p = kiln::matmul(B.transpose(), A.transpose({0, 2, 1}));  // [2, 4] x [2, 4, 3] -> [2, 2, 3]
    return (o * o).sum_all() + (p * C).sum_all();
  });
  check_gradient(f, {randoms(24, 71), randoms(8, 72), randoms(12, 73)});
}

// --- activations and losses ---------------------------------------------------------

TEST_CASE("tensor grad: softmax and log_softmax along either axis", "[autodiff][tensor]") {
  const Vec w = randoms(12, 81);
  auto f = kiln::stage("softmax_loss", [&](Arr<const double> x) {
    Tensor<double> X = x.tensor({3, 4});
    Tensor<double> W = kiln::constant<double>(w, {3, 4});
    return (kiln::softmax(X) * W).sum_all() + (kiln::log_softmax(X * 2.0, 0) * W).sum_all() +
           (kiln::sigmoid(X) * W).sum_all();
  });
  check_gradient(f, {randoms(12, 82, -3.0, 3.0)});
}

TEST_CASE("tensor grad: softmax cross-entropy through gather and one_hot", "[autodiff][tensor]") {
  const std::vector<int32_t> labels = {2, 0, 1, 2, 1};
  auto f = kiln::stage("xent", [&](Arr<const double> logits) {
    Tensor<double> L = logits.tensor({5, 3});
    return kiln::nn::softmax_cross_entropy(L, kiln::constant<int32_t>(labels, {5}));
  });
  const Vec x = randoms(15, 91, -2.0, 2.0);
  const std::vector<Vec> g = check_gradient(f, {x});
  // The closed form: (softmax - one_hot) / batch.
  for (size_t i = 0; i < 5; ++i) {
    double m = x[i * 3], s = 0;
    for (size_t k = 1; k < 3; ++k) m = std::max(m, x[i * 3 + k]);
    for (size_t k = 0; k < 3; ++k) s += std::exp(x[i * 3 + k] - m);
    for (size_t k = 0; k < 3; ++k) {
      const double p = std::exp(x[i * 3 + k] - m) / s;
      CHECK(close(g[0][i * 3 + k], (p - (labels[i] == int32_t(k) ? 1.0 : 0.0)) / 5.0, 1e-14));
    }
  }

  // Labels from an int32 buffer, and the mean squared error.
  auto h = kiln::stage("xent_buf", [](Arr<const double> logits, Arr<const int32_t> y, Arr<const double> t) {
    Tensor<double> L = logits.tensor({5, 3});
    return kiln::nn::softmax_cross_entropy(L, y.tensor({5})) + kiln::nn::mse(kiln::tanh(L), t.tensor({5, 3}));
  });
  const Vec t = randoms(15, 92);
  auto primal = kiln::compile(h, on(kiln::Backend::llvm));
  auto gh = kiln::grad(h);  // (logits, y, t, adjoint of logits, adjoint of t)
  Vec gl(15, 99.0), gt(15, 99.0), gl2(15, 99.0), gt2(15, 99.0);
  kiln::test::interp(gh)(x, labels, t, gl, gt);
  kiln::compile(gh, on(kiln::Backend::llvm))(x, labels, t, gl2, gt2);
  CHECK(bit_difference({gl, gt}, {gl2, gt2}).empty());
  for (size_t k = 0; k < 15; ++k) {
    CHECK(close(gl[k], central([&](double z) { Vec v = x; v[k] = z; return primal(v, labels, t); }, x[k]), 1e-6));
    CHECK(close(gt[k], central([&](double z) { Vec v = t; v[k] = z; return primal(x, labels, v); }, t[k]), 1e-6));
  }
}

TEST_CASE("tensor grad: a tanh MLP's loss over a flat nn::Layout parameter buffer", "[autodiff][tensor]") {
  kiln::nn::Layout layout;
  const auto w1 = layout.add({3, 5}), b1 = layout.add({5}), w2 = layout.add({5, 4}), b2 = layout.add({4});
  const Vec xs = randoms(6 * 3, 101, -2.0, 2.0);
  const std::vector<int32_t> ys = {0, 3, 1, 2, 3, 0};
  auto f = kiln::stage("mlp_loss", [&](Arr<const double> p) {
    Tensor<double> x = kiln::constant<double>(xs, {6, 3});
    Tensor<double> h = kiln::tanh(kiln::nn::linear(x, w1(p), b1(p)));
    return kiln::nn::softmax_cross_entropy(kiln::nn::linear(h, w2(p), b2(p)), kiln::constant<int32_t>(ys, {6}));
  });
  std::mt19937 rng(5);
  Vec p(static_cast<size_t>(layout.size()));
  kiln::nn::init<double>(layout, p, rng);
  for (size_t k = 15; k < 20; ++k) p[k] = 0.1 * double(k - 17);  // non-zero biases
  check_gradient(f, {p});
}

// --- buffers ------------------------------------------------------------------------

TEST_CASE("tensor vjp: tensor.store into an output buffer", "[autodiff][tensor]") {
  // (x, y) -> sum(x); y = 2 tanh(x) + 1, overwritten. vjp: (x, y, ct, gx, gy):
  // gy holds the cotangent of y's final contents on entry and receives the
  // gradient with respect to y's contents on entry (0: overwritten).
  auto f = kiln::stage("store_out", [](Arr<const double> x, Arr<double> y) {
    Tensor<double> X = x.tensor({2, 3});
    y.store(kiln::tanh(X) * 2.0 + 1.0, 0);
    y.store(X.slice(0, 0, 1).reshape({3}) * 5.0, 6);   // elements 6..8 of y
    return X.sum_all();
  });
  const Vec x = randoms(6, 111);
  const Vec ct_y = randoms(9, 112);
  const double ct = 0.75;
  auto v = kiln::vjp(f);
  for (auto opts : {on(kiln::Backend::interp), on(kiln::Backend::llvm), on(kiln::Backend::interp, false)}) {
    Vec y(9, -3.0), gx(6, 99.0), gy = ct_y;
    kiln::compile(v, opts)(x, y, ct, gx, gy);
    for (size_t k = 0; k < 6; ++k) {
      const double t = std::tanh(x[k]);
      CHECK(y[k] == t * 2.0 + 1.0);
      const double want = ct + ct_y[k] * 2.0 * (1.0 - t * t) + (k < 3 ? ct_y[6 + k] * 5.0 : 0.0);
      CHECK(close(gx[k], want, 1e-14));
    }
    CHECK(gy == Vec(9, 0.0));
  }
  Vec y(9), gx(6), gy = ct_y;
  kiln::test::interp(v)(x, y, ct, gx, gy);
}

TEST_CASE("tensor grad: tensors in a for_ loop over a scratch buffer (tensors on the tape)", "[autodiff][tensor]") {
  auto f = kiln::stage("loop_loss", [](Arr<const double> x, Arr<const double> w, Arr<double> h) {
    h.store(x.tensor({2, 3}));
    kiln::for_(0, 3, [&](Rep<int64_t> i) {
      Tensor<double> H = h.tensor({2, 3});
      h.store(kiln::tanh(kiln::matmul(H, w.tensor({3, 3})) + kiln::cast<double>(i) * 0.1) + H * 0.5);
    });
    return (h.tensor({2, 3}) * h.tensor({2, 3})).sum_all();
  });
  const Vec x = randoms(6, 121), w = randoms(9, 122);
  auto primal = kiln::compile(f, on(kiln::Backend::llvm));
  auto g = kiln::grad(f);
  Vec gx(6, 99.0), gw(9, 99.0), gh(6, 99.0), h(6);
  kiln::test::interp(g)(x, w, h, gx, gw, gh);
  for (auto opts : {on(kiln::Backend::llvm), on(kiln::Backend::interp, false)}) {
    Vec gx2(6, 99.0), gw2(9, 99.0), gh2(6, 99.0), h2(6);
    kiln::compile(g, opts)(x, w, h2, gx2, gw2, gh2);
    CHECK(bit_difference({gx, gw, gh}, {gx2, gw2, gh2}).empty());
  }
  auto loss = [&](Vec xx, Vec ww) {
    Vec hh(6);
    return primal(xx, ww, hh);
  };
  for (size_t k = 0; k < 6; ++k)
    CHECK(close(gx[k], central([&](double z) { Vec v = x; v[k] = z; return loss(v, w); }, x[k]), 1e-6));
  for (size_t k = 0; k < 9; ++k)
    CHECK(close(gw[k], central([&](double z) { Vec v = w; v[k] = z; return loss(x, v); }, w[k]), 1e-6));
  CHECK(gh == Vec(6, 0.0));  // h is written before it is read
}

// --- the IR -------------------------------------------------------------------------

TEST_CASE("tensor grad: the reverse sweep of a matmul loss stays at tensor level", "[autodiff][tensor]") {
  auto f = kiln::stage("mm_ir", [](Arr<const double> a, Arr<const double> b) {
    return kiln::tanh(kiln::matmul(a.tensor({4, 3}), b.tensor({3, 5}))).sum_all();
  });
  kiln::Options opts;
  opts.passes.lower_tensors = false;
  const std::string ir = kiln::grad(f).ir(opts);
  INFO(ir);
  // One product in the forward pass, then dA = G B^T and dB = A^T G.
  const size_t first = ir.find("tensor.matmul");
  REQUIRE(first != std::string::npos);
  const std::string after = ir.substr(ir.find('\n', first));
  CHECK(kiln::test::count(ir, "tensor.matmul") == 3);
  CHECK(kiln::test::count(after, "tensor.matmul") == 2);
  CHECK(kiln::test::count(after, "tensor.transpose") == 2);
  CHECK(kiln::test::count(ir, "tape.") == 0);
  // Only A active: one product in the sweep.
  const std::string ir0 = kiln::grad<0>(f).ir(opts);
  CHECK(kiln::test::count(ir0, "tensor.matmul") == 2);
  CHECK(kiln::test::count(ir0, "tape.") == 0);
  // Lowered, each product is a loop nest into its own buffer.
  const std::string low = kiln::grad(f).ir();
  CHECK(kiln::test::count(low, "tensor.") == 0);
  CHECK(kiln::test::count(low, "tape.") == 0);
}

// --- training -----------------------------------------------------------------------

TEST_CASE("tensor grad: a training step (value_and_grad as a staged call, then nn::sgd) lowers the loss",
          "[autodiff][tensor]") {
  // Two classes in the plane, separated by the line x0 + x1 = 0.
  constexpr int64_t n = 8;
  const Vec xs = {1.0, 0.5, 0.3, 1.2, 2.0, -0.5, 0.8, 0.1, -1.0, -0.4, -0.2, -1.5, -2.0, 0.6, -0.7, -0.3};
  const std::vector<int32_t> ys = {1, 1, 1, 1, 0, 0, 0, 0};
  const auto [layout, loss, step] = kiln::test::mlp_training<double>("train_loss", "train_step", n, 2, 4, 2);
  std::mt19937 rng(3);
  Vec p0(static_cast<size_t>(layout.size()));
  kiln::nn::init<double>(layout, p0, rng);
  auto run = [&](const kiln::Compiled<double(std::span<double>, std::span<double>, std::span<double>,
                                             std::span<const double>, std::span<const int32_t>, double)>& c) {
    Vec p = p0, v(p.size(), 0.0), g(p.size(), 0.0);
    std::vector<double> losses;
    for (int k = 0; k < 40; ++k) losses.push_back(c(p, v, g, xs, ys, 0.1));
    return std::make_pair(losses, p);
  };
  const auto [li, pi] = run(kiln::test::interp(step));
  const auto [ll, pl] = run(kiln::compile(step, on(kiln::Backend::llvm)));
  INFO("first loss " << li.front() << ", last " << li.back());
  CHECK(li.back() < 0.5 * li.front());
  CHECK(li.back() < 0.2);
  for (size_t k = 0; k < li.size(); ++k) CHECK(same_bits(li[k], ll[k]));
  CHECK(bit_difference({pi}, {pl}).empty());
  // The first step's loss is the loss at the initial parameters.
  CHECK(same_bits(li.front(), kiln::compile(loss, on(kiln::Backend::interp))(p0, xs, ys)));
  // And the gradient the step used is the loss's gradient there.
  Vec g0(p0.size(), 99.0);
  kiln::compile(kiln::grad<0>(loss), on(kiln::Backend::llvm))(p0, xs, ys, g0);
  auto primal = kiln::compile(loss, on(kiln::Backend::llvm));
  for (size_t k = 0; k < p0.size(); ++k) {
    auto at = [&](double z) {
      Vec p = p0;
      p[k] = z;
      return primal(p, xs, ys);
    };
    CHECK(close(g0[k], central(at, p0[k]), 1e-6));
  }
}

// --- more forms ---------------------------------------------------------------------

TEST_CASE("tensor grad: overlapping views of one buffer, a sum_all splat back, [1, 1] operands",
          "[autodiff][tensor]") {
  auto f = kiln::stage("overlap_loss", [](Arr<const double> x, Arr<const double> c) {
    Tensor<double> a = x.tensor({2, 3}, 0), b = x.tensor({2, 3}, 2);  // elements 2..5 in both
    Tensor<double> C = c.tensor({1, 1});
    Tensor<double> n = a / a.sum_all();                                 // a reduction splat back
    Tensor<double> centred = b - b.mean_all();
    return (kiln::tanh(a * b + C) * n).sum_all() + (centred * centred).sum_all() * C.sum_all();
  });
  check_gradient(f, {randoms(8, 131, 0.2, 1.5), randoms(1, 132)});
}

TEST_CASE("tensor jvp: tensor.store into an output buffer carries the tangent", "[autodiff][tensor]") {
  auto f = kiln::stage("store_fwd", [](Arr<const double> x, Arr<double> y) {
    Tensor<double> X = x.tensor({2, 3});
    y.store(kiln::tanh(X) * X.sum({0}), 0);
    return (X * X).sum_all();
  });
  // (x, y, dx, dy) -> (f, df); dy receives the tangent of y.
  const Vec x = randoms(6, 141), dx = randoms(6, 142);
  auto j = kiln::jvp(f);
  for (auto opts : {on(kiln::Backend::interp), on(kiln::Backend::llvm), on(kiln::Backend::interp, false)}) {
    Vec y(6), dy(6, 0.0);
    const auto [v, dv] = kiln::compile(j, opts)(x, y, dx, dy);
    double want = 0;
    for (size_t k = 0; k < 6; ++k) want += 2 * x[k] * dx[k];
    CHECK(close(dv, want, 1e-14));
    CHECK(close(v, (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) + (x[3] * x[3] + x[4] * x[4] + x[5] * x[5]), 1e-14));
    for (size_t k = 0; k < 6; ++k) {
      const size_t c = k % 3;
      const double t = std::tanh(x[k]), s = x[c] + x[3 + c], ds = dx[c] + dx[3 + c];
      CHECK(close(dy[k], (1 - t * t) * dx[k] * s + t * ds, 1e-14));
    }
  }
  Vec y(6), dy(6);
  kiln::test::interp(j)(x, y, dx, dy);
}

TEST_CASE("tensor grad: Hessian-vector products, jvp of grad", "[autodiff][tensor]") {
  auto f = kiln::stage("hvp_loss", [](Arr<const double> x) {
    Tensor<double> X = x.tensor({2, 3});
    return kiln::tanh(kiln::matmul(X, X.transpose())).sum_all() + (X.slice(1, 0, 3, 2) * X.slice(1, 1, 3, 1).sum({1}, true)).sum_all() +
           (X / (X * X).sum_all()).sum({0}).max_all() + kiln::log_softmax(X).mean_all();
  });
  const Vec x = randoms(6, 151), v = randoms(6, 152);
  auto g = kiln::compile(kiln::grad(f), on(kiln::Backend::llvm));
  auto hvp = kiln::jvp(kiln::grad(f));  // (x, gx, dx, dgx): dgx receives H dx
  // The Hessian-vector product by central differences of the gradient.
  const double h = 1e-5;
  Vec xp = x, xm = x, gp(6), gm(6);
  for (size_t k = 0; k < 6; ++k) {
    xp[k] += h * v[k];
    xm[k] -= h * v[k];
  }
  g(xp, gp);
  g(xm, gm);
  for (auto opts : {on(kiln::Backend::interp), on(kiln::Backend::llvm), on(kiln::Backend::interp, false)}) {
    Vec gx(6, 99.0), hv(6, 0.0);
    kiln::compile(hvp, opts)(x, gx, v, hv);
    for (size_t k = 0; k < 6; ++k) {
      INFO("component " << k);
      CHECK(close(hv[k], (gp[k] - gm[k]) / (2 * h), 1e-6));
    }
  }
  Vec gx(6), hv(6);
  kiln::test::interp(hvp)(x, gx, v, hv);
}

TEST_CASE("tensor vjp: tensor code in a parallel_for_ body", "[autodiff][tensor]") {
  // Each iteration: y[3i..3i+2] = exp(x[3i..3i+2]) * w, w read by every
  // iteration. The primal lowers (the chain fuses into the store).
  auto f = kiln::stage("par_tensor", [](Arr<const double> x, Arr<const double> w, Arr<double> y) {
    kiln::parallel_for_(0, 4, [&](Rep<int64_t> i) { y.store(kiln::exp(x.tensor({3}, i * 3)) * w.tensor({3}), i * 3); });
  });
  const Vec x = randoms(12, 161), w = randoms(3, 162), ct = randoms(12, 163);
  Vec want_gx(12), want_gw(3, 0.0);
  for (size_t k = 0; k < 12; ++k) {
    want_gx[k] = ct[k] * std::exp(x[k]) * w[k % 3];
    want_gw[k % 3] += ct[k] * std::exp(x[k]);
  }
  auto run = [&](const auto& compiled) {
    Vec y(12), gx(12, 99.0), gw(3, 99.0), gy = ct;
    compiled(x, w, y, gx, gw, gy);
    for (size_t k = 0; k < 12; ++k) CHECK(close(gx[k], want_gx[k], 1e-14));
    for (size_t k = 0; k < 3; ++k) CHECK(close(gw[k], want_gw[k], 1e-13));
    CHECK(gy == Vec(12, 0.0));
  };
  // Reversed as a sequential loop.
  auto sequential = kiln::vjp(f, {.parallel = false});
  run(kiln::test::interp(sequential));
  run(kiln::compile(sequential, on(kiln::Backend::llvm)));
  // Kept parallel (the default): the same gradient, or a user-facing error
  // naming what to do; a broken internal invariant is neither.
  try {
    auto parallel = kiln::vjp(f);
    run(kiln::test::interp(parallel));
    run(kiln::compile(parallel, on(kiln::Backend::llvm)));
  } catch (const kiln::InternalError& e) {
    FAIL_CHECK("vjp of a parallel_for_ with tensor code: InternalError: " << e.what());
  } catch (const kiln::Error& e) {
    INFO(e.what());
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("par_tensor"));
  }
}

TEST_CASE("tensor grad: a tensor made before a for_ loop and used in its body (jvp works; grad refuses, located)", "[autodiff][tensor]") {
  // loss = sum_i sum(exp(x) * i * w): t = exp(x) is materialised before the
  // loop (lowering), and its adjoint sums over the iterations.
  auto f = kiln::stage("loop_free_tensor", [](Arr<const double> x, Arr<const double> w) {
    Tensor<double> t = kiln::exp(x.tensor({2, 3}));
    Rep<double> s = 0.0;
    kiln::for_(0, 3, [&](Rep<int64_t> i) { s = s + kiln::tanh(t * kiln::cast<double>(i) * w.tensor({3})).sum_all(); });
    return s;
  });
  const Vec x = randoms(6, 171), w = randoms(3, 172);
  auto primal = kiln::compile(f, on(kiln::Backend::llvm));
  Vec want_gx(6), want_gw(3);
  for (size_t k = 0; k < 6; ++k)
    want_gx[k] = central([&](double z) { Vec v = x; v[k] = z; return primal(v, w); }, x[k]);
  for (size_t k = 0; k < 3; ++k)
    want_gw[k] = central([&](double z) { Vec v = w; v[k] = z; return primal(x, v); }, w[k]);
  // Forward mode: the directional derivative along x.
  {
    auto j = kiln::test::interp(kiln::jvp<0>(f));
    const Vec dx = randoms(6, 173);
    double dot = 0;
    for (size_t k = 0; k < 6; ++k) dot += want_gx[k] * dx[k];
    CHECK(close(std::get<1>(j(x, w, dx)), dot, 1e-6));
  }
  // Reverse mode: not yet. The tensor's adjoint would be carried through the
  // reversed loop, and tensors cannot be loop-carried yet: a StagingError
  // that names the loop's line and the remedy (docs/tensors.md, limitations).
  (void)want_gw;
  const std::string why = kiln::test::error_message<kiln::StagingError>([&] { kiln::grad(f); });
  CHECK_THAT(why, Catch::Matchers::Contains("is not differentiable yet") && Catch::Matchers::Contains("tensors.cpp:") &&
                      Catch::Matchers::Contains("make the tensor inside the body"));
}

TEST_CASE("tensor grad: a tensor made before an if_ and used in both branches (jvp works; grad refuses, located)", "[autodiff][tensor]") {
  auto f = kiln::stage("branch_free_tensor", [](Arr<const double> x, Rep<double> c) {
    Tensor<double> t = kiln::sin(x.tensor({3}));
    Rep<double> s = 0.0;
    kiln::if_(c > 0.0, [&] { s = (t * c).sum_all(); }, [&] { s = (t * t).max_all(); });
    return s;
  });
  const Vec x = {0.3, -1.2, 0.8};
  auto primal = kiln::compile(f, on(kiln::Backend::llvm));
  for (double c : {0.7, -0.4}) {
    INFO("c = " << c);
    Vec want_gx(3);
    for (size_t k = 0; k < 3; ++k)
      want_gx[k] = central([&](double z) { Vec v = x; v[k] = z; return primal(v, c); }, x[k]);
    const double want_gc = central([&](double z) { return primal(x, z); }, c);
    auto j = kiln::test::interp(kiln::jvp<1>(f));
    CHECK(close(std::get<1>(j(x, c, 1.0)), want_gc, 1e-6));
    // Reverse mode: not yet (as for the for_ loop above).
    (void)want_gx;
    const std::string why = kiln::test::error_message<kiln::StagingError>([&] { kiln::grad(f); });
    CHECK_THAT(why, Catch::Matchers::Contains("is not differentiable yet") && Catch::Matchers::Contains("tensors.cpp:"));
  }
}

TEST_CASE("tensor grad: equal tensors inside and outside a for_ loop, and a loop-invariant one inside it, are "
          "differentiated where the user made them",
          "[autodiff][tensor]") {
  // The same expression, w * c, before the loop and in its body, and the
  // body's tensor does not depend on the loop index. Staging's
  // hash-consing, cse and licm would each make the body use the tensor
  // made before the loop, which reverse mode refuses; they keep tensors in
  // their own region.
  auto f = kiln::stage("invariant_in_loop", [](Arr<const double> w, Rep<double> c) {
    Rep<double> s = (w.tensor({4}) * c).sum_all();
    kiln::for_(0, 3, [&](Rep<int64_t>) { s = s + kiln::tanh(w.tensor({4}) * c).sum_all(); });
    return s;
  });
  const Vec w = randoms(4, 181);
  const double c = 0.7;
  auto primal = kiln::compile(f, on(kiln::Backend::llvm));
  Vec want_gw(4);
  for (size_t k = 0; k < 4; ++k)
    want_gw[k] = central([&](double z) { Vec v = w; v[k] = z; return primal(v, c); }, w[k]);
  const double want_gc = central([&](double z) { return primal(w, z); }, c);
  for (auto opts : {on(kiln::Backend::interp), on(kiln::Backend::llvm), on(kiln::Backend::interp, false)}) {
    Vec gw(4, 99.0);
    const double gc = kiln::compile(kiln::grad(f), opts)(w, c, gw);
    CHECK(close(gc, want_gc, 1e-6));
    for (size_t k = 0; k < 4; ++k) CHECK(close(gw[k], want_gw[k], 1e-6));
  }
}

TEST_CASE("autodiff refuses a module whose tensors were already lowered (their temporaries have no adjoints)",
          "[autodiff][tensor]") {
  auto f = kiln::stage("lowered_loss", [](Arr<const double> x) {
    return kiln::tanh(kiln::matmul(x.tensor({2, 2}), x.tensor({2, 2}))).sum_all();
  });
  const kiln::ir::Module lowered = f.module(kiln::Options{});  // lowered: the matmul writes an alloc
  REQUIRE(kiln::test::count(kiln::ir::print(lowered), " alloc ") >= 1);
  const std::string r = kiln::test::error_message<kiln::InternalError>(
      [&] { kiln::autodiff::reverse(lowered, {0}, kiln::autodiff::ReverseMode::vjp); });
  CHECK_THAT(r, Catch::Matchers::Contains("autodiff::reverse") && Catch::Matchers::Contains("before tensor lowering"));
  const std::string j = kiln::test::error_message<kiln::InternalError>([&] { kiln::autodiff::jvp(lowered, {0}); });
  CHECK_THAT(j, Catch::Matchers::Contains("autodiff::jvp") && Catch::Matchers::Contains("alloc"));
}

// Reverse mode (kiln::vjp, kiln::grad, kiln::value_and_grad): every
// derivative rule against its analytic derivative, a central finite
// difference and forward mode; every form of control flow (if_, for_ with a
// 1,000-step recurrence, while_ with an input-dependent trip count, nested
// loops, parallel_for_), buffers read and overwritten, staged calls and
// recursion, and second derivatives. Each derived function runs on the
// interpreter, cross-checked bit for bit against the C++ and LLVM backends
// (kiln::test::interp).
#include "ad_support.h"

#include "../../codegen/autodiff/reverse.h"

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

using kiln::Arr;
using kiln::Rep;

using kiln::test::ad::central;
using kiln::test::ad::close;

TEST_CASE("grad: the rule of every unary operation", "[autodiff][grad]") {
  // grad against the analytic derivative, a central difference and jvp;
  // vjp linear in the cotangent; value_and_grad's value is f's.
  for (const auto& c : kiln::test::ad::unary_cases()) {
    auto primal = kiln::test::interp(c.f);
    auto g = kiln::test::interp(kiln::grad(c.f));
    auto vg = kiln::test::interp(kiln::value_and_grad(c.f));
    auto v = kiln::test::interp(kiln::vjp(c.f));
    auto j = kiln::test::interp(kiln::jvp(c.f));
    for (double x : c.points) {
      INFO(c.name << " at " << x);
      const double dy = g(x);
      CHECK(close(dy, c.df(x), 1e-12));
      CHECK(close(dy, central([&](double z) { return primal(z); }, x), c.fd_tol));
      CHECK(close(dy, std::get<1>(j(x, 1.0)), 1e-14));
      auto [y, dy2] = vg(x);
      CHECK(y == primal(x));
      CHECK(dy2 == dy);
      CHECK(close(v(x, -2.5), -2.5 * dy, 1e-14));
    }
  }
}

TEST_CASE("grad: non-differentiable points give the documented one-sided or zero derivatives", "[autodiff][grad]") {
  auto at0 = [](auto body) { return kiln::test::interp(kiln::grad(kiln::stage("kink", body)))(0.0); };
  CHECK(at0([](Rep<double> x) { return kiln::abs(x); }) == 0.0);
  CHECK(at0([](Rep<double> x) { return kiln::floor(x); }) == 0.0);
  CHECK(at0([](Rep<double> x) { return kiln::min(x, 0.0); }) == 1.0);  // a tie follows the first operand
  CHECK(at0([](Rep<double> x) { return kiln::max(x, 0.0); }) == 1.0);
  CHECK(at0([](Rep<double> x) { return kiln::pow(x, 0.0); }) == 0.0);  // no NaN from 0 * x^-1
  CHECK(at0([](Rep<double> x) { return kiln::cast<double>(x < 0.0); }) == 0.0);  // comparisons: none
}

TEST_CASE("grad: a value in several operand slots gets its contributions summed first, as in forward mode",
          "[autodiff][grad]") {
  // fma(x - x, -1.8e308, x): d/dx = 0 * -1.8e308 + 1 = 1. Adding x - x's
  // adjoint (-1.8e308) into x's and then its negation would absorb the 1
  // (kiln-fuzz seed 505840); summed first, x - x contributes exactly 0.
  auto f = kiln::stage("cancel", [](Rep<double> x) {
    return kiln::fma(x - x, Rep<double>(-std::numeric_limits<double>::max()), x);
  });
  auto g = kiln::test::interp(kiln::grad(f));
  auto j = kiln::test::interp(kiln::jvp(f));
  for (double x : {1.5, -3.0, 1e-3}) {
    INFO("x = " << x);
    CHECK(g(x) == 1.0);
    CHECK(std::get<1>(j(x, 1.0)) == 1.0);
  }
  // x * x: 2 g x either way, the same bits as before.
  auto sq = kiln::test::interp(kiln::grad(kiln::stage("square", [](Rep<double> x) { return x * x; })));
  CHECK(sq(0.7) == 2 * 0.7);
}

TEST_CASE("grad and vjp: several inputs and results, wrt subsets, float32", "[autodiff][grad][vjp]") {
  auto f = kiln::stage("two", {"x", "y"}, [](Rep<double> x, Rep<double> y) {
    return x * kiln::sin(y) + kiln::pow(x, y) / (1.0 + y * y);
  });
  auto primal = kiln::test::interp(f);
  auto g = kiln::test::interp(kiln::grad(f));
  auto gy = kiln::test::interp(kiln::grad<1>(f));
  for (auto [x, y] : {std::pair{1.3, 0.7}, std::pair{2.0, -1.1}, std::pair{0.5, 2.5}}) {
    auto [dx, dy] = g(x, y);
    CHECK(close(dx, central([&](double z) { return primal(z, y); }, x), 1e-6));
    CHECK(close(dy, central([&](double z) { return primal(x, z); }, y), 1e-6));
    CHECK(gy(x, y) == dy);
  }
  CHECK_THAT(kiln::grad(f).ir(), Catch::Matchers::Contains("func @two_grad(%0: f64, %1: f64) -> (f64, f64)"));

  // Two results: the vjp is the cotangent-weighted sum of their gradients.
  auto h = kiln::stage("pair", [](Rep<float> x, Rep<int32_t> n, Rep<float> y) {
    return std::make_tuple(x * y, n * 2, kiln::exp(x) - y);
  });
  auto v = kiln::test::interp(kiln::vjp(h));  // (x, n, y, ct0, ct1) -> (gx, gy)
  auto [gx, gyy] = v(1.5f, 3, 2.0f, 1.0f, 0.5f);
  CHECK(gx == 2.0f + 0.5f * std::exp(1.5f));
  CHECK(gyy == 1.5f - 0.5f);
}

TEST_CASE("grad: if_ and cond differentiate the taken branch; the other leaks no NaN", "[autodiff][grad]") {
  auto f = kiln::stage("branchy", [](Rep<double> x) {
    Rep<double> r = 0.0;
    kiln::if_(x > 0.0, [&] { r = kiln::sqrt(x) * 3.0; }, [&] { r = -x * x * x; });
    return r + kiln::cond(x < 1.0, [&] { return kiln::log(1.0 - x); }, [&] { return Rep<double>(0.0); });
  });
  auto primal = kiln::test::interp(f);
  auto g = kiln::test::interp(kiln::grad(f));
  for (double x : {-2.0, -0.5, 0.25, 0.81, 4.0}) {
    INFO(x);
    const double want = (x > 0 ? 1.5 / std::sqrt(x) : -3 * x * x) + (x < 1 ? -1 / (1 - x) : 0.0);
    CHECK(std::isfinite(g(x)));
    CHECK(close(g(x), want, 1e-12));
    CHECK(close(g(x), central([&](double z) { return primal(z); }, x), 1e-6));
  }
}

TEST_CASE("grad: a nonlinear recurrence over 1,000 iterations of for_", "[autodiff][grad]") {
  auto f = kiln::stage("recur", [](Rep<double> x, Rep<double> a) {
    Rep<double> s = x;
    kiln::for_(0, 1000, [&](Rep<int64_t>) { s = kiln::sin(s) * a + 0.1 * x; });
    return s;
  });
  auto primal = kiln::test::interp(f);
  auto g = kiln::test::interp(kiln::grad(f));
  auto j = kiln::test::interp(kiln::jvp(f));
  for (auto [x, a] : {std::pair{0.3, 0.9}, std::pair{-1.2, 0.5}}) {
    auto [gx, ga] = g(x, a);
    CHECK(close(gx, central([&](double z) { return primal(z, a); }, x), 1e-6));
    CHECK(close(ga, central([&](double z) { return primal(x, z); }, a), 1e-6));
    CHECK(close(gx, std::get<1>(j(x, a, 1.0, 0.0)), 1e-12));
    CHECK(close(ga, std::get<1>(j(x, a, 0.0, 1.0)), 1e-12));
  }
}

TEST_CASE("grad: while_ with a trip count that depends on the input, and no bound", "[autodiff][grad]") {
  // Newton's square root: the number of steps grows with a.
  auto f = kiln::stage("newton", [](Rep<double> a) {
    Rep<double> x = kiln::max(a, 1.0);
    kiln::while_([&] { return kiln::abs(x * x - a) > 1e-12 * a; }, [&] { x = 0.5 * (x + a / x); });
    return x;
  });
  auto g = kiln::test::interp(kiln::grad(f));
  for (double a : {0.5, 2.0, 10.0, 12345.0, 1e12}) {
    INFO(a);
    CHECK(close(g(a), 0.5 / std::sqrt(a), 1e-9));
  }
  // A loop whose carried values feed the exit test and a forwarded value:
  // halve until below 1, counting; y = x * 0.5^k piecewise linear in x.
  auto h = kiln::stage("halve", [](Rep<double> x, Rep<double> w) {
    Rep<double> y = x;
    Rep<double> acc = 0.0;
    kiln::while_([&] { return y > 1.0; }, [&] {
      acc = acc + kiln::sin(y) * w;
      y = y * 0.5;
    });
    return acc + y * y;
  });
  auto hp = kiln::test::interp(h);
  auto hg = kiln::test::interp(kiln::grad(h));
  auto hj = kiln::test::interp(kiln::jvp(h));
  for (double x : {0.7, 3.0, 100.0, 5000.5}) {
    INFO(x);
    auto [gx, gw] = hg(x, 0.3);
    CHECK(close(gx, central([&](double z) { return hp(z, 0.3); }, x), 1e-6));
    CHECK(close(gw, central([&](double z) { return hp(x, z); }, 0.3), 1e-6));
    CHECK(close(gx, std::get<1>(hj(x, 0.3, 1.0, 0.0)), 1e-13));
  }
}

TEST_CASE("grad: nested loops over buffers, loads and overwritten stores", "[autodiff][grad]") {
  // loss = sum_i tanh(sum_j A[i,j] x[j])^2, through a scratch buffer h that
  // is written, read back and overwritten.
  const int64_t n = 4, m = 3;
  auto f = kiln::stage("layer", {"a", "x", "h"}, [&](Arr<const double> a, Arr<const double> x, Arr<double> h) {
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      h[i] = 0.0;
      kiln::for_(0, m, [&](Rep<int64_t> j) { h[i] = h[i] + a[i * m + j] * x[j]; });
      h[i] = kiln::tanh(h[i]);
    });
    Rep<double> s = 0.0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s += h[i] * h[i]; });
    return s;
  });
  std::vector<double> a = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9, -1.0, 0.2, 0.1}, x = {0.5, -1.0, 2.0};
  std::vector<double> h(n), ga(a.size()), gx(x.size()), gh(n, 99.0);
  auto g = kiln::test::interp(kiln::grad(f));  // (a, x, h, grad_a, grad_x, grad_h)
  g(a, x, h, ga, gx, gh);
  auto primal = kiln::test::interp(f);
  auto loss = [&](std::vector<double> aa, std::vector<double> xx) {
    std::vector<double> hh(n);
    return primal(aa, xx, hh);
  };
  for (size_t k = 0; k < x.size(); ++k) {
    auto at = [&](double z) { auto xx = x; xx[k] = z; return loss(a, xx); };
    CHECK(close(gx[k], central(at, x[k]), 1e-6));
  }
  for (size_t k = 0; k < a.size(); ++k) {
    auto at = [&](double z) { auto aa = a; aa[k] = z; return loss(aa, x); };
    CHECK(close(ga[k], central(at, a[k]), 1e-6));
  }
  // h is overwritten before it is read: its contents on entry do not matter.
  CHECK(gh == std::vector<double>(n, 0.0));
}

TEST_CASE("grad: loads of a buffer the function never writes are redone in the reverse sweep, not taped; the "
          "entry checks that the buffers it writes do not overlap it",
          "[autodiff][grad]") {
  // y = sqrt(x^2 + 1) x s, then sum y: x is only read, y only written. The
  // reverse sweep needs x[i] again; it loads it instead of taping it, which
  // is right only while y does not overlap x: the gradient checks that.
  auto f = kiln::stage("reread", {"x", "s", "y"}, [](Arr<const double> x, Rep<double> s, Arr<double> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = kiln::sqrt(kiln::fma(x[i], x[i], 1.0)) * x[i] * s; });
    Rep<double> t = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { t += y[i]; });
    return t;
  });
  auto g = kiln::grad(f);  // (x, s, y, grad_x, grad_y) -> grad s
  const std::string ir = g.ir();
  CHECK(kiln::test::count(ir, "tape.push") == 0);
  CHECK(kiln::test::count(ir, "disjoint %0, %2") == 1);
  CHECK(kiln::test::count(ir, "which @reread writes, overlaps argument 0") == 1);
  std::vector<double> x = {0.5, -1.0, 2.0, 0.0, 3.5}, y(5), gx(5), gy(5, 9.0);
  const double gs = kiln::test::interp(g)(x, 0.75, y, gx, gy);
  double want_s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double r = std::sqrt(x[i] * x[i] + 1);
    want_s += r * x[i];
    CHECK(close(gx[i], 0.75 * (r + x[i] * x[i] / r), 1e-14));
    CHECK(gy[i] == 0.0);  // y is overwritten before it is read
  }
  CHECK(close(gs, want_s, 1e-14));

  // A function that writes the buffer it reads tapes its loads, and needs no check.
  auto h = kiln::stage("rewrite", {"x", "s"}, [](Arr<double> x, Rep<double> s) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = kiln::sqrt(kiln::fma(x[i], x[i], 1.0)) * s; });
    Rep<double> t = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { t += x[i]; });
    return t;
  });
  const std::string hir = kiln::grad(h).ir();
  CHECK(kiln::test::count(hir, "tape.push") > 0);
  CHECK(kiln::test::count(hir, "reads again") == 0);
}

TEST_CASE("vjp: a writable buffer's adjoint is in-out; saxpy in place", "[autodiff][vjp]") {
  auto saxpy = kiln::stage("saxpy", {"a", "x", "y"}, [](Rep<double> a, Arr<const double> x, Arr<double> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i] * y[i]; });
  });
  // (a, x, y, grad_x, grad_y in-out) -> grad a
  auto v = kiln::test::interp(kiln::vjp(saxpy));
  std::vector<double> x = {1, 2, 3}, y = {0.5, -1, 2}, gx(3, 7.0), gy = {1, 0.5, -2};
  const std::vector<double> y0 = y, ct = gy;
  const double ga = v(2.0, x, y, gx, gy);
  CHECK(ga == ct[0] * 1 + ct[1] * 2 + ct[2] * 3);
  CHECK(y == std::vector<double>{2 + 0.25, 4 + 1, 6 + 4});  // the primal still runs
  for (size_t i = 0; i < 3; ++i) {
    CHECK(gx[i] == ct[i] * 2.0);
    CHECK(gy[i] == ct[i] * 2 * y0[i]);
  }
}

TEST_CASE("grad: parallel_for_ bodies, and buffers read by many iterations", "[autodiff][grad]") {
  auto f = kiln::stage("par", [](Arr<const double> x, Arr<const double> w, Arr<double> y) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = kiln::exp(x[i] * w[0]) + w[1] * x[i]; });
    Rep<double> s = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += y[i]; });
    return s;
  });
  std::vector<double> x(500), w = {0.5, -0.25}, y(500), gx(500), gw(2), gy(500);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i) / 500;
  kiln::test::interp(kiln::grad(f))(x, w, y, gx, gw, gy);
  double want0 = 0, want1 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    CHECK(close(gx[i], std::exp(x[i] * 0.5) * 0.5 - 0.25, 1e-14));
    want0 += std::exp(x[i] * 0.5) * x[i];
    want1 += x[i];
  }
  CHECK(close(gw[0], want0, 1e-12));
  CHECK(close(gw[1], want1, 1e-12));
}

TEST_CASE("grad: staged calls and recursion go through the callee's sweeps", "[autodiff][grad]") {
  kiln::Staged<double(double, int64_t)> power;
  power = kiln::stage("power", [&](Rep<double> x, Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<double>(1.0); }, [&] { return x * power(x, n - 1); });
  });
  auto g = kiln::test::interp(kiln::grad(power));
  for (int64_t n : {0, 1, 5, 12}) CHECK(close(g(1.5, n), n * std::pow(1.5, n - 1), 1e-14));
  const std::string ir = kiln::grad(power).ir();
  CHECK_THAT(ir, Catch::Matchers::Contains("call @power_fwd("));
  CHECK_THAT(ir, Catch::Matchers::Contains("call @power_rev("));

  // One callee, called twice with different activity, and with a buffer.
  auto sq = kiln::stage("sq_sum", [](Arr<const double> v, Rep<double> s) {
    Rep<double> acc = 0.0;
    kiln::for_(0, v.size(), [&](Rep<int64_t> i) { acc += v[i] * v[i] * s; });
    return acc;
  });
  auto outer = kiln::stage("outer", [&](Arr<const double> v, Rep<double> s) {
    return sq(v, s) + sq(v, 2.0) * s;
  });
  std::vector<double> v = {1, -2, 3}, gv(3);
  const double gs = kiln::test::interp(kiln::grad(outer))(v, 0.5, gv);
  CHECK(gs == 14.0 + 28.0);
  for (size_t i = 0; i < 3; ++i) CHECK(gv[i] == 2 * v[i] * 0.5 + 2 * v[i] * 2.0 * 0.5);
}

TEST_CASE("second derivatives: grad of grad, forward over reverse, reverse over forward", "[autodiff][grad]") {
  auto f = kiln::stage("cubic_sin", [](Rep<double> x) { return x * x * x * kiln::sin(x); });
  auto f1 = [](double x) { return 3 * x * x * std::sin(x) + x * x * x * std::cos(x); };
  auto f2 = [](double x) { return 6 * x * std::sin(x) + 6 * x * x * std::cos(x) - x * x * x * std::sin(x); };
  auto gg = kiln::test::interp(kiln::grad(kiln::grad(f)));
  auto jg = kiln::test::interp(kiln::jvp(kiln::grad(f)));        // (x, dx) -> (f', f'' dx)
  auto gj = kiln::test::interp(kiln::grad<0>(kiln::stage("df", [&](Rep<double> x) {
    auto [y, dy] = kiln::jvp(f)(x, 1.0);
    return dy + y * 0.0;
  })));
  for (double x : {-1.0, 0.5, 2.0}) {
    INFO(x);
    CHECK(close(gg(x), f2(x), 1e-12));
    auto [d1, d2] = jg(x, 1.0);
    CHECK(close(d1, f1(x), 1e-12));
    CHECK(close(d2, f2(x), 1e-12));
    CHECK(close(gj(x), f2(x), 1e-12));
  }
  // A Hessian-vector product through a loop: f(x, y) = sum over 50 steps.
  auto h = kiln::stage("loopy", [](Rep<double> x, Rep<double> y) {
    Rep<double> s = 0.0;
    kiln::for_(0, 50, [&](Rep<int64_t> i) { s += kiln::sin(x * kiln::cast<double>(i) * 0.01) * y * y; });
    return s;
  });
  auto hvp = kiln::test::interp(kiln::jvp(kiln::grad(h)));  // (x, y, dx, dy) -> (gx, gy, Hv_x, Hv_y)
  auto gh = kiln::test::interp(kiln::grad(h));
  const double x = 0.7, y = -1.3, vx = 0.25, vy = 1.0, e = 1e-5;
  auto [gx, gy, hx, hy] = hvp(x, y, vx, vy);
  auto [px, py] = gh(x + e * vx, y + e * vy);
  auto [mx, my] = gh(x - e * vx, y - e * vy);
  CHECK(close(hx, (px - mx) / (2 * e), 1e-6));
  CHECK(close(hy, (py - my) / (2 * e), 1e-6));
  CHECK(std::get<0>(gh(x, y)) == gx);
}

TEST_CASE("grad: the derived function compiles with the LLVM backend", "[autodiff][grad][llvm]") {
  if (!kiln::available(kiln::Backend::llvm)) {
    WARN("SKIPPED: Backend::llvm is not built into this kiln");
    return;
  }
  auto f = kiln::stage("chain", [](Arr<const float> x) {
    Rep<float> s = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += kiln::sqrt(kiln::fma(x[i], x[i], 1.0f)) * x[i]; });
    return s;
  });
  auto g = kiln::compile(kiln::grad(f), {.backend = kiln::Backend::llvm});
  std::vector<float> x(1027), gx(1027);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 100;
  g(x, gx);
  for (size_t i = 0; i < x.size(); i += 101) {
    const double v = x[i], want = std::sqrt(v * v + 1) + v * v / std::sqrt(v * v + 1);
    CHECK(close(gx[i], want, 1e-5));
  }
}

TEST_CASE("grad: a function that is not scalar-valued is a staging error", "[autodiff][grad][errors]") {
  auto f = kiln::stage("ints", [](Rep<double> x) { return kiln::cast<int64_t>(x); });
  // grad<...>(f) does not compile (static_assert); the IR-level check:
  kiln::ir::Module m = f.module();
  CHECK_THROWS_AS(kiln::autodiff::reverse(m, {0}, kiln::autodiff::ReverseMode::grad), kiln::StagingError);
  CHECK_NOTHROW(kiln::autodiff::reverse(m, {0}, kiln::autodiff::ReverseMode::vjp));
}

TEST_CASE("grad: loops that may run zero times pass adjoints through; an init also used inside", "[autodiff][grad]") {
  // Found by kiln-fuzz --grad: a loop with nothing to differentiate inside
  // still carries x's adjoint when it runs zero times.
  auto f = kiln::stage("zero_trip", [](Rep<double> x, Rep<int64_t> n) {
    Rep<double> s = x;
    kiln::for_(0, n, [&](Rep<int64_t>) { s = 1.5; });
    return s * 3.0;
  });
  auto g = kiln::test::interp(kiln::grad(f));
  CHECK(g(2.0, 0) == 3.0);
  CHECK(g(2.0, 4) == 0.0);
  // x starts the carried value and is read in the body.
  auto h = kiln::stage("init_inside", [](Rep<double> x, Rep<int64_t> n) {
    Rep<double> s = x;
    kiln::for_(0, n, [&](Rep<int64_t>) { s = s * x; });
    Rep<double> t = x;
    kiln::while_([&] { return t < 100.0; }, [&] { t = t * x + 1.0; });
    return s + t;
  });
  auto hp = kiln::test::interp(h);
  auto hg = kiln::test::interp(kiln::grad(h));
  for (int64_t n : {0, 1, 3}) {
    INFO(n);
    CHECK(close(hg(1.7, n), central([&](double z) { return hp(z, n); }, 1.7), 1e-6));
  }
}

TEST_CASE("custom_vjp: a rule replaces the derivative wherever reverse mode meets the function", "[autodiff][grad]") {
  // A clipped gradient: the identity forward, its gradient clipped to [-1, 1].
  auto clip = kiln::stage("clip", [](Rep<double> x) { return x; });
  auto clip_rule = kiln::stage("clip_rule", [](Rep<double>, Rep<double> ct) {
    return kiln::max(kiln::min(ct, 1.0), -1.0);
  });
  auto clipped = kiln::custom_vjp(clip, clip_rule);
  CHECK(kiln::test::interp(clipped)(2.5) == 2.5);  // the primal is f's
  CHECK_THAT(clipped.ir(), Catch::Matchers::Contains("custom_vjp @clip_rule"));
  auto loss = kiln::stage("loss", [&](Rep<double> x) {
    Rep<double> s = 0.0;
    kiln::for_(0, 3, [&](Rep<int64_t>) { s += clipped(x * x * 10.0); });  // called in a loop, not inlined
    return s;
  });
  auto g = kiln::test::interp(kiln::grad(loss));
  CHECK(g(0.5) == 3 * 1.0 * 2 * 0.5 * 10.0);  // each call's cotangent 1 passes unclipped
  auto v = kiln::test::interp(kiln::vjp(loss));
  CHECK(v(0.5, 4.0) == 3 * 1.0 * 2 * 0.5 * 10.0);  // cotangent 4 is clipped to 1 inside
  CHECK(kiln::test::interp(kiln::vjp(clipped))(7.0, -3.0) == -1.0);  // the rule as the entry's derivative

  // Two parameters, an integer one, and a rule with the true derivative:
  // reverse over the rule gives second derivatives.
  auto cube = kiln::stage("cube", [](Rep<double> x, Rep<int64_t> n) { return x * x * x + kiln::cast<double>(n); });
  auto cube_rule = kiln::stage("cube_rule", [](Rep<double> x, Rep<int64_t>, Rep<double> ct) { return 3.0 * x * x * ct; });
  auto cube2 = kiln::custom_vjp(cube, cube_rule);
  CHECK(kiln::test::interp(kiln::grad(cube2))(2.0, 5) == 12.0);
  CHECK(kiln::test::interp(kiln::grad(kiln::grad(cube2)))(2.0, 5) == 12.0);  // d/dx 3x^2 = 6x
  // Forward mode refuses it.
  CHECK_THROWS_WITH(kiln::jvp(cube2), Catch::Matchers::Contains("custom reverse-mode rule"));
}

TEST_CASE("grad with checkpointing: while_ keeps snapshots every K iterations, same gradients", "[autodiff][grad]") {
  // Carried values feed the exit test, a forwarded value and a free one.
  auto h = kiln::stage("halve_ck", [](Rep<double> x, Rep<double> w) {
    Rep<double> y = x;
    Rep<double> acc = 0.0;
    Rep<int64_t> k = 0;
    kiln::while_([&] { return y > 1.0; }, [&] {
      acc = acc + kiln::sin(y) * w + kiln::cast<double>(k);
      y = y * 0.5 + 0.01 * w;
      k += 1;
    });
    return acc + y * y;
  });
  auto plain = kiln::test::interp(kiln::grad(h));
  for (int64_t every : {1, 2, 3, 7, 1000}) {
    INFO("checkpoint_every " << every);
    auto ck = kiln::grad(h, {.checkpoint_every = every});
    CHECK(kiln::test::count(ck.ir(), "tape.push") > 0);
    auto g = kiln::test::interp(ck);
    for (double x : {0.5, 1.5, 3.0, 100.0, 5000.5, 1e9}) {  // 0 to 30 iterations
      INFO(x);
      CHECK(g(x, 0.3) == plain(x, 0.3));
    }
  }
  // Newton: the iteration count depends on a; reverse over 1,000 steps of a
  // fixed-count while_ with K = 32.
  auto f = kiln::stage("newton_ck", [](Rep<double> a) {
    Rep<double> x = kiln::max(a, 1.0);
    kiln::while_([&] { return kiln::abs(x * x - a) > 1e-12 * a; }, [&] { x = 0.5 * (x + a / x); });
    return x;
  });
  auto gf = kiln::test::interp(kiln::grad(f, {.checkpoint_every = 4}));
  for (double a : {0.5, 2.0, 12345.0}) CHECK(close(gf(a), 0.5 / std::sqrt(a), 1e-9));
  auto r = kiln::stage("recur_ck", [](Rep<double> x) {
    Rep<double> s = x;
    Rep<int64_t> i = 0;
    kiln::while_([&] { return i < 1000; }, [&] {
      s = kiln::sin(s) * 0.9 + 0.1 * x;
      i += 1;
    });
    return s;
  });
  CHECK(kiln::test::interp(kiln::grad(r, {.checkpoint_every = 32}))(0.3) == kiln::test::interp(kiln::grad(r))(0.3));
  CHECK_THROWS_AS(kiln::grad(r, {.checkpoint_every = -1}), kiln::StagingError);
}

TEST_CASE("grad: parallel_for_ stays parallel; shared adjoints are added up in iteration order", "[autodiff][grad]") {
  // Reads of a scalar s and of neighbours x[i-1], x[i+1]: adjoints several
  // iterations add to the same place.
  auto f = kiln::stage("par_stencil", [](Arr<const double> x, Rep<double> s, Arr<double> y) {
    kiln::parallel_for_(1, x.size() - 1, [&](Rep<int64_t> i) {
      Rep<double> d = x[i - 1] - 2.0 * x[i] + x[i + 1];
      y[i] = kiln::cond(d > 0.0, [&] { return kiln::sin(d * s); }, [&] { return d * d * s; });
    });
    Rep<double> t = 0.0;
    kiln::for_(1, x.size() - 1, [&](Rep<int64_t> i) { t += y[i] * y[i]; });
    return t;
  });
  const std::string ir = kiln::grad(f).ir();
  CHECK(kiln::test::count(ir, "parallel_for") == 2);  // both sweeps
  CHECK_THAT(ir, Catch::Matchers::Contains("tape.reserve"));
  const size_t n = 300;
  std::vector<double> x(n), y(n), gx(n), gy(n);
  for (size_t i = 0; i < n; ++i) x[i] = std::sin(0.37 * static_cast<double>(i)) + 0.001 * static_cast<double>(i);
  auto g = kiln::test::interp(kiln::grad(f));  // bit for bit on every backend: the sums run in a fixed order
  const double gs = g(x, 0.7, y, gx, gy);
  auto primal = kiln::test::interp(f);
  auto loss = [&](std::vector<double> xx, double s) {
    std::vector<double> yy(n);
    return primal(xx, s, yy);
  };
  CHECK(close(gs, central([&](double z) { return loss(x, z); }, 0.7), 1e-6));
  for (size_t k : {0, 1, 2, 150, 298, 299}) {
    auto at = [&](double z) { auto xx = x; xx[k] = z; return loss(xx, 0.7); };
    CHECK(close(gx[k], central(at, x[k]), 1e-6));
  }
  // The sequential reverse gives the same gradient.
  std::vector<double> gx2(n), gy2(n);
  const double gs2 = kiln::test::interp(kiln::grad(f, {.parallel = false}))(x, 0.7, y, gx2, gy2);
  CHECK(close(gs2, gs, 1e-12));
  for (size_t k = 0; k < n; ++k) CHECK(close(gx2[k], gx[k], 1e-12));
  // Forward over reverse goes through the tape blocks; reverse over such a
  // reverse is refused, and works with parallel = false.
  auto h = kiln::stage("par_h", [](Rep<double> s, Arr<double> y) {
    kiln::parallel_for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = kiln::sin(s * kiln::cast<double>(i)); });
    Rep<double> t = 0.0;
    kiln::for_(0, y.size(), [&](Rep<int64_t> i) { t += y[i] * y[i]; });
    return t;
  });
  std::vector<double> yy(20), gyy(20);
  auto d1 = kiln::test::interp(kiln::grad(h));
  auto hv = kiln::test::interp(kiln::jvp<0>(kiln::grad(h)));  // (s, y, grad_y, ds, dy, dgrad_y) -> (g, dg)
  std::vector<double> ty(20), tg(20);
  auto [gsv, dgs] = hv(0.3, yy, gyy, 1.0, ty, tg);
  const double e = 1e-5;
  std::vector<double> y1(20), g1(20), y2(20), g2(20);
  CHECK(close(dgs, (d1(0.3 + e, y1, g1) - d1(0.3 - e, y2, g2)) / (2 * e), 1e-6));
  CHECK(gsv == d1(0.3, y1, g1));
  CHECK_THROWS_WITH(kiln::grad<0>(kiln::grad<0>(h)), Catch::Matchers::Contains("parallel = false"));
  auto gg = kiln::test::interp(kiln::grad<0>(kiln::grad<0>(h, {.parallel = false})));
  std::vector<double> a1(20), a2(20);
  CHECK(close(gg(0.3, yy, gyy, a1, a2), dgs, 1e-9));
}

TEST_CASE("grad: a parallel_for_ that overwrites and rereads its own elements (i32 index)", "[autodiff][grad]") {
  // Found by kiln-fuzz --grad: the adjoint of a buffer the body stores to
  // must be updated in place, in order, never deferred to the sum after
  // the loop.
  auto f = kiln::stage("par_inplace", [](Arr<const double> x, Arr<double> y, Rep<double> s) {
    kiln::parallel_for_(0, kiln::cast<int32_t>(y.size()), [&](Rep<int32_t> i) {
      y[i] = y[i] * s;
      kiln::if_(x[i] > 0.5, [&] { y[i] = 1.5; });
      y[i] = y[i] / (1.0 + x[i] * x[i]);
    });
    Rep<double> t = 0.0;
    kiln::for_(0, y.size(), [&](Rep<int64_t> i) { t += y[i] * y[i]; });
    return t;
  });
  const size_t n = 64;
  std::vector<double> x(n), y0(n);
  for (size_t k = 0; k < n; ++k) {
    x[k] = std::cos(0.3 * static_cast<double>(k));
    y0[k] = std::sin(0.7 * static_cast<double>(k)) + 1.25;
  }
  auto primal = kiln::test::interp(f);
  auto loss = [&](std::vector<double> xx, std::vector<double> yy, double s) { return primal(xx, yy, s); };
  for (bool parallel : {true, false}) {
    INFO("parallel " << parallel);
    std::vector<double> y = y0, gx(n), gy(n);
    const double gs = kiln::test::interp(kiln::grad(f, {.parallel = parallel}))(x, y, 0.8, gx, gy);
    CHECK(close(gs, central([&](double z) { return loss(x, y0, z); }, 0.8), 1e-6));
    for (size_t k : {0, 5, 17, 63}) {
      auto at = [&](double z) { auto yy = y0; yy[k] = z; return loss(x, yy, 0.8); };
      CHECK(close(gy[k], central(at, y0[k]), 1e-6));
      auto atx = [&](double z) { auto xx = x; xx[k] = z; return loss(xx, y0, 0.8); };
      CHECK(close(gx[k], central(atx, x[k]), 1e-6));
    }
  }
}

TEST_CASE("grad: a while_ whose condition assigns what the body reads", "[autodiff][grad]") {
  // The condition region, which computes what the body reads, is reversed
  // twice: once for the final evaluation, once in each iteration.
  auto f = kiln::stage("cond_assign", [](Rep<double> x) {
    Rep<double> y = x, s = 0.0;
    kiln::while_([&] {
      y = y * 0.75 + 0.1;  // tends to 0.4: ends for every x
      return y * y > 0.5;
    }, [&] { s = s + kiln::sin(y * y) * x; });
    return s + y * y;
  });
  auto primal = kiln::test::interp(f);
  auto g = kiln::test::interp(kiln::grad(f));
  auto j = kiln::test::interp(kiln::jvp(f));
  for (double x : {0.9, 2.5, 7.0, 40.0}) {
    INFO(x);
    CHECK(close(g(x), std::get<1>(j(x, 1.0)), 1e-12));
    CHECK(close(g(x), central([&](double z) { return primal(z); }, x), 1e-6));
  }
}

// Forward mode (kiln::jvp): every derivative rule against its analytic
// derivative and a central finite difference, and every form of control
// flow, buffers, parallel loops, recursion and second derivatives. Each
// derived function runs on the interpreter, cross-checked bit for bit
// against the C++ and LLVM backends (kiln::test::interp).
#include "ad_support.h"

#include <cmath>
#include <functional>
#include <numeric>

using kiln::Arr;
using kiln::Rep;

using kiln::test::ad::central;
using kiln::test::ad::close;

TEST_CASE("jvp: the rule of every unary operation", "[autodiff][jvp]") {
  // Against the analytic derivative and a central difference of f; linear
  // in the tangent.
  for (const auto& c : kiln::test::ad::unary_cases()) {
    auto primal = kiln::test::interp(c.f);
    auto d = kiln::test::interp(kiln::jvp(c.f));
    for (double x : c.points) {
      INFO(c.name << " at " << x);
      auto [y, dy] = d(x, 1.0);
      CHECK(y == primal(x));
      CHECK(close(dy, c.df(x), 1e-12));
      CHECK(close(dy, central([&](double z) { return primal(z); }, x), c.fd_tol));
      auto [y2, dy2] = d(x, -2.5);
      CHECK(y2 == y);
      CHECK(close(dy2, -2.5 * dy, 1e-14));
    }
  }
}

TEST_CASE("jvp: non-differentiable points give the documented one-sided or zero derivatives", "[autodiff][jvp]") {
  auto f = kiln::stage("kinks", [](Rep<double> x) {
    return std::make_tuple(kiln::abs(x), kiln::floor(x), kiln::min(x, 0.0), kiln::max(x, 0.0), kiln::pow(x, 0.0));
  });
  auto d = kiln::test::interp(kiln::jvp(f));
  auto r = d(0.0, 1.0);
  CHECK(std::get<5>(r) == 0.0);  // abs at 0: sign(0) = 0
  CHECK(std::get<6>(r) == 0.0);  // floor: 0 everywhere
  CHECK(std::get<7>(r) == 1.0);  // min(x, 0) at a tie: x's tangent
  CHECK(std::get<8>(r) == 1.0);  // max(x, 0) at a tie: x's tangent
  CHECK(std::get<9>(r) == 0.0);  // pow(x, 0) is 1: no NaN from 0 * x^-1
}

TEST_CASE("jvp: two inputs, every direction, and wrt subsets", "[autodiff][jvp]") {
  auto f = kiln::stage("two", {"x", "y"}, [](Rep<double> x, Rep<double> y) {
    return x * kiln::sin(y) + kiln::pow(x, y) / (1.0 + y * y);
  });
  auto primal = kiln::test::interp(f);
  auto d = kiln::test::interp(kiln::jvp(f));
  auto dx = kiln::test::interp(kiln::jvp<0>(f));
  auto dy = kiln::test::interp(kiln::jvp<1>(f));
  for (auto [x, y] : {std::pair{1.3, 0.7}, std::pair{2.0, -1.1}, std::pair{0.5, 2.5}}) {
    const double gx = central([&](double z) { return primal(z, y); }, x);
    const double gy = central([&](double z) { return primal(x, z); }, y);
    CHECK(close(std::get<1>(d(x, y, 1.0, 0.0)), gx, 1e-6));
    CHECK(close(std::get<1>(d(x, y, 0.0, 1.0)), gy, 1e-6));
    CHECK(close(std::get<1>(d(x, y, 0.3, -2.0)), 0.3 * gx - 2.0 * gy, 1e-6));
    CHECK(std::get<1>(dx(x, y, 1.0)) == std::get<1>(d(x, y, 1.0, 0.0)));
    CHECK(std::get<1>(dy(x, y, 1.0)) == std::get<1>(d(x, y, 0.0, 1.0)));
  }
  CHECK_THAT(kiln::jvp(f).ir(), Catch::Matchers::Contains("func @two_jvp(%0: f64, %1: f64, %2: f64, %3: f64)"));
}

TEST_CASE("jvp: float32, tuples and integer results", "[autodiff][jvp]") {
  auto f = kiln::stage("mixed", [](Rep<float> x, Rep<int32_t> n) {
    return std::make_tuple(n * 2, x * x * kiln::cast<float>(n), kiln::exp(x));
  });
  auto d = kiln::test::interp(kiln::jvp(f));  // (float, int, dx) -> (int, float, float, dfloat, dfloat)
  auto [k, a, b, da, db] = d(1.5f, 3, 1.0f);
  CHECK(k == 6);
  CHECK(a == 6.75f);
  CHECK(b == std::exp(1.5f));
  CHECK(da == 9.0f);
  CHECK(db == std::exp(1.5f));
}

TEST_CASE("jvp: if_ and cond differentiate the taken branch; the other leaks no NaN", "[autodiff][jvp]") {
  auto f = kiln::stage("branchy", [](Rep<double> x) {
    Rep<double> r = 0.0;
    kiln::if_(x > 0.0, [&] { r = kiln::sqrt(x) * 3.0; }, [&] { r = -x * x * x; });
    return r + kiln::cond(x < 1.0, [&] { return kiln::log(1.0 - x); }, [&] { return Rep<double>(0.0); });
  });
  auto primal = kiln::test::interp(f);
  auto d = kiln::test::interp(kiln::jvp(f));
  for (double x : {-2.0, -0.5, 0.25, 0.81, 4.0}) {
    INFO(x);
    const double want = (x > 0 ? 1.5 / std::sqrt(x) : -3 * x * x) + (x < 1 ? -1 / (1 - x) : 0.0);
    auto [y, dy] = d(x, 1.0);
    CHECK(y == primal(x));
    CHECK(std::isfinite(dy));
    CHECK(close(dy, want, 1e-12));
    CHECK(close(dy, central([&](double z) { return primal(z); }, x), 1e-6));
  }
}

TEST_CASE("jvp: a nonlinear recurrence over 1,000 iterations of for_", "[autodiff][jvp]") {
  auto f = kiln::stage("recur", [](Rep<double> x, Rep<double> a) {
    Rep<double> s = x;
    kiln::for_(0, 1000, [&](Rep<int64_t>) { s = kiln::sin(s) * a + 0.1 * x; });
    return s;
  });
  auto primal = kiln::test::interp(f);
  auto d = kiln::test::interp(kiln::jvp(f));
  for (auto [x, a] : {std::pair{0.3, 0.9}, std::pair{-1.2, 0.5}}) {
    CHECK(close(std::get<1>(d(x, a, 1.0, 0.0)), central([&](double z) { return primal(z, a); }, x), 1e-6));
    CHECK(close(std::get<1>(d(x, a, 0.0, 1.0)), central([&](double z) { return primal(x, z); }, a), 1e-6));
  }
}

TEST_CASE("jvp: while_ with a trip count that depends on the input (Newton's square root)", "[autodiff][jvp]") {
  auto f = kiln::stage("newton", [](Rep<double> a) {
    Rep<double> x = kiln::max(a, 1.0);
    Rep<int64_t> steps = 0;
    kiln::while_([&] { return kiln::abs(x * x - a) > 1e-12 * a && steps < 100; }, [&] {
      x = 0.5 * (x + a / x);
      steps += 1;
    });
    return x;
  });
  auto d = kiln::test::interp(kiln::jvp(f));
  for (double a : {0.5, 2.0, 10.0, 12345.0}) {
    auto [y, dy] = d(a, 1.0);
    CHECK(close(y, std::sqrt(a), 1e-12));
    CHECK(close(dy, 0.5 / std::sqrt(a), 1e-9));
  }
}

TEST_CASE("jvp: buffers in, buffers out (dot, saxpy in place, nested loops)", "[autodiff][jvp]") {
  auto dot = kiln::stage("dot", [](Arr<const double> x, Arr<const double> y) {
    Rep<double> s = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += x[i] * y[i]; });
    return s;
  });
  std::vector<double> x = {1, 2, 3}, y = {4, -5, 6}, dx = {0.5, 0, 1}, dy = {1, 1, 1};
  auto [s, ds] = kiln::test::interp(kiln::jvp(dot))(x, y, dx, dy);
  CHECK(s == 12);
  CHECK(ds == 0.5 * 4 + 6 + (1 + 2 + 3));
  CHECK(std::get<1>(kiln::test::interp(kiln::jvp<1>(dot))(x, y, dy)) == 6);

  // y <- a x + y in place: y's tangent buffer is read and written.
  auto saxpy = kiln::stage("saxpy", {"a", "x", "y"}, [](Rep<double> a, Arr<const double> x, Arr<double> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
  std::vector<double> yy = {1, 1, 1}, ty = {0.25, 0, -1};
  kiln::test::interp(kiln::jvp(saxpy))(2.0, x, yy, 0.5, dx, ty);  // da, dx, dy
  CHECK(yy == std::vector<double>{3, 5, 7});
  CHECK(ty == std::vector<double>{0.5 * 1 + 2 * 0.5 + 0.25, 0.5 * 2 + 0 + 0, 0.5 * 3 + 2 * 1 - 1});

  // C = A B (2x3 times 3x2), tangent with respect to A only.
  auto matmul = kiln::stage("mm", [](Arr<const double> a, Arr<const double> b, Arr<double> c) {
    kiln::for_(0, 2, [&](Rep<int64_t> i) {
      kiln::for_(0, 2, [&](Rep<int64_t> j) {
        Rep<double> acc = 0.0;
        kiln::for_(0, 3, [&](Rep<int64_t> k) { acc += a[i * 3 + k] * b[k * 2 + j]; });
        c[i * 2 + j] = kiln::tanh(acc);
      });
    });
  });
  std::vector<double> a = {0.1, 0.2, 0.3, -0.4, 0.5, 0.6}, b = {1, 0.5, -1, 2, 0.25, 0.75}, da = {1, 0, 0, 0, 0, -1};
  std::vector<double> c(4), dc(4), c_plus(4), c_minus(4), dc_ignored(4);
  kiln::test::interp(kiln::jvp<0>(matmul))(a, b, c, da, dc);  // da, then dc (writable: always)
  const double h = 1e-6;
  std::vector<double> ap = a, am = a;
  for (size_t i = 0; i < a.size(); ++i) ap[i] += h * da[i], am[i] -= h * da[i];
  auto run = kiln::test::interp(matmul);
  run(ap, b, c_plus);
  run(am, b, c_minus);
  for (size_t i = 0; i < 4; ++i) CHECK(close(dc[i], (c_plus[i] - c_minus[i]) / (2 * h), 1e-6));
}

TEST_CASE("jvp: parallel_for_ bodies", "[autodiff][jvp]") {
  auto f = kiln::stage("par", [](Arr<const double> x, Arr<double> y, Rep<double> s) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = kiln::exp(x[i] * s); });
  });
  std::vector<double> x(1000), dx(1000, 1.0), y(1000), dy(1000, 0.0);
  std::iota(x.begin(), x.end(), 0.0);
  for (double& v : x) v /= 1000;
  kiln::test::interp(kiln::jvp(f))(x, y, 0.5, dx, dy, 2.0);  // dx = 1, dy in = 0, ds = 2
  for (size_t i = 0; i < x.size(); i += 97) CHECK(close(dy[i], std::exp(x[i] * 0.5) * (0.5 + 2.0 * x[i]), 1e-14));
}

TEST_CASE("jvp: recursion goes through the callee's jvp", "[autodiff][jvp]") {
  kiln::Staged<double(double, int64_t)> power;
  power = kiln::stage("power", [&](Rep<double> x, Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<double>(1.0); }, [&] { return x * power(x, n - 1); });
  });
  auto d = kiln::test::interp(kiln::jvp(power));
  for (int64_t n : {0, 1, 5}) {
    auto [y, dy] = d(1.5, n, 1.0);
    CHECK(close(y, std::pow(1.5, n), 1e-14));
    CHECK(close(dy, n * std::pow(1.5, n - 1), 1e-14));
  }
  CHECK_THAT(kiln::jvp(power).ir(), Catch::Matchers::Contains("call @power_jvp("));
}

TEST_CASE("jvp of jvp: second derivatives", "[autodiff][jvp]") {
  auto f = kiln::stage("cubic_sin", [](Rep<double> x) { return x * x * x * kiln::sin(x); });
  auto d2 = kiln::test::interp(kiln::jvp<0>(kiln::jvp(f)));  // (x, dx, d(x)) -> (f, f' dx, d f, d(f' dx))
  for (double x : {-1.0, 0.5, 2.0}) {
    auto r = d2(x, 1.0, 1.0);
    const double f1 = 3 * x * x * std::sin(x) + x * x * x * std::cos(x);
    const double f2 = 6 * x * std::sin(x) + 6 * x * x * std::cos(x) - x * x * x * std::sin(x);
    CHECK(close(std::get<1>(r), f1, 1e-12));
    CHECK(close(std::get<2>(r), f1, 1e-12));
    CHECK(close(std::get<3>(r), f2, 1e-12));
  }
}

TEST_CASE("jvp: the derived function compiles like any other (LLVM)", "[autodiff][jvp][llvm]") {
  if (!kiln::available(kiln::Backend::llvm)) {
    WARN("SKIPPED: Backend::llvm is not built into this kiln");
    return;
  }
  auto f = kiln::stage("chain", [](Arr<const float> x, Arr<float> z) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { z[i] = kiln::sqrt(kiln::fma(x[i], x[i], 1.0f)) * x[i]; });
  });
  auto d = kiln::compile(kiln::jvp(f), {.backend = kiln::Backend::llvm});
  std::vector<float> x(1027), dx(1027, 1.0f), z(1027), dz(1027);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 100;
  d(x, z, dx, dz);
  for (size_t i = 0; i < x.size(); i += 101) {
    const double v = x[i], want = std::sqrt(v * v + 1) + v * v / std::sqrt(v * v + 1);
    CHECK(close(dz[i], want, 1e-5));
  }
}

TEST_CASE("jvp: a derived function is called from other staged functions", "[autodiff][jvp]") {
  // Newton's method on x^3 - 2x - 5, the derivative from jvp.
  auto f = kiln::stage("cubic", [](Rep<double> x) { return x * x * x - 2.0 * x - 5.0; });
  auto df = kiln::jvp(f);
  auto newton = kiln::stage("newton_root", [&](Rep<double> x0) {
    Rep<double> x = x0;
    kiln::for_(0, 30, [&](Rep<int64_t>) {
      auto [v, d] = df(x, 1.0);
      x = x - v / d;
    });
    return x;
  });
  CHECK(close(kiln::test::interp(newton)(2.0), 2.0945514815423265, 1e-15));

  // A derived function with calls of its own (recursion), called twice.
  kiln::Staged<double(double, int64_t)> power;
  power = kiln::stage("power", [&](Rep<double> x, Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<double>(1.0); }, [&] { return x * power(x, n - 1); });
  });
  auto dpower = kiln::jvp(power);
  auto g = kiln::stage("uses_dpower", [&](Rep<double> x) {
    auto [y3, d3] = dpower(x, 3, 1.0);
    auto [y2, d2] = dpower(x, 2, 1.0);
    return d3 + d2 + y3 * 0.0 + y2 * 0.0;
  });
  CHECK(close(kiln::test::interp(g)(1.5), 3 * 1.5 * 1.5 + 2 * 1.5, 1e-14));
  CHECK_THAT(g.ir(), Catch::Matchers::Contains("call @power_jvp("));
}

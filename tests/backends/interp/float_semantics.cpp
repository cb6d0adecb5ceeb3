// The interpreter's floating-point semantics (ir.h): IEEE-754 binary32 and
// binary64, round to nearest, signed zeros, infinities and NaN, no
// contraction or reassociation, and no constant folding in the IR.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;

TEST_CASE("adding +0.0f to -0.0f gives +0.0f and the add is not folded away", "[interp][floats]") {
  auto s = kiln::stage("plus_zero", [](Rep<float> x) { return x + 0.0f; });
  CHECK(ref::count_lines(s.ir(), "%[0-9]+ = add %0, %[0-9]+ : f32") == 1);  // x + 0 is not x for x == -0
  auto f = kiln::test::interp(s);
  CHECK(ref::same(f(-0.0f), -0.0f + 0.0f));
  CHECK_FALSE(std::signbit(f(-0.0f)));
  CHECK(ref::same(f(0.0f), 0.0f + 0.0f));
}

TEMPLATE_LIST_TEST_CASE("signed zeros follow IEEE in + - * / and negation", "[interp][floats]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("zeros", [](Rep<T> a, Rep<T> b) {
    return std::make_tuple(a + b, a - b, a * b, a / b, -a, a + -0.0);
  }));
  const T inputs[] = {T(0), -T(0), T(1), T(-1), std::numeric_limits<T>::infinity()};
  for (T a : inputs)
    for (T b : inputs) {
      CAPTURE(a, b);
      auto [sum, diff, prod, quot, neg, plus_nz] = f(a, b);
      CHECK(ref::same(sum, T(a + b)));
      CHECK(ref::same(diff, T(a - b)));
      CHECK(ref::same(prod, T(a * b)));
      CHECK(ref::same(quot, T(a / b)));
      CHECK(ref::same(neg, T(-a)));
      CHECK(ref::same(plus_nz, T(a + -T(0))));  // x + -0.0 keeps x, including -0.0
    }
}

TEMPLATE_LIST_TEST_CASE("float division by zero gives infinity or NaN and does not trap", "[interp][floats]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("fdiv0", [](Rep<T> a, Rep<T> b) { return a / b; }));
  const T zero = ref::opaque(T(0));
  CHECK(ref::same(f(T(1), T(0)), T(1) / zero));
  CHECK(ref::same(f(T(-1), T(0)), T(-1) / zero));
  CHECK(ref::same(f(T(1), -T(0)), T(1) / -zero));
  CHECK(std::isinf(f(T(1), T(0))));
  CHECK(std::isnan(f(T(0), T(0))));
}

TEMPLATE_LIST_TEST_CASE("NaN propagates through arithmetic and math functions", "[interp][floats]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("nanprop", [](Rep<T> a, Rep<T> b) {
    return std::make_tuple(a + b, a * b, a - b, a / b, kiln::sqrt(a), kiln::floor(a), kiln::fma(a, b, b), kiln::abs(a));
  }));
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for (T b : {T(0), T(1), std::numeric_limits<T>::infinity(), nan}) {
    CAPTURE(b);
    auto [s, p, d, q, r, fl, m, ab] = f(nan, b);
    CHECK((std::isnan(s) && std::isnan(p) && std::isnan(d) && std::isnan(q) && std::isnan(r) && std::isnan(fl) &&
           std::isnan(m) && std::isnan(ab)));
  }
}

TEMPLATE_LIST_TEST_CASE("infinities follow IEEE: inf - inf and 0 * inf are NaN", "[interp][floats]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("infs", [](Rep<T> a, Rep<T> b) { return std::make_tuple(a + b, a - b, a * b, a / b); }));
  const T inf = std::numeric_limits<T>::infinity();
  for (T a : {inf, -inf, T(0), T(2)})
    for (T b : {inf, -inf, T(0), T(-3)}) {
      CAPTURE(a, b);
      auto [s, d, p, q] = f(a, b);
      CHECK(ref::same(s, T(a + b)));
      CHECK(ref::same(d, T(a - b)));
      CHECK(ref::same(p, T(a * b)));
      if (b != T(0)) CHECK(ref::same(q, T(a / b)));
    }
  CHECK(std::isnan(std::get<1>(f(inf, inf))));
  CHECK(std::isnan(std::get<2>(f(T(0), inf))));
}

TEMPLATE_LIST_TEST_CASE("overflow rounds to infinity and underflow keeps denormals", "[interp][floats]", ref::Floats) {
  using T = TestType;
  using L = std::numeric_limits<T>;
  auto f = kiln::test::interp(kiln::stage("range", [](Rep<T> a, Rep<T> b) { return std::make_tuple(a * b, a / b); }));
  CHECK(ref::same(std::get<0>(f(L::max(), T(2))), L::max() * ref::opaque(T(2))));
  CHECK(std::isinf(std::get<0>(f(L::max(), T(2)))));
  // No flush to zero: min / 4 is a denormal, denorm_min / 2 rounds to 0 (ties to even).
  CHECK(ref::same(std::get<1>(f(L::min(), T(4))), L::min() / ref::opaque(T(4))));
  CHECK(std::get<1>(f(L::min(), T(4))) != T(0));
  CHECK(ref::same(std::get<1>(f(L::denorm_min(), T(2))), L::denorm_min() / ref::opaque(T(2))));
  CHECK(ref::same(std::get<0>(f(L::denorm_min(), T(3))), L::denorm_min() * ref::opaque(T(3))));
}

TEST_CASE("float arithmetic rounds every operation to binary32", "[interp][floats]") {
  auto f = kiln::test::interp(kiln::stage("f32round", [](Rep<float> a, Rep<float> b, Rep<float> c) { return (a + b) - c; }));
  // 2^24 + 1 is not a float: in float (2^24 + 1) - 2^24 is 0, in double it would be 1.
  const float big = 16777216.0f;
  CHECK(ref::same(f(big, 1.0f, big), (ref::opaque(big) + 1.0f) - big));
  CHECK(f(big, 1.0f, big) == 0.0f);
  for (float a : {0.1f, 1e8f, -3.3f})
    for (float b : {0.2f, 1e-8f, 7.7f}) {
      CAPTURE(a, b);
      CHECK(ref::same(f(a, b, 0.3f), (ref::opaque(a) + b) - 0.3f));
    }
}

TEST_CASE("a * b + c is two roundings: no contraction into fma", "[interp][floats]") {
  auto s = kiln::stage("muladd", [](Rep<double> a, Rep<double> b, Rep<double> c) { return a * b + c; });
  CHECK(s.ir().find("fma") == std::string::npos);
  auto f = kiln::test::interp(s);
  const double x = 1.0 + std::numeric_limits<double>::epsilon();
  const double y = 1.0 - std::numeric_limits<double>::epsilon();
  CHECK(ref::same(f(x, y, -1.0), ref::opaque(x) * ref::opaque(y) + -1.0));  // compiled with -ffp-contract=off
  CHECK(f(x, y, -1.0) == 0.0);
  CHECK(std::fma(x, y, -1.0) != 0.0);
}

TEST_CASE("additions are evaluated in the order written: no reassociation", "[interp][floats]") {
  auto left = kiln::test::interp(kiln::stage("left", [](Rep<double> a, Rep<double> b, Rep<double> c) { return (a + b) + c; }));
  auto right = kiln::test::interp(kiln::stage("right", [](Rep<double> a, Rep<double> b, Rep<double> c) { return a + (b + c); }));
  const double a = 1e16, b = -1e16, c = 1.0;
  CHECK(ref::same(left(a, b, c), (ref::opaque(a) + b) + c));
  CHECK(ref::same(right(a, b, c), ref::opaque(a) + (ref::opaque(b) + c)));
  CHECK(left(a, b, c) != right(a, b, c));
}

TEST_CASE("x * 1.0, x - x and x / x are computed, not simplified", "[interp][floats]") {
  auto s = kiln::stage("identities", [](Rep<double> x) { return std::make_tuple(x * 1.0, x - x, x / x, x * 0.0); });
  const std::string ir = s.ir();
  INFO(ir);
  for (const char* op : {"mul", "sub", "div"}) CHECK(ref::count_lines(ir, std::string("%[0-9]+ = ") + op + " .*: f64") >= 1);
  auto f = kiln::test::interp(s);
  for (double x : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -0.0, -2.0}) {
    CAPTURE(x);
    auto [one, sub, div, zero] = f(x);
    const double o = ref::opaque(x);
    CHECK(ref::same(one, o * 1.0));
    CHECK(ref::same(sub, o - o));
    CHECK(ref::same(div, o / o));
    CHECK(ref::same(zero, o * 0.0));  // -0.0 for negative x, NaN for inf
  }
}

TEMPLATE_LIST_TEST_CASE("min and max follow std::min / std::max with NaN and signed zeros", "[interp][floats]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("minmax", [](Rep<T> a, Rep<T> b) { return std::make_tuple(kiln::min(a, b), kiln::max(a, b)); }));
  const T nan = std::numeric_limits<T>::quiet_NaN();
  // IR spec: min(a, b) = b < a ? b : a, max(a, b) = a < b ? b : a.
  for (auto [a, b] : {std::pair{nan, T(1)}, std::pair{T(1), nan}, std::pair{-T(0), T(0)}, std::pair{T(0), -T(0)}}) {
    CAPTURE(a, b);
    auto [mn, mx] = f(a, b);
    CHECK(ref::same(mn, std::min(a, b)));
    CHECK(ref::same(mx, std::max(a, b)));
  }
  CHECK(std::isnan(std::get<0>(f(nan, T(1)))));
  CHECK(std::get<0>(f(T(1), nan)) == T(1));
  CHECK(std::signbit(std::get<0>(f(-T(0), T(0)))));
}

TEMPLATE_LIST_TEST_CASE("floor, sqrt and abs treat signed zeros and infinities as IEEE does", "[interp][floats]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("edges", [](Rep<T> x) { return std::make_tuple(kiln::floor(x), kiln::sqrt(x), kiln::abs(x)); }));
  const T inf = std::numeric_limits<T>::infinity();
  for (T x : {T(-0.5), -T(0), T(0), inf, -inf, T(-1)}) {
    CAPTURE(x);
    auto [fl, sq, ab] = f(x);
    const T o = ref::opaque(x);
    CHECK(ref::same(fl, T(std::floor(o))));
    CHECK(ref::same(sq, T(std::sqrt(o))));
    CHECK(ref::same(ab, T(std::abs(o))));
  }
  CHECK(std::signbit(std::get<0>(f(T(-0.5)))));  // floor(-0.5) == -0.0
  CHECK(std::signbit(std::get<1>(f(-T(0)))));    // sqrt(-0.0) == -0.0
  CHECK(std::isnan(std::get<1>(f(T(-1)))));
  CHECK_FALSE(std::signbit(std::get<2>(f(-T(0)))));
}

TEST_CASE("float and double literals keep their bits: -0.0, NaN and infinity constants", "[interp][floats]") {
  auto f = kiln::test::interp(kiln::stage("consts", [](Rep<double> x) {
    return std::make_tuple(x * -0.0, x + std::numeric_limits<double>::infinity(), x - std::numeric_limits<double>::quiet_NaN());
  }));
  auto [a, b, c] = f(2.0);
  CHECK(ref::same(a, 2.0 * -0.0));
  CHECK(std::signbit(a));
  CHECK(ref::same(b, 2.0 + std::numeric_limits<double>::infinity()));
  CHECK(std::isnan(c));
}

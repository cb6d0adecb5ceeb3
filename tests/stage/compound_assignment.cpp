// += -= *= /= %= &= |= ^= on Reps and on buffer elements: `x op= y` is
// `x = x op y` converted back to x's type, as in C++.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

#include <span>

using kiln::Arr;
using kiln::Rep;
namespace ref = kiln::test::ref;

namespace {

using BitsPairs = ref::product<bool, int32_t, int64_t>::with<bool, int32_t, int64_t>;
using IntPairs = ref::product<int32_t, int64_t>::with<int32_t, int64_t>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("x += y is x = x + y converted back to x's type", "[stage][compound]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { a += b; return a; }, [](A a, B b) { return ref::cast<A>(ref::add(a, b)); });
}

TEMPLATE_LIST_TEST_CASE("x -= y is x = x - y converted back to x's type", "[stage][compound]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { a -= b; return a; }, [](A a, B b) { return ref::cast<A>(ref::sub(a, b)); });
}

TEMPLATE_LIST_TEST_CASE("x *= y is x = x * y converted back to x's type", "[stage][compound]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { a *= b; return a; }, [](A a, B b) { return ref::cast<A>(ref::mul(a, b)); });
}

TEMPLATE_LIST_TEST_CASE("x /= y is x = x / y converted back to x's type", "[stage][compound]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { a /= b; return a; }, [](A a, B b) { return ref::cast<A>(ref::div(a, b)); },
                          ref::nonzero_int_divisor<A, B>);
}

TEMPLATE_LIST_TEST_CASE("x %= y is x = x % y converted back to x's type", "[stage][compound]", IntPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { a %= b; return a; }, [](A a, B b) { return ref::cast<A>(ref::rem(a, b)); },
                          ref::nonzero_int_divisor<A, B>);
}

TEMPLATE_LIST_TEST_CASE("x &= y, x |= y, x ^= y are the bitwise operators converted back", "[stage][compound]", BitsPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { a &= b; return a; }, [](A a, B b) { return static_cast<A>(a & b); });
  ref::check_binary<A, B>([](auto a, auto b) { a |= b; return a; }, [](A a, B b) { return static_cast<A>(a | b); });
  ref::check_binary<A, B>([](auto a, auto b) { a ^= b; return a; }, [](A a, B b) { return static_cast<A>(a ^ b); });
}

TEST_CASE("compound assignment with literals keeps the Rep's type", "[stage][compound]") {
  auto s = kiln::stage("lit", [](Rep<int32_t> i, Rep<float> x, Rep<bool> b) {
    i += 1;
    i *= 3;
    i -= 2LL;
    i %= 1000;
    i ^= 0x55;
    x *= 2.0;
    x /= 3;
    x -= 0.1;
    b |= true;
    return std::make_tuple(i, x, b);
  });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  CHECK(ir.find("i64") == std::string::npos);
  CHECK(ir.find("f64") == std::string::npos);
  auto f = kiln::test::interp(s);
  for (int32_t i0 : {-7, 0, 12345})
    for (float x0 : {0.5f, -1e10f})
      for (bool b0 : {false, true}) {
        int32_t i = i0;
        float x = x0;
        bool b = b0;
        i += 1;
        i *= 3;
        i -= 2;
        i %= 1000;
        i ^= 0x55;
        x *= static_cast<float>(2.0);  // weak literals: the literal takes float first
        x /= 3.0f;
        x -= static_cast<float>(0.1);
        b |= true;
        CAPTURE(i0, x0, b0);
        CHECK(f(i0, x0, b0) == std::make_tuple(i, x, b));
      }
}

TEST_CASE("compound assignment records the user's line on its nodes", "[stage][compound]") {
  int line = __LINE__ + 1;
  auto s = kiln::stage("located", [](Rep<int32_t> i, kiln::Arr<int32_t> y) { i += 3; y[0] *= i; return i; });
  std::string text = kiln::ir::print(s.module(), {.locations = true});
  INFO(text);
  CHECK(kiln::test::count(text, "compound_assignment.cpp:" + std::to_string(line)) >= 4);  // add, load, mul, store
  CHECK(text.find("rep.h") == std::string::npos);
}

TEST_CASE("an overflowing literal in a compound assignment names the user's line", "[stage][compound]") {
  int line = 0;
  try {
    kiln::stage("big", [&](Rep<int32_t> i) {
      line = __LINE__; i += 3000000000LL;
      return i;
    });
    FAIL("no error");
  } catch (const kiln::StagingError& e) {
    CHECK(std::string(e.what()).find("compound_assignment.cpp:" + std::to_string(line)) != std::string::npos);
  }
}

TEST_CASE("Rep<int32_t> *= 2.5 computes in double and truncates back", "[stage][compound]") {
  auto s = kiln::stage("i_times", [](Rep<int32_t> i) { i *= 2.5; return i; });
  CHECK(kiln::test::check_lines(s.ir(kiln::test::unoptimised), {"%1 = cast %0 : f64", "%2 = const 2.5 : f64", "%3 = mul %1, %2 : f64", "%4 = cast %3 : i32"}));
  auto f = kiln::test::interp(s);
  for (int32_t i : {-3, 0, 7, 1000000}) {
    int32_t want = i;
    want *= 2.5;  // C++: i = int(i * 2.5), in range here
    CHECK(f(i) == want);
  }
  CHECK(f(std::numeric_limits<int32_t>::max()) == std::numeric_limits<int32_t>::max());  // IR spec: saturates
}

TEST_CASE("compound assignment returns the Rep, so assignments chain", "[stage][compound]") {
  auto f = kiln::test::interp(kiln::stage("chain", [](Rep<int64_t> x, Rep<int64_t> y) {
    (x += y) *= 2;
    ((y -= 1) ^= x) |= 4;
    return std::make_tuple(x, y);
  }));
  for (int64_t x0 : {-5, 3})
    for (int64_t y0 : {0, 9}) {
      int64_t x = x0, y = y0;
      (x += y) *= 2;
      ((y -= 1) ^= x) |= 4;
      CHECK(f(x0, y0) == std::make_tuple(x, y));
    }
}

TEST_CASE("compound assignment updates the variable, not earlier copies", "[stage][compound]") {
  auto f = kiln::test::interp(kiln::stage("copy", [](Rep<double> x) {
    Rep<double> before = x;
    x += 1.5;
    Rep<double> after = x;
    x *= 2;
    return std::make_tuple(before, after, x);
  }));
  CHECK(f(1.0) == std::make_tuple(1.0, 2.5, 5.0));
}

TEST_CASE("compound assignment in a staged loop accumulates across iterations", "[stage][compound]") {
  auto f = kiln::test::interp(kiln::stage("acc", [](Rep<int64_t> n) {
    Rep<int64_t> sum = 0;
    Rep<int32_t> bits = 0;
    Rep<double> prod = 1.0;
    kiln::for_(1, n, [&](Rep<int64_t> i) {
      sum += i * i;
      bits ^= i;
      prod *= 1.5;
      kiln::if_(i % 3 == 0, [&] { sum -= 1; });
    });
    return std::make_tuple(sum, bits, prod);
  }));
  for (int64_t n : {0, 1, 2, 10, 100}) {
    int64_t sum = 0;
    int32_t bits = 0;
    double prod = 1.0;
    for (int64_t i = 1; i < n; ++i) {
      sum += i * i;
      bits ^= i;
      prod *= 1.5;
      if (i % 3 == 0) sum -= 1;
    }
    CAPTURE(n);
    CHECK(f(n) == std::make_tuple(sum, bits, prod));
  }
}

TEST_CASE("compound assignment to an integer buffer element stores the result", "[stage][compound]") {
  auto s = kiln::stage("elems", [](Arr<int32_t> y, Rep<int32_t> v) {
    y[0] += v;
    y[1] -= v;
    y[2] *= v;
    y[3] /= v;
    y[4] %= v;
    y[5] &= v;
    y[6] |= v;
    y[7] ^= v;
  });
  CHECK(kiln::test::count(s.ir(kiln::test::unoptimised), "store") == 8);
  auto f = kiln::test::interp(s);
  for (int32_t v : {3, -7, 0x0f0f}) {
    std::vector<int32_t> got = {100, 100, -100, 1000, 1000, 0x3c3c, 0x3c3c, 0x3c3c};
    std::vector<int32_t> want = got;
    want[0] += v;
    want[1] -= v;
    want[2] *= v;
    want[3] /= v;
    want[4] %= v;
    want[5] &= v;
    want[6] |= v;
    want[7] ^= v;
    f(std::span<int32_t>(got), v);
    CAPTURE(v);
    CHECK(got == want);
  }
}

TEST_CASE("compound assignment to a float buffer element converts mixed operands back", "[stage][compound]") {
  auto f = kiln::test::interp(kiln::stage("felems", [](Arr<float> y, Rep<double> d, Rep<int32_t> i) {
    y[0] += d;
    y[1] *= i;
    y[2] /= 3;
    y[3] -= 0.1;
  }));
  std::vector<float> got = {1.0f, 2.5f, 1.0f, 1.0f};
  f(std::span<float>(got), 0.1, 3);
  std::vector<float> want = {1.0f, 2.5f, 1.0f, 1.0f};
  want[0] += 0.1;  // C++: float(double(y) + d)
  want[1] *= 3;
  want[2] /= 3.0f;
  want[3] -= static_cast<float>(0.1);  // weak literal: float arithmetic
  for (size_t k = 0; k < got.size(); ++k) {
    CAPTURE(k);
    CHECK(ref::same(got[k], want[k]));
  }
}

TEST_CASE("compound assignment prints as the operator alone: no variable ops remain", "[stage][compound][ir]") {
  auto s = kiln::stage("ir", [](Rep<int32_t> x, Rep<int32_t> y) {
    x += y;
    x &= y;
    return x;
  });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  CHECK(kiln::test::check_lines(ir, {"%2 = add %0, %1 : i32", "%3 = and %2, %1 : i32", "return %3"}));
  CHECK(ir.find("var.") == std::string::npos);
}

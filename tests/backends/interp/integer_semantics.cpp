// The interpreter's integer semantics (ir.h): two's complement wrapping,
// INT_MIN / -1, traps on division and remainder by zero, shift counts taken
// modulo the width. Where C++ is undefined the expected value follows the
// spec rule named in the comment, computed with defined C++ (unsigned
// arithmetic) rather than written out.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;
using Catch::Matchers::Contains;

TEST_CASE("int32 addition wraps: INT32_MAX + 1 == INT32_MIN", "[interp][integers]") {
  auto f = kiln::test::interp(kiln::stage("inc", [](Rep<int32_t> x) { return x + 1; }));
  // IR spec: + wraps (two's complement).
  CHECK(f(INT32_MAX) == ref::add(INT32_MAX, 1));
  CHECK(f(INT32_MAX) == INT32_MIN);
  CHECK(f(-1) == 0);
}

TEMPLATE_LIST_TEST_CASE("integer + - * wrap around at the type's bounds", "[interp][integers]", ref::Integers) {
  using T = TestType;
  using L = std::numeric_limits<T>;
  auto f = kiln::test::interp(kiln::stage("wrap", [](Rep<T> a, Rep<T> b) { return std::make_tuple(a + b, a - b, a * b); }));
  for (T a : {L::max(), L::min(), L::max() / 2 + 1, T(-1), T(3)})
    for (T b : {L::max(), L::min(), T(1), T(-1), T(2), L::max() / 2 + 1}) {
      CAPTURE(a, b);
      // IR spec: + - * wrap; ref:: computes them in the unsigned type (defined in C++).
      CHECK(f(a, b) == std::make_tuple(ref::add(a, b), ref::sub(a, b), ref::mul(a, b)));
    }
  CHECK(std::get<0>(f(L::max(), T(1))) == L::min());
  CHECK(std::get<1>(f(L::min(), T(1))) == L::max());
  CHECK(std::get<2>(f(L::max(), T(2))) == T(-2));
}

TEMPLATE_LIST_TEST_CASE("negating or taking abs of the minimum integer wraps to the minimum", "[interp][integers]", ref::Integers) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("negabs", [](Rep<T> a) { return std::make_tuple(-a, kiln::abs(a)); }));
  const T min = std::numeric_limits<T>::min();
  // IR spec: -INT_MIN and abs(INT_MIN) wrap to INT_MIN (undefined in C++).
  CHECK(f(min) == std::make_tuple(ref::neg(min), min));
  CHECK(std::get<0>(f(min)) == min);
  CHECK(f(T(-5)) == std::make_tuple(T(5), T(5)));
}

TEST_CASE("int32 arithmetic wraps in 32 bits, not in a wider register", "[interp][integers]") {
  auto f = kiln::test::interp(kiln::stage("narrow", [](Rep<int32_t> a, Rep<int32_t> b) { return (a * b) / b; }));
  // IR spec: the product wraps to int32 before the division.
  for (int32_t a : {INT32_MAX, 65536, -70000})
    for (int32_t b : {2, 65536, -3}) {
      CAPTURE(a, b);
      CHECK(f(a, b) == ref::mul(a, b) / b);
    }
}

TEMPLATE_LIST_TEST_CASE("INT_MIN / -1 wraps to INT_MIN and INT_MIN % -1 is 0", "[interp][integers]", ref::Integers) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("mindiv", [](Rep<T> a, Rep<T> b) { return std::make_tuple(a / b, a % b); }));
  const T min = std::numeric_limits<T>::min();
  // IR spec (undefined in C++): INT_MIN / -1 == INT_MIN, INT_MIN % -1 == 0.
  CHECK(f(min, T(-1)) == std::make_tuple(ref::div(min, T(-1)), ref::rem(min, T(-1))));
  CHECK(f(min, T(-1)) == std::make_tuple(min, T(0)));
  CHECK(f(min, T(1)) == std::make_tuple(min, T(0)));
  CHECK(f(min + 1, T(-1)) == std::make_tuple(T(min + 1) / T(-1), T(0)));
}

TEMPLATE_LIST_TEST_CASE("integer division truncates toward zero and % takes the dividend's sign", "[interp][integers]",
                        ref::Integers) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("divrem", [](Rep<T> a, Rep<T> b) { return std::make_tuple(a / b, a % b); }));
  for (T a : {T(7), T(-7), T(6), T(-6), T(0), T(1), T(-1), std::numeric_limits<T>::max()})
    for (T b : {T(2), T(-2), T(3), T(-3), T(7), std::numeric_limits<T>::max(), std::numeric_limits<T>::min()}) {
      CAPTURE(a, b);
      CHECK(f(a, b) == std::make_tuple(T(a / b), T(a % b)));
    }
}

TEMPLATE_LIST_TEST_CASE("integer division by zero throws RuntimeError naming the user's line", "[interp][integers][errors]",
                        ref::Integers) {
  using T = TestType;
  int line = 0;
  auto f = kiln::test::interp(kiln::stage("div0", [&](Rep<T> a, Rep<T> b) { line = __LINE__; return a / b; }));
  const std::string msg = ref::error_message<kiln::RuntimeError>([&] { f(T(1), T(0)); });
  CHECK_THAT(msg, Contains(ref::at_line(__FILE__, line)));
  CHECK_THAT(msg, Contains("division by zero") && Contains("@div0"));
  CHECK_THROWS_AS(f(T(0), T(0)), kiln::RuntimeError);
  CHECK_THROWS_AS(f(std::numeric_limits<T>::min(), T(0)), kiln::RuntimeError);
}

TEMPLATE_LIST_TEST_CASE("integer remainder by zero throws RuntimeError naming the user's line", "[interp][integers][errors]",
                        ref::Integers) {
  using T = TestType;
  int line = 0;
  auto f = kiln::test::interp(kiln::stage("rem0", [&](Rep<T> a, Rep<T> b) { line = __LINE__; return a % b; }));
  const std::string msg = ref::error_message<kiln::RuntimeError>([&] { f(T(-5), T(0)); });
  CHECK_THAT(msg, Contains(ref::at_line(__FILE__, line)));
  CHECK_THAT(msg, Contains("remainder by zero") && Contains("@rem0"));
}

TEST_CASE("division by a zero literal, a mixed-type zero or a bool false traps too", "[interp][integers][errors]") {
  auto lit = kiln::test::interp(kiln::stage("lit0", [](Rep<int32_t> a) { return a / 0; }));
  CHECK_THAT(ref::error_message<kiln::RuntimeError>([&] { lit(5); }), Contains("integer_semantics.cpp"));
  auto mixed = kiln::test::interp(kiln::stage("mixed0", [](Rep<int32_t> a, Rep<int64_t> b) { return a % b; }));
  CHECK_THAT(ref::error_message<kiln::RuntimeError>([&] { mixed(5, 0); }), Contains("integer_semantics.cpp"));
  auto flag = kiln::test::interp(kiln::stage("bool0", [](Rep<int32_t> a, Rep<bool> b) { return a / b; }));
  CHECK(flag(6, true) == 6 / true);
  CHECK_THAT(ref::error_message<kiln::RuntimeError>([&] { flag(6, false); }), Contains("integer_semantics.cpp"));
}

TEST_CASE("a compiled function that trapped still runs correctly afterwards", "[interp][integers][errors]") {
  auto f = kiln::test::interp(kiln::stage("again", [](Rep<int64_t> a, Rep<int64_t> b) { return a / b + a % b; }));
  CHECK_THROWS_AS(f(10, 0), kiln::RuntimeError);
  CHECK(f(10, 3) == 10 / 3 + 10 % 3);
  CHECK(f(-10, 4) == -10 / 4 + -10 % 4);
}

TEST_CASE("a division by zero in a branch that is not taken does not trap", "[interp][integers]") {
  auto f = kiln::test::interp(kiln::stage("guarded", [](Rep<int32_t> n, Rep<int32_t> d) {
    return kiln::cond(d != 0, [&] { return n / d; }, [&] { return Rep<int32_t>(0); });
  }));
  CHECK(f(9, 0) == 0);
  CHECK(f(9, 2) == 9 / 2);
}

TEMPLATE_LIST_TEST_CASE("shifting by the bit width or more shifts by the count modulo the width", "[interp][integers]",
                        ref::Integers) {
  using T = TestType;
  constexpr int w = sizeof(T) * 8;
  auto f = kiln::test::interp(kiln::stage("shw", [](Rep<T> a, Rep<T> n) { return std::make_tuple(a << n, a >> n); }));
  // IR spec (undefined in C++): shift counts are taken modulo the bit width.
  for (T a : {T(1), T(-8), T(0x1234), std::numeric_limits<T>::min()}) {
    CAPTURE(a);
    CHECK(f(a, T(w)) == std::make_tuple(a, a));  // count w acts as 0
    CHECK(f(a, T(w + 3)) == std::make_tuple(static_cast<T>(a << 3), static_cast<T>(a >> 3)));
    CHECK(f(a, T(-1)) == std::make_tuple(ref::shl(a, -1), ref::shr(a, -1)));  // -1 mod w == w - 1
  }
}

TEMPLATE_LIST_TEST_CASE("right shift of a negative integer is arithmetic", "[interp][integers]", ref::Integers) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("sar", [](Rep<T> a, Rep<T> n) { return a >> n; }));
  constexpr int w = sizeof(T) * 8;
  CHECK(f(T(-1), T(w - 1)) == T(-1));
  CHECK(f(std::numeric_limits<T>::min(), T(w - 1)) == T(-1));
  for (T a : {T(-7), T(-8), T(-1000000)})
    for (T n : {T(1), T(2), T(5)}) CHECK(f(a, n) == T(a >> n));  // C++20: sign-propagating
}

TEST_CASE("left shift into and past the sign bit wraps", "[interp][integers]") {
  auto f = kiln::test::interp(kiln::stage("shl_sign", [](Rep<int32_t> a, Rep<int32_t> n) { return a << n; }));
  CHECK(f(1, 31) == static_cast<int32_t>(1 << 31));  // C++20: defined, modulo 2^32
  CHECK(f(3, 31) == static_cast<int32_t>(3 << 31));
  CHECK(f(0x40000000, 1) == INT32_MIN);
  CHECK(f(-1, 31) == INT32_MIN);
}

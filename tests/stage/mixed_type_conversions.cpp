// Operators on Reps of two different types follow C++'s usual arithmetic
// conversions: the static result type, the value, and the casts in the IR.
// Also converting construction and assignment between Rep types.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;

TEMPLATE_LIST_TEST_CASE("mixed-type Rep arithmetic has C++'s common type", "[stage][conversions]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  using R = Rep<ref::arith_t<A, B>>;
  static_assert(std::is_same_v<decltype(std::declval<Rep<A>>() + std::declval<Rep<B>>()), R>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<A>>() - std::declval<Rep<B>>()), R>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<A>>() * std::declval<Rep<B>>()), R>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<A>>() / std::declval<Rep<B>>()), R>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<A>>() == std::declval<Rep<B>>()), Rep<bool>>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<A>>() < std::declval<Rep<B>>()), Rep<bool>>);
}

TEMPLATE_LIST_TEST_CASE("mixed-type Rep + - * compute in the common type like C++", "[stage][conversions]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { return a + b; }, [](A a, B b) { return ref::add(a, b); });
  ref::check_binary<A, B>([](auto a, auto b) { return a - b; }, [](A a, B b) { return ref::sub(a, b); });
  ref::check_binary<A, B>([](auto a, auto b) { return a * b; }, [](A a, B b) { return ref::mul(a, b); });
}

TEMPLATE_LIST_TEST_CASE("mixed-type Rep / computes in the common type like C++", "[stage][conversions]", ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  ref::check_binary<A, B>([](auto a, auto b) { return a / b; }, [](A a, B b) { return ref::div(a, b); },
                          ref::nonzero_int_divisor<A, B>);
}

TEMPLATE_LIST_TEST_CASE("mixed-type Rep comparisons compare in the common type like C++", "[stage][conversions]",
                        ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  using R = ref::arith_t<A, B>;
  // Each operand converted to R first: the comparison C++ performs (and
  // without -Wsign-compare noise for bool).
  ref::check_binary<A, B>([](auto a, auto b) { return a == b; }, [](A a, B b) { return R(a) == R(b); });
  ref::check_binary<A, B>([](auto a, auto b) { return a != b; }, [](A a, B b) { return R(a) != R(b); });
  ref::check_binary<A, B>([](auto a, auto b) { return a < b; }, [](A a, B b) { return R(a) < R(b); });
  ref::check_binary<A, B>([](auto a, auto b) { return a >= b; }, [](A a, B b) { return R(a) >= R(b); });
}

TEMPLATE_LIST_TEST_CASE("mixed-type operators cast each operand that is not already the common type", "[stage][conversions][ir]",
                        ref::ScalarPairs) {
  using A = typename TestType::first_type;
  using B = typename TestType::second_type;
  using R = ref::arith_t<A, B>;
  auto s = kiln::stage("mixed", [](Rep<A> a, Rep<B> b) { return a * b; });
  const std::string ir = s.ir(kiln::test::unoptimised);
  const std::string r = ref::ir_name<R>();
  INFO(ir);
  const size_t casts = (std::is_same_v<A, R> ? 0 : 1) + (std::is_same_v<B, R> ? 0 : 1);
  CHECK(kiln::test::count(ir, "cast") == casts);
  if (!std::is_same_v<A, R>) CHECK(ref::count_lines(ir, "%[0-9]+ = cast %0 : " + r) == 1);
  if (!std::is_same_v<B, R>) CHECK(ref::count_lines(ir, "%[0-9]+ = cast %1 : " + r) == 1);
  CHECK(ref::count_lines(ir, "%[0-9]+ = mul %[0-9]+, %[0-9]+ : " + r) == 1);
  CHECK(ir.find("-> (" + r + ")") != std::string::npos);
}

TEST_CASE("Rep<int32_t> * Rep<double> is a Rep<double> with a cast to f64 in the IR", "[stage][conversions][ir]") {
  auto s = kiln::stage("i_times_d", [](Rep<int32_t> i, Rep<double> d) { return i * d; });
  static_assert(std::is_same_v<decltype(s), kiln::Staged<double(int32_t, double)>>);
  CHECK(kiln::test::check_lines(s.ir(kiln::test::unoptimised), {"%2 = cast %0 : f64", "%3 = mul %2, %1 : f64", "return %3"}));
  auto f = kiln::test::interp(s);
  for (int32_t i : {-3, 0, 7, std::numeric_limits<int32_t>::max()})
    for (double d : {0.1, -2.5, 1e300}) CHECK(ref::same(f(i, d), i * d));
}

TEST_CASE("comparing int32 with float converts the integer to float, as C++ does", "[stage][conversions]") {
  auto f = kiln::test::interp(kiln::stage("eq_if", [](Rep<int32_t> i, Rep<float> x) { return i == x; }));
  const int32_t big = 16777217;  // 2^24 + 1 rounds to 2^24 in float
  CHECK(f(big, 16777216.0f) == (big == 16777216.0f));
  CHECK(f(big, 16777216.0f));
}

TEST_CASE("comparing int64 with double converts the integer to double, as C++ does", "[stage][conversions]") {
  auto f = kiln::test::interp(kiln::stage("lt_ld", [](Rep<int64_t> i, Rep<double> x) { return std::make_tuple(i == x, i < x); }));
  const int64_t big = (int64_t{1} << 53) + 1;
  const double d = static_cast<double>(int64_t{1} << 53);
  CHECK(f(big, d) == std::make_tuple(big == d, big < d));
  const int64_t max = std::numeric_limits<int64_t>::max();  // converts to 2^63
  CHECK(f(max, 9223372036854775808.0) == std::make_tuple(max == 9223372036854775808.0, max < 9223372036854775808.0));
}

TEST_CASE("Rep<int64_t> + Rep<float> rounds the integer to float once", "[stage][conversions]") {
  auto f = kiln::test::interp(kiln::stage("lf", [](Rep<int64_t> i, Rep<float> x) { return i + x; }));
  // 2^62 + 2^38 + 1 rounds up to 2^62 + 2^39 directly, but to 2^62 through double.
  const int64_t i = (int64_t{1} << 62) + (int64_t{1} << 38) + 1;
  CHECK(ref::same(f(i, 0.0f), i + 0.0f));
  CHECK(ref::same(f(i, 0.0f), static_cast<float>(i)));
}

TEMPLATE_LIST_TEST_CASE("constructing a Rep from a Rep of another type converts like kiln::cast", "[stage][conversions]",
                        ref::ScalarPairs) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  static_assert(std::is_convertible_v<Rep<From>, Rep<To>>);  // implicit, like C++ arithmetic conversions
  ref::check_unary<From>([](const Rep<From>& x) { Rep<To> y = x; return y; }, [](From x) { return ref::cast<To>(x); });
}

TEMPLATE_LIST_TEST_CASE("assigning a Rep of another type converts like kiln::cast", "[stage][conversions]", ref::ScalarPairs) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  ref::check_unary<From>(
      [](const Rep<From>& x) {
        Rep<To> y;
        y = x;
        return y;
      },
      [](From x) { return ref::cast<To>(x); });
}

TEST_CASE("a mixed expression converts step by step, as C++ evaluates it", "[stage][conversions]") {
  // (i32 * i64) -> i64, + f32 -> f32, / f64 -> f64, compared with bool -> promoted
  auto s = kiln::stage("chain", [](Rep<int32_t> a, Rep<int64_t> b, Rep<float> c, Rep<double> d, Rep<bool> e) {
    return std::make_tuple((a * b + c) / d, a * b + c, (a < b) + e);
  });
  static_assert(std::is_same_v<decltype(s), kiln::Staged<std::tuple<double, float, int>(int32_t, int64_t, float, double, bool)>>);
  auto f = kiln::test::interp(s);
  for (int32_t a : {-3, 7, 100000})
    for (int64_t b : {int64_t{-1}, int64_t{1} << 40})
      for (float c : {0.5f, -1e20f})
        for (double d : {3.0, -0.1})
          for (bool e : {false, true}) {
            auto [x, y, z] = f(a, b, c, d, e);
            CHECK(ref::same(x, (a * b + c) / d));
            CHECK(ref::same(y, a * b + c));
            CHECK(z == (a < b) + e);
          }
}

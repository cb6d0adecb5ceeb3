// + - * / % and unary - + on two Reps of the same type: the C++ result type
// (bool promotes to int), the value against plain C++ on a table of inputs,
// and the IR op that is printed.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;

namespace {

template <class A, class B>
concept HasRem = requires(Rep<A> a, Rep<B> b) { a % b; };
template <class A>
concept HasNeg = requires(Rep<A> a) { -a; };

// An integer divisor of zero traps (integer_semantics.cpp); floats divide by zero per IEEE.
template <class T>
bool nonzero_int_divisor(T, T b) {
  return !std::is_integral_v<T> || b != 0;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("Rep + Rep of one type is C++'s sum in the promoted type", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() + std::declval<Rep<T>>()), Rep<ref::arith_t<T, T>>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a + b; }, [](T a, T b) { return ref::add(a, b); });
}

TEMPLATE_LIST_TEST_CASE("Rep - Rep of one type is C++'s difference in the promoted type", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() - std::declval<Rep<T>>()), Rep<ref::arith_t<T, T>>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a - b; }, [](T a, T b) { return ref::sub(a, b); });
}

TEMPLATE_LIST_TEST_CASE("Rep * Rep of one type is C++'s product in the promoted type", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() * std::declval<Rep<T>>()), Rep<ref::arith_t<T, T>>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a * b; }, [](T a, T b) { return ref::mul(a, b); });
}

TEMPLATE_LIST_TEST_CASE("Rep / Rep of one type is C++'s quotient in the promoted type", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() / std::declval<Rep<T>>()), Rep<ref::arith_t<T, T>>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a / b; }, [](T a, T b) { return ref::div(a, b); },
                          nonzero_int_divisor<T>);
}

TEMPLATE_LIST_TEST_CASE("Rep % Rep of one integer type is C++'s remainder", "[stage][operators]", ref::Integers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() % std::declval<Rep<T>>()), Rep<T>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a % b; }, [](T a, T b) { return ref::rem(a, b); },
                          nonzero_int_divisor<T>);
}

TEST_CASE("remainder is defined on integer Reps only", "[stage][operators]") {
  static_assert(HasRem<int32_t, int32_t> && HasRem<int64_t, int64_t> && HasRem<int32_t, int64_t>);
  static_assert(!HasRem<float, float> && !HasRem<double, double> && !HasRem<int32_t, double> && !HasRem<float, int32_t>);
}

TEMPLATE_LIST_TEST_CASE("unary minus of a Rep is C++'s negation in the promoted type", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  static_assert(HasNeg<T>);
  static_assert(std::is_same_v<decltype(-std::declval<Rep<T>>()), Rep<ref::arith_t<T, T>>>);
  ref::check_unary<T>([](auto a) { return -a; }, [](T a) { return ref::neg(a); });
}

TEMPLATE_LIST_TEST_CASE("unary plus of a Rep is C++'s promotion", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(+std::declval<Rep<T>>()), Rep<ref::arith_t<T, T>>>);
  ref::check_unary<T>([](auto a) { return +a; }, [](T a) { return +a; });
}

TEST_CASE("arithmetic operators print as add sub mul div rem neg of the operand type", "[stage][operators][ir]") {
  const std::string v = "%[0-9]+ = ";
  auto i = kiln::stage("i", [](Rep<int32_t> a, Rep<int32_t> b) { return -(((a + b) - (a * b)) / (a % b)); });
  const std::string iir = i.ir(kiln::test::unoptimised);
  INFO(iir);
  CHECK(ref::count_lines(iir, v + "add %0, %1 : i32") == 1);
  CHECK(ref::count_lines(iir, v + "mul %0, %1 : i32") == 1);
  CHECK(ref::count_lines(iir, v + "rem %0, %1 : i32") == 1);
  CHECK(ref::count_lines(iir, v + "sub %[0-9]+, %[0-9]+ : i32") == 1);
  CHECK(ref::count_lines(iir, v + "div %[0-9]+, %[0-9]+ : i32") == 1);
  CHECK(ref::count_lines(iir, v + "neg %[0-9]+ : i32") == 1);
  CHECK(ref::count_lines(iir, v + ".*") == 6);  // nothing else: no casts, no constants

  auto d = kiln::stage("d", [](Rep<double> a, Rep<double> b) { return -(a + b) / (a * b - b); });
  const std::string dir = d.ir(kiln::test::unoptimised);
  INFO(dir);
  CHECK(ref::count_lines(dir, v + "add %0, %1 : f64") == 1);
  CHECK(ref::count_lines(dir, v + "mul %0, %1 : f64") == 1);
  CHECK(ref::count_lines(dir, v + "neg %[0-9]+ : f64") == 1);
  CHECK(ref::count_lines(dir, v + "sub %[0-9]+, %1 : f64") == 1);
  CHECK(ref::count_lines(dir, v + "div %[0-9]+, %[0-9]+ : f64") == 1);
  CHECK(ref::count_lines(dir, v + ".*") == 5);
}

TEST_CASE("arithmetic on Rep<bool> casts both operands to i32 first", "[stage][operators][ir]") {
  auto s = kiln::stage("s", [](Rep<bool> a, Rep<bool> b) { return a + b; });
  static_assert(std::is_same_v<decltype(s), kiln::Staged<int(bool, bool)>>);
  const std::string ir = s.ir(kiln::test::unoptimised);
  CHECK(kiln::test::count(ir, "cast") == 2);
  CHECK(kiln::test::check_lines(ir, {"%2 = cast %0 : i32", "%3 = cast %1 : i32", "add %2, %3 : i32"}));
  auto f = kiln::test::interp(s);
  for (bool a : {false, true})
    for (bool b : {false, true}) CHECK(f(a, b) == a + b);
}

TEST_CASE("unary minus of Rep<bool> is -1 for true, as C++'s -true", "[stage][operators]") {
  auto f = kiln::test::interp(kiln::stage("neg_bool", [](Rep<bool> a) { return -a; }));
  CHECK(f(true) == -true);
  CHECK(f(false) == -false);
}

TEST_CASE("an arithmetic expression of several Reps evaluates in C++'s order of operations", "[stage][operators]") {
  auto f = kiln::test::interp(
      kiln::stage("expr", [](Rep<int64_t> a, Rep<int64_t> b, Rep<int64_t> c) { return a + b * c - a / (c + 1) % b; }));
  for (int64_t a : {-17, 0, 5, 1000})
    for (int64_t b : {-3, 1, 7})
      for (int64_t c : {0, 2, 9, -5}) CHECK(f(a, b, c) == a + b * c - a / (c + 1) % b);
}

TEST_CASE("float arithmetic is done in float, not in double", "[stage][operators]") {
  auto f = kiln::test::interp(kiln::stage("f32", [](Rep<float> a, Rep<float> b) { return a * b / b + a - b; }));
  auto s = kiln::stage("f32ir", [](Rep<float> a, Rep<float> b) { return a * b / b + a - b; });
  CHECK(s.ir(kiln::test::unoptimised).find("f64") == std::string::npos);
  for (float a : {0.1f, 1.0f / 3.0f, 16777216.0f, 1e30f, -7.25f})
    for (float b : {3.0f, 0.7f, 1e10f, -1e-30f}) {
      float want = a * b / b + a - b;
      CAPTURE(a, b);
      CHECK(ref::same(f(a, b), want));
    }
}

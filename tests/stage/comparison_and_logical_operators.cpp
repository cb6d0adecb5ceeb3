// == != < <= > >= on Reps of one type (Rep<bool> results, compared in the
// promoted type as C++ does), and && || ! on Rep<bool>.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;

namespace {

template <class A>
concept HasNot = requires(Rep<A> a) { !a; };
template <class A, class B>
concept HasAndAnd = requires(Rep<A> a, Rep<B> b) { a && b; };

template <class T, class StagedOp, class PlainOp>
void check_comparison(StagedOp staged_op, PlainOp plain_op) {
  static_assert(std::is_same_v<decltype(staged_op(std::declval<Rep<T>>(), std::declval<Rep<T>>())), Rep<bool>>);
  ref::check_binary<T, T>(staged_op, plain_op);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("Rep == Rep is C++'s equality", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  check_comparison<T>([](auto a, auto b) { return a == b; }, [](T a, T b) { return a == b; });
}

TEMPLATE_LIST_TEST_CASE("Rep != Rep is C++'s inequality", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  check_comparison<T>([](auto a, auto b) { return a != b; }, [](T a, T b) { return a != b; });
}

TEMPLATE_LIST_TEST_CASE("Rep < Rep is C++'s less-than", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  check_comparison<T>([](auto a, auto b) { return a < b; }, [](T a, T b) { return a < b; });
}

TEMPLATE_LIST_TEST_CASE("Rep <= Rep is C++'s less-or-equal", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  check_comparison<T>([](auto a, auto b) { return a <= b; }, [](T a, T b) { return a <= b; });
}

TEMPLATE_LIST_TEST_CASE("Rep > Rep is C++'s greater-than", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  check_comparison<T>([](auto a, auto b) { return a > b; }, [](T a, T b) { return a > b; });
}

TEMPLATE_LIST_TEST_CASE("Rep >= Rep is C++'s greater-or-equal", "[stage][operators]", ref::Scalars) {
  using T = TestType;
  check_comparison<T>([](auto a, auto b) { return a >= b; }, [](T a, T b) { return a >= b; });
}

TEST_CASE("comparisons print as eq ne lt le gt ge with an i1 result", "[stage][operators][ir]") {
  auto s = kiln::stage("cmp", [](Rep<float> a, Rep<float> b) {
    return std::make_tuple(a == b, a != b, a < b, a <= b, a > b, a >= b);
  });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  for (const char* op : {"eq", "ne", "lt", "le", "gt", "ge"})
    CHECK(ref::count_lines(ir, std::string("%[0-9]+ = ") + op + " %0, %1 : i1") == 1);
}

TEST_CASE("comparing two Rep<bool> compares them as ints, as C++ promotes bool", "[stage][operators][ir]") {
  auto s = kiln::stage("lt_bool", [](Rep<bool> a, Rep<bool> b) { return a < b; });
  CHECK(kiln::test::check_lines(s.ir(kiln::test::unoptimised), {"%2 = cast %0 : i32", "%3 = cast %1 : i32", "lt %2, %3 : i1"}));
}

TEST_CASE("NaN compares unordered: only != holds", "[stage][operators]") {
  auto f = kiln::test::interp(kiln::stage("nan_cmp", [](Rep<double> a, Rep<double> b) {
    return std::make_tuple(a == b, a != b, a < b, a <= b, a > b, a >= b);
  }));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double other : {nan, 0.0, 1.0, -std::numeric_limits<double>::infinity()}) {
    CAPTURE(other);
    CHECK(f(nan, other) == std::make_tuple(nan == other, nan != other, nan < other, nan <= other, nan > other, nan >= other));
    CHECK(f(nan, other) == std::make_tuple(false, true, false, false, false, false));
  }
}

TEST_CASE("negative zero compares equal to positive zero", "[stage][operators]") {
  auto f = kiln::test::interp(kiln::stage("zero_cmp", [](Rep<float> a, Rep<float> b) { return std::make_tuple(a == b, a < b); }));
  CHECK(f(-0.0f, 0.0f) == std::make_tuple(-0.0f == 0.0f, -0.0f < 0.0f));
  CHECK(std::get<0>(f(-0.0f, 0.0f)));
}

TEST_CASE("Rep<bool> && Rep<bool> is logical and", "[stage][operators]") {
  static_assert(std::is_same_v<decltype(std::declval<Rep<bool>>() && std::declval<Rep<bool>>()), Rep<bool>>);
  ref::check_binary<bool, bool>([](auto a, auto b) { return a && b; }, [](bool a, bool b) { return a && b; });
}

TEST_CASE("Rep<bool> || Rep<bool> is logical or", "[stage][operators]") {
  static_assert(std::is_same_v<decltype(std::declval<Rep<bool>>() || std::declval<Rep<bool>>()), Rep<bool>>);
  ref::check_binary<bool, bool>([](auto a, auto b) { return a || b; }, [](bool a, bool b) { return a || b; });
}

TEST_CASE("!Rep<bool> is logical not", "[stage][operators]") {
  static_assert(std::is_same_v<decltype(!std::declval<Rep<bool>>()), Rep<bool>>);
  ref::check_unary<bool>([](auto a) { return !a; }, [](bool a) { return !a; });
  auto s = kiln::stage("not", [](Rep<bool> a) { return !a; });
  CHECK(ref::count_lines(s.ir(kiln::test::unoptimised), "%1 = not %0 : i1") == 1);
}

TEST_CASE("logical operators are defined on Rep<bool> only", "[stage][operators]") {
  static_assert(HasNot<bool> && HasAndAnd<bool, bool>);
  static_assert(!HasNot<int32_t> && !HasNot<float> && !HasAndAnd<int32_t, int32_t> && !HasAndAnd<bool, int32_t> &&
                !HasAndAnd<double, bool>);
}

TEST_CASE("&& and || print as and / or on i1", "[stage][operators][ir]") {
  auto s = kiln::stage("logic", [](Rep<bool> a, Rep<bool> b) { return std::make_tuple(a && b, a || b); });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  CHECK(ref::count_lines(ir, "%[0-9]+ = and %0, %1 : i1") == 1);
  CHECK(ref::count_lines(ir, "%[0-9]+ = or %0, %1 : i1") == 1);
}

TEST_CASE("&& on Reps stages both operands: no short circuit", "[stage][operators]") {
  // Both sides are staged and evaluated, so the guarded division still runs
  // (and traps) when the guard is false: use kiln::cond to short-circuit.
  auto f = kiln::test::interp(kiln::stage("guard", [](Rep<int32_t> d) { return d != 0 && 10 / d > 1; }));
  CHECK(f(2) == (2 != 0 && 10 / 2 > 1));
  CHECK(f(20) == (20 != 0 && 10 / 20 > 1));
  CHECK_THROWS_AS(f(0), kiln::RuntimeError);
}

TEST_CASE("a combined condition of comparisons and logic matches C++", "[stage][operators]") {
  auto f = kiln::test::interp(kiln::stage("range", [](Rep<int64_t> x, Rep<int64_t> lo, Rep<int64_t> hi) {
    return (lo <= x && x < hi) || !(x != lo + hi);
  }));
  for (int64_t x : {-5, 0, 3, 7, 10, 12})
    for (int64_t lo : {-10, 0, 3})
      for (int64_t hi : {0, 7, 12}) {
        CAPTURE(x, lo, hi);
        CHECK(f(x, lo, hi) == ((lo <= x && x < hi) || !(x != lo + hi)));
      }
}

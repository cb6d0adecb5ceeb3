// kiln::cast<U> between every pair of scalar types, against C++'s
// static_cast, and the IR spec where C++ is undefined (float->int out of
// range saturates, NaN -> 0).
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;

namespace {

template <class To, class From>
auto cast_fn() {
  return kiln::test::interp(kiln::stage("conv", [](Rep<From> x) { return kiln::cast<To>(x); }));
}

using FloatToInt = std::tuple<std::pair<int32_t, float>, std::pair<int32_t, double>, std::pair<int64_t, float>,
                              std::pair<int64_t, double>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("kiln::cast<U> of every table value matches C++ (and the IR spec out of range)", "[stage][cast]",
                        ref::ScalarPairs) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  static_assert(std::is_same_v<decltype(kiln::cast<To>(std::declval<Rep<From>>())), Rep<To>>);
  ref::check_unary<From>([](auto x) { return kiln::cast<To>(x); }, [](From x) { return ref::cast<To>(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::cast<U> prints one cast node, none to the same type", "[stage][cast][ir]", ref::ScalarPairs) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  auto s = kiln::stage("conv", [](Rep<From> x) { return kiln::cast<To>(x); });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  if constexpr (std::is_same_v<To, From>) {
    CHECK(ref::count_lines(ir, ".* = cast .*") == 0);
    CHECK(ir.find("return %0") != std::string::npos);
  } else {
    CHECK(ref::count_lines(ir, "%1 = cast %0 : " + ref::ir_name<To>()) == 1);
    CHECK(ir.find("(%0: " + ref::ir_name<From>() + ") -> (" + ref::ir_name<To>() + ")") != std::string::npos);
  }
}

TEMPLATE_LIST_TEST_CASE("casting a floating Rep to an integer truncates toward zero", "[stage][cast]",
                        FloatToInt) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  auto f = cast_fn<To, From>();
  for (From x : {From(0.9), From(-0.9), From(2.5), From(-2.5), From(1e6 + 0.75), From(-123456.5), -From(0), From(1e-30)}) {
    CAPTURE(x);
    CHECK(f(x) == static_cast<To>(x));  // in range: C++ truncates toward zero too
  }
}

TEMPLATE_LIST_TEST_CASE("casting an out-of-range floating Rep to an integer saturates", "[stage][cast]",
                        FloatToInt) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  using L = std::numeric_limits<To>;
  auto f = cast_fn<To, From>();
  // IR spec (undefined in C++): float->int saturates at the integer's bounds.
  const From edge = static_cast<From>(L::max()) + From(1);  // 2^31 or 2^63 (rounded): just out of range
  for (From x : {edge, edge * From(1.5), edge * From(2), From(1e30), std::numeric_limits<From>::max(),
                 std::numeric_limits<From>::infinity()}) {
    CAPTURE(x);
    CHECK(f(x) == L::max());
    CHECK(f(-x) == L::min());
  }
  CHECK(f(static_cast<From>(L::min())) == L::min());  // exactly representable: in range
}

TEST_CASE("casting a double just inside int32's range does not saturate", "[stage][cast]") {
  auto f = cast_fn<int32_t, double>();
  CHECK(f(2147483647.9) == static_cast<int32_t>(2147483647.9));
  CHECK(f(-2147483648.9) == static_cast<int32_t>(-2147483648.9));
  CHECK(f(2147483647.0) == std::numeric_limits<int32_t>::max());
  CHECK(f(2147483648.0) == std::numeric_limits<int32_t>::max());  // IR spec: saturates (C++: undefined)
  auto g = cast_fn<int64_t, double>();
  const double below = std::nextafter(9223372036854775808.0, 0.0);  // the largest double below 2^63
  CHECK(g(below) == static_cast<int64_t>(below));
  CHECK(g(-9223372036854775808.0) == std::numeric_limits<int64_t>::min());
}

TEMPLATE_LIST_TEST_CASE("casting NaN to an integer gives zero", "[stage][cast]",
                        FloatToInt) {
  using To = typename TestType::first_type;
  using From = typename TestType::second_type;
  auto f = cast_fn<To, From>();
  // IR spec (undefined in C++): NaN -> 0, whatever its sign.
  CHECK(f(std::numeric_limits<From>::quiet_NaN()) == 0);
  CHECK(f(-std::numeric_limits<From>::quiet_NaN()) == 0);
  CHECK(f(std::numeric_limits<From>::signaling_NaN()) == 0);
}

TEMPLATE_LIST_TEST_CASE("casting to bool is != 0: NaN is true, -0.0 is false", "[stage][cast]", ref::Scalars) {
  using From = TestType;
  auto f = cast_fn<bool, From>();
  for (From x : ref::values<From>()) {
    CAPTURE(x);
    CHECK(f(x) == static_cast<bool>(x));
    CHECK(f(x) == (x != From(0)));
  }
  if constexpr (std::is_floating_point_v<From>) {
    CHECK(f(std::numeric_limits<From>::quiet_NaN()));
    CHECK_FALSE(f(-From(0)));
    CHECK(f(std::numeric_limits<From>::denorm_min()));
  } else if constexpr (!std::is_same_v<From, bool>) {
    CHECK(f(From(256)));  // not truncated to the low bit
    CHECK(f(std::numeric_limits<From>::min()));
  }
}

TEMPLATE_LIST_TEST_CASE("casting bool to a number gives 0 or 1", "[stage][cast]", ref::Scalars) {
  using To = TestType;
  auto f = cast_fn<To, bool>();
  CHECK(ref::same(f(false), static_cast<To>(false)));
  CHECK(ref::same(f(true), static_cast<To>(true)));
  CHECK(ref::same(f(true), To(1)));
}

TEST_CASE("casting between integer Reps wraps (narrowing) or sign-extends (widening)", "[stage][cast]") {
  auto narrow = cast_fn<int32_t, int64_t>();
  auto widen = cast_fn<int64_t, int32_t>();
  for (int64_t x : {int64_t{0}, int64_t{-1}, int64_t{1} << 32, (int64_t{1} << 32) + 5, int64_t{INT32_MAX} + 1,
                    int64_t{INT32_MIN} - 1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    CAPTURE(x);
    CHECK(narrow(x) == static_cast<int32_t>(x));  // C++20: modular, the IR spec's wrap
  }
  for (int32_t x : ref::values<int32_t>()) CHECK(widen(x) == static_cast<int64_t>(x));
}

TEST_CASE("casting int64 to float rounds once to nearest", "[stage][cast]") {
  auto f = cast_fn<float, int64_t>();
  // 2^62 + 2^38 + 1 is just above a float halfway point: rounding through
  // double would first lose the +1 and then round to even, downwards.
  for (int64_t x : {(int64_t{1} << 62) + (int64_t{1} << 38) + 1, (int64_t{1} << 24) + 1, (int64_t{1} << 24) + 3,
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), int64_t{-16777217}}) {
    CAPTURE(x);
    CHECK(ref::same(f(x), static_cast<float>(x)));
  }
  const int64_t x = (int64_t{1} << 62) + (int64_t{1} << 38) + 1;
  CHECK_FALSE(ref::same(f(x), static_cast<float>(static_cast<double>(x))));
}

TEST_CASE("casting int32 and int64 to double rounds to nearest", "[stage][cast]") {
  auto f = cast_fn<double, int64_t>();
  for (int64_t x : {(int64_t{1} << 53) + 1, (int64_t{1} << 53) + 3, std::numeric_limits<int64_t>::max(), int64_t{-7}}) {
    CAPTURE(x);
    CHECK(ref::same(f(x), static_cast<double>(x)));
  }
  auto g = cast_fn<float, int32_t>();
  for (int32_t x : {16777217, 16777219, std::numeric_limits<int32_t>::max(), -16777217}) CHECK(ref::same(g(x), static_cast<float>(x)));
}

TEST_CASE("casting double to float rounds to nearest, overflows to infinity and keeps signed zero and NaN", "[stage][cast]") {
  auto f = cast_fn<float, double>();
  for (double x : {0.1, 1.0 / 3.0, 1e-50, -1e-50, 3.4028235677973366e38, 1e39, -1e300, -0.0}) {
    CAPTURE(x);
    CHECK(ref::same(f(x), static_cast<float>(x)));  // IEEE conversion: overflow gives +-inf
  }
  CHECK(std::isinf(f(1e39)));
  CHECK(std::signbit(f(-0.0)));
  CHECK(std::signbit(f(-1e-50)));
  CHECK(std::isnan(f(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("casting float to double is exact", "[stage][cast]") {
  auto f = cast_fn<double, float>();
  for (float x : ref::values<float>()) {
    CAPTURE(x);
    CHECK(ref::same(f(x), static_cast<double>(x)));
  }
}

TEST_CASE("a cast of a cast applies both conversions", "[stage][cast]") {
  auto f = kiln::test::interp(kiln::stage("cast_chain", [](Rep<double> x) {
    return std::make_tuple(kiln::cast<double>(kiln::cast<int32_t>(x)), kiln::cast<int64_t>(kiln::cast<float>(x)),
                           kiln::cast<int32_t>(kiln::cast<bool>(x)));
  }));
  for (double x : {2.75, -0.5, 16777217.0, 1e10}) {
    CAPTURE(x);
    CHECK(f(x) == std::make_tuple(static_cast<double>(ref::cast<int32_t>(x)), ref::cast<int64_t>(static_cast<float>(x)),
                                  static_cast<int32_t>(static_cast<bool>(x))));
  }
}

// Plain C++ literals mixed with Reps are "weak": they take the Rep's type
// when it is floating or the literal is an integer (checked to fit), and
// follow C++'s conversions when an integer Rep meets a floating literal.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;
using Catch::Matchers::Contains;

namespace {

template <class R, class X>
constexpr bool is_rep_of = std::is_same_v<std::decay_t<X>, Rep<R>>;

}  // namespace

TEST_CASE("Rep<float> times a double literal stays Rep<float> with no f64 in the IR", "[stage][literals]") {
  auto s = kiln::stage("f_times_2", [](Rep<float> x) {
    static_assert(is_rep_of<float, decltype(x * 2.0)> && is_rep_of<float, decltype(2.0 * x)>);
    return x * 2.0 + 0.1 * x;
  });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  CHECK(ir.find("f64") == std::string::npos);
  CHECK(kiln::test::count(ir, "cast") == 0);
  CHECK(ref::count_lines(ir, "%[0-9]+ = const 2.0 : f32") == 1);
  auto f = kiln::test::interp(s);
  for (float x : ref::values<float>()) {
    CAPTURE(x);
    // The literal is rounded to float first, then float arithmetic.
    CHECK(ref::same(f(x), x * static_cast<float>(2.0) + static_cast<float>(0.1) * x));
  }
}

TEST_CASE("Rep<float> compared with a double literal compares in float", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("f_eq", [](Rep<float> x) { return x == 0.1; }));
  CHECK(f(0.1f) == (0.1f == static_cast<float>(0.1)));
  CHECK(f(0.1f));  // plain C++ `0.1f == 0.1` is false: it compares in double
}

TEST_CASE("Rep<int32_t> plus an integer literal stays int32 and wraps", "[stage][literals]") {
  auto s = kiln::stage("i_plus_1", [](Rep<int32_t> x) {
    static_assert(is_rep_of<int32_t, decltype(x + 1)> && is_rep_of<int32_t, decltype(1 + x)>);
    static_assert(is_rep_of<int32_t, decltype(x + 1LL)> && is_rep_of<int32_t, decltype(x - 1u)>);
    static_assert(is_rep_of<int32_t, decltype(x * int64_t{3})>);
    return x + 1;
  });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  CHECK(ir.find("i64") == std::string::npos);
  CHECK(kiln::test::check_lines(ir, {"%1 = const 1 : i32", "%2 = add %0, %1 : i32"}));
  auto f = kiln::test::interp(s);
  for (int32_t x : ref::values<int32_t>()) CHECK(f(x) == ref::add(x, 1));  // IR spec: + wraps
}

TEST_CASE("Rep<int64_t> with an int literal stays int64", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("l_ops", [](Rep<int64_t> x) {
    static_assert(is_rep_of<int64_t, decltype(x * 3)> && is_rep_of<int64_t, decltype(7 - x)>);
    return std::make_tuple(x * 3, 7 - x, x / 2, x % 10, x & 0xff, x + 4000000000LL);
  }));
  for (int64_t x : {int64_t{-100}, int64_t{0}, int64_t{5}, int64_t{1} << 40})
    CHECK(f(x) == std::make_tuple(x * 3, 7 - x, x / 2, x % 10, x & 0xff, x + 4000000000LL));
}

TEST_CASE("Rep<int32_t> times a double literal becomes Rep<double>", "[stage][literals]") {
  auto s = kiln::stage("i_times_2_5", [](Rep<int32_t> x) {
    static_assert(is_rep_of<double, decltype(x * 2.5)> && is_rep_of<double, decltype(2.5 * x)>);
    return x * 2.5;
  });
  CHECK(kiln::test::check_lines(s.ir(kiln::test::unoptimised), {"%1 = const 2.5 : f64", "%2 = cast %0 : f64", "%3 = mul %2, %1 : f64"}));
  auto f = kiln::test::interp(s);
  for (int32_t x : ref::values<int32_t>()) CHECK(f(x) == x * 2.5);
}

TEST_CASE("an integer Rep with a float literal becomes Rep<float>, with a double literal Rep<double>", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("i_float_lit", [](Rep<int32_t> i, Rep<int64_t> l) {
    static_assert(is_rep_of<float, decltype(i + 0.5f)> && is_rep_of<float, decltype(l * 0.5f)>);
    static_assert(is_rep_of<double, decltype(l - 1.0)>);
    static_assert(is_rep_of<bool, decltype(i < 2.5)>);
    return std::make_tuple(i + 0.5f, l * 0.5f, l - 1.0, i < 2.5);
  }));
  for (int32_t i : {-3, 2, 16777217})
    for (int64_t l : {int64_t{-9}, (int64_t{1} << 53) + 1}) {
      CAPTURE(i, l);
      CHECK(f(i, l) == std::make_tuple(i + 0.5f, l * 0.5f, l - 1.0, i < 2.5));
    }
}

TEST_CASE("Rep<double> with a float literal stays Rep<double>", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("d_f_lit", [](Rep<double> x) {
    static_assert(is_rep_of<double, decltype(x + 0.1f)>);
    return x + 0.1f;
  }));
  for (double x : {0.0, 1.0, -3.25}) CHECK(ref::same(f(x), x + 0.1f));  // the float literal's value, widened
}

TEST_CASE("Rep<bool> with a number literal promotes as C++ does", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("b_lit", [](Rep<bool> b) {
    static_assert(is_rep_of<int32_t, decltype(b + 1)> && is_rep_of<double, decltype(b * 2.5)>);
    static_assert(is_rep_of<int32_t, decltype(b & 1)> && is_rep_of<int64_t, decltype(b + 1LL)>);
    return std::make_tuple(b + 1, b * 2.5, b & 1, 3 - b, b + 1LL);
  }));
  for (bool b : {false, true})
    CHECK(f(b) == std::make_tuple(b + 1, b * 2.5, b & 1, 3 - b, static_cast<int64_t>(b + 1LL)));
}

TEST_CASE("Rep<bool> with a bool literal stays bool", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("b_bool_lit", [](Rep<bool> b) {
    static_assert(is_rep_of<bool, decltype(b & true)> && is_rep_of<bool, decltype(b == true)>);
    static_assert(is_rep_of<bool, decltype(b && true)> && is_rep_of<bool, decltype(false || b)>);
    return std::make_tuple(b & true, b == true, b && true, false || b, b ^ true);
  }));
  for (bool b : {false, true})
    CHECK(f(b) == std::make_tuple(static_cast<bool>(b & true), b == true, b && true, false || b,
                                  static_cast<bool>(b ^ true)));
}

TEST_CASE("literals of types kiln does not stage map to the nearest staged type", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("odd_lit", [](Rep<int32_t> i, Rep<bool> b) {
    static_assert(is_rep_of<double, decltype(i * 2.5L)> && is_rep_of<int64_t, decltype(b + 1LL)>);
    static_assert(is_rep_of<int32_t, decltype(b & 1u)>);
    return std::make_tuple(i * 2.5L, b + 1LL, b & 1u);
  }));
  CHECK(f(3, true) == std::make_tuple(7.5, int64_t{2}, int32_t{1}));
}

TEST_CASE("an integer literal converts to a floating Rep's type", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("fl_int_lit", [](Rep<float> x, Rep<double> d) {
    static_assert(is_rep_of<float, decltype(x + 16777217)> && is_rep_of<double, decltype(d + 3)>);
    return std::make_tuple(x + 16777217, x - int64_t{(int64_t{1} << 62) + (int64_t{1} << 38) + 1}, d + 3, x + 0u);
  }));
  const int64_t big = (int64_t{1} << 62) + (int64_t{1} << 38) + 1;
  for (float x : {0.0f, 1.0f, -0.0f}) {
    // The literal becomes a float (rounded once, int64 -> float directly), then float arithmetic.
    auto [a, b, c, z] = f(x, 0.5);
    CHECK(ref::same(a, x + static_cast<float>(16777217)));
    CHECK(ref::same(b, x - static_cast<float>(big)));
    CHECK(ref::same(c, 0.5 + 3));
    CHECK(ref::same(z, x + static_cast<float>(0u)));
  }
}

TEST_CASE("a literal on either side of a comparison takes the Rep's type", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("cmp_lit", [](Rep<int32_t> i, Rep<float> x) {
    return std::make_tuple(i < 10, 10 < i, x >= 0.5, 0.5 >= x, i != -1LL);
  }));
  for (int32_t i : {-1, 9, 10, 11})
    for (float x : {0.25f, 0.5f, 1.0f})
      CHECK(f(i, x) == std::make_tuple(i < 10, 10 < i, x >= 0.5f, 0.5f >= x, i != -1));
}

TEST_CASE("an integer literal that does not fit an int32 Rep is a staging error at the user's line", "[stage][literals][errors]") {
  int line = 0;
  const std::string msg = ref::error_message<kiln::StagingError>([&] {
    kiln::stage("too_big", [&](Rep<int32_t> x) { line = __LINE__; return x + 3000000000LL; });
  });
  CHECK_THAT(msg, Contains(ref::at_line(__FILE__, line)));
  CHECK_THAT(msg, Contains("3000000000") && Contains("Rep<int32_t>"));
}

TEST_CASE("a literal that does not fit is an error on either side and in every operator", "[stage][literals][errors]") {
  auto fails = [](auto fn) { CHECK_THAT(ref::error_message<kiln::StagingError>(fn), Contains("weak_literals.cpp")); };
  fails([] { kiln::stage("a", [](Rep<int32_t> x) { return 3000000000LL - x; }); });
  fails([] { kiln::stage("b", [](Rep<int32_t> x) { return x < -2147483649LL; }); });
  fails([] { kiln::stage("c", [](Rep<int32_t> x) { return x & 4294967295u; }); });
  fails([] { kiln::stage("d", [](Rep<int64_t> x) { return x + 18446744073709551615ull; }); });
  fails([] { kiln::stage("e", [](Rep<int32_t> x) { return x << 4000000000LL; }); });
  fails([] { kiln::stage("f", [](Rep<int32_t> x) { return kiln::min(x, 3000000000LL); }); });
}

TEST_CASE("a double literal that overflows a float Rep is a staging error at the user's line", "[stage][literals][errors]") {
  int line = 0;
  const std::string msg = ref::error_message<kiln::StagingError>([&] {
    kiln::stage("f_overflow", [&](Rep<float> x) { line = __LINE__; return x * 1e300; });
  });
  CHECK_THAT(msg, Contains(ref::at_line(__FILE__, line)));
  CHECK_THAT(msg, Contains("Rep<float>"));
  CHECK_THAT(ref::error_message<kiln::StagingError>([] { kiln::stage("g", [](Rep<float> x) { return -1e39 + x; }); }),
             Contains("weak_literals.cpp"));
}

TEST_CASE("infinite, NaN and tiny literals are accepted by a float Rep", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("f_special", [](Rep<float> x) {
    return std::make_tuple(x + std::numeric_limits<double>::infinity(), x * std::numeric_limits<double>::quiet_NaN(),
                           x + 1e-300);
  }));
  auto [a, b, c] = f(1.0f);
  CHECK(ref::same(a, 1.0f + static_cast<float>(std::numeric_limits<double>::infinity())));
  CHECK(std::isnan(b));
  CHECK(ref::same(c, 1.0f + static_cast<float>(1e-300)));  // underflows to 0: not an error
}

TEST_CASE("a Rep initialised from a literal takes the Rep's type and must fit", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("init", [](Rep<int32_t> x) {
    Rep<float> a = 0.1;
    Rep<int64_t> b = 5;
    Rep<double> c = 0.1f;
    Rep<bool> d = true;
    Rep<int32_t> e = 7.0;  // an integral-valued floating literal fits
    return std::make_tuple(a + x, b * x, c, d, e);
  }));
  CHECK(f(2) == std::make_tuple(static_cast<float>(0.1) + 2, int64_t{5} * 2, static_cast<double>(0.1f), true, 7));
  int line = 0;
  const std::string msg = ref::error_message<kiln::StagingError>([&] {
    kiln::stage("bad_init", [&](Rep<int32_t> x) { line = __LINE__; Rep<int32_t> y = 2.5; return x + y; });
  });
  CHECK_THAT(msg, Contains(ref::at_line(__FILE__, line)) && Contains("not an integer"));
  CHECK_THAT(ref::error_message<kiln::StagingError>([] { kiln::stage("b2", [](Rep<bool> x) { Rep<bool> b = 2; return b && x; }); }),
             Contains("weak_literals.cpp"));
  CHECK_THAT(ref::error_message<kiln::StagingError>([] { kiln::stage("i3", [](Rep<int32_t> x) { Rep<int32_t> i = 1LL << 40; return i + x; }); }),
             Contains("weak_literals.cpp"));
}

TEST_CASE("an unsigned literal above INT64_MAX keeps its value in a double Rep", "[stage][literals]") {
  auto f = kiln::test::interp(kiln::stage("big_unsigned", [](Rep<double> x) {
    return std::make_tuple(x + 9223372036854775808ull, x - 18446744073709551615ull);
  }));
  CHECK(f(0.5) == std::make_tuple(0.5 + static_cast<double>(9223372036854775808ull), 0.5 - static_cast<double>(18446744073709551615ull)));
}

TEST_CASE("a floating literal outside int64's range is rejected for an integer Rep", "[stage][literals]") {
  CHECK_THROWS_WITH(kiln::stage("huge", [](Rep<int64_t> x) { return x + Rep<int64_t>(1e19); }),
                    Catch::Matchers::Contains("is not an integer that fits Rep<int64_t>") &&
                        Catch::Matchers::Contains("weak_literals.cpp:"));
}

TEST_CASE("an unsigned literal above INT64_MAX rounds once into a float Rep", "[stage][literals]") {
  const unsigned long long big = (1ull << 63) + (1ull << 39) + 1;
  auto f = kiln::test::interp(kiln::stage("ubig", [&](Rep<float> x) { return x + big; }));
  CHECK(f(0.0f) == static_cast<float>(big));
}

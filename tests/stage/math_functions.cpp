// kiln's math functions against the same-typed C++ std function, bit for
// bit: sqrt exp log sin cos tanh floor abs pow min max fma select.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

#include <algorithm>

using kiln::Rep;
namespace ref = kiln::test::ref;

namespace {

template <class T>
concept HasSqrt = requires(Rep<T> x) { kiln::sqrt(x); };
template <class T>
concept HasAbs = requires(Rep<T> x) { kiln::abs(x); };
template <class A, class B>
concept HasPow = requires(A a, B b) { kiln::pow(a, b); };
template <class A, class B>
concept HasMin = requires(A a, B b) { kiln::min(a, b); };

// The table plus arguments that exercise the functions' interesting ranges.
template <class T>
std::vector<T> math_inputs() {
  std::vector<T> v = ref::values<T>();
  for (T x : {T(2), T(10), T(-10), T(88.5), T(-104), T(710), T(1e-5), T(0.7853981633974483), T(3.141592653589793),
              T(-1.5707963267948966), T(1e6), T(123456.789), T(-0.49999997), T(2.5), T(-2.5)})
    v.push_back(x);
  return v;
}

template <class T, class StagedFn, class StdFn>
void check_math(StagedFn staged_fn, StdFn std_fn) {
  auto f = kiln::test::interp(kiln::stage("math", [staged_fn](Rep<T> x) { return staged_fn(x); }));
  for (T x : math_inputs<T>()) {
    T want = std_fn(ref::opaque(x));
    static_assert(std::is_same_v<decltype(want), decltype(f(x))>);
    T got = f(x);
    CAPTURE(x, got, want);
    CHECK(ref::same(got, want));
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("kiln::sqrt is std::sqrt of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(kiln::sqrt(std::declval<Rep<T>>())), Rep<T>>);
  check_math<T>([](auto x) { return kiln::sqrt(x); }, [](T x) -> T { return std::sqrt(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::exp is std::exp of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::exp(x); }, [](T x) -> T { return std::exp(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::log is std::log of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::log(x); }, [](T x) -> T { return std::log(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::sin is std::sin of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::sin(x); }, [](T x) -> T { return std::sin(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::cos is std::cos of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::cos(x); }, [](T x) -> T { return std::cos(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::tanh is std::tanh of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::tanh(x); }, [](T x) -> T { return std::tanh(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::floor is std::floor of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::floor(x); }, [](T x) -> T { return std::floor(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::abs of a floating Rep is std::abs of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  check_math<T>([](auto x) { return kiln::abs(x); }, [](T x) -> T { return std::abs(x); });
}

TEMPLATE_LIST_TEST_CASE("kiln::abs of an integer Rep is std::abs, and wraps at the minimum", "[stage][math]", ref::Integers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(kiln::abs(std::declval<Rep<T>>())), Rep<T>>);
  // IR spec: abs(INT_MIN) == INT_MIN (integers wrap; undefined for std::abs).
  ref::check_unary<T>([](auto x) { return kiln::abs(x); },
                      [](T x) { return x == std::numeric_limits<T>::min() ? x : static_cast<T>(std::abs(x)); });
}

TEST_CASE("math functions take floating Reps only; abs takes any number but bool", "[stage][math]") {
  static_assert(HasSqrt<float> && HasSqrt<double> && !HasSqrt<int32_t> && !HasSqrt<int64_t> && !HasSqrt<bool>);
  static_assert(HasAbs<int32_t> && HasAbs<int64_t> && HasAbs<float> && HasAbs<double> && !HasAbs<bool>);
  static_assert(HasPow<Rep<float>, Rep<float>> && HasPow<Rep<int32_t>, double> && !HasPow<Rep<int32_t>, Rep<int64_t>> &&
                !HasPow<Rep<int32_t>, int>);
  static_assert(HasMin<Rep<int32_t>, Rep<int64_t>> && HasMin<Rep<bool>, Rep<int32_t>> && !HasMin<Rep<bool>, Rep<bool>> &&
                !HasMin<int, int>);
}

TEMPLATE_LIST_TEST_CASE("kiln::pow is std::pow of the same type", "[stage][math]", ref::Floats) {
  using T = TestType;
  auto f = kiln::test::interp(kiln::stage("pow", [](Rep<T> x, Rep<T> y) { return kiln::pow(x, y); }));
  std::vector<T> ys = ref::values<T>();
  for (T y : {T(2), T(0.5), T(-3), T(1.0 / 3.0), T(10.5)}) ys.push_back(y);
  for (T x : math_inputs<T>())
    for (T y : ys) {
      T want = std::pow(ref::opaque(x), ref::opaque(y));
      CAPTURE(x, y);
      CHECK(ref::same(f(x, y), want));
    }
}

TEST_CASE("kiln::pow with mixed operands converts them as + does", "[stage][math]") {
  auto f = kiln::test::interp(kiln::stage("pow_mixed", [](Rep<float> x, Rep<double> d, Rep<int32_t> i) {
    static_assert(std::is_same_v<decltype(kiln::pow(x, 2)), Rep<float>>);
    static_assert(std::is_same_v<decltype(kiln::pow(x, 0.5)), Rep<float>>);
    static_assert(std::is_same_v<decltype(kiln::pow(x, d)), Rep<double>>);
    static_assert(std::is_same_v<decltype(kiln::pow(i, 0.5)), Rep<double>>);
    static_assert(std::is_same_v<decltype(kiln::pow(2.0f, i)), Rep<float>>);
    return std::make_tuple(kiln::pow(x, 2), kiln::pow(x, 0.5), kiln::pow(x, d), kiln::pow(i, 0.5), kiln::pow(2.0f, i));
  }));
  for (float x : {0.1f, 3.0f, -2.0f})
    for (double d : {0.5, -1.25})
      for (int32_t i : {0, 3, -2}) {
        CAPTURE(x, d, i);
        auto [a, b, c, e, g] = f(x, d, i);
        CHECK(ref::same(a, std::pow(ref::opaque(x), 2.0f)));
        CHECK(ref::same(b, std::pow(ref::opaque(x), static_cast<float>(0.5))));
        CHECK(ref::same(c, std::pow(static_cast<double>(ref::opaque(x)), ref::opaque(d))));
        CHECK(ref::same(e, std::pow(static_cast<double>(ref::opaque(i)), 0.5)));
        CHECK(ref::same(g, std::pow(2.0f, static_cast<float>(ref::opaque(i)))));
      }
}

TEMPLATE_LIST_TEST_CASE("kiln::min is std::min, including NaN and signed zero order", "[stage][math]", ref::Numbers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(kiln::min(std::declval<Rep<T>>(), std::declval<Rep<T>>())), Rep<T>>);
  ref::check_binary<T, T>([](auto a, auto b) { return kiln::min(a, b); }, [](T a, T b) { return std::min(a, b); });
}

TEMPLATE_LIST_TEST_CASE("kiln::max is std::max, including NaN and signed zero order", "[stage][math]", ref::Numbers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(kiln::max(std::declval<Rep<T>>(), std::declval<Rep<T>>())), Rep<T>>);
  ref::check_binary<T, T>([](auto a, auto b) { return kiln::max(a, b); }, [](T a, T b) { return std::max(a, b); });
}

TEST_CASE("kiln::min and kiln::max of mixed operands use the common type", "[stage][math]") {
  auto f = kiln::test::interp(kiln::stage("minmax_mixed", [](Rep<int32_t> i, Rep<double> d, Rep<float> x, Rep<bool> b) {
    static_assert(std::is_same_v<decltype(kiln::min(i, d)), Rep<double>>);
    static_assert(std::is_same_v<decltype(kiln::max(x, 2.0)), Rep<float>>);
    static_assert(std::is_same_v<decltype(kiln::min(7, i)), Rep<int32_t>>);
    static_assert(std::is_same_v<decltype(kiln::max(b, i)), Rep<int32_t>>);
    return std::make_tuple(kiln::min(i, d), kiln::max(x, 2.0), kiln::min(7, i), kiln::max(b, i));
  }));
  for (int32_t i : {-5, 7, 100})
    for (double d : {-10.5, 6.5})
      for (float x : {1.0f, 2.5f})
        for (bool b : {false, true}) {
          CAPTURE(i, d, x, b);
          CHECK(f(i, d, x, b) ==
                std::make_tuple(std::min<double>(i, d), std::max(x, static_cast<float>(2.0)), std::min(7, i), std::max<int>(b, i)));
        }
}

TEMPLATE_LIST_TEST_CASE("kiln::fma is std::fma of the same type: one rounding", "[stage][math]", ref::Floats) {
  using T = TestType;
  auto s = kiln::stage("fma", [](Rep<T> a, Rep<T> b, Rep<T> c) { return kiln::fma(a, b, c); });
  CHECK(ref::count_lines(s.ir(kiln::test::unoptimised), "%3 = fma %0, %1, %2 : " + ref::ir_name<T>()) == 1);
  auto f = kiln::test::interp(s);
  std::vector<T> v = ref::values<T>();
  v.resize(13);  // finite, non-extreme values: all combinations
  v.push_back(std::numeric_limits<T>::infinity());
  v.push_back(std::numeric_limits<T>::quiet_NaN());
  for (T a : v)
    for (T b : v)
      for (T c : v) {
        CAPTURE(a, b, c);
        CHECK(ref::same(f(a, b, c), std::fma(ref::opaque(a), ref::opaque(b), ref::opaque(c))));
      }
  // Where one rounding differs from two: the exact product's low bits survive.
  const T x = T(1) + std::numeric_limits<T>::epsilon();
  const T y = T(1) - std::numeric_limits<T>::epsilon();
  CHECK(ref::same(f(x, y, T(-1)), std::fma(ref::opaque(x), ref::opaque(y), T(-1))));
  CHECK_FALSE(ref::same(f(x, y, T(-1)), ref::opaque(x) * ref::opaque(y) - T(1)));
}

TEST_CASE("kiln::fma accepts literals in the Rep's type", "[stage][math]") {
  auto f = kiln::test::interp(kiln::stage("fma_lit", [](Rep<float> x) { return kiln::fma(x, 3.0f, 0.5f); }));
  for (float x : {0.1f, -7.0f, 1e30f}) CHECK(ref::same(f(x), std::fma(ref::opaque(x), 3.0f, 0.5f)));
}

TEMPLATE_LIST_TEST_CASE("kiln::select(c, a, b) is c ? a : b", "[stage][math]", ref::Scalars) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(kiln::select(std::declval<Rep<bool>>(), std::declval<Rep<T>>(), std::declval<Rep<T>>())),
                               Rep<T>>);  // like C++'s c ? a : b, two Rep<bool> give a Rep<bool>
  auto s = kiln::stage("select", [](Rep<bool> c, Rep<T> a, Rep<T> b) { return kiln::select(c, a, b); });
  CHECK(ref::count_lines(s.ir(kiln::test::unoptimised), "%3 = select %0, %1, %2 : " + ref::ir_name<T>()) == 1);
  auto f = kiln::test::interp(s);
  for (bool c : {false, true})
    for (T a : ref::values<T>())
      for (T b : std::initializer_list<T>{ref::values<T>().front(), ref::values<T>().back()}) {
        CAPTURE(c, a, b);
        CHECK(ref::same(f(c, a, b), c ? a : b));
      }
}

TEST_CASE("kiln::select with mixed operands or literals uses the common type", "[stage][math]") {
  auto f = kiln::test::interp(kiln::stage("select_mixed", [](Rep<bool> c, Rep<int32_t> i, Rep<double> d, Rep<float> x) {
    static_assert(std::is_same_v<decltype(kiln::select(c, i, d)), Rep<double>>);
    static_assert(std::is_same_v<decltype(kiln::select(c, x, 0.1)), Rep<float>>);
    static_assert(std::is_same_v<decltype(kiln::select(c, -1, i)), Rep<int32_t>>);
    return std::make_tuple(kiln::select(c, i, d), kiln::select(c, x, 0.1), kiln::select(c, -1, i));
  }));
  for (bool c : {false, true}) {
    CAPTURE(c);
    CHECK(f(c, 3, 0.25, 1.5f) == std::make_tuple(c ? 3 : 0.25, c ? 1.5f : static_cast<float>(0.1), c ? -1 : 3));
  }
}

TEST_CASE("kiln::select evaluates both operands: it is not a branch", "[stage][math]") {
  auto f = kiln::test::interp(kiln::stage("select_eager", [](Rep<int32_t> d) { return kiln::select(d != 0, 100 / d, 0); }));
  CHECK(f(4) == 100 / 4);
  CHECK_THROWS_AS(f(0), kiln::RuntimeError);  // the division runs even where c is false
}

TEST_CASE("math functions print as their IR ops on the argument's type", "[stage][math][ir]") {
  auto s = kiln::stage("ops", [](Rep<double> x) {
    return std::make_tuple(kiln::sqrt(x), kiln::exp(x), kiln::log(x), kiln::sin(x), kiln::cos(x), kiln::tanh(x),
                           kiln::floor(x), kiln::abs(x), kiln::pow(x, x), kiln::min(x, x), kiln::max(x, x));
  });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  for (const char* op : {"sqrt", "exp", "log", "sin", "cos", "tanh", "floor", "abs"})
    CHECK(ref::count_lines(ir, std::string("%[0-9]+ = ") + op + " %0 : f64") == 1);
  for (const char* op : {"pow", "min", "max"}) CHECK(ref::count_lines(ir, std::string("%[0-9]+ = ") + op + " %0, %0 : f64") == 1);
}

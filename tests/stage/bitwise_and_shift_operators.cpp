// & | ^ ~ << >> on integer Reps, & | ^ on Rep<bool>, against plain C++.
#include "stage/scalar_reference.h"

#include <catch2/catch.hpp>

using kiln::Rep;
namespace ref = kiln::test::ref;

namespace {

template <class A, class B>
concept HasAnd = requires(Rep<A> a, Rep<B> b) { a & b; };
template <class A, class B>
concept HasShl = requires(Rep<A> a, Rep<B> b) { a << b; };
template <class A>
concept HasCompl = requires(Rep<A> a) { ~a; };

// Shift counts inside [0, width): C++ defines these (C++20: << is modular).
template <class T>
std::vector<int32_t> in_range_counts() {
  std::vector<int32_t> c;
  for (int32_t i = 0; i < static_cast<int32_t>(sizeof(T) * 8); ++i) c.push_back(i);
  return c;
}

}  // namespace

using BitsTypes = std::tuple<bool, int32_t, int64_t>;

TEMPLATE_LIST_TEST_CASE("Rep & Rep is C++'s bitwise and (Rep<bool> & Rep<bool> stays bool)", "[stage][operators]", BitsTypes) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() & std::declval<Rep<T>>()), Rep<T>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a & b; }, [](T a, T b) { return static_cast<T>(a & b); });
}

TEMPLATE_LIST_TEST_CASE("Rep | Rep is C++'s bitwise or (Rep<bool> | Rep<bool> stays bool)", "[stage][operators]", BitsTypes) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() | std::declval<Rep<T>>()), Rep<T>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a | b; }, [](T a, T b) { return static_cast<T>(a | b); });
}

TEMPLATE_LIST_TEST_CASE("Rep ^ Rep is C++'s bitwise xor (Rep<bool> ^ Rep<bool> stays bool)", "[stage][operators]", BitsTypes) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() ^ std::declval<Rep<T>>()), Rep<T>>);
  ref::check_binary<T, T>([](auto a, auto b) { return a ^ b; }, [](T a, T b) { return static_cast<T>(a ^ b); });
}

TEST_CASE("bitwise operators on Rep<bool> print as i1 ops without casts", "[stage][operators][ir]") {
  auto s = kiln::stage("bits_bool", [](Rep<bool> a, Rep<bool> b) { return std::make_tuple(a & b, a | b, a ^ b); });
  const std::string ir = s.ir(kiln::test::unoptimised);
  INFO(ir);
  for (const char* op : {"and", "or", "xor"}) CHECK(ref::count_lines(ir, std::string("%[0-9]+ = ") + op + " %0, %1 : i1") == 1);
  CHECK(kiln::test::count(ir, "cast") == 0);
}

TEST_CASE("bitwise operators mixing Rep<bool> and an integer Rep promote as C++ does", "[stage][operators]") {
  static_assert(std::is_same_v<decltype(std::declval<Rep<bool>>() & std::declval<Rep<int32_t>>()), Rep<int32_t>>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<int64_t>>() | std::declval<Rep<bool>>()), Rep<int64_t>>);
  ref::check_binary<bool, int32_t>([](auto a, auto b) { return a & b; }, [](bool a, int32_t b) { return a & b; });
  ref::check_binary<int64_t, bool>([](auto a, auto b) { return a | b; }, [](int64_t a, bool b) { return a | b; });
  ref::check_binary<int32_t, int64_t>([](auto a, auto b) { return a ^ b; }, [](int32_t a, int64_t b) { return a ^ b; });
}

TEST_CASE("bitwise operators are not defined on floating Reps", "[stage][operators]") {
  static_assert(HasAnd<int32_t, int32_t> && HasAnd<bool, bool> && HasAnd<bool, int64_t>);
  static_assert(!HasAnd<float, float> && !HasAnd<double, int32_t> && !HasAnd<bool, float>);
  static_assert(HasCompl<int32_t> && HasCompl<int64_t> && !HasCompl<float> && !HasCompl<double>);
}

TEMPLATE_LIST_TEST_CASE("bitwise not (~) of a Rep is C++'s complement", "[stage][operators]", ref::Integers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(~std::declval<Rep<T>>()), Rep<T>>);
  ref::check_unary<T>([](auto a) { return ~a; }, [](T a) { return static_cast<T>(~a); });
  auto s = kiln::stage("compl", [](Rep<T> a) { return ~a; });
  CHECK(ref::count_lines(s.ir(kiln::test::unoptimised), "%1 = not %0 : " + ref::ir_name<T>()) == 1);
}

TEMPLATE_LIST_TEST_CASE("Rep << count within the width is C++'s left shift", "[stage][operators]", ref::Integers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() << std::declval<Rep<T>>()), Rep<T>>);
  auto f = kiln::test::interp(kiln::stage("shl", [](Rep<T> a, Rep<T> n) { return a << n; }));
  for (T a : ref::values<T>())
    for (int32_t n : in_range_counts<T>()) {
      CAPTURE(a, n);
      CHECK(f(a, n) == static_cast<T>(a << n));  // C++20: the value of a * 2^n modulo 2^width
    }
}

TEMPLATE_LIST_TEST_CASE("Rep >> count within the width is C++'s arithmetic right shift", "[stage][operators]", ref::Integers) {
  using T = TestType;
  static_assert(std::is_same_v<decltype(std::declval<Rep<T>>() >> std::declval<Rep<T>>()), Rep<T>>);
  auto f = kiln::test::interp(kiln::stage("shr", [](Rep<T> a, Rep<T> n) { return a >> n; }));
  for (T a : ref::values<T>())
    for (int32_t n : in_range_counts<T>()) {
      CAPTURE(a, n);
      CHECK(f(a, n) == static_cast<T>(a >> n));  // C++20: floor(a / 2^n), sign-propagating
    }
}

TEMPLATE_LIST_TEST_CASE("shift counts of at least the width or negative are taken modulo the width", "[stage][operators]",
                        ref::Integers) {
  using T = TestType;
  constexpr int64_t w = sizeof(T) * 8;
  auto f = kiln::test::interp(kiln::stage("shifts", [](Rep<T> a, Rep<T> n) { return std::make_tuple(a << n, a >> n); }));
  for (T a : {T(1), T(-1), T(0x5a5a5a5a), std::numeric_limits<T>::min(), std::numeric_limits<T>::max()})
    for (int64_t n : {w, w + 1, w + 7, 2 * w - 1, 3 * w + 2, int64_t{-1}, -w + 3, int64_t{-(w + 1)}}) {
      CAPTURE(a, n);
      // IR spec (undefined in C++): the count is reduced modulo the bit width.
      CHECK(f(a, static_cast<T>(n)) == std::make_tuple(ref::shl(a, n), ref::shr(a, n)));
      CHECK(f(a, static_cast<T>(n)) == std::make_tuple(static_cast<T>(a << (n & (w - 1))), static_cast<T>(a >> (n & (w - 1)))));
    }
}

TEST_CASE("a shift's result has the left operand's type, as in C++", "[stage][operators]") {
  static_assert(std::is_same_v<decltype(std::declval<Rep<int32_t>>() << std::declval<Rep<int64_t>>()), Rep<int32_t>>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<int64_t>>() >> std::declval<Rep<int32_t>>()), Rep<int64_t>>);
  static_assert(std::is_same_v<decltype(std::declval<Rep<int32_t>>() << 40LL), Rep<int32_t>>);
  ref::check_binary<int32_t, int64_t>([](auto a, auto n) { return a << n; }, [](int32_t a, int64_t n) { return ref::shl(a, n); });
  ref::check_binary<int64_t, int32_t>([](auto a, auto n) { return a >> n; }, [](int64_t a, int32_t n) { return ref::shr(a, n); });
  auto s = kiln::stage("shl_mixed", [](Rep<int64_t> a, Rep<int32_t> n) { return a << n; });
  CHECK(kiln::test::check_lines(s.ir(kiln::test::unoptimised), {"%2 = cast %1 : i64", "shl %0, %2 : i64"}));
}

TEST_CASE("shifts are not defined on bool or floating Reps", "[stage][operators]") {
  static_assert(HasShl<int32_t, int32_t> && HasShl<int64_t, int32_t> && HasShl<int32_t, int64_t>);
  static_assert(!HasShl<bool, int32_t> && !HasShl<float, int32_t> && !HasShl<int32_t, double>);
}

TEST_CASE("shifts by literal counts and of literal values match C++", "[stage][operators]") {
  auto f = kiln::test::interp(kiln::stage("lit_shift", [](Rep<int32_t> a, Rep<int64_t> b) {
    return std::make_tuple(a << 3, a >> 31, 1 << (a & 15), b << 40, b >> 63, -1024 >> (a & 7));
  }));
  for (int32_t a : {0, 1, -1, 5, 0x12345678, std::numeric_limits<int32_t>::min()})
    for (int64_t b : {int64_t{1}, int64_t{-3}, std::numeric_limits<int64_t>::max()}) {
      CAPTURE(a, b);
      CHECK(f(a, b) == std::make_tuple(static_cast<int32_t>(a << 3), a >> 31, 1 << (a & 15), static_cast<int64_t>(b << 40), b >> 63,
                                       -1024 >> (a & 7)));
    }
}

TEST_CASE("shifts print as shl / shr", "[stage][operators][ir]") {
  auto s = kiln::stage("sh", [](Rep<int32_t> a, Rep<int32_t> n) { return std::make_tuple(a << n, a >> n); });
  CHECK(ref::count_lines(s.ir(kiln::test::unoptimised), "%[0-9]+ = shl %0, %1 : i32") == 1);
  CHECK(ref::count_lines(s.ir(kiln::test::unoptimised), "%[0-9]+ = shr %0, %1 : i32") == 1);
}

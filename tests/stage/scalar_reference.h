// Plain C++ references for the operator and conversion tests: value tables
// per scalar type, the C++ result of each operator (with the IR spec's rule
// where C++ leaves the case undefined), and a bit-exact comparison.
#pragma once

#include "support.h"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln::test::ref {

/// Hides a value from the optimiser so that std:: math runs in the same libm
/// the interpreter calls, instead of being folded at compile time.
template <class T>
T opaque(T x) {
  volatile T v = x;
  return v;
}

/// Interesting inputs of each scalar type: signs, zeros, extremes, and for
/// floats signed zeros, denormals, infinities and NaN.
template <class T>
std::vector<T> values();
template <>
inline std::vector<bool> values<bool>() { return {false, true}; }
template <>
inline std::vector<int32_t> values<int32_t>() {
  using L = std::numeric_limits<int32_t>;
  return {0, 1, -1, 2, -2, 3, 7, -7, 31, 32, 100, -100, 12345, -65536, 1 << 30, L::max(), L::max() - 1, L::min(), L::min() + 1};
}
template <>
inline std::vector<int64_t> values<int64_t>() {
  using L = std::numeric_limits<int64_t>;
  return {0, 1, -1, 2, -3, 7, -7, 63, 64, 1000003, (int64_t{1} << 40), -(int64_t{1} << 40) + 5,
          INT32_MAX, INT32_MIN, int64_t{INT32_MAX} + 1, (int64_t{1} << 53) + 1, L::max(), L::max() - 1, L::min(), L::min() + 1};
}
template <class F>
std::vector<F> float_values() {
  using L = std::numeric_limits<F>;
  return {F(0), -F(0), F(1), F(-1), F(0.5), F(-2.5), F(3), F(0.1), F(1) / F(3), F(100.25), F(-1e10), F(3e9),
          F(9.3e18), L::denorm_min(), -L::denorm_min() * F(3), L::min(), L::max(), -L::max(), L::infinity(),
          -L::infinity(), L::quiet_NaN()};
}
template <>
inline std::vector<float> values<float>() { return float_values<float>(); }
template <>
inline std::vector<double> values<double>() { return float_values<double>(); }

/// Equal values: bit-exact for floats (so -0.0 differs from +0.0), any NaN
/// equal to any NaN.
template <class T>
bool same(T got, T want) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
    if constexpr (sizeof(T) == 4) return std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want);
    else return std::bit_cast<uint64_t>(got) == std::bit_cast<uint64_t>(want);
  } else {
    return got == want;
  }
}

/// The IR's spelling of a scalar type.
template <class T>
std::string ir_name() {
  if constexpr (std::is_same_v<T, bool>) return "i1";
  else if constexpr (std::is_same_v<T, int32_t>) return "i32";
  else if constexpr (std::is_same_v<T, int64_t>) return "i64";
  else if constexpr (std::is_same_v<T, float>) return "f32";
  else return "f64";
}

// --- C++ results of the operators ---------------------------------------------
// Each takes plain operands, converts them as C++ does for the operator, and
// computes in the result type. Where C++ is undefined the IR spec (ir.h)
// decides, and the comment says which rule.

template <class A, class B>
using arith_t = decltype(std::declval<A>() + std::declval<B>());

// IR spec: integer + - * wrap (two's complement). Computed in the unsigned
// type, which C++ defines as modular, then converted back (modular in C++20).
template <class R>
R wrapping(R x, R y, char op) {
  using U = std::make_unsigned_t<R>;
  U ux = static_cast<U>(x), uy = static_cast<U>(y);
  U r = op == '+' ? U(ux + uy) : op == '-' ? U(ux - uy) : U(ux * uy);
  return static_cast<R>(r);
}

template <class A, class B>
arith_t<A, B> add(A a, B b) {
  using R = arith_t<A, B>;
  if constexpr (std::is_integral_v<R>) return wrapping<R>(a, b, '+');
  else return static_cast<R>(a) + static_cast<R>(b);
}
template <class A, class B>
arith_t<A, B> sub(A a, B b) {
  using R = arith_t<A, B>;
  if constexpr (std::is_integral_v<R>) return wrapping<R>(a, b, '-');
  else return static_cast<R>(a) - static_cast<R>(b);
}
template <class A, class B>
arith_t<A, B> mul(A a, B b) {
  using R = arith_t<A, B>;
  if constexpr (std::is_integral_v<R>) return wrapping<R>(a, b, '*');
  else return static_cast<R>(a) * static_cast<R>(b);
}
// IR spec: INT_MIN / -1 wraps to INT_MIN, INT_MIN % -1 is 0 (undefined in
// C++). Callers skip a zero integer divisor: that traps (integer_semantics.cpp).
template <class A, class B>
arith_t<A, B> div(A a, B b) {
  using R = arith_t<A, B>;
  R x = a, y = b;
  if constexpr (std::is_integral_v<R>)
    if (x == std::numeric_limits<R>::min() && y == -1) return x;
  return x / y;
}
template <class A, class B>
arith_t<A, B> rem(A a, B b) {
  using R = arith_t<A, B>;
  R x = a, y = b;
  if (x == std::numeric_limits<R>::min() && y == -1) return 0;
  return x % y;
}
template <class A>
arith_t<A, A> neg(A a) {
  using R = arith_t<A, A>;
  if constexpr (std::is_integral_v<R>) return wrapping<R>(0, a, '-');  // IR spec: -INT_MIN wraps to INT_MIN
  else return -a;
}
// IR spec: shift counts are taken modulo the bit width (C++: undefined when
// the count is negative or >= the width). The left operand's promoted type
// is the result, as in C++; within the width C++20 defines << and >>.
template <class A, class B>
arith_t<A, int> shl(A a, B b) {
  using R = arith_t<A, int>;
  constexpr int bits = sizeof(R) * 8;
  return static_cast<R>(static_cast<R>(a) << (static_cast<int64_t>(b) & (bits - 1)));
}
template <class A, class B>
arith_t<A, int> shr(A a, B b) {
  using R = arith_t<A, int>;
  constexpr int bits = sizeof(R) * 8;
  return static_cast<R>(static_cast<R>(a) >> (static_cast<int64_t>(b) & (bits - 1)));
}

// IR spec: float->int truncates toward zero and saturates, NaN becomes 0
// (C++ is undefined out of range). Every other conversion is C++'s
// static_cast: int->int is modular (C++20), to bool is != 0, int->float and
// double->float round to nearest (IEEE: overflow gives infinity).
template <class To, class From>
To cast(From x) {
  if constexpr (std::is_integral_v<To> && !std::is_same_v<To, bool> && std::is_floating_point_v<From>) {
    if (std::isnan(x)) return 0;
    const long double lx = x;
    if (lx <= static_cast<long double>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (lx >= static_cast<long double>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// --- type lists for TEMPLATE_LIST_TEST_CASE -------------------------------------

using Scalars = std::tuple<bool, int32_t, int64_t, float, double>;
using Numbers = std::tuple<int32_t, int64_t, float, double>;
using Integers = std::tuple<int32_t, int64_t>;
using Floats = std::tuple<float, double>;

template <class A, class... Bs>
using pairs_row = std::tuple<std::pair<A, Bs>...>;
template <class... As>
struct product {
  template <class... Bs>
  using with = decltype(std::tuple_cat(std::declval<pairs_row<As, Bs...>>()...));
};
/// Every ordered pair of scalar types, as std::pair<A, B>.
using ScalarPairs = product<bool, int32_t, int64_t, float, double>::with<bool, int32_t, int64_t, float, double>;

/// Stages f(Rep<A>, Rep<B>) with `staged_op`, runs it on the interpreter for
/// every pair of table values that `keep` accepts, and checks each result
/// against `plain_op` on the plain values. The result types must agree too.
template <class A, class B, class StagedOp, class PlainOp, class Keep>
void check_binary(StagedOp staged_op, PlainOp plain_op, Keep keep) {
  auto staged = kiln::stage("binary", [staged_op](kiln::Rep<A> a, kiln::Rep<B> b) { return staged_op(a, b); });
  auto f = kiln::test::interp(staged);
  for (A a : values<A>())
    for (B b : values<B>()) {
      if (!keep(a, b)) continue;
      auto want = plain_op(a, b);
      auto got = f(a, b);
      static_assert(std::is_same_v<decltype(got), decltype(want)>, "staged and plain result types differ");
      CAPTURE(a, b, got, want);
      CHECK(same(got, want));
    }
}
template <class A, class B, class StagedOp, class PlainOp>
void check_binary(StagedOp staged_op, PlainOp plain_op) {
  check_binary<A, B>(staged_op, plain_op, [](A, B) { return true; });
}

/// Like check_binary for a unary function of Rep<A>.
template <class A, class StagedOp, class PlainOp>
void check_unary(StagedOp staged_op, PlainOp plain_op) {
  auto staged = kiln::stage("unary", [staged_op](kiln::Rep<A> a) { return staged_op(a); });
  auto f = kiln::test::interp(staged);
  for (A a : values<A>()) {
    auto want = plain_op(a);
    auto got = f(a);
    static_assert(std::is_same_v<decltype(got), decltype(want)>, "staged and plain result types differ");
    CAPTURE(a, got, want);
    CHECK(same(got, want));
  }
}

using kiln::test::error_message;

/// Number of lines of `ir` that match the regular expression `line` (whole line, after indentation).
inline size_t count_lines(const std::string& ir, const std::string& line) {
  std::regex re("\\s*" + line);
  size_t n = 0, pos = 0;
  while (pos < ir.size()) {
    size_t end = ir.find('\n', pos);
    if (end == std::string::npos) end = ir.size();
    if (std::regex_match(ir.substr(pos, end - pos), re)) ++n;
    pos = end + 1;
  }
  return n;
}

/// "file.cpp:line" of this file, to find in error messages.
inline std::string at_line(const char* file, int line) {
  std::string f = file;
  return f.substr(f.find_last_of('/') + 1) + ":" + std::to_string(line);
}

/// False when a op b would divide an integer by zero (C++'s common type of A and B).
template <class A, class B>
bool nonzero_int_divisor(A, B b) {
  using R = arith_t<A, B>;
  return !std::is_integral_v<R> || static_cast<R>(b) != 0;
}

}  // namespace kiln::test::ref

// Constant folding and algebraic simplification: what folds, and the float
// identities that must not fold without fast-math.
#include <catch2/catch.hpp>

#include "pass_support.h"

#include <cmath>
#include <limits>

using kiln::Rep;
using kiln::test::check_lines;
using kiln::test::count;
using kiln::test::f32;
using kiln::test::f64;
using kiln::test::i64;
using kiln::test::run_pass;

namespace {
const kiln::Options fast{.fast_math = true};
// Folding leaves replaced values behind for dce; counting ops reads the
// result after both.
void fold_dce(kiln::ir::Module& m, const kiln::Options& o) {
  kiln::passes::fold(m, o);
  kiln::passes::dce(m, o);
}
}  // namespace

TEST_CASE("fold evaluates constant integer arithmetic with wrap-around", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<int64_t> x) {
    Rep<int64_t> a = 6;
    Rep<int32_t> big = std::numeric_limits<int32_t>::max();
    Rep<int32_t> wrapped = big + 1;  // wraps to INT32_MIN
    return std::tuple{x + a * 7 - 2, kiln::cast<int64_t>(wrapped)};
  });
  auto r = run_pass(f, fold_dce);
  CHECK(count(r.before_text, " = mul ") == 1);
  CHECK(count(r.after_text, " = mul ") == 0);
  INFO(r.after_text);
  CHECK(check_lines(r.after_text, {"const 40 : i64", "add %0, %1 : i64", "const -2147483648 : i64", "return"}));
  for (int64_t x : {0, -5, 1000}) kiln::test::check_same_results(r, {i64(x)});
}

TEST_CASE("fold leaves a division by constant zero to trap at run time", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<int64_t> x) {
    Rep<int64_t> zero = 0;
    Rep<int64_t> seven = 7;
    return x + seven / zero;
  });
  auto r = run_pass(f, fold_dce);
  CHECK(count(r.after_text, " = div ") == 1);
  CHECK_THROWS_AS(kiln::interp::run(r.after, {i64(1)}), kiln::RuntimeError);
}

TEST_CASE("fold applies exact integer identities", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<int64_t> x, Rep<int64_t> y) {
    return std::tuple{x * 1, 0 + x, x - x, x * 0, x / 1, x % 1, x & x, x | 0, x ^ x, x << 64, (x + 3) + 4,
                      x * -1, (y * 3) * 5};
  });
  auto r = run_pass(f, fold_dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = sub ") == 0);
  CHECK(count(r.after_text, " = div ") == 0);
  CHECK(count(r.after_text, " = rem ") == 0);
  CHECK(count(r.after_text, " = xor ") == 0);
  CHECK(count(r.after_text, " = shl ") == 0);
  CHECK(count(r.after_text, " = neg %0 : i64") == 1);
  CHECK(r.after_text.find("const 7 : i64") != std::string::npos);   // (x+3)+4 -> x+7
  CHECK(r.after_text.find("const 15 : i64") != std::string::npos);  // (y*3)*5 -> y*15
  CHECK(check_lines(r.after_text, {"return %0, %0, %2, %3, %0, %4, %0, %0, %5, %0, %7, %8, %10"}));
  for (int64_t x : {int64_t{0}, int64_t{-9}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()})
    kiln::test::check_same_results(r, {i64(x), i64(x ^ 0x5555)});
}

TEST_CASE("fold canonicalises a constant to the right of a commutative op", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<int64_t> x) { return 3 + x; });
  auto r = run_pass(f, fold_dce);
  CHECK(check_lines(r.after_text, {"%1 = const 3 : i64", "= add %0, %1 : i64"}));
}

TEST_CASE("fold keeps float identities that are not exact", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<float> x) {
    return std::tuple{x + 0.0f, x * 0.0f, x - x, x == x, x < x, (x + 1.0f) + 2.0f};
  });
  auto r = run_pass(f, fold_dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = add ") == 3);  // x+0, x+1, (x+1)+2
  CHECK(count(r.after_text, " = mul ") == 1);
  CHECK(count(r.after_text, " = sub ") == 1);
  CHECK(count(r.after_text, " = eq ") == 1);
  CHECK(count(r.after_text, " = lt ") == 1);
  for (float x : {-0.0f, 0.0f, 1.5f, std::numeric_limits<float>::infinity(), std::nanf("")})
    kiln::test::check_same_results(r, {f32(x)});
}

TEST_CASE("fold applies the exact float identities", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<double> x) {
    return std::tuple{x * 1.0, x / 1.0, x - 0.0, x + (-0.0), x * -1.0, -(-x), kiln::min(x, x)};
  });
  auto r = run_pass(f, fold_dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(count(r.after_text, " = div ") == 0);
  CHECK(count(r.after_text, " = sub ") == 0);
  CHECK(count(r.after_text, " = add ") == 0);
  CHECK(count(r.after_text, " = min ") == 0);
  CHECK(count(r.after_text, " = neg %0 : f64") == 1);
  for (double x : {-0.0, 0.0, -2.5, std::numeric_limits<double>::infinity(), std::nan("")})
    kiln::test::check_same_results(r, {f64(x)});
}

TEST_CASE("fold with fast_math applies the inexact float identities", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<float> x) { return std::tuple{x + 0.0f, x * 0.0f, x - x, (x + 1.0f) + 2.0f}; });
  auto r = run_pass(f, fold_dce, fast);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(count(r.after_text, " = sub ") == 0);
  CHECK(count(r.after_text, " = add ") == 1);
  CHECK(r.after_text.find("const 3.0 : f32") != std::string::npos);
}

TEST_CASE("fold evaluates casts, comparisons, selects and math on constants", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<double> x) {
    Rep<double> two = 2.0;
    Rep<double> nan = std::nan("");
    Rep<int32_t> sat = kiln::cast<int32_t>(Rep<double>(1e300));  // saturates
    Rep<bool> lt = two < 3.0;
    return std::tuple{kiln::select(lt, x, -x), kiln::sqrt(two), kiln::cast<int64_t>(nan), sat, nan == nan,
                      kiln::fma(two, two, two)};
  });
  auto r = run_pass(f, fold_dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = select ") == 0);
  CHECK(count(r.after_text, " = sqrt ") == 0);
  CHECK(count(r.after_text, " = cast ") == 0);
  CHECK(count(r.after_text, " = fma ") == 0);
  CHECK(r.after_text.find("const 2147483647 : i32") != std::string::npos);
  CHECK(r.after_text.find("const false : i1") != std::string::npos);  // NaN == NaN is false
  kiln::test::check_same_results(r, {f64(4.0)});
}

TEST_CASE("fold simplifies boolean logic and selects", "[passes][fold]") {
  auto f = kiln::stage("k", [](Rep<bool> b, Rep<int64_t> x, Rep<int64_t> y) {
    Rep<bool> t = true;
    Rep<bool> ff = false;
    return std::tuple{b && t, b || ff, !!b, b && b, b || b, kiln::select(b, t, ff), kiln::select(b, x, x),
                      kiln::select(b, ff, t), x == x, x < x, kiln::select(b, x, y)};
  });
  auto r = run_pass(f, fold_dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = select ") == 1);  // only the real one
  CHECK(count(r.after_text, " = and ") == 0);
  CHECK(count(r.after_text, " = or ") == 0);
  CHECK(count(r.after_text, " = eq ") == 0);
  for (int b : {0, 1}) kiln::test::check_same_results(r, {i64(b), i64(3), i64(-4)});
}

// Strength reduction of pow(x, integer constant): exact rewrites by
// default, the rest under fast-math.
#include <catch2/catch.hpp>

#include "pass_support.h"

#include <cmath>
#include <limits>

using kiln::Rep;
using kiln::test::count;
using kiln::test::f32;
using kiln::test::f64;
using kiln::test::run_pass;

namespace {
void reduce_dce(kiln::ir::Module& m, const kiln::Options& o) {
  kiln::passes::reduce_strength(m, o);
  kiln::passes::dce(m, o);
}
const double specials[] = {0.0, -0.0, 1.0, -1.0, 3.25, -7.5, 1e-310, 1e300,
                           std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                           std::nan("")};
}  // namespace

TEST_CASE("reduce_strength turns pow by 0 and 1 into exact values", "[passes][reduce_strength]") {
  auto f = kiln::stage("p", [](Rep<double> x) { return std::tuple{kiln::pow(x, 0.0), kiln::pow(x, 1.0)}; });
  auto r = run_pass(f, reduce_dce);
  INFO(r.after_text);
  CHECK(count(r.before_text, " = pow ") == 2);
  CHECK(count(r.after_text, " = pow ") == 0);
  CHECK(r.after_text.find("return %1, %0") != std::string::npos);
  for (double x : specials) kiln::test::check_same_results(r, {f64(x)});
}

TEST_CASE("pow(x, 2) is not x*x bit for bit, so it stays pow without fast-math", "[passes][reduce_strength]") {
  // glibc's pow is not correctly rounded: here pow gives ...51ab and the
  // correctly rounded x*x gives ...51ac. This is why the rewrite needs fast_math.
  // Through a volatile function pointer: GCC would otherwise fold pow(x, 2) into x*x.
  double (*volatile libm_pow)(double, double) = std::pow;
  volatile double vx = 0x1.6b78c96418a94p-2;
  const double x = vx;
  CHECK(libm_pow(x, 2.0) != x * x);
  auto f = kiln::stage("p", [](Rep<float> x, Rep<float> y) {
    return std::tuple{kiln::pow(x, 2.0f), kiln::pow(x, -1.0f), kiln::pow(x, 3.0f), kiln::pow(x, 0.5f),
                      kiln::pow(x, y), kiln::pow(x, 40.0f)};
  });
  auto r = run_pass(f, reduce_dce);
  CHECK(count(r.after_text, " = pow ") == 6);
  CHECK(count(r.after_text, " = mul ") == 0);
}

TEST_CASE("reduce_strength with fast-math uses repeated squaring up to 16", "[passes][reduce_strength]") {
  auto f = kiln::stage("p", [](Rep<double> x) {
    return std::tuple{kiln::pow(x, 3.0), kiln::pow(x, 8.0), kiln::pow(x, -4.0), kiln::pow(x, 17.0)};
  });
  auto r = run_pass(f, reduce_dce, {.fast_math = true});
  INFO(r.after_text);
  CHECK(count(r.after_text, " = pow ") == 1);  // 17 stays
  // x^3: x*x, then *x (2); x^8: three squarings (3); x^-4: two squarings and one div.
  CHECK(count(r.after_text, " = mul ") == 2 + 3 + 2);
  CHECK(count(r.after_text, " = div ") == 1);
  for (double x : {0.5, -1.25, 2.0, 3.0}) {
    auto a = kiln::interp::run(r.before, {f64(x)});
    auto b = kiln::interp::run(r.after, {f64(x)});
    for (size_t i = 0; i < a.size(); ++i) CHECK(b[i].f64 == Approx(a[i].f64).epsilon(1e-14));
  }
}

TEST_CASE("reduce_strength works on f32 and inside loops", "[passes][reduce_strength]") {
  auto f = kiln::stage("p", [](Rep<float> x, Rep<int64_t> n) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, n, [&](Rep<int64_t> i) { acc += kiln::pow(x + kiln::cast<float>(i), 1.0f); });
    return acc;
  });
  auto r = run_pass(f, reduce_dce);
  CHECK(count(r.after_text, " = pow ") == 0);
  for (float x : {0.1f, -3.0f, 1e20f}) kiln::test::check_same_results(r, {f32(x), kiln::test::i64(5)});
  auto fast = run_pass(f, reduce_dce, {.fast_math = true});
  CHECK(count(fast.after_text, " = pow ") == 0);
}

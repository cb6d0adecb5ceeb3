// inline_calls: small helpers and helpers called once are inlined and
// removed; big helpers called twice and recursive functions are not.
#include <catch2/catch.hpp>

#include "pass_support.h"

#include "codegen/passes/rewrite.h"

#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::Arg;
using kiln::test::between;
using kiln::test::count;
using kiln::test::f64;
using kiln::test::has_lines;
using kiln::test::i64;

namespace {
/// A helper of well over inline_threshold nodes: a staging-time C++ loop
/// unrolls a polynomial.
kiln::Staged<int64_t(int64_t)> big_helper(const char* name) {
  return kiln::stage(name, [](Rep<int64_t> x) {
    Rep<int64_t> acc = x;
    for (int k = 0; k < 30; ++k) acc = acc * x + (k + 2);
    return acc;
  });
}

int64_t big_plain(int64_t x) {
  uint64_t acc = static_cast<uint64_t>(x);
  for (int k = 0; k < 30; ++k) acc = acc * static_cast<uint64_t>(x) + static_cast<uint64_t>(k + 2);
  return static_cast<int64_t>(acc);
}

const kiln::ir::Function* function_named(const kiln::ir::Module& m, const std::string& name) {
  for (const auto& f : m.functions)
    if (f.name == name) return &f;
  return nullptr;
}
}  // namespace

TEST_CASE("inline_calls inlines a small helper at both call sites and drops it", "[passes][inline_calls]") {
  auto sq = kiln::stage("sq", [](Rep<double> x) { return x * x; });
  auto f = kiln::stage("hyp2", [&](Rep<double> a, Rep<double> b) { return sq(a) + sq(b); });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(count(r.before_text, "call @sq(") == 2);
  CHECK(count(r.before_text, "func @sq(") == 1);
  CHECK(count(r.after_text, "call ") == 0);
  CHECK(count(r.after_text, "func @") == 1);
  CHECK(r.after.functions.size() == 1);
  CHECK(count(r.after_text, " = mul ") == 2);
  CHECK(has_lines(r.after_text, {"mul %1, %1", "mul %0, %0", "add "}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto [a, b] : {std::pair<double, double>{3.0, 4.0}, {0.0, -0.0}, {-2.0, nan}, {1e200, 1.0}})
    kiln::test::check_same_results(r, {f64(a), f64(b)});
}

TEST_CASE("inline_calls inlines a helper called in a loop and an if_", "[passes][inline_calls]") {
  auto step = kiln::stage("step", [](Rep<int64_t> s, Rep<int64_t> i) { return s * 3 + i; });
  auto f = kiln::stage("calls_in_regions", [&](Rep<int64_t> n) {
    Rep<int64_t> s = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s = step(s, i); });
    kiln::if_(s < 0, [&] { s = step(s, n); });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(count(r.before_text, "call @step(") == 2);
  CHECK(count(r.after_text, "call ") == 0);
  CHECK(count(r.after_text, "func @step(") == 0);
  CHECK(has_lines(r.after_text, {"for ", " = mul ", " = add ", "yield ", "if ", " = mul ", " = add ", "} else {"}));
  for (int64_t n : {-1, 0, 1, 5, 50}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("inline_calls keeps calls to a big helper called twice", "[passes][inline_calls]") {
  auto big = big_helper("big");
  auto f = kiln::stage("big_twice", [&](Rep<int64_t> a, Rep<int64_t> b) { return big(a) - big(b); });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  const kiln::ir::Function* callee = function_named(r.before, "big");
  REQUIRE(callee != nullptr);
  CHECK(kiln::passes::node_count(*callee) > kiln::passes::inline_threshold);
  CHECK(r.after_text == r.before_text);
  CHECK(count(r.after_text, "call @big(") == 2);
  CHECK(count(r.after_text, "func @big(") == 1);
  for (auto [a, b] : {std::pair<int64_t, int64_t>{0, 1}, {-3, 2}, {INT64_MIN, INT64_MAX}}) {
    kiln::test::check_same_results(r, {i64(a), i64(b)});
    CHECK(kiln::test::interp(f)(a, b) == static_cast<int64_t>(static_cast<uint64_t>(big_plain(a)) - static_cast<uint64_t>(big_plain(b))));
  }
}

TEST_CASE("inline_calls inlines a big helper called once", "[passes][inline_calls]") {
  auto big = big_helper("big_once");
  auto f = kiln::stage("big_single_site", [&](Rep<int64_t> a) { return big(a) + 1; });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  const kiln::ir::Function* callee = function_named(r.before, "big_once");
  REQUIRE(callee != nullptr);
  CHECK(kiln::passes::node_count(*callee) > kiln::passes::inline_threshold);
  CHECK(count(r.after_text, "call ") == 0);
  CHECK(count(r.after_text, "func @") == 1);
  CHECK(count(r.after_text, " = mul ") == 30);
  for (int64_t a : {int64_t{0}, int64_t{-1}, int64_t{7}, INT64_MIN}) kiln::test::check_same_results(r, {i64(a)});
}

TEST_CASE("inline_calls never inlines a recursive function", "[passes][inline_calls]") {
  kiln::Staged<int64_t(int64_t)> fib;
  fib = kiln::stage("fib", [&](Rep<int64_t> n) {
    return kiln::cond(n < 2, [&] { return n; }, [&] { return fib(n - 1) + fib(n - 2); });
  });
  auto f = kiln::stage("fib_plus_one", [&](Rep<int64_t> n) { return fib(n) + 1; });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(r.after_text == r.before_text);
  // Neither into its caller nor into itself.
  CHECK(count(between(r.after_text, "func @fib_plus_one(", "func @fib("), "call @fib(") == 1);
  CHECK(count(between(r.after_text, "func @fib(", "\n}\n"), "call @fib(") == 2);
  for (int64_t n : {-3, 0, 1, 2, 12}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("inline_calls never inlines mutually recursive functions", "[passes][inline_calls]") {
  kiln::Staged<bool(int64_t)> is_even, is_odd;
  is_even = kiln::stage("is_even", [&](Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<bool>(true); }, [&] { return is_odd(n - 1); });
  });
  is_odd = kiln::stage("is_odd", [&](Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<bool>(false); }, [&] { return is_even(n - 1); });
  });
  auto f = kiln::stage("parity", [&](Rep<int64_t> n) { return kiln::cast<int64_t>(is_even(n)) * 10 + n; });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(r.after_text == r.before_text);
  CHECK(r.after.functions.size() == 3);
  CHECK(count(r.after_text, "call @is_even(") == 2);
  CHECK(count(r.after_text, "call @is_odd(") == 1);
  for (int64_t n : {0, 1, 6, 11}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("inline_calls inlines a helper around a recursive call and keeps the call", "[passes][inline_calls]") {
  kiln::Staged<int64_t(int64_t)> count_down;
  count_down = kiln::stage("count_down", [&](Rep<int64_t> n) {
    return kiln::cond(n <= 0, [&] { return Rep<int64_t>(0); }, [&] { return count_down(n - 1) + 2; });
  });
  auto wrap = kiln::stage("wrap", [&](Rep<int64_t> n) { return count_down(n * 2) * 3; });
  auto f = kiln::stage("outer", [&](Rep<int64_t> n) { return wrap(n) + wrap(n + 1); });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(count(r.after_text, "func @wrap(") == 0);
  CHECK(count(r.after_text, "func @count_down(") == 1);
  CHECK(count(between(r.after_text, "func @outer(", "func @count_down("), "call @count_down(") == 2);
  for (int64_t n : {-2, 0, 3, 20}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("inline_calls inlines a chain of helpers completely", "[passes][inline_calls]") {
  auto h = kiln::stage("h", [](Rep<int64_t> x) { return x * x; });
  auto g = kiln::stage("g", [&](Rep<int64_t> x) { return h(x + 1) - h(x); });
  auto f2 = kiln::stage("f", [&](Rep<int64_t> x) { return g(x) * g(x + 5); });
  auto f = kiln::stage("chain", [&](Rep<int64_t> x) { return f2(x) + 1; });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(r.before.functions.size() == 4);
  CHECK(r.after.functions.size() == 1);
  CHECK(count(r.after_text, "call ") == 0);
  CHECK(count(r.after_text, " = mul ") == 4 + 1);
  for (int64_t x : {int64_t{-6}, int64_t{0}, int64_t{4}, INT64_MAX}) kiln::test::check_same_results(r, {i64(x)});
}

TEST_CASE("inline_calls maps each result of a multi-result helper", "[passes][inline_calls]") {
  auto divmod = kiln::stage("divmod", [](Rep<int64_t> a, Rep<int64_t> b) {
    return std::make_tuple(a / b, a % b, a);
  });
  auto f = kiln::stage("swapped", [&](Rep<int64_t> a, Rep<int64_t> b) {
    auto [q, r, same] = divmod(a, b);
    return std::make_tuple(r, q - same, same);
  });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(count(r.before_text, "get ") == 3);
  CHECK(count(r.after_text, "call ") == 0);
  CHECK(count(r.after_text, "get ") == 0);
  CHECK(has_lines(r.after_text, {" = rem %0, %1", "return "}));
  // The third result is the helper's parameter a, i.e. the caller's %0.
  std::string ret = between(r.after_text, "return ", "\n");
  CHECK(ret.substr(ret.size() - 4) == ", %0");
  CHECK(has_lines(r.after_text, {" = div %0, %1", " = sub ", "return "}));
  for (auto [a, b] : {std::pair<int64_t, int64_t>{17, 5}, {-17, 5}, {17, -5}, {INT64_MIN, -1}, {3, 0}})
    kiln::test::check_same_behaviour(r, {i64(a), i64(b)});
}

TEST_CASE("inline_calls inlines a helper that writes a buffer", "[passes][inline_calls]") {
  auto put = kiln::stage("put", [](Arr<float> x, Rep<int64_t> i, Rep<float> v) { x[i] = v * 2.0f; });
  auto f = kiln::stage("put_twice", [&](Arr<float> x, Rep<float> v) {
    put(x, 0, v);
    put(x, 1, -v);
  });
  auto r = kiln::test::run_pass(f, kiln::passes::inline_calls);
  CHECK(count(r.after_text, "call ") == 0);
  CHECK(has_lines(r.after_text, {"store %0[", "store %0["}));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float v : {0.0f, -0.0f, 1.5f, nan})
    for (size_t size : {1, 2}) kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<float>(size, 5.0f)), kiln::test::f32(v)});
}

TEST_CASE("inline_calls can be switched off through Options::passes", "[passes][inline_calls]") {
  auto sq = kiln::stage("sq_switch", [](Rep<int64_t> x) { return x * x; });
  auto f = kiln::stage("switch_inline_calls", [&](Rep<int64_t> a, Rep<int64_t> b) { return sq(a) - sq(b); });
  kiln::Options off;
  off.passes.inline_calls = false;
  CHECK(count(f.ir(off), "call @sq_switch(") == 2);
  CHECK(count(f.ir(off), "func @sq_switch(") == 1);
  CHECK(count(f.ir(), "call ") == 0);
  CHECK(count(f.ir(), "func @") == 1);
  auto plain = kiln::compile(f, off);
  auto optimised = kiln::compile(f);
  for (int64_t a : {-3, 0, 9}) CHECK(plain(a, 4) == optimised(a, 4));
}

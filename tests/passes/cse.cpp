// cse: duplicate pure values and loads merged where one is in scope, and
// never across sibling regions or across a write.
#include <catch2/catch.hpp>

#include "pass_support.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::Arg;
using kiln::test::count;
using kiln::test::f64;
using kiln::test::has_lines;
using kiln::test::i64;

TEST_CASE("cse reuses a value computed before an if_ inside both branches", "[passes][cse]") {
  auto f = kiln::stage("outer_product", [](Rep<int64_t> a, Rep<int64_t> b) {
    Rep<int64_t> x = a * b;
    Rep<int64_t> y = kiln::cond(a > 0, [&] { return a * b + 1; }, [&] { return a * b - 1; });
    return x + y;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  // Staging cannot see the outer a * b from inside a branch.
  CHECK(count(r.before_text, " = mul ") == 3);
  CHECK(count(r.after_text, " = mul ") == 1);
  CHECK(has_lines(r.after_text, {"%2 = mul %0, %1", "if ", "add %2, ", "} else {", "sub %2, ", "add %2, "}));
  for (auto [a, b] : {std::pair<int64_t, int64_t>{3, 4}, {0, 5}, {-7, 2}, {INT64_MIN, -1}})
    kiln::test::check_same_results(r, {i64(a), i64(b)});
}

TEST_CASE("cse merges duplicate values that inlining left in one region", "[passes][cse]") {
  // Staging hash-conses within a region; inlining a helper twice does not.
  auto scaled = kiln::stage("scaled", [](Rep<int64_t> a, Rep<int64_t> d) { return a * a / d; });
  auto f = kiln::stage("inlined_twice", [&](Rep<int64_t> a, Rep<int64_t> d) { return scaled(a, d) - scaled(a, d); });
  kiln::ir::Module m = f.module(kiln::test::unoptimised);
  kiln::passes::inline_calls(m, {});
  auto r = kiln::test::run_pass_on(m, kiln::passes::cse);
  CHECK(count(r.before_text, " = mul ") == 2);
  CHECK(count(r.before_text, " = div ") == 2);
  CHECK(count(r.after_text, " = mul ") == 1);
  // Both divisions ran in the original: one of them may trap in their place.
  CHECK(count(r.after_text, " = div ") == 1);
  CHECK(has_lines(r.after_text, {"%2 = mul %0, %0", "%3 = div %2, %1", "sub %3, %3", "return "}));
  for (auto [a, d] : {std::pair<int64_t, int64_t>{5, 2}, {5, 0}, {INT64_MIN, -1}, {-3, 7}})
    kiln::test::check_same_behaviour(r, {i64(a), i64(d)});
}

TEST_CASE("cse does not reuse a value from a sibling branch", "[passes][cse]") {
  auto f = kiln::stage("siblings", [](Rep<double> a, Rep<double> b) {
    return kiln::cond(a > b, [&] { return kiln::sqrt(a * b); }, [&] { return kiln::sqrt(a * b) + 1.0; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.before_text, " = mul ") == 2);
  CHECK(count(r.after_text, " = mul ") == 2);
  CHECK(count(r.after_text, " = sqrt ") == 2);
  CHECK(r.after_text == r.before_text);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto [a, b] : {std::pair<double, double>{2.0, 8.0}, {8.0, 2.0}, {0.0, -0.0}, {-1.0, 3.0}, {nan, 1.0}})
    kiln::test::check_same_results(r, {f64(a), f64(b)});
}

TEST_CASE("cse does not reuse a branch's value after the if_", "[passes][cse]") {
  auto f = kiln::stage("branch_then_parent", [](Rep<int64_t> a, Rep<int64_t> b) {
    Rep<int64_t> y = kiln::cond(a > 0, [&] { return a * b; }, [&] { return b; });
    return y + a * b;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.after_text, " = mul ") == 2);
  // The multiplication after the if is the parent region's own.
  CHECK(has_lines(r.after_text, {"if ", " = mul ", "} else {", "get ", " = mul ", " = add "}));
  for (int64_t a : {-2, 0, 3}) kiln::test::check_same_results(r, {i64(a), i64(5)});
}

TEST_CASE("cse reuses a value computed before a for_ inside its body", "[passes][cse]") {
  auto f = kiln::stage("outer_in_loop", [](Rep<int64_t> a, Rep<int64_t> n) {
    Rep<int64_t> scale = a * a;
    Rep<int64_t> s = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s += a * a + i; });
    return s + scale;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.before_text, " = mul ") == 2);
  CHECK(count(r.after_text, " = mul ") == 1);
  CHECK(has_lines(r.after_text, {"%2 = mul %0, %0", "for ", "add %2, "}));
  for (int64_t n : {-1, 0, 1, 6}) kiln::test::check_same_results(r, {i64(-3), i64(n)});
}

TEST_CASE("cse merges two loads of an element with no store between", "[passes][cse]") {
  auto f = kiln::stage("load_twice", [](Arr<const int64_t> x, Rep<int64_t> i) {
    Rep<int64_t> a = x[i];
    Rep<int64_t> b = x[i];
    return a * b;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.before_text, " = load ") == 2);
  CHECK(count(r.after_text, " = load ") == 1);
  CHECK(has_lines(r.after_text, {"%2 = load %0[%1]", "mul %2, %2"}));
  const std::vector<int64_t> x = {5, -6, 0};
  for (int64_t i : {0, 1, 2, 3, -1}) kiln::test::check_same_behaviour(r, {Arg::buffer(x), i64(i)});
}

TEST_CASE("cse keeps a load that follows a store to the same buffer", "[passes][cse]") {
  // The store's index may equal the load's at run time.
  auto f = kiln::stage("load_store_load", [](Arr<int64_t> x, Rep<int64_t> i, Rep<int64_t> j) {
    Rep<int64_t> a = x[i];
    x[j] = a + 10;
    Rep<int64_t> b = x[i];
    return a * 100 + b;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.after_text, " = load ") == 2);
  CHECK(has_lines(r.after_text, {" = load %0[%1]", "store %0[%2]", " = load %0[%1]"}));
  const std::vector<int64_t> x = {1, 2, 3};
  for (auto [i, j] : {std::pair<int64_t, int64_t>{0, 0}, {0, 1}, {2, 2}, {1, 3}})
    kiln::test::check_same_behaviour(r, {Arg::buffer(x), i64(i), i64(j)});
}

TEST_CASE("cse keeps a load that follows a store to another buffer", "[passes][cse]") {
  // x and y may be the same memory.
  auto f = kiln::stage("maybe_alias", [](Arr<int64_t> x, Arr<int64_t> y, Rep<int64_t> i) {
    Rep<int64_t> a = x[i];
    y[i] = 7;
    return a + x[i];
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.after_text, " = load ") == 2);
  CHECK(has_lines(r.after_text, {" = load %0[%2]", "store %1[%2]", " = load %0[%2]"}));
  kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{1, 2}), Arg::buffer(std::vector<int64_t>{3, 4}), i64(1)});
}

TEST_CASE("cse forwards a stored value to the next load of the same element", "[passes][cse]") {
  auto f = kiln::stage("store_then_load", [](Arr<double> x, Rep<int64_t> i, Rep<double> v) {
    x[i] = v * 2.0;
    return x[i] + 1.0;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.before_text, " = load ") == 1);
  CHECK(count(r.after_text, " = load ") == 0);
  CHECK(has_lines(r.after_text, {"%4 = mul %2, %3", "store %0[%1], %4", "add %4, "}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> x = {0.5, -0.0, 3.0};
  for (double v : {0.0, -0.0, -2.5, nan, std::numeric_limits<double>::infinity()})
    for (int64_t i : {0, 2, 3}) kiln::test::check_same_behaviour(r, {Arg::buffer(x), i64(i), f64(v)});
}

TEST_CASE("cse does not merge loads across a call that writes memory", "[passes][cse]") {
  auto bump = kiln::stage("bump", [](Arr<int64_t> x) { x[0] = x[0] + 1; });
  auto f = kiln::stage("load_call_load", [&](Arr<int64_t> x) {
    Rep<int64_t> a = x[0];
    bump(x);
    return a * 10 + x[0];
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  std::string entry = kiln::test::between(r.after_text, "func @load_call_load", "func @bump");
  CHECK(count(entry, " = load ") == 2);
  CHECK(has_lines(entry, {" = load ", "call @bump(", " = load "}));
  kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{4})});
}

TEST_CASE("cse merges loads across a call that writes no memory", "[passes][cse]") {
  auto peek = kiln::stage("peek", [](Arr<const int64_t> x) { return x[0] * 3; });
  auto f = kiln::stage("load_peek_load", [&](Arr<const int64_t> x) {
    Rep<int64_t> a = x[0];
    Rep<int64_t> p = peek(x);
    return a * 10 + x[0] + p;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  std::string entry = kiln::test::between(r.after_text, "func @load_peek_load", "func @peek");
  CHECK(count(entry, " = load ") == 1);
  CHECK(has_lines(entry, {" = load ", "call @peek("}));
  kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{-4})});
}

TEST_CASE("cse does not merge a guarded div with one in another if_", "[passes][cse]") {
  // Each a / d runs only where d != 0; reusing the first if's value in the
  // second would need it computed outside both.
  auto f = kiln::stage("guarded_divs", [](Rep<int64_t> a, Rep<int64_t> d) {
    Rep<int64_t> q = kiln::cond(d != 0, [&] { return a / d; }, [&] { return Rep<int64_t>(0); });
    Rep<int64_t> r = kiln::cond(d > 0, [&] { return a / d + 1; }, [&] { return Rep<int64_t>(-1); });
    return q * 1000 + r;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.after_text, " = div ") == 2);
  CHECK(has_lines(r.after_text, {"if ", " = div %0, %1", "} else {", "if ", " = div %0, %1", "} else {"}));
  for (auto [a, d] : {std::pair<int64_t, int64_t>{17, 5}, {17, 0}, {-17, -5}, {INT64_MIN, -1}, {0, 0}})
    kiln::test::check_same_behaviour(r, {i64(a), i64(d)});
}

TEST_CASE("cse does not merge divs of the two branches of one if_", "[passes][cse]") {
  auto f = kiln::stage("branch_divs", [](Rep<int64_t> a, Rep<int64_t> d, Rep<bool> c) {
    return kiln::cond(c, [&] { return a / d; }, [&] { return a / d * 2; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::cse);
  CHECK(count(r.after_text, " = div ") == 2);
  CHECK(has_lines(r.after_text, {"if ", " = div ", "} else {", " = div "}));
  for (int64_t d : {3, 0, -1})
    for (int64_t c : {0, 1}) kiln::test::check_same_behaviour(r, {i64(INT64_MIN), i64(d), i64(c)});
}

TEST_CASE("cse can be switched off through Options::passes", "[passes][cse]") {
  auto f = kiln::stage("switch_cse", [](Rep<int64_t> a, Rep<int64_t> b) {
    Rep<int64_t> x = a * b;
    Rep<int64_t> y = kiln::cond(a > b, [&] { return a * b + a; }, [&] { return a * b - b; });
    return x ^ y;
  });
  kiln::Options off;
  off.passes.cse = false;
  CHECK(count(f.ir(off), " = mul ") == 3);
  CHECK(count(f.ir(), " = mul ") == 1);
  auto plain = kiln::compile(f, off);
  auto optimised = kiln::compile(f);
  for (auto [a, b] : {std::pair<int64_t, int64_t>{3, 4}, {4, 3}, {0, 0}, {-5, 2}})
    CHECK(plain(a, b) == optimised(a, b));
}

// licm: invariant pure values move in front of their loop; values that
// vary, may trap, or read memory the loop may change stay inside.
#include <catch2/catch.hpp>

#include "pass_support.h"

#include <cstdint>
#include <limits>
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
/// The text in front of the first loop of kind `loop` ("for ", "while ", ...).
std::string before_loop(const std::string& text, const std::string& loop) { return text.substr(0, text.find(loop)); }
/// The text of that loop and what follows it.
std::string loop_onwards(const std::string& text, const std::string& loop) {
  size_t at = text.find(loop);
  return at == std::string::npos ? "" : text.substr(at);
}
}  // namespace

TEST_CASE("licm hoists invariant arithmetic out of a for_", "[passes][licm]") {
  auto f = kiln::stage("hoist_mul", [](Rep<int64_t> a, Rep<int64_t> n) {
    Rep<int64_t> s = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s += a * 3 + i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.before_text, "for "), " = mul ") == 1);
  CHECK(count(before_loop(r.after_text, "for "), " = mul %0, ") == 1);
  CHECK(count(loop_onwards(r.after_text, "for "), " = mul ") == 0);
  // What depends on i and on the carried s stays.
  CHECK(count(loop_onwards(r.after_text, "for "), " = add ") == 2);
  for (int64_t n : {-4, 0, 1, 9})
    for (int64_t a : {int64_t{0}, int64_t{-7}, INT64_MAX}) kiln::test::check_same_results(r, {i64(a), i64(n)});
}

TEST_CASE("licm hoists a value invariant in two nested loops out of both", "[passes][licm]") {
  auto f = kiln::stage("hoist_twice", [](Rep<double> a, Rep<double> b, Rep<int64_t> n) {
    Rep<double> s = 0.0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      kiln::for_(0, n, [&](Rep<int64_t> j) { s = s + a * b + kiln::cast<double>(i * j); });
    });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(before_loop(r.after_text, "for "), " = mul %0, %1 : f64") == 1);
  // i * j depends on both induction variables: it stays in the inner loop.
  CHECK(has_lines(r.after_text, {"for ", "for ", " = mul ", " = cast "}));
  CHECK(count(loop_onwards(r.after_text, "for "), " = mul ") == 1);
  CHECK(count(r.after_text, " = mul ") == 2);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t n : {0, 1, 4})
    for (double a : {0.0, -0.0, 1.5, nan}) kiln::test::check_same_results(r, {f64(a), f64(-2.0), i64(n)});
}

TEST_CASE("licm keeps values that depend on the induction variable or a carried value", "[passes][licm]") {
  auto f = kiln::stage("variant", [](Rep<int64_t> n) {
    Rep<int64_t> s = 1;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s = s * 3 + i * i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  std::string loop = loop_onwards(r.after_text, "for ");
  CHECK(count(loop, " = mul ") == 2);
  CHECK(count(loop, " = add ") == 1);
  CHECK(count(before_loop(r.after_text, "for "), " = mul ") == 0);
  // Only the constant 3 may leave the body.
  CHECK(count(before_loop(r.after_text, "for "), "const 3 : i64") == 1);
  for (int64_t n : {-1, 0, 1, 5, 40}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("licm keeps an integer div by a runtime divisor inside the loop", "[passes][licm]") {
  // The loop may run zero times with d == 0: hoisting would trap.
  auto f = kiln::stage("div_stays", [](Rep<int64_t> a, Rep<int64_t> d, Rep<int64_t> n) {
    Rep<int64_t> s = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s += a / d + i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.after_text, "for "), " = div %0, %1") == 1);
  CHECK(count(before_loop(r.after_text, "for "), " = div ") == 0);
  for (auto [d, n] : {std::pair<int64_t, int64_t>{0, 0}, {0, 3}, {3, 4}, {-1, 2}})
    kiln::test::check_same_behaviour(r, {i64(INT64_MIN), i64(d), i64(n)});
}

TEST_CASE("licm hoists an integer div and rem by a nonzero constant", "[passes][licm]") {
  auto f = kiln::stage("div_moves", [](Rep<int32_t> a, Rep<int32_t> n) {
    Rep<int32_t> s = 0;
    kiln::for_(0, n, [&](Rep<int32_t> i) { s += a / 7 + a % -1 + i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  std::string front = before_loop(r.after_text, "for ");
  CHECK(count(front, " = div %0, ") == 1);
  CHECK(count(front, " = rem %0, ") == 1);
  CHECK(count(loop_onwards(r.after_text, "for "), " = div ") == 0);
  CHECK(count(loop_onwards(r.after_text, "for "), " = rem ") == 0);
  for (int64_t a : {0, -22, INT32_MIN, INT32_MAX})
    for (int64_t n : {0, 3}) kiln::test::check_same_behaviour(r, {i64(a), i64(n)});
}

TEST_CASE("licm hoists a float div by a runtime divisor", "[passes][licm]") {
  // Float division never traps.
  auto f = kiln::stage("fdiv_moves", [](Rep<double> a, Rep<double> d, Rep<int64_t> n) {
    Rep<double> s = 0.0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s = s + a / d * kiln::cast<double>(i); });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(before_loop(r.after_text, "for "), " = div %0, %1 : f64") == 1);
  CHECK(count(loop_onwards(r.after_text, "for "), " = div ") == 0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double d : {0.0, -0.0, 2.0, nan})
    for (int64_t n : {0, 3}) kiln::test::check_same_results(r, {f64(1.0), f64(d), i64(n)});
}

TEST_CASE("licm hoists a load out of a for_ that surely runs and stores nothing", "[passes][licm]") {
  auto f = kiln::stage("load_moves", [](Arr<const int64_t> x, Rep<int64_t> k) {
    Rep<int64_t> s = 0;
    kiln::for_(0, 4, [&](Rep<int64_t> i) { s += x[k] * i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.before_text, "for "), " = load ") == 1);
  CHECK(has_lines(before_loop(r.after_text, "for "), {" = load %0[%1]"}));
  CHECK(count(loop_onwards(r.after_text, "for "), " = load ") == 0);
  const std::vector<int64_t> x = {3, -1, 0};
  for (int64_t k : {0, 1, 2, 3}) kiln::test::check_same_behaviour(r, {Arg::buffer(x), i64(k)});
}

TEST_CASE("licm keeps a load in a for_ that stores to another buffer", "[passes][licm]") {
  // y may be x: each iteration may change what x[k] reads.
  auto f = kiln::stage("load_stays_store", [](Arr<const int64_t> x, Arr<int64_t> y, Rep<int64_t> k) {
    kiln::for_(0, 4, [&](Rep<int64_t> i) { y[i] = x[k] + i; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.after_text, "for "), " = load %0[%2]") == 1);
  CHECK(count(before_loop(r.after_text, "for "), " = load ") == 0);
  CHECK(has_lines(r.after_text, {"for ", " = load ", "store %1["}));
  for (int64_t k : {0, 2, 5})
    kiln::test::check_same_behaviour(
        r, {Arg::buffer(std::vector<int64_t>{1, 2, 3}), Arg::buffer(std::vector<int64_t>(4, 0)), i64(k)});
}

TEST_CASE("licm keeps a load in a for_ with runtime bounds", "[passes][licm]") {
  // With n <= 0 the load never runs: hoisted, an out-of-bounds k would trap.
  auto f = kiln::stage("load_stays_bounds", [](Arr<const int64_t> x, Rep<int64_t> k, Rep<int64_t> n) {
    Rep<int64_t> s = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s += x[k] + i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.after_text, "for "), " = load ") == 1);
  CHECK(count(before_loop(r.after_text, "for "), " = load ") == 0);
  const std::vector<int64_t> x = {4, 5};
  for (auto [k, n] : {std::pair<int64_t, int64_t>{1, 3}, {7, 0}, {7, -2}, {-1, 1}})
    kiln::test::check_same_behaviour(r, {Arg::buffer(x), i64(k), i64(n)});
}

TEST_CASE("licm keeps a load in a for_ with a constant zero trip count", "[passes][licm]") {
  auto f = kiln::stage("load_stays_empty", [](Arr<const int64_t> x, Rep<int64_t> k) {
    Rep<int64_t> s = 0;
    kiln::for_(3, 3, [&](Rep<int64_t> i) { s += x[k] + i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.after_text, "for "), " = load ") == 1);
  CHECK(count(before_loop(r.after_text, "for "), " = load ") == 0);
  for (int64_t k : {0, 9}) kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{1}), i64(k)});
}

TEST_CASE("licm hoists pure values out of a while_ condition and body", "[passes][licm]") {
  auto f = kiln::stage("while_hoist", [](Rep<int64_t> a, Rep<int64_t> b, Rep<int64_t> c) {
    Rep<int64_t> i = 0, steps = 0;
    kiln::while_([&] { return i < a * b; }, [&] {
      i += c * c + 1;
      steps += 1;
    });
    return steps;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.before_text, "while "), " = mul ") == 2);
  std::string front = before_loop(r.after_text, "while ");
  CHECK(count(front, " = mul %0, %1") == 1);
  CHECK(count(front, " = mul %2, %2") == 1);
  CHECK(count(loop_onwards(r.after_text, "while "), " = mul ") == 0);
  // The comparison reads the carried i and stays.
  CHECK(count(loop_onwards(r.after_text, "while "), " = lt ") == 1);
  for (auto [a, c] : {std::pair<int64_t, int64_t>{0, 0}, {3, 1}, {5, 2}, {-2, 1}})
    kiln::test::check_same_results(r, {i64(a), i64(4), i64(c)});
}

TEST_CASE("licm hoists a load out of a while_ condition when the loop stores nothing", "[passes][licm]") {
  // The condition runs at least once, so the load ran in the original too.
  auto f = kiln::stage("while_load", [](Arr<const int64_t> x) {
    Rep<int64_t> i = 0;
    kiln::while_([&] { return i < x[0]; }, [&] { i += 2; });
    return i;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(before_loop(r.after_text, "while "), " = load ") == 1);
  CHECK(count(loop_onwards(r.after_text, "while "), " = load ") == 0);
  for (int64_t n : {-3, 0, 7}) kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{n})});
  kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{})});
}

TEST_CASE("licm keeps a load in a while_ body", "[passes][licm]") {
  // The body may never run.
  auto f = kiln::stage("while_body_load", [](Arr<const int64_t> x, Rep<int64_t> k, Rep<int64_t> n) {
    Rep<int64_t> i = 0, s = 0;
    kiln::while_([&] { return i < n; }, [&] {
      s += x[k];
      i += 1;
    });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.after_text, "while "), " = load ") == 1);
  CHECK(count(before_loop(r.after_text, "while "), " = load ") == 0);
  for (auto [k, n] : {std::pair<int64_t, int64_t>{0, 3}, {5, 0}, {5, 1}})
    kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{2}), i64(k), i64(n)});
}

TEST_CASE("licm hoists invariant values out of a parallel_for_ body", "[passes][licm]") {
  auto f = kiln::stage("pfor_hoist", [](Rep<float> a, Rep<float> b, Arr<float> y) {
    kiln::parallel_for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = kiln::sqrt(a * b) + kiln::cast<float>(i); });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(count(loop_onwards(r.before_text, "parallel_for "), " = sqrt ") == 1);
  std::string front = before_loop(r.after_text, "parallel_for ");
  CHECK(has_lines(front, {" = mul %0, %1 : f32", " = sqrt "}));
  std::string loop = loop_onwards(r.after_text, "parallel_for ");
  CHECK(count(loop, " = sqrt ") == 0);
  CHECK(has_lines(loop, {" = cast ", " = add ", "store %2["}));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float a : {0.0f, -0.0f, 2.0f, -1.0f, nan})
    kiln::test::check_same_behaviour(r, {kiln::test::f32(a), kiln::test::f32(3.0f), Arg::buffer(std::vector<float>(5, 9.0f))});
}

TEST_CASE("licm leaves code in an if_ inside a loop in the if_", "[passes][licm]") {
  // Hoisting a / d out of the guarded branch would run it with d == 0.
  auto f = kiln::stage("guarded_in_loop", [](Rep<int64_t> a, Rep<int64_t> d, Rep<int64_t> n) {
    Rep<int64_t> s = 0;
    kiln::for_(0, 5, [&](Rep<int64_t> i) { kiln::if_((d != 0) & (i < n), [&] { s += a / d; }); });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::licm);
  CHECK(has_lines(r.after_text, {"for ", "if ", " = div %0, %1", "} else {"}));
  CHECK(count(before_loop(r.after_text, "for "), " = div ") == 0);
  for (int64_t d : {0, 2, -1})
    for (int64_t n : {0, 3}) kiln::test::check_same_behaviour(r, {i64(9), i64(d), i64(n)});
}

TEST_CASE("licm can be switched off through Options::passes", "[passes][licm]") {
  auto f = kiln::stage("switch_licm", [](Rep<int64_t> a, Rep<int64_t> n) {
    Rep<int64_t> s = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { s += (a * a) ^ i; });
    return s;
  });
  kiln::Options off;
  off.passes.licm = false;
  CHECK(count(loop_onwards(f.ir(off), "for "), " = mul ") == 1);
  CHECK(count(loop_onwards(f.ir(), "for "), " = mul ") == 0);
  CHECK(count(before_loop(f.ir(), "for "), " = mul ") == 1);
  auto plain = kiln::compile(f, off);
  auto optimised = kiln::compile(f);
  for (int64_t n : {-1, 0, 7}) CHECK(plain(5, n) == optimised(5, n));
}

// simplify_cfg: constant conditions, identical branches, agreed results,
// and loops with zero or one trip, a constant-false condition or no body.
#include <catch2/catch.hpp>

#include "pass_support.h"

#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::Arg;
using kiln::test::count;
using kiln::test::f64;
using kiln::test::has_lines;
using kiln::test::i64;

TEST_CASE("simplify_cfg replaces a cond on constant true by its then branch", "[passes][simplify_cfg]") {
  auto f = kiln::stage("const_true", [](Rep<int64_t> a) {
    return kiln::cond(Rep<bool>(true), [&] { return a * 3; }, [&] { return a - 1; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  // Staging does not fold the condition: the if is there before.
  CHECK(has_lines(r.before_text, {"const true", "if ", " = mul ", "} else {", " = sub "}));
  CHECK(count(r.after_text, "if ") == 0);
  CHECK(count(r.after_text, " = sub ") == 0);
  CHECK(count(r.after_text, "get ") == 0);
  CHECK(has_lines(r.after_text, {"%3 = mul %0, %2", "return %3"}));
  for (int64_t a : {int64_t{0}, int64_t{-4}, INT64_MAX}) kiln::test::check_same_results(r, {i64(a)});
}

TEST_CASE("simplify_cfg replaces an if_ on constant false by its else branch", "[passes][simplify_cfg]") {
  auto f = kiln::stage("const_false", [](Rep<double> a) {
    Rep<double> y = a;
    kiln::if_(Rep<bool>(false), [&] { y = a * 2.0; }, [&] { y = kiln::sqrt(a); });
    return y;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, "if ") == 1);
  CHECK(count(r.after_text, "if ") == 0);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(has_lines(r.after_text, {"%2 = sqrt %0", "return %2"}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double a : {0.0, -0.0, 4.0, -1.0, nan}) kiln::test::check_same_results(r, {f64(a)});
}

TEST_CASE("simplify_cfg removes an if_ without else on constant false", "[passes][simplify_cfg]") {
  // The empty else branch yields the old value: the result is the variable's
  // value before the if.
  auto f = kiln::stage("const_false_no_else", [](Rep<int64_t> a, Arr<int64_t> x) {
    Rep<int64_t> y = a;
    kiln::if_(Rep<bool>(false), [&] {
      x[0] = 1;
      y = a + 5;
    });
    return y;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.after_text, "if ") == 0);
  CHECK(count(r.after_text, "store ") == 0);
  CHECK(has_lines(r.after_text, {"return %0"}));
  kiln::test::check_same_behaviour(r, {i64(3), Arg::buffer(std::vector<int64_t>{-9})});
}

TEST_CASE("simplify_cfg keeps a cond on a condition that only folding could decide", "[passes][simplify_cfg]") {
  // 3 > 2 is constant, but deciding that is fold's job.
  auto f = kiln::stage("not_yet_constant", [](Rep<int64_t> a) {
    Rep<int64_t> k = 3;
    return kiln::cond(k > 2, [&] { return a + 1; }, [&] { return a - 1; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(r.after_text == r.before_text);
  kiln::test::check_same_results(r, {i64(7)});
}

TEST_CASE("simplify_cfg merges a cond whose branches are the same pure code", "[passes][simplify_cfg]") {
  auto f = kiln::stage("same_branches", [](Rep<int64_t> a, Rep<int64_t> b, Rep<bool> c) {
    return kiln::cond(c, [&] { return std::make_tuple(a * b + 1, a / b); },
                      [&] { return std::make_tuple(a * b + 1, a / b); });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, " = mul ") == 2);
  CHECK(count(r.after_text, "if ") == 0);
  CHECK(count(r.after_text, " = mul ") == 1);
  CHECK(count(r.after_text, " = div ") == 1);
  CHECK(has_lines(r.after_text, {" = mul %0, %1", " = add ", "return "}));
  CHECK(has_lines(r.after_text, {" = div %0, %1", "return "}));
  // Both branches divide: the trap stays exactly where it was.
  for (auto [a, b] : {std::pair<int64_t, int64_t>{7, 2}, {7, 0}, {INT64_MIN, -1}, {-3, 5}})
    for (int64_t c : {0, 1}) kiln::test::check_same_behaviour(r, {i64(a), i64(b), i64(c)});
}

TEST_CASE("simplify_cfg keeps a cond whose branches differ", "[passes][simplify_cfg]") {
  auto f = kiln::stage("different_branches", [](Rep<int64_t> a, Rep<bool> c) {
    return kiln::cond(c, [&] { return a + 1; }, [&] { return a + 2; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(r.after_text == r.before_text);
  for (int64_t c : {0, 1}) kiln::test::check_same_results(r, {i64(10), i64(c)});
}

TEST_CASE("simplify_cfg forwards an if result both branches take from outside", "[passes][simplify_cfg]") {
  auto f = kiln::stage("agreed_result", [](Rep<int64_t> a, Rep<bool> c) {
    return kiln::cond(c, [&] { return std::make_tuple(a, a + 1); }, [&] { return std::make_tuple(a, a - 1); });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, "get ") == 2);
  // The if stays for its second result; the first is a itself.
  CHECK(has_lines(r.after_text, {"if ", "yield %0, ", "} else {", "yield %0, ", "get %2, 1", "return %0, "}));
  CHECK(count(r.after_text, "get ") == 1);
  for (int64_t a : {int64_t{0}, INT64_MIN})
    for (int64_t c : {0, 1}) kiln::test::check_same_results(r, {i64(a), i64(c)});
}

TEST_CASE("simplify_cfg keeps an if_ whose identical branches store", "[passes][simplify_cfg]") {
  auto f = kiln::stage("same_stores", [](Arr<int64_t> x, Rep<int64_t> v, Rep<bool> c) {
    kiln::if_(c, [&] { x[0] = v; }, [&] { x[0] = v; });
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(r.after_text == r.before_text);
  CHECK(count(r.after_text, "store ") == 2);
  for (int64_t c : {0, 1}) kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<int64_t>{0, 0}), i64(4), i64(c)});
}

TEST_CASE("simplify_cfg removes a for_ with zero trips and its stores", "[passes][simplify_cfg]") {
  auto f = kiln::stage("zero_trips", [](Rep<int64_t> a, Arr<int64_t> x) {
    Rep<int64_t> s = a;
    kiln::for_(5, 2, [&](Rep<int64_t> i) {
      s += i;
      x[0] = s;
    });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(has_lines(r.before_text, {"for ", "store "}));
  CHECK(count(r.after_text, "for ") == 0);
  CHECK(count(r.after_text, "store ") == 0);
  CHECK(has_lines(r.after_text, {"return %0"}));
  for (int64_t a : {0, -8}) kiln::test::check_same_behaviour(r, {i64(a), Arg::buffer(std::vector<int64_t>{77})});
}

TEST_CASE("simplify_cfg keeps a for_ with a constant zero step", "[passes][simplify_cfg]") {
  // lo == hi, but a zero step traps before the bounds are looked at.
  auto f = kiln::stage("zero_step", [](Rep<int64_t> a) {
    Rep<int64_t> s = a;
    kiln::for_(5, 5, 0, [&](Rep<int64_t> i) { s += i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(r.after_text == r.before_text);
  CHECK(count(r.after_text, "for ") == 1);
  CHECK_THROWS_AS(kiln::interp::run(r.after, {i64(1)}), kiln::RuntimeError);
  kiln::test::check_same_behaviour(r, {i64(1)});
}

TEST_CASE("simplify_cfg turns a one-trip for_ into its body", "[passes][simplify_cfg]") {
  auto f = kiln::stage("one_trip", [](Rep<int64_t> a) {
    Rep<int64_t> s = a;
    kiln::for_(7, 8, [&](Rep<int64_t> i) { s = s * i + 1; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.after_text, "for ") == 0);
  // i is the lower bound 7.
  CHECK(has_lines(r.after_text, {"%1 = const 7", " = mul %0, %1", " = add ", "return "}));
  for (int64_t a : {int64_t{0}, int64_t{-3}, INT64_MAX}) kiln::test::check_same_results(r, {i64(a)});
}

TEST_CASE("simplify_cfg turns a one-trip downward for_ into its body", "[passes][simplify_cfg]") {
  auto f = kiln::stage("one_trip_down", [](Rep<int32_t> a) {
    Rep<int32_t> s = a;
    kiln::for_(10, 0, -20, [&](Rep<int32_t> i) { s = s - i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, "for ") == 1);
  CHECK(count(r.after_text, "for ") == 0);
  CHECK(has_lines(r.after_text, {"%1 = const 10 : i32", " = sub %0, %1", "return "}));
  for (int64_t a : {0, 5, INT32_MIN}) kiln::test::check_same_results(r, {i64(a)});
}

TEST_CASE("simplify_cfg keeps a for_ with two trips", "[passes][simplify_cfg]") {
  auto f = kiln::stage("two_trips", [](Rep<int64_t> a) {
    Rep<int64_t> s = a;
    kiln::for_(0, 2, [&](Rep<int64_t> i) { s = s * 2 + i; });
    return s;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(r.after_text == r.before_text);
  kiln::test::check_same_results(r, {i64(5)});
}

TEST_CASE("simplify_cfg replaces a while_ with a constant false condition by the condition's code",
          "[passes][simplify_cfg]") {
  auto f = kiln::stage("while_false", [](Rep<int64_t> a) {
    Rep<int64_t> i = a;
    kiln::while_(
        [&] {
          i = i + 1;
          return Rep<bool>(false);
        },
        [&] { i = i * 2; });
    return i;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(has_lines(r.before_text, {"while ", " = add ", "} do {", " = mul "}));
  CHECK(count(r.after_text, "while ") == 0);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(has_lines(r.after_text, {"%2 = add %0, %1", "return %2"}));
  for (int64_t a : {int64_t{0}, int64_t{-1}, INT64_MAX}) kiln::test::check_same_results(r, {i64(a)});
}

TEST_CASE("simplify_cfg removes an empty for_ with runtime bounds", "[passes][simplify_cfg]") {
  auto f = kiln::stage("empty_for", [](Rep<int64_t> n) {
    kiln::for_(0, n, [&](Rep<int64_t>) {});
    return n;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, "for ") == 1);
  CHECK(count(r.after_text, "for ") == 0);
  for (int64_t n : {-5, 0, 10}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("simplify_cfg keeps an empty for_ whose step may be zero", "[passes][simplify_cfg]") {
  // A zero step traps: the loop must stay to trap.
  auto f = kiln::stage("empty_for_runtime_step", [](Rep<int64_t> n, Rep<int64_t> step) {
    kiln::for_(0, n, step, [&](Rep<int64_t>) {});
    return n;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.after_text, "for ") == 1);
  for (int64_t step : {-1, 0, 2}) kiln::test::check_same_behaviour(r, {i64(4), i64(step)});
}

TEST_CASE("simplify_cfg removes an empty parallel_for_", "[passes][simplify_cfg]") {
  auto f = kiln::stage("empty_pfor", [](Arr<const float> x) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t>) {});
    return x.size();
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, "parallel_for ") == 1);
  CHECK(count(r.after_text, "parallel_for ") == 0);
  kiln::test::check_same_behaviour(r, {Arg::buffer(std::vector<float>{1, 2, 3})});
}

TEST_CASE("simplify_cfg forwards a loop value the body passes through unchanged", "[passes][simplify_cfg]") {
  auto f = kiln::stage("pass_through", [](Rep<int64_t> a, Rep<int64_t> n) {
    Rep<int64_t> s = a, t = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      Rep<int64_t> old = s;
      t += i;
      s = old;
    });
    return s * 1000 + t;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.before_text, "get ") == 2);
  // The loop stays for t; s after the loop is its initial value a.
  CHECK(count(r.after_text, "for ") == 1);
  CHECK(count(r.after_text, "get ") == 1);
  CHECK(has_lines(r.after_text, {"for ", "yield ", "get ", " = mul %0, "}));
  for (int64_t n : {-1, 0, 1, 5}) kiln::test::check_same_results(r, {i64(42), i64(n)});
}

TEST_CASE("simplify_cfg forwards a loop value once a constant if_ in the body is gone", "[passes][simplify_cfg]") {
  auto f = kiln::stage("pass_through_after_if", [](Rep<int64_t> a, Rep<int64_t> n) {
    Rep<int64_t> s = a, t = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      t += i;
      kiln::if_(Rep<bool>(false), [&] { s += 1; });
    });
    return s - t;
  });
  auto r = kiln::test::run_pass(f, kiln::passes::simplify_cfg);
  CHECK(count(r.after_text, "if ") == 0);
  CHECK(count(r.after_text, "get ") == 1);
  CHECK(has_lines(r.after_text, {"for ", "get ", " = sub %0, "}));
  for (int64_t n : {0, 4}) kiln::test::check_same_results(r, {i64(-6), i64(n)});
}

TEST_CASE("simplify_cfg can be switched off through Options::passes", "[passes][simplify_cfg]") {
  auto f = kiln::stage("switch_simplify_cfg", [](Rep<int64_t> a, Rep<bool> c) {
    return kiln::cond(c, [&] { return a * a + 3; }, [&] { return a * a + 3; });
  });
  kiln::Options off;
  off.passes.simplify_cfg = false;
  CHECK(count(f.ir(off), "if ") == 1);
  CHECK(count(f.ir(), "if ") == 0);
  auto plain = kiln::compile(f, off);
  auto optimised = kiln::compile(f);
  for (bool c : {false, true}) CHECK(plain(-4, c) == optimised(-4, c));
}

TEST_CASE("simplify_cfg keeps a used loop with a runtime step even if it passes its value through",
          "[passes][simplify_cfg]") {
  // A zero step traps; forwarding r's init would make the loop dead and dce would drop the trap.
  auto f = kiln::stage("passthrough_runtime_step", [](Rep<int64_t> n, Rep<int64_t> step) {
    Rep<int64_t> r = n * 3;
    kiln::for_(0, n, step, [&](Rep<int64_t>) { r = r + 0; });
    return r;
  });
  auto exact = kiln::compile(f);
  CHECK_THROWS_AS(exact(5, 0), kiln::RuntimeError);
  CHECK(exact(5, 1) == 15);
}

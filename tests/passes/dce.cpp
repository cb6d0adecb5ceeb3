// Dead-code elimination: unused values, dead loop-carried values and
// if-results, effect-free regions, and what must stay.
#include <catch2/catch.hpp>

#include "pass_support.h"

using kiln::Arr;
using kiln::Rep;
using kiln::test::check_lines;
using kiln::test::count;
using kiln::test::i64;
using kiln::test::run_pass;

TEST_CASE("dce drops a dead loop-carried value and keeps the live one", "[passes][dce]") {
  auto f = kiln::stage("d", [](Rep<int64_t> n) {
    Rep<int64_t> live = 0;
    Rep<int64_t> dead = 1;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      live += i;
      dead = dead * 3 + i;  // never read after the loop
    });
    return live;
  });
  auto r = run_pass(f, kiln::passes::dce);
  INFO(r.after_text);
  CHECK(count(r.before_text, " = mul ") == 1);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(check_lines(r.after_text, {"= for %1, %0, %2 iter(%1) : (i64) {", "^(%4: i64, %5: i64):", "yield %6"}));
  for (int64_t n : {0, 1, 7}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("dce removes a loop with no live value and no store", "[passes][dce]") {
  auto f = kiln::stage("d", [](Rep<int64_t> n) {
    Rep<int64_t> unused = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { unused += i * i; });
    kiln::while_([&] { return unused < 0; }, [&] { unused += 1; });
    return n + 1;
  });
  auto r = run_pass(f, kiln::passes::dce);
  CHECK(r.after_text.find("for ") == std::string::npos);
  CHECK(r.after_text.find("while") == std::string::npos);
  kiln::test::check_same_results(r, {i64(5)});
}

TEST_CASE("dce keeps stores, the loops and branches around them, and drops unused loads", "[passes][dce]") {
  auto f = kiln::stage("d", [](Arr<int64_t> out, Arr<const int64_t> in, Rep<int64_t> n) {
    Rep<int64_t> unused = in[0] + 1;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      Rep<int64_t> also_unused = in[i];
      kiln::if_(i % 2 == 0, [&] { out[i] = i; });
    });
  });
  auto r = run_pass(f, kiln::passes::dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, "load ") == 0);
  CHECK(count(r.after_text, "store ") == 1);
  CHECK(count(r.after_text, "= for ") + count(r.after_text, " for ") >= 1);
  CHECK(count(r.after_text, "if ") == 1);
}

TEST_CASE("dce drops an if-result nobody reads and renumbers the others", "[passes][dce]") {
  auto f = kiln::stage("d", [](Rep<int64_t> x) {
    Rep<int64_t> a = 0, b = 0, c = 0;
    kiln::if_(x > 0, [&] { a = x; b = x * 5; c = x + 2; }, [&] { a = -x; b = x * 7; c = x - 2; });
    return a + c;
  });
  auto r = run_pass(f, kiln::passes::dce);
  INFO(r.after_text);
  CHECK(count(r.before_text, " = mul ") == 2);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(r.after_text.find(": (i64, i64) {") != std::string::npos);
  for (int64_t x : {-3, 0, 4}) kiln::test::check_same_results(r, {i64(x)});
}

TEST_CASE("dce drops dead while-carried values in both directions", "[passes][dce]") {
  auto f = kiln::stage("d", [](Rep<int64_t> n) {
    Rep<int64_t> k = 0;
    Rep<int64_t> junk = 5;
    Rep<int64_t> sum = 0;
    kiln::while_([&] { return k < n; }, [&] {
      junk = junk * 2 + k;
      sum += k;
      k += 1;
    });
    return sum;
  });
  auto r = run_pass(f, kiln::passes::dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, " = mul ") == 0);
  CHECK(count(r.before_text, " = mul ") == 1);
  for (int64_t n : {0, 1, 6}) kiln::test::check_same_results(r, {i64(n)});
}

TEST_CASE("dce keeps a call that writes memory and drops an unused pure one", "[passes][dce]") {
  auto pure = kiln::stage("pure", [](Rep<int64_t> x) { return x * x; });
  auto writer = kiln::stage("writer", [](Arr<int64_t> out, Rep<int64_t> x) { out[0] = x; });
  auto f = kiln::stage("d", [&](Arr<int64_t> out, Rep<int64_t> x) {
    Rep<int64_t> unused = pure(x);
    writer(out, x);
  });
  auto r = run_pass(f, kiln::passes::dce);
  INFO(r.after_text);
  CHECK(count(r.after_text, "call @pure(") == 0);
  CHECK(count(r.after_text, "call @writer(") == 1);
}

TEST_CASE("dce removes a function whose last call it dropped", "[passes][dce]") {
  auto big = kiln::stage("unused_big", [](Rep<int64_t> x) {
    Rep<int64_t> a = x;
    for (int k = 0; k < 60; ++k) a = a * x + k;  // too big to inline
    return a;
  });
  auto f = kiln::stage("d", [&](Rep<int64_t> x) {
    Rep<int64_t> u1 = big(x);
    Rep<int64_t> u2 = big(x + 1);
    return x;
  });
  auto r = run_pass(f, kiln::passes::dce);
  CHECK(r.before.functions.size() == 2);
  CHECK(r.after.functions.size() == 1);
  CHECK(r.after_text.find("@unused_big") == std::string::npos);
}

// The IR text of a handful of staged programs, checked line by line on the
// printer's normalised form (values renumbered in order of appearance).
#include <catch2/catch.hpp>

#include "support.h"

using kiln::Arr;
using kiln::Rep;
using kiln::test::check_lines;

namespace {
void check_ir(const std::string& ir, const std::vector<std::string>& lines) {
  std::string why;
  bool ok = check_lines(ir, lines, &why);
  INFO(ir);
  INFO(why);
  CHECK(ok);
}
}  // namespace

TEST_CASE("golden IR: collatz carries n and steps through while", "[stage][golden]") {
  auto f = kiln::stage("collatz", [](Rep<int64_t> n) {
    Rep<int64_t> steps = 0;
    kiln::while_([&] { return n != 1; }, [&] {
      kiln::if_(n % 2 == 0, [&] { n = n / 2; }, [&] { n = 3 * n + 1; });
      steps += 1;
    });
    return steps;
  });
  check_ir(f.ir(kiln::test::unoptimised), {
      "func @collatz(%0: i64) -> (i64) {",
      "  %1 = const 0 : i64",
      "  %2 = while (%0, %1) : (i64, i64) {",
      "  ^(%3: i64, %4: i64):",
      "    %6 = ne %3, %5 : i1",
      "    yield %6, %3, %4",
      "  } do {",
      "  ^(%7: i64, %8: i64):",
      "    %10 = rem %7, %9 : i64",
      "    %11 = eq %10, %1 : i1",
      "    %12 = if %11 : (i64) {",
      "      %13 = div %7, %9 : i64",
      "      yield %13",
      "    } else {",
      "      %15 = mul %14, %7 : i64",
      "      %17 = add %15, %16 : i64",
      "      yield %17",
      "    %19 = add %8, %18 : i64",
      "    %20 = get %12, 0 : i64",
      "    yield %20, %19",
      "  %21 = get %2, 1 : i64",
      "  return %21",
  });
}

TEST_CASE("golden IR: a dot product is a for with one carried f32", "[stage][golden]") {
  auto f = kiln::stage("dot", [](Arr<const float> x, Arr<const float> y) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += x[i] * y[i]; });
    return acc;
  });
  check_ir(f.ir(kiln::test::unoptimised), {
      "func @dot(%0: buf<const f32>, %1: buf<const f32>) -> (f32) {",
      "  %2 = const 0.0 : f32",
      "  %3 = size %0 : i64",
      "  %6 = for %4, %3, %5 iter(%2) : (f32) {",
      "  ^(%7: i64, %8: f32):",
      " = load %1[%7] : f32",
      " = load %0[%7] : f32",
      "    %11 = mul ",
      "    %12 = add %8, %11 : f32",
      "    yield %12",
      "  %13 = get %6, 0 : f32",
      "  return %13",
  });
}

TEST_CASE("golden IR: a variable assigned in one branch becomes an if result", "[stage][golden]") {
  auto f = kiln::stage("relu", [](Rep<double> x) {
    Rep<double> y = x;
    kiln::if_(x < 0.0, [&] { y = 0.0; });
    return y;
  });
  check_ir(f.ir(kiln::test::unoptimised), {
      "func @relu(%0: f64) -> (f64) {",
      "  %2 = lt %0, %1 : i1",
      "  %3 = if %2 : (f64) {",
      "    yield %1",
      "  } else {",
      "    yield %0",
      "  %4 = get %3, 0 : f64",
      "  return %4",
  });
}

TEST_CASE("golden IR: recursive fib calls itself by name", "[stage][golden]") {
  kiln::Staged<int64_t(int64_t)> fib;
  fib = kiln::stage("fib", [&](Rep<int64_t> n) {
    return kiln::cond(n < 2, [&] { return n; }, [&] { return fib(n - 1) + fib(n - 2); });
  });
  check_ir(fib.ir(kiln::test::unoptimised), {
      "func @fib(%0: i64) -> (i64) {",
      "  %1 = const 2 : i64",
      "  %2 = lt %0, %1 : i1",
      "  %3 = if %2 : (i64) {",
      "    yield %0",
      "  } else {",
      // C++ leaves the evaluation order of `+`'s operands unspecified; GCC
      // stages fib(n - 2) first, and n - 2 reuses the constant 2 of n < 2.
      "    %4 = sub %0, %1 : i64",
      "    %5 = call @fib(%4) : (i64)",
      "    %6 = get %5, 0 : i64",
      "    %9 = call @fib(%8) : (i64)",
      "    %11 = add %10, %6 : i64",
      "    yield %11",
      "  %12 = get %3, 0 : i64",
      "  return %12",
  });
}

TEST_CASE("golden IR: parallel_for has no results and stores per iteration", "[stage][golden]") {
  auto f = kiln::stage("scale", [](Rep<float> a, Arr<float> y) {
    kiln::parallel_for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = a * y[i]; });
  });
  check_ir(f.ir(kiln::test::unoptimised), {
      "func @scale(%0: f32, %1: buf<f32>) -> () {",
      "  parallel_for %3, %2, %4 {",
      "  ^(%5: i64):",
      "    %6 = load %1[%5] : f32",
      "    %7 = mul %0, %6 : f32",
      "    store %1[%5], %7",
      "    yield",
      "  return",
  });
}

TEST_CASE("IR printed with locations names the user's lines", "[stage][golden]") {
  auto f = kiln::stage("loc", [](Rep<int32_t> x) { return x * 3; });
  std::string text = kiln::ir::print(f.module(), {.locations = true});
  CHECK(text.find("golden_ir.cpp:") != std::string::npos);
}

// Staged functions calling staged functions: real calls, recursion, mutual
// recursion, tuples.
#include <catch2/catch.hpp>

#include "support.h"

#include <tuple>

using kiln::Rep;
using kiln::test::interp;

TEST_CASE("calling a staged function emits a call and includes the callee", "[stage][call]") {
  auto sq = kiln::stage("sq", [](Rep<double> x) { return x * x; });
  auto hyp = kiln::stage("hyp2", [&](Rep<double> a, Rep<double> b) { return sq(a) + sq(b); });
  std::string ir = hyp.ir(kiln::test::unoptimised);
  CHECK(kiln::test::count(ir, "call @sq(") == 2);
  CHECK(ir.find("func @sq(") != std::string::npos);
  CHECK(interp(hyp)(3.0, 4.0) == 25.0);
}

TEST_CASE("a staged function returning a tuple is called and unpacked", "[stage][call][tuple]") {
  auto divmod = kiln::stage("divmod", [](Rep<int64_t> a, Rep<int64_t> b) { return std::make_tuple(a / b, a % b); });
  auto f = kiln::stage("recombine", [&](Rep<int64_t> a, Rep<int64_t> b) {
    auto [q, r] = divmod(a, b);
    return q * b + r;
  });
  auto c = interp(f);
  for (int64_t a : {17, -17, 0}) CHECK(c(a, 5) == a);
  CHECK(interp(divmod)(17, 5) == std::make_tuple(int64_t{3}, int64_t{2}));
}

TEST_CASE("staged fib recurses through a declared Staged", "[stage][call][recursion]") {
  kiln::Staged<int64_t(int64_t)> fib;
  fib = kiln::stage("fib", [&](Rep<int64_t> n) {
    return kiln::cond(n < 2, [&] { return n; }, [&] { return fib(n - 1) + fib(n - 2); });
  });
  std::string ir = fib.ir(kiln::test::unoptimised);
  CHECK(kiln::test::count(ir, "func @") == 1);
  CHECK(kiln::test::count(ir, "call @fib(") == 2);
  auto c = interp(fib);
  int64_t a = 0, b = 1;
  for (int64_t n = 0; n < 20; ++n, std::tie(a, b) = std::make_tuple(b, a + b)) CHECK(c(n) == a);
}

TEST_CASE("is_even and is_odd are mutually recursive", "[stage][call][recursion]") {
  kiln::Staged<bool(int64_t)> is_even, is_odd;
  is_even = kiln::stage("is_even", [&](Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<bool>(true); }, [&] { return is_odd(n - 1); });
  });
  is_odd = kiln::stage("is_odd", [&](Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return Rep<bool>(false); }, [&] { return is_even(n - 1); });
  });
  std::string ir = is_even.ir(kiln::test::unoptimised);
  CHECK(ir.find("func @is_even(") != std::string::npos);
  CHECK(ir.find("func @is_odd(") != std::string::npos);
  auto even = interp(is_even);
  auto odd = interp(is_odd);
  for (int64_t n = 0; n < 12; ++n) {
    CHECK(even(n) == (n % 2 == 0));
    CHECK(odd(n) == (n % 2 == 1));
  }
}

TEST_CASE("a staged call inside a loop sees the loop's variables", "[stage][call]") {
  auto step = kiln::stage("step", [](Rep<double> x, Rep<int64_t> i) { return x * 0.5 + kiln::cast<double>(i); });
  auto f = kiln::stage("iterate", [&](Rep<int64_t> n) {
    Rep<double> x = 1.0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { x = step(x, i); });
    return x;
  });
  double x = 1.0;
  for (int i = 0; i < 9; ++i) x = x * 0.5 + i;
  CHECK(interp(f)(9) == x);
}

TEST_CASE("functions with the same name get distinct names in a module", "[stage][call]") {
  auto a = kiln::stage("g", [](Rep<int32_t> x) { return x + 1; });
  auto b = kiln::stage("g", [](Rep<int32_t> x) { return x * 2; });
  auto f = kiln::stage("g", [&](Rep<int32_t> x) { return a(x) + b(x); });
  std::string ir = f.ir(kiln::test::unoptimised);
  CHECK(ir.find("func @g(") != std::string::npos);
  CHECK(ir.find("func @g.1(") != std::string::npos);
  CHECK(ir.find("func @g.2(") != std::string::npos);
  CHECK(interp(f)(5) == 16);
}

TEST_CASE("a function returning nothing is called for its effects", "[stage][call]") {
  auto fill = kiln::stage("fill", [](kiln::Arr<float> x, Rep<float> v) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = v; });
  });
  auto f = kiln::stage("fill_twice", [&](kiln::Arr<float> x) {
    fill(x, 1.0f);
    fill(x, 2.0f);
  });
  std::vector<float> x(3);
  interp(f)(std::span<float>(x));
  CHECK(x == std::vector<float>{2, 2, 2});
}

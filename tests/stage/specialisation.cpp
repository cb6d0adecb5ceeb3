// Plain C++ control flow runs at staging time and specialises the program.
#include <catch2/catch.hpp>

#include "support.h"

#include <cmath>

using kiln::Rep;

namespace {
Rep<double> power(const Rep<double>& x, int n) {
  if (n == 0) return 1.0;
  if (n % 2 == 0) {
    Rep<double> h = power(x, n / 2);
    return h * h;
  }
  return x * power(x, n - 1);
}
}  // namespace

TEST_CASE("power with a stage-time exponent unrolls into multiplications", "[stage][specialise]") {
  auto p13 = kiln::stage("pow13", [](Rep<double> x) { return power(x, 13); });
  std::string ir = p13.ir(kiln::test::unoptimised);
  CHECK(kiln::test::count(ir, " = mul ") == 6);  // square-and-multiply for 13
  CHECK(ir.find("for ") == std::string::npos);
  CHECK(ir.find("while ") == std::string::npos);
  auto f = kiln::test::interp(p13);
  for (double x : {0.5, 1.5, -2.0}) {
    double want = 1.0;
    for (int i = 0; i < 13; ++i) want *= x;
    CHECK(f(x) == Approx(want).epsilon(1e-15));
  }
}

TEST_CASE("a stage-time loop over a C++ vector unrolls a polynomial", "[stage][specialise]") {
  const std::vector<double> coeffs = {1.0, -2.0, 0.5, 3.0};
  auto poly = kiln::stage("horner", [&](Rep<double> x) {
    Rep<double> acc = 0.0;
    for (auto it = coeffs.rbegin(); it != coeffs.rend(); ++it) acc = acc * x + *it;
    return acc;
  });
  CHECK(poly.ir(kiln::test::unoptimised).find("for ") == std::string::npos);
  auto f = kiln::test::interp(poly);
  double x = 1.25, want = 0.0;
  for (auto it = coeffs.rbegin(); it != coeffs.rend(); ++it) want = want * x + *it;
  CHECK(f(x) == want);
}

TEST_CASE("equal pure expressions are built once", "[stage][hashcons]") {
  auto f = kiln::stage("twice", [](Rep<float> x, Rep<float> y) { return (x * y + 1.0f) * (x * y + 1.0f); });
  std::string ir = f.ir(kiln::test::unoptimised);
  CHECK(kiln::test::count(ir, " = mul ") == 2);
  CHECK(kiln::test::count(ir, " = add ") == 1);
}

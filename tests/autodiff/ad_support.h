// Shared by the autodiff tests: central differences, a tolerance check, and
// the table of unary functions every derivative rule is tested on (each
// with its analytic derivative and the points to test at).
#pragma once

#include "support.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace kiln::test::ad {

/// Central difference of g at x.
inline double central(const std::function<double(double)>& g, double x) {
  const double h = 1e-6 * std::max(1.0, std::abs(x));
  return (g(x + h) - g(x - h)) / (2 * h);
}

/// |a - b| within tol, relative to |b| when |b| > 1.
inline bool close(double a, double b, double tol) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }

/// One function of one double, its derivative and where to test it.
struct UnaryCase {
  std::string name;
  Staged<double(double)> f;
  std::function<double(double)> df;
  std::vector<double> points;
  double fd_tol = 1e-6;  // of the central difference
};

/// Every derivative rule through a function of one double.
inline std::vector<UnaryCase> unary_cases() {
  using kiln::Rep;
  const std::vector<double> pts = {-1.7, -0.3, 0.4, 2.2};
  const std::vector<double> pos = {0.2, 1.0, 3.5};
  std::vector<UnaryCase> out;
  auto add = [&](const char* name, auto body, std::function<double(double)> df, std::vector<double> points,
                 double fd_tol = 1e-6) {
    out.push_back({name, kiln::stage(name, body), std::move(df), std::move(points), fd_tol});
  };
  add("neg", [](Rep<double> x) { return -x; }, [](double) { return -1.0; }, pts);
  add("abs", [](Rep<double> x) { return kiln::abs(x); }, [](double x) { return x > 0 ? 1.0 : -1.0; }, pts);
  add("sqrt", [](Rep<double> x) { return kiln::sqrt(x); }, [](double x) { return 0.5 / std::sqrt(x); }, pos);
  add("exp", [](Rep<double> x) { return kiln::exp(x); }, [](double x) { return std::exp(x); }, pts);
  add("log", [](Rep<double> x) { return kiln::log(x); }, [](double x) { return 1 / x; }, pos);
  add("sin", [](Rep<double> x) { return kiln::sin(x); }, [](double x) { return std::cos(x); }, pts);
  add("cos", [](Rep<double> x) { return kiln::cos(x); }, [](double x) { return -std::sin(x); }, pts);
  add("tanh", [](Rep<double> x) { return kiln::tanh(x); }, [](double x) { return 1 - std::tanh(x) * std::tanh(x); }, pts);
  add("floor_plus", [](Rep<double> x) { return kiln::floor(x) + x; }, [](double) { return 1.0; }, pts);
  add("square", [](Rep<double> x) { return x * x; }, [](double x) { return 2 * x; }, pts);
  add("recip", [](Rep<double> x) { return 1.0 / x; }, [](double x) { return -1 / (x * x); }, pts);
  add("quotient", [](Rep<double> x) { return kiln::sin(x) / (2.0 + x * x); },
      [](double x) { return (std::cos(x) * (2 + x * x) - std::sin(x) * 2 * x) / ((2 + x * x) * (2 + x * x)); }, pts);
  add("difference", [](Rep<double> x) { return 3.0 - x * 2.0; }, [](double) { return -2.0; }, pts);
  add("pow_const", [](Rep<double> x) { return kiln::pow(x, 3.0); }, [](double x) { return 3 * x * x; }, pts);
  add("const_pow", [](Rep<double> x) { return kiln::pow(2.0, x); },
      [](double x) { return std::pow(2.0, x) * std::log(2.0); }, pts);
  add("pow_both", [](Rep<double> x) { return kiln::pow(x, x); },
      [](double x) { return std::pow(x, x) * (std::log(x) + 1); }, pos);
  add("min", [](Rep<double> x) { return kiln::min(x, 0.5); }, [](double x) { return 0.5 < x ? 0.0 : 1.0; }, pts);
  add("max", [](Rep<double> x) { return kiln::max(x * 2, 0.5); }, [](double x) { return 2 * x < 0.5 ? 0.0 : 2.0; }, pts);
  add("fma", [](Rep<double> x) { return kiln::fma(x, x, x); }, [](double x) { return 2 * x + 1; }, pts);
  add("select", [](Rep<double> x) { return kiln::select(x < 0.0, x * x, 3.0 * x); },
      [](double x) { return x < 0 ? 2 * x : 3.0; }, pts);
  add("casts", [](Rep<double> x) { return kiln::cast<double>(kiln::cast<float>(x) * 2.0f); }, [](double) { return 2.0; },
      {1.0, 2.0}, 0.25);  // a float intermediate: the difference quotient over 1e-6 is coarse
  add("int_path", [](Rep<double> x) { return kiln::cast<double>(kiln::cast<int64_t>(x * 10.0)) + x; },
      [](double) { return 1.0; }, {0.25, 1.75});
  return out;
}

}  // namespace kiln::test::ad

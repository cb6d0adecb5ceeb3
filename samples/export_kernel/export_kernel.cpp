// Stage-time specialisation, then export: a polynomial whose coefficients
// are known while staging becomes straight-line code (Horner's rule, the
// loop over the coefficients runs in plain C++ and is gone), zero
// coefficients cost nothing, and an odd polynomial is evaluated in x*x. The
// kernel is exported as standalone C++17 that any compiler builds without
// kiln; main.cpp in this folder calls it (README.md).
//
//   kiln_sample_export_kernel [OUT_DIR]    writes OUT_DIR/poly.cpp and OUT_DIR/poly.h
//                                          (default: the current directory)
#include <kiln/kiln.h>

#include <cstdio>
#include <filesystem>
#include <span>
#include <vector>

using kiln::Arr;
using kiln::Rep;

namespace {

// c[0] + c[1] x + c[2] x^2 + ... by Horner's rule, unrolled at staging time:
// only the nonzero coefficients become additions.
Rep<float> horner(const std::vector<double>& c, const Rep<float>& x) {
  Rep<float> acc = static_cast<float>(c.back());
  for (size_t k = c.size() - 1; k-- > 0;) {
    acc = acc * x;
    if (c[k] != 0.0) acc = acc + static_cast<float>(c[k]);
  }
  return acc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : ".";

  // sin(x) ~ x - x^3/3! + x^5/5! - ... + x^11/11!: known now, constants in the kernel.
  std::vector<double> c(12, 0.0);
  double term = 1.0;
  for (int k = 1; k < 12; ++k) {
    term /= k;
    if (k % 2 == 1) c[static_cast<size_t>(k)] = (k % 4 == 1 ? 1.0 : -1.0) * term;
  }
  // Every even coefficient is zero: p(x) = x * q(x*x) with q's coefficients c[1], c[3], ...
  bool odd = true;
  std::vector<double> q;
  for (size_t k = 0; k < c.size(); ++k) {
    if (k % 2 == 0) odd = odd && c[k] == 0.0;
    else q.push_back(c[k]);
  }

  auto poly = kiln::stage("poly", {"x", "y"}, [&](Arr<const float> x, Arr<float> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<float> v = x[i];
      y[i] = odd ? v * horner(q, v * v) : horner(c, v);
    });
  });

  kiln::export_source(poly, dir / "poly.cpp");
  kiln::export_header(poly, dir / "poly.h");
  std::printf("wrote %s and %s\n", (dir / "poly.cpp").string().c_str(), (dir / "poly.h").string().c_str());

  // The same kernel in kiln's interpreter, on the inputs main.cpp uses: the
  // exported code prints the same lines.
  std::vector<float> x(9), y(9);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -1.5f + 0.375f * static_cast<float>(i);
  kiln::compile(poly)(std::span<const float>(x), std::span<float>(y));
  for (size_t i = 0; i < x.size(); ++i) std::printf("poly(%g) = %.9g\n", static_cast<double>(x[i]), static_cast<double>(y[i]));
}

// Calls the kernel kiln_sample_export_kernel exported; plain C++17, no kiln:
//   c++ -std=c++17 -O2 -ffp-contract=off main.cpp poly.cpp -o poly
#include "poly.h"

#include <cmath>
#include <cstdio>

int main() {
  float x[9], y[9];
  for (int i = 0; i < 9; ++i) x[i] = -1.5f + 0.375f * static_cast<float>(i);
  poly(x, 9, y, 9);

  double worst = 0.0;
  for (int i = 0; i < 9; ++i) {
    std::printf("poly(%g) = %.9g\n", static_cast<double>(x[i]), static_cast<double>(y[i]));
    worst = std::fmax(worst, std::fabs(static_cast<double>(y[i]) - std::sin(static_cast<double>(x[i]))));
  }
  std::printf("max |poly(x) - sin(x)| = %.1e\n", worst);
  return worst < 1e-6 ? 0 : 1;
}

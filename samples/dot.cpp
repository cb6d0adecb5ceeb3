// Buffers: a staged dot product over two read-only arrays, compiled and
// called with std::span.
#include <kiln/kiln.h>

#include <cstdio>
#include <iostream>
#include <numeric>
#include <span>
#include <vector>

using kiln::Arr;
using kiln::Rep;

int main() {
  auto dot = kiln::stage("dot", [](Arr<const float> x, Arr<const float> y) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += x[i] * y[i]; });
    return acc;
  });
  std::cout << dot.ir() << "\n";

  std::vector<float> x(1000), y(1000);
  std::iota(x.begin(), x.end(), 0.0f);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 1.0f / static_cast<float>(i + 1);
  auto f = kiln::compile(dot);
  float staged = f(std::span<const float>(x), std::span<const float>(y));
  float plain = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) plain += x[i] * y[i];
  std::printf("dot = %.9g (plain C++ loop: %.9g)\n", staged, plain);
  return staged == plain ? 0 : 1;
}

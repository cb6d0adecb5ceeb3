// Buffers: a staged dot product over two read-only arrays, compiled for the
// interpreter, the system C++ compiler (Backend::cxx) and the default
// backend (the LLVM JIT), and called with std::span. Prints the IR and the
// C++ kiln generates. All three must give the plain loop's result exactly.
#include <kiln/kiln.h>

#include <cstdio>
#include <iostream>
#include <numeric>
#include <span>
#include <vector>

using kiln::Arr;
using kiln::Rep;

int main() {
  auto dot = kiln::stage("dot", {"x", "y"}, [](Arr<const float> x, Arr<const float> y) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += x[i] * y[i]; });
    return acc;
  });
  std::cout << dot.ir() << "\n";
  std::cout << kiln::source(dot) << "\n";  // what export_source writes and Backend::cxx compiles

  std::vector<float> x(1000), y(1000);
  std::iota(x.begin(), x.end(), 0.0f);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 1.0f / static_cast<float>(i + 1);
  auto f = kiln::compile(dot, {.backend = kiln::Backend::interp});  // the reference interpreter
  float staged = f(std::span<const float>(x), std::span<const float>(y));
  auto g = kiln::compile(dot, {.backend = kiln::Backend::cxx});  // c++ -O3 -march=native, cached
  float compiled = g(std::span<const float>(x), std::span<const float>(y));
  auto h = kiln::compile(dot);  // the default: the LLVM JIT when kiln has it, else the interpreter
  float jitted = h(std::span<const float>(x), std::span<const float>(y));
  float plain = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) plain += x[i] * y[i];
  std::printf("dot = %.9g (interpreter), %.9g (Backend::cxx), %.9g (default backend, %s); plain C++ loop: %.9g\n", staged,
              compiled, jitted, kiln::available(kiln::Backend::llvm) ? "LLVM JIT" : "interpreter", plain);
  return staged == plain && compiled == plain && jitted == plain ? 0 : 1;
}

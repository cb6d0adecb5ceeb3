// An Arr<const float> parameter takes a span of float: a span of double
// does not convert.
// expect: no match for call to '\(kiln::Compiled<float\(std::span<const float, [0-9]+>\)>\) \(std::span<double>\)'
#include <kiln/kiln.h>

#include <span>
#include <vector>

int main() {
  auto f = kiln::stage("f", [](kiln::Arr<const float> x) { return x[0]; });
  auto c = kiln::compile(f, {.backend = kiln::Backend::interp});
#ifdef KILN_MISUSE
  std::vector<double> x = {1.0};
  return static_cast<int>(c(std::span<double>(x)));
#else
  std::vector<float> x = {1.0f};
  return static_cast<int>(c(std::span<float>(x)));
#endif
}

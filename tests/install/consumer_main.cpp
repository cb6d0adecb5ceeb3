// Stages x * 2 + 1, compiles it and checks the result: the smallest program
// that exercises kiln's headers, its library and a backend.
#include <kiln/kiln.h>

#include <cstdint>
#include <cstdio>

int main() {
  auto affine = kiln::stage("affine", [](kiln::Rep<int64_t> x) { return x * 2 + 1; });
  auto f = kiln::compile(affine);
  const int64_t got = f(20);
  if (got != 41) {
    std::fprintf(stderr, "affine(20) = %lld, expected 41\n", static_cast<long long>(got));
    return 1;
  }
  std::printf("affine(20) = %lld\n", static_cast<long long>(got));
  return 0;
}

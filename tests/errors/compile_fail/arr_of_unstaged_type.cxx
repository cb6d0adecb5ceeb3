// Staged buffers hold the staged scalar types only.
// expect: Arr<T>: T must be bool, int32_t, int64_t, float or double
#include <kiln/kiln.h>

int main() {
#ifdef KILN_MISUSE
  auto f = kiln::stage("f", [](kiln::Arr<const int8_t> x) { return x[0]; });
#else
  auto f = kiln::stage("f", [](kiln::Arr<const int32_t> x) { return x[0]; });
#endif
  (void)f;
}

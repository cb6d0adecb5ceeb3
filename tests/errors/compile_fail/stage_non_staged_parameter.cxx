// A staged lambda's parameters must be Reps or Arrs.
// expect: every parameter of the staged lambda must be a kiln::Rep<T> or kiln::Arr<T>
#include <kiln/kiln.h>

int main() {
#ifdef KILN_MISUSE
  auto f = kiln::stage("f", [](float x) { return kiln::Rep<float>(x); });
#else
  auto f = kiln::stage("f", [](kiln::Rep<float> x) { return x; });
#endif
  (void)f;
}

// Writing through an Arr<const T> does not compile.
// expect: no match for 'operator=' \(operand types are 'kiln::Rep<float>' and 'float'\)
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Arr<const float> x) {
#ifdef KILN_MISUSE
    x[0] = 1.0f;
#else
    kiln::Rep<float> v = x[0];
    (void)v;
#endif
  });
  (void)f;
}

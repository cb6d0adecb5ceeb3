// Bitwise operators are for integers and bools, as in C++.
// expect: no match for 'operator&' \(operand types are 'kiln::Rep<float>' and 'kiln::Rep<float>'\)
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<float> x, kiln::Rep<float> y) {
#ifdef KILN_MISUSE
    return x & y;
#else
    return kiln::cast<int32_t>(x) & kiln::cast<int32_t>(y);
#endif
  });
  (void)f;
}

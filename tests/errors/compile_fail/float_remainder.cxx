// % is for integers, as in C++.
// expect: no match for 'operator%' \(operand types are 'kiln::Rep<float>' and 'float'\)
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<float> x) {
#ifdef KILN_MISUSE
    return x % 2.0f;
#else
    return x * 2.0f;
#endif
  });
  (void)f;
}

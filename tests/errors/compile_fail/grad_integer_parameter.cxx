// Only floating-point parameters have gradients: grad<1> of an integer
// parameter does not compile.
// expect: kiln::grad<W...>: every index must name a floating-point scalar or buffer parameter of f
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<double> x, kiln::Rep<int64_t> n) { return x * kiln::cast<double>(n); });
#ifdef KILN_MISUSE
  auto g = kiln::grad<1>(f);
#else
  auto g = kiln::grad<0>(f);
#endif
  (void)g;
}

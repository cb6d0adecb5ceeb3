// vjp<W...> names parameters by index: one past the last does not compile.
// expect: kiln::vjp<W...>: every index must name a floating-point scalar or buffer parameter of f
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<double> x, kiln::Rep<double> y) { return x * y; });
#ifdef KILN_MISUSE
  auto g = kiln::vjp<2>(f);
#else
  auto g = kiln::vjp<1>(f);
#endif
  (void)g;
}

// Only floating-point parameters have derivatives: jvp<1> of an integer
// parameter is refused when the program is compiled.
// expect: kiln::jvp<W...>: every index must name a floating-point scalar or buffer parameter of f
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<double> x, kiln::Rep<int64_t> n) { return x * kiln::cast<double>(n); });
#ifdef KILN_MISUSE
  auto d = kiln::jvp<1>(f);
#else
  auto d = kiln::jvp<0>(f);
#endif
  (void)d;
}

// grad needs a function returning one float or double; vjp takes the rest.
// expect: kiln::grad: f must return one float or double; use kiln::vjp
#include <kiln/kiln.h>

#include <tuple>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<double> x) { return std::make_tuple(x * x, x + 1.0); });
#ifdef KILN_MISUSE
  auto g = kiln::grad(f);
#else
  auto g = kiln::vjp(f);
#endif
  (void)g;
}

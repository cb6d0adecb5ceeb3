// A custom reverse-mode rule takes f's parameters and the cotangent, and
// returns the gradient: a rule without the cotangent does not compile.
// expect: kiln::custom_vjp: the rule must take f's parameters, then one cotangent per floating-point result
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<double> x) { return x; });
#ifdef KILN_MISUSE
  auto rule = kiln::stage("rule", [](kiln::Rep<double> x) { return x; });
#else
  auto rule = kiln::stage("rule", [](kiln::Rep<double>, kiln::Rep<double> ct) { return ct; });
#endif
  auto g = kiln::custom_vjp(f, rule);
  (void)g;
}

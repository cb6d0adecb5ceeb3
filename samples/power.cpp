// Stage-time specialisation: an ordinary C++ loop over a plain int runs while
// staging, so power(x, 13) becomes straight-line multiplications (square and
// multiply), with no staged loop left in the IR.
#include <kiln/kiln.h>

#include <cstdio>
#include <iostream>

using kiln::Rep;

// Plain C++ recursion on the exponent: runs at staging time.
Rep<double> power(const Rep<double>& x, int n) {
  if (n == 0) return 1.0;
  if (n % 2 == 0) {
    Rep<double> half = power(x, n / 2);
    return half * half;
  }
  return x * power(x, n - 1);
}

int main() {
  auto pow13 = kiln::stage("pow13", [](Rep<double> x) { return power(x, 13); });
  std::cout << pow13.ir() << "\n";
  auto f = kiln::compile(pow13);
  for (double x : {0.5, 1.5, 2.0}) std::printf("pow13(%g) = %.17g\n", x, f(x));
}

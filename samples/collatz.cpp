// Staged while_ with data-dependent trip count: the number of Collatz steps
// from n to 1. `n` and `steps` are ordinary Reps assigned inside the loop;
// kiln turns them into loop-carried values.
#include <kiln/kiln.h>

#include <cstdio>
#include <iostream>

using kiln::Rep;

int main() {
  auto collatz = kiln::stage("collatz", [](Rep<int64_t> n) {
    Rep<int64_t> steps = 0;
    kiln::while_([&] { return n != 1; },
                 [&] {
                   kiln::if_(n % 2 == 0, [&] { n = n / 2; }, [&] { n = 3 * n + 1; });
                   steps += 1;
                 });
    return steps;
  });
  std::cout << collatz.ir() << "\n";
  auto f = kiln::compile(collatz);
  for (int64_t n : {1, 6, 7, 27, 97}) std::printf("collatz(%lld) = %lld steps\n", static_cast<long long>(n),
                                                  static_cast<long long>(f(n)));
}

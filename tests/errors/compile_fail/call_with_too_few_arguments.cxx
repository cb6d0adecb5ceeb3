// A compiled function takes exactly its staged parameters: one argument
// short does not compile.
// expect: no match for call to '\(kiln::Compiled<long int\(long int, long int\)>\) \(int\)'
#include <kiln/kiln.h>

int main() {
  auto f = kiln::stage("f", [](kiln::Rep<int64_t> a, kiln::Rep<int64_t> b) { return a + b; });
  auto c = kiln::compile(f, {.backend = kiln::Backend::interp});
#ifdef KILN_MISUSE
  return static_cast<int>(c(1));
#else
  return static_cast<int>(c(1, 2));
#endif
}

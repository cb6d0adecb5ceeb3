// compile(): a staged function compiled again with equal options gives the
// kernel it gave before, without the pipeline or a cache lookup.
#include "support.h"

#if KILN_HAVE_LLVM
#include "backends/llvm/llvm_backend.h"
#endif

#include <unistd.h>

using kiln::Arr;
using kiln::Rep;

TEST_CASE("compile: a compile that failed on an undefined callee succeeds once it is defined", "[compile]") {
  for (kiln::Backend b : {kiln::Backend::interp, kiln::Backend::automatic, kiln::Backend::cxx}) {
    kiln::Staged<int64_t(int64_t)> g;  // declared only
    auto caller = kiln::stage("caller", [&](Rep<int64_t> x) { return g(x) + 1; });
    CHECK_THROWS_AS(kiln::compile(caller, {.backend = b}), kiln::Error);
    g = kiln::stage("g", [](Rep<int64_t> x) { return x * 2; });
    CHECK(kiln::compile(caller, {.backend = b})(5) == 11);
    CHECK(kiln::compile(caller, {.backend = b})(6) == 13);
  }
}

#if KILN_HAVE_LLVM
TEST_CASE("compile: compiling the same staged function with equal options again reaches no backend", "[compile][llvm]") {
  const kiln::Options llvm{.backend = kiln::Backend::llvm};
  const int64_t salt = 6000 + getpid();
  // Staged from one place each time: the cache key covers source lines.
  auto stage_again = [salt] {
    return kiln::stage("again", {"x"}, [salt](Arr<int64_t> x) {
      kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] * 5 + salt; });
    });
  };
  auto f = stage_again();
  const auto s0 = kiln::llvm_backend::stats();
  auto a = kiln::compile(f, llvm);
  auto b = kiln::compile(f, llvm);
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.compiles + s1.disk_hits == s0.compiles + s0.disk_hits + 1);
  CHECK(s1.memory_hits == s0.memory_hits);  // the second compile did not ask the backend
  // Other options are another kernel; a fresh staging of the same program
  // finds the first one in the backend's cache.
  auto c = kiln::compile(f, {.backend = kiln::Backend::llvm, .fast_math = true});
  auto d = kiln::compile(stage_again(), llvm);
  const auto s2 = kiln::llvm_backend::stats();
  CHECK(s2.compiles + s2.disk_hits == s1.compiles + s1.disk_hits + 1);
  CHECK(s2.memory_hits == s1.memory_hits + 1);
  std::vector<int64_t> x = {1};
  a(x);
  b(x);
  c(x);
  d(x);
  CHECK(x[0] == ((1 * 5 + salt) * 5 + salt) * 25 + salt * 6);
}
#endif

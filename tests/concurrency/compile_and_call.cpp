// Compiling and calling from eight threads at once, on every CPU backend,
// with the disk cache on (a fresh KILN_CACHE_DIR): one staged function
// compiled by all threads is compiled once and its kernel shared; different
// functions are compiled once each; one compiled kernel called by all
// threads at once gives each its own results. Every result is checked
// against the interpreter's, computed on the test thread.
#include "backends/cxx/cxx_backend.h"
#if KILN_HAVE_LLVM
#include "backends/llvm/llvm_backend.h"
#endif

#include "backends/environment.h"
#include "support.h"
#include "threads.h"

#include <span>
#include <utility>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::FreshCache;
using kiln::test::on_threads;
using kiln::test::test_threads;

namespace {

const kiln::Options interp{.backend = kiln::Backend::interp};
const kiln::Options llvm{.backend = kiln::Backend::llvm};
const kiln::Options cxx{.backend = kiln::Backend::cxx};

// y[i] = x[i] * a + salt + i % 7 (through a staged call), and the sum of y:
// a loop, a call, a buffer written and a result. `salt` makes the IR, and
// so the compiled object, one of its own.
auto kernel(int64_t salt) {
  auto bump = kiln::stage("bump", [](Rep<int64_t> i) { return kiln::cast<double>(i % 7); });
  return kiln::stage("kernel", {"x", "y", "a"}, [salt, bump](Arr<const double> x, Arr<double> y, Rep<double> a) {
    Rep<double> sum = 0.0;
    kiln::for_(0, y.size(), [&](Rep<int64_t> i) {
      y[i] = x[i] * a + double(salt) + bump(i);
      sum += y[i];
    });
    return sum;
  });
}
using Kernel = decltype(kernel(0));

// What a call of a kernel leaves: its result and the buffer it wrote.
struct Outcome {
  double sum = 0;
  std::vector<double> y;
  bool operator==(const Outcome&) const = default;
};

// Thread t's inputs, different for each thread and round.
template <class Run>
Outcome call(const Run& run, int t, int round = 0) {
  std::vector<double> x(301), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25 * static_cast<double>(i) - t + round;
  const double sum = run(std::span<const double>(x), std::span<double>(y), 1.5 + t);
  return {sum, y};
}

// The interpreter's outcome of each thread's calls, computed on this thread.
std::vector<std::vector<Outcome>> expected(const Kernel& f, int rounds) {
  auto oracle = kiln::compile(f, interp);
  std::vector<std::vector<Outcome>> out(test_threads);
  for (int t = 0; t < test_threads; ++t)
    for (int round = 0; round < rounds; ++round) out[t].push_back(call(oracle, t, round));
  return out;
}

// Every thread compiles `f` with `opts` and calls it `rounds` times; the
// number of outcomes that differ from the interpreter's.
int wrong_when_all_threads_compile(const Kernel& f, const kiln::Options& opts, int rounds) {
  const auto want = expected(f, rounds);
  std::vector<int> wrong(test_threads, 0);
  on_threads(test_threads, [&](int t) {
    auto run = kiln::compile(f, opts);
    for (int round = 0; round < rounds; ++round) wrong[t] += !(call(run, t, round) == want[t][round]);
  });
  int total = 0;
  for (int w : wrong) total += w;
  return total;
}

// One compiled kernel called by every thread at once.
int wrong_when_all_threads_call(const Kernel& f, const kiln::Options& opts, int rounds) {
  const auto want = expected(f, rounds);
  auto run = kiln::compile(f, opts);
  std::vector<int> wrong(test_threads, 0);
  on_threads(test_threads, [&](int t) {
    for (int round = 0; round < rounds; ++round) wrong[t] += !(call(run, t, round) == want[t][round]);
  });
  int total = 0;
  for (int w : wrong) total += w;
  return total;
}

// Each thread compiles and calls a function of its own (salt + t).
int wrong_when_each_thread_compiles_its_own(int64_t salt, const kiln::Options& opts, int rounds) {
  std::vector<Kernel> fs;
  std::vector<std::vector<std::vector<Outcome>>> want;
  for (int t = 0; t < test_threads; ++t) {
    fs.push_back(kernel(salt + t));
    want.push_back(expected(fs.back(), rounds));
  }
  std::vector<int> wrong(test_threads, 0);
  on_threads(test_threads, [&](int t) {
    for (int round = 0; round < rounds; ++round)
      wrong[t] += !(call(kiln::compile(fs[t], opts), t, round) == want[t][t][round]);
  });
  int total = 0;
  for (int w : wrong) total += w;
  return total;
}

}  // namespace

TEST_CASE("interp: eight threads compiling and calling one function, or one each, get the interpreter's results",
          "[concurrency][interp]") {
  CHECK(wrong_when_all_threads_compile(kernel(100), interp, 4) == 0);
  CHECK(wrong_when_all_threads_call(kernel(101), interp, 4) == 0);
  CHECK(wrong_when_each_thread_compiles_its_own(110, interp, 2) == 0);
}

#if KILN_HAVE_LLVM
TEST_CASE("llvm: eight threads compiling one staged function at once share one compile", "[concurrency][llvm]") {
  FreshCache cache;
  const Kernel f = kernel(1000);
  const auto s0 = kiln::llvm_backend::stats();
  CHECK(wrong_when_all_threads_compile(f, llvm, 4) == 0);
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.compiles == s0.compiles + 1);
  CHECK(s1.disk_hits == s0.disk_hits);  // a fresh cache directory
}

TEST_CASE("llvm: eight threads calling one compiled kernel at once each get their own results", "[concurrency][llvm]") {
  FreshCache cache;
  CHECK(wrong_when_all_threads_call(kernel(1100), llvm, 20) == 0);
}

TEST_CASE("llvm: eight threads compiling a function each compile each once", "[concurrency][llvm]") {
  FreshCache cache;
  const auto s0 = kiln::llvm_backend::stats();
  CHECK(wrong_when_each_thread_compiles_its_own(1200, llvm, 3) == 0);
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.compiles == s0.compiles + test_threads);
  CHECK(s1.memory_hits >= s0.memory_hits);
}

TEST_CASE("llvm: eight threads compiling one function with four kinds of Options at once get one kernel per kind",
          "[concurrency][llvm]") {
  FreshCache cache;
  // Integers: fast_math changes no result.
  auto f = kiln::stage("ints", {"x", "y", "s"}, [](Arr<const int64_t> x, Arr<int64_t> y, Rep<int64_t> s) {
    kiln::for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = x[i] * 3 + s * i - 77; });
  });
  const std::vector<kiln::Options> kinds = {
      llvm,
      {.backend = kiln::Backend::llvm, .fast_math = true},  // first use of the vector math library's name
      {.backend = kiln::Backend::llvm, .assume_no_alias = true},
      {.backend = kiln::Backend::llvm, .optimize = false}};
  std::vector<int64_t> x(129);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int64_t>(i * i % 31);
  auto run = [&](const auto& g, int t) {
    std::vector<int64_t> y(x.size());
    g(std::span<const int64_t>(x), std::span<int64_t>(y), t);
    return y;
  };
  std::vector<std::vector<int64_t>> want(test_threads), got(test_threads);
  auto oracle = kiln::compile(f, interp);
  for (int t = 0; t < test_threads; ++t) want[t] = run(oracle, t);
  const auto s0 = kiln::llvm_backend::stats();
  on_threads(test_threads, [&](int t) { got[t] = run(kiln::compile(f, kinds[t % kinds.size()]), t); });
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(got == want);
  // assume_no_alias compiles the noalias object the default makes too.
  CHECK(s1.compiles == s0.compiles + 3);
}

TEST_CASE("llvm: threads calling one kernel with overlapping buffers at once compile its alias-safe variant once",
          "[concurrency][llvm]") {
  FreshCache cache;
  // y[i] = x[i - 1] * 2 + s: with y one element past x, each iteration
  // reads what the one before wrote.
  auto f = kiln::stage("shift", {"x", "y", "s"}, [](Arr<const int64_t> x, Arr<int64_t> y, Rep<int64_t> s) {
    kiln::for_(1, y.size(), [&](Rep<int64_t> i) { y[i] = x[i - 1] * 2 + s; });
  });
  auto run = kiln::compile(f, llvm);
  auto oracle = kiln::compile(f, interp);
  auto shifted = [](const auto& g, std::vector<int64_t>& v, int64_t s) {
    g(std::span<const int64_t>(v.data(), 60), std::span<int64_t>(v.data() + 1, 60), s);
  };
  auto start = [](int t) {
    std::vector<int64_t> v(61);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i) % 5 + t;
    return v;
  };
  std::vector<std::vector<int64_t>> want(test_threads), got(test_threads);
  for (int t = 0; t < test_threads; ++t) {
    want[t] = start(t);
    shifted(oracle, want[t], t);
  }
  const auto s0 = kiln::llvm_backend::stats();
  on_threads(test_threads, [&](int t) {
    got[t] = start(t);
    shifted(run, got[t], t);
  });
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(got == want);
  CHECK(s1.compiles == s0.compiles + 1);
}
#endif

TEST_CASE("cxx: eight threads compiling and calling two functions at once run the compiler once for each",
          "[concurrency][cxx]") {
  FreshCache cache;
  const Kernel f = kernel(5000), g = kernel(5001);
  const auto want_f = expected(f, 1), want_g = expected(g, 1);
  const kiln::cxx::Stats s0 = kiln::cxx::stats();
  std::vector<int> wrong(test_threads, 0);
  // Kernels stay alive until every thread is done: a library nobody holds
  // is unloaded, and the next compile would find it on disk instead.
  std::vector<std::vector<decltype(kiln::compile(f, cxx))>> kept(test_threads);
  on_threads(test_threads, [&](int t) {
    // Half the threads ask for f first, half for g.
    const bool f_first = t % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      const bool is_f = (k == 0) == f_first;
      kept[t].push_back(kiln::compile(is_f ? f : g, cxx));
      wrong[t] += !(call(kept[t].back(), t) == (is_f ? want_f : want_g)[t][0]);
    }
  });
  const kiln::cxx::Stats s1 = kiln::cxx::stats();
  CHECK(wrong == std::vector<int>(test_threads, 0));
  CHECK(s1.compiles == s0.compiles + 2);
  CHECK(s1.disk_hits == s0.disk_hits);  // a fresh cache directory
  CHECK(s1.memory_hits == s0.memory_hits + 2 * test_threads - 2);
}

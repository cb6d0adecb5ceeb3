// The thread pool under compiled parallel_for_ (Backend::llvm runs it on the
// pool; the interpreter and the C++ backend run its iterations in order):
// a parallel_for_ body calling a staged function with a parallel_for_ of its
// own, application threads calling parallel kernels at once, traps from
// several callers at once, and the pool resized while loops run. Results
// are exact: integers, checked against the interpreter.
#include "backends/runtime/thunks.h"

#include "support.h"
#include "threads.h"

#include <atomic>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;
using kiln::test::on_threads;
using kiln::test::test_threads;
using kiln::test::ThreadCount;

#if KILN_HAVE_LLVM
namespace {

const kiln::Options interp{.backend = kiln::Backend::interp};
const kiln::Options llvm{.backend = kiln::Backend::llvm};
// The staged call stays a call: the inner loop runs inside an outer chunk.
const kiln::Options llvm_no_inlining{.backend = kiln::Backend::llvm, .passes = {.inline_calls = false}};

// grid(m, rows, cols): a parallel_for_ over rows whose body calls row(),
// which fills its row in a parallel_for_ of its own.
auto grid_kernel() {
  auto row = kiln::stage("row", {"m", "r", "cols"}, [](Arr<int64_t> m, Rep<int64_t> r, Rep<int64_t> cols) {
    kiln::parallel_for_(0, cols, [&](Rep<int64_t> j) { m[r * cols + j] = r * 1000 + j * 3 - j % 5; });
  });
  return kiln::stage("grid", {"m", "rows", "cols"}, [row](Arr<int64_t> m, Rep<int64_t> rows, Rep<int64_t> cols) {
    kiln::parallel_for_(0, rows, [&](Rep<int64_t> r) { row(m, r, cols); });
  });
}

std::vector<int64_t> grid_of(const auto& run, int64_t rows, int64_t cols) {
  std::vector<int64_t> m(static_cast<size_t>(rows * cols), -1);
  run(std::span<int64_t>(m), rows, cols);
  return m;
}

}  // namespace

TEST_CASE("a parallel_for_ body calling a staged function with its own parallel_for_ gives exact results",
          "[concurrency][parallel_for]") {
  ThreadCount threads(4);
  auto f = grid_kernel();
  const auto want = grid_of(kiln::compile(f, interp), 64, 301);
  CHECK(grid_of(kiln::compile(f, llvm), 64, 301) == want);  // inlined: nested loops in one function
  CHECK(grid_of(kiln::compile(f, llvm_no_inlining), 64, 301) == want);
}

TEST_CASE("eight application threads calling parallel kernels at once get exact results",
          "[concurrency][parallel_for]") {
  ThreadCount threads(4);
  auto f = grid_kernel();
  auto oracle = kiln::compile(f, interp);
  auto inlined = kiln::compile(f, llvm), called = kiln::compile(f, llvm_no_inlining);
  constexpr int rounds = 10;
  auto rows_of = [](int t, int round) { return int64_t{16} + t * 3 + round; };
  std::vector<std::vector<std::vector<int64_t>>> want(test_threads);
  for (int t = 0; t < test_threads; ++t)
    for (int round = 0; round < rounds; ++round) want[t].push_back(grid_of(oracle, rows_of(t, round), 97));
  std::vector<int> wrong(test_threads, 0);
  on_threads(test_threads, [&](int t) {
    for (int round = 0; round < rounds; ++round) {
      const auto& run = round % 2 == 0 ? inlined : called;
      wrong[t] += grid_of(run, rows_of(t, round), 97) != want[t][round];
    }
  });
  CHECK(wrong == std::vector<int>(test_threads, 0));
}

TEST_CASE("traps in a parallel kernel called from several threads at once reach each its own caller",
          "[concurrency][parallel_for]") {
  ThreadCount threads(4);
  auto f = kiln::stage("par", {"x", "d"}, [](Arr<int64_t> x, Rep<int64_t> d) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = i * 3 + 100 / (i - d); });  // traps at i == d
  });
  auto run = kiln::compile(f, llvm);
  std::vector<int64_t> want(5000);
  kiln::compile(f, interp)(std::span<int64_t>(want), -1);
  std::vector<std::string> messages(test_threads);
  std::vector<int> wrong(test_threads, 0);
  on_threads(test_threads, [&](int t) {
    for (int round = 0; round < 10; ++round) {
      std::vector<int64_t> x(want.size());
      const bool traps = (t + round) % 2 == 0;
      try {
        run(std::span<int64_t>(x), traps ? 37 * t + round : -1);
        wrong[t] += traps || x != want;
      } catch (const kiln::RuntimeError& e) {
        wrong[t] += !traps;
        messages[t] = e.what();
      }
    }
  });
  CHECK(wrong == std::vector<int>(test_threads, 0));
  for (const std::string& m : messages) CHECK_THAT(m, Contains("integer division by zero in @par"));
}

TEST_CASE("the pool resized while application threads run parallel kernels completes every loop exactly",
          "[concurrency][parallel_for]") {
  ThreadCount restore(2);
  auto f = grid_kernel();
  auto run = kiln::compile(f, llvm_no_inlining);
  const auto want = grid_of(kiln::compile(f, interp), 40, 53);
  std::atomic<bool> stop{false};
  std::thread resizer([&] {
    for (int n = 0; !stop; ++n) {
      kiln::runtime::set_thread_count(1 + n % 4);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  std::vector<int> wrong(4, 0);
  on_threads(4, [&](int t) {
    for (int round = 0; round < 20; ++round) wrong[t] += grid_of(run, 40, 53) != want;
  });
  stop = true;
  resizer.join();
  CHECK(wrong == std::vector<int>(4, 0));
}
#endif

// Backend::llvm: results, traps (also from parallel_for workers), thread
// counts, the kernel cache (memory, disk across processes, corruption,
// concurrent compiles), KILN_EXPLAIN_CACHE and KILN_DUMP=llvm,asm. The
// differential checks of every interpreter test (tests/support.h) and
// kiln-fuzz cover the semantics op by op.
#include "backends/llvm/llvm_backend.h"
#include "backends/runtime/thread_pool.h"

#include "backends/environment.h"
#include "support.h"

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using kiln::test::FreshCache;
using kiln::test::ScopedEnv;
using kiln::test::stderr_of;

const kiln::Options llvm{.backend = kiln::Backend::llvm};

// A function no other test compiles: `salt` makes its IR unique.
auto unique_kernel(int64_t salt) {
  return kiln::stage("unique", {"x"}, [salt](Arr<int64_t> x) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] * 7 + salt; });
  });
}

}  // namespace

TEST_CASE("llvm backend: results, tuples and traps", "[llvm]") {
  auto f = kiln::stage("mix", {"flag", "n", "x"}, [](Rep<bool> flag, Rep<int32_t> n, Arr<double> x) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = kiln::sqrt(x[i]) + kiln::cast<double>(n); });
    return std::make_tuple(!flag, n * 65536 * 65536 + n, kiln::cast<int64_t>(kiln::cast<double>(n) * 1e30));
  });
  auto run = kiln::compile(f, llvm);
  std::vector<double> x = {4.0, 9.0};
  auto [b, w, big] = run(true, 7, x);
  CHECK(b == false);
  CHECK(w == 7);
  CHECK(big == INT64_MAX);  // saturating conversion
  CHECK(x == std::vector<double>{9.0, 10.0});

  auto div = kiln::stage("div", {"a", "b"}, [](Rep<int64_t> a, Rep<int64_t> b) { return a % b + a / b; });
  auto d = kiln::compile(div, llvm);
  CHECK(d(INT64_MIN, -1) == INT64_MIN);
  auto msg = kiln::test::error_message<kiln::RuntimeError>([&] { d(1, 0); });
  CHECK_THAT(msg, Contains("by zero in @div") && Contains("llvm_backend.cpp:"));
}

TEST_CASE("llvm backend: parallel_for gives the same result on any number of threads, and traps reach the caller",
          "[llvm][concurrency]") {
  auto f = kiln::stage("par", {"x", "d"}, [](Arr<int64_t> x, Rep<int64_t> d) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<int64_t> acc = 0;
      kiln::for_(0, i % 17, [&](Rep<int64_t> j) { acc += j * i; });
      x[i] = acc + 100 / (i - d);  // traps where i == d
    });
  });
  auto run = kiln::compile(f, llvm);
  auto check = kiln::test::interp(f);
  const int before = kiln::runtime::thread_count();
  for (int threads : {1, 2, 4}) {
    kiln::runtime::set_thread_count(threads);
    std::vector<int64_t> a(10000), b(10000);
    run(a, -1);
    check(b, -1);
    CHECK(a == b);
    auto msg = kiln::test::error_message<kiln::RuntimeError>([&] { run(a, 5000); });
    CHECK_THAT(msg, Contains("integer division by zero in @par"));
  }
  kiln::runtime::set_thread_count(before);
}

TEST_CASE("llvm backend: buffers are compiled noalias; a call whose written buffer overlaps another runs an "
          "alias-safe variant, compiled once",
          "[llvm][alias]") {
  // y[i] = x[i - 1] * 2 + s: when y is x shifted by nothing, every iteration
  // reads what the one before wrote (a recurrence the interpreter follows).
  const int64_t salt = 5000 + getpid();
  auto f = kiln::stage("shift", {"x", "y", "s"}, [](Arr<const int64_t> x, Arr<int64_t> y, Rep<int64_t> s) {
    kiln::for_(1, y.size(), [&](Rep<int64_t> i) { y[i] = x[i - 1] * 2 + s; });
  });
  auto run = kiln::compile(f, llvm);
  // The interpreter itself (the differential checker copies each backend's
  // buffers, which would undo the overlap).
  auto check = kiln::compile(f, {.backend = kiln::Backend::interp});
  auto plain = [](std::span<const int64_t> x, std::span<int64_t> y, int64_t s) {
    for (size_t i = 1; i < y.size(); ++i) y[i] = x[i - 1] * 2 + s;
  };
  const auto s0 = kiln::llvm_backend::stats();

  std::vector<int64_t> x(100), y(100), z(100);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int64_t>(i * i % 13);
  run(x, y, salt);  // distinct buffers: the noalias code
  plain(x, z, salt);
  CHECK(y == z);
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.compiles + s1.disk_hits == s0.compiles + s0.disk_hits);

  for (size_t offset : {0, 1, 3, 40}) {
    std::vector<int64_t> a = x, b = x, c = x;
    const std::span<const int64_t> in(a.data(), 60);
    run(in, std::span<int64_t>(a.data() + offset, 60), salt);
    check(std::span<const int64_t>(b.data(), 60), std::span<int64_t>(b.data() + offset, 60), salt);
    plain(std::span<const int64_t>(c.data(), 60), std::span<int64_t>(c.data() + offset, 60), salt);
    CHECK(a == c);
    CHECK(b == c);
  }
  // Disjoint sub-spans of one vector do not overlap: the noalias code again.
  std::vector<int64_t> w = x, v = x;
  run(std::span<const int64_t>(w.data(), 50), std::span<int64_t>(w.data() + 50, 50), salt);
  plain(std::span<const int64_t>(v.data(), 50), std::span<int64_t>(v.data() + 50, 50), salt);
  CHECK(w == v);
  const auto s2 = kiln::llvm_backend::stats();
  CHECK(s2.compiles + s2.disk_hits == s1.compiles + s1.disk_hits + 1);  // the alias-safe variant, once

  // Read-only buffers may overlap each other without the variant.
  auto g = kiln::stage("sum2", {"p", "q", "out"}, [salt](Arr<const double> p, Arr<const double> q, Arr<double> out) {
    kiln::for_(0, out.size(), [&](Rep<int64_t> i) { out[i] = p[i] + q[i] + double(salt); });
  });
  auto sum2 = kiln::compile(g, llvm);
  const auto s3 = kiln::llvm_backend::stats();
  std::vector<double> p = {1, 2, 3}, out(3);
  sum2(p, p, out);
  CHECK(out == std::vector<double>{2 + double(salt), 4 + double(salt), 6 + double(salt)});
  const auto s4 = kiln::llvm_backend::stats();
  CHECK(s4.compiles + s4.disk_hits == s3.compiles + s3.disk_hits);
}

TEST_CASE("llvm backend: a second compile of the same program is a memory hit", "[llvm][cache]") {
  const auto s0 = kiln::llvm_backend::stats();
  auto a = kiln::compile(unique_kernel(1000 + getpid()), llvm);
  auto b = kiln::compile(unique_kernel(1000 + getpid()), llvm);  // staged again: the same IR
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.compiles + s1.disk_hits == s0.compiles + s0.disk_hits + 1);
  CHECK(s1.memory_hits == s0.memory_hits + 1);
  std::vector<int64_t> x = {1, 2};
  a(x);
  b(x);
  CHECK(x == std::vector<int64_t>{49 + 8 * (1000 + getpid()), 98 + 8 * (1000 + getpid())});
}

TEST_CASE("llvm backend: another process finds the object on disk; a corrupt entry is rebuilt", "[llvm][cache]") {
  FreshCache cache;
  const int64_t salt = 2000 + getpid();
  REQUIRE(kiln::test::in_child([&] {  // compiles and stores
    kiln::compile(unique_kernel(salt), llvm);
    return kiln::llvm_backend::stats().compiles >= 1;
  }));

  const auto s0 = kiln::llvm_backend::stats();
  auto run = kiln::compile(unique_kernel(salt), llvm);
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.disk_hits == s0.disk_hits + 1);
  CHECK(s1.compiles == s0.compiles);
  std::vector<int64_t> x = {1};
  run(x);
  CHECK(x[0] == 7 + salt);

  // Flip a byte in every entry: the next process must rebuild, not crash.
  for (const auto& e : fs::directory_iterator(cache.dir / "llvm")) {
    std::fstream file(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(e.path()) / 2));
    file.put('\x5a');
  }
  CHECK(kiln::test::in_child([&] {
    const auto c0 = kiln::llvm_backend::stats();
    auto again = kiln::compile(unique_kernel(salt + 1), llvm);  // new in this process: goes to disk
    std::vector<int64_t> y = {1};
    again(y);
    const auto c1 = kiln::llvm_backend::stats();
    return y[0] == 8 + salt && c1.compiles == c0.compiles + 1;
  }));
}

TEST_CASE("llvm backend: threads compiling the same program at once share one compile", "[llvm][cache][concurrency]") {
  const int64_t salt = 3000 + getpid();
  const auto s0 = kiln::llvm_backend::stats();
  std::vector<std::thread> threads;
  std::vector<int64_t> results(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      auto run = kiln::compile(unique_kernel(salt), llvm);  // each thread stages its own copy
      std::vector<int64_t> x = {t};
      run(x);
      results[static_cast<size_t>(t)] = x[0];
    });
  for (auto& t : threads) t.join();
  const auto s1 = kiln::llvm_backend::stats();
  CHECK(s1.compiles + s1.disk_hits == s0.compiles + s0.disk_hits + 1);
  for (int t = 0; t < 8; ++t) CHECK(results[static_cast<size_t>(t)] == 7 * t + salt);
}

TEST_CASE("llvm backend: KILN_EXPLAIN_CACHE says why a lookup missed", "[llvm][cache]") {
  FreshCache cache;
  kiln::compile(unique_kernel(4000 + getpid()), llvm);
  std::string text = stderr_of([&] {
    ScopedEnv explain("KILN_EXPLAIN_CACHE", "1");
    kiln::compile(unique_kernel(4001 + getpid()), llvm);
  });
  CHECK_THAT(text, Contains("cache miss for @unique") && Contains("\"ir\" differs"));
}

TEST_CASE("llvm backend: KILN_DUMP=llvm,asm prints LLVM IR before and after optimisation and the machine code",
          "[llvm]") {
  auto f = kiln::stage("dumped", {"v"}, [](Rep<double> v) { return v * 0.25 + double(getpid()); });
  std::string text = stderr_of([&] {
    ScopedEnv dump("KILN_DUMP", "llvm,asm");
    CHECK(kiln::compile(f, llvm)(4.0) == 1.0 + getpid());
  });
  CHECK_THAT(text, Contains("LLVM IR for @dumped before optimisation") && Contains("define internal double @kiln.fn.dumped") &&
                       Contains("after optimisation") && Contains("machine code for @dumped") && Contains("kiln_call"));
}

TEST_CASE("llvm backend: under fast_math loops calling exp and tanh vectorise into libmvec; by default they call "
          "the scalar C library, bit for bit the interpreter's",
          "[llvm][fast_math]") {
  // getpid() makes the IR unique, so this process compiles it (no cache hit
  // from an earlier run skips the dump).
  const float salt = static_cast<float>(getpid() % 1000) * 1e-6f;
  auto f = kiln::stage("vecmath", {"x", "y"}, [salt](Arr<const float> x, Arr<float> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = kiln::tanh(x[i]) + kiln::exp(x[i] * 0.5f) + salt; });
  });
  std::vector<float> x(1003), want(x.size()), got(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = -6.0f + 12.0f * static_cast<float>(i) / static_cast<float>(x.size());
  kiln::compile(f, {.backend = kiln::Backend::interp})(std::span<const float>(x), std::span<float>(want));

  SECTION("default Options: scalar calls, bit-identical") {
    std::string text = stderr_of([&] {
      ScopedEnv dump("KILN_DUMP", "llvm");
      kiln::compile(f, llvm)(std::span<const float>(x), std::span<float>(got));
    });
    CHECK(got == want);
    CHECK_THAT(text, Contains("call float @tanhf") && Contains("nobuiltin"));
    CHECK(text.find("_ZGV") == std::string::npos);
  }
  SECTION("fast_math: vector calls, within a few ulp") {
    std::string text = stderr_of([&] {
      ScopedEnv dump("KILN_DUMP", "llvm");
      kiln::compile(f, {.backend = kiln::Backend::llvm, .fast_math = true})(std::span<const float>(x),
                                                                            std::span<float>(got));
    });
    for (size_t i = 0; i < x.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-5).margin(1e-6));
    if (kiln::llvm_backend::vector_math_library().empty()) {
      WARN("libmvec.so.1 cannot be loaded here: fast_math loops keep scalar calls");
    } else {
      CHECK_THAT(text, Contains("_ZGV") && Contains("_tanhf") && Contains("_expf"));
    }
  }
}

TEST_CASE("llvm backend: a nested float min/max of one constant keeps kiln's tie and NaN rules (LLVM folds it "
          "unsoundly; kiln-fuzz seed 258542), and still vectorises",
          "[llvm]") {
  // kiln's min(a, b) is `b < a ? b : a` and max(a, b) is `a < b ? b : a`:
  // a tie (-0.0 against 0.0) and an unordered compare keep the first operand.
  // LLVM 19 folds min(0.0, min(p, 0.0)) to min(p, 0.0), which returns -0.0
  // for p = -0.0 (kiln: 0.0), and min(1.0, min(p, 1.0)) likewise for p = NaN.
  // Every nesting of min and max, both operand orders, three constants.
  auto op = [](bool is_min, Rep<float> a, Rep<float> b) { return is_min ? kiln::min(a, b) : kiln::max(a, b); };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> inputs = {nan, -0.0f, 0.0f, 1.0f, -1.0f, 2.0f};
  auto bits = [](float v) { return std::isnan(v) ? 0x7fc00000u : std::bit_cast<uint32_t>(v); };
  int cases = 0;
  for (float c : {0.0f, -0.0f, 1.0f})
    for (int shape = 0; shape < 16; ++shape) {
      const bool outer_min = shape & 1, inner_min = shape & 2, inner_p_first = shape & 4, outer_m_first = shape & 8;
      auto f = kiln::stage("nested_minmax", {"p"}, [&](Rep<float> p) {
        Rep<float> m = inner_p_first ? op(inner_min, p, c) : op(inner_min, c, p);
        return outer_m_first ? op(outer_min, m, c) : op(outer_min, c, m);
      });
      auto want = kiln::compile(f, {.backend = kiln::Backend::interp});
      auto got = kiln::compile(f, llvm);
      for (float p : inputs) {
        INFO("constant " << c << ", shape " << shape << ", p = " << p);
        CHECK(bits(got(p)) == bits(want(p)));
        ++cases;
      }
    }
  CHECK(cases == 3 * 16 * 6);

  // The same fold inside a loop, which must still vectorise (relu-like max
  // on a zero constant is everywhere in models).
  auto loop = kiln::stage("nested_minmax_loop", {"x"}, [](Arr<float> x) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = kiln::min(0.0f, kiln::min(x[i], 0.0f)) + kiln::max(x[i], 0.0f); });
  });
  std::vector<float> x(1000), want(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 5 == 0 ? -0.0f : i % 7 == 0 ? nan : static_cast<float>(i % 11) - 5.0f;
  want = x;
  kiln::compile(loop, {.backend = kiln::Backend::interp})(std::span<float>(want));
  kiln::compile(loop, llvm)(std::span<float>(x));
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("element " << i);
    CHECK(bits(x[i]) == bits(want[i]));
  }
  std::string text = kiln::llvm_backend::llvm_ir(loop.module(), llvm);
  CHECK_THAT(text, Contains("x float>") && Contains("asm"));
}

TEST_CASE("llvm backend: a float min/max of constants that reach it through a loop's initial values keeps kiln's "
          "tie and NaN rules once LLVM unrolls the loop",
          "[llvm]") {
  // Two accumulators starting at 0.0, min'd (or max'd) into each other over
  // two iterations: LLVM unrolls the loop, the initial 0.0s become constant
  // operands, and InstCombine folded the nested min/max as in the test
  // above (18 wrong results of 100 before the phis' constants were made
  // opaque too). The same rule covers an if_'s constant results.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> inputs = {nan, -0.0, 0.0, 1.0, -1.0};
  auto bits = [](double v) { return std::isnan(v) ? uint64_t{0x7ff8000000000000} : std::bit_cast<uint64_t>(v); };
  for (int shape = 0; shape < 4; ++shape) {
    auto f = kiln::stage("phi_minmax", [shape](Arr<const double> x) {
      auto op = [](bool is_min, Rep<double> a, Rep<double> b) { return is_min ? kiln::min(a, b) : kiln::max(a, b); };
      Rep<double> lo1 = 0.0, lo2 = 0.0;
      kiln::for_(0, 2, [&](Rep<int64_t> i) {
        lo1 = op(shape & 1, x[i], lo1);
        lo2 = op(shape & 2, lo2, lo1);
      });
      return lo2;
    });
    auto want = kiln::compile(f, {.backend = kiln::Backend::interp});
    auto got = kiln::compile(f, llvm);
    for (double p : inputs)
      for (double q : inputs) {
        INFO("shape " << shape << ", x = {" << p << ", " << q << "}");
        std::vector<double> x = {p, q};
        CHECK(bits(got(std::span<const double>(x))) == bits(want(std::span<const double>(x))));
      }
  }
}

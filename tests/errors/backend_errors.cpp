// Misuse around backends: a backend this kiln or this machine lacks, a
// toolchain that cannot compile, and a cache directory kiln cannot use.
// Each case throws the kiln exception it should, naming this file's line of
// the kiln call that failed (compile(), the call, source()) and saying what
// to do (docs/errors.md lists them).
#include <catch2/catch.hpp>

#include "errors/misuse.h"
#include "support.h"

#include <kiln/cuda.h>
#include <kiln/export.h>
#include <kiln/tensor.h>

#include <atomic>
#include <span>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::Backend;
using kiln::CompileError;
using kiln::Rep;
using kiln::test::expect_misuse;
using kiln::test::ScopedEnv;

namespace {

/// A program no other test compiles (a constant of its own), so that no
/// kernel cache in the process already holds it and the backend runs.
kiln::Staged<void(std::span<float>)> fresh_program() {
  static std::atomic<int> serial{0};
  const float k = 1000.0f + static_cast<float>(serial++) + 0.25f;
  return kiln::stage("fresh", [k](Arr<float> x) { x[0] = x[0] * k; });
}

}  // namespace

// --- a backend this kiln or this machine does not have -------------------------------------

TEST_CASE("misuse: asking for a backend that is not built into this kiln", "[errors][backend]") {
  auto f = kiln::stage("id", [](Rep<int32_t> x) { return x; });
  bool checked = false;
  for (auto [b, name] : {std::pair{Backend::llvm, "llvm"}, std::pair{Backend::cuda, "cuda"}}) {
    if (kiln::available(b)) continue;
    int line = 0;
    auto msg = expect_misuse<CompileError>([&] { line = __LINE__; kiln::compile(f, {.backend = b}); }, line,
                                           "use Backend::interp or Backend::cxx");
    CHECK_THAT(msg, Contains(name));
    checked = true;
  }
  if (!checked) WARN("SKIPPED: every backend is built into this kiln");
}

TEST_CASE("misuse: calling a Backend::cuda function on a machine without a GPU", "[errors][backend][cuda]") {
  if (!kiln::available(Backend::cuda) || kiln::cuda_device_available()) {
    WARN("SKIPPED: this kiln has no CUDA backend, or this machine has a CUDA device");
    return;
  }
  auto f = kiln::stage("scale", [](Arr<float> x) { x[0] = x[0] * 2.0f; });
  auto c = kiln::compile(f, {.backend = Backend::cuda});  // PTX is made without a GPU
  std::vector<float> x = {1.0f};
  int line = 0;
  auto msg = expect_misuse<kiln::RuntimeError>([&] { line = __LINE__; c(std::span<float>(x)); }, line,
                                               "compile for the CPU with Backend::llvm");
  CHECK_THAT(msg, Contains("no CUDA device to run @scale"));
}

TEST_CASE("misuse: making a DeviceArray on a machine without a GPU", "[errors][backend][cuda]") {
  if (kiln::cuda_device_available()) {
    WARN("SKIPPED: this machine has a CUDA device");
    return;
  }
  int line = 0;
  auto msg = expect_misuse<kiln::RuntimeError>([&] { line = __LINE__; kiln::DeviceArray<float> d(4); }, line,
                                               "compile for the CPU with Backend::llvm");
  CHECK_THAT(msg, Contains("no CUDA device"));
}

TEST_CASE("misuse: copying a DeviceArray to a span of another size", "[errors][backend][cuda]") {
  if (!kiln::cuda_device_available()) {
    WARN("SKIPPED: no CUDA device (tests/backends/cuda_mock checks this against a stand-in driver)");
    return;
  }
  kiln::DeviceArray<float> d(4);
  std::vector<float> host(3);
  int line = 0;
  auto msg = expect_misuse<kiln::ShapeError>([&] { line = __LINE__; d.copy_to(host); }, line, "make their sizes equal");
  CHECK_THAT(msg, Contains("a DeviceArray of 4 elements") && Contains("a span of 3"));
}

TEST_CASE("misuse: compiling unlowered tensor ops for a backend other than the interpreter", "[errors][backend]") {
  auto f = kiln::stage("total", [](Arr<const float> a) { return a.tensor({2, 2}).sum_all(); });
  kiln::Options opts{.backend = Backend::cxx};
  opts.passes.lower_tensors = false;
  int line = 0;
  auto msg = expect_misuse<CompileError>([&] { line = __LINE__; kiln::compile(f, opts); }, line,
                                         "compile it with lower_tensors on, or with Backend::interp");
  CHECK_THAT(msg, Contains("keeps its tensor ops"));
}

// --- toolchains that cannot compile ------------------------------------------------------------

TEST_CASE("misuse: a C++ compiler (KILN_CXX) that fails", "[errors][backend][cxx]") {
  ScopedEnv cxx("KILN_CXX", "/bin/false");
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>([&] { line = __LINE__; kiln::compile(f, {.backend = Backend::cxx}); }, line,
                                         "check Options::cxx_flags / KILN_CXX_FLAGS");
  CHECK_THAT(msg, Contains("the C++ compiler failed (exit status 1)") && Contains("kept at"));
}

TEST_CASE("misuse: a C++ compiler (Options::cxx_compiler) that does not exist", "[errors][backend][cxx]") {
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>(
      [&] { line = __LINE__; kiln::compile(f, {.backend = Backend::cxx, .cxx_compiler = "/nonexistent/c++"}); }, line,
      "set KILN_CXX or Options::cxx_compiler to a C++17 compiler");
  CHECK_THAT(msg, Contains("cannot run '/nonexistent/c++'"));
}

TEST_CASE("misuse: a C++ compiler flag (Options::cxx_flags) the compiler rejects", "[errors][backend][cxx]") {
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>(
      [&] { line = __LINE__; kiln::compile(f, {.backend = Backend::cxx, .cxx_flags = "-fno-such-kiln-flag"}); }, line,
      "check Options::cxx_flags / KILN_CXX_FLAGS");
  CHECK_THAT(msg, Contains("-fno-such-kiln-flag"));  // the compiler's log
}

TEST_CASE("misuse: a CUDA architecture that is not one", "[errors][backend][cuda]") {
  if (!kiln::available(Backend::cuda)) {
    WARN("SKIPPED: this kiln has no CUDA backend");
    return;
  }
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>(
      [&] { line = __LINE__; kiln::compile(f, {.backend = Backend::cuda, .cuda_arch = "hopper"}); }, line,
      "use the sm_XY form, e.g. sm_90");
  CHECK_THAT(msg, Contains("\"hopper\" is not a CUDA GPU architecture"));
}

TEST_CASE("misuse: a CUDA architecture NVRTC does not compile for", "[errors][backend][cuda]") {
  if (!kiln::available(Backend::cuda)) {
    WARN("SKIPPED: this kiln has no CUDA backend");
    return;
  }
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>(
      [&] { line = __LINE__; kiln::compile(f, {.backend = Backend::cuda, .cuda_arch = "sm_10"}); }, line,
      "check Options::cuda_arch / KILN_CUDA_ARCH");
  CHECK_THAT(msg, Contains("NVRTC failed") && Contains("source kept at"));
}

TEST_CASE("misuse: exporting PTX for an architecture that is not one", "[errors][backend][cuda]") {
  auto f = fresh_program();
  int line = 0;
  // Without the CUDA toolkit: "exporting PTX needs NVRTC" instead.
  const char* remedy = kiln::available(Backend::cuda) ? "use the sm_XY form" : "export Target::cuda";
  expect_misuse<CompileError>(
      [&] { line = __LINE__; (void)kiln::source(f, kiln::Target::ptx, {.cuda_arch = "sm_bogus"}); }, line, remedy);
}

// --- the kernel cache's directory -----------------------------------------------------------------

TEST_CASE("misuse: KILN_CACHE_DIR under a regular file", "[errors][backend][cache]") {
  ScopedEnv dir("KILN_CACHE_DIR", "/dev/null/kiln");
  ScopedEnv on("KILN_DISK_CACHE", "1");
  for (Backend b : {Backend::llvm, Backend::cxx}) {
    if (!kiln::available(b)) continue;
    INFO((b == Backend::llvm ? "llvm" : "cxx"));
    auto f = fresh_program();
    int line = 0;
    auto msg = expect_misuse<CompileError>([&] { line = __LINE__; kiln::compile(f, {.backend = b}); }, line,
                                           "set KILN_CACHE_DIR to a writable directory");
    CHECK_THAT(msg, Contains("cannot use kiln's cache directory /dev/null/kiln"));
  }
}

TEST_CASE("misuse: KILN_CACHE_DIR naming a regular file", "[errors][backend][cache]") {
  ScopedEnv dir("KILN_CACHE_DIR", "/dev/null");
  ScopedEnv on("KILN_DISK_CACHE", "1");
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>([&] { line = __LINE__; kiln::compile(f, {.backend = Backend::cxx}); }, line,
                                         "set KILN_CACHE_DIR to a writable directory");
  CHECK_THAT(msg, Contains("Not a directory"));
}

TEST_CASE("misuse: KILN_CACHE_MAX_MB that is not a number", "[errors][backend][cache]") {
  if (!kiln::available(Backend::llvm)) {
    WARN("SKIPPED: this kiln has no LLVM backend");
    return;
  }
  ScopedEnv max("KILN_CACHE_MAX_MB", "lots");
  ScopedEnv on("KILN_DISK_CACHE", "1");
  auto f = fresh_program();
  int line = 0;
  auto msg = expect_misuse<CompileError>([&] { line = __LINE__; kiln::compile(f, {.backend = Backend::llvm}); }, line,
                                         "set it to the cache's size limit");
  CHECK_THAT(msg, Contains("KILN_CACHE_MAX_MB=lots"));
}

// Backend::cxx: compiled results, traps, compiler failures, the toolchain
// settings and the object cache.
#include "backends/cxx/cxx_backend.h"

#include "backends/environment.h"
#include "support.h"

#include <filesystem>
#include <fstream>
#include <cstdio>
#include <iterator>
#include <optional>

#include <unistd.h>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using kiln::test::FreshCache;
using kiln::test::ScopedEnv;

const kiln::Options cxx{.backend = kiln::Backend::cxx};

}  // namespace

TEST_CASE("cxx backend: results, tuples, buffers and every scalar type", "[cxx]") {
  auto f = kiln::stage("mix", {"flag", "n", "big", "x", "out"},
                       [](Rep<bool> flag, Rep<int32_t> n, Rep<int64_t> big, Rep<double> x, Arr<float> out) {
                         kiln::for_(0, out.size(), [&](Rep<int64_t> i) { out[i] = kiln::cast<float>(x) * kiln::cast<float>(i); });
                         Rep<int32_t> wrapped = n * 65536 * 65536 + n;  // wraps
                         return std::make_tuple(!flag, wrapped, big + 1, kiln::sqrt(x));
                       });
  auto run = kiln::compile(f, cxx);
  std::vector<float> out(4, -1.0f);
  auto [b, w, g, s] = run(true, 7, INT64_MAX, 2.0, out);
  CHECK(b == false);
  CHECK(w == 7);
  CHECK(g == INT64_MIN);
  CHECK(s == std::sqrt(2.0));
  CHECK(out == std::vector<float>{0.0f, 2.0f, 4.0f, 6.0f});
}

TEST_CASE("cxx backend: a division by zero traps with the interpreter's message", "[cxx]") {
  auto f = kiln::stage("div", {"a", "b"}, [](Rep<int64_t> a, Rep<int64_t> b) { return a / b; });
  auto run = kiln::compile(f, cxx);
  CHECK(run(7, -2) == -3);
  CHECK(run(INT64_MIN, -1) == INT64_MIN);
  auto msg = kiln::test::error_message<kiln::RuntimeError>([&] { run(1, 0); });
  CHECK_THAT(msg, Contains("integer division by zero in @div") && Contains("cxx_backend.cpp:") &&
                      Contains("guard the divisor"));
}

TEST_CASE("cxx backend: a zero loop step traps", "[cxx]") {
  auto f = kiln::stage("stepper", {"step"}, [](Rep<int64_t> step) {
    Rep<int64_t> n = 0;
    kiln::for_(0, 10, step, [&](Rep<int64_t>) { n += 1; });
    return n;
  });
  auto run = kiln::compile(f, cxx);
  CHECK(run(3) == 4);
  CHECK(run(-1) == 0);
  auto msg = kiln::test::error_message<kiln::RuntimeError>([&] { run(0); });
  CHECK_THAT(msg, Contains("loop step is zero"));
}

TEST_CASE("cxx backend: loops near the integer limits neither overflow nor run forever", "[cxx]") {
  auto f = kiln::stage("edge", {"lo", "hi", "step"}, [](Rep<int64_t> lo, Rep<int64_t> hi, Rep<int64_t> step) {
    Rep<int64_t> n = 0;
    kiln::for_(lo, hi, step, [&](Rep<int64_t>) { n += 1; });
    return n;
  });
  auto run = kiln::test::interp(f);  // checks cxx against the interpreter on every call
  CHECK(run(INT64_MAX - 10, INT64_MAX, 3) == 4);
  CHECK(run(INT64_MIN + 10, INT64_MIN, -4) == 3);
  CHECK(run(-5, 5, 1) == 10);
  CHECK(run(INT64_MIN, INT64_MAX, INT64_MAX) == 3);
}

TEST_CASE("cxx backend: a compiler failure is a CompileError with the log and the kept source", "[cxx]") {
  FreshCache cache;
  auto f = kiln::stage("id", {"x"}, [](Rep<int32_t> x) { return x + 1; });
  kiln::Options bad = cxx;
  bad.cxx_flags = "-O2 -fno-such-flag-for-kiln";
  auto msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::compile(f, bad); });
  CHECK_THAT(msg, Contains("the C++ compiler failed") && Contains("-fno-such-flag-for-kiln") && Contains("kept at"));
  std::string path = msg.substr(msg.find("kept at ") + 8);
  path = path.substr(0, path.find(":\n"));
  CHECK(fs::exists(path));
  CHECK(path.ends_with(".cpp"));

  kiln::Options missing = cxx;
  missing.cxx_compiler = "/nonexistent/kiln-c++";
  msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::compile(f, missing); });
  CHECK_THAT(msg, Contains("cannot run") && Contains("/nonexistent/kiln-c++") && Contains("KILN_CXX"));
}

TEST_CASE("cxx backend: compiler and flags come from Options, else the environment", "[cxx]") {
  {
    ScopedEnv cxx_env("KILN_CXX", "my-c++");
    ScopedEnv flags_env("KILN_CXX_FLAGS", "-O1");
    CHECK(kiln::cxx::toolchain({}).compiler == "my-c++");
    CHECK(kiln::cxx::toolchain({}).flags == "-O1");
    CHECK(kiln::cxx::toolchain({.cxx_compiler = "g++", .cxx_flags = "-O2"}).compiler == "g++");
    CHECK(kiln::cxx::toolchain({.cxx_compiler = "g++", .cxx_flags = "-O2"}).flags == "-O2");
  }
  unsetenv("KILN_CXX");
  unsetenv("KILN_CXX_FLAGS");
  CHECK(kiln::cxx::toolchain({}).compiler == "c++");
  CHECK(kiln::cxx::toolchain({}).flags == "-O3 -march=native");
  // Different flags are different objects, both correct.
  auto f = kiln::stage("sq", {"x"}, [](Rep<double> x) { return x * x; });
  CHECK(kiln::compile(f, {.backend = kiln::Backend::cxx, .cxx_flags = "-O0"})(3.0) == 9.0);
  CHECK(kiln::compile(f, {.backend = kiln::Backend::cxx, .cxx_flags = "-O1"})(3.0) == 9.0);
}

TEST_CASE("cxx backend: objects are cached in memory and on disk, and a corrupt file is recompiled", "[cxx]") {
  FreshCache cache;
  auto f = kiln::stage("cached", {"x"}, [](Rep<int64_t> x) { return x * 3 + 1; });
  const kiln::cxx::Stats s0 = kiln::cxx::stats();
  {
    auto a = kiln::compile(f, cxx);
    auto b = kiln::compile(f, cxx);  // loaded already: no compile, no file access
    CHECK(a(2) == 7);
    CHECK(b(2) == 7);
  }
  const kiln::cxx::Stats s1 = kiln::cxx::stats();
  CHECK(s1.compiles == s0.compiles + 1);
  CHECK(s1.memory_hits == s0.memory_hits + 1);
  {
    auto c = kiln::compile(f, cxx);  // unloaded, found on disk
    CHECK(c(5) == 16);
  }
  const kiln::cxx::Stats s2 = kiln::cxx::stats();
  CHECK(s2.compiles == s1.compiles);
  CHECK(s2.disk_hits == s1.disk_hits + 1);

  fs::path so;
  for (const auto& e : fs::directory_iterator(cache.dir / "cxx"))
    if (e.path().extension() == ".so") so = e.path();
  REQUIRE(!so.empty());
  CHECK((fs::status(cache.dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  fs::resize_file(so, 100);  // truncated: dlopen fails, so it is rebuilt
  {
    auto d = kiln::compile(f, cxx);
    CHECK(d(1) == 4);
  }
  CHECK(kiln::cxx::stats().compiles == s2.compiles + 1);
  // A stored source that differs (a hash collision, a stale file) is not trusted either.
  fs::path src = so;
  src.replace_extension(".cpp");
  std::ofstream(src, std::ios::app) << "// changed\n";
  {
    auto e = kiln::compile(f, cxx);
    CHECK(e(0) == 1);
  }
  CHECK(kiln::cxx::stats().compiles == s2.compiles + 2);
}

namespace {

// A gradient through a loop keeps its tape in a std::vector: <vector> is
// worth precompiling. d/dx of x^(n+1) is (n+1) x^n.
auto taped_kernel(const char* name) {
  return kiln::grad(kiln::stage(name, {"x", "n"}, [](Rep<double> x, Rep<int64_t> n) {
    Rep<double> y = x;
    kiln::for_(0, n, [&](Rep<int64_t>) { y = y * x; });
    return y;
  }));
}

}  // namespace

TEST_CASE("cxx backend: standard headers are precompiled on the second compile; a broken one is dropped", "[cxx]") {
  FreshCache cache;
  unsetenv("KILN_CXX_PCH");
  auto gch = [&] {
    for (const auto& e : fs::directory_iterator(cache.dir / "cxx"))
      if (e.path().extension() == ".gch") return e.path();
    return fs::path();
  };
  const kiln::cxx::Stats s0 = kiln::cxx::stats();
  CHECK(kiln::compile(taped_kernel("pch_a"), cxx)(2.0, 2) == 12.0);
  CHECK(kiln::cxx::stats().headers_built == s0.headers_built);  // one kernel: not worth it yet
  CHECK(gch().empty());
  CHECK(kiln::compile(taped_kernel("pch_b"), cxx)(2.0, 3) == 32.0);
  CHECK(kiln::cxx::stats().headers_built == s0.headers_built + 1);
  const fs::path pch = gch();
  REQUIRE(!pch.empty());
  CHECK(kiln::compile(taped_kernel("pch_c"), cxx)(3.0, 1) == 6.0);
  const kiln::cxx::Stats s1 = kiln::cxx::stats();
  CHECK(s1.headers_built == s0.headers_built + 1);
  CHECK(s1.compiles == s0.compiles + 3);
  // A kernel without heavy headers compiles as before: integers, and math and
  // traps, which take no <cmath> or <stdexcept> under GCC and Clang.
  CHECK(kiln::compile(kiln::stage("pch_int", {"n"}, [](Rep<int64_t> n) { return n + 1; }), cxx)(1) == 2);
  for (const char* name : {"pch_math_a", "pch_math_b"}) {
    auto mathy = kiln::stage(name, {"x", "d"}, [](Rep<double> x, Rep<int64_t> d) {
      return kiln::exp(x) + kiln::cast<double>(Rep<int64_t>(7) / d);
    });
    CHECK(kiln::compile(mathy, cxx)(0.0, 7) == 2.0);
    CHECK_THROWS_AS(kiln::compile(mathy, cxx)(0.0, 0), kiln::RuntimeError);
  }
  CHECK(kiln::cxx::stats().compiles == s1.compiles + 3);
  CHECK(kiln::cxx::stats().headers_built == s1.headers_built);
  // Truncated, the header fails the compile: it runs again without, and the file goes.
  fs::resize_file(pch, 1000);
  const kiln::cxx::Stats s2 = kiln::cxx::stats();
  CHECK(kiln::compile(taped_kernel("pch_d"), cxx)(1.0, 5) == 6.0);
  CHECK(kiln::cxx::stats().compiles == s2.compiles + 2);
  CHECK(!fs::exists(pch));
  CHECK(kiln::compile(taped_kernel("pch_e"), cxx)(0.5, 1) == 1.0);
  CHECK(kiln::cxx::stats().compiles == s2.compiles + 3);
  CHECK(kiln::cxx::stats().headers_built == s2.headers_built);  // not again in this process
}

TEST_CASE("cxx backend: KILN_CXX_PCH=0 precompiles nothing", "[cxx]") {
  FreshCache cache;
  ScopedEnv off("KILN_CXX_PCH", "0");
  const kiln::cxx::Stats s0 = kiln::cxx::stats();
  for (const char* name : {"nopch_a", "nopch_b", "nopch_c"}) CHECK(kiln::compile(taped_kernel(name), cxx)(2.0, 2) == 12.0);
  CHECK(kiln::cxx::stats().headers_built == s0.headers_built);
  CHECK(kiln::cxx::stats().compiles == s0.compiles + 3);
}

TEST_CASE("cxx backend: an unusable cache directory is a CompileError naming KILN_CACHE_DIR", "[cxx]") {
  fs::path file = fs::temp_directory_path() / ("kiln-test-not-a-dir-" + std::to_string(getpid()));
  std::ofstream(file) << "x";
  ScopedEnv env("KILN_CACHE_DIR", (file / "cache").string());
  auto f = kiln::stage("nowhere", {"x"}, [](Rep<int32_t> x) { return x - 1; });
  auto msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::compile(f, cxx); });
  CHECK_THAT(msg, Contains("cannot use kiln's cache directory") && Contains("KILN_CACHE_DIR"));
  fs::remove(file);
}

TEST_CASE("cxx backend: KILN_DUMP=cpp prints the generated source to stderr", "[cxx]") {
  auto f = kiln::stage("dumped", {"v"}, [](Rep<double> v) { return v * 0.5; });
  std::string text = kiln::test::stderr_of([&] {
    ScopedEnv dump("KILN_DUMP", "ir,cpp");
    CHECK(kiln::compile(f, cxx)(3.0) == 1.5);
  });
  CHECK_THAT(text, Contains("// ---- C++ for @dumped ----") && Contains("extern \"C\" double dumped(double v) {") &&
                       Contains("// ---- IR after"));
}

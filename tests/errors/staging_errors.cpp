// Misuse of the staging API: each case throws a kiln::Error subclass whose
// message names this file and the line of the misuse, and says what to do.
#include <catch2/catch.hpp>

#include "support.h"

#include <memory>
#include <optional>
#include <span>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Rep;

namespace {

std::string here(int line) { return "staging_errors.cpp:" + std::to_string(line); }

}  // namespace

TEST_CASE("staged control flow outside stage() is a StagingError", "[errors]") {
  int line = __LINE__; auto msg = kiln::test::error_message<kiln::StagingError>([] { kiln::if_(true, [] {}); });
  // The condition is the first thing that needs staging: making it a Rep fails.
  CHECK_THAT(msg, Contains(here(line)) && Contains("outside staging") && Contains("kiln::stage()"));
  line = __LINE__; msg = kiln::test::error_message<kiln::StagingError>([] { kiln::for_(0, 10, [](Rep<int64_t>) {}); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("kiln::for_ outside staging"));
  line = __LINE__; msg = kiln::test::error_message<kiln::StagingError>([] { kiln::while_([] { return Rep<bool>(true); }, [] {}); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("kiln::while_ outside staging"));
}

TEST_CASE("creating a Rep outside staging is a StagingError", "[errors]") {
  int line = __LINE__; auto msg = kiln::test::error_message<kiln::StagingError>([] { Rep<float> x = 1.0f; (void)x; });
  CHECK_THAT(msg, Contains(here(line)) && Contains("outside staging"));
}

TEST_CASE("a Rep that escaped one staged function cannot be used in another", "[errors]") {
  std::optional<Rep<double>> escaped;
  auto first = kiln::stage("first", [&](Rep<double> x) {
    escaped.emplace(x * 2.0);
    return x;
  });
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    auto second = kiln::stage("second", [&](Rep<double> y) {
      line = __LINE__; return y + *escaped;
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("another staged function") && Contains("'second'") &&
                      Contains("pass the value as a parameter"));
}

TEST_CASE("a Rep used after its staging ended is an error, and destroying it is harmless", "[errors]") {
  auto keep = std::make_unique<std::vector<Rep<int64_t>>>();
  auto f = kiln::stage("f", [&](Rep<int64_t> x) {
    keep->push_back(x + 1);
    keep->push_back(x * 3);
    return x;
  });
  int line = __LINE__; auto msg = kiln::test::error_message<kiln::StagingError>([&] { auto y = (*keep)[0] + 1; (void)y; });
  CHECK_THAT(msg, Contains(here(line)) && Contains("outside staging"));
  keep.reset();  // Reps destroyed long after staging: nothing to release, no crash
  CHECK(kiln::test::interp(f)(4) == 4);
}

TEST_CASE("a Rep created inside a region cannot be used after the region", "[errors]") {
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    kiln::stage("leak", [&](Rep<int64_t> x) {
      std::optional<Rep<int64_t>> inner;
      kiln::if_(x > 0, [&] { inner.emplace(x + 1); });
      line = __LINE__; return *inner + 1;
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("staged region that has ended") && Contains("kiln::cond"));
}

TEST_CASE("a loop whose bounds and body index types differ is a StagingError", "[errors]") {
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    kiln::stage("mismatch", [&](Rep<int64_t> n) {
      Rep<int32_t> acc = 0;
      line = __LINE__; kiln::for_(Rep<int64_t>(0), n, [&](Rep<int32_t> i) { acc += i; });
      return acc;
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("loop index type mismatch") && Contains("Rep<int64_t>") &&
                      Contains("Rep<int32_t>"));
}

TEST_CASE("cond branches returning different types is a StagingError", "[errors]") {
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    kiln::stage("mixed", [&](Rep<float> x) {
      line = __LINE__; return kiln::cond(x > 0.0f, [&] { return x; }, [&] { return Rep<int32_t>(0); });
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("different types") && Contains("Rep<float>") &&
                      Contains("Rep<int32_t>"));
}

TEST_CASE("if_ branches that return values are a StagingError", "[errors]") {
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    kiln::stage("returns", [&](Rep<float> x) {
      line = __LINE__; kiln::if_(x > 0.0f, [&] { return x; });
      return x;
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("kiln::cond"));
}

TEST_CASE("assigning an outer Rep inside parallel_for_ is a StagingError", "[errors]") {
  int decl = 0, line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    kiln::stage("racy", [&](kiln::Arr<const float> x) {
      decl = __LINE__; Rep<float> sum = 0.0f;
      line = __LINE__; kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { sum += x[i]; });
      return sum;
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains(here(decl)) && Contains("independent"));
}

TEST_CASE("an out-of-bounds access in the interpreter is a RuntimeError naming the line", "[errors]") {
  int line = 0;
  auto f = kiln::stage("oob", [&](kiln::Arr<const float> x, Rep<int64_t> i) {
    line = __LINE__; return x[i];
  });
  auto c = kiln::test::interp(f);
  std::vector<float> x = {1, 2, 3};
  CHECK(c(std::span<const float>(x), 2) == 3.0f);
  auto msg = kiln::test::error_message<kiln::RuntimeError>([&] { c(std::span<const float>(x), 3); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("index 3 is out of bounds for a buffer of 3 elements"));
  msg = kiln::test::error_message<kiln::RuntimeError>([&] { c(std::span<const float>(x), -1); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("index -1"));
}

TEST_CASE("an out-of-bounds store is caught before it writes", "[errors]") {
  int line = 0;
  auto f = kiln::stage("oob_store", [&](kiln::Arr<int32_t> x) {
    line = __LINE__; x[x.size()] = 1;
  });
  std::vector<int32_t> x = {0, 0};
  auto msg = kiln::test::error_message<kiln::RuntimeError>([&] { kiln::test::interp(f)(std::span<int32_t>(x)); });
  CHECK_THAT(msg, Contains(here(line)) && Contains("store index 2"));
  CHECK(x == std::vector<int32_t>{0, 0});
}

TEST_CASE("calling a declared but undefined staged function is a StagingError", "[errors]") {
  kiln::Staged<int64_t(int64_t)> never;
  auto f = kiln::stage("caller", [&](Rep<int64_t> x) { return never(x); });
  auto msg = kiln::test::error_message<kiln::StagingError>([&] { (void)f.ir(); });
  CHECK_THAT(msg, Contains("never defined") && Contains("kiln::stage"));
}

TEST_CASE("asking for a backend that is not built is a CompileError", "[errors]") {
  auto f = kiln::stage("id", [](Rep<int32_t> x) { return x; });
  bool checked = false;
  for (auto [b, name] : {std::pair{kiln::Backend::llvm, "llvm"}, std::pair{kiln::Backend::cuda, "cuda"}}) {
    if (kiln::available(b)) continue;
    auto msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::compile(f, {.backend = b}); });
    CHECK_THAT(msg, Contains(name) && Contains("Backend::interp"));
    checked = true;
  }
  if (!checked) WARN("SKIPPED: every backend is built into this kiln");
}

TEST_CASE("a moved-from Rep is empty and using it says so", "[errors]") {
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    kiln::stage("moved", [&](Rep<int64_t> x) {
      Rep<int64_t> y = std::move(x);
      line = __LINE__; return x + y;
    });
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("empty"));
}

TEST_CASE("every kiln error derives from kiln::Error", "[errors]") {
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::StagingError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::ShapeError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::RuntimeError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::CompileError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::InternalError>);
}

TEST_CASE("a staged function whose declared callee was destroyed fails clearly", "[errors]") {
  std::optional<kiln::Staged<int64_t(int64_t)>> helper;
  helper.emplace();
  auto f = kiln::stage("orphan", [&](Rep<int64_t> x) { return (*helper)(x); });
  helper.reset();  // declared, never defined, and now gone
  auto msg = kiln::test::error_message<kiln::StagingError>([&] { (void)f.ir(); });
  CHECK_THAT(msg, Contains("called by 'orphan' no longer exists") && Contains("keep every kiln::Staged handle alive"));
}

// Misuse of the staging API, found while staging: type errors, Reps and
// Arrs used outside the staged function they belong to, and staged control
// flow outside kiln::stage(). Each case throws a kiln::StagingError whose
// message names this file and the line of the misuse, and says what to do
// (docs/errors.md lists them).
#include <catch2/catch.hpp>

#include "errors/misuse.h"
#include "support.h"

#include <memory>
#include <optional>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::Rep;
using kiln::StagingError;
using kiln::test::expect_misuse;

// --- type errors --------------------------------------------------------------------------

TEST_CASE("misuse: an integer literal that does not fit the Rep's type", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("too_big", [&](Rep<int32_t> x) { line = __LINE__; return x + 3000000000LL; });
  }, line, "use a wider Rep type or cast explicitly");
  CHECK_THAT(msg, Contains("3000000000") && Contains("Rep<int32_t>"));
}

TEST_CASE("misuse: an unsigned literal beyond the range of staged integers", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("too_big", [&](Rep<int64_t> x) { line = __LINE__; return x + 18446744073709551615ull; });
  }, line, "staged integers are signed");
  CHECK_THAT(msg, Contains("Rep<int64_t>"));
}

TEST_CASE("misuse: a fractional literal for an integer Rep", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("fraction", [&](Rep<int32_t> x) { line = __LINE__; Rep<int32_t> half = 2.5; return x + half; });
  }, line, "kiln::cast<double>");
  CHECK_THAT(msg, Contains("2.5") && Contains("Rep<int32_t>"));
}

TEST_CASE("misuse: a double literal that overflows a Rep<float>", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("overflow", [&](Rep<float> x) { line = __LINE__; return x * 1e300; });
  }, line, "use a Rep<double>");
  CHECK_THAT(msg, Contains("overflows Rep<float>"));
}

TEST_CASE("misuse: cond branches that return different types", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("mixed", [&](Rep<float> x) {
      line = __LINE__; return kiln::cond(x > 0.0f, [&] { return x; }, [&] { return Rep<int32_t>(0); });
    });
  }, line, "make both branches return the same Rep types");
  CHECK_THAT(msg, Contains("different types") && Contains("Rep<float>") && Contains("Rep<int32_t>"));
}

TEST_CASE("misuse: if_ branches that return values", "[errors][types]") {
  int line = 0;
  expect_misuse<StagingError>([&] {
    kiln::stage("returns", [&](Rep<float> x) {
      line = __LINE__; kiln::if_(x > 0.0f, [&] { return x; });
      return x;
    });
  }, line, "use kiln::cond(c, then, else)");
}

TEST_CASE("misuse: a while_ body that returns a value", "[errors][types]") {
  int line = 0;
  expect_misuse<StagingError>([&] {
    kiln::stage("returns", [&](Rep<int64_t> n) {
      line = __LINE__; kiln::while_([&] { return n > 0; }, [&] { n -= 1; return n; });
      return n;
    });
  }, line, "assign Reps declared outside the loop");
}

TEST_CASE("misuse: a loop whose bounds and body index types differ", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("mismatch", [&](Rep<int64_t> n) {
      Rep<int32_t> acc = 0;
      line = __LINE__; kiln::for_(Rep<int64_t>(0), n, [&](Rep<int32_t> i) { acc += i; });
      return acc;
    });
  }, line, "take the same index type in the body");
  CHECK_THAT(msg, Contains("loop index type mismatch") && Contains("Rep<int64_t>") && Contains("Rep<int32_t>"));
}

TEST_CASE("misuse: stage() with the wrong number of parameter names", "[errors][types]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    line = __LINE__; kiln::stage("two", {"only_one"}, [](Rep<int32_t> a, Rep<int32_t> b) { return a + b; });
  }, line, "give one name per parameter");
  CHECK_THAT(msg, Contains("1 parameter names for 2 parameters"));
}

// --- escaped Reps and Arrs ------------------------------------------------------------------

TEST_CASE("misuse: a Rep used after its staging ended", "[errors][escape]") {
  auto keep = std::make_unique<std::vector<Rep<int64_t>>>();
  auto f = kiln::stage("f", [&](Rep<int64_t> x) {
    keep->push_back(x + 1);
    return x;
  });
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] { line = __LINE__; auto y = (*keep)[0] + 1; (void)y; }, line,
                                         "compile() and call it to get values");
  CHECK_THAT(msg, Contains("outside staging"));
  keep.reset();  // Reps destroyed long after staging: nothing to release, no crash
  CHECK(kiln::test::interp(f)(4) == 4);
}

TEST_CASE("misuse: a Rep that escaped one staged function used in another", "[errors][escape]") {
  std::optional<Rep<double>> escaped;
  auto first = kiln::stage("first", [&](Rep<double> x) {
    escaped.emplace(x * 2.0);
    return x;
  });
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("second", [&](Rep<double> y) { line = __LINE__; return y + *escaped; });
  }, line, "pass the value as a parameter");
  CHECK_THAT(msg, Contains("another staged function") && Contains("'second'"));
}

TEST_CASE("misuse: a Rep of an enclosing stage() used in a nested one", "[errors][escape]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("outer", [&](Rep<double> x) {
      auto inner = kiln::stage("inner", [&](Rep<double> y) { line = __LINE__; return y + x; });
      return inner(x);
    });
  }, line, "pass the value as a parameter");
  CHECK_THAT(msg, Contains("while staging 'inner'"));
}

TEST_CASE("misuse: a Rep used on a thread that is not staging", "[errors][escape]") {
  int line = 0;
  std::string msg;
  auto f = kiln::stage("threads", [&](Rep<double> x) {
    std::thread t([&] {
      msg = expect_misuse<StagingError>([&] { line = __LINE__; auto y = x + 1.0; (void)y; }, line,
                                        "use Reps only inside the function passed to kiln::stage()");
    });
    t.join();
    return x;
  });
  CHECK_THAT(msg, Contains("outside staging"));
}

TEST_CASE("misuse: a Rep created inside a staged region used after it", "[errors][escape]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("leak", [&](Rep<int64_t> x) {
      std::optional<Rep<int64_t>> inner;
      kiln::if_(x > 0, [&] { inner.emplace(x + 1); });
      line = __LINE__; return *inner + 1;
    });
  }, line, "kiln::cond");
  CHECK_THAT(msg, Contains("staged region that has ended"));
}

TEST_CASE("misuse: a moved-from Rep", "[errors][escape]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("moved", [&](Rep<int64_t> x) {
      Rep<int64_t> y = std::move(x);
      line = __LINE__; return x + y;
    });
  }, line, "create Reps inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("empty") && Contains("moved from"));
}

TEST_CASE("misuse: an Arr that escaped one staged function used in another", "[errors][escape]") {
  std::optional<Arr<const float>> escaped;
  auto first = kiln::stage("first", [&](Arr<const float> x) {
    escaped.emplace(x);
    return x[0];
  });
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("second", [&](Arr<const float> y) { line = __LINE__; return y[0] + (*escaped)[0]; });
  }, line, "pass the buffer as a parameter");
  CHECK_THAT(msg, Contains("another staged function"));
}

TEST_CASE("misuse: an Arr used after its staging ended", "[errors][escape]") {
  std::optional<Arr<const float>> escaped;
  auto f = kiln::stage("f", [&](Arr<const float> x) {
    escaped.emplace(x);
    return x[0];
  });
  int line = 0;
  expect_misuse<StagingError>([&] { line = __LINE__; auto n = escaped->size(); (void)n; }, line,
                              "use Arrs only inside the function passed to kiln::stage()");
}

TEST_CASE("misuse: assigning an outer Rep inside parallel_for_", "[errors][escape]") {
  int decl = 0, line = 0;
  auto msg = expect_misuse<StagingError>([&] {
    kiln::stage("racy", [&](Arr<const float> x) {
      decl = __LINE__; Rep<float> sum = 0.0f;
      line = __LINE__; kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { sum += x[i]; });
      return sum;
    });
  }, line, "write each iteration's result to its own Arr element");
  CHECK_THAT(msg, Contains("staging_errors.cpp:" + std::to_string(decl)) && Contains("independent"));
}

// --- staged control flow and staged values outside kiln::stage() ------------------------------

TEST_CASE("misuse: if_ outside kiln::stage()", "[errors][outside]") {
  int line = 0;
  // The condition is the first thing that needs staging: making it a Rep fails.
  expect_misuse<StagingError>([&] { line = __LINE__; kiln::if_(true, [] {}); }, line,
                              "only exist inside the function passed to kiln::stage()");
}

TEST_CASE("misuse: for_ outside kiln::stage()", "[errors][outside]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] { line = __LINE__; kiln::for_(0, 10, [](Rep<int64_t>) {}); }, line,
                                         "only exist inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("kiln::for_ outside staging"));
}

TEST_CASE("misuse: while_ outside kiln::stage()", "[errors][outside]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>(
      [&] { line = __LINE__; kiln::while_([] { return Rep<bool>(true); }, [] {}); }, line,
      "only exist inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("kiln::while_ outside staging"));
}

TEST_CASE("misuse: parallel_for_ outside kiln::stage()", "[errors][outside]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] { line = __LINE__; kiln::parallel_for_(0, 4, [](Rep<int64_t>) {}); },
                                         line, "only exist inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("kiln::parallel_for_ outside staging"));
}

TEST_CASE("misuse: creating a Rep outside kiln::stage()", "[errors][outside]") {
  int line = 0;
  auto msg = expect_misuse<StagingError>([&] { line = __LINE__; Rep<float> x = 1.0f; (void)x; }, line,
                                         "only exist inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("creating a Rep outside staging"));
}

TEST_CASE("misuse: calling a Staged function with values outside kiln::stage()", "[errors][outside]") {
  auto f = kiln::stage("f", [](Rep<int64_t> x) { return x; });
  int line = 0;
  expect_misuse<StagingError>([&] { line = __LINE__; auto r = f(1); (void)r; }, line,
                              "only exist inside the function passed to kiln::stage()");
  CHECK(kiln::compile(f, {.backend = kiln::Backend::interp})(1) == 1);  // what was meant
}

// --- staged functions declared but not defined ----------------------------------------------

TEST_CASE("misuse: calling a declared but never defined staged function", "[errors][functions]") {
  int line = __LINE__; kiln::Staged<int64_t(int64_t)> never;
  auto f = kiln::stage("caller", [&](Rep<int64_t> x) { return never(x); });
  auto msg = expect_misuse<StagingError>([&] { (void)f.ir(); }, line, "assign it the result of kiln::stage(...)");
  CHECK_THAT(msg, Contains("'caller' calls") && Contains("never defined"));
  msg = expect_misuse<StagingError>([&] { kiln::compile(never); }, line, "assign it the result of kiln::stage(...)");
  CHECK_THAT(msg, Contains("never defined"));
}

TEST_CASE("misuse: a staged function whose declared callee was destroyed", "[errors][functions]") {
  std::optional<kiln::Staged<int64_t(int64_t)>> helper;
  helper.emplace();
  int line = __LINE__; auto f = kiln::stage("orphan", [&](Rep<int64_t> x) { return (*helper)(x); });
  helper.reset();  // declared, never defined, and now gone
  auto msg = expect_misuse<StagingError>([&] { (void)f.ir(); }, line,
                                         "keep every kiln::Staged handle alive until the functions that call it are compiled");
  CHECK_THAT(msg, Contains("called by 'orphan' no longer exists"));
}

TEST_CASE("every kiln error derives from kiln::Error", "[errors]") {
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::StagingError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::ShapeError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::RuntimeError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::CompileError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::IOError>);
  STATIC_REQUIRE(std::is_base_of_v<kiln::Error, kiln::InternalError>);
}

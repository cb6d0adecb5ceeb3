// Misuse around generated source: each error names what went wrong and what
// to do.
#include "support.h"

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;

TEST_CASE("stage() with the wrong number of parameter names is a StagingError at the user's line", "[errors]") {
  int line = 0;
  auto msg = kiln::test::error_message<kiln::StagingError>([&] {
    line = __LINE__ + 1;
    kiln::stage("two", {"only_one"}, [](Rep<int32_t> a, Rep<int32_t> b) { return a + b; });
  });
  CHECK_THAT(msg, Contains("1 parameter names for 2 parameters") &&
                      Contains("export_errors.cpp:" + std::to_string(line)) && Contains("one name per parameter"));
}

TEST_CASE("export_source to a path that cannot be written is an IOError", "[errors]") {
  auto f = kiln::stage("f", [](Rep<int32_t> a) { return a; });
  auto msg = kiln::test::error_message<kiln::IOError>(
      [&] { kiln::export_source(f, "/nonexistent-kiln-dir/f.cpp"); });
  CHECK_THAT(msg, Contains("/nonexistent-kiln-dir/f.cpp") && Contains("directory exists"));
}

TEST_CASE("exporting PTX without the CUDA toolkit is a CompileError", "[errors]") {
  if (kiln::available(kiln::Backend::cuda)) {
    WARN("SKIPPED: this kiln has the CUDA backend");
    return;
  }
  auto f = kiln::stage("f", [](Arr<float> x) { x[0] = 1.0f; });
  auto msg = kiln::test::error_message<kiln::CompileError>([&] { (void)kiln::source(f, kiln::Target::ptx); });
  CHECK_THAT(msg, Contains("CUDA toolkit") && Contains("Target::cuda"));
}

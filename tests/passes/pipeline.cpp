// The default pipeline: KILN_DUMP=ir shows the IR after each pass.
#include <catch2/catch.hpp>

#include "support.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

using kiln::Rep;

namespace {
/// Captures std::cerr while alive.
class CaptureCerr {
 public:
  CaptureCerr() : saved_(std::cerr.rdbuf(out_.rdbuf())) {}
  ~CaptureCerr() { std::cerr.rdbuf(saved_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::streambuf* saved_;
};
}  // namespace

TEST_CASE("KILN_DUMP=ir prints the IR after each pass with locations", "[passes][pipeline]") {
  auto f = kiln::stage("dumped", [](Rep<int64_t> n) {
    Rep<int64_t> a = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { a += i; });
    return a;
  });
  std::string dumped;
  {
    ::setenv("KILN_DUMP", "cpp,ir", 1);
    CaptureCerr capture;
    (void)f.ir();
    dumped = capture.text();
    ::unsetenv("KILN_DUMP");
  }
  CHECK(dumped.find("// ---- IR after promote_variables ----") != std::string::npos);
  CHECK(dumped.find("func @dumped(") != std::string::npos);
  CHECK(dumped.find("pipeline.cpp:") != std::string::npos);  // the user's (this file's) lines
}

TEST_CASE("without KILN_DUMP the pipeline prints nothing", "[passes][pipeline]") {
  ::unsetenv("KILN_DUMP");
  auto f = kiln::stage("quiet", [](Rep<int64_t> n) { return n + 1; });
  CaptureCerr capture;
  (void)f.ir();
  CHECK(capture.text().empty());
}

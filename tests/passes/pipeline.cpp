// The default pipeline: KILN_DUMP=ir shows the IR after each pass.
#include <catch2/catch.hpp>

#include "support.h"

#include <cmath>
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

TEST_CASE("KILN_DUMP=ir names every pass of the default pipeline", "[passes][pipeline]") {
  auto f = kiln::stage("dumped_all", [](Rep<int64_t> n) { return n * 1 + 0; });
  std::string dumped;
  {
    ::setenv("KILN_DUMP", "ir", 1);
    CaptureCerr capture;
    (void)f.ir();
    dumped = capture.text();
    ::unsetenv("KILN_DUMP");
  }
  for (const char* pass : {"promote_variables", "inline_calls", "fold", "reduce_strength", "cse", "simplify_cfg",
                           "forward_tape", "forward_fill", "licm", "dce"})
    CHECK(dumped.find(std::string("// ---- IR after ") + pass + " ----") != std::string::npos);
}

TEST_CASE("Options::optimize = false runs promotion only", "[passes][pipeline]") {
  auto f = kiln::stage("plain", [](Rep<int64_t> n) { return n * 1; });
  CHECK(f.ir({.optimize = false}).find(" = mul ") != std::string::npos);
  CHECK(f.ir().find(" = mul ") == std::string::npos);
  ::setenv("KILN_DUMP", "ir", 1);
  std::string dumped;
  {
    CaptureCerr capture;
    (void)f.ir({.optimize = false});
    dumped = capture.text();
  }
  ::unsetenv("KILN_DUMP");
  CHECK(dumped.find("after fold") == std::string::npos);
}

TEST_CASE("each pass can be switched off through Options::passes", "[passes][pipeline]") {
  auto f = kiln::stage("switchable", [](Rep<int64_t> n) { return n * 1; });
  kiln::Options no_fold;
  no_fold.passes.fold = false;
  CHECK(f.ir(no_fold).find(" = mul ") != std::string::npos);
  CHECK(f.ir().find(" = mul ") == std::string::npos);

  auto g = kiln::stage("identity_pow", [](Rep<double> x) { return kiln::pow(x, 1.0); });
  kiln::Options no_strength;
  no_strength.passes.reduce_strength = false;
  CHECK(g.ir(no_strength).find(" = pow ") != std::string::npos);
  CHECK(g.ir().find(" = pow ") == std::string::npos);

  auto h = kiln::stage("deadish", [](Rep<int64_t> n) {
    Rep<int64_t> unused = n * n;
    return n;
  });
  kiln::Options no_dce;
  no_dce.passes.dce = false;
  CHECK(h.ir(no_dce).find(" = mul ") != std::string::npos);
  CHECK(h.ir().find(" = mul ") == std::string::npos);
}

TEST_CASE("fast_math reaches the passes through Options", "[passes][pipeline]") {
  auto f = kiln::stage("fm", [](Rep<float> x) { return x + 0.0f; });
  CHECK(f.ir().find(" = add ") != std::string::npos);
  CHECK(f.ir({.fast_math = true}).find(" = add ") == std::string::npos);
  auto fast = kiln::compile(f, {.fast_math = true});
  auto exact = kiln::compile(f);
  CHECK(std::signbit(exact(-0.0f)) == false);  // -0 + 0 = +0
  CHECK(std::signbit(fast(-0.0f)) == true);    // the rewrite fast-math allows
}

TEST_CASE("the optimised pipeline compacts the node table", "[passes][pipeline]") {
  auto f = kiln::stage("compacted", [](Rep<int64_t> n) {
    Rep<int64_t> a = 0;
    for (int k = 0; k < 50; ++k) a = a + n * 1 + 0;
    return a;
  });
  kiln::ir::Module m = f.module();
  size_t reachable = 0;
  kiln::ir::walk(m.functions[0], [&](kiln::ir::ValueId) { ++reachable; });
  CHECK(m.functions[0].nodes.size() == reachable + m.functions[0].params().size());
}

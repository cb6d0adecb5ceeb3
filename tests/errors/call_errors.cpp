// Misuse found when a compiled function is called: arguments whose sizes do
// not fit, and programs that trap. Each case throws a kiln::RuntimeError
// whose message names the staged line (and the call's), and says what to
// do, on every CPU backend that checks it (docs/errors.md lists them).
// Arguments of the wrong number or type do not compile (compile_fail/).
#include <catch2/catch.hpp>

#include "errors/misuse.h"
#include "support.h"

#include <span>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::Backend;
using kiln::Rep;
using kiln::RuntimeError;
using kiln::test::expect_misuse;

namespace {

/// The CPU backends built into this kiln. Backend::cxx is the generated
/// C++, with the traps the exported source has.
std::vector<Backend> cpu_backends() {
  std::vector<Backend> out = {Backend::interp, Backend::cxx};
  if (kiln::available(Backend::llvm)) out.push_back(Backend::llvm);
  return out;
}

const char* name(Backend b) {
  return b == Backend::interp ? "interp" : b == Backend::cxx ? "cxx" : "llvm";
}

}  // namespace

// --- indices and buffer sizes (the interpreter checks every access) ---------------------------

TEST_CASE("misuse: an index past the end of a buffer", "[errors][call]") {
  int line = 0;
  auto f = kiln::stage("oob", [&](Arr<const float> x, Rep<int64_t> i) { line = __LINE__; return x[i]; });
  auto c = kiln::compile(f, {.backend = Backend::interp});
  std::vector<float> x = {1, 2, 3};
  CHECK(c(std::span<const float>(x), 2) == 3.0f);
  auto msg = expect_misuse<RuntimeError>([&] { c(std::span<const float>(x), 3); }, line, "keep indices in [0, size())");
  CHECK_THAT(msg, Contains("index 3 is out of bounds for a buffer of 3 elements"));
  msg = expect_misuse<RuntimeError>([&] { c(std::span<const float>(x), -1); }, line, "keep indices in [0, size())");
  CHECK_THAT(msg, Contains("index -1"));
}

TEST_CASE("misuse: a store past the end of a buffer, caught before it writes", "[errors][call]") {
  int line = 0;
  auto f = kiln::stage("oob_store", [&](Arr<int32_t> x) { line = __LINE__; x[x.size()] = 1; });
  std::vector<int32_t> x = {0, 0};
  auto msg = expect_misuse<RuntimeError>([&] { kiln::compile(f, {.backend = Backend::interp})(std::span<int32_t>(x)); },
                                         line, "keep indices in [0, size())");
  CHECK_THAT(msg, Contains("store index 2"));
  CHECK(x == std::vector<int32_t>{0, 0});
}

TEST_CASE("misuse: an empty span where the program reads an element", "[errors][call]") {
  int line = 0;
  auto f = kiln::stage("first", [&](Arr<const double> x) { line = __LINE__; return x[0]; });
  auto msg = expect_misuse<RuntimeError>(
      [&] { kiln::compile(f, {.backend = Backend::interp})(std::span<const double>()); }, line, "pass a larger buffer");
  CHECK_THAT(msg, Contains("buffer of 0 elements"));
}

TEST_CASE("misuse: a call that recurses without end", "[errors][call]") {
  kiln::Staged<int64_t(int64_t)> down;
  down = kiln::stage("down", [&](Rep<int64_t> n) {
    return kiln::cond(n == 0, [&] { return n; }, [&] { return down(n - 1) + 1; });
  });
  auto c = kiln::compile(down, {.backend = Backend::interp});
  CHECK(c(10) == 10);
  // The interpreter's depth limit (2000 staged calls) is beyond what the
  // main thread's stack holds with ASan's larger frames: not run there.
  // A skip, not a pass: the release tree runs it.
  if (kiln::test::sanitized) {
    WARN("SKIPPED under sanitizers: the stack overflows before the interpreter's recursion limit");
    return;
  }
  int line = 0;
  auto msg = expect_misuse<RuntimeError>([&] { line = __LINE__; c(-1); }, line, "check the recursion's base case");
  CHECK_THAT(msg, Contains("staged recursion deeper than"));
}

// --- traps, on every CPU backend ----------------------------------------------------------------

TEST_CASE("misuse: an integer division by zero", "[errors][call]") {
  int line = 0;
  auto f = kiln::stage("ratio", [&](Rep<int64_t> a, Rep<int64_t> b) { line = __LINE__; return a / b; });
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(f, {.backend = b});
    CHECK(c(7, 2) == 3);
    auto msg = expect_misuse<RuntimeError>([&] { c(7, 0); }, line, "guard the divisor");
    CHECK_THAT(msg, Contains("integer division by zero"));
  }
}

TEST_CASE("misuse: a for_ loop whose step is zero", "[errors][call]") {
  int line = 0;
  auto f = kiln::stage("stepped", [&](Rep<int64_t> step) {
    Rep<int64_t> n = 0;
    line = __LINE__; kiln::for_(0, 10, step, [&](Rep<int64_t>) { n += 1; });
    return n;
  });
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(f, {.backend = b});
    CHECK(c(3) == 4);
    auto msg = expect_misuse<RuntimeError>([&] { c(0); }, line, "use a positive step to count up");
    CHECK_THAT(msg, Contains("loop step is zero"));
  }
}

// --- derivatives' buffers: each has its parameter's size ----------------------------------------

namespace {

auto sum_of_squares() {
  return kiln::stage("sum_sq", [](Arr<const double> x) {
    Rep<double> s = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += x[i] * x[i]; });
    return s;
  });
}

}  // namespace

TEST_CASE("misuse: a gradient buffer of another size than its parameter", "[errors][call][autodiff]") {
  auto f = sum_of_squares();
  int line = __LINE__; auto g = kiln::grad(f);
  std::vector<double> x = {1, 2, 3, 4}, gx(4), short_gx(2), long_gx(5);
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(g, {.backend = b});
    c(std::span<const double>(x), std::span<double>(gx));
    CHECK(gx == std::vector<double>{2, 4, 6, 8});
    for (std::vector<double>* wrong : {&short_gx, &long_gx}) {
      auto msg = expect_misuse<RuntimeError>([&] { c(std::span<const double>(x), std::span<double>(*wrong)); }, line,
                                             "give the gradient buffer as many elements as argument 0");
      CHECK_THAT(msg, Contains("kiln::grad: the gradient buffer (argument 1)"));
    }
  }
}

TEST_CASE("misuse: grad of a function whose written buffer overlaps a buffer the reverse sweep reads again",
          "[errors][call][autodiff]") {
  const int load_line = __LINE__ + 2;  // the check names the line whose load the reverse sweep redoes
  auto f = kiln::stage("scaled_copy", [](Arr<const double> x, Rep<double> s, Arr<double> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = x[i] * x[i] * s; });
    Rep<double> t = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { t += y[i]; });
    return t;
  });
  auto g = kiln::grad(f, {0});
  std::vector<double> x = {1, 2, 3}, y(3), gx(3), gy(3);
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(g, {.backend = b});
    c(std::span<const double>(x), 2.0, std::span<double>(y), std::span<double>(gx), std::span<double>(gy));
    CHECK(gx == std::vector<double>{4, 8, 12});
    // y written over x itself: the reverse sweep would read y's values as x's.
    std::vector<double> xy = x;
    auto in_place = [&] {
      c(std::span<const double>(xy), 2.0, std::span<double>(xy), std::span<double>(gx), std::span<double>(gy));
    };
    auto msg = expect_misuse<RuntimeError>(in_place, load_line, "give argument 2 storage of its own");
    CHECK_THAT(msg, Contains("kiln::grad: argument 2, which @scaled_copy writes, overlaps argument 0"));
    CHECK(xy == x);  // the check runs before anything is written
  }
}

TEST_CASE("misuse: a gradient buffer that overlaps an input", "[errors][call][autodiff]") {
  auto f = kiln::stage("dot_wy", [](Arr<const double> x, Arr<const double> w) {
    Rep<double> s = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += x[i] * w[i]; });
    return s;
  });
  int line = __LINE__; auto g = kiln::grad(f);
  std::vector<double> x = {1, 2, 3, 4}, w = {5, 6, 7, 8}, gx(4), gw(4), big(8);
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(g, {.backend = b});
    c(std::span<const double>(x), std::span<const double>(w), std::span<double>(gx), std::span<double>(gw));
    CHECK(gx == w);
    CHECK(gw == x);
    // The gradient of x written over x itself, over w shifted by one, or over the other gradient.
    auto over_x = [&] { c(std::span<const double>(x), std::span<const double>(w), std::span<double>(x), std::span<double>(gw)); };
    auto msg = expect_misuse<RuntimeError>(over_x, line, "give each gradient buffer storage of its own");
    CHECK_THAT(msg, Contains("kiln::grad: the gradient buffer (argument 2) overlaps argument 0"));
    std::copy(w.begin(), w.end(), big.begin() + 1);
    auto shifted = [&] {
      c(std::span<const double>(x), std::span<const double>(big).subspan(1, 4), std::span<double>(big).subspan(0, 4),
        std::span<double>(gw));
    };
    CHECK_THAT(expect_misuse<RuntimeError>(shifted, line, "storage of its own"), Contains("overlaps argument 1"));
    auto shared = [&] { c(std::span<const double>(x), std::span<const double>(w), std::span<double>(gx), std::span<double>(gx)); };
    CHECK_THAT(expect_misuse<RuntimeError>(shared, line, "storage of its own"),
               Contains("the gradient buffer (argument 2) overlaps argument 3"));
    // Adjacent, not overlapping: fine.
    std::vector<double> both(8);
    c(std::span<const double>(x), std::span<const double>(w), std::span<double>(both).subspan(0, 4),
      std::span<double>(both).subspan(4, 4));
    CHECK(both == std::vector<double>{5, 6, 7, 8, 1, 2, 3, 4});
  }
}

TEST_CASE("misuse: a vjp adjoint buffer of another size than its parameter", "[errors][call][autodiff]") {
  auto f = sum_of_squares();
  int line = __LINE__; auto g = kiln::vjp(f);
  std::vector<double> x = {1, 2, 3, 4}, short_gx(3);
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(g, {.backend = b});
    auto msg = expect_misuse<RuntimeError>([&] { c(std::span<const double>(x), 1.0, std::span<double>(short_gx)); },
                                           line, "give the adjoint buffer as many elements as argument 0");
    CHECK_THAT(msg, Contains("kiln::vjp: the adjoint buffer (argument 2)"));
  }
}

TEST_CASE("misuse: a jvp tangent buffer of another size than its parameter", "[errors][call][autodiff]") {
  auto f = sum_of_squares();
  int line = __LINE__; auto d = kiln::jvp(f);
  std::vector<double> x = {1, 2, 3, 4}, dx = {1, 0, 0, 0}, short_dx(2);
  for (Backend b : cpu_backends()) {
    INFO(name(b));
    auto c = kiln::compile(d, {.backend = b});
    CHECK(c(std::span<const double>(x), std::span<const double>(dx)) == std::make_tuple(30.0, 2.0));
    auto msg = expect_misuse<RuntimeError>([&] { c(std::span<const double>(x), std::span<const double>(short_dx)); },
                                           line, "give the tangent buffer as many elements as argument 0");
    CHECK_THAT(msg, Contains("kiln::jvp: the tangent buffer (argument 1)"));
  }
}

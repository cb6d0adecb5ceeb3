// Misuse of staged tensors. Shapes that do not fit are a kiln::StagingError
// at staging time whose message names the shapes involved and this file's
// line of the misuse, and says what to do. Buffers whose size does not fit
// a tensor.load / tensor.store are a kiln::RuntimeError at call time, on the
// interpreter running the unlowered program (its tensor ops), the lowered
// one (the checks lowering emits) and Backend::llvm (docs/errors.md lists
// them).
#include <catch2/catch.hpp>

#include "errors/misuse.h"
#include "support.h"

#include <kiln/tensor.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;

namespace {

/// The StagingError message of staging `body`, checked to name this file
/// at `line` (set by `body` at the misuse) and to contain `remedy`.
template <class F>
std::string staging_error(F body, const int& line, const std::string& remedy,
                          std::source_location at = std::source_location::current()) {
  return kiln::test::expect_misuse<kiln::StagingError>([&] { kiln::stage("bad", body); }, line, remedy, at);
}

}  // namespace

// --- shapes at staging time -----------------------------------------------------------

TEST_CASE("tensor errors: operands whose shapes do not broadcast", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({4});
    line = __LINE__; return (A + B).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[4]") && Contains("do not broadcast"));

  msg = staging_error([&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({2, 3, 4}), B = b.tensor({2, 1});
    line = __LINE__; return (A * B).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[2x3x4]") && Contains("[2x1]"));

  // where, pow, min, comparisons, and broadcast_to likewise.
  msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({2});
    line = __LINE__; return kiln::where(A > 0.0f, A, B).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[2]"));
  msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({5}), B = b.tensor({4});
    line = __LINE__; return kiln::pow(A, B).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[5]") && Contains("[4]"));
  msg = staging_error([&](Arr<const int32_t> a, Arr<const int32_t> b) {
    Tensor<int32_t> A = a.tensor({3, 2}), B = b.tensor({3});
    line = __LINE__; return kiln::cast<int32_t>(A < B).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[3x2]") && Contains("[3]"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).broadcast_to({3, 3}).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[3x3]"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).broadcast_to({3}).sum_all();
  }, line, "the target needs the operand's extents");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[3]"));
}

TEST_CASE("tensor errors: matmul extents and ranks", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({4, 5});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  }, line, "the last axis of the left operand must equal the second-to-last of the right");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[4x5]") && Contains("inner extents 3 and 4"));

  msg = staging_error([&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({3}), B = b.tensor({3, 2});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  }, line, "reshape a vector to [1, n] or [n, 1]");
  CHECK_THAT(msg, Contains("[3]") && Contains("[3x2]") && Contains("at least two axes"));
  msg = staging_error([&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({2, 3}), B = b.tensor({3});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  }, line, "reshape a vector to [1, n] or [n, 1]");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[3]") && Contains("at least two axes"));

  // Batch axes that do not broadcast.
  msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3, 4}), B = b.tensor({3, 4, 5});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  }, line, "make the extents equal, or 1");
  CHECK_THAT(msg, Contains("[2]") && Contains("[3]") && Contains("do not broadcast"));
}

TEST_CASE("tensor errors: reshape to another element count, or with two -1s", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({4, 2}).sum_all();
  }, line, "keep the element count");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("[4x2]") && Contains("6 elements") &&
                      Contains("keep the element count"));

  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({-1, 4}).sum_all();
  }, line, "keep the element count");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("do not divide"));

  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({-1, -1}).sum_all();
  }, line, "infer at most one extent");
  CHECK_THAT(msg, Contains("more than one -1"));

  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({6, 0}).sum_all();
  }, line, "give every axis an extent of at least 1");
}

TEST_CASE("tensor errors: transpose with a bad permutation", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).transpose({0, 0}).sum_all();
  }, line, "list every axis once");
  CHECK_THAT(msg, Contains("permutation") && Contains("2 axes"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3, 4}).transpose({1, 0}).sum_all();
  }, line, "list every axis once");
  CHECK_THAT(msg, Contains("permutation") && Contains("3 axes"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).transpose({0, 2}).sum_all();
  }, line, "or -1 for the last");
  CHECK_THAT(msg, Contains("axis 2 is out of range"));
}

TEST_CASE("tensor errors: slice with step 0 or nothing in it", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 0, 3, 0).sum_all();
  }, line, "use a step of 1 or more");
  CHECK_THAT(msg, Contains("slice step 0") && Contains("step of 1 or more"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 2, 2).sum_all();
  }, line, "slice at least one element");
  CHECK_THAT(msg, Contains("is empty") && Contains("extent 3"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(0, 5, 9).sum_all();  // clamped to [2:2]
  }, line, "slice at least one element");
  CHECK_THAT(msg, Contains("is empty") && Contains("extent 2"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 2, 1).sum_all();
  }, line, "slice at least one element");
  CHECK_THAT(msg, Contains("is empty"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 0, 2, -1).sum_all();
  }, line, "use a step of 1 or more");
  CHECK_THAT(msg, Contains("slice step -1"));
}

TEST_CASE("tensor errors: axes out of range", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).sum({2}));
  }, line, "or -1 for the last");
  CHECK_THAT(msg, Contains("axis 2 is out of range for a tensor of 2 axes"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).max({-3}, true));
  }, line, "or -1 for the last");
  CHECK_THAT(msg, Contains("axis -3 is out of range"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(kiln::softmax(a.tensor({2, 3}), 5));
  }, line, "or -1 for the last");
  CHECK_THAT(msg, Contains("axis 5 is out of range"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).slice(2, 0, 1));
  }, line, "or -1 for the last");
  CHECK_THAT(msg, Contains("axis 2 is out of range"));
  msg = staging_error([&](Arr<const float> a) {
    Tensor<float> A = a.tensor({2, 3});
    line = __LINE__; return Rep<int64_t>(A.dim(-3));
  }, line, "or -1 for the last");
  CHECK_THAT(msg, Contains("axis -3 is out of range"));
}

TEST_CASE("tensor errors: sums of bool, reductions with no axes or of every axis", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<int32_t> y) {
    Tensor<bool> b = a.tensor({2, 3}) > 0.0f;
    line = __LINE__; y.store(kiln::cast<int32_t>(b.sum({1})));
  }, line, "cast it first");
  CHECK_THAT(msg, Contains("sum of a bool tensor") && Contains("cast"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).sum({}));
  }, line, "name the axes, or use sum_all()");
  CHECK_THAT(msg, Contains("no axes") && Contains("sum_all"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).sum({0, 1}));
  }, line, "use sum_all() / max_all() / mean_all() for a Rep, or keepdims = true");
  CHECK_THAT(msg, Contains("[2x3]") && Contains("sum_all"));
}

TEST_CASE("tensor errors: shapes with no axis or an empty one, constants of the wrong count", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 0}).sum_all();
  }, line, "give every axis an extent of at least 1");
  CHECK_THAT(msg, Contains("[2x0]") && Contains("extent below 1"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({}).sum_all();
  }, line, "use a Rep for a single value, or shape {1}");
  CHECK_THAT(msg, Contains("at least one axis"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return (kiln::constant<float>({1, 2, 3}, {2, 2}) * a.tensor({2, 2})).sum_all();
  }, line, "give one value per element, row-major");
  CHECK_THAT(msg, Contains("3 values") && Contains("[2x2]") && Contains("4 elements"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return (kiln::zeros<float>({3, -1}) + a.tensor({3})).sum_all();
  }, line, "give every axis an extent of at least 1");
  CHECK_THAT(msg, Contains("extent below 1"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return (kiln::arange<float>(0) + a.tensor({1})).sum_all();
  }, line, "give every axis an extent of at least 1");
  CHECK_THAT(msg, Contains("extent below 1"));
}

TEST_CASE("tensor errors: a Tensor made or used outside stage()", "[errors][tensor]") {
  int line = 0;
  std::string msg = kiln::test::expect_misuse<kiln::StagingError>(
      [&] { line = __LINE__; auto t = kiln::zeros<float>({2, 3}); (void)t; }, line,
      "only exist inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("outside"));
  msg = kiln::test::expect_misuse<kiln::StagingError>(
      [&] { line = __LINE__; auto t = kiln::arange<int32_t>(4); (void)t; }, line,
      "only exist inside the function passed to kiln::stage()");
  CHECK_THAT(msg, Contains("outside"));

  // Made while staging one function, used after that staging ended.
  std::optional<Tensor<float>> kept;
  auto first = kiln::stage("first", [&](Arr<const float> a) {
    kept.emplace(a.tensor({2, 3}) * 2.0f);
    return a.tensor({2, 3}).sum_all();
  });
  msg = kiln::test::expect_misuse<kiln::StagingError>([&] { line = __LINE__; auto u = *kept + 1.0f; (void)u; }, line,
                                                      "build tensors inside the staged lambda");
  CHECK_THAT(msg, Contains("outside"));
}

TEST_CASE("tensor errors: a Tensor from another stage()", "[errors][tensor]") {
  std::optional<Tensor<float>> kept;
  auto first = kiln::stage("first", [&](Arr<const float> a) {
    kept.emplace(a.tensor({2, 3}) * 2.0f);
    return a.tensor({2, 3}).sum_all();
  });
  int line = 0;
  std::string msg = staging_error([&](Arr<float> y) {
    line = __LINE__; y.store(*kept + 1.0f);
  }, line, "make the tensor inside this stage() lambda");
  CHECK_THAT(msg, Contains("another function"));
  msg = staging_error([&](Arr<float> y) {
    line = __LINE__; y.store(kiln::exp(*kept));
  }, line, "make the tensor inside this stage() lambda");
  CHECK_THAT(msg, Contains("another function"));
}

TEST_CASE("tensor errors: a Tensor made in a staged loop body used after it", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    std::optional<Tensor<float>> inner;
    kiln::for_(0, 2, [&](Rep<int64_t> i) { inner.emplace(a.tensor({3}, i * 3) * 2.0f); });
    line = __LINE__; y.store(*inner);
  }, line, "store it into an Arr inside the body");
  CHECK_THAT(msg, Contains("loop body"));
}

// --- buffer sizes at call time --------------------------------------------------------

namespace {

/// The RuntimeError message of calling `s` compiled with `opts`, checked to
/// name this file at `line` and to contain `remedy`.
template <class Sig, class... A>
std::string runtime_error(const kiln::Staged<Sig>& s, const kiln::Options& opts, const int& line,
                          const std::string& remedy, A&&... args) {
  auto c = kiln::compile(s, opts);
  return kiln::test::expect_misuse<kiln::RuntimeError>([&] { c(std::forward<A>(args)...); }, line, remedy);
}

/// Where the call-time checks run: the interpreter on the unlowered program
/// (its own tensor ops check), lowered (lowering's checks), and LLVM.
std::vector<std::pair<std::string, kiln::Options>> call_time_backends() {
  kiln::Options unlowered;
  unlowered.backend = kiln::Backend::interp;
  unlowered.passes.lower_tensors = false;
  return {{"interp, unlowered", unlowered},
          {"interp, lowered", kiln::Options{.backend = kiln::Backend::interp}},
          {"llvm", kiln::Options{.backend = kiln::Backend::llvm}}};
}

// The remedies of the unlowered interpreter's checks and of lowering's
// differ in their words; each says what to pass or give.
constexpr const char* exact_size = "pass a buffer of ";
constexpr const char* fit_offset = "offset";

}  // namespace

TEST_CASE("tensor errors: Arr::tensor of a buffer of another size", "[errors][tensor]") {
  int line = 0;
  auto f = kiln::stage("load_exact", [&](Arr<const float> x) {
    line = __LINE__; return x.tensor({4, 3}).sum_all();
  });
  std::vector<float> x11(11, 1.0f), x12(12, 1.0f), x13(13, 1.0f);
  for (const auto& [name, opts] : call_time_backends()) {
    INFO(name);
    std::string msg = runtime_error(f, opts, line, exact_size, std::span<const float>(x11));
    CHECK_THAT(msg, Contains("exactly 12") && Contains("load_exact"));
    msg = runtime_error(f, opts, line, exact_size, std::span<const float>(x13));
    CHECK_THAT(msg, Contains("exactly 12"));
    CHECK(kiln::compile(f, opts)(std::span<const float>(x12)) == 12.0f);
  }
}

TEST_CASE("tensor errors: Arr::tensor at an offset that runs past the buffer", "[errors][tensor]") {
  int line = 0;
  auto f = kiln::stage("load_offset", [&](Arr<const double> x, Rep<int64_t> at) {
    line = __LINE__; return x.tensor({2, 3}, at).sum_all();
  });
  std::vector<double> x(10, 1.0);
  for (const auto& [name, opts] : call_time_backends()) {
    INFO(name);
    runtime_error(f, opts, line, fit_offset, std::span<const double>(x), int64_t{5});
    runtime_error(f, opts, line, fit_offset, std::span<const double>(x), int64_t{-1});
    runtime_error(f, opts, line, fit_offset, std::span<const double>(x), int64_t{1} << 62);
    CHECK(kiln::compile(f, opts)(std::span<const double>(x), int64_t{4}) == 6.0);  // exactly fits
    CHECK(kiln::compile(f, opts)(std::span<const double>(x), int64_t{0}) == 6.0);
  }
}

TEST_CASE("tensor errors: Arr::store into an output of another size, or past its end", "[errors][tensor]") {
  int line = 0, line2 = 0;
  auto f = kiln::stage("store_exact", [&](Arr<const float> x, Arr<float> y) {
    line = __LINE__; y.store(x.tensor({2, 3}) * 2.0f);
  });
  auto g = kiln::stage("store_offset", [&](Arr<const float> x, Arr<float> y, Rep<int64_t> at) {
    line2 = __LINE__; y.store(x.tensor({2, 3}) * 2.0f, at);
  });
  std::vector<float> x(6, 1.0f);
  for (const auto& [name, opts] : call_time_backends()) {
    INFO(name);
    std::vector<float> y5(5), y7(7), y6(6), y9(9);
    CHECK_THAT(runtime_error(f, opts, line, exact_size, std::span<const float>(x), std::span<float>(y5)),
               Contains("exactly 6"));
    CHECK_THAT(runtime_error(f, opts, line, exact_size, std::span<const float>(x), std::span<float>(y7)),
               Contains("exactly 6"));
    kiln::compile(f, opts)(std::span<const float>(x), std::span<float>(y6));
    CHECK(y6 == std::vector<float>(6, 2.0f));
    runtime_error(g, opts, line2, fit_offset, std::span<const float>(x), std::span<float>(y9), int64_t{4});
    runtime_error(g, opts, line2, fit_offset, std::span<const float>(x), std::span<float>(y9), int64_t{-2});
    kiln::compile(g, opts)(std::span<const float>(x), std::span<float>(y9), int64_t{3});
    CHECK(y9 == std::vector<float>{0, 0, 0, 2, 2, 2, 2, 2, 2});
  }
}

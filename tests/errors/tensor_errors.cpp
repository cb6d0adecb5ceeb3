// Misuse of staged tensors. Shapes that do not fit are a kiln::StagingError
// at staging time whose message names the shapes involved and this file's
// line of the misuse, and says what to do. Buffers whose size does not fit
// a tensor.load / tensor.store are a kiln::RuntimeError at call time, on the
// interpreter running the unlowered program (its tensor ops), the lowered
// one (the checks lowering emits) and Backend::llvm.
#include <catch2/catch.hpp>

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

std::string here(int line) { return "tensor_errors.cpp:" + std::to_string(line); }

/// The StagingError message of staging `body` ("" and a failed check when
/// staging succeeds).
template <class F>
std::string staging_error(F body) {
  return kiln::test::error_message<kiln::StagingError>([&] { kiln::stage("bad", body); });
}

}  // namespace

// --- shapes at staging time -----------------------------------------------------------

TEST_CASE("tensor errors: operands whose shapes do not broadcast", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({4});
    line = __LINE__; return (A + B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[4]") && Contains("do not broadcast"));

  msg = staging_error([&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({2, 3, 4}), B = b.tensor({2, 1});
    line = __LINE__; return (A * B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3x4]") && Contains("[2x1]"));

  // where, pow, min, comparisons, and broadcast_to likewise.
  msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({2});
    line = __LINE__; return kiln::where(A > 0.0f, A, B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[2]"));
  msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({5}), B = b.tensor({4});
    line = __LINE__; return kiln::pow(A, B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[5]") && Contains("[4]"));
  msg = staging_error([&](Arr<const int32_t> a, Arr<const int32_t> b) {
    Tensor<int32_t> A = a.tensor({3, 2}), B = b.tensor({3});
    line = __LINE__; return kiln::cast<int32_t>(A < B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[3x2]") && Contains("[3]"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).broadcast_to({3, 3}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[3x3]"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).broadcast_to({3}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[3]"));
}

TEST_CASE("tensor errors: matmul extents and ranks", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({4, 5});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[4x5]") && Contains("inner extents 3 and 4"));

  msg = staging_error([&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({3}), B = b.tensor({3, 2});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[3]") && Contains("[3x2]") && Contains("at least two axes"));
  msg = staging_error([&](Arr<const double> a, Arr<const double> b) {
    Tensor<double> A = a.tensor({2, 3}), B = b.tensor({3});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[3]") && Contains("at least two axes"));

  // Batch axes that do not broadcast.
  msg = staging_error([&](Arr<const float> a, Arr<const float> b) {
    Tensor<float> A = a.tensor({2, 3, 4}), B = b.tensor({3, 4, 5});
    line = __LINE__; return kiln::matmul(A, B).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2]") && Contains("[3]") && Contains("do not broadcast"));
}

TEST_CASE("tensor errors: reshape to another element count, or with two -1s", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({4, 2}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("[4x2]") && Contains("6 elements") &&
                      Contains("keep the element count"));

  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({-1, 4}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("do not divide"));

  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({-1, -1}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("more than one -1"));

  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).reshape({6, 0}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)));
}

TEST_CASE("tensor errors: transpose with a bad permutation", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).transpose({0, 0}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("permutation") && Contains("2 axes"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3, 4}).transpose({1, 0}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("permutation") && Contains("3 axes"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).transpose({0, 2}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("axis 2 is out of range"));
}

TEST_CASE("tensor errors: slice with step 0 or nothing in it", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 0, 3, 0).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("slice step 0") && Contains("step of 1 or more"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 2, 2).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("is empty") && Contains("extent 3"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(0, 5, 9).sum_all();  // clamped to [2:2]
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("is empty") && Contains("extent 2"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 2, 1).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("is empty"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 3}).slice(1, 0, 2, -1).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("slice step -1"));
}

TEST_CASE("tensor errors: axes out of range", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).sum({2}));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("axis 2 is out of range for a tensor of 2 axes"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).max({-3}, true));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("axis -3 is out of range"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(kiln::softmax(a.tensor({2, 3}), 5));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("axis 5 is out of range"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).slice(2, 0, 1));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("axis 2 is out of range"));
  msg = staging_error([&](Arr<const float> a) {
    Tensor<float> A = a.tensor({2, 3});
    line = __LINE__; return Rep<int64_t>(A.dim(-3));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("axis -3 is out of range"));
}

TEST_CASE("tensor errors: sums of bool, reductions with no axes or of every axis", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a, Arr<int32_t> y) {
    Tensor<bool> b = a.tensor({2, 3}) > 0.0f;
    line = __LINE__; y.store(kiln::cast<int32_t>(b.sum({1})));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("sum of a bool tensor") && Contains("cast"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).sum({}));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("no axes") && Contains("sum_all"));
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    line = __LINE__; y.store(a.tensor({2, 3}).sum({0, 1}));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x3]") && Contains("sum_all"));
}

TEST_CASE("tensor errors: shapes with no axis or an empty one, constants of the wrong count", "[errors][tensor]") {
  int line = 0;
  std::string msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({2, 0}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("[2x0]") && Contains("extent below 1"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return a.tensor({}).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("at least one axis"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return (kiln::constant<float>({1, 2, 3}, {2, 2}) * a.tensor({2, 2})).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("3 values") && Contains("[2x2]") && Contains("4 elements"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return (kiln::zeros<float>({3, -1}) + a.tensor({3})).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("extent below 1"));
  msg = staging_error([&](Arr<const float> a) {
    line = __LINE__; return (kiln::arange<float>(0) + a.tensor({1})).sum_all();
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("extent below 1"));
}

TEST_CASE("tensor errors: a Tensor outside stage(), from another stage(), or after its loop body", "[errors][tensor]") {
  int line = __LINE__; std::string msg = kiln::test::error_message<kiln::StagingError>([] { auto t = kiln::zeros<float>({2, 3}); (void)t; });
  CHECK_THAT(msg, Contains(here(line)) && Contains("outside"));
  line = __LINE__; msg = kiln::test::error_message<kiln::StagingError>([] { auto t = kiln::arange<int32_t>(4); (void)t; });
  CHECK_THAT(msg, Contains(here(line)) && Contains("outside"));

  // Made while staging one function, used after that staging ended.
  std::optional<Tensor<float>> kept;
  auto first = kiln::stage("first", [&](Arr<const float> a) {
    kept.emplace(a.tensor({2, 3}) * 2.0f);
    return a.tensor({2, 3}).sum_all();
  });
  line = __LINE__; msg = kiln::test::error_message<kiln::StagingError>([&] { auto u = *kept + 1.0f; (void)u; });
  CHECK_THAT(msg, Contains(here(line)) && Contains("outside"));

  // ... or used while staging another one.
  msg = staging_error([&](Arr<float> y) {
    line = __LINE__; y.store(*kept + 1.0f);
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("another function"));
  msg = staging_error([&](Arr<float> y) {
    line = __LINE__; y.store(kiln::exp(*kept));
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("another function"));

  // Made inside a staged loop body, used after it.
  msg = staging_error([&](Arr<const float> a, Arr<float> y) {
    std::optional<Tensor<float>> inner;
    kiln::for_(0, 2, [&](Rep<int64_t> i) { inner.emplace(a.tensor({3}, i * 3) * 2.0f); });
    line = __LINE__; y.store(*inner);
  });
  CHECK_THAT(msg, Contains(here(line)) && Contains("loop body"));
}

// --- buffer sizes at call time --------------------------------------------------------

namespace {

/// The RuntimeError message of calling `s` compiled with `opts`.
template <class Sig, class... A>
std::string runtime_error(const kiln::Staged<Sig>& s, const kiln::Options& opts, A&&... args) {
  auto c = kiln::compile(s, opts);
  return kiln::test::error_message<kiln::RuntimeError>([&] { c(std::forward<A>(args)...); });
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

}  // namespace

TEST_CASE("tensor errors: Arr::tensor of a buffer of another size", "[errors][tensor]") {
  int line = 0;
  auto f = kiln::stage("load_exact", [&](Arr<const float> x) {
    line = __LINE__; return x.tensor({4, 3}).sum_all();
  });
  std::vector<float> x11(11, 1.0f), x12(12, 1.0f), x13(13, 1.0f);
  for (const auto& [name, opts] : call_time_backends()) {
    INFO(name);
    std::string msg = runtime_error(f, opts, std::span<const float>(x11));
    CHECK_THAT(msg, Contains("exactly 12") && Contains(here(line)) && Contains("load_exact"));
    msg = runtime_error(f, opts, std::span<const float>(x13));
    CHECK_THAT(msg, Contains("exactly 12") && Contains(here(line)));
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
    CHECK_THAT(runtime_error(f, opts, std::span<const double>(x), int64_t{5}), Contains(here(line)));
    CHECK_THAT(runtime_error(f, opts, std::span<const double>(x), int64_t{-1}), Contains(here(line)));
    CHECK_THAT(runtime_error(f, opts, std::span<const double>(x), int64_t{1} << 62), Contains(here(line)));
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
    CHECK_THAT(runtime_error(f, opts, std::span<const float>(x), std::span<float>(y5)),
               Contains("exactly 6") && Contains(here(line)));
    CHECK_THAT(runtime_error(f, opts, std::span<const float>(x), std::span<float>(y7)),
               Contains("exactly 6") && Contains(here(line)));
    kiln::compile(f, opts)(std::span<const float>(x), std::span<float>(y6));
    CHECK(y6 == std::vector<float>(6, 2.0f));
    CHECK_THAT(runtime_error(g, opts, std::span<const float>(x), std::span<float>(y9), int64_t{4}), Contains(here(line2)));
    CHECK_THAT(runtime_error(g, opts, std::span<const float>(x), std::span<float>(y9), int64_t{-2}), Contains(here(line2)));
    kiln::compile(g, opts)(std::span<const float>(x), std::span<float>(y9), int64_t{3});
    CHECK(y9 == std::vector<float>{0, 0, 0, 2, 2, 2, 2, 2, 2});
  }
}

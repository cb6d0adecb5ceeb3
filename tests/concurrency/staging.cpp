// Staging on several threads at once: each thread stages in a staging
// context of its own, so threads staging different functions, or functions
// of the same name, get the function they wrote; a Staged function made on
// one thread may be called while staging on others; and a Rep or Arr of one
// thread's staging used in another thread's stage() is a StagingError there.
#include "support.h"
#include "threads.h"

#include <latch>
#include <optional>
#include <string>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;
using kiln::test::on_threads;
using kiln::test::test_threads;

namespace {

// A function with a recurrence unrolled at staging time (k steps), a staged
// loop, a branch and a staged call of a helper staged alongside it.
kiln::Staged<int64_t(int64_t)> staged_poly(int k, const std::string& name) {
  auto twice = kiln::stage("twice", [](Rep<int64_t> v) { return v * 2; });
  return kiln::stage(name, [k, twice](Rep<int64_t> x) {
    Rep<int64_t> acc = 1;
    for (int i = 0; i < k; ++i) acc = acc * x + i;
    kiln::for_(0, x, [&](Rep<int64_t> j) { acc += j; });
    kiln::if_(acc % 2 == 0, [&] { acc = twice(acc); });
    return acc;
  });
}

// What staged_poly(k, ...) computes, in plain C++.
int64_t poly(int k, int64_t x) {
  int64_t acc = 1;
  for (int i = 0; i < k; ++i) acc = acc * x + i;
  for (int64_t j = 0; j < x; ++j) acc += j;
  return acc % 2 == 0 ? acc * 2 : acc;
}

const kiln::Options interp{.backend = kiln::Backend::interp};

}  // namespace

TEST_CASE("eight threads staging different functions at once each get their own", "[concurrency][stage]") {
  constexpr int rounds = 10;
  std::vector<int> wrong(test_threads, 0);
  std::vector<std::string> ir(test_threads);
  on_threads(test_threads, [&](int t) {
    for (int round = 0; round < rounds; ++round) {
      const int k = t + 1 + round % 3;
      auto f = staged_poly(k, "poly" + std::to_string(t));
      if (round == 0) ir[t] = f.ir();
      auto run = kiln::compile(f, interp);
      for (int64_t x : {-2, 0, 3, 5}) wrong[t] += run(x) != poly(k, x);
    }
  });
  for (int t = 0; t < test_threads; ++t) {
    CAPTURE(t);
    CHECK(wrong[t] == 0);
    CHECK(ir[t] == staged_poly(t + 1, "poly" + std::to_string(t)).ir());  // as if staged alone
  }
}

TEST_CASE("eight threads staging functions of one name at once get the same IR", "[concurrency][stage]") {
  const std::string want = staged_poly(4, "same").ir();
  std::vector<std::string> ir(test_threads);
  std::vector<int64_t> result(test_threads);
  on_threads(test_threads, [&](int t) {
    auto f = staged_poly(4, "same");
    ir[t] = f.ir();
    result[t] = kiln::compile(f, interp)(3);
  });
  for (int t = 0; t < test_threads; ++t) {
    CAPTURE(t);
    CHECK(ir[t] == want);
    CHECK(result[t] == poly(4, 3));
  }
}

TEST_CASE("a function staged on one thread is called by functions staged on eight others at once",
          "[concurrency][stage]") {
  auto square = kiln::stage("square", [](Rep<int64_t> x) { return x * x; });
  std::vector<int64_t> result(test_threads);
  on_threads(test_threads, [&](int t) {
    auto f = kiln::stage("user", [&](Rep<int64_t> x) { return square(x) + square(x + t); });
    result[t] = kiln::compile(f, interp)(5);
  });
  for (int t = 0; t < test_threads; ++t) CHECK(result[t] == 25 + (5 + t) * (5 + t));
}

TEST_CASE("a Rep of one thread's staging used in another thread's stage() is a StagingError there",
          "[concurrency][stage]") {
  std::optional<Rep<double>> theirs;  // lives in the owner's staging context
  std::latch made(1), used(1);
  std::string message;
  std::thread owner([&] {
    kiln::stage("owner", [&](Rep<double> x) {
      theirs.emplace(x * 2.0);
      made.count_down();
      used.wait();  // the owner is still staging while the borrower tries
      theirs.reset();
      return x;
    });
  });
  std::thread borrower([&] {
    made.wait();
    try {
      kiln::stage("borrower", [&](Rep<double> y) { return y + *theirs; });
    } catch (const kiln::StagingError& e) {
      message = e.what();
    }
    used.count_down();
  });
  owner.join();
  borrower.join();
  CHECK_THAT(message, Contains("a Rep or Arr from another staged function is used while staging 'borrower'") &&
                          Contains("staging.cpp:"));
}

TEST_CASE("an Arr of one thread's staging used in another thread's stage() is a StagingError there",
          "[concurrency][stage]") {
  std::optional<Arr<double>> theirs;
  std::latch made(1), used(1);
  std::string message;
  std::thread owner([&] {
    kiln::stage("owner", [&](Arr<double> x) {
      theirs.emplace(x);
      made.count_down();
      used.wait();
      theirs.reset();
    });
  });
  std::thread borrower([&] {
    made.wait();
    try {
      kiln::stage("borrower", [&](Rep<double> y) { return y + (*theirs)[0]; });
    } catch (const kiln::StagingError& e) {
      message = e.what();
    }
    used.count_down();
  });
  owner.join();
  borrower.join();
  CHECK_THAT(message, Contains("an Arr from another staged function is used while staging 'borrower'"));
}

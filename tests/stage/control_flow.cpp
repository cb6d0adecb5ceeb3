// Staged control flow: if_, cond, while_, for_, parallel_for_, with Reps
// declared outside a region and assigned inside it.
#include <catch2/catch.hpp>

#include "support.h"

#include <span>
#include <tuple>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::interp;

TEST_CASE("if_ assigns an outer variable in both branches", "[stage][if]") {
  auto f = kiln::stage("abs_plus", [](Rep<int64_t> x) {
    Rep<int64_t> y = 0;
    kiln::if_(x < 0, [&] { y = -x; }, [&] { y = x; });
    return y + 1;
  });
  auto c = interp(f);
  for (int64_t x : {-5, 0, 7}) CHECK(c(x) == (x < 0 ? -x : x) + 1);
  CHECK(f.ir(kiln::test::unoptimised).find("var.") == std::string::npos);
}

TEST_CASE("if_ without else keeps the old value on the false path", "[stage][if]") {
  auto f = kiln::stage("clamp_low", [](Rep<double> x) {
    kiln::if_(x < 0.0, [&] { x = 0.0; });
    return x;
  });
  auto c = interp(f);
  CHECK(c(-2.5) == 0.0);
  CHECK(c(3.5) == 3.5);
}

TEST_CASE("cond returns one value from the taken branch", "[stage][cond]") {
  auto f = kiln::stage("sign", [](Rep<float> x) {
    return kiln::cond(x > 0.0f, [&] { return Rep<float>(1.0f); }, [&] { return Rep<float>(-1.0f); });
  });
  auto c = interp(f);
  CHECK(c(3.0f) == 1.0f);
  CHECK(c(-3.0f) == -1.0f);
}

TEST_CASE("cond returns a tuple of Reps", "[stage][cond][tuple]") {
  auto f = kiln::stage("sorted", [](Rep<int32_t> a, Rep<int32_t> b) {
    return kiln::cond(
        a < b, [&] { return std::make_tuple(a, b); }, [&] { return std::make_tuple(b, a); });
  });
  auto c = interp(f);
  CHECK(c(3, 9) == std::make_tuple(3, 9));
  CHECK(c(9, 3) == std::make_tuple(3, 9));
}

TEST_CASE("while_ carries values its condition reads before the body assigns them", "[stage][while]") {
  // The condition lambda is staged first and reads n; only the body, staged
  // later, assigns it. n must still become loop-carried.
  auto f = kiln::stage("halvings", [](Rep<int64_t> n) {
    Rep<int64_t> count = 0;
    kiln::while_([&] { return n > 1; }, [&] {
      n = n / 2;
      count += 1;
    });
    return count;
  });
  auto c = interp(f);
  for (int64_t n : {1, 2, 3, 1024, 1000000}) {
    int64_t m = n, k = 0;
    while (m > 1) m /= 2, ++k;
    CHECK(c(n) == k);
  }
}

TEST_CASE("while_ condition that assigns a variable forwards it to the body", "[stage][while]") {
  auto f = kiln::stage("pre_increment_loop", [](Rep<int64_t> n) {
    Rep<int64_t> i = 0, sum = 0;
    kiln::while_(
        [&] {
          i = i + 1;
          return i <= n;
        },
        [&] { sum += i; });
    return std::make_tuple(i, sum);
  });
  auto c = interp(f);
  CHECK(c(4) == std::make_tuple(int64_t{5}, int64_t{10}));
  CHECK(c(0) == std::make_tuple(int64_t{1}, int64_t{0}));
}

TEST_CASE("for_ accumulates into a loop-carried variable", "[stage][for]") {
  auto f = kiln::stage("triangle", [](Rep<int64_t> n) {
    Rep<int64_t> acc = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { acc += i; });
    return acc;
  });
  auto c = interp(f);
  CHECK(c(0) == 0);
  CHECK(c(10) == 45);
  CHECK(c(-3) == 0);
}

TEST_CASE("for_ with a step counts up or down and a zero step traps", "[stage][for]") {
  auto f = kiln::stage("stepped", [](Rep<int64_t> lo, Rep<int64_t> hi, Rep<int64_t> step) {
    Rep<int64_t> acc = 0, trips = 0;
    kiln::for_(lo, hi, step, [&](Rep<int64_t> i) {
      acc += i;
      trips += 1;
    });
    return std::make_tuple(acc, trips);
  });
  auto c = interp(f);
  auto plain = [](int64_t lo, int64_t hi, int64_t step) {
    int64_t acc = 0, trips = 0;
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) acc += i, ++trips;
    return std::make_tuple(acc, trips);
  };
  for (auto [lo, hi, step] : {std::tuple{0, 10, 3}, {10, 0, -3}, {5, 5, 1}, {0, 10, -1}, {-7, 7, 7}})
    CHECK(c(lo, hi, step) == plain(lo, hi, step));
  CHECK_THROWS_AS(c(0, 10, 0), kiln::RuntimeError);
}

TEST_CASE("for_ near the top of int32 terminates", "[stage][for]") {
  auto f = kiln::stage("top", [](Rep<int32_t> lo) {
    Rep<int32_t> trips = 0;
    kiln::for_(lo, INT32_MAX, 1, [&](Rep<int32_t>) { trips += 1; });
    return trips;
  });
  CHECK(interp(f)(INT32_MAX - 3) == 3);
}

TEST_CASE("variables are mutated at every level of if_, while_ and for_ nested three deep", "[stage][nested]") {
  auto staged = kiln::stage("nest", [](Rep<int64_t> n) {
    Rep<int64_t> total = 0, evens = 0, steps = 0;
    kiln::for_(1, n, [&](Rep<int64_t> i) {
      Rep<int64_t> m = i;
      total += 1;
      kiln::while_([&] { return m != 1; }, [&] {
        steps += 1;
        kiln::if_(m % 2 == 0, [&] {
          m = m / 2;
          evens += 1;
          total += m;
        }, [&] {
          m = 3 * m + 1;
          total -= 1;
        });
      });
      total += steps % 7;
    });
    return std::make_tuple(total, evens, steps);
  });
  auto plain = [](int64_t n) {
    int64_t total = 0, evens = 0, steps = 0;
    for (int64_t i = 1; i < n; ++i) {
      int64_t m = i;
      total += 1;
      while (m != 1) {
        steps += 1;
        if (m % 2 == 0) {
          m = m / 2;
          evens += 1;
          total += m;
        } else {
          m = 3 * m + 1;
          total -= 1;
        }
      }
      total += steps % 7;
    }
    return std::make_tuple(total, evens, steps);
  };
  auto c = interp(staged);
  for (int64_t n : {1, 2, 10, 50}) CHECK(c(n) == plain(n));
  CHECK(staged.ir(kiln::test::unoptimised).find("var.") == std::string::npos);
}

TEST_CASE("a variable assigned in an inner loop is carried by every enclosing loop", "[stage][nested]") {
  auto staged = kiln::stage("grid", [](Rep<int64_t> n) {
    Rep<double> acc = 0.0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      kiln::for_(0, n, [&](Rep<int64_t> j) {
        kiln::for_(0, n, [&](Rep<int64_t> k) { acc = acc * 0.5 + kiln::cast<double>(i * 100 + j * 10 + k); });
      });
    });
    return acc;
  });
  double acc = 0.0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 4; ++k) acc = acc * 0.5 + static_cast<double>(i * 100 + j * 10 + k);
  CHECK(interp(staged)(4) == acc);
}

TEST_CASE("parallel_for_ writes one buffer element per iteration", "[stage][parallel_for]") {
  auto f = kiln::stage("scale", [](Rep<float> a, Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i]; });
  });
  std::vector<float> x = {1, 2, 3, 4}, y(4);
  interp(f)(2.5f, std::span<const float>(x), std::span<float>(y));
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == 2.5f * x[i]);
  CHECK(f.ir(kiln::test::unoptimised).find("parallel_for") != std::string::npos);
}

TEST_CASE("a Rep declared inside a loop body is fresh each iteration", "[stage][for]") {
  auto f = kiln::stage("fresh", [](Rep<int64_t> n) {
    Rep<int64_t> out = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      Rep<int64_t> local = 10;
      kiln::if_(i % 2 == 0, [&] { local += i; });
      out += local;
    });
    return out;
  });
  int64_t out = 0;
  for (int64_t i = 0; i < 6; ++i) out += 10 + (i % 2 == 0 ? i : 0);
  CHECK(interp(f)(6) == out);
}

TEST_CASE("Reps kept in a std::vector survive reallocation and stay variables", "[stage][vector]") {
  auto f = kiln::stage("histogram", [](Arr<const int32_t> x) {
    std::vector<Rep<int64_t>> bins;
    for (int b = 0; b < 5; ++b) bins.push_back(Rep<int64_t>(0));  // reallocates while growing
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      for (int b = 0; b < 5; ++b) kiln::if_(x[i] == b, [&] { bins[b] += 1; });
    });
    return std::make_tuple(bins[0], bins[1], bins[2], bins[3], bins[4]);
  });
  std::vector<int32_t> x = {0, 1, 1, 4, 4, 4, 2, 7};
  CHECK(interp(f)(std::span<const int32_t>(x)) == std::make_tuple(int64_t{1}, int64_t{2}, int64_t{1}, int64_t{0}, int64_t{3}));
}

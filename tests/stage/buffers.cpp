// Staged buffers: Arr<T> loads and stores, Arr<const T> reads, size().
#include <catch2/catch.hpp>

#include "support.h"

#include <numeric>
#include <span>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::interp;

TEST_CASE("a staged dot product reads two buffers", "[stage][buffer]") {
  auto dot = kiln::stage("dot", [](Arr<const double> x, Arr<const double> y) {
    Rep<double> acc = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += x[i] * y[i]; });
    return acc;
  });
  std::vector<double> x(37), y(37);
  std::iota(x.begin(), x.end(), 1.0);
  std::iota(y.begin(), y.end(), -3.0);
  double want = 0.0;
  for (size_t i = 0; i < x.size(); ++i) want += x[i] * y[i];
  CHECK(interp(dot)(std::span<const double>(x), std::span<const double>(y)) == want);
}

TEST_CASE("storing into a buffer element emits no load of it", "[stage][buffer]") {
  auto copy = kiln::stage("copy", [](Arr<const float> x, Arr<float> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = x[i]; });
  });
  std::string ir = copy.ir(kiln::test::unoptimised);
  CHECK(kiln::test::count(ir, " = load ") == 1);
  CHECK(kiln::test::count(ir, "store ") == 1);
  std::vector<float> x = {1.5f, -2.0f, 3.25f}, y(3);
  interp(copy)(std::span<const float>(x), std::span<float>(y));
  CHECK(y == x);
}

TEST_CASE("compound assignment to an element loads then stores", "[stage][buffer]") {
  auto bump = kiln::stage("bump", [](Arr<int32_t> x) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] += kiln::cast<int32_t>(i); });
  });
  std::vector<int32_t> x = {10, 20, 30};
  interp(bump)(std::span<int32_t>(x));
  CHECK(x == std::vector<int32_t>{10, 21, 32});
}

TEST_CASE("loads and stores keep their program order", "[stage][buffer][effects]") {
  auto swap_first = kiln::stage("swap", [](Arr<int64_t> x) {
    Rep<int64_t> a = x[0];
    x[0] = x[1];
    x[1] = a;
  });
  std::vector<int64_t> x = {1, 2, 3};
  interp(swap_first)(std::span<int64_t>(x));
  CHECK(x == std::vector<int64_t>{2, 1, 3});
}

TEST_CASE("an element read with auto tracks later stores, a Rep snapshot does not", "[stage][buffer]") {
  auto f = kiln::stage("snapshot", [](Arr<float> x) {
    Rep<float> old = x[0];
    x[0] = 7.0f;
    return old;
  });
  std::vector<float> x = {3.0f};
  CHECK(interp(f)(std::span<float>(x)) == 3.0f);
  CHECK(x[0] == 7.0f);
}

TEST_CASE("buffers of every element type round-trip", "[stage][buffer]") {
  auto f = kiln::stage("mix", [](Arr<const bool> b, Arr<int32_t> i, Arr<int64_t> l, Arr<float> f, Arr<double> d) {
    kiln::for_(0, b.size(), [&](Rep<int64_t> k) {
      kiln::if_(b[k], [&] {
        i[k] = i[k] * 2;
        l[k] = l[k] + 1;
        f[k] = f[k] * 0.5f;
        d[k] = -d[k];
      });
    });
  });
  bool bs[] = {true, false, true};
  std::vector<int32_t> i = {1, 2, 3};
  std::vector<int64_t> l = {4, 5, 6};
  std::vector<float> fl = {1, 2, 3};
  std::vector<double> d = {7, 8, 9};
  interp(f)(std::span<const bool>(bs), std::span<int32_t>(i), std::span<int64_t>(l), std::span<float>(fl),
            std::span<double>(d));
  CHECK(i == std::vector<int32_t>{2, 2, 6});
  CHECK(l == std::vector<int64_t>{5, 5, 7});
  CHECK(fl == std::vector<float>{0.5f, 2, 1.5f});
  CHECK(d == std::vector<double>{-7, 8, -9});
}

TEST_CASE("Arr<float> passes where Arr<const float> is expected", "[stage][buffer]") {
  auto sum = kiln::stage("sum", [](Arr<const float> x) {
    Rep<float> s = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += x[i]; });
    return s;
  });
  auto normalise = kiln::stage("normalise", [&](Arr<float> x) {
    Rep<float> s = sum(x);
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] / s; });
  });
  std::vector<float> x = {1, 3};
  interp(normalise)(std::span<float>(x));
  CHECK(x == std::vector<float>{0.25f, 0.75f});
}

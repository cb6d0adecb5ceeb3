// Tensor lowering (codegen/lower): views, constants, one_hot/gather, loads
// and stores at offsets, bool tensors, lowered to loop nests, must compute
// what the interpreter
// computes running the unlowered program (the reference), bit for bit (any
// NaN equals any NaN); the lowered program runs on the interpreter and is
// cross-checked against the C++ and LLVM backends (kiln::test::interp).
#include "lower/tensor_support.h"

using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;
using Catch::Matchers::Contains;
using namespace kiln::test::lowering;

TEST_CASE("lowering: transpose 2-D and 3-D permutations, of loads and of computed values", "[lower][tensor]") {
  auto f = kiln::stage("transpose", [](Arr<const float> a, Arr<const float> b, Arr<float> y) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({2, 3, 4});
    y.store(A.transpose(), 0);                      // [3, 2]
    y.store(B.transpose({2, 0, 1}), 6);             // [4, 2, 3]
    y.store(B.transpose({1, 0, 2}), 30);            // [3, 2, 4]
    y.store(B.transpose({0, -1, 1}), 54);           // [2, 4, 3]
    y.store(B.transpose(), 78);                     // [4, 3, 2]
    y.store((B * 2.0f + 1.0f).transpose({2, 0, 1}) - B.transpose({2, 0, 1}), 102);
    y.store(A.transpose().transpose() + A, 126);
  });
  std::vector<float> a = randoms<float>(6, 71), b = randoms<float>(24, 72);
  auto r = lowered_matches_unlowered(f, a, b, std::vector<float>(132));
  const auto& y = std::get<2>(r.buffers);
  auto part = [&](size_t at, size_t n) { return std::vector<float>(y.begin() + at, y.begin() + at + n); };
  CHECK(difference(part(0, 6), ref_transpose(a, {2, 3}, {1, 0}), "2-D").empty());
  CHECK(difference(part(6, 24), ref_transpose(b, {2, 3, 4}, {2, 0, 1}), "2 0 1").empty());
  CHECK(difference(part(30, 24), ref_transpose(b, {2, 3, 4}, {1, 0, 2}), "1 0 2").empty());
  CHECK(difference(part(54, 24), ref_transpose(b, {2, 3, 4}, {0, 2, 1}), "0 2 1").empty());
  CHECK(difference(part(78, 24), ref_transpose(b, {2, 3, 4}, {2, 1, 0}), "reversed").empty());
}

TEST_CASE("lowering: reshape (with -1) of loads, of computed values, of transposes and slices", "[lower][tensor]") {
  auto f = kiln::stage("reshape", [](Arr<const double> x, Rep<int64_t> off, Arr<double> y) {
    Tensor<double> X = x.tensor({2, 6});
    y.store(X.reshape({3, 4}), 0);
    y.store(X.reshape({-1, 2}).transpose(), 12);                 // [2, 6]
    y.store(X.reshape({12}) * 2.0, 24);
    y.store(X.reshape({2, -1, 3}).sum({1}).reshape({-1}), 36);    // [2, 3] -> 6
    y.store(X.transpose().reshape({4, 3}), 42);                    // a non-contiguous view, reshaped
    y.store((X + 1.0).transpose().reshape({12}).slice(0, 1, 12, 5), 54);  // 3 elements
    y.store(X.slice(1, 0, 6, 2).reshape({3, 2}), 57);
    y.store(x.tensor({2, 3}, off).reshape({3, 2}) * X.slice(0, 0, 1).reshape({3, 2}), 63);  // an offset load, reshaped
  });
  std::vector<double> x = randoms<double>(12, 81);
  auto r = lowered_matches_unlowered(f, x, int64_t{4}, std::vector<double>(69));
  const auto& y = std::get<2>(r.buffers);
  for (size_t i = 0; i < 12; ++i) CHECK(same_scalar(y[i], x[i]));
  const std::vector<double> xt = ref_transpose(x, {2, 6}, {1, 0});
  for (size_t i = 0; i < 12; ++i) CHECK(same_scalar(y[42 + i], xt[i]));
  for (size_t i = 0; i < 6; ++i) CHECK(same_scalar(y[57 + i], x[(i / 3) * 6 + (i % 3) * 2]));
  for (size_t i = 0; i < 6; ++i) CHECK(same_scalar(y[63 + i], x[4 + i] * x[i]));
}

TEST_CASE("lowering: slice with steps, negative bounds, clamping, of views and computed values", "[lower][tensor]") {
  auto f = kiln::stage("slice", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> X = x.tensor({5, 6});
    y.store(X.slice(1, 0, 6, 2), 0);                      // [5, 3]
    y.store(X.slice(0, 1, 4), 15);                        // [3, 6]
    y.store(X.slice(0, -3, -1), 33);                      // rows 2, 3: [2, 6]
    y.store(X.slice(1, 1, 100, 3), 45);                   // columns 1, 4: [5, 2]
    y.store(X.slice(-1, 5, 6).slice(0, 0, 5, 4), 55);     // [2, 1]
    y.store(X.transpose().slice(0, 1, 6, 2), 57);         // [3, 5]
    y.store(kiln::exp(X).slice(1, 2, 5).slice(0, 1, 5, 2), 72);  // [2, 3]
  });
  std::vector<float> x = randoms<float>(30, 91);
  auto r = lowered_matches_unlowered(f, x, std::vector<float>(78));
  const auto& y = std::get<1>(r.buffers);
  auto at = [&](size_t i, size_t j) { return x[i * 6 + j]; };
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = 0; j < 3; ++j) CHECK(same_scalar(y[i * 3 + j], at(i, 2 * j)));
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 6; ++j) CHECK(same_scalar(y[15 + i * 6 + j], at(i + 1, j)));
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 6; ++j) CHECK(same_scalar(y[33 + i * 6 + j], at(i + 2, j)));
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = 0; j < 2; ++j) CHECK(same_scalar(y[45 + i * 2 + j], at(i, 1 + 3 * j)));
  CHECK(same_scalar(y[55], at(0, 5)));
  CHECK(same_scalar(y[56], at(4, 5)));
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 5; ++j) CHECK(same_scalar(y[57 + i * 5 + j], at(j, 1 + 2 * i)));
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 3; ++j) CHECK(same_scalar(y[72 + i * 3 + j], std::exp(at(1 + 2 * i, 2 + j))));
}

TEST_CASE("lowering: broadcast_to", "[lower][tensor]") {
  auto f = kiln::stage("broadcast_to", [](Arr<const int32_t> a, Arr<const int32_t> b, Arr<const int32_t> c,
                                          Arr<int32_t> y) {
    y.store(a.tensor({3}).broadcast_to({2, 3}), 0);                       // 6
    y.store(b.tensor({2, 1}).broadcast_to({2, 4}), 6);                    // 8
    y.store(c.tensor({1}).broadcast_to({3, 1, 2}), 14);                   // 6
    y.store(b.tensor({2, 1}).broadcast_to({3, 2, 2}) * 10 + a.tensor({3}).slice(0, 0, 2), 20);  // 12
    y.store(a.tensor({3}).reshape({1, 3, 1}).broadcast_to({2, 3, 2}), 32);  // 12
  });
  std::vector<int32_t> a = {1, 2, 3}, b = {4, 5}, c = {6};
  auto r = lowered_matches_unlowered(f, a, b, c, std::vector<int32_t>(44));
  const auto& y = std::get<3>(r.buffers);
  CHECK(std::vector<int32_t>(y.begin(), y.begin() + 14) == std::vector<int32_t>{1, 2, 3, 1, 2, 3, 4, 4, 4, 4, 5, 5, 5, 5});
  CHECK(std::vector<int32_t>(y.begin() + 14, y.begin() + 20) == std::vector<int32_t>(6, 6));
  CHECK(std::vector<int32_t>(y.begin() + 20, y.begin() + 32) ==
        std::vector<int32_t>{41, 42, 51, 52, 41, 42, 51, 52, 41, 42, 51, 52});
  CHECK(std::vector<int32_t>(y.begin() + 32, y.begin() + 44) ==
        std::vector<int32_t>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
}

// --- one_hot, gather, constants -------------------------------------------------------

TEST_CASE("lowering: one_hot and gather with int32 and int64 labels", "[lower][tensor]") {
  auto f = kiln::stage("one_hot", [](Arr<const int32_t> l, Arr<const int64_t> m, Arr<const double> x, Arr<float> oh,
                                     Arr<double> g) {
    Tensor<int32_t> L = l.tensor({5});
    oh.store(kiln::one_hot<float>(L, 3), 0);                       // [5, 3]
    oh.store(kiln::one_hot<float>(m.tensor({2, 2}), 4).reshape({16}), 15);  // [2, 2, 4]
    Tensor<double> X = x.tensor({5, 3});
    g.store(kiln::gather(X, L), 0);
    g.store(kiln::gather(X * X, L) + kiln::gather(X.reshape({5, 1, 3}), L.reshape({5, 1})).reshape({5}), 5);
  });
  std::vector<int32_t> l = {0, 2, 1, 7, -1};  // out of range: a zero row
  std::vector<int64_t> m = {3, 0, 1, 1};
  std::vector<double> x = randoms<double>(15, 101);
  auto r = lowered_matches_unlowered(f, l, m, x, std::vector<float>(31, -1.0f), std::vector<double>(10));
  const auto& oh = std::get<3>(r.buffers);
  for (size_t i = 0; i < 5; ++i)
    for (size_t k = 0; k < 3; ++k) CHECK(oh[i * 3 + k] == (l[i] == int32_t(k) ? 1.0f : 0.0f));
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < 4; ++k) CHECK(oh[15 + i * 4 + k] == (m[i] == int64_t(k) ? 1.0f : 0.0f));
  const auto& g = std::get<4>(r.buffers);
  for (size_t i = 0; i < 5; ++i) {
    // A masked sum over the row: -0.0 + x0 m0 + x1 m1 + x2 m2, in order.
    double s = -0.0;
    for (size_t k = 0; k < 3; ++k) s = s + x[i * 3 + k] * (l[i] == int32_t(k) ? 1.0 : 0.0);
    CHECK(same_scalar(g[i], s));
    if (l[i] >= 0 && l[i] < 3) CHECK(g[i] == x[i * 3 + static_cast<size_t>(l[i])]);
  }
}

TEST_CASE("lowering: zeros, ones, full, arange and constant", "[lower][tensor]") {
  auto f = kiln::stage("constants", [](Arr<const float> x, Arr<float> y, Arr<int32_t> n, Arr<bool> b) {
    Tensor<float> X = x.tensor({2, 3});
    y.store(kiln::zeros<float>({2, 3}) + X, 0);
    y.store(kiln::full<float>({3}, 2.5f) * X, 6);
    y.store(kiln::arange<float>(3) + X, 12);
    y.store(kiln::constant<float>({1, -2, 3.5f, 4, 5, -6}, {2, 3}) * X, 18);
    y.store(kiln::constant<float>({10, 20}, {2, 1}) + X, 24);
    y.store(kiln::ones<float>({1, 1}).broadcast_to({2, 3}) - kiln::constant<float>({0.25f}, {1}), 30);
    y.store(kiln::cast<float>(kiln::arange<int64_t>(6)).reshape({2, 3}) / X, 36);
    n.store(kiln::arange<int32_t>(4) * kiln::constant<int32_t>({3, -1, 4, 1}, {4}) + kiln::ones<int32_t>({4}), 0);
    n.store(kiln::constant<int32_t>({7, 8, 9, 10, 11, 12}, {3, 2}).transpose().reshape({6}), 4);
    n.store(kiln::full<int32_t>({2}, -3), 10);
    b.store(kiln::full<bool>({2}, true), 0);
    b.store(kiln::constant<bool>({true, false, true}, {3}) && kiln::full<bool>({3}, true), 2);
  });
  std::vector<float> x = randoms<float>(6, 111);
  std::array<bool, 5> bools{};
  auto r = lowered_matches_unlowered(f, x, std::vector<float>(42), std::vector<int32_t>(12), bools);
  const auto& y = std::get<1>(r.buffers);
  const float c[] = {1, -2, 3.5f, 4, 5, -6};
  for (size_t i = 0; i < 6; ++i) {
    CHECK(same_scalar(y[i], 0.0f + x[i]));
    CHECK(same_scalar(y[6 + i], 2.5f * x[i]));
    CHECK(same_scalar(y[12 + i], float(i % 3) + x[i]));
    CHECK(same_scalar(y[18 + i], c[i] * x[i]));
    CHECK(same_scalar(y[24 + i], (i < 3 ? 10.0f : 20.0f) + x[i]));
    CHECK(y[30 + i] == 0.75f);
    CHECK(same_scalar(y[36 + i], float(i) / x[i]));
  }
  CHECK(std::get<2>(r.buffers) == std::vector<int32_t>{1, 0, 9, 4, 7, 9, 11, 8, 10, 12, -3, -3});
  CHECK(std::get<3>(r.buffers) == std::array<bool, 5>{true, true, true, false, true});
}

// --- buffers: offsets, writable loads --------------------------------------------------

TEST_CASE("lowering: Arr::tensor and Arr::store at offsets (literal and staged)", "[lower][tensor]") {
  auto f = kiln::stage("offsets", [](Arr<const float> x, Rep<int64_t> k, Arr<float> y) {
    Tensor<float> a = x.tensor({2, 3}, 4);    // elements 4..9
    Tensor<float> b = x.tensor({3}, k);       // elements k..k+2
    y.store(a + b, 5);                        // elements 5..10 of y
    y.store(b * 2.0f, k + 10);
  });
  std::vector<float> x = randoms<float>(12, 121);
  const std::vector<float> y0(22, -7.0f);
  auto r = lowered_matches_unlowered(f, x, int64_t{9}, y0);
  const auto& y = std::get<2>(r.buffers);
  for (size_t i = 0; i < 22; ++i) {
    INFO(i);
    if (i >= 5 && i < 11) CHECK(same_scalar(y[i], x[4 + (i - 5)] + x[9 + (i - 5) % 3]));
    else if (i >= 19) CHECK(same_scalar(y[i], x[9 + (i - 19)] * 2.0f));
    else CHECK(y[i] == -7.0f);  // untouched
  }
  auto r2 = lowered_matches_unlowered(f, x, int64_t{0}, y0);
  CHECK(same_scalar(std::get<2>(r2.buffers)[10], x[0] * 2.0f));
}

TEST_CASE("lowering: a tensor loaded from a writable buffer keeps the values it had when loaded", "[lower][tensor]") {
  auto f = kiln::stage("inout", [](Arr<double> y, Arr<const double> x, Arr<double> out) {
    Tensor<double> a = y.tensor({4});
    y.store(a * 2.0 + x.tensor({4}));
    Tensor<double> b = y.tensor({4});   // the new contents
    y.store(b + 100.0);
    out.store(a - b, 0);                // a is still the old contents
    out.store(y.tensor({2}, 2), 4);
  });
  std::vector<double> y = {1, 2, 3, 4}, x = {0.5, 0.25, -1, 8};
  auto r = lowered_matches_unlowered(f, y, x, std::vector<double>(6));
  const auto& o = std::get<2>(r.buffers);
  CHECK(o == std::vector<double>{1 - 2.5, 2 - 4.25, 3 - 5, 4 - 16, 5 + 100, 16 + 100});
  CHECK(std::get<0>(r.buffers) == std::vector<double>{102.5, 104.25, 105, 116});
}

TEST_CASE("lowering: a chain that uses values twice, and a float and a double program", "[lower][tensor]") {
  auto f = kiln::stage("twice", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> X = x.tensor({3, 4});
    Tensor<float> t = kiln::exp(X * 0.5f) + 1.0f;
    Tensor<float> u = t * t - t.sum({1}, true);
    y.store(u + u.transpose().transpose(), 0);
    y.store(kiln::sqrt(t), 12);
    return (u * t).sum_all();
  });
  std::vector<float> x = randoms<float>(12, 131);
  auto r = lowered_matches_unlowered(f, x, std::vector<float>(24));
  const auto& y = std::get<1>(r.buffers);
  std::vector<float> t(12), u(12);
  for (size_t i = 0; i < 12; ++i) t[i] = std::exp(x[i] * 0.5f) + 1.0f;
  const std::vector<float> rows = ref_reduce_axis(t, {3, 4}, 1, false);
  float s = -0.0f;
  for (size_t i = 0; i < 12; ++i) {
    u[i] = t[i] * t[i] - rows[i / 4];
    CHECK(same_scalar(y[i], u[i] + u[i]));
    CHECK(same_scalar(y[12 + i], std::sqrt(t[i])));
    s = s + u[i] * t[i];
  }
  CHECK(same_scalar(r.result, s));

  auto g = kiln::stage("mlp_double", [](Arr<const double> x, Arr<const double> w, Arr<const double> b, Arr<double> y) {
    Tensor<double> h = kiln::tanh(kiln::matmul(x.tensor({4, 3}), w.tensor({3, 5})) + b.tensor({5}));
    Tensor<double> p = kiln::softmax(h);
    y.store(p);
    return kiln::log_softmax(h).max_all() + p.mean_all();
  });
  lowered_matches_unlowered(g, randoms<double>(12, 132), randoms<double>(15, 133), randoms<double>(5, 134),
                            std::vector<double>(20));
}

TEST_CASE("lowering: larger tensors take the parallel loop nests", "[lower][tensor]") {
  // 256 x 160 = 40960 elements: over LowerOptions::parallel_elements.
  auto f = kiln::stage("big", [](Arr<const float> x, Arr<const float> v, Arr<float> y, Arr<float> s) {
    Tensor<float> X = x.tensor({256, 160});
    Tensor<float> t = kiln::tanh(X) * v.tensor({160});
    y.store(t + t.max({1}, true));
    s.store(t.sum({0}), 0);
    s.store(X.transpose().sum({1}) + 1.0f, 160);
  });
  CHECK_THAT(f.ir(), Contains("parallel_for"));
  auto r = lowered_matches_unlowered(f, randoms<float>(256 * 160, 141), randoms<float>(160, 142),
                                     std::vector<float>(256 * 160), std::vector<float>(320));
  (void)r;
}

// --- staged control flow ----------------------------------------------------------------

TEST_CASE("lowering: bool tensors in and out of buffers", "[lower][tensor]") {
  auto f = kiln::stage("bools", [](Arr<const bool> a, Arr<const int32_t> n, Arr<bool> y) {
    Tensor<bool> A = a.tensor({2, 3});
    Tensor<bool> B = n.tensor({3}) > 0;
    y.store(A, 0);
    y.store(A == B, 6);
    y.store(!A || B, 12);
    y.store(kiln::where(B, A, !A), 18);
    y.store(kiln::cast<bool>(kiln::cast<int32_t>(A).sum({1})), 24);  // any, per row
  });
  std::array<bool, 6> a{false, true, false, false, false, false};
  std::array<bool, 26> y{};
  auto r = lowered_matches_unlowered(f, a, std::vector<int32_t>{1, 0, -3}, y);
  const auto& out = std::get<2>(r.buffers);
  for (size_t i = 0; i < 6; ++i) {
    const bool b = i % 3 == 0;
    CHECK(out[i] == a[i]);
    CHECK(out[6 + i] == (a[i] == b));
    CHECK(out[12 + i] == (!a[i] || b));
    CHECK(out[18 + i] == (b ? a[i] : !a[i]));
  }
  CHECK(out[24] == true);
  CHECK(out[25] == false);
}

TEST_CASE("lowering: max and max_all of a bool tensor (any)", "[lower][tensor]") {
  // Tensor<bool>::max / max_all are offered for bool tensors, and the
  // unlowered interpreter computes `any`. Either staging refuses them with a
  // StagingError (as it does sum of bool), or the lowered program computes
  // the same; an InternalError from lowering is neither.
  std::optional<kiln::Staged<bool(std::span<const bool>, std::span<bool>)>> f;
  try {
    f = kiln::stage("bool_max", [](Arr<const bool> a, Arr<bool> y) {
      Tensor<bool> A = a.tensor({2, 3});
      y.store(A.max({1}), 0);
      y.store(A.max({0, 1}, true).reshape({1}), 2);
      return A.max_all();
    });
  } catch (const kiln::StagingError& e) {
    CHECK_THAT(std::string(e.what()), Contains("bool") && Contains("tensor_views.cpp:"));
    return;
  }
  std::array<bool, 6> a{false, true, false, false, false, false};
  auto r = lowered_matches_unlowered(*f, a, std::array<bool, 3>{});
  CHECK(r.result == true);
  CHECK(std::get<1>(r.buffers) == std::array<bool, 3>{true, false, true});
}

TEST_CASE("lowering: stores of constants and loads; a sum_all used to scale a tensor", "[lower][tensor]") {
  auto f = kiln::stage("misc", [](Arr<const double> x, Arr<double> y, Arr<int64_t> n) {
    Tensor<double> X = x.tensor({3, 4});
    y.store(kiln::full<double>({4}, 2.5), 0);
    y.store(kiln::constant<double>({1, 2, 3, 4}, {2, 2}), 4);
    y.store(kiln::arange<double>(4), 8);
    y.store(x.tensor({4}, 2), 12);
    y.store(X / X.sum_all(), 16);                                       // a scalar from a reduction, splat
    y.store(X - X.max({0, 1}, true), 28);
    n.store(kiln::arange<int64_t>(5) * kiln::arange<int64_t>(5));
  });
  std::vector<double> x = randoms<double>(12, 221);
  auto r = lowered_matches_unlowered(f, x, std::vector<double>(40), std::vector<int64_t>(5));
  const auto& y = std::get<1>(r.buffers);
  double s = -0.0;
  for (double v : x) s = s + v;
  for (size_t i = 0; i < 12; ++i) CHECK(same_scalar(y[16 + i], x[i] / s));
  CHECK(std::get<2>(r.buffers) == std::vector<int64_t>{0, 1, 4, 9, 16});
}

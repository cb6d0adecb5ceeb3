// Tensor lowering (codegen/lower): elementwise ops, reductions and matmul,
// lowered to loop nests, must compute what the interpreter
// computes running the unlowered program (the reference), bit for bit (any
// NaN equals any NaN); the lowered program runs on the interpreter and is
// cross-checked against the C++ and LLVM backends (kiln::test::interp).
// The core ops are also checked against plain C++ loops.
#include "lower/tensor_support.h"

#include "codegen/lower/lower_tensors.h"

using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;
using Catch::Matchers::Contains;
using namespace kiln::test::lowering;

// --- elementwise ------------------------------------------------------------------

TEST_CASE("lowering: + - * / with NumPy broadcasting, against plain loops", "[lower][tensor]") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3}, {2, 3}},       {{2, 1}, {1, 3}}, {{2, 3}, {2, 3}}, {{1}, {4}},         {{4}, {1}},
      {{2, 3, 1}, {3, 4}}, {{1, 1}, {1, 1}}, {{4, 1, 2}, {1, 3, 1}}, {{1, 5}, {3, 1, 1}}, {{2, 1, 3}, {2, 4, 3}},
  };
  uint32_t seed = 1;
  for (const auto& [sa, sb] : cases) {
    const Shape so = broadcast(sa, sb);
    INFO("a " << kiln::ir::shape_text(sa) << ", b " << kiln::ir::shape_text(sb));
    auto f = kiln::stage("arith", [&](Arr<const float> a, Arr<const float> b, Arr<float> add, Arr<float> sub,
                                      Arr<float> mul, Arr<float> div) {
      Tensor<float> A = a.tensor(sa), B = b.tensor(sb);
      add.store(A + B);
      sub.store(A - B);
      mul.store(A * B);
      div.store(A / B);
    });
    std::vector<float> a = randoms<float>(numel(sa), seed++), b = randoms<float>(numel(sb), seed++);
    if (a.size() > 1) a[1] = 0.0f;  // 0 / 0 and x / 0 somewhere
    b[0] = 0.0f;
    const std::vector<float> out(sz(so), 0.0f);
    auto r = lowered_matches_unlowered(f, a, b, out, out, out, out);
    CHECK(difference(std::get<2>(r.buffers), ref_binary<float>(a, sa, b, sb, [](float x, float y) { return x + y; }), "add").empty());
    CHECK(difference(std::get<3>(r.buffers), ref_binary<float>(a, sa, b, sb, [](float x, float y) { return x - y; }), "sub").empty());
    CHECK(difference(std::get<4>(r.buffers), ref_binary<float>(a, sa, b, sb, [](float x, float y) { return x * y; }), "mul").empty());
    CHECK(difference(std::get<5>(r.buffers), ref_binary<float>(a, sa, b, sb, [](float x, float y) { return x / y; }), "div").empty());
  }
}

TEST_CASE("lowering: scalar operands (a Rep parameter, literals) splat in either order", "[lower][tensor]") {
  auto f = kiln::stage("scalars", [](Arr<const double> x, Rep<double> s, Arr<double> y) {
    Tensor<double> X = x.tensor({2, 3});
    Tensor<double> a = X * s + 2.0;             // tensor op Rep, tensor op literal
    Tensor<double> b = 1 - X / (s * s);         // int literal op tensor
    Tensor<double> c = s / (X + 3) - (-X);      // Rep op tensor, unary minus
    y.store(a, 0);
    y.store(b, 6);
    y.store(c, 12);
  });
  const std::vector<double> x = randoms<double>(6, 7);
  const double s = -1.25;
  auto r = lowered_matches_unlowered(f, x, s, std::vector<double>(18, 0.0));
  const auto& y = std::get<2>(r.buffers);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(same_scalar(y[i], x[i] * s + 2.0));
    CHECK(same_scalar(y[6 + i], 1.0 - x[i] / (s * s)));
    CHECK(same_scalar(y[12 + i], s / (x[i] + 3.0) - (-x[i])));
  }
}

TEST_CASE("lowering: unary math on float and double, special values included, against libm", "[lower][tensor]") {
  auto check = [](auto zero) {
    using T = decltype(zero);
    auto f = kiln::stage("unary", [](Arr<const T> x, Arr<T> y) {
      Tensor<T> X = x.tensor({4, 6});
      int64_t at = 0;
      for (Tensor<T> t : {kiln::exp(X), kiln::log(X), kiln::sqrt(X), kiln::sin(X), kiln::cos(X), kiln::tanh(X),
                          kiln::abs(X), kiln::floor(X), -X}) {
        y.store(t, at);
        at += 24;
      }
    });
    std::vector<T> x = with_specials(randoms<T>(24, 11, -4.0, 4.0));
    x[5] = T(100);
    x[7] = T(-2.5);
    auto r = lowered_matches_unlowered(f, x, std::vector<T>(9 * 24, T(7)));
    const auto& y = std::get<1>(r.buffers);
    for (size_t i = 0; i < 24; ++i) {
      INFO("x = " << show(x[i]));
      CHECK(same_scalar(y[0 * 24 + i], std::exp(x[i])));
      CHECK(same_scalar(y[1 * 24 + i], std::log(x[i])));
      CHECK(same_scalar(y[2 * 24 + i], std::sqrt(x[i])));
      CHECK(same_scalar(y[3 * 24 + i], std::sin(x[i])));
      CHECK(same_scalar(y[4 * 24 + i], std::cos(x[i])));
      CHECK(same_scalar(y[5 * 24 + i], std::tanh(x[i])));
      CHECK(same_scalar(y[6 * 24 + i], std::abs(x[i])));
      CHECK(same_scalar(y[7 * 24 + i], std::floor(x[i])));
      CHECK(same_scalar(y[8 * 24 + i], -x[i]));
    }
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("lowering: pow, min and max with tensors and scalars, NaN included", "[lower][tensor]") {
  auto f = kiln::stage("pow_min_max", [](Arr<const float> a, Arr<const float> b, Arr<float> y) {
    Tensor<float> A = a.tensor({3, 4}), B = b.tensor({4});
    y.store(kiln::pow(kiln::abs(A), B), 0);
    y.store(kiln::pow(A, 2.0f), 12);
    y.store(kiln::pow(2.0f, B.broadcast_to({3, 4})), 24);
    y.store(kiln::min(A, B), 36);
    y.store(kiln::max(A, B), 48);
    y.store(kiln::max(A, 0.5f) + kiln::min(0.0f, A), 60);
  });
  std::vector<float> a = with_specials(randoms<float>(12, 3)), b = randoms<float>(4, 4);
  b[2] = std::numeric_limits<float>::quiet_NaN();
  auto r = lowered_matches_unlowered(f, a, b, std::vector<float>(72, 0.0f));
  const auto& y = std::get<2>(r.buffers);
  for (size_t i = 0; i < 12; ++i) {
    const float ai = a[i], bi = b[i % 4];
    INFO("a = " << show(ai) << ", b = " << show(bi));
    CHECK(same_scalar(y[i], std::pow(std::abs(ai), bi)));
    CHECK(same_scalar(y[12 + i], std::pow(ai, 2.0f)));
    CHECK(same_scalar(y[24 + i], std::pow(2.0f, bi)));
    CHECK(same_scalar(y[36 + i], std::min(ai, bi)));  // b < a ? b : a, as the IR's min
    CHECK(same_scalar(y[48 + i], std::max(ai, bi)));
    CHECK(same_scalar(y[60 + i], std::max(ai, 0.5f) + std::min(0.0f, ai)));
  }
}

TEST_CASE("lowering: comparisons, where, and logic on bool tensors", "[lower][tensor]") {
  auto f = kiln::stage("compare", [](Arr<const float> a, Arr<const float> b, Arr<int32_t> cmp, Arr<float> sel,
                                     Arr<bool> logic) {
    Tensor<float> A = a.tensor({2, 3}), B = b.tensor({3});
    int64_t at = 0;
    for (Tensor<bool> c : {A == B, A != B, A < B, A <= B, A > B, A >= B, A > 0.0f, 0.5f <= A}) {
      cmp.store(kiln::cast<int32_t>(c), at);
      at += 6;
    }
    sel.store(kiln::where(A > B, A, B * 2.0f), 0);
    sel.store(kiln::where(A < 0.0f, A, 10.0f), 6);
    sel.store(kiln::where(B == 0.5f, -1.0f, A), 12);
    logic.store((A > 0.0f && B > 0.0f) || !(A < B));
  });
  std::vector<float> a = {0.5f, -1.0f, 2.0f, 0.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f};
  std::vector<float> b = {0.5f, 0.0f, -2.0f};
  std::array<bool, 6> logic{};
  auto r = lowered_matches_unlowered(f, a, b, std::vector<int32_t>(48, -1), std::vector<float>(18), logic);
  const auto& cmp = std::get<2>(r.buffers);
  const auto& sel = std::get<3>(r.buffers);
  const auto& lg = std::get<4>(r.buffers);
  for (size_t i = 0; i < 6; ++i) {
    const float x = a[i], z = b[i % 3];
    INFO("a = " << x << ", b = " << z);
    const bool want[] = {x == z, x != z, x < z, x <= z, x > z, x >= z, x > 0.0f, 0.5f <= x};
    for (size_t k = 0; k < 8; ++k) CHECK(cmp[k * 6 + i] == int32_t(want[k]));
    CHECK(same_scalar(sel[i], x > z ? x : z * 2.0f));
    CHECK(same_scalar(sel[6 + i], x < 0.0f ? x : 10.0f));
    CHECK(same_scalar(sel[12 + i], z == 0.5f ? -1.0f : x));
    CHECK(lg[i] == ((x > 0.0f && z > 0.0f) || !(x < z)));
  }
}

TEST_CASE("lowering: cast between float, double, int32, int64 and bool", "[lower][tensor]") {
  auto f = kiln::stage("casts", [](Arr<const float> x, Arr<const int32_t> n, Arr<const int64_t> w, Arr<int32_t> fi,
                                   Arr<int64_t> fl, Arr<float> back, Arr<double> wide, Arr<int32_t> bits) {
    Tensor<float> X = x.tensor({8});
    Tensor<int32_t> N = n.tensor({8});
    fi.store(kiln::cast<int32_t>(X));                                  // truncates, saturates, NaN -> 0
    fl.store(kiln::cast<int64_t>(X * 1e10f));
    back.store(kiln::cast<float>(N), 0);                                // rounds to nearest
    back.store(kiln::cast<float>(kiln::cast<double>(X) * 3.0), 8);      // double -> float
    back.store(kiln::cast<float>(X != 0.0f), 16);                       // bool -> float
    wide.store(kiln::cast<double>(N) + kiln::cast<double>(w.tensor({8})));
    bits.store(kiln::cast<int32_t>(kiln::cast<bool>(X)), 0);            // anything -> bool is != 0
    bits.store(kiln::cast<int32_t>(kiln::cast<bool>(N)), 8);
    bits.store(kiln::cast<int32_t>(w.tensor({8})), 16);                 // int64 -> int32 wraps
    bits.store(kiln::cast<int32_t>(X) + kiln::cast<int32_t>(kiln::cast<float>(kiln::cast<int32_t>(X))), 24);
  });
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {2.7f, -2.7f, 3e9f, -3e9f, nan, inf, -0.0f, 0.4f};
  std::vector<int32_t> n = {16777217, -16777219, 0, 1, -1, INT32_MAX, INT32_MIN, 7};
  std::vector<int64_t> w = {int64_t{1} << 40, -(int64_t{1} << 33) - 5, 3, (int64_t{1} << 32) + 9, -1, 0, 42, INT64_MIN};
  auto r = lowered_matches_unlowered(f, x, n, w, std::vector<int32_t>(8), std::vector<int64_t>(8),
                                     std::vector<float>(24), std::vector<double>(8), std::vector<int32_t>(32));
  const auto& fi = std::get<3>(r.buffers);
  CHECK(fi == std::vector<int32_t>{2, -2, INT32_MAX, INT32_MIN, 0, INT32_MAX, 0, 0});
  const auto& back = std::get<5>(r.buffers);
  CHECK(back[0] == 16777216.0f);
  CHECK(back[1] == -16777220.0f);
  CHECK(back[16 + 0] == 1.0f);
  CHECK(back[16 + 4] == 1.0f);  // NaN != 0
  CHECK(back[16 + 6] == 0.0f);  // -0 == 0
  const auto& bits = std::get<7>(r.buffers);
  CHECK(std::vector<int32_t>(bits.begin(), bits.begin() + 8) == std::vector<int32_t>{1, 1, 1, 1, 1, 1, 0, 1});
  CHECK(std::vector<int32_t>(bits.begin() + 8, bits.begin() + 16) == std::vector<int32_t>{1, 1, 0, 1, 1, 1, 1, 1});
  CHECK(std::vector<int32_t>(bits.begin() + 16, bits.begin() + 24) ==
        std::vector<int32_t>{0, -5, 3, 9, -1, 0, 42, 0});
}

TEST_CASE("lowering: an int32 program (arithmetic, abs, min/max, comparisons, sums)", "[lower][tensor]") {
  auto f = kiln::stage("ints", [](Arr<const int32_t> a, Arr<const int32_t> b, Arr<int32_t> y, Arr<int64_t> z) {
    Tensor<int32_t> A = a.tensor({3, 4}), B = b.tensor({1, 4});
    y.store(A + B * 3 - 7, 0);
    y.store(A / B + kiln::abs(A) - (-B), 12);
    y.store(kiln::min(A, B) * kiln::max(A, 2), 24);
    y.store(kiln::cast<int32_t>(A >= B) + (A - A.max({1}, true)), 36);
    y.store(A.sum({0}), 48);
    y.store(A.sum({1}, true).reshape({3}) + A.max({1}), 52);
    z.store(kiln::cast<int64_t>(A) * int64_t{1000000007}, 0);
    z.store(kiln::cast<int64_t>(A).sum({0, 1}, true).reshape({1}) + kiln::arange<int64_t>(1), 12);
  });
  std::vector<int32_t> a = randoms<int32_t>(12, 5, -50, 50), b = {3, -2, 7, -1};
  a[3] = INT32_MAX;  // wraps
  auto r = lowered_matches_unlowered(f, a, b, std::vector<int32_t>(55), std::vector<int64_t>(13));
  const auto& y = std::get<2>(r.buffers);
  for (size_t i = 0; i < 12; ++i) {
    const int32_t x = a[i], v = b[i % 4];
    CHECK(y[i] == static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(v * 3) - 7u));
    CHECK(y[24 + i] == static_cast<int32_t>(int64_t{std::min(x, v)} * int64_t{std::max(x, 2)}));
  }
  for (size_t j = 0; j < 4; ++j) {  // column sums, wrapping
    uint32_t sum = 0;
    for (size_t i = 0; i < 3; ++i) sum += static_cast<uint32_t>(a[i * 4 + j]);
    CHECK(y[48 + j] == static_cast<int32_t>(sum));
  }
}

// --- activations --------------------------------------------------------------------

TEST_CASE("lowering: relu, sigmoid, softmax and log_softmax, against plain loops", "[lower][tensor]") {
  auto check = [](auto zero, Shape s) {
    using T = decltype(zero);
    INFO("shape " << kiln::ir::shape_text(s));
    const int64_t n = numel(s);
    auto f = kiln::stage("activations", [&](Arr<const T> x, Arr<T> y) {
      Tensor<T> X = x.tensor(s);
      y.store(kiln::relu(X), 0);
      y.store(kiln::sigmoid(X), n);
      y.store(kiln::softmax(X), 2 * n);
      y.store(kiln::log_softmax(X), 3 * n);
      y.store(kiln::softmax(X, 0), 4 * n);
      y.store(kiln::log_softmax(X * 3, 0), 5 * n);
    });
    std::vector<T> x = randoms<T>(n, 21, -5.0, 5.0);
    auto r = lowered_matches_unlowered(f, x, std::vector<T>(sz(s) * 6));
    const auto& y = std::get<1>(r.buffers);
    const int64_t rows = s[0], cols = s[1];
    const std::vector<T> sm = ref_softmax(x, rows, cols, false), lsm = ref_softmax(x, rows, cols, true);
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      CHECK(same_scalar(y[k], std::max(x[k], T(0))));
      CHECK(same_scalar(y[sz(s) + k], T(1) / (T(1) + std::exp(-x[k]))));
      CHECK(same_scalar(y[2 * sz(s) + k], sm[k]));
      CHECK(same_scalar(y[3 * sz(s) + k], lsm[k]));
    }
    // Along axis 0: the transposed problem.
    const std::vector<T> xt = ref_transpose(x, s, {1, 0});
    const std::vector<T> sm0 = ref_transpose(ref_softmax(xt, cols, rows, false), {cols, rows}, {1, 0});
    for (int64_t i = 0; i < n; ++i) CHECK(same_scalar(y[4 * sz(s) + static_cast<size_t>(i)], sm0[static_cast<size_t>(i)]));
  };
  check(0.0f, {3, 4});
  check(0.0f, {1, 5});
  check(0.0f, {5, 1});
  check(0.0, {4, 7});
  check(0.0, {1, 1});
}

// --- reductions ---------------------------------------------------------------------

TEST_CASE("lowering: sum, max and mean over one axis, several, with keepdims, and all", "[lower][tensor]") {
  auto f = kiln::stage("reduce", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> X = x.tensor({2, 3, 4});
    int64_t at = 0;
    auto put = [&](const Tensor<float>& t) {
      y.store(t.reshape({-1}), at);
      at += t.numel();
    };
    put(X.sum({0}));
    put(X.sum({1}));
    put(X.sum({2}));
    put(X.sum({-1}, true));
    put(X.sum({0, 2}));
    put(X.sum({2, 0}, true));
    put(X.sum({0, 1, 2}, true));
    put(X.max({0}));
    put(X.max({1}, true));
    put(X.max({-1}));
    put(X.max({0, 1}));
    put(X.mean({1}));
    put(X.mean({0, 2}, true));
    return std::make_tuple(X.sum_all(), X.max_all(), X.mean_all(), (X * X).sum_all());
  });
  std::vector<float> x = randoms<float>(24, 31);
  auto r = lowered_matches_unlowered(f, x, std::vector<float>(200, -9.0f));
  const auto& y = std::get<1>(r.buffers);
  const std::vector<float> s0 = ref_reduce_axis(x, {2, 3, 4}, 0, false), s1 = ref_reduce_axis(x, {2, 3, 4}, 1, false),
                           s2 = ref_reduce_axis(x, {2, 3, 4}, 2, false), m0 = ref_reduce_axis(x, {2, 3, 4}, 0, true);
  CHECK(difference(std::vector<float>(y.begin(), y.begin() + 12), s0, "sum 0").empty());
  CHECK(difference(std::vector<float>(y.begin() + 12, y.begin() + 20), s1, "sum 1").empty());
  CHECK(difference(std::vector<float>(y.begin() + 20, y.begin() + 26), s2, "sum 2").empty());
  CHECK(difference(std::vector<float>(y.begin() + 26, y.begin() + 32), s2, "sum -1 keepdims").empty());
  // Several axes: each result sums its elements in row-major order.
  std::vector<float> s02(3, -0.0f);
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t k = 0; k < 4; ++k) s02[j] = s02[j] + x[(i * 3 + j) * 4 + k];
  CHECK(difference(std::vector<float>(y.begin() + 32, y.begin() + 35), s02, "sum 0,2").empty());
  CHECK(difference(std::vector<float>(y.begin() + 35, y.begin() + 38), s02, "sum 2,0 keepdims").empty());
  float all = -0.0f, mx = x[0], sq = -0.0f;
  for (float v : x) {
    all = all + v;
    mx = mx < v ? v : mx;
    sq = sq + v * v;
  }
  CHECK(same_scalar(y[38], all));
  CHECK(difference(std::vector<float>(y.begin() + 39, y.begin() + 51), m0, "max 0").empty());
  const auto [sum_all, max_all, mean_all, sq_all] = r.result;
  CHECK(same_scalar(sum_all, all));
  CHECK(same_scalar(max_all, mx));
  CHECK(same_scalar(mean_all, all * (1.0f / 24.0f)));
  CHECK(same_scalar(sq_all, sq));
}

TEST_CASE("lowering: reductions of extents of 1, of negative zeros, and of NaN", "[lower][tensor]") {
  auto f = kiln::stage("reduce_edge", [](Arr<const double> x, Arr<const double> z, Arr<double> y) {
    Tensor<double> X = x.tensor({1, 3, 1}), Z = z.tensor({2, 2});
    y.store(X.sum({0}).reshape({3}), 0);
    y.store(X.max({2}, true).reshape({3}), 3);
    y.store(X.sum({0, 2}), 6);
    y.store(Z.sum({1}), 9);
    y.store(Z.max({0}), 11);
    return std::make_tuple(X.sum_all(), Z.sum_all(), Z.max_all(), X.max_all());
  });
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x = {1.5, nan, -2.0}, z = {-0.0, -0.0, nan, 4.0};
  auto r = lowered_matches_unlowered(f, x, z, std::vector<double>(13));
  const auto [xs, zs, zm, xm] = r.result;
  CHECK(std::isnan(xs));
  CHECK(std::isnan(zs));
  CHECK(zm == 4.0);   // max is `a < b ? b : a`: a NaN after the first element is passed over
  CHECK(xm == 1.5);
  const auto& y = std::get<2>(r.buffers);
  CHECK(y[9] == 0.0);
  CHECK(std::signbit(y[9]));  // -0 + -0 stays -0
  CHECK(std::isnan(y[10]));
  CHECK(y[11] == 0.0);
  CHECK(std::signbit(y[11]));  // max over {-0, NaN} keeps the first
  CHECK(y[12] == 4.0);
}

// --- matmul -------------------------------------------------------------------------

namespace {

// matmul(a, b) of random operands (from `seed` and seed + 1), lowered, equal
// bit for bit to the unlowered program and to the triple loop.
template <class T>
void check_matmul(const char* name, Shape sa, Shape sb, uint32_t seed) {
  INFO(kiln::ir::shape_text(sa) << " by " << kiln::ir::shape_text(sb));
  Shape so;
  std::vector<T> a = randoms<T>(numel(sa), seed), b = randoms<T>(numel(sb), seed + 1);
  const std::vector<T> want = ref_matmul(a, sa, b, sb, &so);
  auto f = kiln::stage(name, [&](Arr<const T> x, Arr<const T> w, Arr<T> y) { y.store(kiln::matmul(x.tensor(sa), w.tensor(sb))); });
  auto r = lowered_matches_unlowered(f, a, b, std::vector<T>(sz(so)));
  CHECK(difference(std::get<2>(r.buffers), want, "matmul").empty());
}

}  // namespace

TEST_CASE("lowering: matmul 2-D, against a triple loop", "[lower][tensor]") {
  auto check = [](auto zero, Shape sa, Shape sb) { check_matmul<decltype(zero)>("mm", sa, sb, 41); };
  check(0.0f, {3, 4}, {4, 5});
  check(0.0f, {1, 1}, {1, 1});
  check(0.0f, {1, 7}, {7, 1});
  check(0.0f, {5, 1}, {1, 3});
  check(0.0, {6, 9}, {9, 2});
  check(0.0, {2, 3}, {3, 1});
  check(0.0f, {7, 5}, {5, 3});      // row counts around lowering's blocks of rows
  check(0.0, {6, 2}, {2, 6});
  check(0.0f, {5, 4}, {4, 4});
  check(0.0f, {40, 33}, {33, 30});  // enough multiply-adds for the parallel outer loop
}

TEST_CASE("lowering: batched matmul, batch axes broadcast, against a triple loop", "[lower][tensor]") {
  auto check = [](auto zero, Shape sa, Shape sb) { check_matmul<decltype(zero)>("bmm", sa, sb, 51); };
  check(0.0, {2, 3, 4}, {4, 5});        // a 2-D right operand broadcast over the batch
  check(0.0f, {3, 4}, {2, 4, 5});       // ... and a 2-D left one
  check(0.0, {2, 3, 4}, {2, 4, 2});
  check(0.0f, {2, 1, 3, 4}, {5, 4, 2});  // batch [2, 1] with [5]
  check(0.0, {1, 2, 2}, {3, 2, 1});
  check(0.0f, {4, 1, 1}, {1, 1, 3});
  check(0.0, {3, 5, 9}, {3, 9, 7});
  check(0.0f, {4, 25, 24}, {24, 23});  // parallel over the batch
  check(0.0f, {1, 45, 30}, {30, 31});  // one batch: parallel over row blocks
}

TEST_CASE("lowering: under fast_math a 2-D matmul of 16^3 multiply-adds or more is one gemm op; the interpreter and "
          "C++ run it in the reference order, Backend::llvm calls a GEMM library",
          "[lower][tensor][fast_math]") {
  const kiln::Options fast{.fast_math = true};
  // trans: bit 0, the left operand is a transposed view of the buffer;
  // bit 1, the right one. A gemm reads them as stored (its flags), uncopied.
  auto check = [&](auto zero, Shape sa, Shape sb, int64_t offset, int trans, size_t want_gemms) {
    using T = decltype(zero);
    const bool ta = trans & 1, tb = trans & 2;
    INFO(kiln::ir::shape_text(sa) << " by " << kiln::ir::shape_text(sb) << ", offset " << offset
                                  << (ta ? ", left operand transposed" : "") << (tb ? ", right operand transposed" : ""));
    Shape so, sa_stored = ta ? Shape{sa[1], sa[0]} : sa, sb_stored = tb ? Shape{sb[1], sb[0]} : sb;
    std::vector<T> a = randoms<T>(numel(sa) + offset, 71), b = randoms<T>(numel(sb), 72);
    std::vector<T> a_used(a.begin() + offset, a.end()), b_used = b;
    if (ta) a_used = ref_transpose(a_used, sa_stored, {1, 0});
    if (tb) b_used = ref_transpose(b_used, sb_stored, {1, 0});
    const std::vector<T> want = ref_matmul(a_used, sa, b_used, sb, &so);
    auto f = kiln::stage("mm_gemm", [&](Arr<const T> x, Arr<const T> w, Arr<T> y) {
      Tensor<T> lhs = x.tensor(sa_stored, offset), rhs = w.tensor(sb_stored);
      y.store(kiln::matmul(ta ? lhs.transpose() : lhs, tb ? rhs.transpose() : rhs));
    });
    const std::string ir = f.ir(fast);
    {
      INFO(ir);
      CHECK(kiln::test::count(ir, " gemm %") == want_gemms);
      if (want_gemms > 0 && trans != 0)  // the flags, and no copy of the transposed operand
        CHECK(kiln::test::count(ir, ", " + std::to_string(ta) + ", " + std::to_string(tb) + "]") == 1);
      if (want_gemms > 0) CHECK(kiln::test::count(ir, " = alloc ") == 1);  // the result only
      CHECK(kiln::test::count(f.ir(), " gemm %") == 0);  // default Options: always the loop nest
    }
    for (kiln::Backend backend : {kiln::Backend::interp, kiln::Backend::cxx, kiln::Backend::llvm}) {
      if (!kiln::available(backend)) continue;
      INFO("backend " << static_cast<int>(backend));
      std::vector<T> y(sz(so));
      kiln::compile(f, {.backend = backend, .fast_math = true})(std::span<const T>(a), std::span<const T>(b),
                                                                 std::span<T>(y));
      if (backend == kiln::Backend::llvm) {  // the GEMM library's order and FMAs
        for (size_t i = 0; i < y.size(); ++i)
          CHECK(y[i] == Approx(want[i]).epsilon(1e-4).margin(1e-4 * std::sqrt(static_cast<double>(sa[1]))));
      } else {  // gemm's reference order: the same bits as the loop nest
        CHECK(difference(y, want, "matmul").empty());
      }
    }
  };
  static_assert(kiln::lower::fast_math_gemm_min_work == 32 * 32 * 32, "the shapes below straddle the threshold");
  check(0.0f, {32, 32}, {32, 32}, 0, 0, 1);    // exactly the threshold
  check(0.0f, {31, 32}, {32, 32}, 0, 0, 0);    // just below: the loop nest
  check(0.0f, {33, 32}, {32, 31}, 0, 0, 0);    // 32736 < 32768 too
  check(0.0f, {33, 32}, {32, 32}, 0, 0, 1);    // 33792
  check(0.0f, {64, 78}, {78, 40}, 5, 0, 1);    // an operand at an offset
  check(0.0, {24, 60}, {60, 30}, 0, 1, 1);     // a transposed left operand
  check(0.0f, {40, 50}, {50, 33}, 7, 1, 1);    // ... at an offset
  check(0.0f, {37, 64}, {64, 45}, 0, 2, 1);    // a transposed right operand
  check(0.0, {50, 40}, {40, 70}, 2, 3, 1);     // both
  check(0.0f, {512, 256}, {256, 1}, 0, 1, 1);  // a matrix-vector product with A transposed
  check(0.0f, {1, 300}, {300, 200}, 0, 2, 1);  // a vector-matrix product with B transposed
  check(0.0, {2, 2000}, {2000, 11}, 3, 0, 1);  // k long, n short
  // Shapes for the AVX-512 runtime's narrow kernel (n of 1-4 vectors), with
  // rows left over after the blocks, transposed operands and offsets.
  check(0.0f, {256, 64}, {64, 64}, 0, 0, 1);   // 4 vectors of 16 floats
  check(0.0f, {70, 33}, {33, 48}, 3, 1, 1);    // 3 vectors, A transposed at an offset
  check(0.0f, {100, 64}, {64, 16}, 0, 2, 1);   // 1 vector, B transposed (copied once)
  check(0.0f, {8, 300}, {300, 64}, 0, 2, 1);   // B transposed and too big to copy: Eigen
  check(0.0, {45, 40}, {40, 32}, 1, 3, 1);     // 4 vectors of 8 doubles, both transposed
  check(0.0, {29, 64}, {64, 24}, 0, 0, 1);     // 3 vectors of doubles
  check(0.0f, {64, 200}, {200, 80}, 0, 0, 1);  // 5 vectors: panels of 4 and 1
  check(0.0f, {20, 100}, {100, 128}, 0, 1, 1); // 8 vectors, A transposed
  check(0.0f, {128, 64}, {64, 5}, 0, 1, 1);    // the thin kernel: 5 columns, A transposed
  check(0.0, {200, 64}, {64, 3}, 2, 1, 1);     // ... doubles, rows left over after the blocks
  check(0.0f, {256, 64}, {64, 3}, 0, 0, 1);    // the other thin kernel: A as stored
  check(0.0f, {64, 128}, {128, 10}, 0, 2, 1);  // ... B transposed (its columns as stored)
  check(0.0, {301, 37}, {37, 5}, 1, 0, 1);     // ... doubles, k not a multiple of the vector

  // Batched matmuls keep the loop nest.
  auto bmm = kiln::stage("bmm_gemm", [](Arr<const float> x, Arr<const float> w, Arr<float> y) {
    y.store(kiln::matmul(x.tensor({2, 16, 16}), w.tensor({16, 16})));
  });
  CHECK(kiln::test::count(bmm.ir(fast), " gemm %") == 0);
}

TEST_CASE("lowering: matmul of computed and viewed operands, and products of products", "[lower][tensor]") {
  auto f = kiln::stage("mm_chain", [](Arr<const double> x, Arr<const double> w, Arr<const double> v, Arr<double> y) {
    Tensor<double> X = x.tensor({4, 3}), W = w.tensor({5, 3}), V = v.tensor({5, 2});
    Tensor<double> h = kiln::matmul(kiln::relu(X - 0.1), W.transpose());   // [4, 5]
    Tensor<double> o = kiln::matmul(kiln::tanh(h), V) + V.sum({0});         // [4, 2]
    y.store(o, 0);
    y.store(kiln::matmul(X.slice(0, 0, 4, 2), W.transpose().slice(1, 1, 5, 3)), 8);  // [2, 3] x [3, 2]
  });
  std::vector<double> x = randoms<double>(12, 61), w = randoms<double>(15, 62), v = randoms<double>(10, 63);
  auto r = lowered_matches_unlowered(f, x, w, v, std::vector<double>(12));
  // Plain loops for the first product.
  std::vector<double> rx(12);
  for (size_t i = 0; i < 12; ++i) rx[i] = std::max(x[i] - 0.1, 0.0);
  const std::vector<double> h = ref_matmul(rx, {4, 3}, ref_transpose(w, {5, 3}, {1, 0}), {3, 5});
  std::vector<double> th(20);
  for (size_t i = 0; i < 20; ++i) th[i] = std::tanh(h[i]);
  const std::vector<double> o = ref_matmul(th, {4, 5}, v, {5, 2});
  const std::vector<double> vs = ref_reduce_axis(v, {5, 2}, 0, false);
  const auto& y = std::get<3>(r.buffers);
  for (size_t i = 0; i < 8; ++i) CHECK(same_scalar(y[i], o[i] + vs[i % 2]));
}

// --- views --------------------------------------------------------------------------

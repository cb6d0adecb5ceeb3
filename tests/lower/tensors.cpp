// Tensor lowering (codegen/lower): every tensor op, and typical
// compositions, lowered to loop nests must compute what the interpreter
// computes running the unlowered program (the reference), bit for bit (any
// NaN equals any NaN). The lowered program runs on the interpreter and is
// cross-checked against the C++ and LLVM backends (kiln::test::interp); the
// core ops are also checked against plain C++ loops. Then fusion, seen in
// the lowered IR: elementwise chains fuse into their stores and reductions,
// matmuls and multi-use values get one temporary each; and tensors around
// staged loops and parallel_for_ bodies.
#include "support.h"

#include <kiln/tensor.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;
using Catch::Matchers::Contains;

namespace {

using Shape = std::vector<int64_t>;

/// The result of a function returning void.
struct Nothing {};

template <class R>
using ResultOf = std::conditional_t<std::is_void_v<R>, Nothing, R>;

template <class T>
std::string show(const T& x) {
  std::ostringstream o;
  if constexpr (std::is_floating_point_v<T>) {
    o << std::setprecision(std::numeric_limits<T>::max_digits10) << x;
    if (x == 0 && std::signbit(x)) o << " (negative zero)";
  } else {
    o << +x;
  }
  return o.str();
}

/// Bit-for-bit equality of scalars (any NaN equals any NaN).
template <class T>
bool same_scalar(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return std::isnan(b);
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  } else {
    return a == b;
  }
}

/// "" when a and b are equal bit for bit (scalars, containers, tuples);
/// otherwise where they first differ.
template <class T>
std::string difference(const T& a, const T& b, const std::string& what) {
  if constexpr (std::is_same_v<T, Nothing>) {
    return "";
  } else if constexpr (requires { a.data(); a.size(); }) {
    if (a.size() != b.size()) return what + ": sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_scalar(a[i], b[i]))
        return what + "[" + std::to_string(i) + "]: " + show(a[i]) + " vs " + show(b[i]);
    return "";
  } else if constexpr (requires { std::tuple_size<T>::value; }) {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      std::string out;
      ((out = out.empty() ? difference(std::get<I>(a), std::get<I>(b), what + "." + std::to_string(I)) : out), ...);
      return out;
    }(std::make_index_sequence<std::tuple_size_v<T>>());
  } else {
    return same_scalar(a, b) ? "" : what + ": " + show(a) + " vs " + show(b);
  }
}

/// Calls c with the inputs (containers become spans over them, in place).
template <class R, class... Args, class... In>
ResultOf<R> call_with(const kiln::Compiled<R(Args...)>& c, std::tuple<In...>& in) {
  static_assert(sizeof...(Args) == sizeof...(In), "one input per parameter");
  return [&]<size_t... I>(std::index_sequence<I...>) -> ResultOf<R> {
    if constexpr (std::is_void_v<R>) {
      c(static_cast<Args>(std::get<I>(in))...);
      return Nothing{};
    } else {
      return c(static_cast<Args>(std::get<I>(in))...);
    }
  }(std::index_sequence_for<Args...>());
}

/// What the lowered program returned and left in the buffers.
template <class R, class... In>
struct Outcome {
  ResultOf<R> result;
  std::tuple<In...> buffers;
};

/// The unlowered program on the interpreter: the reference for lowering.
kiln::Options unlowered(bool optimize = true) {
  kiln::Options o;
  o.backend = kiln::Backend::interp;
  o.optimize = optimize;
  o.passes.lower_tensors = false;
  return o;
}

/// Runs `s` lowered (kiln::test::interp: also the C++ and LLVM backends)
/// and unlowered on the interpreter (with the default passes, and with none)
/// on separate copies of `inputs`, CHECKs that results and buffers are equal
/// bit for bit, and returns the lowered run's.
template <class R, class... Args, class... In>
Outcome<R, In...> lowered_matches_unlowered(const kiln::Staged<R(Args...)>& s, const In&... inputs) {
  std::tuple<In...> ref_in{inputs...}, unopt_in{inputs...}, low_in{inputs...};
  const ResultOf<R> ref = call_with(kiln::compile(s, unlowered()), ref_in);
  const ResultOf<R> unopt = call_with(kiln::compile(s, unlowered(false)), unopt_in);
  const ResultOf<R> low = call_with(kiln::test::interp(s), low_in);
  {
    const std::string d = difference(unopt, ref, "result") + difference(unopt_in, ref_in, "buffers");
    INFO("@" << s.name() << ": the unlowered program optimised and not, " << d);
    CHECK(d.empty());
  }
  const std::string d = difference(low, ref, "result") + difference(low_in, ref_in, "buffers");
  INFO("@" << s.name() << ": lowered vs unlowered, " << d << (d.empty() ? std::string() : "\n" + s.ir()));
  CHECK(d.empty());
  return {low, std::move(low_in)};
}

// --- data ---------------------------------------------------------------------

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

/// n values uniform in [lo, hi) (integers: [lo, hi]), from a fixed seed.
template <class T>
std::vector<T> randoms(int64_t n, uint32_t seed, double lo = -2.0, double hi = 2.0) {
  std::mt19937 rng(seed);
  std::vector<T> out(static_cast<size_t>(n));
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> u(lo, hi);
    for (T& x : out) x = static_cast<T>(u(rng));
  } else {
    std::uniform_int_distribution<int64_t> u(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    for (T& x : out) x = static_cast<T>(u(rng));
  }
  return out;
}

// --- plain C++ references -------------------------------------------------------

/// NumPy's broadcast of two shapes (the test's own).
Shape broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1, y = i < b.size() ? b[b.size() - 1 - i] : 1;
    out[out.size() - 1 - i] = std::max(x, y);
  }
  return out;
}

/// Row-major multi-index of flat position `at` in `shape`.
Shape unravel(int64_t at, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = at % shape[k];
    at /= shape[k];
  }
  return idx;
}

/// Flat position in `shape` of the index `out_idx` of a broadcast result
/// (aligned on the right; extents of 1 read index 0).
int64_t broadcast_source(const Shape& out_idx, const Shape& shape) {
  int64_t at = 0;
  const size_t lead = out_idx.size() - shape.size();
  for (size_t k = 0; k < shape.size(); ++k) at = at * shape[k] + (shape[k] == 1 ? 0 : out_idx[lead + k]);
  return at;
}

/// op(a, b) elementwise with broadcasting.
template <class R, class A, class B, class F>
std::vector<R> ref_binary(const std::vector<A>& a, const Shape& sa, const std::vector<B>& b, const Shape& sb, F op) {
  const Shape so = broadcast(sa, sb);
  std::vector<R> out(static_cast<size_t>(numel(so)));
  for (int64_t i = 0; i < numel(so); ++i) {
    const Shape idx = unravel(i, so);
    out[static_cast<size_t>(i)] = static_cast<R>(op(a[static_cast<size_t>(broadcast_source(idx, sa))],
                                                    b[static_cast<size_t>(broadcast_source(idx, sb))]));
  }
  return out;
}

/// Matrix product over the last two axes, batch axes broadcast; each entry
/// sums k upwards from +0.0, the product rounded before the add.
template <class T>
std::vector<T> ref_matmul(const std::vector<T>& a, const Shape& sa, const std::vector<T>& b, const Shape& sb,
                          Shape* out_shape = nullptr) {
  const size_t ra = sa.size(), rb = sb.size();
  const int64_t m = sa[ra - 2], kk = sa[ra - 1], n = sb[rb - 1];
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const Shape batch = broadcast(ba, bb);
  Shape so = batch;
  so.push_back(m);
  so.push_back(n);
  if (out_shape) *out_shape = so;
  std::vector<T> c(static_cast<size_t>(numel(so)));
  for (int64_t q = 0; q < numel(batch); ++q) {
    const Shape bi = unravel(q, batch);
    const int64_t oa = broadcast_source(bi, ba) * m * kk, ob = broadcast_source(bi, bb) * kk * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T acc = T(0);
        for (int64_t k = 0; k < kk; ++k) {
          const T p = a[static_cast<size_t>(oa + i * kk + k)] * b[static_cast<size_t>(ob + k * n + j)];
          acc = acc + p;
        }
        c[static_cast<size_t>((q * m + i) * n + j)] = acc;
      }
  }
  return c;
}

/// Sum (or max, as `acc < x ? x : acc`) over one axis, each result from its
/// first element on in order.
template <class T>
std::vector<T> ref_reduce_axis(const std::vector<T>& x, const Shape& s, int64_t axis, bool is_max) {
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= s[static_cast<size_t>(k)];
  for (size_t k = static_cast<size_t>(axis) + 1; k < s.size(); ++k) inner *= s[k];
  const int64_t n = s[static_cast<size_t>(axis)];
  std::vector<T> out(static_cast<size_t>(outer * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      T acc = x[static_cast<size_t>(o * n * inner + i)];
      for (int64_t k = 1; k < n; ++k) {
        const T v = x[static_cast<size_t>((o * n + k) * inner + i)];
        acc = is_max ? (acc < v ? v : acc) : acc + v;
      }
      out[static_cast<size_t>(o * inner + i)] = acc;
    }
  return out;
}

/// softmax (or log_softmax) along the last axis of a [rows, n] matrix, with
/// the operations tensor.h's definitions stage, in their order.
template <class T>
std::vector<T> ref_softmax(const std::vector<T>& x, int64_t rows, int64_t n, bool log) {
  std::vector<T> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x.data() + r * n;
    T m = row[0];
    for (int64_t k = 1; k < n; ++k) m = m < row[k] ? row[k] : m;
    T s = std::exp(row[0] - m);
    for (int64_t k = 1; k < n; ++k) s = s + std::exp(row[k] - m);
    for (int64_t k = 0; k < n; ++k) {
      const T z = row[k] - m;
      out[static_cast<size_t>(r * n + k)] = log ? z - std::log(s) : std::exp(z) / s;
    }
  }
  return out;
}

/// The permutation of axes (result axis k is axis perm[k]).
template <class T>
std::vector<T> ref_transpose(const std::vector<T>& x, const Shape& s, const Shape& perm, Shape* out_shape = nullptr) {
  Shape so(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) so[k] = s[static_cast<size_t>(perm[k])];
  if (out_shape) *out_shape = so;
  std::vector<T> out(x.size());
  for (int64_t i = 0; i < numel(so); ++i) {
    const Shape idx = unravel(i, so);
    Shape src(s.size());
    for (size_t k = 0; k < perm.size(); ++k) src[static_cast<size_t>(perm[k])] = idx[k];
    int64_t at = 0;
    for (size_t k = 0; k < s.size(); ++k) at = at * s[k] + src[k];
    out[static_cast<size_t>(i)] = x[static_cast<size_t>(at)];
  }
  return out;
}

// Sizes as size_t, for containers.
size_t sz(const Shape& s) { return static_cast<size_t>(numel(s)); }

// Float values with the special cases mixed in.
template <class T>
std::vector<T> with_specials(std::vector<T> v) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T specials[] = {T(-0.0), T(0.0), inf, -inf, nan, T(1), T(-1), std::numeric_limits<T>::denorm_min()};
  for (size_t i = 0; i < v.size() && i < std::size(specials); ++i) v[i * 3 % v.size()] = specials[i];
  return v;
}

}  // namespace

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

TEST_CASE("lowering: matmul 2-D, against a triple loop", "[lower][tensor]") {
  auto check = [](auto zero, Shape sa, Shape sb) {
    using T = decltype(zero);
    INFO(kiln::ir::shape_text(sa) << " by " << kiln::ir::shape_text(sb));
    Shape so;
    std::vector<T> a = randoms<T>(numel(sa), 41), b = randoms<T>(numel(sb), 42);
    const std::vector<T> want = ref_matmul(a, sa, b, sb, &so);
    auto f = kiln::stage("mm", [&](Arr<const T> x, Arr<const T> w, Arr<T> y) { y.store(kiln::matmul(x.tensor(sa), w.tensor(sb))); });
    auto r = lowered_matches_unlowered(f, a, b, std::vector<T>(sz(so)));
    CHECK(difference(std::get<2>(r.buffers), want, "matmul").empty());
  };
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
  auto check = [](auto zero, Shape sa, Shape sb) {
    using T = decltype(zero);
    INFO(kiln::ir::shape_text(sa) << " by " << kiln::ir::shape_text(sb));
    Shape so;
    std::vector<T> a = randoms<T>(numel(sa), 51), b = randoms<T>(numel(sb), 52);
    const std::vector<T> want = ref_matmul(a, sa, b, sb, &so);
    auto f = kiln::stage("bmm", [&](Arr<const T> x, Arr<const T> w, Arr<T> y) { y.store(kiln::matmul(x.tensor(sa), w.tensor(sb))); });
    auto r = lowered_matches_unlowered(f, a, b, std::vector<T>(sz(so)));
    CHECK(difference(std::get<2>(r.buffers), want, "matmul").empty());
  };
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

TEST_CASE("lowering: a tensor made outside a for_ loop and used inside it", "[lower][tensor]") {
  auto f = kiln::stage("loop_use", [](Arr<const float> x, Arr<float> y, Arr<float> acc) {
    Tensor<float> t = kiln::exp(x.tensor({2, 3})) * 0.5f;  // used in the loop body: materialised before it
    Tensor<float> m = kiln::matmul(x.tensor({2, 3}), x.tensor({2, 3}).transpose());  // [2, 2]
    kiln::for_(0, 4, [&](Rep<int64_t> i) {
      Tensor<float> shifted = t + kiln::cast<float>(i);
      y.store(shifted, i * 6);
      acc.store(acc.tensor({2, 2}) + m * kiln::cast<float>(i));  // read-modify-write every iteration
    });
  });
  std::vector<float> x = randoms<float>(6, 151);
  auto r = lowered_matches_unlowered(f, x, std::vector<float>(24), std::vector<float>(4, 1.0f));
  const auto& y = std::get<1>(r.buffers);
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < 6; ++k) CHECK(same_scalar(y[i * 6 + k], std::exp(x[k]) * 0.5f + float(i)));
  const std::vector<float> m = ref_matmul(x, {2, 3}, ref_transpose(x, {2, 3}, {1, 0}), {3, 2});
  const auto& acc = std::get<2>(r.buffers);
  for (size_t k = 0; k < 4; ++k) {
    float a = 1.0f;
    for (int i = 0; i < 4; ++i) a = a + m[k] * float(i);
    CHECK(same_scalar(acc[k], a));
  }
}

TEST_CASE("lowering: tensors made inside a for_ body, with temporaries", "[lower][tensor]") {
  auto f = kiln::stage("loop_body", [](Arr<const double> x, Arr<double> y) {
    kiln::for_(0, 3, [&](Rep<int64_t> i) {
      Tensor<double> row = x.tensor({1, 4}, i * 4);
      Tensor<double> p = kiln::softmax(row * 2.0);               // a max and a sum: temporaries in the loop
      y.store(kiln::matmul(p.transpose(), p).reshape({16}), i * 16);
    });
  });
  std::vector<double> x = randoms<double>(12, 161);
  auto r = lowered_matches_unlowered(f, x, std::vector<double>(48));
  const auto& y = std::get<1>(r.buffers);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<double> row(x.begin() + static_cast<long>(i * 4), x.begin() + static_cast<long>(i * 4 + 4));
    for (double& v : row) v = v * 2.0;
    const std::vector<double> p = ref_softmax(row, 1, 4, false);
    const std::vector<double> want = ref_matmul(p, {4, 1}, p, {1, 4});
    for (size_t k = 0; k < 16; ++k) CHECK(same_scalar(y[i * 16 + k], want[k]));
  }
}

TEST_CASE("lowering: a parallel_for_ body may fuse tensor code, but not need a temporary", "[lower][tensor]") {
  // Fused into the body: a load of a read-only buffer and elementwise ops.
  auto ok = kiln::stage("par_fused", [](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 4, [&](Rep<int64_t> i) { y.store(kiln::exp(x.tensor({3}, i * 3)) * 2.0f, i * 3); });
  });
  std::vector<float> x = randoms<float>(12, 171);
  auto r = lowered_matches_unlowered(ok, x, std::vector<float>(12));
  for (size_t k = 0; k < 12; ++k) CHECK(same_scalar(std::get<1>(r.buffers)[k], std::exp(x[k]) * 2.0f));

  // A sum inside the body needs a temporary buffer: refused.
  int line = 0;
  auto bad = kiln::stage("par_sum", [&](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 4, [&](Rep<int64_t> i) {
      line = __LINE__; y.store(x.tensor({3, 2}, i * 6).sum({1}), i * 3);
    });
  });
  x = randoms<float>(24, 172);
  const std::string msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::test::interp(bad); });
  CHECK_THAT(msg, Contains("@par_sum") && Contains("parallel_for_ body needs a temporary") &&
                      Contains("tensors.cpp:" + std::to_string(line)) && Contains("compute the tensor outside"));
  // The same for the default compile, and the unlowered interpreter runs it.
  CHECK_THAT(kiln::test::error_message<kiln::CompileError>([&] { kiln::compile(bad); }),
             Contains("parallel_for_ body needs a temporary"));
  std::vector<float> y(12);
  kiln::compile(bad, unlowered())(std::span<const float>(x), std::span<float>(y));
  CHECK(y[0] == x[0] + x[1]);

  // A matmul, a value used twice, and a load of a writable buffer likewise.
  auto bad2 = kiln::stage("par_matmul", [&](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 2, [&](Rep<int64_t> i) {
      Tensor<float> a = x.tensor({2, 2}, i * 4);
      y.store(kiln::matmul(a, a), i * 4);
    });
  });
  CHECK_THAT(kiln::test::error_message<kiln::CompileError>([&] { kiln::test::interp(bad2); }),
             Contains("@par_matmul") && Contains("parallel_for_ body needs a temporary"));
  auto bad3 = kiln::stage("par_twice", [&](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 2, [&](Rep<int64_t> i) {
      Tensor<float> a = kiln::exp(x.tensor({4}, i * 4));
      y.store(a * a, i * 4);
    });
  });
  CHECK_THAT(kiln::test::error_message<kiln::CompileError>([&] { kiln::test::interp(bad3); }),
             Contains("@par_twice") && Contains("parallel_for_ body needs a temporary"));
}

// --- fusion, seen in the lowered IR ---------------------------------------------------

TEST_CASE("fusion: an elementwise chain stored into an output is one loop nest, no temporary", "[lower][tensor]") {
  auto f = kiln::stage("chain", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> X = x.tensor({64});
    y.store(kiln::exp(X * 2.0f + 1.0f) * X);
  });
  const std::string ir = f.ir();
  INFO(ir);
  CHECK(kiln::test::count(ir, "alloc ") == 0);
  CHECK(kiln::test::count(ir, "for ") == 1);
  CHECK(kiln::test::count(ir, "tensor.") == 0);
  CHECK(kiln::test::count(ir, " exp ") == 1);
  lowered_matches_unlowered(f, randoms<float>(64, 181), std::vector<float>(64));

  // Two axes, broadcasting and a transposed view: still one nest, no temporary.
  auto g = kiln::stage("chain2", [](Arr<const float> x, Arr<const float> b, Arr<float> y) {
    Tensor<float> X = x.tensor({8, 16});
    y.store(kiln::tanh(X.transpose().transpose() - b.tensor({16})) * 3.0f);
  });
  const std::string ir2 = g.ir();
  INFO(ir2);
  CHECK(kiln::test::count(ir2, "alloc ") == 0);
  CHECK(kiln::test::count(ir2, "for ") == 2);
  lowered_matches_unlowered(g, randoms<float>(128, 182), randoms<float>(16, 183), std::vector<float>(128));
}

TEST_CASE("fusion: an elementwise producer of a sum is fused into the sum's loop", "[lower][tensor]") {
  auto f = kiln::stage("sum_all", [](Arr<const double> x) {
    Tensor<double> X = x.tensor({64});
    return (kiln::exp(X) * X - 1.0).sum_all();
  });
  const std::string ir = f.ir();
  {
    INFO(ir);
    CHECK(kiln::test::count(ir, "alloc ") == 0);
    CHECK(kiln::test::count(ir, "for ") == 1);
  }
  lowered_matches_unlowered(f, randoms<double>(64, 191));

  // Over an axis, the result is a tensor: its buffer is the only temporary.
  auto g = kiln::stage("sum_axis", [](Arr<const double> x, Arr<double> y) {
    Tensor<double> X = x.tensor({8, 16});
    y.store((kiln::exp(X) * X - 1.0).sum({1}) * 2.0);
  });
  const std::string ir2 = g.ir();
  {
    INFO(ir2);
    CHECK(kiln::test::count(ir2, "alloc ") == 1);
    CHECK(kiln::test::count(ir2, "alloc 8 ") == 1);
    CHECK(kiln::test::count(ir2, " exp ") == 1);
    CHECK(kiln::test::count(ir2, "for ") == 3);  // rows, the sum's k, the store
  }
  lowered_matches_unlowered(g, randoms<double>(128, 192), std::vector<double>(8));
}

TEST_CASE("fusion: a matmul of loads gets exactly one temporary, its result", "[lower][tensor]") {
  auto f = kiln::stage("mm_fused", [](Arr<const float> a, Arr<const float> b, Arr<const float> c, Arr<float> y) {
    y.store(kiln::relu(kiln::matmul(a.tensor({4, 8}), b.tensor({8, 5})) + c.tensor({5})));
  });
  const std::string ir = f.ir();
  {
    INFO(ir);
    CHECK(kiln::test::count(ir, "alloc ") == 1);
    CHECK(kiln::test::count(ir, "alloc 20 ") == 1);
  }
  lowered_matches_unlowered(f, randoms<float>(32, 201), randoms<float>(40, 202), randoms<float>(5, 203),
                            std::vector<float>(20));

  // A transposed left operand is read in place; a transposed right operand
  // is copied once (the matmul's inner loop reads along its rows).
  auto g = kiln::stage("mm_t", [](Arr<const float> a, Arr<const float> b, Arr<float> y) {
    y.store(kiln::matmul(a.tensor({8, 4}).transpose(), b.tensor({5, 8}).transpose()));
  });
  const std::string ir2 = g.ir();
  {
    INFO(ir2);
    CHECK(kiln::test::count(ir2, "alloc ") == 2);
    CHECK(kiln::test::count(ir2, "alloc 40 ") == 1);
    CHECK(kiln::test::count(ir2, "alloc 20 ") == 1);
  }
  lowered_matches_unlowered(g, randoms<float>(32, 204), randoms<float>(40, 205), std::vector<float>(20));
}

TEST_CASE("fusion: a value used twice is materialised once", "[lower][tensor]") {
  auto f = kiln::stage("used_twice", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> t = kiln::exp(x.tensor({6, 5}));
    y.store(t * t + 1.0f);
  });
  const std::string ir = f.ir();
  {
    INFO(ir);
    CHECK(kiln::test::count(ir, "alloc ") == 1);
    CHECK(kiln::test::count(ir, "alloc 30 ") == 1);
    CHECK(kiln::test::count(ir, " exp ") == 1);
  }
  lowered_matches_unlowered(f, randoms<float>(30, 211), std::vector<float>(30));

  // Used by two stores and a sum: still one buffer for it (and one for the sum).
  auto g = kiln::stage("used_thrice", [](Arr<const float> x, Arr<float> y, Arr<float> z) {
    Tensor<float> t = kiln::sin(x.tensor({6, 5})) * 2.0f;
    y.store(t);
    z.store(t.sum({0}) + t.slice(0, 0, 1).reshape({5}));
  });
  const std::string ir2 = g.ir();
  {
    INFO(ir2);
    CHECK(kiln::test::count(ir2, "alloc ") == 2);
    CHECK(kiln::test::count(ir2, "alloc 30 ") == 1);
    CHECK(kiln::test::count(ir2, " sin ") == 1);
  }
  lowered_matches_unlowered(g, randoms<float>(30, 212), std::vector<float>(30), std::vector<float>(5));
}

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
    CHECK_THAT(std::string(e.what()), Contains("bool") && Contains("tensors.cpp:"));
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

TEST_CASE("lowering: tensors inside if_ branches, and views made outside a loop", "[lower][tensor]") {
  auto f = kiln::stage("branches", [](Arr<const float> x, Rep<int32_t> which, Arr<float> y) {
    Tensor<float> X = x.tensor({2, 3});
    Tensor<float> T = X.transpose();                  // a view of a load: read in place in the loop
    Tensor<float> E = kiln::exp(X);                   // used in both branches: materialised
    kiln::if_(which > 0, [&] { y.store((E * 2.0f).reshape({6}), 0); },
              [&] { y.store((kiln::softmax(X) + E.sum({1}, true)).reshape({6}), 0); });
    kiln::for_(0, 2, [&](Rep<int64_t> i) { y.store(T.slice(1, 0, 1) * kiln::cast<float>(i + 1), 6 + i * 3); });
  });
  std::vector<float> x = randoms<float>(6, 231);
  for (int32_t which : {0, 1}) {
    auto r = lowered_matches_unlowered(f, x, which, std::vector<float>(12));
    const auto& y = std::get<2>(r.buffers);
    for (size_t k = 0; k < 3; ++k) {  // column 0 of X's transpose: row 0 of X
      CHECK(same_scalar(y[6 + k], x[k] * 1.0f));
      CHECK(same_scalar(y[9 + k], x[k] * 2.0f));
    }
    for (size_t k = 0; k < 6; ++k)
      if (which) CHECK(same_scalar(y[k], std::exp(x[k]) * 2.0f));
  }
}

TEST_CASE("lowering: integer division by zero in a tensor traps as in the reference", "[lower][tensor]") {
  auto f = kiln::stage("int_div0", [](Arr<const int32_t> a, Arr<const int32_t> b, Arr<int32_t> y) {
    y.store(a.tensor({3}) / b.tensor({3}));
  });
  std::vector<int32_t> a = {1, 2, 3}, b = {1, 0, 2}, y(3);
  auto call = [&](const kiln::Compiled<void(std::span<const int32_t>, std::span<const int32_t>, std::span<int32_t>)>& c) {
    return kiln::test::error_message<kiln::RuntimeError>([&] { c(a, b, y); });
  };
  CHECK_THAT(call(kiln::compile(f, unlowered())), Contains("division by zero"));
  CHECK_THAT(call(kiln::test::interp(f)), Contains("division by zero"));
}

TEST_CASE("lowering: matmul of a computed 2-D operand broadcast over a batch", "[lower][tensor]") {
  auto f = kiln::stage("bmm_computed", [](Arr<const float> a, Arr<const float> b, Arr<float> y) {
    Tensor<float> A = kiln::relu(a.tensor({3, 4})), B = b.tensor({2, 4, 5});
    y.store(kiln::matmul(A, B), 0);                       // [2, 3, 5]
    y.store(kiln::matmul(B.transpose({0, 2, 1}), kiln::sigmoid(A.transpose())), 30);  // [2, 5, 3]
  });
  std::vector<float> a = randoms<float>(12, 241), b = randoms<float>(40, 242);
  auto r = lowered_matches_unlowered(f, a, b, std::vector<float>(60));
  std::vector<float> ra(12);
  for (size_t i = 0; i < 12; ++i) ra[i] = std::max(a[i], 0.0f);
  const std::vector<float> want = ref_matmul(ra, {3, 4}, b, {2, 4, 5});
  CHECK(difference(std::vector<float>(std::get<2>(r.buffers).begin(), std::get<2>(r.buffers).begin() + 30), want, "mm").empty());
}

TEST_CASE("lowering: constant tensors and algebraic identities through the optimiser", "[lower][tensor]") {
  auto f = kiln::stage("folds", [](Arr<const float> x, Arr<const int32_t> n, Arr<float> y, Arr<int32_t> z) {
    Tensor<float> X = x.tensor({2, 3});
    Tensor<int32_t> N = n.tensor({3});
    y.store(kiln::full<float>({3}, 2.0f) * 3.0f + kiln::arange<float>(3) - kiln::full<float>({2, 3}, 0.5f), 0);
    y.store(kiln::exp(kiln::full<float>({2, 3}, 1.0f)) * X + (-kiln::ones<float>({3})), 6);
    y.store(kiln::pow(X, 0.0f) + kiln::pow(X, 1.0f) * 1.0f + X * 0.0f, 12);
    y.store(kiln::cast<float>(kiln::cast<int32_t>(kiln::full<float>({2, 3}, 2.7f))) + X, 18);
    y.store(kiln::where(kiln::full<bool>({2, 3}, true), X, X * 2.0f) + kiln::where(kiln::zeros<float>({3}) == 1.0f, 5.0f, X), 24);
    z.store(N * 0 + N * 1 - (N - N) + kiln::abs(kiln::full<int32_t>({3}, -4)) + N / 1, 0);
    z.store(kiln::cast<int32_t>(kiln::full<int32_t>({3}, 1) == kiln::ones<int32_t>({3})) + kiln::min(N, N), 3);
  });
  std::vector<float> x = with_specials(randoms<float>(6, 251));
  auto r = lowered_matches_unlowered(f, x, std::vector<int32_t>{5, -7, 9}, std::vector<float>(30), std::vector<int32_t>(6));
  const auto& z = std::get<3>(r.buffers);
  CHECK(z == std::vector<int32_t>{5 + 4 + 5, -7 + 4 - 7, 9 + 4 + 9, 6, -6, 10});
  const auto& y = std::get<2>(r.buffers);
  CHECK(std::vector<float>(y.begin(), y.begin() + 6) == std::vector<float>{5.5f, 6.5f, 7.5f, 5.5f, 6.5f, 7.5f});
}

TEST_CASE("lowering: a staged call of a tensor function, in a loop", "[lower][tensor]") {
  auto layer = kiln::stage("layer", [](Arr<const double> x, Arr<const double> w, Arr<double> y) {
    y.store(kiln::tanh(kiln::matmul(x.tensor({2, 3}), w.tensor({3, 3}))));
  });
  auto net = kiln::stage("net", [&](Arr<const double> w, Arr<double> a, Arr<double> b) {
    kiln::for_(0, 3, [&](Rep<int64_t>) {
      layer(a, w, b);
      a.store(b.tensor({2, 3}) * 0.5 + a.tensor({2, 3}));
    });
    return a.tensor({2, 3}).sum_all();
  });
  lowered_matches_unlowered(net, randoms<double>(9, 261), randoms<double>(6, 262), std::vector<double>(6));
  // The callee kept apart (not inlined): each function is lowered on its own.
  kiln::Options o;
  o.passes.inline_calls = false;
  const std::string ir = net.ir(o);
  CHECK(kiln::test::count(ir, "call @layer") == 1);
  CHECK(kiln::test::count(ir, "tensor.") == 0);
  std::vector<double> w = randoms<double>(9, 261), a = randoms<double>(6, 262), b(6);
  std::vector<double> a2 = a, b2 = b;
  o.backend = kiln::Backend::interp;
  const double got = kiln::compile(net, o)(w, a, b);
  const double want = kiln::compile(net, unlowered())(w, a2, b2);
  CHECK(same_scalar(got, want));
  CHECK(difference(a, a2, "a").empty());
}

TEST_CASE("lowering: unlowered tensor ops run only on the interpreter", "[lower][tensor]") {
  auto f = kiln::stage("kept", [](Arr<const float> x) { return kiln::exp(x.tensor({3})).sum_all(); });
  const std::string msg = kiln::test::error_message<kiln::CompileError>([&] {
    kiln::Options o;
    o.backend = kiln::Backend::llvm;
    o.passes.lower_tensors = false;
    kiln::compile(f, o);
  });
  CHECK_THAT(msg, Contains("@kept") && Contains("lower_tensors"));
  CHECK_THAT(f.ir(unlowered()), Contains("tensor.sum") && Contains("tensor.load"));
  CHECK(kiln::test::count(f.ir(), "tensor.") == 0);
}

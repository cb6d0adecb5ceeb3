// Shared by the tensor lowering tests (tensor_ops.cpp, placement.cpp): the
// reference run (the unlowered program on the interpreter), the bit-for-bit
// comparison of results and buffers, and plain-loop references.
#pragma once

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


namespace kiln::test::lowering {

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
inline kiln::Options unlowered(bool optimize = true) {
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

inline int64_t numel(const Shape& s) {
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
inline Shape broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1, y = i < b.size() ? b[b.size() - 1 - i] : 1;
    out[out.size() - 1 - i] = std::max(x, y);
  }
  return out;
}

/// Row-major multi-index of flat position `at` in `shape`.
inline Shape unravel(int64_t at, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = at % shape[k];
    at /= shape[k];
  }
  return idx;
}

/// Flat position in `shape` of the index `out_idx` of a broadcast result
/// (aligned on the right; extents of 1 read index 0).
inline int64_t broadcast_source(const Shape& out_idx, const Shape& shape) {
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
inline size_t sz(const Shape& s) { return static_cast<size_t>(numel(s)); }

// Float values with the special cases mixed in.
template <class T>
std::vector<T> with_specials(std::vector<T> v) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T specials[] = {T(-0.0), T(0.0), inf, -inf, nan, T(1), T(-1), std::numeric_limits<T>::denorm_min()};
  for (size_t i = 0; i < v.size() && i < std::size(specials); ++i) v[i * 3 % v.size()] = specials[i];
  return v;
}

}  // namespace kiln::test::lowering

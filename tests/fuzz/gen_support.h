// The program generator's vocabulary: the staged scalar types and dispatch
// over them at run time, the seeded random source, interesting constants,
// and deferred expressions ("recipes") that can be staged more than once.
#pragma once

#include <kiln/kiln.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <type_traits>
#include <variant>

namespace kiln::fuzz {

using kiln::Arr;
using kiln::Rep;

/// The staged scalar types, in kiln's rank order; a type's position is its id.
inline constexpr int num_types = 5;
template <class T>
inline constexpr int type_id = detail::rank<T>();

/// A staged variable of any scalar type.
using AnyRep = std::variant<Rep<bool>, Rep<int32_t>, Rep<int64_t>, Rep<float>, Rep<double>>;

/// Calls f.template operator()<T>() for the type with id t.
template <class F>
decltype(auto) with_type(int t, F&& f) {
  switch (t) {
    case 0: return f.template operator()<bool>();
    case 1: return f.template operator()<int32_t>();
    case 2: return f.template operator()<int64_t>();
    case 3: return f.template operator()<float>();
    default: return f.template operator()<double>();
  }
}

template <class T>
inline constexpr bool is_int_v = std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;
template <class T>
inline constexpr bool is_float_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

/// A deterministic random source. Everything is derived from raw 64-bit
/// draws (not std::uniform_*_distribution, whose algorithms differ between
/// standard libraries), so a seed names the same program everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t bits() { return g_(); }
  /// Uniform in [0, n); n > 0.
  int below(int n) { return static_cast<int>(g_() % static_cast<uint64_t>(n)); }
  /// Uniform in [lo, hi].
  int range(int lo, int hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return static_cast<double>(g_() >> 11) * 0x1p-53 < p; }
  /// An index drawn with the given non-negative weights (0 when all are 0).
  int weighted(std::initializer_list<int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    if (total <= 0) return 0;
    int x = below(total), i = 0;
    for (int w : weights) {
      if (x < w) return i;
      x -= w;
      ++i;
    }
    return 0;
  }
  template <class T, size_t N>
  T pick(const T (&options)[N]) { return options[below(static_cast<int>(N))]; }

 private:
  std::mt19937_64 g_;
};

/// A constant of type T, biased towards values that break optimisers:
/// 0, 1, -1, the extremes, -0.0, NaN, infinities.
template <class T>
T interesting(Rng& rng) {
  if constexpr (std::is_same_v<T, bool>) {
    return rng.chance(0.5);
  } else if constexpr (is_int_v<T>) {
    using L = std::numeric_limits<T>;
    static constexpr T special[] = {0, 1, -1, 2, 3, 7, 8, 31, 32, 63, -8, 100, L::min(), L::max(), L::min() + 1};
    if (rng.chance(0.7)) return rng.pick(special);
    if (rng.chance(0.5)) return static_cast<T>(rng.range(-20, 20));
    return static_cast<T>(rng.bits());
  } else {
    using L = std::numeric_limits<T>;
    static constexpr T special[] = {T(0), T(-0.0), T(1), T(-1), T(2), T(0.5), T(3), T(-2.5), T(10),
                                    L::quiet_NaN(), L::infinity(), -L::infinity(), L::max(), L::lowest(),
                                    L::min(), L::denorm_min(), L::epsilon()};
    if (rng.chance(0.65)) return rng.pick(special);
    return static_cast<T>((static_cast<double>(rng.below(1 << 20)) - (1 << 19)) / 4096.0);
  }
}

/// A nonzero constant of integer type T (a safe divisor).
template <class T>
T nonzero(Rng& rng) {
  T v = interesting<T>(rng);
  return v == 0 ? T(1) : v;
}

/// A deferred staged expression: all random choices are made when the
/// recipe is built, so each call stages the same expression again (for
/// repeated subexpressions, loop-invariant code, identical branches).
template <class T>
using Recipe = std::function<Rep<T>()>;
using AnyRecipe = std::variant<Recipe<bool>, Recipe<int32_t>, Recipe<int64_t>, Recipe<float>, Recipe<double>>;

/// The staged value of `r` as a Rep<T>: a cast node when its type differs.
template <class T, class R>
Rep<T> as(R&& r) {
  using V = detail::value_of_t<R>;
  if constexpr (std::is_same_v<V, T> && std::is_same_v<std::decay_t<R>, Rep<T>>) return Rep<T>(std::forward<R>(r));
  else if constexpr (std::is_same_v<V, T>) return Rep<T>(static_cast<const Rep<T>&>(r));
  else return kiln::cast<T>(static_cast<const Rep<V>&>(r));
}

}  // namespace kiln::fuzz

// Expressions of generated programs: every operator and math function of
// kiln, mixed operand types, weak literals, casts, select, cond, loads, and
// the patterns an optimiser should simplify. Expressions are built as
// recipes (gen_support.h): all random choices happen while building, staging
// happens when the recipe is called. Operands are always staged into named
// Reps first, so the IR's order does not depend on the compiler's argument
// evaluation order.
#include "gen_state.h"

namespace kiln::fuzz {
namespace {

/// `a OP b` through kiln's operators, as a Rep<T>. When the operand types
/// have no such operator (checked at compile time) the result is a Rep operand.
template <class T, class A, class B>
Rep<T> apply(Bin op, const A& a, const B& b) {
#define KILN_FUZZ_BIN(tag, e)                       \
  case Bin::tag:                                    \
    if constexpr (requires { e; }) return as<T>(e); \
    break;
  switch (op) {
    KILN_FUZZ_BIN(add, a + b)
    KILN_FUZZ_BIN(sub, a - b)
    KILN_FUZZ_BIN(mul, a * b)
    KILN_FUZZ_BIN(div, a / b)
    KILN_FUZZ_BIN(rem, a % b)
    KILN_FUZZ_BIN(min, kiln::min(a, b))
    KILN_FUZZ_BIN(max, kiln::max(a, b))
    KILN_FUZZ_BIN(pow, kiln::pow(a, b))
    KILN_FUZZ_BIN(band, a & b)
    KILN_FUZZ_BIN(bor, a | b)
    KILN_FUZZ_BIN(bxor, a ^ b)
    KILN_FUZZ_BIN(shl, a << b)
    KILN_FUZZ_BIN(shr, a >> b)
    KILN_FUZZ_BIN(land, a && b)
    KILN_FUZZ_BIN(lor, a || b)
    KILN_FUZZ_BIN(eq, a == b)
    KILN_FUZZ_BIN(ne, a != b)
    KILN_FUZZ_BIN(lt, a < b)
    KILN_FUZZ_BIN(le, a <= b)
    KILN_FUZZ_BIN(gt, a > b)
    KILN_FUZZ_BIN(ge, a >= b)
  }
#undef KILN_FUZZ_BIN
  if constexpr (detail::Literal<A>) return as<T>(b);
  else return as<T>(a);
}

enum class Un : uint8_t { neg, abs, bnot, lnot, plus, sqrt, exp, log, sin, cos, tanh, floor };

template <class T>
Rep<T> apply(Un op, const Rep<T>& a) {
#define KILN_FUZZ_UN(tag, e)                        \
  case Un::tag:                                     \
    if constexpr (requires { e; }) return as<T>(e); \
    break;
  switch (op) {
    KILN_FUZZ_UN(neg, -a)
    KILN_FUZZ_UN(abs, kiln::abs(a))
    KILN_FUZZ_UN(bnot, ~a)
    KILN_FUZZ_UN(lnot, !a)
    KILN_FUZZ_UN(plus, +a)
    KILN_FUZZ_UN(sqrt, kiln::sqrt(a))
    KILN_FUZZ_UN(exp, kiln::exp(a))
    KILN_FUZZ_UN(log, kiln::log(a))
    KILN_FUZZ_UN(sin, kiln::sin(a))
    KILN_FUZZ_UN(cos, kiln::cos(a))
    KILN_FUZZ_UN(tanh, kiln::tanh(a))
    KILN_FUZZ_UN(floor, kiln::floor(a))
  }
#undef KILN_FUZZ_UN
  return a;
}

bool divides(Bin op) { return op == Bin::div || op == Bin::rem; }

/// `a OP k` or `k OP a` with a plain C++ literal k (a "weak" literal).
template <class R, class T, class L>
Recipe<R> literal_op(Recipe<T> a, Bin op, L k, bool left) {
  return [a, op, k, left] {
    Rep<T> x = a();
    return left ? apply<R>(op, k, x) : apply<R>(op, x, k);
  };
}

/// Staged from two recipes, in order.
template <class R, class A, class B>
Recipe<R> binary_op(Recipe<A> a, Recipe<B> b, Bin op, bool flip = false) {
  return [a, b, op, flip] {
    Rep<A> x = a();
    Rep<B> y = b();
    return flip ? apply<R>(op, y, x) : apply<R>(op, x, y);
  };
}

constexpr double float_literals[] = {0.5, 2.0, -0.0, 1.0, 0.25, -3.0, std::numeric_limits<double>::quiet_NaN(),
                                     std::numeric_limits<double>::infinity()};

}  // namespace

template <class T>
Recipe<T> Generator::expr(int depth) {
  --budget_;
  if (depth >= knobs_.max_expr_depth || budget_ <= 0 || rng_.chance(knobs_.leaf)) return leaf<T>();
  if (rng_.chance(knobs_.reuse))
    if (auto m = memo<T>()) return *m;
  Recipe<T> r = node<T>(depth + 1);
  if (rng_.chance(knobs_.remember)) scopes_.back().memos.push_back(AnyRecipe(std::in_place_type<Recipe<T>>, r));
  return r;
}

template <class T>
Recipe<T> Generator::node(int d) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (rng_.weighted({6, 4, 2, 2, 2, 1, 2})) {
      case 0: return compare(d);
      case 1: return logical(d);
      case 2: return unary<T>(d);
      case 3: return cast_from<T>(d);
      case 4: return select<T>(d);
      case 5: return cond<T>(d);
      default: return pattern<T>(d);
    }
  } else {
    switch (rng_.weighted({3, 6, 3, 4, 2, 2, 1, is_float_v<T> ? 4 : 0, 2})) {
      case 0: return unary<T>(d);
      case 1: return binary<T>(d);
      case 2: return mixed<T>(d);
      case 3: return with_literal<T>(d);
      case 4: return cast_from<T>(d);
      case 5: return select<T>(d);
      case 6: return cond<T>(d);
      case 7: return math<T>(d);
      default: return pattern<T>(d);
    }
  }
}

template <class T>
Recipe<T> Generator::leaf() {
  constexpr bool loadable = !std::is_same_v<T, bool>;
  switch (rng_.weighted({9, 2, loadable && in_index_ < 2 ? 3 : 0, std::is_same_v<T, int64_t> ? 1 : 0})) {
    case 0:
      if (Rep<T>* p = pick_var<T>(false)) return [p] { return Rep<T>(*p); };
      break;
    case 2:
      if (Recipe<T> r = load<T>()) return r;
      break;
    case 3:
      if constexpr (std::is_same_v<T, int64_t>)
        if (Recipe<int64_t> r = size_of()) return r;
      break;
    default:
      break;
  }
  T v = interesting<T>(rng_);
  if constexpr (std::is_same_v<T, bool>)
    if (Recipe<bool> r = disjoint_of(v)) return r;
  return [v] { return Rep<T>(v); };
}

template <class T>
Recipe<T> Generator::load() {
  if constexpr (std::is_same_v<T, bool>) {
    return {};
  } else {
    if constexpr (std::is_same_v<T, double>) {
      if (bufs_.cf64 && (!bufs_.f64 || rng_.chance(0.5))) {
        Arr<const double> buf = *bufs_.cf64;
        Idx ix = index(2);
        return [buf, ix] { return with_index(ix, [&](const auto& i) { return Rep<double>(buf[i]); }); };
      }
    }
    std::optional<Arr<T>>* b = writable<T>();
    if (!b || !*b) return {};
    Arr<T> buf = **b;
    Idx ix = index(2);
    return [buf, ix] { return with_index(ix, [&](const auto& i) { return Rep<T>(buf[i]); }); };
  }
}

Recipe<int64_t> Generator::size_of() {
  std::vector<Recipe<int64_t>> sizes;
  auto add = [&](const auto& opt) {
    if (opt) sizes.push_back([buf = *opt] { return buf.size(); });
  };
  add(bufs_.i32);
  add(bufs_.i64);
  add(bufs_.f32);
  add(bufs_.f64);
  add(bufs_.cf64);
  if (sizes.empty()) return {};
  return sizes[rng_.below(static_cast<int>(sizes.size()))];
}

Recipe<bool> Generator::disjoint_of(bool value) {
  using Buf = std::function<detail::ValueId()>;
  std::vector<Buf> bufs;
  bufs_.each([&](const auto& buf) { bufs.push_back([buf] { return buf.value(detail::Loc::current()); }); });
  // Every buffer argument is its own block of buffer_size > 0 elements: two
  // of them are disjoint, one is not disjoint from itself.
  const int n = static_cast<int>(bufs.size());
  if (n < (value ? 2 : 1) || !aux_.chance(0.3)) return {};
  const int a = aux_.below(n);
  const int b = value ? (a + 1 + aux_.below(n - 1)) % n : a;
  return [x = bufs[a], y = bufs[b]] {
    const detail::Loc loc = detail::Loc::current();
    const detail::ValueId d = detail::emit(ir::Op::Disjoint, ir::Type::scalar(ir::Scalar::i1), {x(), y()}, loc);
    return Rep<bool>::from_value(d, loc);
  };
}

Idx Generator::index(int depth) {
  ++in_index_;
  Idx ix;
  switch (rng_.weighted({2, 5, 3})) {
    case 0:
      ix.lit = rng_.below(buffer_size);
      break;
    case 1: {
      ix.kind = 1;
      Recipe<int64_t> e;
      if (rng_.chance(0.5)) e = expr<int64_t>(depth);
      else e = [n = expr<int32_t>(depth)] { return kiln::cast<int64_t>(n()); };
      Recipe<int64_t> size = size_of();
      switch (rng_.below(size ? 4 : 3)) {
        case 0:
          ix.r64 = [e] { return e() & (buffer_size - 1); };
          break;
        case 1:
          ix.r64 = [e] {
            Rep<int64_t> x = e();
            return kiln::min(kiln::max(x, 0), buffer_size - 1);
          };
          break;
        case 2:
          ix.r64 = [e] {
            Rep<int64_t> x = e();
            Rep<bool> in = x >= 0 && x < buffer_size;
            return kiln::select(in, x, int64_t{3});
          };
          break;
        default:
          ix.r64 = [e, size] {
            Rep<int64_t> x = e();
            Rep<int64_t> n = size();
            return x & (n - 1);  // sizes are powers of two
          };
          break;
      }
      break;
    }
    default: {
      ix.kind = 2;
      Recipe<int32_t> e = expr<int32_t>(depth);
      if (rng_.chance(0.5)) ix.r32 = [e] { return e() & 7; };
      else ix.r32 = [e] { return (e() & 3) + 4; };
      break;
    }
  }
  --in_index_;
  return ix;
}

Recipe<bool> Generator::condition(int d) {
  switch (rng_.weighted({24, 1, 1, 1})) {
    case 0:
      return expr<bool>(d);
    case 1: {
      bool k = rng_.chance(0.5);
      return [k] { return Rep<bool>(k); };
    }
    case 2: {
      Recipe<int32_t> a = expr<int32_t>(d);
      return [a] {
        Rep<int32_t> x = a();
        return x == x;
      };
    }
    default: {
      int64_t k1 = interesting<int64_t>(rng_), k2 = interesting<int64_t>(rng_);
      return [k1, k2] { return Rep<int64_t>(k1) < k2; };
    }
  }
}

template <class T>
Bin Generator::pick_op() {
  using enum Bin;
  if constexpr (std::is_same_v<T, bool>) {
    static constexpr Bin ops[] = {land, lor, band, bor, bxor, eq, ne, add, lt};
    return rng_.pick(ops);
  } else if constexpr (is_int_v<T>) {
    static constexpr Bin ops[] = {add, sub, mul, div, rem, min, max, band, bor, bxor, shl, shr};
    return rng_.pick(ops);
  } else {
    static constexpr Bin ops[] = {add, sub, mul, div, min, max, pow};
    return rng_.pick(ops);
  }
}

template <class T>
Recipe<T> Generator::nonzero_of(Recipe<T> r) {
  if constexpr (std::is_same_v<T, bool>) {
    return [r] { return r() | true; };
  } else if constexpr (is_int_v<T>) {
    T k = nonzero<T>(rng_);
    return [r, k] { return r() | k; };
  } else {
    return r;
  }
}

template <class T>
Recipe<T> Generator::unary(int d) {
  using enum Un;
  Recipe<T> a = expr<T>(d);
  Un op;
  if constexpr (std::is_same_v<T, bool>) {
    static constexpr Un ops[] = {lnot, lnot, neg, plus};
    op = rng_.pick(ops);
  } else if constexpr (is_int_v<T>) {
    if (std::is_same_v<T, int32_t> && rng_.chance(0.1)) {
      // Arithmetic on a bool promotes to int: -b is a Rep<int32_t>.
      Recipe<bool> b = expr<bool>(d);
      return [b] { return as<T>(-b()); };
    }
    static constexpr Un ops[] = {neg, abs, bnot, plus};
    op = rng_.pick(ops);
  } else {
    static constexpr Un ops[] = {neg, abs, sqrt, exp, log, sin, cos, tanh, floor};
    op = rng_.pick(ops);
  }
  return [a, op] {
    Rep<T> x = a();
    return apply(op, x);
  };
}

template <class T>
Recipe<T> Generator::binary(int d) {
  Bin op = pick_op<T>();
  Recipe<T> a = expr<T>(d);
  Recipe<T> b = expr<T>(d);
  if (divides(op)) b = nonzero_of<T>(b);
  return binary_op<T>(a, b, op);
}

template <class T>
Recipe<T> Generator::mixed(int d) {
  // The other operand has a lower rank, so C++'s conversions give T.
  return with_type(rng_.below(type_id<T>), [&]<class U>() -> Recipe<T> {
    Bin op = pick_op<T>();
    Recipe<T> a = expr<T>(d);
    Recipe<U> b = expr<U>(d);
    bool flip = rng_.chance(0.5);
    if (divides(op) && flip) a = nonzero_of<T>(a);
    if (divides(op) && !flip) b = nonzero_of<U>(b);
    return binary_op<T>(a, b, op, flip);
  });
}

template <class T>
Recipe<T> Generator::with_literal(int d) {
  Bin op = pick_op<T>();
  bool left = rng_.chance(0.3);
  Recipe<T> a = expr<T>(d);
  if (divides(op) && left) a = nonzero_of<T>(a);
  const bool zero_ok = !divides(op) || left;
  constexpr bool boolean = std::is_same_v<T, bool>;
  switch (rng_.weighted({4, boolean ? 0 : 2, boolean ? 0 : 2})) {
    case 0: {
      T k = interesting<T>(rng_);
      if constexpr (is_int_v<T>)
        if (!zero_ok && k == 0) k = 1;
      return literal_op<T>(a, op, k, left);
    }
    case 1: {
      int k = rng_.range(-4, 9);
      if (!zero_ok && k == 0) k = 1;
      return literal_op<T>(a, op, k, left);
    }
    default:
      return literal_op<T>(a, op, rng_.pick(float_literals), left);
  }
}

template <class T>
Recipe<T> Generator::cast_from(int d) {
  int u = rng_.below(num_types - 1);
  if (u >= type_id<T>) ++u;
  return with_type(u, [&]<class U>() -> Recipe<T> {
    Recipe<U> a = expr<U>(d);
    if (rng_.chance(0.3)) return [a] { return Rep<T>(a()); };  // converting construction
    return [a] { return kiln::cast<T>(a()); };
  });
}

template <class T>
Recipe<T> Generator::select(int d) {
  Recipe<bool> c = condition(d);
  Recipe<T> a = expr<T>(d);
  switch (rng_.below(3)) {
    case 0: {
      Recipe<T> b = expr<T>(d);
      return [c, a, b] {
        Rep<bool> cv = c();
        Rep<T> x = a();
        Rep<T> y = b();
        return kiln::select(cv, x, y);
      };
    }
    case 1: {
      T k = interesting<T>(rng_);
      bool left = rng_.chance(0.5);
      return [c, a, k, left] {
        Rep<bool> cv = c();
        Rep<T> x = a();
        return left ? as<T>(kiln::select(cv, k, x)) : as<T>(kiln::select(cv, x, k));
      };
    }
    default:
      return with_type(rng_.below(num_types), [&]<class U>() -> Recipe<T> {
        Recipe<U> b = expr<U>(d);
        return [c, a, b] {
          Rep<bool> cv = c();
          Rep<T> x = a();
          Rep<U> y = b();
          return as<T>(kiln::select(cv, x, y));
        };
      });
  }
}

template <class T>
Recipe<T> Generator::cond(int d) {
  Recipe<bool> c = condition(d);
  Recipe<T> a = expr<T>(d);
  int form = rng_.below(5);  // 0, 1: distinct branches; 2: identical; 3, 4: a literal branch
  Recipe<T> b = form == 2 ? a : expr<T>(d);
  T k = interesting<T>(rng_);
  return [c, a, b, form, k] {
    Rep<bool> cv = c();
    if (form == 3) return kiln::cond(cv, [&] { return a(); }, [&] { return k; });
    if (form == 4) return kiln::cond(cv, [&] { return k; }, [&] { return b(); });
    return kiln::cond(cv, [&] { return a(); }, [&] { return b(); });
  };
}

template <class T>
Recipe<T> Generator::math(int d) {
  if constexpr (is_float_v<T>) {
    switch (rng_.below(3)) {
      case 0: {
        Recipe<T> a = expr<T>(d);
        Recipe<T> b = expr<T>(d);
        return binary_op<T>(a, b, Bin::pow);
      }
      case 1: {
        Recipe<T> a = expr<T>(d);
        Recipe<T> b = expr<T>(d);
        Recipe<T> c = expr<T>(d);
        return [a, b, c] {
          Rep<T> x = a();
          Rep<T> y = b();
          Rep<T> z = c();
          return kiln::fma(x, y, z);
        };
      }
      default:
        return unary<T>(d);
    }
  }
  return binary<T>(d);
}

template <class T>
Recipe<T> Generator::pattern(int d) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (rng_.below(6)) {
      case 0:
      case 1: {
        // x == x, x != x, x < x: folds for integers, not for floats (NaN).
        static constexpr Bin ops[] = {Bin::eq, Bin::ne, Bin::lt, Bin::ge};
        Bin op = rng_.pick(ops);
        return with_type(rng_.below(num_types), [&]<class U>() -> Recipe<bool> {
          Recipe<U> a = expr<U>(d);
          return [a, op] {
            Rep<U> x = a();
            return apply<bool>(op, x, x);
          };
        });
      }
      case 2: {
        Recipe<bool> a = expr<bool>(d);
        return [a] { return !!a(); };
      }
      case 3: {
        static constexpr Bin ops[] = {Bin::land, Bin::lor, Bin::bxor, Bin::band};
        Recipe<bool> a = expr<bool>(d);
        Bin op = rng_.pick(ops);
        bool k = rng_.chance(0.5);
        return literal_op<bool>(a, op, k, false);
      }
      case 4: {
        Recipe<bool> a = expr<bool>(d);
        return [a] {
          Rep<bool> x = a();
          return x ^ x;
        };
      }
      default: {
        bool k = rng_.chance(0.5);
        Recipe<bool> a = expr<bool>(d);
        return [a, k] {
          Rep<bool> x = a();
          return Rep<bool>(k) && x;
        };
      }
    }
  } else {
    Recipe<T> a = expr<T>(d);
    switch (rng_.below(11)) {
      case 0: return literal_op<T>(a, Bin::mul, 1, rng_.chance(0.5));
      case 1: return literal_op<T>(a, Bin::add, 0, rng_.chance(0.5));
      case 2:
        return [a] {
          Rep<T> x = a();
          return as<T>(x - x);
        };
      case 3: return literal_op<T>(a, Bin::mul, T(0), false);
      case 4:
        if constexpr (is_float_v<T>) {
          // pow with a small integer (or integral double, or 0.5) exponent.
          static constexpr int ints[] = {0, 1, 2, 3, 4, 5, -1, -2};
          static constexpr double reals[] = {2.0, 3.0, 0.5, -0.5, 1.0};
          if (rng_.chance(0.6)) return literal_op<T>(a, Bin::pow, rng_.pick(ints), false);
          return literal_op<T>(a, Bin::pow, rng_.pick(reals), false);
        } else {
          static constexpr Bin ops[] = {Bin::div, Bin::band, Bin::bor, Bin::bxor, Bin::shl, Bin::shr};
          static constexpr T ks[] = {1, -1, 0, 0, 0, 0};
          int i = rng_.below(6);
          if (ops[i] == Bin::bxor)
            return [a] {
              Rep<T> x = a();
              return as<T>(x ^ x);
            };
          return literal_op<T>(a, ops[i], ks[i], false);
        }
      case 5:
        return [a] {
          Rep<T> x = a();
          if constexpr (is_int_v<T>) return as<T>(~~x);
          else return as<T>(-(-x));
        };
      case 6: {
        bool use_min = rng_.chance(0.5);
        return [a, use_min] {
          Rep<T> x = a();
          return use_min ? kiln::min(x, x) : kiln::max(x, x);
        };
      }
      case 7: {
        // A constant expression: folds completely.
        T k1 = interesting<T>(rng_);
        T k2 = interesting<T>(rng_);
        Bin op = pick_op<T>();
        if (divides(op) && is_int_v<T> && k2 == 0) k2 = 1;
        return [k1, k2, op] {
          Rep<T> x = k1;
          return apply<T>(op, x, k2);
        };
      }
      case 8: {
        bool k = rng_.chance(0.5);
        Recipe<T> b = expr<T>(d);
        return [a, b, k] {
          Rep<T> x = a();
          Rep<T> y = b();
          return kiln::select(Rep<bool>(k), x, y);
        };
      }
      case 9:
        // A widening round trip: cast<T>(cast<wider>(x)) is x.
        return [a] {
          Rep<T> x = a();
          if constexpr (std::is_same_v<T, int32_t>) return kiln::cast<T>(kiln::cast<int64_t>(x));
          else return kiln::cast<T>(kiln::cast<double>(x));
        };
      default: {
        // (x + k1) + k2: reassociates for integers, must not for floats.
        T k1 = interesting<T>(rng_);
        T k2 = interesting<T>(rng_);
        return [a, k1, k2] {
          Rep<T> x = a();
          Rep<T> y = x + k1;
          return y + k2;
        };
      }
    }
  }
}

Recipe<bool> Generator::compare(int d) {
  static constexpr Bin ops[] = {Bin::eq, Bin::ne, Bin::lt, Bin::le, Bin::gt, Bin::ge};
  Bin op = rng_.pick(ops);
  return with_type(rng_.below(num_types), [&]<class U>() -> Recipe<bool> {
    Recipe<U> a = expr<U>(d);
    switch (rng_.below(3)) {
      case 0: return binary_op<bool>(a, expr<U>(d), op);
      case 1: {
        U k = interesting<U>(rng_);
        bool left = rng_.chance(0.3);
        return literal_op<bool>(a, op, k, left);
      }
      default:
        return with_type(rng_.below(num_types), [&]<class V>() -> Recipe<bool> {
          return binary_op<bool>(a, expr<V>(d), op);
        });
    }
  });
}

Recipe<bool> Generator::logical(int d) {
  static constexpr Bin ops[] = {Bin::land, Bin::lor, Bin::band, Bin::bor, Bin::bxor};
  Bin op = rng_.pick(ops);
  Recipe<bool> a = expr<bool>(d);
  if (rng_.chance(0.2)) {
    bool k = rng_.chance(0.5);
    bool left = rng_.chance(0.5);
    return literal_op<bool>(a, op, k, left);
  }
  return binary_op<bool>(a, expr<bool>(d), op);
}

template <class T>
Rep<T> Generator::result() {
  // Mixing in most of the function's variables keeps most of the program live.
  Rep<T> r = expr<T>(0)();
  for (Var& v : scopes_.front().vars) {
    Rep<T>* p = std::get_if<Rep<T>>(&v.rep);
    if (!p || !rng_.chance(0.7)) continue;
    if constexpr (std::is_same_v<T, bool>) r = r != *p;
    else if constexpr (is_int_v<T>) r = r ^ *p;
    else r = r + *p;
  }
  return r;
}

template <class T>
Rep<T> Generator::accumulate(Bin op, const Rep<T>& a, const Rep<T>& b) {
  return apply<T>(op, a, b);
}

#define KILN_FUZZ_INSTANTIATE(T)                  \
  template Recipe<T> Generator::expr<T>(int);     \
  template Rep<T> Generator::accumulate<T>(Bin, const Rep<T>&, const Rep<T>&); \
  template Rep<T> Generator::result<T>();         \
  template Bin Generator::pick_op<T>();           \
  template Recipe<T> Generator::nonzero_of<T>(Recipe<T>);
KILN_FUZZ_INSTANTIATE(bool)
KILN_FUZZ_INSTANTIATE(int32_t)
KILN_FUZZ_INSTANTIATE(int64_t)
KILN_FUZZ_INSTANTIATE(float)
KILN_FUZZ_INSTANTIATE(double)
#undef KILN_FUZZ_INSTANTIATE

}  // namespace kiln::fuzz

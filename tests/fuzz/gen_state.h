// The generator's state while one staged function is built: nested scopes
// of staged variables, the visible buffers and callable helpers, and the
// expression and statement producers (gen_expr.cpp, gen_stmt.cpp).
#pragma once

#include "gen_support.h"
#include "generator.h"

#include <deque>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

namespace kiln::fuzz {

/// The staged helper functions of one program. A helper exists when its
/// has_ flag is set; calls_ counts the call sites it may still get.
struct Helpers {
  /// Small and pure (usually under 40 nodes): an inlining candidate.
  kiln::Staged<double(int32_t, double)> small;
  /// Larger (over 40 nodes), pure, reads a buffer, returns a tuple.
  kiln::Staged<std::tuple<int64_t, float>(int64_t, float, bool, std::span<const double>)> large;
  /// Writes its buffer; returns nothing.
  kiln::Staged<void(std::span<int32_t>, int32_t)> effect;
  /// Recursive; callers clamp the first argument to [0, rec_mask].
  kiln::Staged<double(int64_t, double)> rec;
  bool has_small = false, has_large = false, has_effect = false, has_rec = false;
  int small_calls = 0, large_calls = 0, effect_calls = 0, rec_calls = 0;
  int rec_mask = 7;
};

/// The buffers a function being generated can see (absent: none of that kind).
struct Buffers {
  std::optional<Arr<int32_t>> i32;
  std::optional<Arr<int64_t>> i64;
  std::optional<Arr<float>> f32;
  std::optional<Arr<double>> f64;
  std::optional<Arr<const double>> cf64;
  /// Written only by parallel_for_ bodies, element i by iteration i.
  std::optional<Arr<int32_t>> par_i32;
  std::optional<Arr<double>> par_f64;

  /// f(buffer) for each buffer argument there is, always in this order.
  template <class F>
  void each(F&& f) const {
    auto one = [&](const auto& opt) {
      if (opt) f(*opt);
    };
    one(i32), one(i64), one(f32), one(f64), one(cf64), one(par_i32), one(par_f64);
  }
};

/// An index into a buffer, always in [0, buffer_size): a literal, or a
/// masked / clamped int64 or int32 expression.
struct Idx {
  int kind = 0;  // 0: literal, 1: r64, 2: r32
  int64_t lit = 0;
  Recipe<int64_t> r64;
  Recipe<int32_t> r32;
};

/// Stages ix and calls f with it (an int64_t, a Rep<int64_t> or a Rep<int32_t>).
template <class F>
decltype(auto) with_index(const Idx& ix, F&& f) {
  if (ix.kind == 1) {
    Rep<int64_t> i = ix.r64();
    return f(i);
  }
  if (ix.kind == 2) {
    Rep<int32_t> i = ix.r32();
    return f(i);
  }
  return f(ix.lit);
}

/// Binary operators, by kiln's spelling; which ones apply depends on the types.
enum class Bin : uint8_t { add, sub, mul, div, rem, min, max, pow, band, bor, bxor, shl, shr, land, lor, eq, ne, lt, le, gt, ge };
/// Compound assignments.
enum class Cmp : uint8_t { add, sub, mul, div, rem, band, bor, bxor };

class Generator {
 public:
  /// Which helpers this function may call.
  enum Callable : unsigned { call_small = 1, call_large = 2, call_effect = 4, call_rec = 8 };

  Generator(Rng& rng, const Knobs& knobs, Helpers* helpers, unsigned callable, Buffers buffers, int budget);

  /// Adds a variable (a parameter, a loop index, a declared Rep) to the
  /// innermost scope; read-only ones are never assigned by generated code.
  template <class T>
  Rep<T>& declare(Rep<T> r, bool assignable = true) {
    scopes_.back().vars.push_back(Var{AnyRep(std::in_place_type<Rep<T>>, std::move(r)), assignable});
    return std::get<Rep<T>>(scopes_.back().vars.back().rep);
  }
  /// Statements in the current scope; at depth 0 until the budget is spent.
  void block(int depth);
  /// A random expression of type T.
  template <class T>
  Recipe<T> expr(int depth);
  /// A function result: an expression mixed with most of the function's variables.
  template <class T>
  Rep<T> result();
  /// A store into the int32 buffer (a function that must write it).
  void must_store();
  /// `a OP b` as a Rep<T> (an accumulation step).
  template <class T>
  static Rep<T> accumulate(Bin op, const Rep<T>& a, const Rep<T>& b);

  /// An inner scope for the lifetime of the guard (a region's lambda).
  class Scope {
   public:
    Scope(Generator& g, bool loop = false, bool parallel = false);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Generator& g_;
    bool loop_;
    size_t saved_barrier_;
  };

 private:
  struct Var {
    AnyRep rep;
    bool assignable;
  };
  struct Frame {
    std::deque<Var> vars;
    std::deque<AnyRep> dead;  // assigned, never read: dead values and dead loop-carried values
    std::vector<AnyRecipe> memos;
  };

  Rng& rng_;
  /// The draws of disjoint_of, apart from rng_ (seeded from rng_'s next
  /// draw without taking it), so that they leave every other choice as it is.
  Rng aux_;
  Knobs knobs_;
  Helpers* helpers_;
  unsigned callable_;
  Buffers bufs_;
  int budget_;
  std::deque<Frame> scopes_;
  size_t barrier_ = 0;  // variables of scopes below this index are not assignable (parallel body)
  int loops_ = 0;
  int in_index_ = 0;  // nesting of index expressions (bounds loads inside indices)
  /// Inside a parallel_for_ body: stages the iteration's one store.
  std::function<void(int)> par_store_;

  // Variables and buffers.
  template <class T>
  Rep<T>* pick_var(bool assign);
  template <class T>
  std::optional<Arr<T>>* writable();
  template <class T>
  std::optional<Recipe<T>> memo();
  bool in_parallel() const { return static_cast<bool>(par_store_); }

  // Expressions (gen_expr.cpp).
  template <class T>
  Recipe<T> node(int depth);
  template <class T>
  Recipe<T> leaf();
  template <class T>
  Recipe<T> load();
  template <class T>
  Recipe<T> unary(int depth);
  template <class T>
  Recipe<T> binary(int depth);
  template <class T>
  Recipe<T> mixed(int depth);
  template <class T>
  Recipe<T> with_literal(int depth);
  template <class T>
  Recipe<T> cast_from(int depth);
  template <class T>
  Recipe<T> select(int depth);
  template <class T>
  Recipe<T> cond(int depth);
  template <class T>
  Recipe<T> math(int depth);
  template <class T>
  Recipe<T> pattern(int depth);
  Recipe<bool> compare(int depth);
  Recipe<bool> logical(int depth);
  template <class T>
  Bin pick_op();
  template <class T>
  Recipe<T> nonzero_of(Recipe<T> r);
  Recipe<int64_t> size_of();
  /// Sometimes, in place of the bool literal `value`: `disjoint` of two of
  /// the visible buffers (IR only: it has no staging API), which is `value`
  /// when run. Empty otherwise.
  Recipe<bool> disjoint_of(bool value);
  /// A buffer index in range.
  Idx index(int depth);
  /// A condition for if_/cond: random, constant, or foldable.
  Recipe<bool> condition(int depth);

  // Statements (gen_stmt.cpp).
  void statement(int depth);
  template <class T>
  void declare_stmt(int depth);
  template <class T>
  void assign_stmt(int depth);
  void store_stmt(int depth);
  template <class T>
  void store_to(Arr<T> buf, int depth);
  void if_stmt(int depth);
  template <class T>
  void cond_stmt(int depth);
  template <class... Ts>
  void cond_tuple_stmt(int depth);
  template <class C>
  void while_stmt(int depth);
  template <class I>
  void for_stmt(int depth);
  template <class I>
  void parallel_stmt(int depth);
  template <class I, class E>
  void parallel_into(Arr<E> out, int depth);
  void call_stmt(int depth);
  void dead_stmt(int depth);
  template <class T>
  void guarded_stmt(int depth);
  void memo_stmt();
  template <class T>
  void fill_stmt(Arr<T> b);
  /// `lhs OP= x` for a Rep or a buffer element, with a nonzero integer divisor.
  template <class L, class T>
  void compound_assign(L& lhs, int depth);
};

template <class T>
Rep<T>* Generator::pick_var(bool assign) {
  std::vector<Rep<T>*> found;
  // Half of the assignments in nested code go to outer variables, so that
  // what the nested code computes stays observable.
  const size_t end = assign && scopes_.size() > barrier_ + 1 && rng_.chance(0.5) ? scopes_.size() - 1 : scopes_.size();
  for (size_t s = assign ? barrier_ : 0; s < end; ++s)
    for (Var& v : scopes_[s].vars)
      if (auto* r = std::get_if<Rep<T>>(&v.rep); r && (v.assignable || !assign)) found.push_back(r);
  return found.empty() ? nullptr : found[rng_.below(static_cast<int>(found.size()))];
}

template <class T>
std::optional<Arr<T>>* Generator::writable() {
  if constexpr (std::is_same_v<T, int32_t>) return &bufs_.i32;
  else if constexpr (std::is_same_v<T, int64_t>) return &bufs_.i64;
  else if constexpr (std::is_same_v<T, float>) return &bufs_.f32;
  else if constexpr (std::is_same_v<T, double>) return &bufs_.f64;
  else return nullptr;
}

template <class T>
std::optional<Recipe<T>> Generator::memo() {
  std::vector<const Recipe<T>*> found;
  for (const Frame& f : scopes_)
    for (const AnyRecipe& r : f.memos)
      if (auto* p = std::get_if<Recipe<T>>(&r)) found.push_back(p);
  if (found.empty()) return std::nullopt;
  return *found[rng_.below(static_cast<int>(found.size()))];
}

}  // namespace kiln::fuzz

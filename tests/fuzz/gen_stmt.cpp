// Statements of generated programs: declarations and assignments at every
// depth (also of outer variables from nested regions), buffer stores,
// if_ / cond / while_ / for_ / parallel_for_, staged calls, dead code and
// repeated expressions. Loops have small trip counts by construction.
#include "gen_state.h"

#include <algorithm>
#include <cstdlib>

namespace kiln::fuzz {
namespace {

/// `lhs OP= x`; when kiln has no such compound assignment for these types
/// (checked at compile time), a plain assignment.
template <class L, class X>
void apply(L& lhs, Cmp op, const X& x) {
#define KILN_FUZZ_CMP(tag, e)         \
  case Cmp::tag:                      \
    if constexpr (requires { e; }) {  \
      e;                              \
      return;                         \
    }                                 \
    break;
  switch (op) {
    KILN_FUZZ_CMP(add, lhs += x)
    KILN_FUZZ_CMP(sub, lhs -= x)
    KILN_FUZZ_CMP(mul, lhs *= x)
    KILN_FUZZ_CMP(div, lhs /= x)
    KILN_FUZZ_CMP(rem, lhs %= x)
    KILN_FUZZ_CMP(band, lhs &= x)
    KILN_FUZZ_CMP(bor, lhs |= x)
    KILN_FUZZ_CMP(bxor, lhs ^= x)
  }
#undef KILN_FUZZ_CMP
  lhs = x;
}

}  // namespace

Generator::Generator(Rng& rng, const Knobs& knobs, Helpers* helpers, unsigned callable, Buffers buffers, int budget)
    : rng_(rng),
      aux_([rng]() mutable { return rng.bits(); }() ^ 0x6469736a6f696e74ull),
      knobs_(knobs),
      helpers_(helpers),
      callable_(callable),
      bufs_(std::move(buffers)),
      budget_(budget) {
  scopes_.emplace_back();
}

Generator::Scope::Scope(Generator& g, bool loop, bool parallel) : g_(g), loop_(loop), saved_barrier_(g.barrier_) {
  g.scopes_.emplace_back();
  if (parallel) g.barrier_ = g.scopes_.size() - 1;
  if (loop) ++g.loops_;
}

Generator::Scope::~Scope() {
  g_.scopes_.pop_back();
  g_.barrier_ = saved_barrier_;
  if (loop_) --g_.loops_;
}

void Generator::block(int depth) {
  if (depth == 0) {
    for (int i = 0; i < 400 && budget_ > 0; ++i) statement(0);
    return;
  }
  int n = rng_.range(1, std::max(1, 4 - depth));
  for (int i = 0; i < n && budget_ > 0; ++i) statement(depth);
  if (rng_.chance(0.5)) with_type(rng_.below(num_types), [&]<class T>() { assign_stmt<T>(depth); });
}

void Generator::statement(int depth) {
  --budget_;
  // Now and then at the top of a function, a fill and a loop that reads
  // and writes the filled buffer back (fill_stmt), drawn from aux_ only.
  if (depth == 0 && !in_parallel() && aux_.chance(0.01)) {
    if (bufs_.f64 && aux_.chance(0.5)) fill_stmt(*bufs_.f64);
    else if (bufs_.f32) fill_stmt(*bufs_.f32);
  }
  const Knobs& k = knobs_;
  const bool nest = depth < k.max_depth && budget_ > 8;
  const bool loop = nest && loops_ < k.max_loops;
  const int t = rng_.below(num_types);
  switch (rng_.weighted({k.w_declare, k.w_assign, k.w_store, nest ? k.w_if : 0, nest ? k.w_cond : 0,
                         nest ? k.w_cond_tuple : 0, loop ? k.w_while : 0, loop ? k.w_for : 0,
                         loop && !in_parallel() ? k.w_parallel : 0, k.w_call, k.w_dead, k.w_memo,
                         nest ? k.w_guarded : 0})) {
    case 0: return with_type(t, [&]<class T>() { declare_stmt<T>(depth); });
    case 1: return with_type(t, [&]<class T>() { assign_stmt<T>(depth); });
    case 2: return store_stmt(depth);
    case 3: return if_stmt(depth);
    case 4: return with_type(t, [&]<class T>() { cond_stmt<T>(depth); });
    case 5:
      switch (t % 3) {
        case 0: return cond_tuple_stmt<int32_t, double>(depth);
        case 1: return cond_tuple_stmt<bool, int64_t, float>(depth);
        default: return cond_tuple_stmt<double, double>(depth);
      }
    case 6: return t % 2 ? while_stmt<int32_t>(depth) : while_stmt<int64_t>(depth);
    case 7: return t % 2 ? for_stmt<int32_t>(depth) : for_stmt<int64_t>(depth);
    case 8: return t % 2 ? parallel_stmt<int32_t>(depth) : parallel_stmt<int64_t>(depth);
    case 9: return call_stmt(depth);
    case 10: return dead_stmt(depth);
    case 11: return memo_stmt();
    default: return t % 2 ? guarded_stmt<int32_t>(depth) : guarded_stmt<int64_t>(depth);
  }
}

template <class T>
void Generator::declare_stmt([[maybe_unused]] int depth) {
  switch (rng_.below(5)) {
    case 0: declare(expr<T>(1)()); return;
    case 1: declare(Rep<T>()); return;  // zero-initialised
    case 2: declare(Rep<T>(interesting<T>(rng_))); return;
    case 3:
      return with_type(rng_.below(num_types), [&]<class U>() {
        Rep<U> x = expr<U>(1)();
        declare(Rep<T>(x));  // a converting (or plain) copy
      });
    default:
      if (Rep<T>* p = pick_var<T>(false)) {
        declare(Rep<T>(*p));
        return;
      }
      declare(expr<T>(1)());
      return;
  }
}

template <class T>
void Generator::assign_stmt(int depth) {
  Rep<T>* p = pick_var<T>(true);
  if (!p) return declare_stmt<T>(depth);
  // Updates that read the old value (compound, accumulate) outnumber plain
  // overwrites, which would leave the old value dead.
  switch (rng_.weighted({1, 1, 1, 3, 4})) {
    case 0: *p = expr<T>(1)(); return;
    case 1:
      return with_type(rng_.below(num_types), [&]<class U>() {
        Rep<U> x = expr<U>(1)();
        *p = x;  // converts as C++ does
      });
    case 2: *p = interesting<T>(rng_); return;
    case 3: return compound_assign<Rep<T>, T>(*p, depth);
    default: {
      // An accumulation: v = v OP e.
      Bin op = pick_op<T>();
      Recipe<T> e = expr<T>(1);
      if (op == Bin::div || op == Bin::rem) e = nonzero_of<T>(e);
      Rep<T> y = e();
      *p = accumulate<T>(op, *p, y);
      return;
    }
  }
}

template <class L, class T>
void Generator::compound_assign(L& lhs, [[maybe_unused]] int depth) {
  Cmp op;
  if constexpr (std::is_same_v<T, bool>) {
    static constexpr Cmp ops[] = {Cmp::add, Cmp::sub, Cmp::mul, Cmp::band, Cmp::bor, Cmp::bxor};
    op = rng_.pick(ops);
  } else if constexpr (is_int_v<T>) {
    static constexpr Cmp ops[] = {Cmp::add, Cmp::sub, Cmp::mul, Cmp::div, Cmp::rem, Cmp::band, Cmp::bor, Cmp::bxor};
    op = rng_.pick(ops);
  } else {
    static constexpr Cmp ops[] = {Cmp::add, Cmp::sub, Cmp::mul, Cmp::div};
    op = rng_.pick(ops);
  }
  const bool divides = op == Cmp::div || op == Cmp::rem;
  switch (rng_.below(3)) {
    case 0: {
      // A literal right side, of T or of plain int.
      if (rng_.chance(0.5)) {
        T k = interesting<T>(rng_);
        if constexpr (is_int_v<T>)
          if (divides && k == 0) k = 1;
        return apply(lhs, op, k);
      }
      int k = rng_.range(-3, 9);
      if (divides && k == 0) k = 1;
      return apply(lhs, op, k);
    }
    case 1: {
      Recipe<T> e = expr<T>(1);
      if (divides) e = nonzero_of<T>(e);
      Rep<T> x = e();
      return apply(lhs, op, x);
    }
    default:
      return with_type(rng_.below(num_types), [&]<class U>() {
        Recipe<U> e = expr<U>(1);
        if (divides) e = nonzero_of<U>(e);
        Rep<U> x = e();
        apply(lhs, op, x);
      });
  }
}

void Generator::store_stmt(int depth) {
  if (par_store_) return par_store_(depth);
  const bool have[] = {bufs_.i32.has_value(), bufs_.i64.has_value(), bufs_.f32.has_value(), bufs_.f64.has_value()};
  switch (rng_.weighted({have[0], have[1], have[2], have[3]})) {
    case 0:
      if (have[0]) return store_to(*bufs_.i32, depth);
      break;
    case 1: return store_to(*bufs_.i64, depth);
    case 2: return store_to(*bufs_.f32, depth);
    default: return store_to(*bufs_.f64, depth);
  }
  with_type(rng_.below(num_types), [&]<class T>() { assign_stmt<T>(depth); });
}

template <class T>
void Generator::store_to(Arr<T> buf, int depth) {
  switch (rng_.below(5)) {
    case 0: {
      Rep<T> v = expr<T>(1)();
      Idx ix = index(1);
      return with_index(ix, [&](const auto& i) { buf[i] = v; });
    }
    case 1:
      return with_type(rng_.below(num_types), [&]<class U>() {
        Rep<U> v = expr<U>(1)();
        Idx ix = index(1);
        with_index(ix, [&](const auto& i) { buf[i] = v; });  // converts to T
      });
    case 2: {
      T k = interesting<T>(rng_);
      Idx ix = index(1);
      return with_index(ix, [&](const auto& i) { buf[i] = k; });
    }
    case 3: {
      Idx ix = index(1);
      return with_index(ix, [&](const auto& i) {
        auto element = buf[i];
        compound_assign<ElementRef<T>, T>(element, depth);
      });
    }
    default: {
      Idx ix = index(1);
      Idx jx = index(1);
      return with_index(ix, [&](const auto& i) { with_index(jx, [&](const auto& j) { buf[i] = buf[j]; }); });
    }
  }
}

void Generator::if_stmt(int depth) {
  Rep<bool> c = condition(1)();
  auto branch = [&] {
    Scope s(*this);
    block(depth + 1);
  };
  switch (rng_.below(4)) {
    case 0: return kiln::if_(c, branch);
    case 1: return kiln::if_(c, branch, branch);
    case 2:
      // Identical branches assigning an outer variable.
      return with_type(rng_.below(num_types), [&]<class T>() {
        Rep<T>* p = pick_var<T>(true);
        if (!p) return kiln::if_(c, branch);
        Recipe<T> e = expr<T>(1);
        kiln::if_(c, [&] { *p = e(); }, [&] { *p = e(); });
      });
    default:
      // else-if chain.
      return kiln::if_(c, branch, [&] {
        Scope s(*this);
        if (depth + 1 < knobs_.max_depth) if_stmt(depth + 1);
        else block(depth + 1);
      });
  }
}

template <class T>
void Generator::cond_stmt(int depth) {
  Rep<bool> c = condition(1)();
  auto value = [&]() -> Rep<T> {
    Scope s(*this);
    block(depth + 1);
    return expr<T>(1)();
  };
  auto literal = [&]() -> T {
    Scope s(*this);
    block(depth + 1);
    return interesting<T>(rng_);
  };
  switch (rng_.below(5)) {
    case 0: return (void)declare(kiln::cond(c, value, literal));
    case 1: return (void)declare(kiln::cond(c, literal, value));
    default: return (void)declare(kiln::cond(c, value, value));
  }
}

template <class... Ts>
void Generator::cond_tuple_stmt(int depth) {
  Rep<bool> c = condition(1)();
  auto branch = [&]() -> std::tuple<Rep<Ts>...> {
    Scope s(*this);
    block(depth + 1);
    return std::tuple<Rep<Ts>...>{expr<Ts>(1)()...};  // braces: staged left to right
  };
  auto results = kiln::cond(c, branch, branch);
  std::apply([&](auto&... r) { (declare(std::move(r)), ...); }, results);
}

template <class C>
void Generator::while_stmt(int depth) {
  // A counter bounds the trip count (at most 4); a random condition may end
  // the loop earlier. The counter is read-only to the rest of the program.
  const bool down = rng_.chance(0.35);
  const int limit = rng_.chance(0.1) ? 0 : rng_.range(1, 4);
  Recipe<C> dynamic_limit;
  if (rng_.chance(0.3)) dynamic_limit = expr<C>(1);
  Recipe<bool> extra;
  if (rng_.chance(0.3)) extra = expr<bool>(1);
  const int join = rng_.below(3);
  const bool assign_in_cond = rng_.chance(0.15);
  const bool bump_first = rng_.chance(0.5);
  const bool bump_plus = rng_.chance(0.5);
  Rep<C> start = down ? (dynamic_limit ? Rep<C>(dynamic_limit() & 3) : Rep<C>(limit)) : Rep<C>(0);
  Rep<C>& k = declare(std::move(start), false);
  kiln::while_(
      [&]() -> Rep<bool> {
        Scope s(*this);
        if (assign_in_cond) with_type(rng_.below(num_types), [&]<class T>() { assign_stmt<T>(depth + 1); });
        Rep<bool> go = down ? Rep<bool>(k > 0) : dynamic_limit ? Rep<bool>(k < (dynamic_limit() & 3)) : Rep<bool>(k < limit);
        if (!extra) return go;
        Rep<bool> e = extra();
        if (join == 0) return go && e;
        if (join == 1) return e && go;
        return go & e;
      },
      [&] {
        Scope s(*this, true);
        auto bump = [&] {
          if (down) k -= 1;
          else if (bump_plus) k += 1;
          else k = k + 1;
        };
        if (bump_first) bump();
        block(depth + 1);
        if (!bump_first) bump();
      });
}

template <class I>
void Generator::for_stmt(int depth) {
  auto body = [&](Rep<I> i) {
    Scope s(*this, true);
    declare(std::move(i), false);
    block(depth + 1);
  };
  switch (rng_.below(loops_ == 0 ? 5 : 4)) {
    case 0: {
      int lo = rng_.range(-3, 3);
      int hi = lo + (rng_.chance(0.1) ? 0 : rng_.range(1, 4));
      return kiln::for_(lo, hi, body);
    }
    case 1: {
      // A step of either sign; hi is off the last index by up to |step|-1.
      static constexpr int steps[] = {1, 2, 3, -1, -2, -3};
      int step = rng_.pick(steps);
      int lo = rng_.range(-4, 4);
      int trips = rng_.chance(0.1) ? 0 : rng_.range(1, 4);
      int slack = rng_.below(std::abs(step));
      int hi = lo + step * trips - (step > 0 ? slack : -slack);
      return kiln::for_(lo, hi, step, body);
    }
    case 2: {
      Rep<I> hi = expr<I>(1)() & 3;
      return kiln::for_(0, hi, body);
    }
    case 3: {
      Rep<I> lo = expr<I>(1)() & 3;
      return kiln::for_(lo, -1, -1, body);
    }
    default: {
      // Up to the size of a buffer (buffer_size trips at most).
      Recipe<int64_t> size = size_of();
      if (!size) return kiln::for_(0, 2, body);
      Rep<I> n = kiln::cast<I>(size());
      int step = rng_.range(1, 3);
      return kiln::for_(0, n, step, body);
    }
  }
}

template <class I>
void Generator::parallel_stmt(int depth) {
  const bool f64 = bufs_.par_f64 && (!bufs_.par_i32 || rng_.chance(0.5));
  if (f64) return parallel_into<I>(*bufs_.par_f64, depth);
  if (bufs_.par_i32) return parallel_into<I>(*bufs_.par_i32, depth);
  for_stmt<I>(depth);
}

template <class I, class E>
void Generator::parallel_into(Arr<E> out, int depth) {
  // Iteration i writes out[i] only and assigns no outer variable, so the
  // iterations are independent.
  const int lo = rng_.range(0, 3);
  auto body = [&](Rep<I> i) {
    Scope s(*this, true, true);
    Rep<I>& at = declare(std::move(i), false);
    par_store_ = [this, out, &at](int d) {
      if (rng_.chance(0.3)) {
        auto element = out[at];
        return compound_assign<ElementRef<E>, E>(element, d);
      }
      Rep<E> v = expr<E>(1)();
      out[at] = v;
    };
    block(depth + 1);
    par_store_(depth + 1);
    par_store_ = nullptr;
  };
  if (rng_.chance(0.6)) {
    int hi = rng_.range(lo, buffer_size);
    return kiln::parallel_for_(lo, hi, body);
  }
  Rep<I> hi = expr<I>(1)() & 7;
  kiln::parallel_for_(lo, hi, body);
}

void Generator::call_stmt(int depth) {
  Helpers* h = helpers_;
  const bool small = h && (callable_ & call_small) && h->has_small && h->small_calls > 0 && loops_ <= 2;
  const bool large = h && (callable_ & call_large) && h->has_large && h->large_calls > 0 && loops_ <= 1 &&
                     (bufs_.cf64 || bufs_.f64);
  const bool effect = h && (callable_ & call_effect) && h->has_effect && h->effect_calls > 0 && loops_ <= 1 &&
                      !in_parallel() && bufs_.i32;
  const bool rec = h && (callable_ & call_rec) && h->has_rec && h->rec_calls > 0 && loops_ <= 1;
  if (!small && !large && !effect && !rec) return dead_stmt(depth);
  const bool keep = rng_.chance(0.85);  // else the result is unused
  switch (rng_.weighted({small ? 3 : 0, large ? 2 : 0, effect ? 2 : 0, rec ? 2 : 0})) {
    case 0:
      --h->small_calls;
      // The first argument may be of another type (the call converts it).
      return with_type(rng_.below(num_types), [&]<class U>() {
        Rep<U> a = expr<U>(1)();
        Rep<double> x = expr<double>(1)();
        Rep<double> r = h->small(a, x);
        if (keep) declare(std::move(r));
      });
    case 1: {
      --h->large_calls;
      Rep<int64_t> a = expr<int64_t>(1)();
      Rep<float> b = expr<float>(1)();
      Rep<bool> c = expr<bool>(1)();
      const bool use_const = bufs_.cf64 && (!bufs_.f64 || rng_.chance(0.5));
      auto [r0, r1] = use_const ? h->large(a, b, c, *bufs_.cf64) : h->large(a, b, c, *bufs_.f64);
      if (!keep) return;
      declare(std::move(r0));
      declare(std::move(r1));
      return;
    }
    case 2: {
      --h->effect_calls;
      Rep<int32_t> v = expr<int32_t>(1)();
      h->effect(*bufs_.i32, v);
      return;
    }
    default: {
      --h->rec_calls;
      Rep<int64_t> n = expr<int64_t>(1)() & h->rec_mask;
      Rep<double> x = expr<double>(1)();
      Rep<double> r = h->rec(n, x);
      if (keep) declare(std::move(r));
      return;
    }
  }
}

// The pattern passes::forward_fill rewrites (reverse mode's gradient
// buffers): checks that b overlaps no other buffer argument (true: every
// argument has storage of its own), a loop filling [0, H1) of b with a
// constant, in index order or reversed, then a loop over [0, H2) that reads
// element k and writes it back, k in order or reversed. H1 and H2 are the
// size, half of it or one less, so the fill covers the loop's elements, or
// not. Every choice comes from aux_, so the rest of the program is as it was.
template <class T>
void Generator::fill_stmt(Arr<T> b) {
  const detail::Loc loc = detail::Loc::current();
  const detail::ValueId bv = b.value(loc);
  bufs_.each([&](const auto& buf) {
    const detail::ValueId x = buf.value(loc);
    if (x == bv) return;
    const detail::ValueId d = detail::emit(ir::Op::Disjoint, ir::Type::scalar(ir::Scalar::i1), {bv, x}, loc);
    detail::emit(ir::Op::Check, ir::Type{}, {d}, loc, ir::intern_message("fill_stmt: buffers overlap", "a kiln-fuzz bug"));
  });
  auto bound = [&](Rep<int64_t> n) -> Rep<int64_t> {
    switch (aux_.below(3)) {
      case 0: return n;
      case 1: return n / 2;
      default: return n - 1;
    }
  };
  const Rep<int64_t> h1 = bound(b.size());
  const bool rev1 = aux_.chance(0.5), rev2 = aux_.chance(0.5), parallel = aux_.chance(0.3);
  const T c = interesting<T>(aux_), scale = interesting<T>(aux_), shift = interesting<T>(aux_);
  kiln::for_(0, h1, [&](Rep<int64_t> i) { b[rev1 ? h1 - 1 - i : i] = c; });
  const Rep<int64_t> h2 = aux_.chance(0.5) ? h1 : bound(b.size());
  auto body = [&](Rep<int64_t> i) {
    Rep<int64_t> k = rev2 ? h2 - 1 - i : i;
    Rep<T> v = b[k];
    b[k] = v * scale + shift;
  };
  if (parallel) kiln::parallel_for_(0, h2, body);
  else kiln::for_(0, h2, body);
}

void Generator::dead_stmt([[maybe_unused]] int depth) {
  with_type(rng_.below(num_types), [&]<class T>() {
    switch (rng_.below(3)) {
      case 0: {
        Rep<T> unused = expr<T>(1)();
        return;
      }
      case 1:
        scopes_.back().dead.emplace_back(std::in_place_type<Rep<T>>, expr<T>(1)());
        return;
      default: {
        // Update a dead variable: inside a loop it is a dead loop-carried value.
        std::vector<Rep<T>*> found;
        for (size_t s = barrier_; s < scopes_.size(); ++s)
          for (AnyRep& r : scopes_[s].dead)
            if (auto* p = std::get_if<Rep<T>>(&r)) found.push_back(p);
        if (found.empty()) {
          scopes_.back().dead.emplace_back(std::in_place_type<Rep<T>>, Rep<T>());
          return;
        }
        Rep<T>& v = *found[rng_.below(static_cast<int>(found.size()))];
        Bin op = pick_op<T>();
        Recipe<T> e = expr<T>(1);
        if (op == Bin::div || op == Bin::rem) e = nonzero_of<T>(e);
        Rep<T> y = e();
        v = accumulate<T>(op, v, y);
      }
    }
  });
}

template <class T>
void Generator::guarded_stmt(int depth) {
  // An operation that traps for some inputs, staged only where it does not:
  // x / d or x % d with d often zero, or a load at an index that is often
  // out of range. Its operands are staged before the guard, so the
  // operation is invariant in a guarding loop: a tempting target for LICM.
  Rep<T>* p = pick_var<T>(true);
  if (!p) p = &declare(Rep<T>());
  static constexpr T masks[] = {1, 3, 7, 255};
  const T mask = rng_.pick(masks);
  const bool load = rng_.chance(0.3) && writable<T>() && *writable<T>();
  const bool rem = rng_.chance(0.4);
  Rep<T> x = expr<T>(1)();
  Rep<T> d = expr<T>(1)() & mask;  // zero for many inputs
  Rep<int64_t> at = kiln::cast<int64_t>(d) - 2;  // out of range for many inputs
  Rep<bool> safe = load ? Rep<bool>(at >= 0 && at < buffer_size) : Rep<bool>(d != 0);
  auto guarded = [&]() -> Rep<T> {
    if (load) return Rep<T>((**writable<T>())[at]);
    return rem ? Rep<T>(x % d) : Rep<T>(x / d);
  };
  switch (rng_.below(4)) {
    case 0:
      return kiln::if_(safe, [&] {
        Scope s(*this);
        *p = accumulate<T>(Bin::add, *p, guarded());
      });
    case 1: {
      Rep<T> v = kiln::cond(safe, [&] { return guarded(); }, [&] { return Rep<T>(interesting<T>(rng_)); });
      *p = accumulate<T>(Bin::bxor, *p, v);
      return;
    }
    case 2: {
      // A loop that runs zero times exactly when the operation would trap.
      const int trips = rng_.range(1, 3);
      Rep<int64_t> n = kiln::cast<int64_t>(safe) * trips;
      return kiln::for_(0, n, [&](Rep<int64_t> i) {
        Scope s(*this, true);
        declare(std::move(i), false);
        *p = accumulate<T>(Bin::add, *p, guarded());
        if (depth + 1 < knobs_.max_depth && loops_ < knobs_.max_loops) block(depth + 1);
      });
    }
    default: {
      Rep<int32_t> k = 0;
      return kiln::while_([&] { return k < 2 && safe; },
                          [&] {
                            Scope s(*this, true);
                            k += 1;
                            *p = accumulate<T>(Bin::bxor, *p, guarded());
                          });
    }
  }
}

void Generator::memo_stmt() {
  // Stage a remembered expression again: a repeated subexpression, and
  // inside a loop often a loop-invariant one.
  std::vector<const AnyRecipe*> found;
  for (const Frame& f : scopes_)
    for (const AnyRecipe& r : f.memos) found.push_back(&r);
  if (found.empty()) return with_type(rng_.below(num_types), [&]<class T>() { declare_stmt<T>(1); });
  std::visit([&](const auto& recipe) { declare(recipe()); }, *found[rng_.below(static_cast<int>(found.size()))]);
}

void Generator::must_store() {
  if (!bufs_.i32) return;
  store_to(*bufs_.i32, 1);
}

}  // namespace kiln::fuzz

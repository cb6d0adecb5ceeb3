// Staged control flow: if_, cond, while_, for_, parallel_for_, and the scalar
// math functions. Each combinator stages its lambdas once, into structured IR
// regions; assignments to Reps declared outside a lambda become if-results
// and loop-carried values.
//
//   kiln::Rep<int64_t> steps = 0;
//   kiln::while_([&] { return n != 1; }, [&] {
//     kiln::if_(n % 2 == 0, [&] { n = n / 2; }, [&] { n = 3 * n + 1; });
//     steps += 1;
//   });
#pragma once

#include <kiln/rep.h>

#include <functional>
#include <string>
#include <tuple>
#include <type_traits>

namespace kiln {

namespace detail {

/// What a region-returning lambda may return, and how it maps to yields.
template <class R>
struct Yield;  // R: void, Rep<T> (or ElementRef<T>), a literal, or a std::tuple of those

template <>
struct Yield<void> {
  using type = void;
  static constexpr const char* name() { return "void"; }
};
template <class T>
struct Yield<Rep<T>> {
  using type = Rep<T>;
  static std::string name() { return rep_name(scalar_of<T>()); }
  static void flatten(const Rep<T>& r, std::vector<detail::ValueId>& out, Loc loc) { out.push_back(r.value(loc)); }
  static type rebuild(detail::ValueId tuple, size_t& i, Loc loc) {
    return Rep<T>::from_value(emit(ir::Op::Get, ir::Type::scalar(scalar_of<T>()), {tuple}, loc, static_cast<int64_t>(i++)), loc);
  }
};
template <class T>
struct Yield<ElementRef<T>> : Yield<Rep<T>> {};
template <class L>
  requires is_stage_scalar_v<L>
struct Yield<L> : Yield<Rep<L>> {
  static void flatten(L v, std::vector<detail::ValueId>& out, Loc loc) { out.push_back(literal(scalar_of<L>(), v, loc)); }
};
template <class... Xs>
struct Yield<std::tuple<Xs...>> {
  using type = std::tuple<typename Yield<std::decay_t<Xs>>::type...>;
  static std::string name() {
    std::string s = "std::tuple<";
    ((s += Yield<std::decay_t<Xs>>::name() + ", "), ...);
    if constexpr (sizeof...(Xs) > 0) s.resize(s.size() - 2);
    return s + ">";
  }
  static void flatten(const std::tuple<Xs...>& t, std::vector<detail::ValueId>& out, Loc loc) {
    std::apply([&](const auto&... x) { (Yield<std::decay_t<Xs>>::flatten(x, out, loc), ...); }, t);
  }
  static type rebuild(detail::ValueId tuple, size_t& i, Loc loc) {
    // Braced initialisation evaluates left to right.
    return type{Yield<std::decay_t<Xs>>::rebuild(tuple, i, loc)...};
  }
};

template <class F>
using region_result_t = std::decay_t<std::invoke_result_t<F&>>;

/// Stages fn() as the body of region r and returns its yielded values.
template <class F>
std::vector<detail::ValueId> stage_region(ir::RegionId r, F& fn, bool parallel, Loc loc) {
  RegionScope scope(r, parallel, loc);
  std::vector<detail::ValueId> yields;
  using R = region_result_t<F>;
  if constexpr (std::is_void_v<R>) fn();
  else Yield<R>::flatten(fn(), yields, loc);
  scope.close(yields);
  return yields;
}

/// A located loop bound: Rep<int32_t>, Rep<int64_t> or an integer literal.
struct Bound {
  detail::ValueId v = 0;
  ir::Scalar type = ir::Scalar::i64;
  bool is_literal = false;
  int64_t literal_value = 0;
  Loc loc;
  Bound(const Rep<int64_t>& r, Loc l = Loc::current()) : v(r.value(l)), type(ir::Scalar::i64), loc(l) {}
  Bound(const Rep<int32_t>& r, Loc l = Loc::current()) : v(r.value(l)), type(ir::Scalar::i32), loc(l) {}
  template <std::integral I>
  Bound(I i, Loc l = Loc::current()) : is_literal(true), literal_value(static_cast<int64_t>(i)), loc(l) {}
  /// The bound as a value of the loop's index type; throws on a narrowing mismatch.
  detail::ValueId as(ir::Scalar index, const char* role, Loc at) const;
};

template <class F>
struct first_param;
template <class C, class R, class A, class... As>
struct first_param<R (C::*)(A, As...) const> { using type = std::decay_t<A>; };
template <class C, class R, class A, class... As>
struct first_param<R (C::*)(A, As...)> { using type = std::decay_t<A>; };

/// The loop index type a body wants: int32_t when it declares Rep<int32_t>,
/// else int64_t (also for generic lambdas).
template <class F>
constexpr ir::Scalar index_type() {
  if constexpr (requires { &F::operator(); }) {
    if constexpr (std::is_same_v<typename first_param<decltype(&F::operator())>::type, Rep<int32_t>>)
      return ir::Scalar::i32;
  }
  return ir::Scalar::i64;
}

template <class F>
void stage_loop(ir::Op op, const Bound& lo, const Bound& hi, const Bound& step, F& body, Loc loc) {
  constexpr ir::Scalar it = index_type<F>();
  std::vector<detail::ValueId> args = {lo.as(it, "lower bound", loc), hi.as(it, "upper bound", loc), step.as(it, "step", loc)};
  ir::RegionId r = new_region();
  {
    RegionScope scope(r, op == ir::Op::ParallelFor, loc);
    detail::ValueId i = scope.param(ir::Type::scalar(it));
    if constexpr (it == ir::Scalar::i32) body(Rep<int32_t>::from_value(i, loc));
    else body(Rep<int64_t>::from_value(i, loc));
    scope.close({});
  }
  finish_structured(op, std::move(args), {r}, loc);
}

}  // namespace detail

/// The empty else-branch of if_.
struct NoElse {
  void operator()() const {}
};

/// Staged `if`: stages both branches; Reps assigned in them are updated after.
///   kiln::if_(x < 0, [&] { x = -x; });
template <class Then, class Else = NoElse>
void if_(const Rep<bool>& c, Then&& then_fn, Else&& else_fn = {}, detail::Loc loc = detail::Loc::current()) {
  detail::require_context("kiln::if_", loc);
  detail::ValueId cv = c.value(loc);
  ir::RegionId t = detail::new_region(), e = detail::new_region();
  auto tv = detail::stage_region(t, then_fn, false, loc);
  auto ev = detail::stage_region(e, else_fn, false, loc);
  if (!tv.empty() || !ev.empty())
    detail::staging_error("kiln::if_ branches must not return values", loc, "use kiln::cond(c, then, else) to get a value");
  detail::finish_structured(ir::Op::If, {cv}, {t, e}, loc);
}

/// Staged conditional expression: both lambdas return the same kind of value
/// (a Rep<T> or a std::tuple of Reps), which cond returns.
///   auto y = kiln::cond(x > 0, [&] { return x; }, [&] { return -x; });
template <class Then, class Else>
auto cond(const Rep<bool>& c, Then&& then_fn, Else&& else_fn, detail::Loc loc = detail::Loc::current()) {
  using TY = detail::Yield<detail::region_result_t<Then>>;
  using EY = detail::Yield<detail::region_result_t<Else>>;
  using Result = typename TY::type;
  detail::require_context("kiln::cond", loc);
  if constexpr (!std::is_same_v<Result, typename EY::type>) {
    detail::staging_error("kiln::cond branches return different types: then returns " + std::string(TY::name()) +
                              ", else returns " + std::string(EY::name()),
                          loc, "make both branches return the same Rep types (cast with kiln::cast<T>(...))");
  } else if constexpr (std::is_void_v<Result>) {
    if_(c, then_fn, else_fn, loc);
  } else {
    detail::ValueId cv = c.value(loc);
    ir::RegionId t = detail::new_region(), e = detail::new_region();
    detail::stage_region(t, then_fn, false, loc);
    detail::stage_region(e, else_fn, false, loc);
    detail::ValueId node = detail::finish_structured(ir::Op::If, {cv}, {t, e}, loc);
    size_t i = 0;
    return TY::rebuild(node, i, loc);
  }
}

/// Staged `while`: cond_fn returns a Rep<bool>; it and body_fn are staged once.
/// Reps that the body assigns are loop-carried, also when cond_fn reads them.
template <class Cond, class Body>
void while_(Cond&& cond_fn, Body&& body_fn, detail::Loc loc = detail::Loc::current()) {
  detail::require_context("kiln::while_", loc);
  ir::RegionId c = detail::new_region(), b = detail::new_region();
  {
    detail::RegionScope scope(c, false, loc);
    Rep<bool> keep_going = cond_fn();
    scope.close({keep_going.value(loc)});
  }
  auto bv = detail::stage_region(b, body_fn, false, loc);
  if (!bv.empty()) detail::staging_error("kiln::while_ body must not return a value", loc, "assign Reps declared outside the loop instead");
  detail::finish_structured(ir::Op::While, {}, {c, b}, loc);
}

/// Staged counted loop over [lo, hi): body_fn(Rep<int64_t> i), or
/// body_fn(Rep<int32_t> i) for an int32 loop.
template <class Body>
void for_(detail::Bound lo, detail::Bound hi, Body&& body_fn, detail::Loc loc = detail::Loc::current()) {
  detail::require_context("kiln::for_", loc);
  detail::stage_loop(ir::Op::For, lo, hi, detail::Bound(1, loc), body_fn, loc);
}

/// Staged counted loop with a step: step > 0 counts up while i < hi, step < 0
/// counts down while i > hi; a zero step traps when run.
template <class Body>
void for_(detail::Bound lo, detail::Bound hi, detail::Bound step, Body&& body_fn, detail::Loc loc = detail::Loc::current()) {
  detail::require_context("kiln::for_", loc);
  detail::stage_loop(ir::Op::For, lo, hi, step, body_fn, loc);
}

/// Staged loop whose iterations are independent and may run in parallel. The
/// body may write buffers (distinct elements per iteration) but must not
/// assign Reps declared outside it.
template <class Body>
void parallel_for_(detail::Bound lo, detail::Bound hi, Body&& body_fn, detail::Loc loc = detail::Loc::current()) {
  detail::require_context("kiln::parallel_for_", loc);
  detail::stage_loop(ir::Op::ParallelFor, lo, hi, detail::Bound(1, loc), body_fn, loc);
}

// --- math ------------------------------------------------------------------------

namespace detail {
template <class T>
Rep<T> unary(ir::Op op, const Rep<T>& x, Loc loc) {
  return Rep<T>::from_value(emit(op, ir::Type::scalar(scalar_of<T>()), {x.value(loc)}, loc), loc);
}
template <class A, class B>
auto binary_fn(ir::Op op, const A& a, const B& b, Loc loc) {
  using C = common_t<A, B>;
  detail::ValueId va = operand<C>(a, loc), vb = operand<C>(b, loc);
  return Rep<C>::from_value(emit(op, ir::Type::scalar(scalar_of<C>()), {va, vb}, loc), loc);
}
}  // namespace detail

/// Square root, exponential, logarithm, sine, cosine, tanh, floor of a float Rep.
template <detail::Floating T> Rep<T> sqrt(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Sqrt, x, loc); }
template <detail::Floating T> Rep<T> exp(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Exp, x, loc); }
template <detail::Floating T> Rep<T> log(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Log, x, loc); }
template <detail::Floating T> Rep<T> sin(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Sin, x, loc); }
template <detail::Floating T> Rep<T> cos(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Cos, x, loc); }
template <detail::Floating T> Rep<T> tanh(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Tanh, x, loc); }
template <detail::Floating T> Rep<T> floor(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Floor, x, loc); }
/// Absolute value of an int or float Rep (integers wrap: abs(INT_MIN) == INT_MIN).
template <class T>
  requires(!std::is_same_v<T, bool>)
Rep<T> abs(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) { return detail::unary(ir::Op::Abs, x, loc); }

/// Power of floats (C++ std::pow); mixed operands convert as for `+`.
template <class A, class B>
  requires detail::RepPair<A, B> && detail::Floating<detail::common_t<A, B>>
auto pow(const A& a, const B& b, detail::Loc loc = detail::Loc::current()) { return detail::binary_fn(ir::Op::Pow, a, b, loc); }
/// Minimum and maximum with std::min / std::max semantics (`b < a ? b : a`).
template <class A, class B>
  requires detail::RepPair<A, B> && (!std::is_same_v<detail::common_t<A, B>, bool>)
auto min(const A& a, const B& b, detail::Loc loc = detail::Loc::current()) { return detail::binary_fn(ir::Op::Min, a, b, loc); }
template <class A, class B>
  requires detail::RepPair<A, B> && (!std::is_same_v<detail::common_t<A, B>, bool>)
auto max(const A& a, const B& b, detail::Loc loc = detail::Loc::current()) { return detail::binary_fn(ir::Op::Max, a, b, loc); }

/// Fused multiply-add a*b+c with one rounding (std::fma).
template <detail::Floating T>
Rep<T> fma(const Rep<T>& a, const std::type_identity_t<Rep<T>>& b, const std::type_identity_t<Rep<T>>& c,
           detail::Loc loc = detail::Loc::current()) {
  return Rep<T>::from_value(detail::emit(ir::Op::Fma, ir::Type::scalar(detail::scalar_of<T>()),
                                         {a.value(loc), b.value(loc), c.value(loc)}, loc), loc);
}

/// select(c, a, b): a where c holds, else b. Both sides are staged (no branch).
template <class A, class B>
  requires detail::RepPair<A, B>
auto select(const Rep<bool>& c, const A& a, const B& b, detail::Loc loc = detail::Loc::current()) {
  using C = detail::common_t<A, B>;
  detail::ValueId cv = c.value(loc);
  detail::ValueId va = detail::operand<C>(a, loc), vb = detail::operand<C>(b, loc);
  return Rep<C>::from_value(detail::emit(ir::Op::Select, ir::Type::scalar(detail::scalar_of<C>()), {cv, va, vb}, loc), loc);
}

/// Converts a Rep to another scalar type with the IR's cast semantics
/// (float->int truncates and saturates, NaN -> 0; x->bool is x != 0).
template <class U, class T>
  requires detail::is_stage_scalar_v<U>
Rep<U> cast(const Rep<T>& x, detail::Loc loc = detail::Loc::current()) {
  return Rep<U>::from_value(detail::convert(x.value(loc), detail::scalar_of<U>(), loc), loc);
}

}  // namespace kiln

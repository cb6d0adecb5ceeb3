// Automatic differentiation of staged functions, as IR transformations: the
// result is a staged function like any other, optimised and compiled by
// every backend.
//
//   auto f = kiln::stage("f", [](kiln::Rep<double> x, kiln::Rep<double> y) { return x * kiln::sin(y); });
//   auto df = kiln::jvp(f);                // double, double, dx, dy -> (f, df)
//   auto [v, dv] = kiln::compile(df)(1.0, 2.0, 1.0, 0.0);  // dv = sin(2)
//   auto dfdy = kiln::jvp<1>(f);           // double, double, dy -> (f, df)
//
// docs/autodiff.md has the rules, what each form of control flow does, and
// the points where a function is not differentiable.
#pragma once

#include <kiln/staged.h>

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <tuple>
#include <type_traits>
#include <vector>

namespace kiln {
namespace detail {

/// The jvp of `f` for the active parameters (autodiff/forward.h); errors
/// name `loc`.
std::shared_ptr<StagedState> jvp_state(const std::shared_ptr<StagedState>& f, const std::vector<size_t>& wrt, Loc loc);

}  // namespace detail

/// How reverse mode saves what its reverse sweep needs.
struct ReverseOptions {
  /// 0: tape every loop iteration. K > 0: a while_ loop that writes no
  /// buffer keeps only its carried values every K iterations, and the
  /// reverse sweep recomputes each stretch of K iterations from its
  /// snapshot: tape memory about n/K snapshots + K iterations instead of n
  /// iterations, for one more run of the loop (docs/autodiff.md).
  int64_t checkpoint_every = 0;
  /// A parallel_for_ with step 1 whose body has no loop and no call stays
  /// parallel in the gradient (per-iteration rows on the tape, sums in
  /// iteration order afterwards: deterministic). false: reversed as a
  /// sequential loop — needed for a gradient that will be differentiated
  /// in reverse mode again.
  bool parallel = true;
};

/// Bytes the calling thread's reverse-mode tapes hold (Backend::llvm; the
/// C++ backend and the interpreter keep their own). A tape grows to the
/// most a derivative needed and keeps that memory for the next call.
size_t tape_bytes();
/// Frees the calling thread's empty tapes (Backend::llvm).
void release_tapes();

namespace detail {

/// The reverse-mode derivative of `f` (autodiff/reverse.h): 0 vjp, 1 grad,
/// 2 value_and_grad.
std::shared_ptr<StagedState> reverse_state(const std::shared_ptr<StagedState>& f, const std::vector<size_t>& wrt,
                                           int mode, const ReverseOptions& opts, Loc loc);

template <class A> inline constexpr bool is_float_scalar_v = std::is_floating_point_v<A>;
template <class A> inline constexpr bool is_float_span_v = false;
template <class T> inline constexpr bool is_float_span_v<std::span<T>> = std::is_floating_point_v<std::remove_const_t<T>>;
template <class A> inline constexpr bool is_writable_float_span_v = false;
template <class T>
inline constexpr bool is_writable_float_span_v<std::span<T>> = std::is_floating_point_v<T> && !std::is_const_v<T>;
template <class A> inline constexpr bool differentiable_v = is_float_scalar_v<A> || is_float_span_v<A>;

/// Which parameters have a tangent: those listed in W (all floating-point
/// ones when W is empty), and every writable floating-point buffer.
template <class... Args>
struct jvp_mask {
  static constexpr size_t n = sizeof...(Args);
  static constexpr std::array<bool, n> differentiable{differentiable_v<Args>...};
  static constexpr std::array<bool, n> written{is_writable_float_span_v<Args>...};
  template <size_t... W>
  static constexpr bool valid() {
    for (size_t w : std::array<size_t, sizeof...(W)>{W...})
      if (w >= n || !differentiable[w]) return false;
    return true;
  }
  template <size_t... W>
  static constexpr std::array<bool, n> get() {
    std::array<bool, n> out{};
    if constexpr (sizeof...(W) == 0) out = differentiable;
    for (size_t w : std::array<size_t, sizeof...(W)>{W...}) out[w] = true;
    for (size_t i = 0; i < n; ++i) out[i] = out[i] || written[i];
    return out;
  }
};

template <class... Ts> struct type_list {};
template <class L, class T> struct push_back;
template <class... Ts, class T> struct push_back<type_list<Ts...>, T> { using type = type_list<Ts..., T>; };

// The types of Args whose mask entry is set, in order.
template <auto Mask, size_t I, class Acc, class... Rest> struct select_types { using type = Acc; };
template <auto Mask, size_t I, class Acc, class A, class... Rest>
struct select_types<Mask, I, Acc, A, Rest...> {
  using next = std::conditional_t<Mask[I], typename push_back<Acc, A>::type, Acc>;
  using type = typename select_types<Mask, I + 1, next, Rest...>::type;
};

// Results followed by the tangents of the floating-point ones.
template <class R> struct with_tangents { using type = std::conditional_t<std::is_floating_point_v<R>, std::tuple<R, R>, R>; };
template <> struct with_tangents<void> { using type = void; };
template <class... Xs> struct with_tangents<std::tuple<Xs...>> {
  template <class Acc, class... Rest> struct floats { using type = Acc; };
  template <class Acc, class X, class... Rest>
  struct floats<Acc, X, Rest...> {
    using type = typename floats<std::conditional_t<std::is_floating_point_v<X>, typename push_back<Acc, X>::type, Acc>,
                                 Rest...>::type;
  };
  template <class L> struct to_tuple;
  template <class... Ts> struct to_tuple<type_list<Ts...>> { using type = std::tuple<Xs..., Ts...>; };
  using type = typename to_tuple<typename floats<type_list<>, Xs...>::type>::type;
};

// A buffer's adjoint is a writable buffer of its element type.
template <class A> struct adjoint_of { using type = A; };
template <class T> struct adjoint_of<std::span<T>> { using type = std::span<std::remove_const_t<T>>; };
template <class L> struct adjoints;
template <class... Ts> struct adjoints<type_list<Ts...>> { using type = type_list<typename adjoint_of<Ts>::type...>; };

// The floating-point results of R, as a type_list.
template <class R> struct float_results { using type = std::conditional_t<std::is_floating_point_v<R>, type_list<R>, type_list<>>; };
template <> struct float_results<void> { using type = type_list<>; };
template <class... Xs> struct float_results<std::tuple<Xs...>> {
  template <class Acc, class... Rest> struct floats { using type = Acc; };
  template <class Acc, class X, class... Rest>
  struct floats<Acc, X, Rest...> {
    using type = typename floats<std::conditional_t<std::is_floating_point_v<X>, typename push_back<Acc, X>::type, Acc>,
                                 Rest...>::type;
  };
  using type = typename floats<type_list<>, Xs...>::type;
};

// void for none, T for one, std::tuple for several; with a value in front.
template <class L> struct as_result;
template <> struct as_result<type_list<>> { using type = void; };
template <class T> struct as_result<type_list<T>> { using type = T; };
template <class T, class U, class... Ts> struct as_result<type_list<T, U, Ts...>> { using type = std::tuple<T, U, Ts...>; };
template <class V, class L> struct value_first;
template <class V, class... Ts> struct value_first<V, type_list<Ts...>> { using type = std::tuple<V, Ts...>; };

template <class L, class... Ls> struct concat { using type = L; };
template <class... As, class... Bs, class... Ls>
struct concat<type_list<As...>, type_list<Bs...>, Ls...> { using type = typename concat<type_list<As..., Bs...>, Ls...>::type; };

template <class R, class L> struct fn_of;
template <class R, class... Ps> struct fn_of<R, type_list<Ps...>> { using type = R(Ps...); };

// The masks of reverse mode: active scalars (gradients) and active buffers
// (adjoint buffers).
template <auto Mask, class... Args> struct reverse_masks {
  static constexpr size_t n = sizeof...(Args);
  static constexpr std::array<bool, n> scalars() {
    std::array<bool, n> out{};
    constexpr std::array<bool, n> is{is_float_scalar_v<Args>...};
    for (size_t i = 0; i < n; ++i) out[i] = Mask[i] && is[i];
    return out;
  }
  static constexpr std::array<bool, n> buffers() {
    std::array<bool, n> out{};
    constexpr std::array<bool, n> is{is_float_span_v<Args>...};
    for (size_t i = 0; i < n; ++i) out[i] = Mask[i] && is[i];
    return out;
  }
  using grads = typename select_types<scalars(), 0, type_list<>, Args...>::type;
  using adjoint_buffers = typename adjoints<typename select_types<buffers(), 0, type_list<>, Args...>::type>::type;
};

/// The indices whose mask entry is set.
template <size_t N>
std::vector<size_t> indices(const std::array<bool, N>& mask) {
  std::vector<size_t> out;
  for (size_t i = 0; i < N; ++i)
    if (mask[i]) out.push_back(i);
  return out;
}

template <class R, class Params, class Tangents> struct make_fn;
template <class R, class... Ps, class... Ts>
struct make_fn<R, type_list<Ps...>, type_list<Ts...>> { using type = R(Ps..., Ts...); };

template <auto Mask, class R, class... Args>
using jvp_signature = typename make_fn<typename with_tangents<R>::type, type_list<Args...>,
                                       typename select_types<Mask, 0, type_list<>, Args...>::type>::type;

}  // namespace detail

/// Forward mode: the Jacobian-vector product of `f`. Its parameters are
/// f's parameters followed by one tangent per active parameter, in
/// parameter order: the floating-point parameters W (all of them when none
/// are given) and every writable floating-point buffer. A scalar's tangent
/// is a scalar, a read-only buffer's a read-only buffer of the same size; a
/// writable buffer's tangent is a writable buffer of the same size that
/// holds the tangent of its contents on entry (zeros for a pure output)
/// and receives the tangent of what f leaves there. Its results are f's
/// results followed by the tangent of each floating-point result (a
/// std::tuple; void stays void).
///
///   kiln::jvp(f)       // every floating-point parameter
///   kiln::jvp<0, 2>(f) // parameters 0 and 2
template <size_t... W, class R, class... Args>
auto jvp(const Staged<R(Args...)>& f, detail::Loc loc = detail::Loc::current()) {
  using Mask = detail::jvp_mask<Args...>;
  static_assert(Mask::template valid<W...>(),
                "kiln::jvp<W...>: every index must name a floating-point scalar or buffer parameter of f");
  constexpr std::array<bool, sizeof...(Args)> mask = Mask::template get<W...>();
  const std::vector<size_t> wrt = detail::indices(mask);
  return Staged<detail::jvp_signature<mask, R, Args...>>(detail::jvp_state(f.state(), wrt, loc));
}

/// Reverse mode: the vector-Jacobian product of `f` (`opts`: checkpointing
/// of while_ loops, parallel reverse of parallel_for_; see ReverseOptions). Active parameters are
/// as for jvp: the floating-point parameters W (all of them when none are
/// given) and every writable floating-point buffer. Its parameters are f's
/// parameters, then one cotangent per floating-point result of f, then one
/// adjoint buffer (a writable span of the same size) per active buffer
/// parameter, in parameter order. A read-only buffer's adjoint buffer
/// receives the gradient with respect to its contents (overwritten, not
/// accumulated into); a writable buffer's holds, on entry, the cotangent of
/// the contents f leaves there, and receives the gradient with respect to
/// its contents on entry. Its result is the gradient of each active scalar
/// parameter: void for none, T for one, a std::tuple for several.
///
///   auto f = kiln::stage("f", [](Rep<double> x, Rep<double> y) { return x * kiln::sin(y); });
///   auto [gx, gy] = kiln::compile(kiln::vjp(f))(1.0, 2.0, /*cotangent*/ 1.0);
template <size_t... W, class R, class... Args>
auto vjp(const Staged<R(Args...)>& f, const ReverseOptions& opts = {}, detail::Loc loc = detail::Loc::current()) {
  using Mask = detail::jvp_mask<Args...>;
  static_assert(Mask::template valid<W...>(),
                "kiln::vjp<W...>: every index must name a floating-point scalar or buffer parameter of f");
  constexpr std::array<bool, sizeof...(Args)> mask = Mask::template get<W...>();
  using M = detail::reverse_masks<mask, Args...>;
  using Params = typename detail::concat<detail::type_list<Args...>, typename detail::float_results<R>::type,
                                         typename M::adjoint_buffers>::type;
  using Sig = typename detail::fn_of<typename detail::as_result<typename M::grads>::type, Params>::type;
  const std::vector<size_t> wrt = detail::indices(mask);
  return Staged<Sig>(detail::reverse_state(f.state(), wrt, 0, opts, loc));
}

/// Reverse mode: the gradient of a scalar-valued `f` (R is float or
/// double). Active parameters are those of vjp. Its parameters are f's
/// parameters followed by one adjoint buffer per active buffer parameter,
/// which receives the gradient with respect to that buffer's contents on
/// entry (written, not accumulated into; a writable buffer's final contents
/// count for nothing). Its result is the gradient of each active scalar
/// parameter: void for none, T for one, a std::tuple for several.
///
///   auto loss = kiln::stage("loss", [](Arr<const double> w, Rep<double> b) { ... });
///   std::vector<double> gw(w.size());
///   double gb = kiln::compile(kiln::grad(loss))(w, b, gw);
template <size_t... W, class R, class... Args>
auto grad(const Staged<R(Args...)>& f, const ReverseOptions& opts = {}, detail::Loc loc = detail::Loc::current()) {
  static_assert(std::is_floating_point_v<R>, "kiln::grad: f must return one float or double; use kiln::vjp");
  using Mask = detail::jvp_mask<Args...>;
  static_assert(Mask::template valid<W...>(),
                "kiln::grad<W...>: every index must name a floating-point scalar or buffer parameter of f");
  constexpr std::array<bool, sizeof...(Args)> mask = Mask::template get<W...>();
  using M = detail::reverse_masks<mask, Args...>;
  using Params = typename detail::concat<detail::type_list<Args...>, typename M::adjoint_buffers>::type;
  using Sig = typename detail::fn_of<typename detail::as_result<typename M::grads>::type, Params>::type;
  const std::vector<size_t> wrt = detail::indices(mask);
  return Staged<Sig>(detail::reverse_state(f.state(), wrt, 1, opts, loc));
}

/// As grad, returning f's value first: std::tuple<R, gradients...>.
template <size_t... W, class R, class... Args>
auto value_and_grad(const Staged<R(Args...)>& f, const ReverseOptions& opts = {}, detail::Loc loc = detail::Loc::current()) {
  static_assert(std::is_floating_point_v<R>,
                "kiln::value_and_grad: f must return one float or double; use kiln::vjp");
  using Mask = detail::jvp_mask<Args...>;
  static_assert(Mask::template valid<W...>(),
                "kiln::value_and_grad<W...>: every index must name a floating-point scalar or buffer parameter of f");
  constexpr std::array<bool, sizeof...(Args)> mask = Mask::template get<W...>();
  using M = detail::reverse_masks<mask, Args...>;
  using Params = typename detail::concat<detail::type_list<Args...>, typename M::adjoint_buffers>::type;
  using Sig = typename detail::fn_of<typename detail::value_first<R, typename M::grads>::type, Params>::type;
  const std::vector<size_t> wrt = detail::indices(mask);
  return Staged<Sig>(detail::reverse_state(f.state(), wrt, 2, opts, loc));
}

/// A custom reverse-mode rule: returns a staged function that computes what
/// `f` computes, but whose gradient is `rule` wherever reverse mode (vjp,
/// grad, value_and_grad) meets it, as the function differentiated or as a
/// call inside another. `rule` has the signature of kiln::vjp(f): f's
/// parameters, then one cotangent per floating-point result; it returns
/// the gradient of each floating-point parameter (T for one, a std::tuple
/// for several). f must take and return scalars only. Forward mode (jvp)
/// refuses such a function (kiln::StagingError), as JAX does; reverse mode
/// differentiates through the rule itself, so grad(grad(...)) works.
///
///   auto clip = kiln::stage("clip", [](Rep<double> x) { return x; });
///   auto clip_rule = kiln::stage("clip_rule", [](Rep<double> x, Rep<double> ct) {
///     return kiln::max(kiln::min(ct, 1.0), -1.0);   // a clipped gradient
///   });
///   auto clipped = kiln::custom_vjp(clip, clip_rule);
template <class R, class... Args, class RuleSig>
Staged<R(Args...)> custom_vjp(const Staged<R(Args...)>& f, const Staged<RuleSig>& rule,
                              detail::Loc loc = detail::Loc::current()) {
  static_assert((std::is_arithmetic_v<Args> && ...), "kiln::custom_vjp: f must take scalars only");
  using Mask = detail::jvp_mask<Args...>;
  constexpr std::array<bool, sizeof...(Args)> mask = Mask::template get<>();
  using M = detail::reverse_masks<mask, Args...>;
  using Params = typename detail::concat<detail::type_list<Args...>, typename detail::float_results<R>::type>::type;
  using Expected = typename detail::fn_of<typename detail::as_result<typename M::grads>::type, Params>::type;
  static_assert(std::is_same_v<RuleSig, Expected>,
                "kiln::custom_vjp: the rule must take f's parameters, then one cotangent per floating-point "
                "result, and return the gradient of each floating-point parameter (the signature of kiln::vjp(f))");
  return Staged<R(Args...)>(detail::define_custom_vjp(f.state(), rule.state(), loc));
}

}  // namespace kiln

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
  std::vector<size_t> wrt;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) wrt.push_back(i);
  return Staged<detail::jvp_signature<mask, R, Args...>>(detail::jvp_state(f.state(), wrt, loc));
}

}  // namespace kiln

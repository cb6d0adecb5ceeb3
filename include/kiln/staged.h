// Staged functions: kiln::stage() turns a C++ lambda over Reps and Arrs into
// a typed IR function, Staged<Sig>, where Sig is the plain C++ signature
// (Rep<T> -> T, Arr<T> -> std::span<T>, std::tuple<Rep<A>, Rep<B>> ->
// std::tuple<A, B>).
//
//   auto sq = kiln::stage("sq", [](kiln::Rep<float> x) { return x * x; });
//   std::cout << sq.ir();                       // the IR text
//
// Calling a Staged with Reps while staging another function emits a real
// call. Recursion: declare first, define by assignment.
//
//   kiln::Staged<int64_t(int64_t)> fib;
//   fib = kiln::stage("fib", [&](kiln::Rep<int64_t> n) {
//     return kiln::cond(n < 2, [&] { return n; }, [&] { return fib(n - 1) + fib(n - 2); });
//   });
#pragma once

#include <kiln/control.h>

#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace kiln {

template <class Sig>
class Staged;
struct Options;

namespace detail {

// Plain C++ types <-> staged types.
template <class P> struct param_map { static constexpr bool ok = false; };
template <class T> struct param_map<Rep<T>> { static constexpr bool ok = true; using plain = T; };
template <class T> struct param_map<Arr<T>> { static constexpr bool ok = true; using plain = std::span<T>; };

template <class A> struct staged_param { using type = Rep<A>; };
template <class T> struct staged_param<std::span<T>> { using type = Arr<T>; };
template <class A> using staged_param_t = typename staged_param<A>::type;

template <class R> struct result_map { using plain = R; };  // literal scalars
template <> struct result_map<void> { using plain = void; };
template <class T> struct result_map<Rep<T>> { using plain = T; };
template <class T> struct result_map<ElementRef<T>> { using plain = T; };
template <class... Xs> struct result_map<std::tuple<Xs...>> {
  using plain = std::tuple<typename result_map<std::decay_t<Xs>>::plain...>;
};

template <class A>
ir::Type param_ir_type() {
  if constexpr (requires { typename A::element_type; })
    return ir::Type::buf(scalar_of<std::remove_const_t<typename A::element_type>>(), !std::is_const_v<typename A::element_type>);
  else return ir::Type::scalar(scalar_of<A>());
}
template <class R>
void result_ir_types(std::vector<ir::Type>& out) {
  if constexpr (std::is_void_v<R>) return;
  else if constexpr (requires { std::tuple_size<R>::value; })
    [&]<size_t... I>(std::index_sequence<I...>) { (result_ir_types<std::tuple_element_t<I, R>>(out), ...); }(
        std::make_index_sequence<std::tuple_size_v<R>>());
  else out.push_back(ir::Type::scalar(scalar_of<R>()));
}

template <class M> struct lambda_traits;
template <class C, class R, class... Ps>
struct lambda_traits<R (C::*)(Ps...) const> { using result = std::decay_t<R>; using params = std::tuple<std::decay_t<Ps>...>; };
template <class C, class R, class... Ps>
struct lambda_traits<R (C::*)(Ps...)> : lambda_traits<R (C::*)(Ps...) const> {};

template <class Result, class Params> struct make_sig;
template <class Result, class... Ps>
struct make_sig<Result, std::tuple<Ps...>> {
  static_assert((param_map<Ps>::ok && ...),
                "kiln::stage: every parameter of the staged lambda must be a kiln::Rep<T> or kiln::Arr<T>");
  using type = typename result_map<Result>::plain(typename param_map<Ps>::plain...);
};
template <class F>
using signature_of = typename make_sig<typename lambda_traits<decltype(&F::operator())>::result,
                                       typename lambda_traits<decltype(&F::operator())>::params>::type;

/// A located argument of a staged call.
template <class A>
struct CallArg {
  detail::ValueId v;
  Loc loc;
  template <class U>
  CallArg(const Rep<U>& r, Loc l = Loc::current()) : v(convert(r.value(l), scalar_of<A>(), l)), loc(l) {}
  template <Literal L>
  CallArg(L x, Loc l = Loc::current()) : v(literal(scalar_of<A>(), x, l)), loc(l) {}
};
template <class T>
struct CallArg<std::span<T>> {
  detail::ValueId v;
  Loc loc;
  CallArg(const Arr<T>& a, Loc l = Loc::current()) : v(a.value(l)), loc(l) {}
  template <class U>
    requires(std::is_const_v<T> && std::is_same_v<U, std::remove_const_t<T>>)
  CallArg(const Arr<U>& a, Loc l = Loc::current()) : v(a.value(l)), loc(l) {}
};

template <class R> struct call_result { using type = Rep<R>; using yield = Yield<Rep<R>>; };
template <> struct call_result<void> { using type = void; };
template <class... Xs> struct call_result<std::tuple<Xs...>> {
  using type = std::tuple<Rep<Xs>...>;
  using yield = Yield<type>;
};

template <class F, class... Args>
void run_body(F& fn, Loc loc) {
  size_t i = 0;
  [[maybe_unused]] auto make = [&]<class A>(std::type_identity<A>) {
    detail::ValueId v = function_param(i++);
    if constexpr (requires { typename A::element_type; })
      return Arr<typename A::element_type>::from_value(v, current_context());
    else return Rep<A>::from_value(v, loc);
  };
  // Braced initialisation evaluates left to right: parameters in order.
  std::tuple<staged_param_t<Args>...> params{make(std::type_identity<Args>{})...};
  using R = std::decay_t<decltype(std::apply(fn, params))>;
  std::vector<detail::ValueId> results;
  if constexpr (std::is_void_v<R>) std::apply(fn, params);
  else Yield<R>::flatten(std::apply(fn, params), results, loc);
  set_results(std::move(results));
}

/// Text of the module after the default pipeline (defined with the backends).
std::string staged_ir(const std::shared_ptr<StagedState>& s, const Options* opts);
ir::Module staged_module(const std::shared_ptr<StagedState>& s, const Options* opts);

}  // namespace detail

/// A staged function with plain C++ signature R(Args...). A handle: copies
/// share the function. Default-constructed it is declared but not defined;
/// assigning the result of kiln::stage() defines it (for recursion).
template <class R, class... Args>
class Staged<R(Args...)> {
 public:
  /// A declared, undefined function (define it by assigning kiln::stage(...)).
  /// Errors about a function declared but never defined name `loc`.
  Staged(detail::Loc loc = detail::Loc::current()) : state_(detail::declare("", param_types(), result_types(), loc)) {}
  Staged(const Staged&) = default;
  Staged(Staged&&) = default;
  /// For kiln's own templates: a handle on an existing function whose
  /// types are R(Args...).
  explicit Staged(std::shared_ptr<detail::StagedState> s) : state_(std::move(s)) {}
  /// Defines a declared function, or rebinds a defined handle.
  Staged& operator=(const Staged& other) {
    if (this == &other) return *this;
    if (!detail::is_defined(*state_)) detail::assign(*state_, *other.state_);
    else state_ = other.state_;
    return *this;
  }
  Staged& operator=(Staged&& other) { return *this = static_cast<const Staged&>(other); }

  /// The function's name as given to kiln::stage().
  const std::string& name() const { return detail::staged_name(*state_); }
  /// The textual IR after the default pipeline: this function, then its callees.
  std::string ir() const { return detail::staged_ir(state_, nullptr); }
  /// The textual IR after the pipeline `opts` selects; `{.optimize = false}`
  /// shows what staging produced (after variable promotion only).
  std::string ir(const Options& opts) const { return detail::staged_ir(state_, &opts); }
  /// The IR module after the default pipeline (for pass writers and tools).
  ir::Module module() const { return detail::staged_module(state_, nullptr); }
  /// The IR module after the pipeline `opts` selects.
  ir::Module module(const Options& opts) const { return detail::staged_module(state_, &opts); }

  /// While staging another function: a staged call of this one.
  typename detail::call_result<R>::type operator()(detail::CallArg<Args>... args) const {
    detail::Loc loc = first_loc(args...);
    detail::ValueId node = detail::emit_call(state_, {args.v...}, loc);
    if constexpr (!std::is_void_v<R>) {
      size_t i = 0;
      return detail::call_result<R>::yield::rebuild(node, i, loc);
    }
  }

  /// For kiln's own templates.
  const std::shared_ptr<detail::StagedState>& state() const { return state_; }

  template <class F>
  void define_with(std::string name, const std::vector<std::string>& param_names, F& fn, detail::Loc loc) {
    detail::define(*state_, name, param_names,
                   [](void* f) { detail::run_body<F, Args...>(*static_cast<F*>(f), detail::Loc::current()); }, &fn, loc);
  }

 private:
  static std::vector<ir::Type> param_types() { return {detail::param_ir_type<Args>()...}; }
  static std::vector<ir::Type> result_types() {
    std::vector<ir::Type> out;
    detail::result_ir_types<R>(out);
    return out;
  }
  template <class... Cs>
  static detail::Loc first_loc(const Cs&... cs) {
    if constexpr (sizeof...(Cs) == 0) return detail::Loc::current();
    else return std::get<0>(std::tie(cs...)).loc;
  }
  std::shared_ptr<detail::StagedState> state_;
};

/// Stages `fn` now (runs it once with staged parameters) and returns the
/// typed staged function. Errors in the staged code are thrown from here.
/// Each thread stages in its own context: threads may stage at once, and a
/// Rep or Arr of one staging used in another is a kiln::StagingError.
template <class F>
auto stage(std::string name, F fn, detail::Loc loc = detail::Loc::current()) {
  Staged<detail::signature_of<F>> s;
  s.define_with(std::move(name), {}, fn, loc);
  return s;
}

/// Stages `fn` with names for its parameters, one per parameter. Generated
/// and exported source names the parameters after them (sanitised into
/// valid, distinct identifiers); without names they are arg0, arg1, ...
///
///   auto saxpy = kiln::stage("saxpy", {"a", "x", "y"},
///                            [](kiln::Rep<float> a, kiln::Arr<const float> x, kiln::Arr<float> y) { ... });
template <class F>
auto stage(std::string name, std::vector<std::string> param_names, F fn, detail::Loc loc = detail::Loc::current()) {
  Staged<detail::signature_of<F>> s;
  s.define_with(std::move(name), param_names, fn, loc);
  return s;
}

}  // namespace kiln

// Staged values: Rep<T> (a scalar computed by the staged program) and
// Arr<T> (a buffer parameter of the staged function).
//
// Running C++ that uses these types does not compute; it records typed IR.
// Plain C++ values mixed in become constants, plain C++ control flow runs at
// staging time and specialises the program.
//
//   auto f = kiln::stage("axpy", [](kiln::Rep<float> a, kiln::Arr<const float> x,
//                                   kiln::Arr<float> y) {
//     kiln::for_(0, x.size(), [&](kiln::Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
//   });
#pragma once

#include <kiln/detail/staging.h>

#include <concepts>
#include <cstdint>
#include <source_location>
#include <type_traits>
#include <vector>

namespace kiln {

template <class T>
  requires detail::is_stage_scalar_v<T>
class Rep;
template <class T>
class Arr;
template <class T>
class ElementRef;
template <class T>
class Tensor;

namespace detail {

template <class T>
constexpr int rank() {
  if constexpr (std::is_same_v<T, bool>) return 0;
  else if constexpr (std::is_same_v<T, int32_t>) return 1;
  else if constexpr (std::is_same_v<T, int64_t>) return 2;
  else if constexpr (std::is_same_v<T, float>) return 3;
  else return 4;
}

/// The staged scalar type that stands for a C++ arithmetic type: long long
/// is int64_t, long double is double, small and unsigned integers are int32_t.
template <class X>
using canon_t = std::conditional_t<
    is_stage_scalar_v<X>, X,
    std::conditional_t<std::is_floating_point_v<X>, double, std::conditional_t<(sizeof(X) > 4), int64_t, int32_t>>>;

/// C++'s usual arithmetic conversions (bool and int32 promote to int).
template <class A, class B>
using promote_t = canon_t<decltype(std::declval<A>() + std::declval<B>())>;

template <class L>
concept Literal = std::is_arithmetic_v<L>;

/// The type a Rep<T> takes when combined with a plain literal of type L: a
/// "weak" literal takes T (checked to fit) unless T is an integer and the
/// literal is floating, where C++'s conversions apply. A bool literal with a
/// Rep<bool> stays bool (`b && true`).
template <class T, class L>
using literal_result_t = std::conditional_t<
    std::is_same_v<T, bool>, std::conditional_t<std::is_same_v<L, bool>, bool, promote_t<T, L>>,
    std::conditional_t<std::is_integral_v<L> || std::is_floating_point_v<T>, T, promote_t<T, L>>>;

/// A located operand: a Rep<T> read at the user's line. Operators take it so
/// that the node they build records where the user wrote the expression.
template <class T>
struct Arg {
  detail::ValueId v;
  Loc loc;
  Arg(const Rep<T>& r, Loc l = Loc::current()) : v(r.value(l)), loc(l) {}
};

template <class R>
Rep<R> make_rep(detail::ValueId v, Loc loc) { return Rep<R>::from_value(v, loc); }

/// a OP b in type C, result scalar R (C for arithmetic, bool for comparisons).
template <class R, class C>
Rep<R> binary(ir::Op op, detail::ValueId a, detail::ValueId b, Loc loc) {
  detail::ValueId ca = convert(a, scalar_of<C>(), loc), cb = convert(b, scalar_of<C>(), loc);
  return make_rep<R>(emit(op, ir::Type::scalar(scalar_of<R>()), {ca, cb}, loc), loc);
}

template <class T>
concept Integral = std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;
template <class T>
concept IntOrBool = Integral<T> || std::is_same_v<T, bool>;
template <class T>
concept Floating = std::is_same_v<T, float> || std::is_same_v<T, double>;


template <class X>
struct value_of { using type = X; };
template <class T>
struct value_of<Rep<T>> { using type = T; };
template <class T>
struct value_of<ElementRef<T>> { using type = T; };
template <class X>
using value_of_t = typename value_of<std::decay_t<X>>::type;

/// The common type of two operands where at least one is a Rep: as C++'s
/// `c ? a : b`, two Reps of one type keep it (two Rep<bool> stay bool).
template <class A, class B>
using common_t = std::conditional_t<Literal<A>, literal_result_t<value_of_t<B>, A>,
                                    std::conditional_t<Literal<B>, literal_result_t<value_of_t<A>, B>,
                                                       std::conditional_t<std::is_same_v<value_of_t<A>, value_of_t<B>>, value_of_t<A>,
                                                                          promote_t<value_of_t<A>, value_of_t<B>>>>>;
template <class A, class B>
concept RepPair = !(Literal<A> && Literal<B>) && (Literal<A> || is_stage_scalar_v<value_of_t<A>>) &&
                  (Literal<B> || is_stage_scalar_v<value_of_t<B>>);

/// An operand (a Rep, an ElementRef or a literal) as a value of type C.
template <class C, class A>
detail::ValueId operand(const A& a, Loc loc) {
  if constexpr (Literal<A>) return literal(scalar_of<C>(), a, loc);
  else return convert(a.value(loc), scalar_of<C>(), loc);
}

/// The type `a OP= x` computes in before converting back to a's type.
template <ir::Op op, class T, class X>
using compound_t = std::conditional_t<
    op != ir::Op::And && op != ir::Op::Or && op != ir::Op::Xor && std::is_same_v<common_t<Rep<T>, X>, bool>, int32_t,
    common_t<Rep<T>, X>>;
template <ir::Op op, class T, class X>
concept CompoundOk = RepPair<Rep<T>, X> &&
                     (op != ir::Op::Rem || Integral<compound_t<op, T, X>>) &&
                     (op != ir::Op::And && op != ir::Op::Or && op != ir::Op::Xor || IntOrBool<compound_t<op, T, X>>);

/// The new value of `a OP= x` (a's current value is `a`): computed as
/// `a OP x` is, then converted back to T, as C++ does.
template <ir::Op op, class T, class X>
detail::ValueId compound(detail::ValueId a, const X& x, Loc loc) {
  using C = compound_t<op, T, X>;
  detail::ValueId va = convert(a, scalar_of<C>(), loc), vb = operand<C>(x, loc);
  return convert(emit(op, ir::Type::scalar(scalar_of<C>()), {va, vb}, loc), scalar_of<T>(), loc);
}

/// The left side of a compound assignment, located at the user's line.
template <class T>
struct Target {
  Rep<T>& rep;
  Loc loc;
  template <class R>
    requires std::is_same_v<R, Rep<T>>
  Target(R& r, Loc l = Loc::current()) : rep(r), loc(l) {}
};

// Result types of the operator families.
template <class A, class B> using arith_t = promote_t<A, B>;
template <class A, class B>
using bits_t = std::conditional_t<std::is_same_v<A, bool> && std::is_same_v<B, bool>, bool, promote_t<A, B>>;
template <class A, class B> using shift_t = promote_t<A, int32_t>;

}  // namespace detail

// Binary operator families. For each operator: Rep<T> op Rep<T>, Rep<T> op
// Rep<U> in both orders (defined in the class of the higher-ranked type so
// each pair is defined once), and Rep<T> op literal in both orders. The
// located operand (detail::Arg) carries the user's source line.
#define KILN_REP_BINARY(OP, IROP, RESULT, COMMON, REQ)                                               \
  friend Rep<RESULT(T, T)> operator OP(detail::Arg<T> a, detail::Arg<T> b)                          \
    requires REQ<T, T>                                                                               \
  {                                                                                                  \
    return detail::binary<RESULT(T, T), COMMON(T, T)>(ir::Op::IROP, a.v, b.v, a.loc);               \
  }                                                                                                  \
  template <class U>                                                                                 \
    requires(detail::rank<U>() < detail::rank<T>() && REQ<U, T>)                                     \
  friend Rep<RESULT(U, T)> operator OP(const Rep<U>& a, detail::Arg<T> b) {                          \
    return detail::binary<RESULT(U, T), COMMON(U, T)>(ir::Op::IROP, a.value(b.loc), b.v, b.loc);     \
  }                                                                                                  \
  template <class U>                                                                                 \
    requires(detail::rank<U>() < detail::rank<T>() && REQ<T, U>)                                     \
  friend Rep<RESULT(T, U)> operator OP(detail::Arg<T> a, const Rep<U>& b) {                          \
    return detail::binary<RESULT(T, U), COMMON(T, U)>(ir::Op::IROP, a.v, b.value(a.loc), a.loc);     \
  }                                                                                                  \
  template <detail::Literal L>                                                                       \
    requires REQ<T, detail::literal_result_t<T, L>>                                                  \
  friend auto operator OP(detail::Arg<T> a, L b) {                                                   \
    using C = detail::literal_result_t<T, L>;                                                        \
    detail::ValueId lit = detail::literal(detail::scalar_of<C>(), b, a.loc);                                 \
    return detail::binary<RESULT(C, C), COMMON(C, C)>(ir::Op::IROP, a.v, lit, a.loc);                \
  }                                                                                                  \
  template <detail::Literal L>                                                                       \
    requires REQ<detail::literal_result_t<T, L>, T>                                                  \
  friend auto operator OP(L a, detail::Arg<T> b) {                                                   \
    using C = detail::literal_result_t<T, L>;                                                        \
    detail::ValueId lit = detail::literal(detail::scalar_of<C>(), a, b.loc);                                 \
    return detail::binary<RESULT(C, C), COMMON(C, C)>(ir::Op::IROP, lit, b.v, b.loc);                \
  }

#define KILN_ARITH_T(A, B) detail::arith_t<A, B>
#define KILN_BOOL_T(A, B) bool
#define KILN_BITS_T(A, B) detail::bits_t<A, B>
#define KILN_SHIFT_T(A, B) detail::shift_t<A, B>

namespace detail {
template <class A, class B> concept AnyPair = true;
template <class A, class B> concept IntPair = Integral<A> && Integral<B>;
template <class A, class B> concept BitsPair = IntOrBool<A> && IntOrBool<B>;
template <class A, class B> concept BoolPair = std::is_same_v<A, bool> && std::is_same_v<B, bool>;
}  // namespace detail

/// A staged scalar of type T (bool, int32_t, int64_t, float, double).
///
/// Every Rep object is a staging variable: assigning it inside a staged
/// region (`acc += x[i]` in a for_ body) updates it for the code that
/// follows, at any nesting depth. Copying a Rep makes a new variable.
/// Operators follow C++'s usual conversions between Reps; a plain literal
/// takes the Rep's type when it fits (`Rep<float> * 2.0` is a Rep<float>).
template <class T>
  requires detail::is_stage_scalar_v<T>
class Rep {
 public:
  using value_type = T;

  /// A zero-initialised staged variable (or an empty handle outside staging).
  Rep(detail::Loc loc = detail::Loc::current()) {
    if (!(ctx_ = detail::current_context())) return;
    var_ = detail::new_var(detail::constant(detail::scalar_of<T>(), 0, loc), loc);
  }
  /// A staged constant: `Rep<float> x = 1.5f;`. The value must fit T.
  template <detail::Literal L>
  Rep(L value, detail::Loc loc = detail::Loc::current()) {
    ctx_ = detail::require_context("creating a Rep", loc);
    var_ = detail::new_var(detail::literal(detail::scalar_of<T>(), value, loc), loc);
  }
  /// A new variable holding other's current value.
  Rep(const Rep& other, detail::Loc loc = detail::Loc::current()) {
    detail::ValueId v = other.value(loc);
    ctx_ = other.ctx_;
    var_ = detail::new_var(v, loc);
  }
  /// Moves keep the variable's identity (Reps live in std::vectors).
  Rep(Rep&& other) noexcept : ctx_(other.ctx_), var_(other.var_) { other.ctx_ = 0; }
  /// A converted copy, as C++ converts between arithmetic types.
  template <class U>
    requires(!std::is_same_v<U, T>)
  Rep(const Rep<U>& other, detail::Loc loc = detail::Loc::current()) {
    detail::ValueId v = detail::convert(other.value(loc), detail::scalar_of<T>(), loc);
    ctx_ = detail::current_context();
    var_ = detail::new_var(v, loc);
  }

  /// Assignment updates this variable for the staged code that follows.
  /// Only named Reps can be assigned: `x[i] = v` on an Arr<const T> does not compile.
  Rep& operator=(const Rep& other) & {
    if (this != &other) assign(other.value(detail::Loc::current()));
    return *this;
  }
  Rep& operator=(Rep&& other) & { return *this = static_cast<const Rep&>(other); }
  template <class U>
    requires(!std::is_same_v<U, T>)
  Rep& operator=(const Rep<U>& other) & {
    auto loc = detail::Loc::current();
    assign(detail::convert(other.value(loc), detail::scalar_of<T>(), loc));
    return *this;
  }
  template <detail::Literal L>
  Rep& operator=(L value) & {
    auto loc = detail::Loc::current();
    detail::require_context("assigning a Rep", loc);
    assign(detail::literal(detail::scalar_of<T>(), value, loc));
    return *this;
  }
  ~Rep() = default;  // harmless after staging ended: nothing to release

  // Compound assignment: `a += x` is `a = T(a + x)`. Hidden friends whose left
  // operand converts to a located Target, so the nodes carry the user's line.
#define KILN_REP_COMPOUND(OP, IROP)                                                                  \
  template <class X>                                                                                 \
    requires detail::CompoundOk<ir::Op::IROP, T, X>                                                  \
  friend Rep& operator OP(detail::Target<T> self, const X& x) {                                      \
    self.rep.assign(detail::compound<ir::Op::IROP, T>(self.rep.value(self.loc), x, self.loc), self.loc); \
    return self.rep;                                                                                 \
  }
  KILN_REP_COMPOUND(+=, Add)
  KILN_REP_COMPOUND(-=, Sub)
  KILN_REP_COMPOUND(*=, Mul)
  KILN_REP_COMPOUND(/=, Div)
  KILN_REP_COMPOUND(%=, Rem)
  KILN_REP_COMPOUND(&=, And)
  KILN_REP_COMPOUND(|=, Or)
  KILN_REP_COMPOUND(^=, Xor)
#undef KILN_REP_COMPOUND

  KILN_REP_BINARY(+, Add, KILN_ARITH_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(-, Sub, KILN_ARITH_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(*, Mul, KILN_ARITH_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(/, Div, KILN_ARITH_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(%, Rem, KILN_ARITH_T, KILN_ARITH_T, detail::IntPair)
  KILN_REP_BINARY(==, Eq, KILN_BOOL_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(!=, Ne, KILN_BOOL_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(<, Lt, KILN_BOOL_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(<=, Le, KILN_BOOL_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(>, Gt, KILN_BOOL_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(>=, Ge, KILN_BOOL_T, KILN_ARITH_T, detail::AnyPair)
  KILN_REP_BINARY(&, And, KILN_BITS_T, KILN_BITS_T, detail::BitsPair)
  KILN_REP_BINARY(|, Or, KILN_BITS_T, KILN_BITS_T, detail::BitsPair)
  KILN_REP_BINARY(^, Xor, KILN_BITS_T, KILN_BITS_T, detail::BitsPair)
  KILN_REP_BINARY(<<, Shl, KILN_SHIFT_T, KILN_SHIFT_T, detail::IntPair)
  KILN_REP_BINARY(>>, Shr, KILN_SHIFT_T, KILN_SHIFT_T, detail::IntPair)
  // Logical and/or on Rep<bool>: both sides are staged, no short circuit.
  KILN_REP_BINARY(&&, And, KILN_BOOL_T, KILN_BOOL_T, detail::BoolPair)
  KILN_REP_BINARY(||, Or, KILN_BOOL_T, KILN_BOOL_T, detail::BoolPair)

  /// Arithmetic negation (bool promotes to int, as in C++).
  friend Rep<detail::arith_t<T, T>> operator-(detail::Arg<T> a) {
    using R = detail::arith_t<T, T>;
    detail::ValueId v = detail::convert(a.v, detail::scalar_of<R>(), a.loc);
    return detail::make_rep<R>(detail::emit(ir::Op::Neg, ir::Type::scalar(detail::scalar_of<R>()), {v}, a.loc), a.loc);
  }
  friend Rep<detail::arith_t<T, T>> operator+(detail::Arg<T> a) {
    using R = detail::arith_t<T, T>;
    return detail::make_rep<R>(detail::convert(a.v, detail::scalar_of<R>(), a.loc), a.loc);
  }
  /// Logical not of a Rep<bool>.
  friend Rep<bool> operator!(detail::Arg<T> a)
    requires std::is_same_v<T, bool>
  {
    return detail::make_rep<bool>(detail::emit(ir::Op::Not, ir::Type::scalar(ir::Scalar::i1), {a.v}, a.loc), a.loc);
  }
  /// Bitwise not of an integer Rep.
  friend Rep<T> operator~(detail::Arg<T> a)
    requires detail::Integral<T>
  {
    return detail::make_rep<T>(detail::emit(ir::Op::Not, ir::Type::scalar(detail::scalar_of<T>()), {a.v}, a.loc), a.loc);
  }

  /// The current SSA value of this variable (for kiln's own templates).
  detail::ValueId value(detail::Loc loc) const {
    if (!ctx_) detail::staging_error("this Rep is empty (default-constructed outside staging, or moved from)", loc,
                                     "create Reps inside the function passed to kiln::stage()");
    return detail::read_var(ctx_, var_, detail::scalar_of<T>(), loc);
  }
  /// A Rep holding an existing value (for kiln's own templates).
  static Rep from_value(detail::ValueId v, detail::Loc loc) {
    Rep r{Internal{}};
    r.ctx_ = detail::require_context("creating a Rep", loc);
    r.var_ = detail::new_var(v, loc);
    return r;
  }

 protected:
  void assign(detail::ValueId v, detail::Loc loc = detail::Loc::current()) {
    if (!ctx_) {
      ctx_ = detail::require_context("assigning a Rep", loc);
      var_ = detail::new_var(v, loc);
      return;
    }
    detail::write_var(ctx_, var_, v, loc);
  }

 private:
  struct Internal {};
  explicit Rep(Internal) {}
  uint32_t ctx_ = 0;
  uint32_t var_ = 0;
};

#undef KILN_REP_BINARY
#undef KILN_ARITH_T
#undef KILN_BOOL_T
#undef KILN_BITS_T
#undef KILN_SHIFT_T

/// An element of a read-write staged buffer: reads as a Rep<T> (loaded where
/// `x[i]` is written), assigning it stores. `Rep<float> v = x[i];` snapshots.
template <class T>
class ElementRef : public Rep<T> {
 public:
  ElementRef(detail::ValueId buf, detail::ValueId index, detail::ValueId load, detail::Loc loc)
      : Rep<T>(Rep<T>::from_value(load, loc)), buf_(buf), index_(index), load_(load), loc_(loc) {}
  ElementRef(const ElementRef&) = default;

  /// Stores into the buffer element.
  ElementRef& operator=(const ElementRef& other) { return store(other.value(loc_)); }
  template <class X>
  ElementRef& operator=(const X& x) {
    if constexpr (detail::Literal<X>) return store(detail::literal(detail::scalar_of<T>(), x, loc_));
    else return store(detail::convert(x.value(loc_), detail::scalar_of<T>(), loc_));
  }
  // Compound assignment loads, computes at the line of `x[i]`, and stores.
  // (Rep's compound operators do not apply: they would skip the store.)
#define KILN_ELEMENT_COMPOUND(OP, IROP)                                                        \
  template <class X>                                                                           \
    requires detail::CompoundOk<ir::Op::IROP, T, X>                                            \
  ElementRef& operator OP(const X& x) {                                                        \
    return store(detail::compound<ir::Op::IROP, T>(this->value(loc_), x, loc_));               \
  }
  KILN_ELEMENT_COMPOUND(+=, Add)
  KILN_ELEMENT_COMPOUND(-=, Sub)
  KILN_ELEMENT_COMPOUND(*=, Mul)
  KILN_ELEMENT_COMPOUND(/=, Div)
  KILN_ELEMENT_COMPOUND(%=, Rem)
  KILN_ELEMENT_COMPOUND(&=, And)
  KILN_ELEMENT_COMPOUND(|=, Or)
  KILN_ELEMENT_COMPOUND(^=, Xor)
#undef KILN_ELEMENT_COMPOUND

 private:
  ElementRef& store(detail::ValueId v) {
    // `y[i] = v` evaluates v first, then y[i]: its load is the last node and
    // unused, so drop it rather than leave a dead load behind.
    detail::drop_trailing_load(load_);
    detail::emit(ir::Op::Store, {}, {buf_, index_, v}, loc_);
    this->assign(v, loc_);
    return *this;
  }
  detail::ValueId buf_, index_, load_;
  detail::Loc loc_;
};

namespace detail {
/// A located buffer index: a Rep<int64_t>, a Rep<int32_t> (widened) or an
/// integer literal.
struct Index {
  detail::ValueId v;
  Loc loc;
  Index(const Rep<int64_t>& i, Loc l = Loc::current()) : v(i.value(l)), loc(l) {}
  Index(const Rep<int32_t>& i, Loc l = Loc::current()) : v(convert(i.value(l), ir::Scalar::i64, l)), loc(l) {}
  template <std::integral I>
  Index(I i, Loc l = Loc::current()) : v(literal(ir::Scalar::i64, i, l)), loc(l) {}
};
}  // namespace detail

/// A staged buffer parameter: Arr<float> is read-write, Arr<const float>
/// read-only (writing through it does not compile). Calling the compiled
/// function passes a std::span. Indexing is bounds-checked by the interpreter.
template <class T>
class Arr {
 public:
  using element_type = T;
  using value_type = std::remove_const_t<T>;
  static_assert(detail::is_stage_scalar_v<value_type>, "Arr<T>: T must be bool, int32_t, int64_t, float or double");

  /// x[i]: a Rep<T> for read-only buffers, an assignable element otherwise.
  auto operator[](detail::Index i) const {
    detail::check_buffer(ctx_, "indexing an Arr", i.loc);
    detail::ValueId load = detail::emit(ir::Op::Load, ir::Type::scalar(detail::scalar_of<value_type>()), {buf_, i.v}, i.loc);
    if constexpr (std::is_const_v<T>) return Rep<value_type>::from_value(load, i.loc);
    else return ElementRef<value_type>(buf_, i.v, load, i.loc);
  }
  /// Number of elements, known when the compiled function is called.
  Rep<int64_t> size(detail::Loc loc = detail::Loc::current()) const {
    detail::check_buffer(ctx_, "Arr::size", loc);
    return Rep<int64_t>::from_value(detail::emit(ir::Op::Size, ir::Type::scalar(ir::Scalar::i64), {buf_}, loc), loc);
  }
  /// The buffer as a tensor of a stage-time shape (row-major); the call
  /// checks that the buffer holds exactly that many elements, or, with an
  /// offset, that many from the offset on. Defined in kiln/tensor.h.
  Tensor<value_type> tensor(std::vector<int64_t> shape, detail::Loc loc = detail::Loc::current()) const;
  Tensor<value_type> tensor(std::vector<int64_t> shape, detail::Index offset,
                            detail::Loc loc = detail::Loc::current()) const;
  /// Writes a tensor's elements (row-major) into the buffer: all of it, or
  /// from an offset on; checked when the function is called.
  void store(const Tensor<value_type>& t, detail::Loc loc = detail::Loc::current()) const
    requires(!std::is_const_v<T>);
  void store(const Tensor<value_type>& t, detail::Index offset, detail::Loc loc = detail::Loc::current()) const
    requires(!std::is_const_v<T>);
  /// A read-write buffer passes where a read-only one is expected.
  operator Arr<const value_type>() const
    requires(!std::is_const_v<T>)
  {
    return Arr<const value_type>::from_value(buf_, ctx_);
  }

  /// For kiln's own templates.
  static Arr from_value(detail::ValueId buf, uint32_t ctx) {
    Arr a;
    a.buf_ = buf;
    a.ctx_ = ctx;
    return a;
  }
  detail::ValueId value(detail::Loc loc) const {
    detail::check_buffer(ctx_, "using an Arr", loc);
    return buf_;
  }

 private:
  Arr() = default;
  detail::ValueId buf_ = 0;
  uint32_t ctx_ = 0;
};

}  // namespace kiln

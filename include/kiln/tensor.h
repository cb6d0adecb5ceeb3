// Staged tensors: Tensor<T> is a value of the staged program with a shape
// known at staging time (float, double, int32_t, int64_t, bool elements).
//
//   auto f = kiln::stage("layer", [](kiln::Arr<const float> x, kiln::Arr<const float> w,
//                                    kiln::Arr<float> y) {
//     auto X = x.tensor({64, 784});               // the buffer must hold 64*784 elements
//     auto W = w.tensor({784, 128});
//     y.store(kiln::relu(kiln::matmul(X, W)));    // y must hold 64*128
//   });
//
// Tensor ops are IR ops (docs/tensors.md): autodiff differentiates them with
// tensor-level rules, and lowering (codegen/lower) turns them into fused
// loop nests before any backend runs. Binary ops broadcast as NumPy does;
// shapes that do not fit are a kiln::StagingError naming both shapes and
// the line. Elements of two operands must have one type: use cast<U>(t) to
// mix them. Tensors are values: `t = t + 1` rebinds the C++ object; a tensor
// made inside a staged loop or branch stays there.
#pragma once

#include <kiln/rep.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>
#include <vector>

namespace kiln {

template <class T>
class Tensor;

namespace detail {

using Shape = std::vector<int64_t>;

// The library's side (stage/tensor.cpp): untyped, checked, located.
Shape tensor_shape(ValueId t);
/// Where a tensor is made (the staging context and its open region), and
/// the check that it is still in scope where it is used (StagingError).
uint64_t tensor_scope();
void check_tensor_scope(uint64_t scope, Loc loc);
ValueId tensor_load(ValueId buf, const Shape& shape, const ValueId* offset, Loc loc);
void tensor_store(ValueId t, ValueId buf, const ValueId* offset, Loc loc);
/// An elementwise op; operands broadcast to a common shape; a scalar
/// operand (not a tensor) is splat.
ValueId tensor_elementwise(ir::Op op, std::vector<ValueId> args, Loc loc);
ValueId tensor_cast(ValueId t, ir::Scalar to, Loc loc);
ValueId tensor_fill(ir::Scalar s, int64_t bits, const Shape& shape, Loc loc);
ValueId tensor_dense(ir::Scalar s, const std::vector<int64_t>& bits, const Shape& shape, Loc loc);
ValueId tensor_iota(ir::Scalar s, int64_t n, Loc loc);
ValueId tensor_broadcast_to(ValueId t, const Shape& shape, Loc loc);
ValueId tensor_reshape(ValueId t, Shape shape, Loc loc);
ValueId tensor_transpose(ValueId t, std::vector<int64_t> perm, Loc loc);
ValueId tensor_slice(ValueId t, int64_t axis, int64_t start, int64_t stop, int64_t step, Loc loc);
/// sum / max over `axes` (all when empty; negative counts from the end);
/// keepdims leaves extents of 1. Reducing every axis without keepdims
/// gives a scalar.
ValueId tensor_reduce(ir::Op op, ValueId t, std::vector<int64_t> axes, bool keepdims, Loc loc);
ValueId tensor_matmul(ValueId a, ValueId b, Loc loc);
int64_t tensor_axis(ValueId t, int64_t axis, Loc loc);

template <class T>
concept TensorElement = is_stage_scalar_v<T>;

/// A located tensor operand: operators take it so the node records the
/// user's line.
template <class T>
struct TArg {
  ValueId v;
  Loc loc;
  TArg(const Tensor<T>& t, Loc l = Loc::current());
};

template <class X, class T>
concept ScalarOperand = std::is_arithmetic_v<X> || std::is_same_v<X, Rep<T>>;

template <class T, class X>
ValueId scalar_operand(const X& x, Loc loc) {
  if constexpr (std::is_arithmetic_v<X>) return literal(scalar_of<T>(), x, loc);
  else return x.value(loc);
}

}  // namespace detail

/// A staged tensor of element type T and a static shape.
template <class T>
class Tensor {
  static_assert(detail::TensorElement<T>, "Tensor<T>: T must be bool, int32_t, int64_t, float or double");

 public:
  using value_type = T;

  /// The shape, known at staging time.
  std::vector<int64_t> shape() const { return detail::tensor_shape(v_); }
  int64_t rank() const { return static_cast<int64_t>(shape().size()); }
  /// Extent of an axis (negative counts from the end).
  int64_t dim(int64_t axis, detail::Loc loc = detail::Loc::current()) const {
    return shape()[detail::tensor_axis(value(loc), axis, loc)];
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape()) n *= d;
    return n;
  }

  /// Sum / max / mean over axes (every axis when empty) as a tensor; with
  /// every axis and no keepdims, use sum_all() and friends for a Rep.
  Tensor sum(std::vector<int64_t> axes, bool keepdims = false, detail::Loc loc = detail::Loc::current()) const {
    return reduce(ir::Op::ReduceSum, std::move(axes), keepdims, loc);
  }
  Tensor max(std::vector<int64_t> axes, bool keepdims = false, detail::Loc loc = detail::Loc::current()) const {
    return reduce(ir::Op::ReduceMax, std::move(axes), keepdims, loc);
  }
  Tensor mean(std::vector<int64_t> axes, bool keepdims = false, detail::Loc loc = detail::Loc::current()) const
    requires std::is_floating_point_v<T>
  {
    Tensor s = sum(axes, keepdims, loc);
    return s * static_cast<T>(static_cast<double>(s.numel()) / static_cast<double>(numel()));
  }
  /// Every element summed (row-major order), maxed, averaged: a Rep.
  Rep<T> sum_all(detail::Loc loc = detail::Loc::current()) const {
    return Rep<T>::from_value(detail::tensor_reduce(ir::Op::ReduceSum, value(loc), {}, false, loc), loc);
  }
  Rep<T> max_all(detail::Loc loc = detail::Loc::current()) const {
    return Rep<T>::from_value(detail::tensor_reduce(ir::Op::ReduceMax, value(loc), {}, false, loc), loc);
  }
  Rep<T> mean_all(detail::Loc loc = detail::Loc::current()) const
    requires std::is_floating_point_v<T>
  {
    return sum_all(loc) * static_cast<T>(1.0 / static_cast<double>(numel()));
  }

  /// The same elements in another shape (one extent may be -1: inferred).
  Tensor reshape(std::vector<int64_t> shape, detail::Loc loc = detail::Loc::current()) const {
    return from_value(detail::tensor_reshape(value(loc), std::move(shape), loc));
  }
  /// Axes permuted: result axis k is axis perm[k]; no argument reverses them.
  Tensor transpose(std::vector<int64_t> perm = {}, detail::Loc loc = detail::Loc::current()) const {
    return from_value(detail::tensor_transpose(value(loc), std::move(perm), loc));
  }
  /// Elements start, start+step, ... below stop along one axis (Python's
  /// t[start:stop:step] with step >= 1; negative start/stop count from the end).
  Tensor slice(int64_t axis, int64_t start, int64_t stop, int64_t step = 1,
               detail::Loc loc = detail::Loc::current()) const {
    return from_value(detail::tensor_slice(value(loc), axis, start, stop, step, loc));
  }
  /// Broadcast to a shape (NumPy rules).
  Tensor broadcast_to(std::vector<int64_t> shape, detail::Loc loc = detail::Loc::current()) const {
    return from_value(detail::tensor_broadcast_to(value(loc), shape, loc));
  }

  // Elementwise operators: Tensor op Tensor (broadcasting), Tensor op Rep<T>
  // or a literal (splat), in both orders. Hidden friends: found for a
  // Tensor<T> operand, with the located operand recording the user's line.
#define KILN_TENSOR_OPERATOR(OP, IROP, RESULT, REQ)                                                            \
  friend Tensor<RESULT> operator OP(detail::TArg<T> a, const Tensor& b)                                       \
    requires(REQ)                                                                                             \
  {                                                                                                           \
    return Tensor<RESULT>::from_value(detail::tensor_elementwise(ir::Op::IROP, {a.v, b.value(a.loc)}, a.loc));          \
  }                                                                                                           \
  template <detail::ScalarOperand<T> X>                                                                       \
    requires(REQ)                                                                                             \
  friend Tensor<RESULT> operator OP(detail::TArg<T> a, const X& b) {                                          \
    return Tensor<RESULT>::from_value(                                                                        \
        detail::tensor_elementwise(ir::Op::IROP, {a.v, detail::scalar_operand<T>(b, a.loc)}, a.loc));         \
  }                                                                                                           \
  template <detail::ScalarOperand<T> X>                                                                       \
    requires(REQ)                                                                                             \
  friend Tensor<RESULT> operator OP(const X& a, detail::TArg<T> b) {                                          \
    return Tensor<RESULT>::from_value(                                                                        \
        detail::tensor_elementwise(ir::Op::IROP, {detail::scalar_operand<T>(a, b.loc), b.v}, b.loc));         \
  }
  KILN_TENSOR_OPERATOR(+, Add, T, (!std::is_same_v<T, bool>))
  KILN_TENSOR_OPERATOR(-, Sub, T, (!std::is_same_v<T, bool>))
  KILN_TENSOR_OPERATOR(*, Mul, T, (!std::is_same_v<T, bool>))
  KILN_TENSOR_OPERATOR(/, Div, T, (!std::is_same_v<T, bool>))
  KILN_TENSOR_OPERATOR(==, Eq, bool, true)
  KILN_TENSOR_OPERATOR(!=, Ne, bool, true)
  KILN_TENSOR_OPERATOR(<, Lt, bool, true)
  KILN_TENSOR_OPERATOR(<=, Le, bool, true)
  KILN_TENSOR_OPERATOR(>, Gt, bool, true)
  KILN_TENSOR_OPERATOR(>=, Ge, bool, true)
  KILN_TENSOR_OPERATOR(&&, And, bool, (std::is_same_v<T, bool>))
  KILN_TENSOR_OPERATOR(||, Or, bool, (std::is_same_v<T, bool>))
#undef KILN_TENSOR_OPERATOR
  friend Tensor operator-(detail::TArg<T> a)
    requires(!std::is_same_v<T, bool>)
  {
    return from_value(detail::tensor_elementwise(ir::Op::Neg, {a.v}, a.loc));
  }
  friend Tensor operator!(detail::TArg<T> a)
    requires(std::is_same_v<T, bool>)
  {
    return from_value(detail::tensor_elementwise(ir::Op::Not, {a.v}, a.loc));
  }
  template <class X>
  Tensor& operator+=(const X& b) { return *this = *this + b; }
  template <class X>
  Tensor& operator-=(const X& b) { return *this = *this - b; }
  template <class X>
  Tensor& operator*=(const X& b) { return *this = *this * b; }
  template <class X>
  Tensor& operator/=(const X& b) { return *this = *this / b; }

  /// For kiln's own templates.
  static Tensor from_value(detail::ValueId v) {
    Tensor t;
    t.v_ = v;
    t.scope_ = detail::tensor_scope();
    return t;
  }
  /// The tensor's IR value, checked to be in scope where it is used (not
  /// made inside a staged branch or loop that has ended, nor by another
  /// stage()).
  detail::ValueId value(detail::Loc loc = detail::Loc::current()) const {
    detail::check_tensor_scope(scope_, loc);
    return v_;
  }

 private:
  Tensor() = default;
  Tensor reduce(ir::Op op, std::vector<int64_t> axes, bool keepdims, detail::Loc loc) const {
    if (axes.empty())
      detail::staging_error("Tensor::sum/max/mean with no axes", loc,
                            "name the axes, or use sum_all()/max_all()/mean_all() for a Rep of every element");
    return from_value(detail::tensor_reduce(op, value(loc), std::move(axes), keepdims, loc));
  }
  detail::ValueId v_ = 0;
  uint64_t scope_ = 0;
};

template <class T>
detail::TArg<T>::TArg(const Tensor<T>& t, Loc l) : v(t.value(l)), loc(l) {}

// Math, elementwise.
#define KILN_TENSOR_UNARY(NAME, IROP, REQ)                                                          \
  template <class T>                                                                                \
    requires(REQ)                                                                                   \
  Tensor<T> NAME(const Tensor<T>& a, detail::Loc loc = detail::Loc::current()) {                    \
    return Tensor<T>::from_value(detail::tensor_elementwise(ir::Op::IROP, {a.value(loc)}, loc));       \
  }
KILN_TENSOR_UNARY(sqrt, Sqrt, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(exp, Exp, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(log, Log, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(sin, Sin, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(cos, Cos, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(tanh, Tanh, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(floor, Floor, std::is_floating_point_v<T>)
KILN_TENSOR_UNARY(abs, Abs, (!std::is_same_v<T, bool>))
#undef KILN_TENSOR_UNARY

#define KILN_TENSOR_BINARY_FN(NAME, IROP, REQ)                                                               \
  template <class T>                                                                                         \
    requires(REQ)                                                                                            \
  Tensor<T> NAME(const Tensor<T>& a, const Tensor<T>& b, detail::Loc loc = detail::Loc::current()) {         \
    return Tensor<T>::from_value(detail::tensor_elementwise(ir::Op::IROP, {a.value(loc), b.value(loc)}, loc));     \
  }                                                                                                          \
  template <class T, detail::ScalarOperand<T> X>                                                             \
    requires(REQ)                                                                                            \
  Tensor<T> NAME(const Tensor<T>& a, const X& b, detail::Loc loc = detail::Loc::current()) {                 \
    return Tensor<T>::from_value(                                                                            \
        detail::tensor_elementwise(ir::Op::IROP, {a.value(loc), detail::scalar_operand<T>(b, loc)}, loc));      \
  }                                                                                                          \
  template <class T, detail::ScalarOperand<T> X>                                                             \
    requires(REQ)                                                                                            \
  Tensor<T> NAME(const X& a, const Tensor<T>& b, detail::Loc loc = detail::Loc::current()) {                 \
    return Tensor<T>::from_value(                                                                            \
        detail::tensor_elementwise(ir::Op::IROP, {detail::scalar_operand<T>(a, loc), b.value(loc)}, loc));      \
  }
KILN_TENSOR_BINARY_FN(pow, Pow, std::is_floating_point_v<T>)
KILN_TENSOR_BINARY_FN(min, Min, (!std::is_same_v<T, bool>))
KILN_TENSOR_BINARY_FN(max, Max, (!std::is_same_v<T, bool>))
#undef KILN_TENSOR_BINARY_FN

/// c ? a : b elementwise (the three broadcast together).
template <class T>
Tensor<T> where(const Tensor<bool>& c, const Tensor<T>& a, const Tensor<T>& b, detail::Loc loc = detail::Loc::current()) {
  return Tensor<T>::from_value(detail::tensor_elementwise(ir::Op::Select, {c.value(loc), a.value(loc), b.value(loc)}, loc));
}
template <class T, detail::ScalarOperand<T> X>
Tensor<T> where(const Tensor<bool>& c, const Tensor<T>& a, const X& b, detail::Loc loc = detail::Loc::current()) {
  return Tensor<T>::from_value(
      detail::tensor_elementwise(ir::Op::Select, {c.value(loc), a.value(loc), detail::scalar_operand<T>(b, loc)}, loc));
}
template <class T, detail::ScalarOperand<T> X>
Tensor<T> where(const Tensor<bool>& c, const X& a, const Tensor<T>& b, detail::Loc loc = detail::Loc::current()) {
  return Tensor<T>::from_value(
      detail::tensor_elementwise(ir::Op::Select, {c.value(loc), detail::scalar_operand<T>(a, loc), b.value(loc)}, loc));
}

/// Elements converted to U (C++'s conversions; float -> int saturates).
template <class U, class T>
Tensor<U> cast(const Tensor<T>& a, detail::Loc loc = detail::Loc::current()) {
  return Tensor<U>::from_value(detail::tensor_cast(a.value(loc), detail::scalar_of<U>(), loc));
}

/// Matrix product over the last two axes; leading axes are batch axes
/// (broadcast as NumPy's matmul). Floating-point elements only.
template <class T>
  requires std::is_floating_point_v<T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b, detail::Loc loc = detail::Loc::current()) {
  return Tensor<T>::from_value(detail::tensor_matmul(a.value(loc), b.value(loc), loc));
}

// Neural-network activations, written with the ops above.
template <class T>
  requires std::is_floating_point_v<T>
Tensor<T> relu(const Tensor<T>& x, detail::Loc loc = detail::Loc::current()) {
  return max(x, T{0}, loc);
}
template <class T>
  requires std::is_floating_point_v<T>
Tensor<T> sigmoid(const Tensor<T>& x, detail::Loc loc = detail::Loc::current()) {
  Tensor<T> e = exp(Tensor<T>::from_value(detail::tensor_elementwise(ir::Op::Neg, {x.value(loc)}, loc)), loc);
  return Tensor<T>::from_value(detail::tensor_elementwise(
      ir::Op::Div,
      {detail::literal(detail::scalar_of<T>(), 1, loc),
       detail::tensor_elementwise(ir::Op::Add, {detail::literal(detail::scalar_of<T>(), 1, loc), e.value(loc)}, loc)},
      loc));
}
/// exp(x - max) / sum(exp(x - max)) along an axis (the last by default).
template <class T>
  requires std::is_floating_point_v<T>
Tensor<T> softmax(const Tensor<T>& x, int64_t axis = -1, detail::Loc loc = detail::Loc::current()) {
  ir::Op sub = ir::Op::Sub, div = ir::Op::Div;
  Tensor<T> e = exp(Tensor<T>::from_value(detail::tensor_elementwise(sub, {x.value(loc), x.max({axis}, true, loc).value(loc)}, loc)), loc);
  return Tensor<T>::from_value(detail::tensor_elementwise(div, {e.value(loc), e.sum({axis}, true, loc).value(loc)}, loc));
}
/// x - max - log(sum(exp(x - max))) along an axis (the last by default).
template <class T>
  requires std::is_floating_point_v<T>
Tensor<T> log_softmax(const Tensor<T>& x, int64_t axis = -1, detail::Loc loc = detail::Loc::current()) {
  ir::Op sub = ir::Op::Sub;
  Tensor<T> z = Tensor<T>::from_value(detail::tensor_elementwise(sub, {x.value(loc), x.max({axis}, true, loc).value(loc)}, loc));
  Tensor<T> lse = log(exp(z, loc).sum({axis}, true, loc), loc);
  return Tensor<T>::from_value(detail::tensor_elementwise(sub, {z.value(loc), lse.value(loc)}, loc));
}

/// Constant tensors.
template <class T>
Tensor<T> full(std::vector<int64_t> shape, T value, detail::Loc loc = detail::Loc::current()) {
  return Tensor<T>::from_value(
      detail::tensor_fill(detail::scalar_of<T>(), ir::encode_const(detail::scalar_of<T>(), static_cast<double>(value)),
                          shape, loc));
}
template <class T>
Tensor<T> zeros(std::vector<int64_t> shape, detail::Loc loc = detail::Loc::current()) {
  return full<T>(std::move(shape), T{}, loc);
}
template <class T>
Tensor<T> ones(std::vector<int64_t> shape, detail::Loc loc = detail::Loc::current()) {
  return full<T>(std::move(shape), T{1}, loc);
}
/// 0, 1, ..., n-1.
template <class T>
Tensor<T> arange(int64_t n, detail::Loc loc = detail::Loc::current()) {
  return Tensor<T>::from_value(detail::tensor_iota(detail::scalar_of<T>(), n, loc));
}
/// A tensor holding these stage-time values, row-major (the shape's element
/// count must match).
template <class T>
Tensor<T> constant(const std::vector<T>& values, std::vector<int64_t> shape, detail::Loc loc = detail::Loc::current()) {
  std::vector<int64_t> bits;
  bits.reserve(values.size());
  for (const T& x : values) {
    if constexpr (std::is_floating_point_v<T>) bits.push_back(ir::encode_const(detail::scalar_of<T>(), x));
    else bits.push_back(ir::encode_const_int(detail::scalar_of<T>(), static_cast<int64_t>(x)));
  }
  return Tensor<T>::from_value(detail::tensor_dense(detail::scalar_of<T>(), bits, shape, loc));
}

/// one_hot<T>(labels, n)[..., k] = (labels[...] == k) as T: a new last axis.
template <class T, class I>
  requires(std::is_same_v<I, int32_t> || std::is_same_v<I, int64_t>)
Tensor<T> one_hot(const Tensor<I>& labels, int64_t n, detail::Loc loc = detail::Loc::current()) {
  std::vector<int64_t> s = labels.shape();
  s.push_back(1);
  detail::ValueId hit = detail::tensor_elementwise(ir::Op::Eq, {labels.reshape(s, loc).value(loc), arange<I>(n, loc).value(loc)}, loc);
  return Tensor<T>::from_value(detail::tensor_cast(hit, detail::scalar_of<T>(), loc));
}
/// gather(x, idx)[i...] = x[i..., idx[i...]]: one element of the last axis
/// of x per index (x's leading shape equals idx's). Written as a masked sum,
/// so its gradient is a scatter into the chosen elements.
template <class T, class I>
  requires(std::is_floating_point_v<T> && (std::is_same_v<I, int32_t> || std::is_same_v<I, int64_t>))
Tensor<T> gather(const Tensor<T>& x, const Tensor<I>& idx, detail::Loc loc = detail::Loc::current()) {
  Tensor<T> mask = one_hot<T>(idx, x.dim(-1, loc), loc);
  return Tensor<T>::from_value(detail::tensor_elementwise(ir::Op::Mul, {x.value(loc), mask.value(loc)}, loc)).sum({-1}, false, loc);
}

// Arr members that make and store tensors (declared in rep.h).
template <class T>
Tensor<typename Arr<T>::value_type> Arr<T>::tensor(std::vector<int64_t> shape, detail::Loc loc) const {
  return Tensor<value_type>::from_value(detail::tensor_load(value(loc), shape, nullptr, loc));
}
template <class T>
Tensor<typename Arr<T>::value_type> Arr<T>::tensor(std::vector<int64_t> shape, detail::Index offset,
                                                   detail::Loc loc) const {
  return Tensor<value_type>::from_value(detail::tensor_load(value(loc), shape, &offset.v, loc));
}
template <class T>
void Arr<T>::store(const Tensor<value_type>& t, detail::Loc loc) const
  requires(!std::is_const_v<T>)
{
  detail::tensor_store(t.value(loc), value(loc), nullptr, loc);
}
template <class T>
void Arr<T>::store(const Tensor<value_type>& t, detail::Index offset, detail::Loc loc) const
  requires(!std::is_const_v<T>)
{
  detail::tensor_store(t.value(loc), value(loc), &offset.v, loc);
}

}  // namespace kiln

// Eigen interop: compiled functions take Eigen's dense objects (Matrix,
// Array, Map, Ref, and blocks with contiguous storage) wherever they take a
// std::span, for Arr<const T> (read) and Arr<T> (written in place)
// parameters. Optional: include it only where Eigen 3.4 is on the include
// path; kiln itself does not need Eigen.
//
//   auto f = kiln::compile(staged);   // staged: (Arr<const float> a, Arr<float> y)
//   Eigen::MatrixXf A = Eigen::MatrixXf::Random(64, 32);
//   Eigen::VectorXf y(64 * 32);
//   f(A, y);
//
// Layout: compiled code sees the elements in memory order, which for
// Eigen's default (column-major) matrices is column by column: an M x N
// Eigen::MatrixXf read as `a.tensor({N, M})` is its transpose, row-major.
// For a row-major tensor pass a RowMajor matrix:
//
//   Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> A(M, N);
//   f(A, y);   // a.tensor({M, N}) is A
//
// An object whose elements are not contiguous (a row of a column-major
// matrix, a strided Map, an inner block) is refused with a kiln::ShapeError
// naming the caller's line; a scalar type other than the parameter's, or a
// read-only object for a written parameter, does not compile.
#pragma once

#include <kiln/compile.h>
#include <kiln/error.h>

#include <Eigen/Core>

#include <cstddef>
#include <source_location>
#include <span>
#include <string>
#include <type_traits>

namespace kiln {

namespace detail {

/// T is one of Eigen's dense objects or expressions (a DenseBase).
template <class T>
concept eigen_dense = requires { typename T::Scalar; } && std::is_base_of_v<Eigen::DenseBase<T>, T>;

/// Eigen's elements of `x`, when they sit contiguously in memory; else a
/// ShapeError at `where` saying what to do (for a written parameter, which
/// is written in place, copying the object is no remedy).
template <class X>
auto eigen_contiguous(X& x, const std::source_location& where, bool written) {
  using Element = std::remove_pointer_t<decltype(x.data())>;
  const Eigen::Index inner = x.innerSize(), outer = x.outerSize();
  const Eigen::Index inner_stride = x.innerStride(), outer_stride = x.outerStride();
  const bool contiguous = x.size() == 0 || ((inner <= 1 || inner_stride == 1) && (outer <= 1 || outer_stride == inner));
  if (!contiguous) {
    // Appends, not "literal" + std::string: GCC 12 warns (-Wrestrict) on those in user code.
    std::string what = "an Eigen object of ";
    what += std::to_string(x.rows());
    what += "x";
    what += std::to_string(x.cols());
    what += " elements with inner stride ";
    what += std::to_string(inner_stride);
    what += " and outer stride ";
    what += std::to_string(outer_stride);
    what += " is not contiguous in memory, which a compiled function's buffer argument must be";
    throw ShapeError(user_message(
        what, where,
        written ? "a written Arr<T> parameter is written in place: pass a contiguous Eigen::Matrix and copy it "
                  "into this object after the call"
                : "copy it into a contiguous Eigen::Matrix first, or pass .eval() of it"));
  }
  return std::span<Element>(x.data(), static_cast<size_t>(x.size()));
}

}  // namespace detail

/// The elements of an Eigen Matrix, Array, Map, Ref or block in memory
/// order (column by column unless it is RowMajor), as a span: of const
/// elements when `x` is read-only (const, a Map<const ...>, a Ref<const ...>).
/// Throws kiln::ShapeError, naming the caller's file:line, when the elements
/// are not contiguous (inner stride 1, outer stride the inner size). The
/// span points into `x`'s storage (so a temporary Matrix or Array does not
/// compile: the span would outlive it).
///
///   std::span<const double> s = kiln::eigen_span(A);   // const Eigen::MatrixXd& A
template <class X>
  requires detail::eigen_dense<std::remove_cvref_t<X>>
auto eigen_span(X&& x, std::source_location where = std::source_location::current()) {
  using T = std::remove_cvref_t<X>;
  static_assert(T::Flags & Eigen::DirectAccessBit,
                "kiln::eigen_span: this Eigen expression has no storage of its own (a sum, a product, a "
                "cast, ...): evaluate it first, into an Eigen::Matrix");
  static_assert(std::is_lvalue_reference_v<X> || !std::is_base_of_v<Eigen::PlainObjectBase<T>, T>,
                "kiln::eigen_span: the span would point into a temporary Matrix or Array: name the object first");
  if constexpr (T::Flags & Eigen::DirectAccessBit) return detail::eigen_contiguous(x, where, false);
}

/// kiln::as_span for Eigen's dense objects: a compiled function takes an
/// Eigen Matrix, Array, Map, Ref or contiguous block (e.g. `A.col(j)`, or
/// `A.middleCols(j, n)` of a column-major A) for an Arr<const T> parameter,
/// and a writable one for an Arr<T> parameter. The scalar type must be T
/// (a static_assert says so otherwise); the layout is checked per call.
///
///   f(A, x, y);   // Compiled<void(std::span<const float>, std::span<const float>, std::span<float>)>
template <class T>
  requires detail::eigen_dense<T>
struct as_span<T> {
  /// The scalar the Eigen object holds.
  using element_type = typename T::Scalar;

  /// x's elements for a parameter of element type E (see kiln::as_span).
  template <class E, class X>
  static std::span<E> to_span(X& x, std::source_location where) {
    if constexpr (!std::is_same_v<std::remove_const_t<E>, element_type>) {
      static_assert(std::is_same_v<std::remove_const_t<E>, element_type>,
                    "kiln/eigen.h: the Eigen object's Scalar is not the Arr<T> parameter's T (e.g. an "
                    "Eigen::MatrixXd passed for an Arr<float>): pass x.cast<T>().eval(), or stage the "
                    "function for the object's scalar type");
      return {};
    } else if constexpr (!(T::Flags & Eigen::DirectAccessBit)) {
      static_assert(T::Flags & Eigen::DirectAccessBit,
                    "kiln/eigen.h: this Eigen expression has no storage of its own (a sum, a product, a cast, "
                    "...): evaluate it first, with .eval() or into an Eigen::Matrix (for a written Arr<T> "
                    "parameter, pass the Matrix the result goes to)");
      return {};
    } else if constexpr (!std::is_const_v<E> && std::is_const_v<std::remove_pointer_t<decltype(x.data())>>) {
      static_assert(std::is_const_v<E>,
                    "kiln/eigen.h: a written Arr<T> parameter needs a writable Eigen object, not a const one, "
                    "a Map<const ...> or a Ref<const ...>");
      return {};
    } else {
      return detail::eigen_contiguous(x, where, !std::is_const_v<E>);
    }
  }
};

}  // namespace kiln

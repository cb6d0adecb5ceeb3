// Scalar semantics of the IR: integer wrap-around, traps, IEEE floats without
// contraction, saturating casts. The interpreter executes them and constant
// folding evaluates with them, so the two cannot disagree.
// Integers live sign-extended in Slot::i, i1 as 0 or 1; f32 in Slot::f32; f64 in
// Slot::f64.
#pragma once

#include <kiln/ir/ir.h>

#include <kiln/compile.h>

namespace kiln::ir {

using Value = detail::Slot;

/// Why a scalar op trapped; empty when it did not.
struct Trap {
  const char* what = nullptr;
  explicit operator bool() const { return what != nullptr; }
};

/// Evaluates a pure scalar op (unary, binary, compare, fma, select, cast)
/// whose operands have the types of `args` and whose result type is `type`.
Value eval_scalar(Op op, Type type, const Type* arg_types, const Value* args, size_t nargs, Trap& trap);

/// A constant node's value.
Value constant_value(const Node& n);
/// The `imm` of a constant of scalar type s holding v (inverse of constant_value).
int64_t constant_imm(Scalar s, const Value& v);

/// Reads / writes buffer element i of scalar type s.
Value load_element(Scalar s, const void* data, int64_t i);
void store_element(Scalar s, void* data, int64_t i, const Value& v);

/// Normalises an integer to the range of type s (wraps; i1 keeps bit 0).
int64_t wrap(Scalar s, uint64_t bits);

}  // namespace kiln::ir

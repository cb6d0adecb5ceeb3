// The interpreter's tensor ops: the reference semantics of ir.h's tensor
// section, executed directly on unlowered IR, so that tensor lowering
// (codegen/lower) is tested against them like every other pass.
//
// A tensor value is a Value whose `p` points at its elements (row-major,
// each element stored as a buffer element of its scalar type, see
// load_element) and whose `size` is its element count. Tensors are
// immutable: every op writes a fresh block, owned by the frame's `blocks`.
#pragma once

#include <kiln/ir/ir.h>

#include "interpreter.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kiln::interp {

/// Storage of the tensors (and allocs) of one interpreter frame.
using Blocks = std::vector<std::unique_ptr<unsigned char[]>>;

/// Reports a trap: what went wrong and what to do; never returns.
using TrapFn = std::function<void(const std::string& what, const std::string& remedy)>;

/// Evaluates node n of f: a tensor op (tensor.*) or an elementwise op with
/// tensor operands. `args` are the operands' values, in order. Returns the
/// result (an empty Value for tensor.store). Out-of-range tensor.load /
/// tensor.store and elementwise traps (integer division by zero) call trap.
Value eval_tensor(const ir::Function& f, const ir::Node& n, const std::vector<Value>& args, Blocks& blocks,
                  const TrapFn& trap);

/// tensor.matmul's arithmetic, also the reference of the `gemm` op: for each
/// of `batches` consecutive products, C[i, j] (row-major m x n, at c) = the
/// sum over p ascending of A[i, p] * B[p, j], as the loop `acc = 0; acc =
/// acc + a * b` computes it: product and sum rounded separately (no fma),
/// from +0. A starts at element a_off of a, B at element b_off of b; with
/// trans_a, a holds each A transposed (k x m), with trans_b b each B (n x k).
void matmul_elements(ir::Scalar elem, const void* a, int64_t a_off, const void* b, int64_t b_off, void* c,
                     int64_t batches, int64_t m, int64_t k, int64_t n, bool trans_a = false, bool trans_b = false);

}  // namespace kiln::interp

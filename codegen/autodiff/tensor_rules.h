// Shape plumbing the tensor derivative rules share (forward.cpp and
// reverse_sweep.cpp): moving a value between a reduced or broadcast shape
// and the full one, and swapping the matrix axes of a matmul operand.
#pragma once

#include <kiln/ir/ir.h>

#include <functional>
#include <vector>

namespace kiln::autodiff {

/// Emits a node (op, type, args, imm) where the caller is emitting.
using EmitFn = std::function<ir::ValueId(ir::Op, ir::Type, std::vector<ir::ValueId>, int64_t)>;

/// g, of the shape a tensor.sum / tensor.max with `mask` gives from `x`
/// (a scalar when every axis went), spread back over x's shape.
inline ir::ValueId spread(const EmitFn& emit, ir::ValueId g, ir::Type g_type, ir::Type x, int64_t mask) {
  using namespace ir;
  if (!g_type.is_tensor()) return emit(Op::Splat, x, {g}, 0);
  std::vector<int64_t> kept = shape(x);
  for (size_t k = 0; k < kept.size(); ++k)
    if (reduces_axis(mask, k)) kept[k] = 1;
  ValueId r = emit(Op::Reshape, Type::tensor(x.elem, kept), {g}, 0);
  return emit(Op::Broadcast, x, {r}, 0);
}

/// The adjoint of tensor.broadcast from `to` to `from`: g (of shape
/// `from`) summed over the axes broadcasting added or stretched.
inline ir::ValueId unbroadcast(const EmitFn& emit, ir::ValueId g, ir::Type from, ir::Type to) {
  using namespace ir;
  const std::vector<int64_t> out = shape(from), in = shape(to);
  const size_t lead = out.size() - in.size();
  int64_t mask = 0;
  for (size_t k = 0; k < out.size(); ++k)
    if (k < lead || (in[k - lead] == 1 && out[k] != 1)) mask |= int64_t{1} << k;
  if (mask == 0) return emit(Op::Reshape, to, {g}, 0);
  std::vector<int64_t> kept;
  for (size_t k = 0; k < out.size(); ++k)
    if (!reduces_axis(mask, k)) kept.push_back(out[k]);
  if (kept.empty()) {
    ValueId s = emit(Op::ReduceSum, from.element(), {g}, mask);
    return emit(Op::Splat, to, {s}, 0);
  }
  ValueId s = emit(Op::ReduceSum, Type::tensor(from.elem, kept), {g}, mask);
  return kept == in ? s : emit(Op::Reshape, to, {s}, 0);
}

/// x with its last two axes swapped.
inline ir::ValueId swap_last_axes(const EmitFn& emit, ir::ValueId x, ir::Type t) {
  using namespace ir;
  std::vector<int64_t> s = shape(t), perm(s.size());
  for (size_t k = 0; k < s.size(); ++k) perm[k] = static_cast<int64_t>(k);
  std::swap(perm[s.size() - 1], perm[s.size() - 2]);
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  return emit(Op::Transpose, Type::tensor(t.elem, s), {x}, intern_ints(perm));
}

/// The inverse of a permutation (an ints id), as an ints id.
inline int64_t inverse_permutation(int64_t id) {
  std::vector<int64_t> p = ir::ints(static_cast<uint32_t>(id)), q(p.size());
  for (size_t k = 0; k < p.size(); ++k) q[static_cast<size_t>(p[k])] = static_cast<int64_t>(k);
  return ir::intern_ints(q);
}

}  // namespace kiln::autodiff

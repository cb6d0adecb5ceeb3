// Tensor staging (include/kiln/tensor.h): shape rules checked at staging
// time, NumPy broadcasting made explicit as tensor.broadcast nodes.
#include <kiln/tensor.h>

#include "context.h"

#include <algorithm>
#include <numeric>

namespace kiln::detail {
namespace {

using ir::Op;
using ir::Type;

Context& ctx(Loc loc) {
  Context* c = current();
  if (!c) staging_error("using a kiln::Tensor outside kiln::stage()", loc, "build tensors inside the staged lambda");
  return *c;
}

Type type_of(ValueId v, Loc loc) { return ctx(loc).fn().type(v); }

std::string text(const Shape& s) { return "[" + ir::shape_text(s) + "]"; }
std::string text(Type t) { return t.is_tensor() ? "tensor " + text(ir::shape(t)) : rep_name(t.elem); }

Type checked_tensor(ValueId v, const char* what, Loc loc) {
  Type t = type_of(v, loc);
  if (!t.is_tensor()) staging_error(std::string(what) + " needs a tensor, got " + text(t), loc, "pass a kiln::Tensor");
  return t;
}

void check_shape(const Shape& s, const char* what, Loc loc) {
  if (s.empty()) staging_error(std::string(what) + ": a tensor needs at least one axis", loc,
                               "use a Rep for a single value, or shape {1}");
  if (s.size() > 16) staging_error(std::string(what) + ": more than 16 axes", loc, "reshape to fewer axes");
  for (int64_t d : s)
    if (d < 1)
      staging_error(std::string(what) + ": shape " + text(s) + " has an extent below 1", loc,
                    "give every axis an extent of at least 1");
}

// NumPy's broadcast of two shapes, or a StagingError naming both.
Shape broadcast_shapes(const Shape& a, const Shape& b, Loc loc) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1, y = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (x != y && x != 1 && y != 1)
      staging_error("shapes " + text(a) + " and " + text(b) + " do not broadcast: axis " +
                        std::to_string(out.size() - 1 - i) + " of the result is " + std::to_string(x) + " in one and " +
                        std::to_string(y) + " in the other",
                    loc, "make the extents equal, or 1 where one operand should repeat (reshape or slice it)");
    out[out.size() - 1 - i] = std::max(x, y);
  }
  return out;
}

ValueId to_shape(ValueId v, const Shape& shape, Loc loc) {
  Type t = type_of(v, loc);
  if (!t.is_tensor()) return emit(Op::Splat, Type::tensor(t.elem, shape), {v}, loc);
  if (ir::shape(t) == shape) return v;
  return emit(Op::Broadcast, Type::tensor(t.elem, shape), {v}, loc);
}

int64_t normal_axis(int64_t axis, size_t rank, Loc loc) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    staging_error("axis " + std::to_string(axis) + " is out of range for a tensor of " + std::to_string(r) + " axes",
                  loc, "use 0 to " + std::to_string(r - 1) + ", or -1 for the last");
  return axis < 0 ? axis + r : axis;
}

ValueId offset_or_zero(const ValueId* offset, Loc loc) {
  return offset ? *offset : constant(ir::Scalar::i64, 0, loc);
}

}  // namespace

uint64_t tensor_scope() {
  Context* c = current();
  return c ? (uint64_t{c->serial()} << 32) | c->frame_serial() : 0;
}

void check_tensor_scope(uint64_t scope, Loc loc) {
  Context& c = ctx(loc);
  if (scope >> 32 != c.serial())
    staging_error("a kiln::Tensor made while staging another function", loc,
                  "make the tensor inside this stage() lambda (from its own Arr parameters)");
  if (!c.frame_open(static_cast<uint32_t>(scope)))
    staging_error("a kiln::Tensor made inside a staged branch or loop body is used after that body ended", loc,
                  "tensors are values, not variables: store it into an Arr inside the body and read it back "
                  "outside, or compute it outside the staged control flow");
}

Shape tensor_shape(ValueId t) { return ir::shape(type_of(t, Loc::current())); }

int64_t tensor_axis(ValueId t, int64_t axis, Loc loc) {
  return normal_axis(axis, ir::shape(checked_tensor(t, "Tensor::dim", loc)).size(), loc);
}

ValueId tensor_load(ValueId buf, const Shape& shape, const ValueId* offset, Loc loc) {
  check_shape(shape, "Arr::tensor", loc);
  Type b = type_of(buf, loc);
  return emit(Op::TensorLoad, Type::tensor(b.elem, shape), {buf, offset_or_zero(offset, loc)}, loc, offset ? 0 : 1);
}

void tensor_store(ValueId t, ValueId buf, const ValueId* offset, Loc loc) {
  checked_tensor(t, "Arr::store", loc);
  emit(Op::TensorStore, Type{}, {t, buf, offset_or_zero(offset, loc)}, loc, offset ? 0 : 1);
}

ValueId tensor_elementwise(Op op, std::vector<ValueId> args, Loc loc) {
  Shape shape;
  bool any = false;
  for (ValueId a : args)
    if (Type t = type_of(a, loc); t.is_tensor()) {
      shape = any ? broadcast_shapes(shape, ir::shape(t), loc) : ir::shape(t);
      any = true;
    }
  if (!any) staging_error("a tensor op without a tensor operand", loc, "pass a kiln::Tensor");
  for (ValueId& a : args) a = to_shape(a, shape, loc);
  const ir::OpInfo& oi = ir::info(op);
  Type operand = type_of(args.back(), loc);
  Type result = oi.shape == ir::Shape::compare ? operand.with_elem(ir::Scalar::i1) : operand;
  return emit(op, result, std::move(args), loc);
}

ValueId tensor_cast(ValueId t, ir::Scalar to, Loc loc) {
  Type x = checked_tensor(t, "cast", loc);
  if (x.elem == to) return t;
  return emit(Op::Cast, x.with_elem(to), {t}, loc);
}

ValueId tensor_fill(ir::Scalar s, int64_t bits, const Shape& shape, Loc loc) {
  check_shape(shape, "full", loc);
  return emit(Op::Const, Type::tensor(s, shape), {}, loc, bits);
}

ValueId tensor_dense(ir::Scalar s, const std::vector<int64_t>& bits, const Shape& shape, Loc loc) {
  check_shape(shape, "constant", loc);
  const int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
  if (static_cast<int64_t>(bits.size()) != n)
    staging_error("constant: " + std::to_string(bits.size()) + " values for shape " + text(shape) + " (" +
                      std::to_string(n) + " elements)",
                  loc, "give one value per element, row-major");
  return emit(Op::TensorConst, Type::tensor(s, shape), {}, loc, ir::intern_ints(bits));
}

ValueId tensor_iota(ir::Scalar s, int64_t n, Loc loc) {
  check_shape({n}, "arange", loc);
  if (s == ir::Scalar::i1) staging_error("arange of bool", loc, "use an integer or floating-point element type");
  return emit(Op::Iota, Type::tensor(s, Shape{n}), {}, loc);
}

ValueId tensor_broadcast_to(ValueId t, const Shape& shape, Loc loc) {
  Type x = checked_tensor(t, "broadcast_to", loc);
  check_shape(shape, "broadcast_to", loc);
  if (broadcast_shapes(ir::shape(x), shape, loc) != shape)
    staging_error("broadcast_to: " + text(ir::shape(x)) + " does not broadcast to " + text(shape), loc,
                  "the target needs the operand's extents (or more axes on the left)");
  return to_shape(t, shape, loc);
}

ValueId tensor_reshape(ValueId t, Shape shape, Loc loc) {
  Type x = checked_tensor(t, "reshape", loc);
  const int64_t n = ir::numel(x);
  auto minus = std::count(shape.begin(), shape.end(), -1);
  if (minus > 1) staging_error("reshape to " + text(shape) + ": more than one -1", loc, "infer at most one extent");
  if (minus == 1) {
    int64_t known = 1;
    for (int64_t d : shape)
      if (d != -1) known *= d;
    if (known <= 0 || n % known != 0)
      staging_error("reshape of " + text(ir::shape(x)) + " to " + text(shape) + ": " + std::to_string(n) +
                        " elements do not divide into it",
                    loc, "keep the element count");
    *std::find(shape.begin(), shape.end(), -1) = n / known;
  }
  check_shape(shape, "reshape", loc);
  const int64_t m = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
  if (m != n)
    staging_error("reshape of " + text(ir::shape(x)) + " (" + std::to_string(n) + " elements) to " + text(shape) +
                      " (" + std::to_string(m) + ")",
                  loc, "keep the element count");
  if (shape == ir::shape(x)) return t;
  return emit(Op::Reshape, Type::tensor(x.elem, shape), {t}, loc);
}

ValueId tensor_transpose(ValueId t, std::vector<int64_t> perm, Loc loc) {
  Type x = checked_tensor(t, "transpose", loc);
  const Shape in = ir::shape(x);
  if (perm.empty())
    for (size_t k = in.size(); k-- > 0;) perm.push_back(static_cast<int64_t>(k));
  std::vector<char> seen(in.size(), 0);
  bool ok = perm.size() == in.size();
  for (int64_t& p : perm) {
    if (!ok) break;
    p = normal_axis(p, in.size(), loc);
    ok = !seen[p];
    seen[p] = 1;
  }
  if (!ok)
    staging_error("transpose of a tensor of " + std::to_string(in.size()) + " axes needs a permutation of them", loc,
                  "list every axis once, e.g. {1, 0}");
  Shape out;
  bool identity = true;
  for (size_t k = 0; k < perm.size(); ++k) {
    out.push_back(in[perm[k]]);
    identity = identity && perm[k] == static_cast<int64_t>(k);
  }
  if (identity) return t;
  return emit(Op::Transpose, Type::tensor(x.elem, out), {t}, loc, ir::intern_ints(perm));
}

ValueId tensor_slice(ValueId t, int64_t axis, int64_t start, int64_t stop, int64_t step, Loc loc) {
  Type x = checked_tensor(t, "slice", loc);
  Shape in = ir::shape(x);
  const int64_t a = normal_axis(axis, in.size(), loc), n = in[a];
  if (step < 1) staging_error("slice step " + std::to_string(step), loc, "use a step of 1 or more");
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  start = std::clamp<int64_t>(start, 0, n);
  stop = std::clamp<int64_t>(stop, 0, n);
  if (stop <= start)
    staging_error("slice [" + std::to_string(start) + ":" + std::to_string(stop) + "] of axis " + std::to_string(a) +
                      " (extent " + std::to_string(n) + ") is empty",
                  loc, "tensors have no empty axes: slice at least one element");
  std::vector<int64_t> attr;
  Shape out = in;
  for (size_t k = 0; k < in.size(); ++k) {
    if (static_cast<int64_t>(k) == a) {
      attr.insert(attr.end(), {start, step});
      out[k] = (stop - start + step - 1) / step;
    } else {
      attr.insert(attr.end(), {0, 1});
    }
  }
  if (out == in) return t;
  return emit(Op::Slice, Type::tensor(x.elem, out), {t}, loc, ir::intern_ints(attr));
}

ValueId tensor_reduce(Op op, ValueId t, std::vector<int64_t> axes, bool keepdims, Loc loc) {
  Type x = checked_tensor(t, op == Op::ReduceSum ? "sum" : "max", loc);
  const Shape in = ir::shape(x);
  if (x.elem == ir::Scalar::i1)
    staging_error(std::string(op == Op::ReduceSum ? "sum" : "max") + " of a bool tensor", loc,
                  "cast it first: kiln::cast<int32_t>(t)");
  int64_t mask = 0;
  if (axes.empty()) mask = (int64_t{1} << in.size()) - 1;
  for (int64_t a : axes) mask |= int64_t{1} << normal_axis(a, in.size(), loc);
  Shape out, kept;
  for (size_t k = 0; k < in.size(); ++k) {
    if (!ir::reduces_axis(mask, k)) out.push_back(in[k]);
    kept.push_back(ir::reduces_axis(mask, k) ? 1 : in[k]);
  }
  if (out.empty() && !keepdims && !axes.empty())
    staging_error("reducing every axis of a tensor " + text(in) + " leaves no tensor", loc,
                  "use sum_all() / max_all() / mean_all() for a Rep, or keepdims = true");
  ValueId r = emit(op, out.empty() ? x.element() : Type::tensor(x.elem, out), {t}, loc, mask);
  if (!keepdims) return r;
  if (out.empty()) return emit(Op::Splat, Type::tensor(x.elem, kept), {r}, loc);
  return tensor_reshape(r, kept, loc);
}

ValueId tensor_matmul(ValueId a, ValueId b, Loc loc) {
  Type ta = checked_tensor(a, "matmul", loc), tb = checked_tensor(b, "matmul", loc);
  Shape sa = ir::shape(ta), sb = ir::shape(tb);
  if (ta.elem != tb.elem || (ta.elem != ir::Scalar::f32 && ta.elem != ir::Scalar::f64))
    staging_error("matmul of " + text(ta) + " elements " + std::string(ir::to_string(ta.elem)) + " and " +
                      std::string(ir::to_string(tb.elem)),
                  loc, "multiply float or double tensors of one element type (cast one)");
  if (sa.size() < 2 || sb.size() < 2)
    staging_error("matmul of " + text(sa) + " and " + text(sb) + ": both need at least two axes", loc,
                  "reshape a vector to [1, n] or [n, 1]");
  if (sa.back() != sb[sb.size() - 2])
    staging_error("matmul of " + text(sa) + " by " + text(sb) + ": inner extents " + std::to_string(sa.back()) +
                      " and " + std::to_string(sb[sb.size() - 2]) + " differ",
                  loc, "the last axis of the left operand must equal the second-to-last of the right");
  Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, loc);
  auto widen = [&](ValueId v, Shape s) {
    Shape want = batch;
    want.insert(want.end(), s.end() - 2, s.end());
    return to_shape(v, want, loc);
  };
  a = widen(a, sa);
  b = widen(b, sb);
  Shape out = batch;
  out.push_back(sa[sa.size() - 2]);
  out.push_back(sb.back());
  return emit(Op::Matmul, Type::tensor(ta.elem, out), {a, b}, loc);
}

}  // namespace kiln::detail

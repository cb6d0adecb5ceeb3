// Operand checks by op shape: one switch over Shape, no default, so a new
// shape makes the compiler point here.
#include "check.h"

#include <algorithm>

namespace kiln::ir {
namespace {

std::string mismatch(Op op, const std::string& what) {
  return "'" + std::string(info(op).spelling) + "' " + what;
}

// Elementwise operands: scalars, or tensors of one shape, of one type.
bool same_scalar(const Function& f, const std::vector<ValueId>& args, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i)
    if (!f.type(args[i]).is_elementwise() || f.type(args[i]) != f.type(args[from])) return false;
  return true;
}

// By element type, for scalars and tensors alike.
bool is_int(Type t) { return t.is_elementwise() && (t.elem == Scalar::i32 || t.elem == Scalar::i64); }
bool is_float(Type t) { return t.is_elementwise() && (t.elem == Scalar::f32 || t.elem == Scalar::f64); }
bool is_bool(Type t) { return t.is_elementwise() && t.elem == Scalar::i1; }

bool valid_tensor(Type t) {
  if (!t.is_tensor()) return false;
  std::vector<int64_t> s = shape(t);
  if (s.empty() || s.size() > 16) return false;
  for (int64_t d : s)
    if (d < 1) return false;
  return true;
}

// The view ops' shape rules (see the semantics in ir.h).
std::string check_view(Op op, Type x, Type type, int64_t imm) {
  const std::vector<int64_t> in = shape(x), out = shape(type);
  auto bad = [&](const std::string& why) {
    return mismatch(op, why + ", got " + to_string(x) + " -> " + to_string(type));
  };
  switch (op) {
    case Op::Broadcast: {
      if (in.size() > out.size()) return bad("cannot lower the rank");
      for (size_t i = 0; i < in.size(); ++i) {
        int64_t a = in[in.size() - 1 - i], b = out[out.size() - 1 - i];
        if (a != b && a != 1) return bad("stretches only extents of 1");
      }
      return {};
    }
    case Op::Transpose: {
      if (imm < 0 || imm > UINT32_MAX) return bad("needs a permutation");
      std::vector<int64_t> perm = ints(static_cast<uint32_t>(imm));
      if (perm.size() != in.size() || out.size() != in.size()) return bad("needs a permutation of every axis");
      std::vector<char> seen(in.size(), 0);
      for (size_t k = 0; k < perm.size(); ++k) {
        if (perm[k] < 0 || perm[k] >= static_cast<int64_t>(in.size()) || seen[perm[k]]) return bad("needs a permutation");
        seen[perm[k]] = 1;
        if (out[k] != in[perm[k]]) return bad("gives result axis k the extent of operand axis perm[k]");
      }
      return {};
    }
    case Op::Reshape:
      if (numel(x) != numel(type)) return bad("keeps the element count");
      return {};
    case Op::Slice:
    case Op::Embed: {
      // Slice: x is the big tensor; embed: the result is.
      const std::vector<int64_t>& big = op == Op::Slice ? in : out;
      const std::vector<int64_t>& small = op == Op::Slice ? out : in;
      if (imm < 0 || imm > UINT32_MAX) return bad("needs start and step per axis");
      std::vector<int64_t> a = ints(static_cast<uint32_t>(imm));
      if (big.size() != small.size() || a.size() != 2 * big.size()) return bad("needs start and step per axis");
      for (size_t k = 0; k < big.size(); ++k) {
        // The last element, start + step * (small - 1), must be < big; start
        // and step come from the IR text as any int64, so compare by division.
        int64_t start = a[2 * k], step = a[2 * k + 1];
        if (step < 1 || start < 0 || start >= big[k] || (small[k] > 1 && step > (big[k] - 1 - start) / (small[k] - 1)))
          return bad("axis " + std::to_string(k) + " takes " + std::to_string(small[k]) + " elements from " +
                     std::to_string(start) + " by " + std::to_string(step) + " out of " + std::to_string(big[k]));
      }
      return {};
    }
    default:
      return bad("is not a view");
  }
}

std::string check_reduce(Op op, Type x, Type type, int64_t mask) {
  std::vector<int64_t> in = shape(x), want;
  if (mask <= 0 || mask >= (int64_t{1} << in.size())) return mismatch(op, "needs a mask of some of the operand's axes");
  for (size_t k = 0; k < in.size(); ++k)
    if (!reduces_axis(mask, k)) want.push_back(in[k]);
  Type expect = want.empty() ? x.element() : Type::tensor(x.elem, want);
  if (type != expect) return mismatch(op, "of " + to_string(x) + " gives " + to_string(expect) + ", not " + to_string(type));
  if (op == Op::ReduceSum && x.elem == Scalar::i1) return mismatch(op, "does not sum i1");
  return {};
}

std::string check_matmul(Op op, Type a, Type b, Type type) {
  std::vector<int64_t> sa = shape(a), sb = shape(b);
  if (!is_float(a) || a.elem != b.elem || sa.size() < 2 || sa.size() != sb.size())
    return mismatch(op, "needs two float tensors of one rank >= 2, got " + to_string(a) + ", " + to_string(b));
  size_t r = sa.size();
  if (!std::equal(sa.begin(), sa.end() - 2, sb.begin()) || sa[r - 1] != sb[r - 2])
    return mismatch(op, "cannot multiply " + to_string(a) + " by " + to_string(b));
  std::vector<int64_t> out(sa.begin(), sa.end() - 1);
  out.push_back(sb[r - 1]);
  if (type != Type::tensor(a.elem, out)) return mismatch(op, "gives " + to_string(Type::tensor(a.elem, out)));
  return {};
}

}  // namespace

std::string check_operands(const Function& f, Op op, Type type, const std::vector<ValueId>& args, int64_t imm) {
  auto arg = [&](size_t i) { return f.type(args[i]); };
  if (type.is_tensor() && !valid_tensor(type)) return mismatch(op, "has a tensor type of no extent");
  switch (info(op).shape) {
    case Shape::leaf:
      if (op == Op::Const && type.is_tensor()) return {};  // a splat
      if (op == Op::Const && !type.is_scalar()) return mismatch(op, "must have a scalar type, got " + to_string(type));
      if (!type.is_scalar() && type.kind != TypeKind::buf) return mismatch(op, "must have a scalar or buffer type");
      return {};
    case Shape::unary_num:
      if (!(is_int(arg(0)) || is_float(arg(0))) || type != arg(0))
        return mismatch(op, "needs an int or float operand of the result type, got " + to_string(arg(0)));
      return {};
    case Shape::unary_float:
      if (!is_float(arg(0)) || type != arg(0))
        return mismatch(op, "needs a float operand of the result type, got " + to_string(arg(0)));
      return {};
    case Shape::unary_bits:
      if (!(is_int(arg(0)) || is_bool(arg(0))) || type != arg(0))
        return mismatch(op, "needs an int or i1 operand of the result type, got " + to_string(arg(0)));
      return {};
    case Shape::cast:
      if (!arg(0).is_elementwise() || !type.is_elementwise() || arg(0).kind != type.kind || arg(0).dims != type.dims)
        return mismatch(op, "converts a scalar to a scalar (or a tensor to one of its shape), got " + to_string(arg(0)) +
                                " -> " + to_string(type));
      return {};
    case Shape::binary_num:
      if (!same_scalar(f, args, 0, 2) || is_bool(arg(0)) || type != arg(0))
        return mismatch(op, "needs two int or float operands of the result type, got " + to_string(arg(0)) +
                                ", " + to_string(arg(1)) + " -> " + to_string(type));
      return {};
    case Shape::binary_float:
      if (!same_scalar(f, args, 0, 2) || !is_float(arg(0)) || type != arg(0))
        return mismatch(op, "needs two float operands of the result type, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)));
      return {};
    case Shape::binary_bits:
      if (!same_scalar(f, args, 0, 2) || is_float(arg(0)) || type != arg(0))
        return mismatch(op, "needs two int or i1 operands of the result type, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)));
      return {};
    case Shape::shift:
      if (!same_scalar(f, args, 0, 2) || !is_int(arg(0)) || type != arg(0))
        return mismatch(op, "needs two int operands of the result type, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)));
      return {};
    case Shape::compare:
      if (!same_scalar(f, args, 0, 2) || type != arg(0).with_elem(Scalar::i1))
        return mismatch(op, "compares two scalars of one type to i1, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)) + " -> " + to_string(type));
      return {};
    case Shape::fma:
      if (!same_scalar(f, args, 0, 3) || !is_float(arg(0)) || type != arg(0))
        return mismatch(op, "needs three float operands of the result type");
      return {};
    case Shape::select:
      if (!is_bool(arg(0)) || !same_scalar(f, args, 1, 3) || type != arg(1) || arg(0).dims != type.dims ||
          arg(0).kind != type.kind)
        return mismatch(op, "needs an i1 condition and two operands of the result type, got " + to_string(arg(0)) +
                                ", " + to_string(arg(1)) + ", " + to_string(arg(2)));
      return {};
    case Shape::size:
      if (arg(0).kind != TypeKind::buf || type != Type::scalar(Scalar::i64))
        return mismatch(op, "takes a buffer and gives i64, got " + to_string(arg(0)));
      return {};
    case Shape::disjoint:
      if (arg(0).kind != TypeKind::buf || arg(1).kind != TypeKind::buf || type != Type::scalar(Scalar::i1))
        return mismatch(op, "takes two buffers and gives i1, got " + to_string(arg(0)) + ", " + to_string(arg(1)) +
                                " -> " + to_string(type));
      return {};
    case Shape::load:
      if (arg(0).kind != TypeKind::buf || arg(1) != Type::scalar(Scalar::i64) ||
          type != Type::scalar(arg(0).elem))
        return mismatch(op, "takes a buffer and an i64 index and gives the element type, got " +
                                to_string(arg(0)) + "[" + to_string(arg(1)) + "] -> " + to_string(type));
      return {};
    case Shape::store:
      if (arg(0).kind != TypeKind::buf || !arg(0).writable)
        return mismatch(op, "needs a writable buffer, got " + to_string(arg(0)));
      if (arg(1) != Type::scalar(Scalar::i64) || arg(2) != Type::scalar(arg(0).elem) ||
          type.kind != TypeKind::void_)
        return mismatch(op, "stores an element at an i64 index, got " + to_string(arg(0)) + "[" +
                                to_string(arg(1)) + "] = " + to_string(arg(2)));
      return {};
    case Shape::var_load:
      if (!type.is_scalar() && !(op == Op::TapePop && type.is_tensor()))
        return mismatch(op, "must have a scalar type");
      return {};
    case Shape::var_store:
      if ((!arg(0).is_scalar() && !(op == Op::TapePush && arg(0).is_tensor())) || type.kind != TypeKind::void_)
        return mismatch(op, "stores a scalar and has no result");
      return {};
    case Shape::alloc:
      if (type.kind != TypeKind::buf || !type.writable || imm < 0)
        return mismatch(op, "gives a writable buffer of a count >= 0, got " + to_string(type));
      return {};
    case Shape::check:
      if (arg(0) != Type::scalar(Scalar::i1) || type.kind != TypeKind::void_ || imm < 0 || imm > UINT32_MAX)
        return mismatch(op, "takes an i1 and a message, got " + to_string(arg(0)));
      return {};
    case Shape::gemm: {
      const Type a = arg(0), b = arg(2), c = arg(4), i64 = Type::scalar(Scalar::i64);
      if (a.kind != TypeKind::buf || (a.elem != Scalar::f32 && a.elem != Scalar::f64) || b.kind != TypeKind::buf || c.kind != TypeKind::buf ||
          !c.writable || b.elem != a.elem || c.elem != a.elem || arg(1) != i64 || arg(3) != i64 ||
          type.kind != TypeKind::void_)
        return mismatch(op, "takes buffers a, b and a writable c of one float type, and i64 offsets of a and b, got " +
                                to_string(a) + ", " + to_string(b) + ", " + to_string(c));
      if (imm < 0 || imm > UINT32_MAX) return mismatch(op, "needs its sizes {m, k, n}");
      const std::vector<int64_t> mkn = ints(static_cast<uint32_t>(imm));
      if ((mkn.size() != 3 && mkn.size() != 5) || mkn[0] < 1 || mkn[1] < 1 || mkn[2] < 1)
        return mismatch(op, "needs three positive sizes {m, k, n}, then optionally transpose flags {ta, tb}");
      if (mkn.size() == 5 && ((mkn[3] != 0 && mkn[3] != 1) || (mkn[4] != 0 && mkn[4] != 1)))
        return mismatch(op, "takes transpose flags of 0 or 1");
      return {};
    }
    case Shape::splat:
      if (!arg(0).is_scalar() || !type.is_tensor() || type.elem != arg(0).elem)
        return mismatch(op, "fills a tensor with a scalar of its element type, got " + to_string(arg(0)) + " -> " +
                                to_string(type));
      return {};
    case Shape::dense:
      if (!type.is_tensor() || imm < 0 || imm > UINT32_MAX ||
          static_cast<int64_t>(ints(static_cast<uint32_t>(imm)).size()) != numel(type))
        return mismatch(op, "lists one element per element of its tensor type " + to_string(type));
      return {};
    case Shape::iota:
      if (!type.is_tensor() || shape(type).size() != 1 || type.elem == Scalar::i1)
        return mismatch(op, "gives a 1-D number tensor, got " + to_string(type));
      return {};
    case Shape::tensor_view:
      if (!arg(0).is_tensor() || !type.is_tensor() || arg(0).elem != type.elem)
        return mismatch(op, "takes and gives tensors of one element type, got " + to_string(arg(0)) + " -> " +
                                to_string(type));
      return check_view(op, arg(0), type, imm);
    case Shape::reduce:
      if (!arg(0).is_tensor()) return mismatch(op, "reduces a tensor, got " + to_string(arg(0)));
      return check_reduce(op, arg(0), type, imm);
    case Shape::matmul:
      return check_matmul(op, arg(0), arg(1), type);
    case Shape::tensor_load:
      if (arg(0).kind != TypeKind::buf || arg(1) != Type::scalar(Scalar::i64) || !type.is_tensor() ||
          type.elem != arg(0).elem)
        return mismatch(op, "reads a tensor of the buffer's element type at an i64 offset, got " + to_string(arg(0)) +
                                " -> " + to_string(type));
      return {};
    case Shape::tensor_store:
      if (!arg(0).is_tensor() || arg(1).kind != TypeKind::buf || !arg(1).writable || arg(1).elem != arg(0).elem ||
          arg(2) != Type::scalar(Scalar::i64) || type.kind != TypeKind::void_)
        return mismatch(op, "writes a tensor into a writable buffer of its element type at an i64 offset, got " +
                                to_string(arg(0)) + " -> " + to_string(arg(1)));
      return {};
    case Shape::tape_buffer:
      if (arg(0) != Type::scalar(Scalar::i64) || type.kind != TypeKind::buf || !type.writable)
        return mismatch(op, "takes an i64 count and gives a writable buffer, got " + to_string(arg(0)) + " -> " +
                                to_string(type));
      return {};
    case Shape::call:
    case Shape::if_:
    case Shape::while_:
      if (type != Type::tuple()) return mismatch(op, "must have tuple type");
      if (op == Op::If && !arg(0).is_bool()) return mismatch(op, "needs an i1 condition, got " + to_string(arg(0)));
      return {};
    case Shape::for_:
      if (args.size() < 3 || !same_scalar(f, args, 0, 3) || !arg(0).is_int())
        return mismatch(op, "needs lo, hi, step of one int type");
      if (type != Type::tuple()) return mismatch(op, "must have tuple type");
      return {};
    case Shape::parallel_for:
      if (!same_scalar(f, args, 0, 3) || !arg(0).is_int())
        return mismatch(op, "needs lo, hi, step of one int type");
      if (type.kind != TypeKind::void_) return mismatch(op, "has no result");
      return {};
    case Shape::get:
      if (arg(0) != Type::tuple()) return mismatch(op, "projects from a tuple, got " + to_string(arg(0)));
      return {};
  }
  return {};
}

}  // namespace kiln::ir

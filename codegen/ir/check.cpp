// Operand checks by op shape: one switch over Shape, no default, so a new
// shape makes the compiler point here.
#include "check.h"

namespace kiln::ir {
namespace {

std::string mismatch(Op op, const std::string& what) {
  return "'" + std::string(info(op).spelling) + "' " + what;
}

bool same_scalar(const Function& f, const std::vector<ValueId>& args, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i)
    if (!f.type(args[i]).is_scalar() || f.type(args[i]) != f.type(args[from])) return false;
  return true;
}

}  // namespace

std::string check_operands(const Function& f, Op op, Type type, const std::vector<ValueId>& args) {
  auto arg = [&](size_t i) { return f.type(args[i]); };
  switch (info(op).shape) {
    case Shape::leaf:
      if (op == Op::Const && !type.is_scalar()) return mismatch(op, "must have a scalar type, got " + to_string(type));
      if (!type.is_scalar() && type.kind != TypeKind::buf) return mismatch(op, "must have a scalar or buffer type");
      return {};
    case Shape::unary_num:
      if (!(arg(0).is_int() || arg(0).is_float()) || type != arg(0))
        return mismatch(op, "needs an int or float operand of the result type, got " + to_string(arg(0)));
      return {};
    case Shape::unary_float:
      if (!arg(0).is_float() || type != arg(0))
        return mismatch(op, "needs a float operand of the result type, got " + to_string(arg(0)));
      return {};
    case Shape::unary_bits:
      if (!(arg(0).is_int() || arg(0).is_bool()) || type != arg(0))
        return mismatch(op, "needs an int or i1 operand of the result type, got " + to_string(arg(0)));
      return {};
    case Shape::cast:
      if (!arg(0).is_scalar() || !type.is_scalar())
        return mismatch(op, "converts a scalar to a scalar, got " + to_string(arg(0)) + " -> " + to_string(type));
      return {};
    case Shape::binary_num:
      if (!same_scalar(f, args, 0, 2) || arg(0).is_bool() || type != arg(0))
        return mismatch(op, "needs two int or float operands of the result type, got " + to_string(arg(0)) +
                                ", " + to_string(arg(1)) + " -> " + to_string(type));
      return {};
    case Shape::binary_float:
      if (!same_scalar(f, args, 0, 2) || !arg(0).is_float() || type != arg(0))
        return mismatch(op, "needs two float operands of the result type, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)));
      return {};
    case Shape::binary_bits:
      if (!same_scalar(f, args, 0, 2) || arg(0).is_float() || type != arg(0))
        return mismatch(op, "needs two int or i1 operands of the result type, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)));
      return {};
    case Shape::shift:
      if (!same_scalar(f, args, 0, 2) || !arg(0).is_int() || type != arg(0))
        return mismatch(op, "needs two int operands of the result type, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)));
      return {};
    case Shape::compare:
      if (!same_scalar(f, args, 0, 2) || !type.is_bool())
        return mismatch(op, "compares two scalars of one type to i1, got " + to_string(arg(0)) + ", " +
                                to_string(arg(1)) + " -> " + to_string(type));
      return {};
    case Shape::fma:
      if (!same_scalar(f, args, 0, 3) || !arg(0).is_float() || type != arg(0))
        return mismatch(op, "needs three float operands of the result type");
      return {};
    case Shape::select:
      if (!arg(0).is_bool() || !same_scalar(f, args, 1, 3) || type != arg(1))
        return mismatch(op, "needs an i1 condition and two operands of the result type, got " + to_string(arg(0)) +
                                ", " + to_string(arg(1)) + ", " + to_string(arg(2)));
      return {};
    case Shape::size:
      if (arg(0).kind != TypeKind::buf || type != Type::scalar(Scalar::i64))
        return mismatch(op, "takes a buffer and gives i64, got " + to_string(arg(0)));
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
      if (!type.is_scalar()) return mismatch(op, "must have a scalar type");
      return {};
    case Shape::var_store:
      if (!arg(0).is_scalar() || type.kind != TypeKind::void_)
        return mismatch(op, "stores a scalar and has no result");
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

// Scalar semantics of the IR. Every rule here is the IR spec (ir.h, docs/ir.md);
// emitters and backends must reproduce it bit for bit.
#include "scalar_ops.h"

#include <kiln/error.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace kiln::ir {
namespace {




template <class F>
F get(const Value& v) {
  if constexpr (std::is_same_v<F, float>) return v.f32;
  else return v.f64;
}
template <class F>
Value make(F x) {
  Value v;
  v.i = 0;
  if constexpr (std::is_same_v<F, float>) v.f32 = x;
  else v.f64 = x;
  return v;
}
Value make_int(int64_t x) {
  Value v;
  v.i = x;
  return v;
}

int64_t min_of(Scalar s) { return s == Scalar::i32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min(); }

template <class F>
Value float_op(Op op, const Value* a) {
  F x = get<F>(a[0]);
  switch (op) {
    case Op::Neg: return make<F>(-x);
    case Op::Abs: return make<F>(std::fabs(x));
    case Op::Sqrt: return make<F>(std::sqrt(x));
    case Op::Exp: return make<F>(std::exp(x));
    case Op::Log: return make<F>(std::log(x));
    case Op::Sin: return make<F>(std::sin(x));
    case Op::Cos: return make<F>(std::cos(x));
    case Op::Tanh: return make<F>(std::tanh(x));
    case Op::Floor: return make<F>(std::floor(x));
    default: break;
  }
  F y = get<F>(a[1]);
  switch (op) {
    case Op::Add: return make<F>(x + y);
    case Op::Sub: return make<F>(x - y);
    case Op::Mul: return make<F>(x * y);
    case Op::Div: return make<F>(x / y);
    case Op::Rem: return make<F>(std::fmod(x, y));
    case Op::Min: return make<F>(y < x ? y : x);
    case Op::Max: return make<F>(x < y ? y : x);
    case Op::Pow: return make<F>(std::pow(x, y));
    case Op::Eq: return make_int(x == y);
    case Op::Ne: return make_int(x != y);
    case Op::Lt: return make_int(x < y);
    case Op::Le: return make_int(x <= y);
    case Op::Gt: return make_int(x > y);
    case Op::Ge: return make_int(x >= y);
    case Op::Fma: return make<F>(std::fma(x, y, get<F>(a[2])));
    default: break;
  }
  throw InternalError(std::string("IR semantics: '") + std::string(info(op).spelling) + "' has no float semantics");
}

Value int_op(Op op, Scalar s, const Value* a, Trap& trap) {
  const int64_t x = a[0].i;
  const uint64_t ux = static_cast<uint64_t>(x);
  switch (op) {
    case Op::Neg: return make_int(wrap(s, 0 - ux));
    case Op::Abs: return make_int(x < 0 ? wrap(s, 0 - ux) : x);
    case Op::Not: return make_int(s == Scalar::i1 ? !x : wrap(s, ~ux));
    default: break;
  }
  const int64_t y = a[1].i;
  const uint64_t uy = static_cast<uint64_t>(y);
  const int bits = bit_width(s);
  switch (op) {
    case Op::Add: return make_int(wrap(s, ux + uy));
    case Op::Sub: return make_int(wrap(s, ux - uy));
    case Op::Mul: return make_int(wrap(s, ux * uy));
    case Op::Div:
      if (y == 0) { trap.what = "integer division by zero"; return make_int(0); }
      if (x == min_of(s) && y == -1) return make_int(x);
      return make_int(x / y);
    case Op::Rem:
      if (y == 0) { trap.what = "integer remainder by zero"; return make_int(0); }
      if (x == min_of(s) && y == -1) return make_int(0);
      return make_int(x % y);
    case Op::Min: return make_int(y < x ? y : x);
    case Op::Max: return make_int(x < y ? y : x);
    case Op::And: return make_int(x & y);
    case Op::Or: return make_int(x | y);
    case Op::Xor: return make_int(x ^ y);
    case Op::Shl: return make_int(wrap(s, ux << (uy & static_cast<uint64_t>(bits - 1))));
    case Op::Shr: return make_int(x >> (uy & static_cast<uint64_t>(bits - 1)));
    case Op::Eq: return make_int(x == y);
    case Op::Ne: return make_int(x != y);
    case Op::Lt: return make_int(x < y);
    case Op::Le: return make_int(x <= y);
    case Op::Gt: return make_int(x > y);
    case Op::Ge: return make_int(x >= y);
    default: break;
  }
  throw InternalError(std::string("IR semantics: '") + std::string(info(op).spelling) + "' has no integer semantics");
}

double as_double(Scalar s, const Value& v) {
  switch (s) {
    case Scalar::f32: return v.f32;
    case Scalar::f64: return v.f64;
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: return static_cast<double>(v.i);
  }
  return 0;
}

int64_t saturate(double d, Scalar to) {
  if (std::isnan(d)) return 0;
  const double lo = to == Scalar::i32 ? -2147483648.0 : -9223372036854775808.0;
  const double hi = to == Scalar::i32 ? 2147483648.0 : 9223372036854775808.0;
  if (d <= lo) return min_of(to);
  if (d >= hi) return to == Scalar::i32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(d);  // truncates toward zero; in range
}

Value cast(Scalar from, Scalar to, const Value& v) {
  const bool from_float = from == Scalar::f32 || from == Scalar::f64;
  switch (to) {
    case Scalar::i1:
      return make_int(from_float ? as_double(from, v) != 0 : v.i != 0);
    case Scalar::i32:
    case Scalar::i64:
      if (from_float) return make_int(saturate(as_double(from, v), to));
      return make_int(wrap(to, static_cast<uint64_t>(v.i)));
    case Scalar::f32:
      // int64 -> float rounds once (not through double).
      if (!from_float) return make<float>(static_cast<float>(v.i));
      return make<float>(static_cast<float>(as_double(from, v)));
    case Scalar::f64:
      if (!from_float) return make<double>(static_cast<double>(v.i));
      return make<double>(as_double(from, v));
  }
  return make_int(0);
}

}  // namespace

int64_t wrap(Scalar s, uint64_t bits) {
  switch (s) {
    case Scalar::i1: return static_cast<int64_t>(bits & 1);
    case Scalar::i32: return static_cast<int32_t>(static_cast<uint32_t>(bits));
    case Scalar::i64:
    case Scalar::f32:
    case Scalar::f64: return static_cast<int64_t>(bits);
  }
  return 0;
}

Value eval_scalar(Op op, Type type, const Type* arg_types, const Value* args, size_t nargs, Trap& trap) {
  if (op == Op::Cast) return cast(arg_types[0].elem, type.elem, args[0]);
  if (op == Op::Select) return args[0].i ? args[1] : args[2];
  // Comparisons are typed by their operands, everything else by its result.
  Scalar s = nargs > 0 ? arg_types[0].elem : type.elem;
  switch (s) {
    case Scalar::f32: return float_op<float>(op, args);
    case Scalar::f64: return float_op<double>(op, args);
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: return int_op(op, s, args, trap);
  }
  return make_int(0);
}

Value constant_value(const Node& n) {
  Value v;
  v.i = 0;
  switch (n.type.elem) {
    case Scalar::f32: {
      uint32_t bits = static_cast<uint32_t>(n.imm);
      std::memcpy(&v.f32, &bits, sizeof bits);
      return v;
    }
    case Scalar::f64: std::memcpy(&v.f64, &n.imm, sizeof n.imm); return v;
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: v.i = wrap(n.type.elem, static_cast<uint64_t>(n.imm)); return v;
  }
  return v;
}

int64_t constant_imm(Scalar s, const Value& v) {
  switch (s) {
    case Scalar::f32: {
      uint32_t bits;
      std::memcpy(&bits, &v.f32, sizeof bits);
      return bits;
    }
    case Scalar::f64: {
      int64_t bits;
      std::memcpy(&bits, &v.f64, sizeof bits);
      return bits;
    }
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: return wrap(s, static_cast<uint64_t>(v.i));
  }
  return 0;
}

Value load_element(Scalar s, const void* data, int64_t i) {
  Value v;
  v.i = 0;
  switch (s) {
    case Scalar::i1: v.i = static_cast<const bool*>(data)[i]; break;
    case Scalar::i32: v.i = static_cast<const int32_t*>(data)[i]; break;
    case Scalar::i64: v.i = static_cast<const int64_t*>(data)[i]; break;
    case Scalar::f32: v.f32 = static_cast<const float*>(data)[i]; break;
    case Scalar::f64: v.f64 = static_cast<const double*>(data)[i]; break;
  }
  return v;
}

void store_element(Scalar s, void* data, int64_t i, const Value& v) {
  switch (s) {
    case Scalar::i1: static_cast<bool*>(data)[i] = v.i != 0; break;
    case Scalar::i32: static_cast<int32_t*>(data)[i] = static_cast<int32_t>(v.i); break;
    case Scalar::i64: static_cast<int64_t*>(data)[i] = v.i; break;
    case Scalar::f32: static_cast<float*>(data)[i] = v.f32; break;
    case Scalar::f64: static_cast<double*>(data)[i] = v.f64; break;
  }
}

}  // namespace kiln::ir

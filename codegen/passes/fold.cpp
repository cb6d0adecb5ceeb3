// Constant folding and algebraic simplification.
//
// Constants are evaluated with the IR's own scalar semantics
// (codegen/ir/scalar_ops), so folding cannot disagree with the interpreter;
// an operation that would trap (x / 0) is left for run time. Identities are
// the ones that hold bit for bit under the IR spec: on integers wrap-around
// makes + and * associative, so constant chains combine; on floats only
// x*1, x/1, x-(+0), x+(-0) and sign flips are exact. opts.fast_math adds the
// float rules that change signed zeros, NaNs or rounding.
#include "passes.h"

#include "../ir/scalar_ops.h"
#include "rewrite.h"

namespace kiln::passes {
namespace {

using namespace ir;

bool commutative(Op op, Type t) {
  switch (op) {
    case Op::Add: case Op::Mul: case Op::And: case Op::Or: case Op::Xor: case Op::Eq: case Op::Ne:
      return true;
    case Op::Min: case Op::Max:
      return !t.is_float();  // min/max pick an operand by `<`: not symmetric for NaN and -0.0
    default:
      return false;
  }
}

bool evaluable(Shape s) {
  switch (s) {
    case Shape::unary_num: case Shape::unary_float: case Shape::unary_bits: case Shape::cast:
    case Shape::binary_num: case Shape::binary_float: case Shape::binary_bits: case Shape::shift:
    case Shape::compare: case Shape::fma: case Shape::select:
      return true;
    default:
      return false;
  }
}

class Folder {
 public:
  Folder(Function& f, const Options& opts) : f_(f), opts_(opts), sub_(f) {}

  void run() {
    rebuild_region(f_, f_.body, sub_, [&](ValueId v, std::vector<ValueId>& body) {
      ValueId w = simplify(v, body);
      if (w != no_value) sub_.replace(v, w);
      return w == no_value;
    });
  }

 private:
  Function& f_;
  const Options& opts_;
  Substitution sub_;

  const Node& node(ValueId v) const { return f_.nodes[v]; }
  bool is(ValueId v, Op op) const { return node(v).op == op; }

  // Integer (or i1) constant equal to k.
  bool int_const(ValueId v, int64_t k) const {
    const Node& n = node(v);
    return n.op == Op::Const && (n.type.is_int() || n.type.is_bool()) && n.imm == k;
  }
  // All bits set: -1, or 1 for i1.
  bool all_ones(ValueId v) const { return int_const(v, node(v).type.is_bool() ? 1 : -1); }
  // Float constant with exactly the bits of k (so -0.0 and 0.0 differ).
  bool float_const(ValueId v, double k) const {
    const Node& n = node(v);
    return n.op == Op::Const && n.type.is_float() && n.imm == encode_const(n.type.elem, k);
  }
  bool zero(ValueId v) const {
    return int_const(v, 0) || (opts_.fast_math && (float_const(v, 0.0) || float_const(v, -0.0)));
  }
  bool one(ValueId v) const { return int_const(v, 1) || float_const(v, 1.0); }
  bool minus_one(ValueId v) const {
    return (node(v).type.is_int() && int_const(v, -1)) || float_const(v, -1.0);
  }
  // Is `x op x` decidable without knowing x? Not for floats (NaN) unless fast-math.
  bool exact_self(Type t) const { return !t.is_float() || opts_.fast_math; }

  ValueId add_const(std::vector<ValueId>& body, Type t, int64_t imm, const Node& like) {
    ValueId c = make_const(f_, t, imm, like.loc);
    body.push_back(c);
    return c;
  }
  ValueId turn_into_const(ValueId v, int64_t imm) {
    Node& n = f_.nodes[v];
    n.op = Op::Const;
    n.args.clear();
    n.imm = imm;
    return no_value;
  }
  ValueId turn_into(ValueId v, Op op, std::vector<ValueId> args) {
    Node& n = f_.nodes[v];
    n.op = op;
    n.args = std::move(args);
    n.imm = 0;
    return no_value;
  }
  // Evaluates op on constant operands; false when it would trap.
  bool evaluate(Op op, Type type, const std::vector<ValueId>& args, int64_t& imm) const {
    Value vals[3];
    Type types[3];
    for (size_t i = 0; i < args.size(); ++i) {
      vals[i] = constant_value(node(args[i]));
      types[i] = node(args[i]).type;
    }
    Trap trap;
    Value r = eval_scalar(op, type, types, vals, args.size(), trap);
    if (trap) return false;
    imm = constant_imm(type.elem, r);
    return true;
  }

  /// Simplifies v: returns the value replacing it, or no_value when v stays
  /// (possibly rewritten in place, possibly after new constants in `body`).
  ValueId simplify(ValueId v, std::vector<ValueId>& body) {
    Node& n = f_.nodes[v];
    const Op op = n.op;
    if (!evaluable(info(op).shape)) return no_value;
    bool all_const = true;
    for (ValueId a : n.args) all_const = all_const && is(a, Op::Const);
    if (all_const) {  // on tensors too: every operand is a splat
      int64_t imm;
      if (evaluate(op, n.type, n.args, imm)) return turn_into_const(v, imm);
      return no_value;
    }
    // The identities below are written for scalars.
    if (n.type.is_tensor()) return no_value;
    for (ValueId a : n.args)
      if (f_.type(a).is_tensor()) return no_value;
    if (n.args.size() == 2 && commutative(op, f_.type(n.args[0])) && is(n.args[0], Op::Const))
      std::swap(n.args[0], n.args[1]);
    return identity(v, body);
  }

  ValueId identity(ValueId v, std::vector<ValueId>& body) {
    const Node n = node(v);  // a copy: adding constants may move the node table
    const Type t = n.type;
    const ValueId a = n.args.empty() ? no_value : n.args[0];
    const ValueId b = n.args.size() > 1 ? n.args[1] : no_value;
    switch (n.op) {
      case Op::Neg:
        if (is(a, Op::Neg)) return node(a).args[0];
        return no_value;
      case Op::Not:
        if (is(a, Op::Not)) return node(a).args[0];
        return no_value;
      case Op::Abs:
        if (is(a, Op::Abs)) return a;
        return no_value;
      case Op::Cast:
        if (f_.type(a) == t) return a;
        return no_value;
      case Op::Add:
        if (zero(b) || float_const(b, -0.0)) return a;
        return reassociate(v, body);
      case Op::Sub:
        if (zero(b) || float_const(b, 0.0)) return a;
        if (a == b && exact_self(t)) return turn_into_const(v, 0);
        if (int_const(a, 0)) return turn_into(v, Op::Neg, {b});
        if (t.is_int() && is(b, Op::Const)) {
          // x - c -> x + (-c): one canonical form, so constant chains combine.
          int64_t imm;
          if (!evaluate(Op::Neg, t, {b}, imm)) return no_value;
          ValueId c = add_const(body, t, imm, n);
          turn_into(v, Op::Add, {a, c});
          return reassociate(v, body);
        }
        return no_value;
      case Op::Mul:
        if (one(b)) return a;
        if (zero(b)) return turn_into_const(v, node(b).imm);
        if (minus_one(b)) return turn_into(v, Op::Neg, {a});
        return reassociate(v, body);
      case Op::Div:
        if (one(b)) return a;
        if (minus_one(b)) return turn_into(v, Op::Neg, {a});
        return no_value;
      case Op::Rem:
        if (t.is_int() && (int_const(b, 1) || int_const(b, -1))) return turn_into_const(v, 0);
        return no_value;
      case Op::Min:
      case Op::Max:
        if (a == b) return a;
        return no_value;
      case Op::And:
        if (a == b || all_ones(b)) return a;
        if (int_const(b, 0)) return b;
        return no_value;
      case Op::Or:
        if (a == b || int_const(b, 0)) return a;
        if (all_ones(b)) return b;
        return no_value;
      case Op::Xor:
        if (a == b) return turn_into_const(v, 0);
        if (int_const(b, 0)) return a;
        if (t.is_bool() && int_const(b, 1)) return turn_into(v, Op::Not, {a});
        return no_value;
      case Op::Shl:
      case Op::Shr:
        if (is(b, Op::Const) && (node(b).imm & (bit_width(t.elem) - 1)) == 0) return a;
        return no_value;
      case Op::Eq:
      case Op::Le:
      case Op::Ge:
        if (a == b && exact_self(f_.type(a))) return turn_into_const(v, 1);
        if (n.op == Op::Eq && f_.type(a).is_bool()) {
          if (int_const(b, 1)) return a;
          if (int_const(b, 0)) return turn_into(v, Op::Not, {a});
        }
        return no_value;
      case Op::Ne:
      case Op::Lt:
      case Op::Gt:
        if (a == b && exact_self(f_.type(a))) return turn_into_const(v, 0);
        if (n.op == Op::Ne && f_.type(a).is_bool()) {
          if (int_const(b, 0)) return a;
          if (int_const(b, 1)) return turn_into(v, Op::Not, {a});
        }
        return no_value;
      case Op::Select: {
        const ValueId c = a, x = b, y = n.args[2];
        if (is(c, Op::Const)) return node(c).imm ? x : y;
        if (x == y) return x;
        if (t.is_bool() && int_const(x, 1) && int_const(y, 0)) return c;
        if (t.is_bool() && int_const(x, 0) && int_const(y, 1)) return turn_into(v, Op::Not, {c});
        return no_value;
      }
      default:
        return no_value;
    }
  }

  /// (x op c1) op c2 -> x op (c1 op c2) for op in {+, *}: exact on integers
  /// (wrap-around arithmetic is associative), fast-math only on floats.
  ValueId reassociate(ValueId v, std::vector<ValueId>& body) {
    const Node n = node(v);
    const ValueId a = n.args[0], b = n.args[1];
    if (!is(b, Op::Const) || node(a).op != n.op || !is(node(a).args[1], Op::Const)) return no_value;
    if (n.type.is_float() && !opts_.fast_math) return no_value;
    const ValueId x = node(a).args[0];
    int64_t imm;
    if (!evaluate(n.op, n.type, {node(a).args[1], b}, imm)) return no_value;
    ValueId c = add_const(body, n.type, imm, n);
    return turn_into(v, n.op, {x, c});
  }
};

}  // namespace

void fold(Module& m, const Options& opts) {
  for (Function& f : m.functions) Folder(f, opts).run();
}

}  // namespace kiln::passes

// Forward mode: every floating-point value v of the primal gets a tangent
// t(v), computed next to it by the rule of v's op (the table in rules()
// below: one case per op). Values whose tangent is known to be zero have
// none (no_value), so nothing is emitted for code that does not depend on
// the active parameters; a zero constant is made only where a tangent must
// exist (a yield, a loop-carried value, a call argument, a store).
//
// Structured ops carry tangents beside their values: an if yields its
// values then the tangents of its floating-point values; a loop carries
// them the same way; a call goes to the callee's jvp for the pattern of
// active arguments, which returns the callee's results then their
// tangents. Buffers have tangent buffers: a load from an active buffer
// loads the tangent at the same index, a store to one stores it.
#include "forward.h"
#include "tensor_rules.h"

#include <kiln/error.h>

#include <map>
#include <string>
#include <utility>

namespace kiln::autodiff {
namespace {

using namespace ir;

bool is_float_buffer(Type t) { return t.kind == TypeKind::buf && (t.elem == Scalar::f32 || t.elem == Scalar::f64); }
// Values that carry a tangent: floating-point scalars and buffers.
bool differentiable(Type t) { return t.is_float() || is_float_buffer(t); }

class Forward {
 public:
  explicit Forward(const Module& m) : m_(m) {}

  // The index in out() of the jvp of function `fn` for the active
  // parameters `active`; derived once per pair.
  size_t derive(size_t fn, const std::vector<bool>& active);

  Module take() { return std::move(out_); }

 private:
  const Module& m_;
  Module out_;
  std::map<std::pair<size_t, std::vector<bool>>, size_t> done_;
  std::map<size_t, int> variants_;
};

// Builds the jvp of one function.
class Deriver {
 public:
  Deriver(Forward& fw, const Module& m, const Function& f, const std::vector<bool>& active)
      : fw_(fw), m_(m), f_(f), active_(active), prim_(f.nodes.size(), no_value), tan_(f.nodes.size(), no_value),
        tidx_(f.nodes.size()) {}

  Function run(std::string name) {
    g_.name = std::move(name);
    g_.body = g_.add_region();
    const auto& ps = f_.params();
    for (size_t i = 0; i < ps.size(); ++i) {
      prim_[ps[i]] = g_.add(Op::Param, f_.type(ps[i]), {}, static_cast<int64_t>(i), f_.node(ps[i]).loc);
      g_.regions[g_.body].params.push_back(prim_[ps[i]]);
    }
    for (size_t i = 0; i < ps.size(); ++i) {
      if (!active_[i]) continue;
      tan_[ps[i]] = g_.add(Op::Param, f_.type(ps[i]), {}, static_cast<int64_t>(g_.regions[g_.body].params.size()),
                           f_.node(ps[i]).loc);
      g_.regions[g_.body].params.push_back(tan_[ps[i]]);
    }
    if (!f_.param_names.empty()) {
      g_.param_names = f_.param_names;
      for (size_t i = 0; i < ps.size(); ++i)
        if (active_[i]) g_.param_names.push_back("d_" + f_.param_names[i]);
    }
    cur_ = g_.body;
    for (ValueId v : f_.region(f_.body).body) node(v);
    g_.regions[g_.body].yields = yields_with_tangents(f_.region(f_.body).yields);
    g_.result_types = f_.result_types;
    for (Type t : f_.result_types)
      if (t.is_float()) g_.result_types.push_back(t);
    return std::move(g_);
  }

 private:
  Forward& fw_;
  const Module& m_;
  const Function& f_;
  const std::vector<bool>& active_;
  Function g_;
  std::vector<ValueId> prim_, tan_;
  // Per tuple-producing node of f_: element i's tangent element in the new
  // tuple, or -1.
  std::vector<std::vector<int>> tidx_;
  RegionId cur_ = 0;
  std::source_location loc_;

  ValueId emit(Op op, Type t, std::vector<ValueId> args, int64_t imm = 0, std::vector<RegionId> regions = {}) {
    ValueId v = g_.add(op, t, std::move(args), imm, loc_, std::move(regions));
    g_.regions[cur_].body.push_back(v);
    return v;
  }
  ValueId constant(Type t, double x) { return emit(Op::Const, t, {}, encode_const(t.elem, x)); }
  ValueId p(ValueId src) const { return prim_[src]; }
  ValueId t(ValueId src) const { return tan_[src]; }
  // The tangent of src, a zero constant when it has none.
  ValueId t_or_zero(ValueId src) {
    if (tan_[src] != no_value) return tan_[src];
    return constant(f_.type(src), 0.0);
  }

  // Arithmetic on tangents that may be absent (no_value: zero).
  ValueId add(ValueId a, ValueId b, Type ty) {
    if (a == no_value) return b;
    if (b == no_value) return a;
    return emit(Op::Add, ty, {a, b});
  }
  ValueId neg(ValueId a, Type ty) { return a == no_value ? no_value : emit(Op::Neg, ty, {a}); }
  ValueId sub(ValueId a, ValueId b, Type ty) {
    if (b == no_value) return a;
    if (a == no_value) return neg(b, ty);
    return emit(Op::Sub, ty, {a, b});
  }
  ValueId mul(ValueId tangent, ValueId x, Type ty) {
    return tangent == no_value ? no_value : emit(Op::Mul, ty, {tangent, x});
  }
  ValueId div(ValueId tangent, ValueId x, Type ty) {
    return tangent == no_value ? no_value : emit(Op::Div, ty, {tangent, x});
  }
  ValueId bin(Op op, Type ty, ValueId a, ValueId b) { return emit(op, ty, {a, b}); }
  ValueId cmp(Op op, ValueId a, ValueId b) { return emit(op, g_.type(a).with_elem(Scalar::i1), {a, b}); }
  ValueId select(ValueId c, ValueId a, ValueId b, Type ty) { return emit(Op::Select, ty, {c, a, b}); }

  std::vector<ValueId> yields_with_tangents(const std::vector<ValueId>& ys) {
    std::vector<ValueId> out;
    for (ValueId y : ys) out.push_back(p(y));
    for (ValueId y : ys)
      if (f_.type(y).is_float()) out.push_back(t_or_zero(y));
    return out;
  }

  // Copies region r of f_ into a new region of g_: its parameters, then a
  // tangent parameter per floating-point parameter; its body, derived; its
  // yields, then the tangents of its floating-point yields.
  RegionId derive_region(RegionId r) {
    const RegionId nr = g_.add_region();
    const Region& sr = f_.region(r);
    for (size_t i = 0; i < sr.params.size(); ++i) {
      ValueId sp = sr.params[i];
      prim_[sp] = g_.add(Op::Param, f_.type(sp), {}, static_cast<int64_t>(i), f_.node(sp).loc);
      g_.regions[nr].params.push_back(prim_[sp]);
    }
    for (ValueId sp : sr.params) {
      if (!f_.type(sp).is_float()) continue;
      tan_[sp] = g_.add(Op::Param, f_.type(sp), {}, static_cast<int64_t>(g_.regions[nr].params.size()),
                        f_.node(sp).loc);
      g_.regions[nr].params.push_back(tan_[sp]);
    }
    const RegionId saved = cur_;
    const std::source_location saved_loc = loc_;
    cur_ = nr;
    for (ValueId v : sr.body) node(v);
    g_.regions[nr].yields = yields_with_tangents(sr.yields);
    cur_ = saved;
    loc_ = saved_loc;
    return nr;
  }

  // Tangent slots of a tuple whose elements have types `types`: the
  // floating-point ones follow the n values, in order.
  static std::vector<int> tangent_slots(const std::vector<Type>& types) {
    std::vector<int> out(types.size(), -1);
    int next = static_cast<int>(types.size());
    for (size_t i = 0; i < types.size(); ++i)
      if (types[i].is_float()) out[i] = next++;
    return out;
  }

  std::vector<ValueId> prims(const std::vector<ValueId>& args, size_t from = 0) const {
    std::vector<ValueId> out;
    for (size_t i = from; i < args.size(); ++i) out.push_back(p(args[i]));
    return out;
  }

  void node(ValueId v) {
    const Node& n = f_.node(v);
    loc_ = n.loc;
    switch (n.op) {
      case Op::If: {
        RegionId a = derive_region(n.regions[0]);
        RegionId b = derive_region(n.regions[1]);
        loc_ = n.loc;
        prim_[v] = emit(Op::If, n.type, {p(n.args[0])}, n.imm, {a, b});
        tidx_[v] = tangent_slots(tuple_types(m_, f_, n));
        return;
      }
      case Op::For:
      case Op::While: {
        const size_t first_init = n.op == Op::For ? 3 : 0;
        std::vector<ValueId> args = prims(n.args);
        for (size_t i = first_init; i < n.args.size(); ++i)
          if (f_.type(n.args[i]).is_float()) args.push_back(t_or_zero(n.args[i]));
        std::vector<RegionId> regions;
        for (RegionId r : n.regions) regions.push_back(derive_region(r));
        loc_ = n.loc;
        prim_[v] = emit(n.op, n.type, std::move(args), n.imm, std::move(regions));
        tidx_[v] = tangent_slots(tuple_types(m_, f_, n));
        return;
      }
      case Op::ParallelFor: {
        RegionId body = derive_region(n.regions[0]);
        loc_ = n.loc;
        prim_[v] = emit(Op::ParallelFor, n.type, prims(n.args), n.imm, {body});
        return;
      }
      case Op::Call: {
        const size_t callee = static_cast<size_t>(n.imm);
        std::vector<bool> active(n.args.size());
        std::vector<ValueId> args = prims(n.args);
        for (size_t i = 0; i < n.args.size(); ++i) {
          active[i] = t(n.args[i]) != no_value;
          if (active[i]) args.push_back(t(n.args[i]));
        }
        const size_t d = fw_.derive(callee, active);
        prim_[v] = emit(Op::Call, n.type, std::move(args), static_cast<int64_t>(d));
        tidx_[v] = tangent_slots(m_.functions[callee].result_types);
        return;
      }
      case Op::Get: {
        prim_[v] = emit(Op::Get, n.type, {p(n.args[0])}, n.imm);
        const std::vector<int>& slots = tidx_[n.args[0]];
        if (n.type.is_float() && static_cast<size_t>(n.imm) < slots.size() && slots[n.imm] >= 0)
          tan_[v] = emit(Op::Get, n.type, {p(n.args[0])}, slots[n.imm]);
        return;
      }
      case Op::TapePush: {  // a float goes with its tangent, popped first
        emit(Op::TapePush, {}, {p(n.args[0])}, n.imm);
        if (f_.type(n.args[0]).is_float_elementwise()) emit(Op::TapePush, {}, {t_or_zero(n.args[0])}, n.imm);
        return;
      }
      case Op::TapePop: {
        const ValueId tangent = n.type.is_float_elementwise() ? emit(Op::TapePop, n.type, {}, n.imm) : no_value;
        prim_[v] = emit(Op::TapePop, n.type, {}, n.imm);
        tan_[v] = tangent;
        return;
      }
      case Op::TapeReserve: {  // a float block gets a tangent block reserved after it
        prim_[v] = emit(Op::TapeReserve, n.type, {p(n.args[0])}, n.imm);
        if (is_float_buffer(n.type)) tan_[v] = emit(Op::TapeReserve, n.type, {p(n.args[0])}, n.imm);
        return;
      }
      case Op::TapeRelease: {
        if (is_float_buffer(n.type)) tan_[v] = emit(Op::TapeRelease, n.type, {p(n.args[0])}, n.imm);
        prim_[v] = emit(Op::TapeRelease, n.type, {p(n.args[0])}, n.imm);
        return;
      }
      case Op::Param:
        throw InternalError("autodiff: a parameter in a region body");
      default:
        break;
    }
    std::vector<ValueId> args;
    for (ValueId a : n.args) args.push_back(p(a));
    prim_[v] = emit(n.op, n.type, std::move(args), n.imm);
    if (n.op == Op::Store) {
      if (ValueId tb = t(n.args[0]); tb != no_value) emit(Op::Store, n.type, {tb, p(n.args[1]), t_or_zero(n.args[2])});
      return;
    }
    if (n.op == Op::TensorStore) {
      if (ValueId tb = t(n.args[1]); tb != no_value)
        emit(Op::TensorStore, n.type, {t_or_zero(n.args[0]), tb, p(n.args[2])}, n.imm);
      return;
    }
    if (n.type.is_float_elementwise()) tan_[v] = rule(v, n);
  }

  // The derivative rules: the tangent of v = op(args) from the args'
  // tangents (no_value: zero). Every op with a floating-point result has a
  // case; the rest have no tangent.
  ValueId rule(ValueId v, const Node& n) {
    const Type ty = n.type;
    auto a = [&] { return p(n.args[0]); };
    auto b = [&] { return p(n.args[1]); };
    const ValueId y = p(v);
    const ValueId ta = n.args.size() > 0 ? t(n.args[0]) : no_value;
    const ValueId tb = n.args.size() > 1 ? t(n.args[1]) : no_value;
    switch (n.op) {
      case Op::Const:
      case Op::Floor:  // piecewise constant: zero (also at the jumps)
        return no_value;
      case Op::Neg:
        return neg(ta, ty);
      case Op::Abs: {  // sign(a) * ta: zero at a == 0
        if (ta == no_value) return no_value;
        const ValueId zero = constant(ty, 0.0);
        const ValueId negative = select(cmp(Op::Lt, a(), zero), neg(ta, ty), zero, ty);
        return select(cmp(Op::Gt, a(), zero), ta, negative, ty);
      }
      case Op::Sqrt:  // ta / (2 y): infinite at 0
        return ta == no_value ? no_value : div(ta, bin(Op::Mul, ty, y, constant(ty, 2.0)), ty);
      case Op::Exp:
        return mul(ta, y, ty);
      case Op::Log:
        return div(ta, a(), ty);
      case Op::Sin:
        return ta == no_value ? no_value : mul(ta, emit(Op::Cos, ty, {a()}), ty);
      case Op::Cos:
        return ta == no_value ? no_value : neg(mul(ta, emit(Op::Sin, ty, {a()}), ty), ty);
      case Op::Tanh:  // ta (1 - y^2)
        return ta == no_value ? no_value
                              : mul(ta, bin(Op::Sub, ty, constant(ty, 1.0), bin(Op::Mul, ty, y, y)), ty);
      case Op::Cast:  // float -> float converts the tangent; from an integer: none
        return ta == no_value ? no_value : emit(Op::Cast, ty, {ta});
      case Op::Add:
        return add(ta, tb, ty);
      case Op::Sub:
        return sub(ta, tb, ty);
      case Op::Mul:
        return add(mul(ta, b(), ty), mul(tb, a(), ty), ty);
      case Op::Div:  // (ta - y tb) / b
        if (tb == no_value) return div(ta, b(), ty);
        return div(sub(ta, mul(tb, y, ty), ty), b(), ty);
      case Op::Rem: {  // a - trunc(a / b) b: ta - trunc(a / b) tb
        if (tb == no_value) return ta;
        const ValueId q = bin(Op::Div, ty, a(), b());
        const ValueId zero = constant(ty, 0.0);
        const ValueId down = emit(Op::Floor, ty, {q});
        const ValueId up = emit(Op::Neg, ty, {emit(Op::Floor, ty, {emit(Op::Neg, ty, {q})})});
        const ValueId trunc = select(cmp(Op::Lt, q, zero), up, down, ty);
        return sub(ta, mul(tb, trunc, ty), ty);
      }
      case Op::Min:  // min(a, b) is b < a ? b : a
        if (ta == no_value && tb == no_value) return no_value;
        return select(cmp(Op::Lt, b(), a()), t_or_zero(n.args[1]), t_or_zero(n.args[0]), ty);
      case Op::Max:  // max(a, b) is a < b ? b : a
        if (ta == no_value && tb == no_value) return no_value;
        return select(cmp(Op::Lt, a(), b()), t_or_zero(n.args[1]), t_or_zero(n.args[0]), ty);
      case Op::Pow: {  // ta b a^(b-1) + tb y log(a); each factor 0 where its exponent or base is 0
        ValueId out = no_value;
        if (ta != no_value) {
          const ValueId zero = constant(ty, 0.0);
          const ValueId d = bin(Op::Mul, ty, b(), bin(Op::Pow, ty, a(), bin(Op::Sub, ty, b(), constant(ty, 1.0))));
          out = mul(ta, select(cmp(Op::Eq, b(), zero), zero, d, ty), ty);
        }
        if (tb != no_value) {
          const ValueId zero = constant(ty, 0.0);
          const ValueId d = bin(Op::Mul, ty, y, emit(Op::Log, ty, {a()}));
          out = add(out, mul(tb, select(cmp(Op::Eq, a(), zero), zero, d, ty), ty), ty);
        }
        return out;
      }
      case Op::Fma:  // ta b + a tb + tc
        return add(add(mul(ta, b(), ty), mul(tb, a(), ty), ty), t(n.args[2]), ty);
      case Op::Select: {
        const ValueId tx = t(n.args[1]), tz = t(n.args[2]);
        if (tx == no_value && tz == no_value) return no_value;
        return select(p(n.args[0]), t_or_zero(n.args[1]), t_or_zero(n.args[2]), ty);
      }
      case Op::Load:
        if (ValueId tbuf = t(n.args[0]); tbuf != no_value) return emit(Op::Load, ty, {tbuf, p(n.args[1])});
        return no_value;
      case Op::TensorLoad:
        if (ValueId tbuf = t(n.args[0]); tbuf != no_value) return emit(Op::TensorLoad, ty, {tbuf, p(n.args[1])}, n.imm);
        return no_value;
      case Op::Iota:
      case Op::TensorConst:
        return no_value;
      case Op::Splat: case Op::Broadcast: case Op::Transpose: case Op::Reshape: case Op::Slice: case Op::Embed:
      case Op::ReduceSum:  // linear: the same op on the tangent
        return ta == no_value ? no_value : emit(n.op, ty, {ta}, n.imm);
      case Op::ReduceMax: {  // the mean of the tangents where x equals the max
        if (ta == no_value) return no_value;
        const Type xt = f_.type(n.args[0]);
        const EmitFn e = [&](Op op, Type t, std::vector<ValueId> args, int64_t imm) { return emit(op, t, std::move(args), imm); };
        const ValueId hit = emit(Op::Cast, xt, {cmp(Op::Eq, a(), spread(e, y, ty, xt, n.imm))});
        const ValueId count = emit(Op::ReduceSum, ty, {hit}, n.imm);
        return div(emit(Op::ReduceSum, ty, {emit(Op::Mul, xt, {hit, ta})}, n.imm), count, ty);
      }
      case Op::Matmul:  // ta b + a tb
        return add(ta == no_value ? no_value : emit(Op::Matmul, ty, {ta, b()}),
                   tb == no_value ? no_value : emit(Op::Matmul, ty, {a(), tb}), ty);
      default:
        throw InternalError("autodiff: no derivative rule for '" + std::string(info(n.op).spelling) + "'");
    }
  }
};

size_t Forward::derive(size_t fn, const std::vector<bool>& active) {
  auto key = std::make_pair(fn, active);
  if (auto it = done_.find(key); it != done_.end()) return it->second;
  const size_t index = out_.functions.size();
  done_.emplace(key, index);
  out_.functions.emplace_back();  // filled below; recursive calls find the index
  if (m_.functions[fn].custom_vjp >= 0)
    throw StagingError("jvp: @" + m_.functions[fn].name +
                       " has a custom reverse-mode rule (kiln::custom_vjp), which forward mode cannot use");
  const int variant = variants_[fn]++;
  std::string name = m_.functions[fn].name + "_jvp" + (variant ? std::to_string(variant + 1) : "");
  Function g = Deriver(*this, m_, m_.functions[fn], active).run(std::move(name));
  out_.functions[index] = std::move(g);
  return index;
}

}  // namespace

std::vector<bool> jvp_active(const Function& entry, const std::vector<size_t>& wrt) {
  const auto& ps = entry.params();
  std::vector<bool> active(ps.size(), false);
  for (size_t i : wrt) {
    if (i >= ps.size() || !differentiable(entry.type(ps[i])))
      throw StagingError("jvp: parameter " + std::to_string(i) + " of @" + entry.name +
                         " is not a floating-point scalar or buffer");
    active[i] = true;
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    const Type t = entry.type(ps[i]);
    if (is_float_buffer(t) && t.writable) active[i] = true;
  }
  return active;
}

void require_unlowered(const Module& m, const char* who) {
  for (const Function& f : m.functions)
    for (const Node& n : f.nodes)
      if (n.op == Op::Alloc || n.op == Op::Gemm)
        throw InternalError(std::string(who) + ": @" + f.name + " holds lowered tensor code ('" +
                            std::string(info(n.op).spelling) +
                            "'): differentiate the module before tensor lowering (Options::passes.lower_tensors = false)");
}

Module jvp(const Module& m, const std::vector<size_t>& wrt) {
  require_unlowered(m, "autodiff::jvp");
  Forward fw(m);
  fw.derive(0, jvp_active(m.functions.at(0), wrt));
  return fw.take();
}

}  // namespace kiln::autodiff

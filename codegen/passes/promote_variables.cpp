// Variable promotion on structured regions. The function is rebuilt top to
// bottom with an environment mapping each staging variable to its current
// SSA value. var.store updates the environment, var.load reads it. A
// structured op whose regions store a variable that is visible outside gets
// one more result per such variable (if), or one more loop-carried value
// (for, while); the values after the op are projections of its results.
// Projections are created lazily, at the first read, so variables that are
// never read again leave no dead `get` behind.
#include "promote_variables.h"

#include <kiln/error.h>

#include <map>
#include <set>
#include <unordered_map>

namespace kiln::passes {
namespace {

using namespace ir;

class Promoter {
 public:
  explicit Promoter(const Function& in) : in_(in), map_(in.nodes.size(), no_value) {}

  Function run() {
    out_.name = in_.name;
    out_.result_types = in_.result_types;
    out_.param_names = in_.param_names;
    out_.custom_vjp = in_.custom_vjp;
    out_.body = out_.add_region();
    Env env{nullptr, {}};
    copy_params(in_.body, out_.body, 0);
    copy_body(in_.body, out_.body, env);
    out_.regions[out_.body].yields = mapped(in_.region(in_.body).yields);
    return std::move(out_);
  }

 private:
  // A variable's value in a region: a value, or element `index` of the
  // tuple produced by a structured op in region `owner`, not yet projected.
  struct Binding {
    ValueId value = no_value;
    ValueId tuple = no_value;
    int64_t index = 0;
    RegionId owner = 0;
    Type type;
    static Binding to(ValueId v) {
      Binding b;
      b.value = v;
      return b;
    }
  };
  struct Env {
    Env* parent;
    std::map<int64_t, Binding> vars;
  };

  const Function& in_;
  Function out_;
  std::vector<ValueId> map_;
  std::unordered_map<RegionId, std::vector<int64_t>> mods_;

  const std::vector<int64_t>& mods(RegionId r) {
    if (auto it = mods_.find(r); it != mods_.end()) return it->second;
    std::set<int64_t> s;
    for (ValueId v : in_.region(r).body) {
      const Node& n = in_.node(v);
      if (n.op == Op::VarStore) s.insert(n.imm);
      for (RegionId c : n.regions)
        for (int64_t var : mods(c)) s.insert(var);
    }
    return mods_[r] = std::vector<int64_t>(s.begin(), s.end());
  }

  static Binding* find(Env* e, int64_t var) {
    for (; e; e = e->parent)
      if (auto it = e->vars.find(var); it != e->vars.end()) return &it->second;
    return nullptr;
  }

  ValueId lookup(Env& env, int64_t var) {
    Binding* b = find(&env, var);
    if (!b) return no_value;
    if (b->value == no_value) {
      // The owner region's body ends just before whatever is being built now.
      b->value = out_.add(Op::Get, b->type, {b->tuple}, b->index, out_.node(b->tuple).loc);
      out_.regions[b->owner].body.push_back(b->value);
    }
    return b->value;
  }

  ValueId must_lookup(Env& env, int64_t var, ValueId user) {
    ValueId v = lookup(env, var);
    if (v == no_value)
      throw InternalError("promote_variables: $" + std::to_string(var) + " is read by %" + std::to_string(user) +
                          " in @" + in_.name + " with no reaching store");
    return v;
  }

  std::vector<ValueId> mapped(const std::vector<ValueId>& vs) const {
    std::vector<ValueId> out;
    out.reserve(vs.size());
    for (ValueId v : vs) out.push_back(map_[v]);
    return out;
  }

  /// Variables stored in `regions` that are visible in env, in id order.
  std::vector<int64_t> carried(const Node& n, Env& env) {
    std::set<int64_t> s;
    for (RegionId r : n.regions)
      for (int64_t var : mods(r))
        if (find(&env, var)) s.insert(var);
    return {s.begin(), s.end()};
  }

  void copy_params(RegionId from, RegionId to, size_t first) {
    const auto& ps = in_.region(from).params;
    for (size_t i = first; i < ps.size(); ++i) map_[ps[i]] = add_param(to, in_.type(ps[i]));
  }
  ValueId add_param(RegionId to, Type t) {
    ValueId p = out_.add(Op::Param, t, {}, static_cast<int64_t>(out_.regions[to].params.size()));
    out_.regions[to].params.push_back(p);
    return p;
  }

  void copy_body(RegionId from, RegionId to, Env& env) {
    for (ValueId v : in_.region(from).body) node(v, to, env);
  }

  /// Builds region `to` from `from` in a child environment whose variables
  /// `vars` are bound to new trailing parameters (loops) or inherited (if).
  RegionId child(RegionId from, Env& env, const std::vector<int64_t>& vars, const std::vector<Type>& param_types,
                 const std::vector<ValueId>& leading_yields) {
    RegionId to = out_.add_region();
    Env inner{&env, {}};
    copy_params(from, to, 0);
    for (size_t j = 0; j < param_types.size(); ++j) inner.vars[vars[j]] = Binding::to(add_param(to, param_types[j]));
    copy_body(from, to, inner);
    std::vector<ValueId> ys = leading_yields.empty() ? mapped(in_.region(from).yields) : leading_yields;
    for (int64_t var : vars) ys.push_back(must_lookup(inner, var, from));
    out_.regions[to].yields = std::move(ys);
    return to;
  }

  void bind_results(Env& env, const std::vector<int64_t>& vars, ValueId node, size_t first, RegionId owner,
                    const std::vector<Type>& types) {
    for (size_t j = 0; j < vars.size(); ++j)
      env.vars[vars[j]] = Binding{no_value, node, static_cast<int64_t>(first + j), owner, types[j]};
  }

  void node(ValueId v, RegionId into, Env& env) {
    const Node& n = in_.node(v);
    switch (n.op) {
      case Op::VarStore:
        env.vars[n.imm] = Binding::to(map_[n.args[0]]);
        return;
      case Op::VarLoad:
        map_[v] = must_lookup(env, n.imm, v);
        return;
      case Op::If: {
        auto vars = carried(n, env);
        RegionId t = child(n.regions[0], env, vars, {}, {});
        RegionId e = child(n.regions[1], env, vars, {}, {});
        std::vector<Type> types;
        const auto& ty = out_.regions[t].yields;
        for (size_t j = ty.size() - vars.size(); j < ty.size(); ++j) types.push_back(out_.type(ty[j]));
        ValueId x = place(Op::If, n, {map_[n.args[0]]}, {t, e}, into, v);
        bind_results(env, vars, x, in_.region(n.regions[0]).yields.size(), into, types);
        return;
      }
      case Op::For: {
        auto vars = carried(n, env);
        std::vector<ValueId> inits = mapped(n.args);
        std::vector<Type> types;
        for (int64_t var : vars) {
          inits.push_back(must_lookup(env, var, v));
          types.push_back(out_.type(inits.back()));
        }
        RegionId b = child(n.regions[0], env, vars, types, {});
        ValueId x = place(Op::For, n, std::move(inits), {b}, into, v);
        bind_results(env, vars, x, n.args.size() - 3, into, types);
        return;
      }
      case Op::While: {
        auto vars = carried(n, env);
        std::vector<ValueId> inits = mapped(n.args);
        std::vector<Type> types;
        for (int64_t var : vars) {
          inits.push_back(must_lookup(env, var, v));
          types.push_back(out_.type(inits.back()));
        }
        // The cond region forwards (c, v..., new vars...) to the body.
        RegionId c = out_.add_region();
        {
          Env inner{&env, {}};
          copy_params(n.regions[0], c, 0);
          for (size_t j = 0; j < vars.size(); ++j) inner.vars[vars[j]] = Binding::to(add_param(c, types[j]));
          copy_body(n.regions[0], c, inner);
          std::vector<ValueId> ys = mapped(in_.region(n.regions[0]).yields);
          for (int64_t var : vars) ys.push_back(must_lookup(inner, var, v));
          out_.regions[c].yields = std::move(ys);
        }
        RegionId b = child(n.regions[1], env, vars, types, {});
        ValueId x = place(Op::While, n, std::move(inits), {c, b}, into, v);
        bind_results(env, vars, x, in_.region(n.regions[0]).yields.size() - 1, into, types);
        return;
      }
      case Op::ParallelFor: {
        if (!carried(n, env).empty())
          throw InternalError("promote_variables: a parallel_for body in @" + in_.name +
                              " assigns a variable declared outside it");
        RegionId b = child(n.regions[0], env, {}, {}, {});
        place(Op::ParallelFor, n, mapped(n.args), {b}, into, v);
        return;
      }
      case Op::Param:
        throw InternalError("promote_variables: a param node in a region body of @" + in_.name);
      case Op::Const: case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp:
      case Op::Log: case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast:
      case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min:
      case Op::Max: case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl:
      case Op::Shr: case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Fma: case Op::Select: case Op::Size: case Op::Disjoint: case Op::Get: case Op::Load: case Op::Store:
      case Op::TapePush: case Op::TapePop: case Op::TapeReserve: case Op::TapeRelease: case Op::Call:
      case Op::Alloc: case Op::Check: case Op::Gemm: case Op::Splat: case Op::Iota: case Op::TensorConst: case Op::Broadcast: case Op::Transpose: case Op::Reshape:
      case Op::Slice: case Op::Embed: case Op::ReduceSum: case Op::ReduceMax: case Op::Matmul:
      case Op::TensorLoad: case Op::TensorStore:
        place(n.op, n, mapped(n.args), {}, into, v);
        return;
    }
  }

  ValueId place(Op op, const Node& n, std::vector<ValueId> args, std::vector<RegionId> regions, RegionId into,
                ValueId old) {
    ValueId x = out_.add(op, n.type, std::move(args), n.imm, n.loc, std::move(regions));
    out_.regions[into].body.push_back(x);
    map_[old] = x;
    return x;
  }
};

bool has_variables(const Function& f) {
  bool found = false;
  walk(f, [&](ValueId v) { found = found || f.node(v).op == Op::VarLoad || f.node(v).op == Op::VarStore; });
  return found;
}

}  // namespace

ir::Module promote_variables(const ir::Module& m) {
  ir::Module out;
  for (const Function& f : m.functions) out.functions.push_back(has_variables(f) ? Promoter(f).run() : f);
  return out;
}

}  // namespace kiln::passes

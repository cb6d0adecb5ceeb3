// Reverse mode, the reverse sweep: f_rev walks each region's segments
// backwards, pops what f_fwd pushed for a segment, and runs the derivative
// rules, adding into SSA adjoints. An if reverses into an if, a loop into a
// loop, a call into a call of the callee's f_rev.
#include "sweep.h"
#include "tensor_rules.h"

#include <kiln/error.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace kiln::autodiff::rev {

// The primal value of src in f_rev: popped (or a parameter), or
// recomputed here.
ValueId Sweep::p(ValueId src) {
  if (pv_[src] != no_value && std::find(open_.begin(), open_.end(), pv_region_[src]) != open_.end())
    return pv_[src];
  if (!rematerialisable(src) && !cheap(f_.node(src)))
    throw InternalError("autodiff: reverse sweep of @" + f_.name + " reads %" + std::to_string(src) +
                        ", which it neither popped nor can recompute");
  const Node& n = f_.node(src);
  std::vector<ValueId> args;
  for (ValueId a : n.args) args.push_back(p(a));
  const std::source_location saved = loc_;
  loc_ = n.loc;
  const ValueId v = emit(n.op, n.type, std::move(args), n.imm);
  loc_ = saved;
  bind(src, v);
  return v;
}

void Sweep::bind(ValueId src, ValueId v) {
  pv_[src] = v;
  pv_region_[src] = cur_;
}

// Emission into region r (of f_rev) from here until the matching leave().
RegionId Sweep::enter(RegionId r) {
  const RegionId saved = cur_;
  cur_ = r;
  open_.push_back(r);
  return saved;
}

void Sweep::leave(RegionId saved) {
  open_.pop_back();
  cur_ = saved;
}

void Sweep::accumulate(ValueId src, ValueId contribution) {
  if (contribution == no_value || !float_active(src)) return;
  if (batch_) {
    batch_->emplace_back(src, contribution);
    return;
  }
  const Type t = f_.type(src);
  adj_[src] = adj_[src] == no_value ? contribution : emit(Op::Add, t, {adj_[src], contribution});
}

ValueId Sweep::tuple_adj(ValueId tuple, size_t k, Type t) {
  const auto& e = tadj_[tuple];
  if (k < e.size() && e[k] != no_value) return e[k];
  return constant(t, 0.0);
}

// Clears the reverse state of the values region r defines.
void Sweep::clear(RegionId r) {
  for (ValueId x : f_.region(r).params) adj_[x] = no_value;
  for (ValueId x : f_.region(r).body) {
    adj_[x] = no_value;
    tadj_[x].clear();
    pv_[x] = no_value;  // a region reversed twice (a while_'s cond) pops or recomputes afresh
  }
}

// Reverses region r's body into the current region: segments backwards,
// each popping its needs first.
void Sweep::rev_body(RegionId r) {
  const auto& body = f_.region(r).body;
  std::vector<std::pair<size_t, size_t>> segs;  // [begin, end) per segment
  size_t begin = 0;
  for (size_t i = 0; i < body.size(); ++i)
    if (ends_segment(f_.node(body[i])) || i + 1 == body.size()) {
      segs.emplace_back(begin, i + 1);
      begin = i + 1;
    }
  for (size_t s = segs.size(); s-- > 0;) {
    const ValueId last = body[segs[s].second - 1];
    if (trips_[last] != no_value && relevant_[last]) trips_rev_ = emit(Op::TapePop, Type::scalar(Scalar::i64), {}, level_);
    const auto& needs = seg_needs_[r][s];
    if (auto owner = slot_owner_.find(r); owner != slot_owner_.end()) {  // from this iteration's row
      Slots& sl = slots_.at(owner->second);
      for (ValueId x : needs) bind(x, slot_load(sl, sl.col.at(x), f_.type(x)));
    } else {
      for (size_t k = needs.size(); k-- > 0;) bind(needs[k], emit(Op::TapePop, f_.type(needs[k]), {}, level_));
    }
    for (size_t i = segs[s].second; i-- > segs[s].first;) rev_node(body[i]);
  }
}

// Emits the reverse of region r (cleared first), given the adjoints of its
// yields, into the current region; returns the adjoints of its params.
std::vector<ValueId> Sweep::rev_region(RegionId r, const std::vector<ValueId>& yield_adjs, size_t first_yield) {
  clear(r);
  const auto& ys = f_.region(r).yields;
  for (size_t k = first_yield; k < ys.size(); ++k) accumulate(ys[k], yield_adjs[k - first_yield]);
  rev_body(r);
  std::vector<ValueId> out;
  for (ValueId p : f_.region(r).params) out.push_back(adj_[p]);
  return out;
}

void Sweep::rev_node(ValueId v) {
  if (!relevant_[v]) return;
  const Node& n = f_.node(v);
  loc_ = n.loc;
  switch (n.op) {
    case Op::If: return rev_if(v, n);
    case Op::For: return rev_for(v, n);
    case Op::ParallelFor: return slots_.count(v) ? rev_parallel(v, n) : rev_for(v, n);
    case Op::While: return checkpointed(v) ? rev_while_checkpointed(v, n) : rev_while(v, n);
    case Op::Call: return rev_call(v, n);
    case Op::Get: {
      if (adj_[v] == no_value) return;
      auto& e = tadj_[n.args[0]];
      const size_t k = static_cast<size_t>(n.imm);
      if (e.size() <= k) e.resize(k + 1, no_value);
      e[k] = e[k] == no_value ? adj_[v] : emit(Op::Add, n.type, {e[k], adj_[v]});
      return;
    }
    case Op::Load: {
      if (adj_[v] == no_value) return;
      if (record_ && record_->rec_col.count(v)) {  // added up after the parallel loop
        const auto [val, idx] = record_->rec_col.at(v);
        slot_store(*record_, idx, p(n.args[1]));
        slot_store(*record_, val, adj_[v]);
        return;
      }
      const ValueId buf = adjoint_buffer(n.args[0]), i = p(n.args[1]);
      const ValueId old = emit(Op::Load, n.type, {buf, i});
      emit(Op::Store, {}, {buf, i, emit(Op::Add, n.type, {old, adj_[v]})});
      return;
    }
    case Op::Store: {
      const ValueId buf = adjoint_buffer(n.args[0]), i = p(n.args[1]);
      const Type t = f_.type(n.args[2]);
      const ValueId g = emit(Op::Load, t, {buf, i});
      emit(Op::Store, {}, {buf, i, constant(t, 0.0)});
      accumulate(n.args[2], g);
      return;
    }
    case Op::TensorLoad: {  // the adjoint buffer's elements += g
      if (adj_[v] == no_value) return;
      const ValueId buf = adjoint_buffer(n.args[0]), at = p(n.args[1]);
      const ValueId old = emit(Op::TensorLoad, n.type, {buf, at}, n.imm);
      emit(Op::TensorStore, {}, {emit(Op::Add, n.type, {old, adj_[v]}), buf, at}, n.imm);
      return;
    }
    case Op::TensorStore: {  // take the stored elements' adjoints and zero them
      const Type t = f_.type(n.args[0]);
      const ValueId buf = adjoint_buffer(n.args[1]), at = p(n.args[2]);
      const ValueId g = emit(Op::TensorLoad, t, {buf, at}, n.imm);
      emit(Op::TensorStore, {}, {constant(t, 0.0), buf, at}, n.imm);
      accumulate(n.args[0], g);
      return;
    }
    case Op::TapePush: {  // the adjoint of the popped value comes back on the same tape
      const ValueId g = emit(Op::TapePop, f_.type(n.args[0]), {}, n.imm);
      accumulate(n.args[0], g);
      return;
    }
    case Op::TapePop:
      emit(Op::TapePush, {}, {adj_or_zero(v)}, n.imm);
      return;
    default: {
      if (adj_[v] == no_value) return;
      // A value in several operand slots (x - x, x * x, fma(x, y, x)) gets
      // the sum of its contributions, as forward mode's tangent does:
      // x - x then adds g - g = 0 to x's adjoint, not g and then -g, which
      // would absorb the rest of x's adjoint when g is large (kiln-fuzz
      // seed 505840: (x - x) * -1.8e308 left x's gradient 0).
      std::vector<std::pair<ValueId, ValueId>> batch;
      batch_ = &batch;
      rule(v, n, adj_[v]);
      batch_ = nullptr;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].second == no_value) continue;
        ValueId sum = batch[i].second;
        for (size_t j = i + 1; j < batch.size(); ++j)
          if (batch[j].first == batch[i].first && batch[j].second != no_value) {
            sum = emit(Op::Add, f_.type(batch[i].first), {sum, batch[j].second});
            batch[j].second = no_value;
          }
        accumulate(batch[i].first, sum);
      }
      return;
    }
  }
}

ValueId Sweep::adjoint_buffer(ValueId buf) const {
  if (adjbuf_[buf] == no_value)
    throw InternalError("autodiff: buffer %" + std::to_string(buf) + " of @" + f_.name + " has no adjoint buffer");
  return adjbuf_[buf];
}

// The derivative rules: adds g * d(op)/d(arg) to each active argument's
// adjoint. One case per op with a float result; docs/autodiff.md lists them.
void Sweep::rule(ValueId v, const Node& n, ValueId g) {
  const Type ty = n.type;
  auto a = [&] { return p(n.args[0]); };
  auto b = [&] { return p(n.args[1]); };
  auto on = [&](size_t i) { return float_active(n.args[i]); };
  auto mul = [&](ValueId x, ValueId y) { return emit(Op::Mul, ty, {x, y}); };
  auto div = [&](ValueId x, ValueId y) { return emit(Op::Div, ty, {x, y}); };
  auto neg = [&](ValueId x) { return emit(Op::Neg, ty, {x}); };
  auto cmp = [&](Op op, ValueId x, ValueId y) { return emit(op, g_.type(x).with_elem(Scalar::i1), {x, y}); };
  auto select = [&](ValueId c, ValueId x, ValueId y) { return emit(Op::Select, ty, {c, x, y}); };
  auto zero = [&] { return constant(ty, 0.0); };
  switch (n.op) {
    case Op::Const:
    case Op::Floor:  // piecewise constant: zero (also at the jumps)
      return;
    case Op::Neg:
      return accumulate(n.args[0], neg(g));
    case Op::Abs: {  // sign(a) g: zero at a == 0
      const ValueId x = a(), z = zero();
      return accumulate(n.args[0], select(cmp(Op::Gt, x, z), g, select(cmp(Op::Lt, x, z), neg(g), z)));
    }
    case Op::Sqrt:  // g / (2 y)
      return accumulate(n.args[0], div(g, mul(p(v), constant(ty, 2.0))));
    case Op::Exp:
      return accumulate(n.args[0], mul(g, p(v)));
    case Op::Log:
      return accumulate(n.args[0], div(g, a()));
    case Op::Sin:
      return accumulate(n.args[0], mul(g, emit(Op::Cos, ty, {a()})));
    case Op::Cos:
      return accumulate(n.args[0], neg(mul(g, emit(Op::Sin, ty, {a()}))));
    case Op::Tanh: {  // g (1 - y^2)
      const ValueId y = p(v);
      return accumulate(n.args[0], mul(g, emit(Op::Sub, ty, {constant(ty, 1.0), mul(y, y)})));
    }
    case Op::Cast:  // float -> float converts the adjoint back
      if (on(0)) accumulate(n.args[0], emit(Op::Cast, f_.type(n.args[0]), {g}));
      return;
    case Op::Add:
      accumulate(n.args[0], g);
      return accumulate(n.args[1], g);
    case Op::Sub:
      accumulate(n.args[0], g);
      if (on(1)) accumulate(n.args[1], neg(g));
      return;
    case Op::Mul:
      if (on(0)) accumulate(n.args[0], mul(g, b()));
      if (on(1)) accumulate(n.args[1], mul(g, a()));
      return;
    case Op::Div: {  // d/da = 1/b, d/db = -y/b
      const ValueId gb = div(g, b());
      accumulate(n.args[0], gb);
      if (on(1)) accumulate(n.args[1], neg(mul(gb, p(v))));
      return;
    }
    case Op::Rem: {  // a - trunc(a / b) b: d/da = 1, d/db = -trunc(a / b)
      accumulate(n.args[0], g);
      if (!on(1)) return;
      const ValueId q = div(a(), b()), z = zero();
      const ValueId down = emit(Op::Floor, ty, {q});
      const ValueId up = neg(emit(Op::Floor, ty, {neg(q)}));
      return accumulate(n.args[1], neg(mul(g, select(cmp(Op::Lt, q, z), up, down))));
    }
    case Op::Min: case Op::Max: {  // min: b < a ? b : a; max: a < b ? b : a (a tie goes to a)
      const ValueId second = n.op == Op::Min ? cmp(Op::Lt, b(), a()) : cmp(Op::Lt, a(), b());
      const ValueId z = zero();
      if (on(0)) accumulate(n.args[0], select(second, z, g));
      if (on(1)) accumulate(n.args[1], select(second, g, z));
      return;
    }
    case Op::Pow: {  // d/da = b a^(b-1) (0 where b == 0), d/db = y log a (0 where a == 0)
      const ValueId z = zero();
      if (on(0)) {
        const ValueId d = mul(b(), emit(Op::Pow, ty, {a(), emit(Op::Sub, ty, {b(), constant(ty, 1.0)})}));
        accumulate(n.args[0], mul(g, select(cmp(Op::Eq, b(), z), z, d)));
      }
      if (on(1)) {
        const ValueId d = mul(p(v), emit(Op::Log, ty, {a()}));
        accumulate(n.args[1], mul(g, select(cmp(Op::Eq, a(), z), z, d)));
      }
      return;
    }
    case Op::Fma:  // a b + c
      if (on(0)) accumulate(n.args[0], mul(g, b()));
      if (on(1)) accumulate(n.args[1], mul(g, a()));
      return accumulate(n.args[2], g);
    case Op::Select: {
      const ValueId c = p(n.args[0]), z = zero();
      if (on(1)) accumulate(n.args[1], select(c, g, z));
      if (on(2)) accumulate(n.args[2], select(c, z, g));
      return;
    }
    case Op::Iota:
    case Op::TensorConst:
      return;
    default:
      return tensor_rule(v, n, g);
  }
}

// The tensor ops' rules: each adjoint is itself a tensor op (a matmul's two
// matmuls, a sum's broadcast), so the gradient stays at tensor level.
void Sweep::tensor_rule(ValueId v, const Node& n, ValueId g) {
  const EmitFn e = [&](Op op, Type t, std::vector<ValueId> args, int64_t imm) { return emit(op, t, std::move(args), imm); };
  const Type ty = n.type, xt = f_.type(n.args[0]);
  switch (n.op) {
    case Op::Splat:
      return accumulate(n.args[0], emit(Op::ReduceSum, xt, {g}, (int64_t{1} << shape(ty).size()) - 1));
    case Op::Broadcast:
      return accumulate(n.args[0], unbroadcast(e, g, ty, xt));
    case Op::Transpose:
      return accumulate(n.args[0], emit(Op::Transpose, xt, {g}, inverse_permutation(n.imm)));
    case Op::Reshape:
      return accumulate(n.args[0], emit(Op::Reshape, xt, {g}));
    case Op::Slice:
      return accumulate(n.args[0], emit(Op::Embed, xt, {g}, n.imm));
    case Op::Embed:
      return accumulate(n.args[0], emit(Op::Slice, xt, {g}, n.imm));
    case Op::ReduceSum:
      return accumulate(n.args[0], spread(e, g, ty, xt, n.imm));
    case Op::ReduceMax: {  // shared equally by the elements equal to the max
      const Type ft = xt;
      const ValueId hit = emit(Op::Cast, ft, {emit(Op::Eq, xt.with_elem(Scalar::i1), {p(n.args[0]), spread(e, p(v), ty, xt, n.imm)})});
      const ValueId count = emit(Op::ReduceSum, ty, {hit}, n.imm);
      const ValueId share = emit(Op::Div, ty, {g, count});
      return accumulate(n.args[0], emit(Op::Mul, ft, {hit, spread(e, share, ty, xt, n.imm)}));
    }
    case Op::Matmul: {  // dA = G B^T, dB = A^T G
      const Type bt = f_.type(n.args[1]);
      if (float_active(n.args[0]))
        accumulate(n.args[0], emit(Op::Matmul, xt, {g, swap_last_axes(e, p(n.args[1]), bt)}));
      if (float_active(n.args[1]))
        accumulate(n.args[1], emit(Op::Matmul, bt, {swap_last_axes(e, p(n.args[0]), xt), g}));
      return;
    }
    default:
      throw InternalError("autodiff: no reverse rule for '" + std::string(info(n.op).spelling) + "'");
  }
}

// Free adjoints: the current adjoints of the outside values a structured
// node's regions use (zeros where none), to carry in; and back.
std::vector<ValueId> Sweep::free_adjs(ValueId s) {
  std::vector<ValueId> out;
  for (ValueId x : free_act_[s]) out.push_back(adj_or_zero(x));
  return out;
}

void Sweep::rev_if(ValueId v, const Node& n) {
  const auto& fr = free_act_[v];
  const std::vector<Type> types = tuple_types(m_, f_, n);
  std::vector<ValueId> result_adjs;
  for (size_t k = 0; k < types.size(); ++k)
    result_adjs.push_back(types[k].is_float() ? tuple_adj(v, k, types[k]) : no_value);
  const std::vector<ValueId> outer = free_adjs(v);
  const ValueId c = p(n.args[0]);
  RegionId branches[2];
  for (int k = 0; k < 2; ++k) {
    branches[k] = g_.add_region();
    const RegionId saved = enter(branches[k]);
    for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = outer[j];
    rev_region(n.regions[k], result_adjs);
    g_.regions[branches[k]].yields = free_adjs(v);
    leave(saved);
  }
  loc_ = n.loc;
  const ValueId r = emit(Op::If, Type::tuple(), {c}, 0, {branches[0], branches[1]});
  for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, j, f_.type(fr[j]));
}

void Sweep::rev_for(ValueId v, const Node& n) {
  const auto& fr = free_act_[v];
  const Region& body = f_.region(n.regions[0]);
  const size_t nc = n.args.size() - 3;
  std::vector<ValueId> inits = {p(n.args[0]), p(n.args[1]), p(n.args[2])};
  std::vector<size_t> carried;  // float carried slots
  for (size_t j = 0; j < nc; ++j)
    if (f_.type(n.args[3 + j]).is_float()) {
      carried.push_back(j);
      inits.push_back(tuple_adj(v, j, f_.type(n.args[3 + j])));
    }
  for (ValueId x : free_adjs(v)) inits.push_back(x);
  // With step 1 the reverse loop runs j over the same range and the body
  // sees index lo + hi - 1 - j (wrapping arithmetic is exact here), so the
  // index need not be pushed.
  const Type it = f_.type(n.args[0]);
  const bool unit = unit_index(body.params[0]);
  const ValueId last = unit ? emit(Op::Sub, it, {emit(Op::Add, it, {inits[0], inits[1]}), constant(it, 1.0)}) : no_value;
  const RegionId rb = g_.add_region();
  const ValueId j = param(rb, it);
  std::vector<ValueId> yield_adjs(nc, no_value);
  for (size_t k : carried) yield_adjs[k] = param(rb, f_.type(n.args[3 + k]));
  std::vector<ValueId> acc;
  for (ValueId x : fr) acc.push_back(param(rb, f_.type(x)));
  {
    const RegionId saved = enter(rb);
    if (unit) bind(body.params[0], emit(Op::Sub, it, {last, j}));
    for (size_t k = 0; k < fr.size(); ++k) adj_[fr[k]] = acc[k];
    std::vector<ValueId> pa = rev_region(n.regions[0], yield_adjs);
    std::vector<ValueId> ys;
    for (size_t k : carried) ys.push_back(pa[k + 1] != no_value ? pa[k + 1] : constant(f_.type(body.params[k + 1]), 0.0));
    for (ValueId x : free_adjs(v)) ys.push_back(x);
    g_.regions[rb].yields = std::move(ys);
    leave(saved);
  }
  loc_ = n.loc;
  const ValueId r = emit(Op::For, Type::tuple(), std::move(inits), 0, {rb});
  // Outside values first: an init may also be used inside the loop.
  for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, carried.size() + j, f_.type(fr[j]));
  for (size_t k = 0; k < carried.size(); ++k)
    accumulate(n.args[3 + carried[k]], get(r, k, f_.type(n.args[3 + carried[k]])));
}

// A loop of `count` iterations of a while_'s (body, cond) reverse. It
// carries the adjoints of the float carried values (starting at `adjs`)
// and of the outside values the loop reads (starting at `outer`); the
// result holds them in that order.
ValueId Sweep::reverse_iterations(ValueId v, const Node& n, ValueId count, const std::vector<size_t>& carried,
                                  const std::vector<ValueId>& adjs, const std::vector<ValueId>& outer) {
  const auto& fr = free_act_[v];
  const size_t nres = f_.region(n.regions[0]).yields.size() - 1;
  const Type i64 = Type::scalar(Scalar::i64);
  std::vector<ValueId> inits = {constant(i64, 0.0), count, constant(i64, 1.0)};
  inits.insert(inits.end(), adjs.begin(), adjs.end());
  inits.insert(inits.end(), outer.begin(), outer.end());
  const RegionId rb = g_.add_region();
  param(rb, i64);
  std::vector<ValueId> body_adjs(n.args.size(), no_value);
  for (size_t j : carried) body_adjs[j] = param(rb, f_.type(n.args[j]));
  std::vector<ValueId> acc;
  for (ValueId x : fr) acc.push_back(param(rb, f_.type(x)));
  const RegionId saved = enter(rb);
  for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = acc[j];
  std::vector<ValueId> va = rev_region(n.regions[1], body_adjs);
  std::vector<ValueId> cond_adjs(va.begin(), va.begin() + static_cast<std::ptrdiff_t>(nres));
  std::vector<ValueId> c2 = rev_region(n.regions[0], cond_adjs, 1);
  std::vector<ValueId> ys;
  for (size_t j : carried) ys.push_back(zero_or(c2[j], f_.type(n.args[j])));
  for (ValueId x : free_adjs(v)) ys.push_back(x);
  g_.regions[rb].yields = std::move(ys);
  leave(saved);
  loc_ = n.loc;
  return emit(Op::For, Type::tuple(), std::move(inits), 0, {rb});
}

std::vector<size_t> Sweep::float_slots(const Node& n) const {
  std::vector<size_t> out;
  for (size_t j = 0; j < n.args.size(); ++j)
    if (f_.type(n.args[j]).is_float()) out.push_back(j);
  return out;
}

// The results' adjoints of a while_, by forwarded value of its cond region.
std::vector<ValueId> Sweep::while_result_adjs(ValueId v, const Node& n) {
  const Region& cond = f_.region(n.regions[0]);
  std::vector<ValueId> out;
  for (size_t k = 0; k + 1 < cond.yields.size(); ++k) {
    const Type t = f_.type(cond.yields[k + 1]);
    out.push_back(t.is_float() ? tuple_adj(v, k, t) : no_value);
  }
  return out;
}

void Sweep::rev_while(ValueId v, const Node& n) {
  const auto& fr = free_act_[v];
  // The last evaluation of cond, which ended the loop; then trips x (body, cond) backwards.
  std::vector<ValueId> ca = rev_region(n.regions[0], while_result_adjs(v, n), 1);
  const std::vector<size_t> carried = float_slots(n);
  std::vector<ValueId> adjs;
  for (size_t j : carried) adjs.push_back(zero_or(ca[j], f_.type(n.args[j])));
  const ValueId r = reverse_iterations(v, n, trips_rev_, carried, adjs, free_adjs(v));
  for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, carried.size() + j, f_.type(fr[j]));
  for (size_t k = 0; k < carried.size(); ++k) accumulate(n.args[carried[k]], get(r, k, f_.type(n.args[carried[k]])));
}

void Sweep::rev_call(ValueId v, const Node& n) {
  const size_t callee = static_cast<size_t>(n.imm);
  std::vector<bool> act(n.args.size());
  for (size_t i = 0; i < n.args.size(); ++i) act[i] = act_[n.args[i]] != 0;
  const Sweeps s = rv_.derive(callee, act);
  const Function& cf = m_.functions[callee];
  std::vector<ValueId> args;
  for (ValueId a : n.args) args.push_back(p(a));
  for (size_t k = 0; k < cf.result_types.size(); ++k)
    if (cf.result_types[k].is_float()) args.push_back(tuple_adj(v, k, cf.result_types[k]));
  for (size_t i = 0; i < n.args.size(); ++i)
    if (act[i] && f_.type(n.args[i]).kind == TypeKind::buf) args.push_back(adjoint_buffer(n.args[i]));
  loc_ = n.loc;
  const ValueId r = emit(Op::Call, Type::tuple(), std::move(args), static_cast<int64_t>(s.rev));
  size_t k = 0;
  for (size_t i = 0; i < n.args.size(); ++i)
    if (act[i] && f_.type(n.args[i]).is_float()) accumulate(n.args[i], get(r, k++, f_.type(n.args[i])));
}

Function Sweep::reverse(std::string name) {
  g_ = Function{};
  g_.name = std::move(name);
  g_.body = g_.add_region();
  cur_ = g_.body;
  const auto& ps = f_.params();
  open_.assign(1, g_.body);
  for (ValueId p : ps) bind(p, param(g_.body, f_.type(p)));
  std::vector<ValueId> cot;
  for (Type t : f_.result_types)
    if (t.is_float()) cot.push_back(param(g_.body, t));
  for (size_t i = 0; i < ps.size(); ++i)
    if (act(ps[i]) && f_.type(ps[i]).kind == TypeKind::buf)
      adjbuf_[ps[i]] = param(g_.body, Type::buf(f_.type(ps[i]).elem, true));
  if (!f_.param_names.empty()) {
    g_.param_names = f_.param_names;
    for (size_t k = 0; k < cot.size(); ++k) g_.param_names.push_back("ct" + std::to_string(k));
    for (size_t i = 0; i < ps.size(); ++i)
      if (adjbuf_[ps[i]] != no_value) g_.param_names.push_back("grad_" + f_.param_names[i]);
  }
  const auto& ys = f_.region(f_.body).yields;
  std::vector<ValueId> yield_adjs;
  size_t k = 0;
  for (ValueId y : ys) yield_adjs.push_back(f_.type(y).is_float() ? cot[k++] : no_value);
  std::vector<ValueId> pa = rev_region(f_.body, yield_adjs);
  for (size_t i = 0; i < ps.size(); ++i)
    if (act(ps[i]) && f_.type(ps[i]).is_float()) {
      g_.regions[g_.body].yields.push_back(pa[i] != no_value ? pa[i] : constant(f_.type(ps[i]), 0.0));
      g_.result_types.push_back(f_.type(ps[i]));
    }
  return std::move(g_);
}

}  // namespace kiln::autodiff::rev

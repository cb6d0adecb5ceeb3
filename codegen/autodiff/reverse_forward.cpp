// Reverse mode, the forward sweep: f_fwd runs the primal and, at the end of
// each segment, pushes what the reverse of that segment needs. A relevant
// while_ also counts its iterations (or, checkpointed, pushes snapshots of
// its carried values instead of taping its body).
#include "sweep.h"

#include <kiln/error.h>

#include <string>
#include <utility>
#include <vector>

namespace kiln::autodiff::rev {

void Sweep::fwd_region(RegionId r, RegionId into) {
  const RegionId saved = cur_;
  cur_ = into;
  const auto& body = f_.region(r).body;
  size_t seg = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    fwd_node(body[i]);
    const bool last = i + 1 == body.size();
    if (ends_segment(f_.node(body[i])) || last) {
      push_segment(r, seg, body[i]);
      if (!last) ++seg;
    }
  }
  cur_ = saved;
}

void Sweep::push_segment(RegionId r, size_t seg, ValueId last) {
  if (seg >= seg_needs_[r].size() || quiet_) return;  // nothing to reverse, or a checkpointed stretch
  if (auto owner = slot_owner_.find(r); owner != slot_owner_.end()) {  // a row of the parallel_for's blocks
    Slots& sl = slots_.at(owner->second);
    for (ValueId x : seg_needs_[r][seg]) slot_store(sl, sl.col.at(x), fv(x));
    return;
  }
  for (ValueId x : seg_needs_[r][seg]) emit(Op::TapePush, {}, {fv(x)}, level_);
  if (trips_[last] != no_value && relevant_[last]) emit(Op::TapePush, {}, {trips_[last]}, level_);
}

std::vector<ValueId> Sweep::fargs(const Node& n) const {
  std::vector<ValueId> out;
  for (ValueId a : n.args) out.push_back(fv(a));
  return out;
}

RegionId Sweep::fwd_copy_region(RegionId r, const std::vector<Type>& extra_params) {
  const RegionId nr = g_.add_region();
  for (ValueId p : f_.region(r).params) fwd_[p] = param(nr, f_.type(p));
  for (Type t : extra_params) param(nr, t);
  fwd_region(r, nr);
  for (ValueId y : f_.region(r).yields) g_.regions[nr].yields.push_back(fv(y));
  return nr;
}

void Sweep::fwd_node(ValueId v) {
  const Node& n = f_.node(v);
  loc_ = n.loc;
  switch (n.op) {
    case Op::Param:
      throw InternalError("autodiff: a parameter in a region body");
    case Op::If: {
      RegionId a = fwd_copy_region(n.regions[0]);
      RegionId b = fwd_copy_region(n.regions[1]);
      loc_ = n.loc;
      fwd_[v] = emit(Op::If, n.type, fargs(n), n.imm, {a, b});
      return;
    }
    case Op::For: {
      RegionId body = fwd_copy_region(n.regions[0]);
      loc_ = n.loc;
      fwd_[v] = emit(Op::For, n.type, fargs(n), n.imm, {body});
      return;
    }
    case Op::ParallelFor: {
      if (slots_.count(v) && !quiet_) return fwd_parallel(v, n);
      RegionId body = fwd_copy_region(n.regions[0]);
      loc_ = n.loc;
      if (relevant_[v])  // sequential: see the comment atop sweep.h
        fwd_[v] = emit(Op::For, Type::tuple(), fargs(n), 0, {body});
      else
        fwd_[v] = emit(Op::ParallelFor, n.type, fargs(n), n.imm, {body});
      return;
    }
    case Op::While: {
      if (!relevant_[v]) {
        RegionId c = fwd_copy_region(n.regions[0]);
        RegionId b = fwd_copy_region(n.regions[1]);
        loc_ = n.loc;
        fwd_[v] = emit(Op::While, n.type, fargs(n), n.imm, {c, b});
        return;
      }
      // Carries an iteration count after the values.
      const Type i64 = Type::scalar(Scalar::i64);
      const bool snapshots = checkpointed(v) && !quiet_;
      if (snapshots) quiet_ = true;
      RegionId c = fwd_copy_region(n.regions[0], {i64});
      g_.regions[c].yields.push_back(g_.regions[c].params.back());
      if (snapshots) {  // at counts 0, K, 2K, ...: push the carried values
        const RegionId saved = cur_;
        cur_ = c;
        const ValueId count = g_.regions[c].params.back();
        const ValueId k = constant(i64, static_cast<double>(rv_.checkpoint_));
        const ValueId at = emit(Op::Eq, Type::scalar(Scalar::i1), {emit(Op::Rem, i64, {count, k}), constant(i64, 0.0)});
        const RegionId then = g_.add_region(), other = g_.add_region();
        cur_ = then;
        for (size_t j = 0; j + 1 < g_.regions[c].params.size(); ++j)
          emit(Op::TapePush, {}, {g_.regions[c].params[j]}, level_);
        cur_ = c;  // the cond's own code pushes nothing (quiet), so the order within it is free
        emit(Op::If, Type::tuple(), {at}, 0, {then, other});
        cur_ = saved;
      }
      RegionId b = fwd_copy_region(n.regions[1], {i64});
      if (snapshots) quiet_ = false;
      {
        const RegionId saved = cur_;
        cur_ = b;
        ValueId one = constant(i64, 1.0);
        g_.regions[b].yields.push_back(emit(Op::Add, i64, {g_.regions[b].params.back(), one}));
        cur_ = saved;
      }
      loc_ = n.loc;
      std::vector<ValueId> args = fargs(n);
      args.push_back(constant(i64, 0.0));
      fwd_[v] = emit(Op::While, n.type, std::move(args), n.imm, {c, b});
      trips_[v] = get(fwd_[v], f_.region(n.regions[0]).yields.size() - 1, i64);
      return;
    }
    case Op::Call: {
      std::vector<bool> act(n.args.size());
      for (size_t i = 0; i < n.args.size(); ++i) act[i] = act_[n.args[i]] != 0 && !quiet_;  // quiet: tape nothing
      const Sweeps s = rv_.derive(static_cast<size_t>(n.imm), act);
      fwd_[v] = emit(Op::Call, n.type, fargs(n), static_cast<int64_t>(s.fwd));
      return;
    }
    default:
      fwd_[v] = emit(n.op, n.type, fargs(n), n.imm);
      return;
  }
}

Function Sweep::forward(std::string name) {
  g_ = Function{};
  g_.name = std::move(name);
  g_.body = g_.add_region();
  for (ValueId p : f_.params()) fwd_[p] = param(g_.body, f_.type(p));
  g_.param_names = f_.param_names;
  fwd_region(f_.body, g_.body);
  for (ValueId y : f_.region(f_.body).yields) g_.regions[g_.body].yields.push_back(fv(y));
  g_.result_types = f_.result_types;
  return std::move(g_);
}

}  // namespace kiln::autodiff::rev

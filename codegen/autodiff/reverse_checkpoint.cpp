// Reverse mode, checkpointed while_ loops: the forward sweep keeps a
// snapshot of the carried values every K iterations (fwd_node), and the
// reverse sweep replays each stretch of K iterations, taping it, before
// reversing it.
#include "sweep.h"

#include <algorithm>
#include <vector>

namespace kiln::autodiff::rev {

// A relevant while_ whose regions write nothing (no store, no tape, no
// call that may write): with a checkpoint interval K, the forward sweep
// keeps only a snapshot of its carried values every K iterations and the
// reverse sweep replays each stretch of K iterations, taping it, before
// reversing it.
bool Sweep::checkpointed(ValueId v) const {
  if (rv_.checkpoint_ <= 0 || f_.node(v).op != Op::While || !relevant_[v]) return false;
  bool clean = true;
  for (RegionId r : f_.node(v).regions)
    walk(f_, r, [&](ValueId x) {
      const Node& n = f_.node(x);
      if (writes_state(n.op) || (n.op == Op::Call && rv_.writes_[static_cast<size_t>(n.imm)])) clean = false;
    });
  return clean;
}

// Emits region r's forward sweep (taping) into the current region with its
// parameters bound to `params`; returns its yields.
std::vector<ValueId> Sweep::replay(RegionId r, const std::vector<ValueId>& params) {
  const Region& reg = f_.region(r);
  for (size_t k = 0; k < reg.params.size(); ++k) fwd_[reg.params[k]] = params[k];
  fwd_region(r, cur_);
  std::vector<ValueId> out;
  for (ValueId y : reg.yields) out.push_back(fv(y));
  return out;
}

// The reverse of a checkpointed while_ (see checkpointed()). The forward
// sweep pushed the carried values at counts 0, K, 2K, ... and the count n.
// For each stretch, last first: pop its snapshot, replay its iterations
// taping them (the last stretch also the final cond), then reverse them.
void Sweep::rev_while_checkpointed(ValueId v, const Node& n) {
  const auto& fr = free_act_[v];
  const ValueId trips = trips_rev_;
  const size_t nc = n.args.size();
  const Type i64 = Type::scalar(Scalar::i64), i1 = Type::scalar(Scalar::i1);
  // What the replays read from outside, as f_rev values.
  std::vector<ValueId> used;
  auto use = [&](ValueId x) {
    if (std::find(used.begin(), used.end(), x) == used.end()) used.push_back(x);
  };
  for (RegionId r : n.regions) collect_used(v, r, use);
  for (ValueId x : used) fwd_[x] = p(x);
  const std::vector<ValueId> res_adjs = while_result_adjs(v, n);
  const std::vector<size_t> carried = float_slots(n);

  const ValueId k = constant(i64, static_cast<double>(rv_.checkpoint_));
  const ValueId zero = constant(i64, 0.0), one = constant(i64, 1.0);
  const ValueId nsnap = emit(Op::Add, i64, {emit(Op::Div, i64, {trips, k}), one});
  std::vector<ValueId> inits = {zero, nsnap, one};
  for (size_t j : carried) inits.push_back(constant(f_.type(n.args[j]), 0.0));
  for (ValueId x : free_adjs(v)) inits.push_back(x);
  const RegionId outer = g_.add_region();
  const ValueId jv = param(outer, i64);
  std::vector<ValueId> adj_c, acc;
  for (size_t j : carried) adj_c.push_back(param(outer, f_.type(n.args[j])));
  for (ValueId x : fr) acc.push_back(param(outer, f_.type(x)));
  {
    const RegionId saved = enter(outer);
    const ValueId seg = emit(Op::Sub, i64, {emit(Op::Sub, i64, {nsnap, one}), jv});
    const ValueId start = emit(Op::Mul, i64, {seg, k});
    const ValueId final = emit(Op::Eq, i1, {jv, zero});
    const ValueId len = emit(Op::Select, i64, {final, emit(Op::Sub, i64, {trips, start}), k});
    std::vector<ValueId> snap(nc);
    for (size_t j = nc; j-- > 0;) snap[j] = emit(Op::TapePop, f_.type(n.args[j]), {}, level_);
    // Replay the stretch, taping it.
    std::vector<ValueId> rinit = {zero, len, one};
    for (ValueId x : snap) rinit.push_back(x);
    const RegionId rr = g_.add_region();
    param(rr, i64);
    std::vector<ValueId> c;
    for (size_t j = 0; j < nc; ++j) c.push_back(param(rr, f_.type(n.args[j])));
    {
      const RegionId s2 = cur_;
      cur_ = rr;
      std::vector<ValueId> cy = replay(n.regions[0], c);
      std::vector<ValueId> vals(cy.begin() + 1, cy.end());
      g_.regions[rr].yields = replay(n.regions[1], vals);
      cur_ = s2;
    }
    const ValueId rep = emit(Op::For, Type::tuple(), std::move(rinit), 0, {rr});
    std::vector<ValueId> c_end;
    for (size_t j = 0; j < nc; ++j) c_end.push_back(get(rep, j, f_.type(n.args[j])));
    // The final cond (last stretch only): tape it, then reverse it.
    const RegionId tape_then = g_.add_region(), tape_else = g_.add_region();
    {
      const RegionId s2 = cur_;
      cur_ = tape_then;
      replay(n.regions[0], c_end);
      cur_ = s2;
    }
    emit(Op::If, Type::tuple(), {final}, 0, {tape_then, tape_else});
    const RegionId fin_then = g_.add_region(), fin_else = g_.add_region();
    {
      const RegionId s2 = enter(fin_then);
      for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = acc[j];
      std::vector<ValueId> ca = rev_region(n.regions[0], res_adjs, 1);
      std::vector<ValueId> ys;
      for (size_t q = 0; q < carried.size(); ++q)
        ys.push_back(zero_or(ca[carried[q]], f_.type(n.args[carried[q]])));
      for (ValueId x : free_adjs(v)) ys.push_back(x);
      g_.regions[fin_then].yields = std::move(ys);
      leave(s2);
    }
    {
      std::vector<ValueId> ys = adj_c;
      for (ValueId x : acc) ys.push_back(x);
      g_.regions[fin_else].yields = std::move(ys);
    }
    const ValueId fin = emit(Op::If, Type::tuple(), {final}, 0, {fin_then, fin_else});
    // The stretch's iterations backwards.
    std::vector<ValueId> badjs, bouter;
    for (size_t q = 0; q < carried.size(); ++q) badjs.push_back(get(fin, q, f_.type(n.args[carried[q]])));
    for (size_t q = 0; q < fr.size(); ++q) bouter.push_back(get(fin, carried.size() + q, f_.type(fr[q])));
    const ValueId back = reverse_iterations(v, n, len, carried, badjs, bouter);
    std::vector<ValueId> ys;
    for (size_t q = 0; q < carried.size() + fr.size(); ++q)
      ys.push_back(get(back, q, q < carried.size() ? f_.type(n.args[carried[q]]) : f_.type(fr[q - carried.size()])));
    g_.regions[outer].yields = std::move(ys);
    leave(saved);
  }
  loc_ = n.loc;
  const ValueId r = emit(Op::For, Type::tuple(), std::move(inits), 0, {outer});
  for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, carried.size() + j, f_.type(fr[j]));
  for (size_t q = 0; q < carried.size(); ++q) accumulate(n.args[carried[q]], get(r, q, f_.type(n.args[carried[q]])));
}

}  // namespace kiln::autodiff::rev

// Reverse mode, parallel_for in parallel (Slots, described in sweep.h): the
// plan of what each iteration keeps in its row of a block on the tape, and
// both sweeps of such a loop.
#include "sweep.h"

#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace kiln::autodiff::rev {

void Sweep::plan_parallel(ValueId v) {
  const Node& n = f_.node(v);
  const Region& body = f_.region(n.regions[0]);
  if (!relevant_[v] || !rv_.parallel_ || !unit_index(body.params[0])) return;
  bool simple = true;
  std::vector<RegionId> regions;
  std::function<void(RegionId)> scan = [&](RegionId r) {
    regions.push_back(r);
    for (ValueId x : f_.region(r).body) {
      const Node& m = f_.node(x);
      // Tensor values do not fit a row of doubles: such a body runs in order.
      if (m.op == Op::Call || is_tape_op(m.op) || is_tensor_op(m.op) || m.type.is_tensor() ||
          (!m.regions.empty() && m.op != Op::If))
        simple = false;
      for (RegionId c : m.regions) scan(c);
    }
  };
  scan(n.regions[0]);
  if (!simple) return;
  Slots s;
  for (RegionId r : regions)
    for (const auto& seg : seg_needs_[r])
      for (ValueId x : seg) s.col.emplace(x, column(s));
  for (ValueId x : free_act_[v]) s.free_col.emplace(x, column(s));
  // Buffers accessed at one index that differs per iteration.
  const ValueId i = body.params[0];
  std::map<ValueId, ValueId> index_of;  // buffer -> its one index, or no_value when several
  std::set<ValueId> stored;
  for (RegionId r : regions)
    for (ValueId x : f_.region(r).body) {
      const Node& m = f_.node(x);
      if (m.op != Op::Load && m.op != Op::Store) continue;
      if (m.op == Op::Store) stored.insert(m.args[0]);
      auto [it, fresh] = index_of.emplace(m.args[0], m.args[1]);
      if (!fresh && it->second != m.args[1]) it->second = no_value;
    }
  // A buffer the body stores to: its adjoint is taken at the store, so its
  // updates cannot wait for the sum after the loop. Iterations write
  // distinct elements (parallel_for's contract), so one index for every
  // access makes them direct; several indices: no parallel reverse.
  for (ValueId b : stored)
    if (act(b) && index_of[b] == no_value) return;
  std::function<bool(ValueId)> injective = [&](ValueId ix) {
    if (ix == i) return true;
    const Node& m = f_.node(ix);
    if (m.op == Op::Cast) return f_.type(m.args[0]).is_int() && m.type.is_int() &&
                                 bit_width(m.type.elem) >= bit_width(f_.type(m.args[0]).elem) && injective(m.args[0]);
    if (m.op == Op::Add) return (injective(m.args[0]) && !inside(m.args[1], v)) || (injective(m.args[1]) && !inside(m.args[0], v));
    if (m.op == Op::Sub) return injective(m.args[0]) && !inside(m.args[1], v);
    return false;
  };
  for (RegionId r : regions)
    for (ValueId x : f_.region(r).body) {
      const Node& m = f_.node(x);
      if (m.op != Op::Load || !act(m.args[0]) || !float_active(x)) continue;
      const ValueId ix = index_of[m.args[0]];
      if (stored.count(m.args[0]) || (ix != no_value && injective(ix))) continue;
      const size_t val = column(s);
      s.rec_col.emplace(x, std::make_pair(val, column(s)));
    }
  for (RegionId r : regions) slot_owner_[r] = v;
  slots_.emplace(v, std::move(s));
}

// Element `col` of row k.
ValueId Sweep::slot_index(Slots& s, size_t col) {
  const Type i64 = Type::scalar(Scalar::i64);
  return emit(Op::Add, i64, {emit(Op::Mul, i64, {s.k, constant(i64, static_cast<double>(s.width))}),
                             constant(i64, static_cast<double>(col))});
}

void Sweep::slot_store(Slots& s, size_t col, ValueId x) {
  const Type f64 = Type::scalar(Scalar::f64);
  if (g_.type(x) != f64) x = emit(Op::Cast, f64, {x});
  emit(Op::Store, {}, {s.block, slot_index(s, col), x});
}

ValueId Sweep::slot_load(Slots& s, size_t col, Type t) {
  const ValueId x = emit(Op::Load, Type::scalar(Scalar::f64), {s.block, slot_index(s, col)});
  return t == Type::scalar(Scalar::f64) ? x : emit(Op::Cast, t, {x});
}

ValueId Sweep::as_i64(ValueId x) {
  return g_.type(x) == Type::scalar(Scalar::i64) ? x : emit(Op::Cast, Type::scalar(Scalar::i64), {x});
}

// max(hi - lo, 0), in i64.
ValueId Sweep::trip_rows(ValueId lo, ValueId hi) {
  const Type i64 = Type::scalar(Scalar::i64);
  const ValueId l = as_i64(lo), h = as_i64(hi);
  return emit(Op::Select, i64, {emit(Op::Lt, Type::scalar(Scalar::i1), {l, h}), emit(Op::Sub, i64, {h, l}),
                                constant(i64, 0.0)});
}

void Sweep::fwd_parallel(ValueId v, const Node& n) {
  Slots& sl = slots_.at(v);
  const ValueId rows = trip_rows(fv(n.args[0]), fv(n.args[1]));
  const Type i64 = Type::scalar(Scalar::i64);
  if (sl.width > 0)  // else nothing to keep: no block
    sl.block = emit(Op::TapeReserve, Type::buf(Scalar::f64, true),
                    {emit(Op::Mul, i64, {rows, constant(i64, static_cast<double>(sl.width))})}, level_);
  const Region& src = f_.region(n.regions[0]);
  const RegionId body = g_.add_region();
  fwd_[src.params[0]] = param(body, f_.type(src.params[0]));
  {
    const RegionId saved = cur_;
    cur_ = body;
    sl.k = emit(Op::Sub, Type::scalar(Scalar::i64), {as_i64(fwd_[src.params[0]]), as_i64(fv(n.args[0]))});
    cur_ = saved;
  }
  fwd_region(n.regions[0], body);
  loc_ = n.loc;
  fwd_[v] = emit(Op::ParallelFor, n.type, fargs(n), n.imm, {body});
}

void Sweep::rev_parallel(ValueId v, const Node& n) {
  Slots& sl = slots_.at(v);
  const auto& fr = free_act_[v];
  const Type i64 = Type::scalar(Scalar::i64);
  const ValueId lo = p(n.args[0]), hi = p(n.args[1]), step = p(n.args[2]);
  const ValueId rows = trip_rows(lo, hi);
  const std::vector<ValueId> outer_adjs = free_adjs(v);
  if (sl.width > 0)
    sl.block = emit(Op::TapeRelease, Type::buf(Scalar::f64, true),
                    {emit(Op::Mul, i64, {rows, constant(i64, static_cast<double>(sl.width))})}, level_);
  // The reverse body, in parallel: row k.
  const Region& src = f_.region(n.regions[0]);
  const RegionId rb = g_.add_region();
  const ValueId i = param(rb, f_.type(src.params[0]));
  {
    const RegionId saved = enter(rb);
    bind(src.params[0], i);
    sl.k = emit(Op::Sub, i64, {as_i64(i), as_i64(lo)});
    for (const auto& [load, cols] : sl.rec_col)  // -1: this iteration's load did not run
      slot_store(sl, cols.second, constant(i64, -1.0));
    for (ValueId x : fr) adj_[x] = no_value;  // this iteration's share only
    Slots* outer = record_;
    record_ = &sl;
    rev_region(n.regions[0], {});
    record_ = outer;
    for (ValueId x : fr) slot_store(sl, sl.free_col.at(x), adj_or_zero(x));
    leave(saved);
  }
  loc_ = n.loc;
  emit(Op::ParallelFor, n.type, {lo, hi, step}, n.imm, {rb});
  // Add up the rows in order: outside scalars' adjoints, recorded buffer updates.
  std::vector<ValueId> inits = {constant(i64, 0.0), rows, constant(i64, 1.0)};
  for (ValueId x : outer_adjs) inits.push_back(x);
  const RegionId sum = g_.add_region();
  const ValueId k = param(sum, i64);
  std::vector<ValueId> acc;
  for (ValueId x : fr) acc.push_back(param(sum, f_.type(x)));
  {
    const RegionId saved = enter(sum);
    sl.k = k;
    std::vector<ValueId> ys;
    for (size_t q = 0; q < fr.size(); ++q) {
      const Type t = f_.type(fr[q]);
      const ValueId part = slot_load(sl, sl.free_col.at(fr[q]), t);
      ys.push_back(emit(Op::Add, t, {acc[q], part}));
    }
    for (const auto& [load, cols] : sl.rec_col) {
      const Node& ld = f_.node(load);
      const ValueId ix = slot_load(sl, cols.second, i64);
      const ValueId ran = emit(Op::Ge, Type::scalar(Scalar::i1), {ix, constant(i64, 0.0)});
      const RegionId then = g_.add_region(), other = g_.add_region();
      {
        const RegionId s2 = enter(then);
        const ValueId g = slot_load(sl, cols.first, ld.type);
        const ValueId buf = adjoint_buffer(ld.args[0]);
        emit(Op::Store, {}, {buf, ix, emit(Op::Add, ld.type, {emit(Op::Load, ld.type, {buf, ix}), g})});
        leave(s2);
      }
      emit(Op::If, Type::tuple(), {ran}, 0, {then, other});
    }
    g_.regions[sum].yields = std::move(ys);
    leave(saved);
  }
  const ValueId r = emit(Op::For, Type::tuple(), std::move(inits), 0, {sum});
  for (size_t q = 0; q < fr.size(); ++q) adj_[fr[q]] = get(r, q, f_.type(fr[q]));
}

}  // namespace kiln::autodiff::rev

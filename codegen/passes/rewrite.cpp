// Shared pass tools. See rewrite.h.
#include "rewrite.h"

#include <algorithm>
#include <functional>

namespace kiln::passes {

using namespace ir;

void Substitution::replace(ValueId v, ValueId with) {
  if (v >= to_.size()) to_.resize(v + 1, no_value);
  if (with == v) return;
  to_[v] = with;
  ++count_;
}

ValueId Substitution::operator()(ValueId v) {
  ValueId r = v;
  while (r < to_.size() && to_[r] != no_value) r = to_[r];
  // Path compression: later lookups of v are one step.
  while (v < to_.size() && to_[v] != no_value && to_[v] != r) {
    ValueId next = to_[v];
    to_[v] = r;
    v = next;
  }
  return r;
}

void Substitution::apply_args(Node& n) {
  if (count_ == 0) return;
  for (ValueId& a : n.args) a = (*this)(a);
}

void Substitution::apply_yields(Region& r) {
  if (count_ == 0) return;
  for (ValueId& y : r.yields) y = (*this)(y);
}

void Substitution::apply(Function& f) {
  if (count_ == 0) return;
  std::vector<RegionId> stack{f.body};
  while (!stack.empty()) {
    RegionId r = stack.back();
    stack.pop_back();
    for (ValueId v : f.regions[r].body) {
      apply_args(f.nodes[v]);
      for (RegionId c : f.nodes[v].regions) stack.push_back(c);
    }
    apply_yields(f.regions[r]);
  }
}

std::vector<bool> writes_memory(const Module& m) {
  std::vector<bool> writes(m.functions.size(), false);
  // Direct stores first, then propagate through calls to a fixed point.
  std::vector<std::vector<size_t>> callees(m.functions.size());
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const Function& f = m.functions[i];
    walk(f, [&](ValueId v) {
      const Node& n = f.node(v);
      if (writes_state(n.op)) writes[i] = true;
      if (n.op == Op::Call) callees[i].push_back(static_cast<size_t>(n.imm));
    });
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < m.functions.size(); ++i)
      if (!writes[i])
        for (size_t c : callees[i])
          if (writes[c]) {
            writes[i] = changed = true;
            break;
          }
  }
  return writes;
}

namespace {
bool fill_region_writes(const Function& f, RegionId r, const std::vector<bool>& writes, std::vector<bool>& out) {
  bool any = false;
  for (ValueId v : f.regions[r].body) {
    const Node& n = f.nodes[v];
    if (writes_state(n.op) || (n.op == Op::Call && writes[static_cast<size_t>(n.imm)])) any = true;
    for (RegionId c : n.regions) any = fill_region_writes(f, c, writes, out) || any;
  }
  out[r] = any;
  return any;
}
}  // namespace

std::vector<bool> region_writes(const Function& f, const std::vector<bool>& writes) {
  std::vector<bool> out(f.regions.size(), false);
  fill_region_writes(f, f.body, writes, out);
  return out;
}

bool node_writes(const Function& f, ValueId v, const std::vector<bool>& writes, const std::vector<bool>& regions) {
  const Node& n = f.node(v);
  if (writes_state(n.op)) return true;
  if (n.op == Op::Call) return writes[static_cast<size_t>(n.imm)];
  for (RegionId r : n.regions)
    if (r < regions.size() && regions[r]) return true;
  return false;
}

std::vector<ValueId> clone_body(Function& to, const Function& from, RegionId r, std::vector<ValueId>& map,
                                std::vector<ValueId>& into) {
  for (ValueId v : from.region(r).body) {
    const Node& n = from.node(v);
    std::vector<RegionId> regions;
    for (RegionId c : n.regions) regions.push_back(clone_region(to, from, c, map));
    std::vector<ValueId> args;
    args.reserve(n.args.size());
    for (ValueId a : n.args) args.push_back(map[a]);
    map[v] = to.add(n.op, n.type, std::move(args), n.imm, n.loc, std::move(regions));
    into.push_back(map[v]);
  }
  std::vector<ValueId> ys;
  for (ValueId y : from.region(r).yields) ys.push_back(map[y]);
  return ys;
}

RegionId clone_region(Function& to, const Function& from, RegionId r, std::vector<ValueId>& map) {
  RegionId c = to.add_region();
  const auto& ps = from.region(r).params;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (map[ps[i]] == no_value) map[ps[i]] = to.add(Op::Param, from.type(ps[i]), {}, static_cast<int64_t>(i));
    to.regions[c].params.push_back(map[ps[i]]);
  }
  std::vector<ValueId> body;
  std::vector<ValueId> ys = clone_body(to, from, r, map, body);
  to.regions[c].body = std::move(body);
  to.regions[c].yields = std::move(ys);
  return c;
}

void compact(Function& f) {
  Function out;
  out.name = f.name;
  out.result_types = f.result_types;
  out.param_names = f.param_names;
  out.custom_vjp = f.custom_vjp;
  std::vector<ValueId> map(f.nodes.size(), no_value);
  out.body = clone_region(out, f, f.body, map);
  f = std::move(out);
}

size_t node_count(const Function& f) {
  size_t n = f.params().size();
  walk(f, [&](ValueId v) {
    ++n;
    for (RegionId r : f.node(v).regions) n += f.region(r).params.size();
  });
  return n;
}

ValueId make_const(Function& f, Type t, int64_t imm, std::source_location loc) {
  return f.add(Op::Const, t, {}, imm, loc);
}

int64_t trip_count(const Function& f, const Node& loop) {
  if (loop.op != Op::For && loop.op != Op::ParallelFor) return -1;
  for (int i = 0; i < 3; ++i)
    if (!is_const(f, loop.args[i])) return -1;
  const __int128 lo = f.node(loop.args[0]).imm, hi = f.node(loop.args[1]).imm, step = f.node(loop.args[2]).imm;
  if (step == 0) return -1;
  __int128 n = 0;
  if (step > 0 && lo < hi) n = (hi - lo + step - 1) / step;
  if (step < 0 && lo > hi) n = (lo - hi + (-step) - 1) / (-step);
  return n > INT64_MAX ? INT64_MAX : static_cast<int64_t>(n);
}

std::vector<std::vector<size_t>> call_graph(const Module& m) {
  std::vector<std::vector<size_t>> g(m.functions.size());
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const Function& f = m.functions[i];
    walk(f, [&](ValueId v) {
      if (f.node(v).op == Op::Call) g[i].push_back(static_cast<size_t>(f.node(v).imm));
    });
    if (f.custom_vjp >= 0) g[i].push_back(static_cast<size_t>(f.custom_vjp));  // reverse mode may call it
  }
  return g;
}

std::vector<size_t> post_order(const std::vector<std::vector<size_t>>& g) {
  std::vector<size_t> order;
  std::vector<char> seen(g.size(), 0);
  std::function<void(size_t)> visit = [&](size_t f) {
    seen[f] = 1;
    for (size_t c : g[f])
      if (!seen[c]) visit(c);
    order.push_back(f);
  };
  if (!g.empty()) visit(0);
  return order;
}

void remove_uncalled_functions(Module& m) {
  const auto graph = call_graph(m);
  std::vector<size_t> order = post_order(graph);
  std::vector<size_t> keep(order.begin(), order.end());
  std::sort(keep.begin(), keep.end());
  if (keep.size() == m.functions.size()) return;
  std::vector<int64_t> index(m.functions.size(), -1);
  for (size_t i = 0; i < keep.size(); ++i) index[keep[i]] = static_cast<int64_t>(i);
  std::vector<Function> kept;
  for (size_t i : keep) kept.push_back(std::move(m.functions[i]));
  m.functions = std::move(kept);
  for (Function& f : m.functions) {
    for (Node& n : f.nodes)
      if (n.op == Op::Call && n.imm >= 0 && static_cast<size_t>(n.imm) < index.size())
        n.imm = index[static_cast<size_t>(n.imm)];
    if (f.custom_vjp >= 0) f.custom_vjp = index[static_cast<size_t>(f.custom_vjp)];
  }
}

}  // namespace kiln::passes

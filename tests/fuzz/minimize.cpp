// Candidate reductions on the IR and the greedy loop that applies them.
// Node ids stay stable while reducing (new constants are appended, removed
// nodes are only unlisted from their region), so the candidates listed at
// the start of a round still name the right nodes after earlier ones of the
// round were accepted; a candidate whose node is gone is skipped.
#include "minimize.h"

#include "check.h"

#include <kiln/ir/verifier.h>

#include <algorithm>
#include <chrono>

namespace kiln::fuzz {
namespace {

using ir::Function;
using ir::Module;
using ir::no_value;
using ir::Node;
using ir::Op;
using ir::RegionId;
using ir::Type;
using ir::ValueId;

enum class Edit : uint8_t {
  zero_result,  // result k of the function becomes 0
  drop_zero,    // delete node v; uses of its results become 0
  drop_init,    // delete loop v; uses of its results become its initial values
  take_branch,  // replace if v by its branch k
  to_zero,      // every use of v becomes 0
  to_one,       // every use of v becomes 1 (true)
  to_operand,   // every use of v becomes its operand k
  drop_many,    // drop_zero for each node of `many` (a chunk of statements)
};

struct Candidate {
  Edit edit;
  size_t fn;
  ValueId v = no_value;
  size_t k = 0;
  std::vector<ValueId> many = {};
};

/// Where nodes are listed, how deep, and how often they are used.
struct Layout {
  std::vector<RegionId> region_of;  // the region whose body lists the node
  std::vector<RegionId> param_of;   // the region whose parameters list it
  std::vector<int> depth;
  std::vector<uint32_t> uses;  // by listed nodes and by yields of reachable regions
};

Layout layout(const Function& f) {
  const size_t n = f.nodes.size();
  Layout l{std::vector<RegionId>(n, no_value), std::vector<RegionId>(n, no_value), std::vector<int>(n, 0),
           std::vector<uint32_t>(n, 0)};
  std::function<void(RegionId, int)> visit = [&](RegionId r, int d) {
    const ir::Region& reg = f.regions[r];
    for (ValueId p : reg.params) {
      l.param_of[p] = r;
      l.depth[p] = d;
    }
    for (ValueId v : reg.body) {
      l.region_of[v] = r;
      l.depth[v] = d;
      for (ValueId a : f.nodes[v].args)
        if (a < n) ++l.uses[a];
      for (RegionId c : f.nodes[v].regions) visit(c, d + 1);
    }
    for (ValueId y : reg.yields)
      if (y < n) ++l.uses[y];
  };
  visit(f.body, 0);
  return l;
}

void replace_uses(Function& f, ValueId from, ValueId to) {
  for (Node& n : f.nodes)
    for (ValueId& a : n.args)
      if (a == from) a = to;
  for (ir::Region& r : f.regions)
    for (ValueId& y : r.yields)
      if (y == from) y = to;
}

void unlist(Function& f, RegionId r, ValueId v) {
  auto& body = f.regions[r].body;
  body.erase(std::remove(body.begin(), body.end(), v), body.end());
}

/// A constant listed first in the function body, so it dominates every use.
ValueId constant(Function& f, ir::Scalar s, int64_t value) {
  const int64_t imm = ir::encode_const_int(s, value);
  for (ValueId v : f.regions[f.body].body) {
    const Node& n = f.nodes[v];
    if (n.op == Op::Const && n.type == Type::scalar(s) && n.imm == imm) return v;
  }
  ValueId c = f.add(Op::Const, Type::scalar(s), {}, imm);
  auto& body = f.regions[f.body].body;
  body.insert(body.begin(), c);
  return c;
}

/// Unlists v and the `get`s of its results; uses of result k go to value_for(k).
bool remove_with(Function& f, const Layout& l, ValueId v, const std::function<ValueId(size_t, Type)>& value_for) {
  std::vector<ValueId> gets;
  // Nodes added since the layout was taken (constants) are not projections.
  for (ValueId g = 0; g < l.region_of.size(); ++g)
    if (l.region_of[g] != no_value && f.nodes[g].op == Op::Get && f.nodes[g].args.at(0) == v) gets.push_back(g);
  for (ValueId g : gets) {
    const Node get = f.nodes[g];  // a copy: value_for may add nodes
    ValueId to = value_for(static_cast<size_t>(get.imm), get.type);
    if (to == no_value) return false;
    replace_uses(f, g, to);
    unlist(f, l.region_of[g], g);
  }
  unlist(f, l.region_of[v], v);
  return true;
}

bool removable(Op op) {
  return op == Op::Store || op == Op::Call || op == Op::If || op == Op::For || op == Op::While || op == Op::ParallelFor;
}

/// Unlists pure nodes (and loads) whose values nobody uses, until none is
/// left: replacing uses leaves such nodes behind, and they would only make
/// more candidates.
void sweep(Function& f) {
  for (bool changed = true; changed;) {
    changed = false;
    const Layout l = layout(f);
    for (ValueId v = 0; v < f.nodes.size(); ++v) {
      const Op op = f.nodes[v].op;
      if (l.region_of[v] == no_value || l.uses[v] != 0) continue;
      if (ir::info(op).effect != ir::Effect::pure && op != Op::Load) continue;
      unlist(f, l.region_of[v], v);
      changed = true;
    }
  }
}

bool apply_edit(Module& m, const Candidate& c);

/// Applies c to m and sweeps; false when c does not apply (any more).
bool apply(Module& m, const Candidate& c) {
  if (!apply_edit(m, c)) return false;
  sweep(m.functions[c.fn]);
  return true;
}

bool apply_edit(Module& m, const Candidate& c) {
  Function& f = m.functions[c.fn];
  const Layout l = layout(f);
  if (c.edit == Edit::zero_result) {
    const auto& ys = f.regions[f.body].yields;
    if (c.k >= ys.size() || !f.result_types[c.k].is_scalar() || f.nodes[ys[c.k]].op == Op::Const) return false;
    ValueId z = constant(f, f.result_types[c.k].elem, 0);
    f.regions[f.body].yields[c.k] = z;
    return true;
  }
  if (c.edit == Edit::drop_many) {
    bool any = false;
    for (ValueId v : c.many) {
      if (l.region_of[v] == no_value || !removable(f.nodes[v].op)) continue;
      if (!remove_with(f, l, v, [&](size_t, Type t) { return t.is_scalar() ? constant(f, t.elem, 0) : no_value; }))
        return false;
      any = true;
    }
    return any;
  }
  const bool listed = l.region_of[c.v] != no_value;
  const Node n = f.nodes[c.v];
  switch (c.edit) {
    case Edit::zero_result:
    case Edit::drop_many:
      return false;
    case Edit::drop_zero:
      if (!listed || !removable(n.op)) return false;
      return remove_with(f, l, c.v, [&](size_t, Type t) { return t.is_scalar() ? constant(f, t.elem, 0) : no_value; });
    case Edit::drop_init: {
      if (!listed || (n.op != Op::For && n.op != Op::While)) return false;
      const size_t first = n.op == Op::For ? 3 : 0;
      return remove_with(f, l, c.v, [&](size_t k, Type) { return first + k < n.args.size() ? n.args[first + k] : no_value; });
    }
    case Edit::take_branch: {
      if (!listed || n.op != Op::If) return false;
      const RegionId branch = n.regions.at(c.k);
      const std::vector<ValueId> inner = f.regions[branch].body;
      const std::vector<ValueId> yields = f.regions[branch].yields;
      // The branch's body goes where the if was; its yields replace the if's results.
      auto& body = f.regions[l.region_of[c.v]].body;
      body.insert(std::find(body.begin(), body.end(), c.v), inner.begin(), inner.end());
      return remove_with(f, l, c.v, [&](size_t k, Type) { return k < yields.size() ? yields[k] : no_value; });
    }
    case Edit::to_zero:
    case Edit::to_one: {
      if ((!listed && l.param_of[c.v] == no_value) || l.uses[c.v] == 0 || !n.type.is_scalar()) return false;
      const int64_t value = c.edit == Edit::to_one ? 1 : 0;
      // A constant only becomes 0 or 1 when it is neither (else 0 and 1 would swap forever).
      if (n.op == Op::Const && (n.imm == ir::encode_const_int(n.type.elem, 0) || n.imm == ir::encode_const_int(n.type.elem, 1)))
        return false;
      replace_uses(f, c.v, constant(f, n.type.elem, value));
      return true;
    }
    case Edit::to_operand: {
      if (!listed || l.uses[c.v] == 0 || c.k >= n.args.size() || n.op == Op::Const) return false;
      const ValueId a = n.args[c.k];
      if (f.nodes[a].type != n.type) return false;
      replace_uses(f, c.v, a);
      return true;
    }
  }
  return false;
}

/// Every candidate for m: results first, then deletions of outer structure
/// before inner, then value replacements.
std::vector<Candidate> candidates(const Module& m) {
  std::vector<Candidate> out;
  for (size_t fn = 0; fn < m.functions.size(); ++fn)
    for (size_t k = 0; k < m.functions[fn].result_types.size(); ++k) out.push_back({Edit::zero_result, fn, no_value, k});
  for (size_t fn = 0; fn < m.functions.size(); ++fn) {
    const Function& f = m.functions[fn];
    const Layout l = layout(f);
    std::vector<ValueId> effects;
    for (ValueId v = 0; v < f.nodes.size(); ++v)
      if (l.region_of[v] != no_value && removable(f.nodes[v].op)) effects.push_back(v);
    std::stable_sort(effects.begin(), effects.end(), [&](ValueId a, ValueId b) { return l.depth[a] < l.depth[b]; });
    // Chunks first, halving (delta debugging): one accepted chunk removes many statements.
    for (size_t parts = 2; effects.size() / parts >= 2; parts *= 2)
      for (size_t i = 0; i < parts; ++i) {
        const size_t lo = effects.size() * i / parts, hi = effects.size() * (i + 1) / parts;
        out.push_back({Edit::drop_many, fn, no_value, 0, {effects.begin() + lo, effects.begin() + hi}});
      }
    for (ValueId v : effects) {
      const Op op = f.nodes[v].op;
      if (op == Op::If) {
        out.push_back({Edit::take_branch, fn, v, 0});
        out.push_back({Edit::take_branch, fn, v, 1});
      }
      if (op == Op::For || op == Op::While) out.push_back({Edit::drop_init, fn, v});
      out.push_back({Edit::drop_zero, fn, v});
    }
  }
  for (size_t fn = 0; fn < m.functions.size(); ++fn) {
    const Function& f = m.functions[fn];
    const Layout l = layout(f);
    for (ValueId v = 0; v < f.nodes.size(); ++v) {
      const Node& n = f.nodes[v];
      if (l.uses[v] == 0 || !n.type.is_scalar() || (l.region_of[v] == no_value && l.param_of[v] == no_value)) continue;
      for (size_t k = 0; l.region_of[v] != no_value && k < n.args.size(); ++k)
        if (f.nodes[n.args[k]].type == n.type) out.push_back({Edit::to_operand, fn, v, k});
      out.push_back({Edit::to_zero, fn, v});
      out.push_back({Edit::to_one, fn, v});
    }
  }
  return out;
}

/// Drops functions the entry no longer calls, renumbering calls.
Module prune_functions(const Module& m) {
  std::vector<int> index(m.functions.size(), -1);
  std::vector<size_t> order = {0};
  index[0] = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Function& f = m.functions[order[i]];
    ir::walk(f, [&](ValueId v) {
      const Node& n = f.nodes[v];
      if (n.op != Op::Call || n.imm < 0 || static_cast<size_t>(n.imm) >= m.functions.size() || index[n.imm] >= 0) return;
      index[n.imm] = static_cast<int>(order.size());
      order.push_back(static_cast<size_t>(n.imm));
    });
  }
  if (order.size() == m.functions.size()) return m;
  Module out;
  for (size_t i : order) {
    Function f = m.functions[i];
    for (Node& n : f.nodes)
      if (n.op == Op::Call && n.imm >= 0 && static_cast<size_t>(n.imm) < index.size() && index[n.imm] >= 0)
        n.imm = index[n.imm];
    out.functions.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Reduction minimize(Module m, const std::function<bool(const Module&)>& still_fails,
                   const std::function<Module(const Module&)>& cleanup, double time_limit_s) {
  Reduction r;
  r.nodes_before = count_nodes(m);
  const auto start = std::chrono::steady_clock::now();
  auto out_of_time = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > time_limit_s;
  };
  auto keep_if_failing = [&](Module c) {
    if (!ir::verify_errors(c).empty()) return false;
    ++r.tried;
    if (!still_fails(c)) return false;
    m = std::move(c);
    ++r.accepted;
    return true;
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (const Candidate& c : candidates(m)) {
      if (out_of_time()) {
        r.out_of_time = true;
        break;
      }
      Module next = m;
      if (apply(next, c) && keep_if_failing(std::move(next))) progress = true;
    }
    Module cleaned = prune_functions(cleanup(m));
    if ((count_nodes(cleaned) < count_nodes(m) || cleaned.functions.size() < m.functions.size()) &&
        keep_if_failing(std::move(cleaned)))
      progress = true;
    if (r.out_of_time) break;
  }
  r.module = std::move(m);
  r.nodes_after = count_nodes(r.module);
  return r;
}

}  // namespace kiln::fuzz

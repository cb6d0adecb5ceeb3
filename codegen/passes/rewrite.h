// Small tools the passes share: value substitution, effect queries, region
// cloning and compaction. Passes edit a Function in place: they rewrite
// operands, splice region bodies and drop ids from bodies; nodes no region
// lists are garbage until compact() rebuilds the tables.
#pragma once

#include <kiln/ir/ir.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace kiln::passes {

/// A value-to-value substitution: to[v] is v's replacement (no_value: none).
/// Chains are followed, so replacing a replacement is fine.
class Substitution {
 public:
  explicit Substitution(const ir::Function& f) : to_(f.nodes.size(), ir::no_value) {}
  void replace(ir::ValueId v, ir::ValueId with);
  /// v's final replacement (v itself when it has none).
  ir::ValueId operator()(ir::ValueId v);
  bool empty() const { return count_ == 0; }
  /// Rewrites every operand and yield reachable from f's body.
  void apply(ir::Function& f);
  /// Rewrites the operands of one node and the yields of one region.
  void apply_args(ir::Node& n);
  void apply_yields(ir::Region& r);

 private:
  std::vector<ir::ValueId> to_;
  size_t count_ = 0;
};

/// Rebuilds region r in order, the way most passes walk: for each node,
/// its operands are substituted, its child regions are rebuilt (recursively,
/// with the same step), then `step(v, body)` decides: it returns true to keep
/// v (appended to the new body after anything step appended itself) or false
/// to drop it (after sub.replace(v, ...) if v has a replacement). The
/// region's yields are substituted last.
template <class Step>
void rebuild_region(ir::Function& f, ir::RegionId r, Substitution& sub, Step&& step) {
  std::vector<ir::ValueId> old = std::move(f.regions[r].body);
  std::vector<ir::ValueId> body;
  body.reserve(old.size());
  for (ir::ValueId v : old) {
    sub.apply_args(f.nodes[v]);
    const std::vector<ir::RegionId> children = f.nodes[v].regions;
    for (ir::RegionId c : children) rebuild_region(f, c, sub, step);
    if (step(v, body)) body.push_back(v);
  }
  f.regions[r].body = std::move(body);
  sub.apply_yields(f.regions[r]);
}

/// Per function of m: may a call to it write memory (a store, or a call to
/// a function that may)? Calls to functions that do not may be dropped when
/// unused and moved like loads.
std::vector<bool> writes_memory(const ir::Module& m);

/// The call graph: per function, the callee index of each of its calls (and
/// its custom_vjp rule, which reverse mode calls).
std::vector<std::vector<size_t>> call_graph(const ir::Module& m);
/// Functions reachable from the entry (functions[0]), callees before callers.
std::vector<size_t> post_order(const std::vector<std::vector<size_t>>& graph);
/// Removes functions no call reachable from the entry names, and renumbers
/// the calls.
void remove_uncalled_functions(ir::Module& m);

/// Per region of f: does running it write memory? `writes` is writes_memory(m).
std::vector<bool> region_writes(const ir::Function& f, const std::vector<bool>& writes);

/// Does node v write memory (a store, a writing call, or a structured op with
/// a writing region)? `regions` is region_writes(f, ...).
bool node_writes(const ir::Function& f, ir::ValueId v, const std::vector<bool>& writes,
                 const std::vector<bool>& regions);

/// Copies region r of `from` into `to` as a new region. map[v] (sized to
/// from.nodes) gives the copy of each value of `from`; entries already set
/// (e.g. outer values or the region's params) are used as they are, and the
/// region's params are copied only when unset. Returns the new region.
ir::RegionId clone_region(ir::Function& to, const ir::Function& from, ir::RegionId r, std::vector<ir::ValueId>& map);

/// Copies r's body into `to` and appends the copies to `into`, with r's
/// params already mapped in `map`. Returns r's yields, mapped.
std::vector<ir::ValueId> clone_body(ir::Function& to, const ir::Function& from, ir::RegionId r,
                                    std::vector<ir::ValueId>& map, std::vector<ir::ValueId>& into);

/// Rebuilds f's tables with only the nodes and regions reachable from its
/// body, in walk order.
void compact(ir::Function& f);

/// Number of nodes reachable from f's body (params included).
size_t node_count(const ir::Function& f);

/// Is v a constant node?
inline bool is_const(const ir::Function& f, ir::ValueId v) { return f.node(v).op == ir::Op::Const; }

/// v's value when v is an integer constant.
inline std::optional<int64_t> int_const(const ir::Function& f, ir::ValueId v) {
  const ir::Node& n = f.node(v);
  if (n.op != ir::Op::Const || !n.type.is_int()) return std::nullopt;
  return ir::const_int(n);
}

/// The pairs of buffers that `check (disjoint a, b)` nodes, learnt in
/// order, say do not overlap (after each check, on every call that goes on).
class DisjointChecks {
 public:
  /// Learns from a `check` node whose condition is a `disjoint`.
  void learn(const ir::Function& f, const ir::Node& check) {
    const ir::Node& c = f.node(check.args.at(0));
    if (c.op == ir::Op::Disjoint) pairs_.insert(key(c.args[0], c.args[1]));
  }
  bool known(ir::ValueId a, ir::ValueId b) const { return pairs_.count(key(a, b)) != 0; }

 private:
  static std::pair<ir::ValueId, ir::ValueId> key(ir::ValueId a, ir::ValueId b) { return {std::min(a, b), std::max(a, b)}; }
  std::set<std::pair<ir::ValueId, ir::ValueId>> pairs_;  // unordered pairs, smaller id first
};

/// A new constant node (not placed in any region).
ir::ValueId make_const(ir::Function& f, ir::Type t, int64_t imm, std::source_location loc = {});

/// Does a for / parallel_for node have constant bounds and step, and if so
/// how many times does its body run? -1 when unknown (or the step is zero).
int64_t trip_count(const ir::Function& f, const ir::Node& loop);

}  // namespace kiln::passes

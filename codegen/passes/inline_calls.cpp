// Inlining of staged calls.
//
// A call is inlined when its callee is not recursive (not on a cycle of the
// call graph) and is small (fewer than inline_threshold nodes) or called
// from exactly one place. Functions are processed callees first, so a
// callee's own calls are already inlined when it is copied. The call's
// `get`s become the copied body's yields. A function with a custom reverse
// rule (custom_vjp) is never inlined: reverse mode must still see its calls. Functions no longer reachable
// from the entry are removed and call indices renumbered.
#include "passes.h"

#include "rewrite.h"

#include <algorithm>
#include <functional>

namespace kiln::passes {
namespace {

using namespace ir;

// Functions on a cycle: those that can reach themselves.
std::vector<bool> recursive(const std::vector<std::vector<size_t>>& g) {
  std::vector<bool> out(g.size(), false);
  for (size_t s = 0; s < g.size(); ++s) {
    std::vector<char> seen(g.size(), 0);
    std::vector<size_t> stack(g[s].begin(), g[s].end());
    while (!stack.empty() && !out[s]) {
      size_t x = stack.back();
      stack.pop_back();
      if (x == s) out[s] = true;
      if (seen[x]) continue;
      seen[x] = 1;
      stack.insert(stack.end(), g[x].begin(), g[x].end());
    }
  }
  return out;
}

class Inliner {
 public:
  Inliner(Module& m) : m_(m), graph_(call_graph(m)), recursive_(recursive(graph_)), sites_(m.functions.size(), 0) {
    for (const auto& callees : graph_)
      for (size_t c : callees) ++sites_[c];
  }

  void run() {
    for (size_t f : post_order(graph_)) inline_into(f);
    remove_uncalled_functions(m_);
  }

 private:
  Module& m_;
  std::vector<std::vector<size_t>> graph_;
  std::vector<bool> recursive_;
  std::vector<size_t> sites_;

  // Node counts, taken once a function is final (callees are done before
  // their callers, so a callee's count includes what was inlined into it).
  std::vector<size_t> sizes_;

  bool inlinable(size_t callee) {
    if (recursive_[callee]) return false;
    if (m_.functions[callee].custom_vjp >= 0) return false;  // reverse mode must still see the call
    if (sites_[callee] == 1) return true;
    if (sizes_.empty()) sizes_.assign(m_.functions.size(), SIZE_MAX);
    if (sizes_[callee] == SIZE_MAX) sizes_[callee] = node_count(m_.functions[callee]);
    return sizes_[callee] < inline_threshold;
  }

  void inline_into(size_t fi) {
    Function& f = m_.functions[fi];
    Substitution sub(f);
    std::vector<std::vector<ValueId>> results(f.nodes.size());
    std::function<void(RegionId)> region = [&](RegionId r) {
      std::vector<ValueId> old = std::move(f.regions[r].body);
      std::vector<ValueId> body;
      for (ValueId v : old) {
        sub.apply_args(f.nodes[v]);
        const Node& n = f.nodes[v];
        if (n.op == Op::Get && n.args[0] < results.size() && !results[n.args[0]].empty()) {
          sub.replace(v, results[n.args[0]][static_cast<size_t>(n.imm)]);
          continue;
        }
        std::vector<RegionId> children = n.regions;
        for (RegionId c : children) region(c);  // may add nodes: `n` is stale from here
        const Node call = f.nodes[v];
        if (call.op == Op::Call && static_cast<size_t>(call.imm) != fi && inlinable(static_cast<size_t>(call.imm))) {
          const Function& callee = m_.functions[static_cast<size_t>(call.imm)];
          std::vector<ValueId> map(callee.nodes.size(), no_value);
          const std::vector<ValueId>& args = call.args;
          for (size_t i = 0; i < args.size(); ++i) map[callee.params()[i]] = args[i];
          std::vector<ValueId> ys = clone_body(f, callee, callee.body, map, body);
          if (results.size() < f.nodes.size()) results.resize(f.nodes.size());
          results[v] = std::move(ys);
          continue;
        }
        body.push_back(v);
      }
      f.regions[r].body = std::move(body);
      sub.apply_yields(f.regions[r]);
    };
    region(f.body);
  }
};

}  // namespace

void inline_calls(Module& m, const Options&) { Inliner(m).run(); }

}  // namespace kiln::passes

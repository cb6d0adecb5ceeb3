// Dead-code elimination with slot-level liveness for structured ops.
//
// Liveness starts from the function's results and from every node that
// writes memory (stores, calls to functions that may write) and flows
// backwards through operands. Structured ops are not all-or-nothing: each
// if-result and each loop-carried value is a slot that is live only when
// something live reads it (its `get`, or the loop's own parameter inside
// the body). A loop whose counter feeds a dead accumulator therefore loses
// the accumulator, and a loop left with no live slot and no writes goes.
// Loads and calls to functions that write no memory are dropped when
// unused (IR spec: unused loads and trapping pure ops may be dropped).
// Functions no longer called are removed from the module.
#include "passes.h"

#include "rewrite.h"

namespace kiln::passes {
namespace {

using namespace ir;

class Dce {
 public:
  Dce(Function& f, const std::vector<bool>& writes)
      : f_(f), writes_(writes), owner_(f.regions.size(), no_value), live_(f.nodes.size(), 0),
        slots_(f.nodes.size()), slots_b_(f.nodes.size()) {}

  void run() {
    index(f_.body);
    for (ValueId y : f_.region(f_.body).yields) mark(y);
    walk(f_, [&](ValueId v) {
      const Node& n = f_.node(v);
      if (writes_state(n.op) || (n.op == Op::Call && writes_[static_cast<size_t>(n.imm)])) mark(v);
    });
    while (!work_.empty()) {
      ValueId v = work_.back();
      work_.pop_back();
      visit(v);
    }
    rewrite(f_.body);
    renumber_gets(f_.body);
  }

 private:
  struct ParamOf {
    ValueId owner = no_value;
    uint32_t region = 0;  // index among the owner's regions
    uint32_t pos = 0;
  };

  Function& f_;
  const std::vector<bool>& writes_;
  std::vector<ValueId> owner_;      // per region: the structured node owning it
  std::vector<ValueId> home_;       // per node: the owner of the region it is in
  std::vector<ParamOf> param_of_;   // per param node
  std::vector<char> live_;
  // Slots: if results / for carried values (slots_), while: carried values
  // entering cond (slots_) and values leaving cond (slots_b_).
  std::vector<std::vector<char>> slots_, slots_b_;
  std::vector<std::vector<uint32_t>> renumber_;  // per node: old result index -> new
  std::vector<ValueId> work_;

  void index(RegionId r) {
    home_.resize(f_.nodes.size(), no_value);
    param_of_.resize(f_.nodes.size());
    for (ValueId v : f_.region(r).body) {
      home_[v] = owner_[r];
      const Node& n = f_.node(v);
      for (uint32_t i = 0; i < n.regions.size(); ++i) {
        RegionId c = n.regions[i];
        owner_[c] = v;
        const auto& ps = f_.region(c).params;
        for (uint32_t p = 0; p < ps.size(); ++p) param_of_[ps[p]] = ParamOf{v, i, p};
        index(c);
      }
      if (n.op == Op::If || n.op == Op::For) slots_[v].assign(result_count(v), 0);
      if (n.op == Op::While) {
        slots_[v].assign(n.args.size(), 0);
        slots_b_[v].assign(result_count(v), 0);
      }
    }
  }

  size_t result_count(ValueId v) const {
    const Node& n = f_.node(v);
    switch (n.op) {
      case Op::If: return f_.region(n.regions[0]).yields.size();
      case Op::For: return n.args.size() - 3;
      case Op::While: return f_.region(n.regions[0]).yields.size() - 1;
      default: return 0;
    }
  }

  void mark(ValueId v) {
    if (live_[v]) return;
    live_[v] = 1;
    work_.push_back(v);
  }

  // Slot k of a structured node: `b` selects a while's values leaving cond.
  void mark_slot(ValueId x, size_t k, bool b) {
    auto& s = b ? slots_b_[x] : slots_[x];
    if (k >= s.size() || s[k]) return;
    s[k] = 1;
    mark(x);
    const Node& n = f_.node(x);
    switch (n.op) {
      case Op::If:
        mark(f_.region(n.regions[0]).yields[k]);
        mark(f_.region(n.regions[1]).yields[k]);
        return;
      case Op::For:
        mark(n.args[3 + k]);
        mark(f_.region(n.regions[0]).yields[k]);
        return;
      case Op::While:
        if (b) {
          mark(f_.region(n.regions[0]).yields[k + 1]);
        } else {
          mark(n.args[k]);
          mark(f_.region(n.regions[1]).yields[k]);
        }
        return;
      default:
        return;
    }
  }

  void visit(ValueId v) {
    const Node& n = f_.node(v);
    if (v < home_.size() && home_[v] != no_value) mark(home_[v]);
    switch (n.op) {
      case Op::Param: {
        const ParamOf p = param_of_[v];
        if (p.owner == no_value) return;  // a function parameter
        const Op o = f_.node(p.owner).op;
        mark(p.owner);
        if (o == Op::For && p.pos > 0) mark_slot(p.owner, p.pos - 1, false);
        if (o == Op::While) mark_slot(p.owner, p.pos, p.region == 1);
        return;
      }
      case Op::Get: {
        mark(n.args[0]);
        const Op o = f_.node(n.args[0]).op;
        if (o == Op::If || o == Op::For) mark_slot(n.args[0], static_cast<size_t>(n.imm), false);
        if (o == Op::While) mark_slot(n.args[0], static_cast<size_t>(n.imm), true);
        return;
      }
      case Op::If:
        mark(n.args[0]);
        return;
      case Op::For:
      case Op::ParallelFor:
        for (int i = 0; i < 3; ++i) mark(n.args[i]);
        return;
      case Op::While:
        mark(f_.region(n.regions[0]).yields[0]);
        return;
      default:
        for (ValueId a : n.args) mark(a);
        return;
    }
  }

  template <class T>
  static void keep(std::vector<T>& xs, const std::vector<char>& live, size_t first = 0) {
    size_t out = first;
    for (size_t i = first; i < xs.size(); ++i)
      if (live[i - first]) xs[out++] = xs[i];
    xs.resize(out);
  }

  void renumber_params(RegionId r) {
    auto& ps = f_.regions[r].params;
    for (size_t i = 0; i < ps.size(); ++i) f_.nodes[ps[i]].imm = static_cast<int64_t>(i);
  }

  std::vector<uint32_t> new_indices(const std::vector<char>& live) {
    std::vector<uint32_t> out(live.size(), UINT32_MAX);
    uint32_t next = 0;
    for (size_t i = 0; i < live.size(); ++i)
      if (live[i]) out[i] = next++;
    return out;
  }

  void drop_slots(ValueId v) {
    Node& n = f_.nodes[v];
    if (renumber_.size() < f_.nodes.size()) renumber_.resize(f_.nodes.size());
    switch (n.op) {
      case Op::If: {
        const auto& s = slots_[v];
        keep(f_.regions[n.regions[0]].yields, s);
        keep(f_.regions[n.regions[1]].yields, s);
        renumber_[v] = new_indices(s);
        return;
      }
      case Op::For: {
        const auto& s = slots_[v];
        keep(n.args, s, 3);
        Region& body = f_.regions[n.regions[0]];
        keep(body.params, s, 1);
        keep(body.yields, s);
        renumber_params(n.regions[0]);
        renumber_[v] = new_indices(s);
        return;
      }
      case Op::While: {
        const auto& a = slots_[v];
        const auto& b = slots_b_[v];
        Region& cond = f_.regions[n.regions[0]];
        Region& body = f_.regions[n.regions[1]];
        keep(n.args, a);
        keep(cond.params, a);
        keep(body.yields, a);
        keep(cond.yields, b, 1);
        keep(body.params, b);
        renumber_params(n.regions[0]);
        renumber_params(n.regions[1]);
        renumber_[v] = new_indices(b);
        return;
      }
      default:
        return;
    }
  }

  void rewrite(RegionId r) {
    auto& body = f_.regions[r].body;
    size_t out = 0;
    for (size_t i = 0; i < body.size(); ++i) {
      ValueId v = body[i];
      if (!live_[v]) continue;
      body[out++] = v;
      drop_slots(v);
      for (RegionId c : f_.nodes[v].regions) rewrite(c);
    }
    body.resize(out);
  }

  void renumber_gets(RegionId r) {
    for (ValueId v : f_.region(r).body) {
      Node& n = f_.nodes[v];
      if (n.op == Op::Get && n.args[0] < renumber_.size() && !renumber_[n.args[0]].empty())
        n.imm = renumber_[n.args[0]][static_cast<size_t>(n.imm)];
      for (RegionId c : f_.nodes[v].regions) renumber_gets(c);
    }
  }
};

}  // namespace

void dce(Module& m, const Options&) {
  const std::vector<bool> writes = writes_memory(m);
  for (Function& f : m.functions) Dce(f, writes).run();
  remove_uncalled_functions(m);  // the last call to a function may have gone
}

}  // namespace kiln::passes

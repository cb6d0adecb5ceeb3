// Control-flow simplification on structured regions.
//
// * if on a constant condition, or whose branches are the same pure code,
//   becomes the branch: its nodes move into the parent region and each
//   `get` of the if becomes the branch's yield.
// * an if-result both branches yield the same outer value for, and a loop
//   value the body passes through unchanged (step a nonzero constant), is
//   that value (the loop value's parameter too, inside the body).
// * for / parallel_for with constant bounds: zero trips vanish (results are
//   the inits), one trip becomes the body with i = lo.
// * while whose condition is constant false after one evaluation becomes
//   the condition region's code.
// * a for whose body is empty, and a parallel_for whose body is empty, vanish.
// Dead branches and bodies are left as garbage for compact().
#include "passes.h"

#include "rewrite.h"

#include <unordered_map>

namespace kiln::passes {
namespace {

using namespace ir;

class Simplifier {
 public:
  Simplifier(Function& f, const std::vector<bool>& writes)
      : f_(f), writes_(writes), regions_(region_writes(f, writes)), sub_(f) {}

  void run() {
    region(f_.body);
    sub_.apply(f_);
  }

 private:
  Function& f_;
  const std::vector<bool>& writes_;
  std::vector<bool> regions_;
  Substitution sub_;
  // Structured ops whose results are known: forward_[x][k] replaces `get x, k`
  // (no_value: not known).
  std::unordered_map<ValueId, std::vector<ValueId>> forward_;

  const Node& node(ValueId v) const { return f_.nodes[v]; }
  bool is_const(ValueId v) { return node(sub_(v)).op == Op::Const; }
  int64_t const_of(ValueId v) { return node(sub_(v)).imm; }

  void region(RegionId r) {
    rebuild_region(f_, r, sub_, [&](ValueId v, std::vector<ValueId>& body) {
      const Node& n = node(v);
      if (n.op == Op::Get)
        if (auto it = forward_.find(n.args[0]); it != forward_.end())
          if (ValueId w = it->second[static_cast<size_t>(n.imm)]; w != no_value) {
            sub_.replace(v, w);
            return false;
          }
      return !simplify(v, body);
    });
  }

  /// Moves region r's nodes into `body`, with its params bound to `params`;
  /// returns its yields.
  std::vector<ValueId> splice(RegionId r, const std::vector<ValueId>& params, std::vector<ValueId>& body) {
    const Region& reg = f_.regions[r];
    for (size_t i = 0; i < reg.params.size(); ++i) sub_.replace(reg.params[i], params[i]);
    body.insert(body.end(), reg.body.begin(), reg.body.end());
    std::vector<ValueId> ys;
    for (ValueId y : reg.yields) ys.push_back(sub_(y));
    return ys;
  }

  /// True when v was replaced (its results go through forward_).
  bool simplify(ValueId v, std::vector<ValueId>& body) {
    const Node n = node(v);
    switch (n.op) {
      case Op::If: {
        if (is_const(n.args[0])) {
          forward_[v] = splice(n.regions[const_of(n.args[0]) ? 0 : 1], {}, body);
          return true;
        }
        if (!regions_[n.regions[0]] && !regions_[n.regions[1]] && same_region(n.regions[0], n.regions[1])) {
          forward_[v] = splice(n.regions[0], {}, body);
          return true;
        }
        const auto& a = f_.region(n.regions[0]).yields;
        const auto& b = f_.region(n.regions[1]).yields;
        std::vector<ValueId> known(a.size(), no_value);
        bool any = false;
        for (size_t k = 0; k < a.size(); ++k)
          if (sub_(a[k]) == sub_(b[k])) known[k] = sub_(a[k]), any = true;
        if (any) forward_[v] = std::move(known);
        return false;
      }
      case Op::For:
      case Op::ParallelFor: {
        const std::vector<ValueId> inits(n.args.begin() + 3, n.args.end());
        const int64_t trips = trip_count(f_, n);
        if (trips == 0) {
          forward_[v] = inits;
          return true;
        }
        const Region& reg = f_.region(n.regions[0]);
        if (trips == 1) {
          std::vector<ValueId> params{n.args[0]};
          params.insert(params.end(), inits.begin(), inits.end());
          forward_[v] = splice(n.regions[0], params, body);
          return true;
        }
        // Values the body passes through unchanged are the inits: but only
        // when the step cannot be zero, or the loop could lose its trap.
        if (!is_const(n.args[2]) || const_of(n.args[2]) == 0) return false;
        std::vector<ValueId> known(inits.size(), no_value);
        bool all = true, any = false;
        for (size_t k = 0; k < inits.size(); ++k) {
          if (sub_(reg.yields[k]) == reg.params[k + 1]) {
            known[k] = inits[k], any = true;
            sub_.replace(reg.params[k + 1], inits[k]);  // and in the body, every iteration sees the init
          } else {
            all = false;
          }
        }
        // An empty body changes nothing: the loop goes.
        if (reg.body.empty() && all) {
          forward_[v] = inits;
          return true;
        }
        if (any) forward_[v] = std::move(known);
        return false;
      }
      case Op::While: {
        const Region& cond = f_.region(n.regions[0]);
        if (is_const(cond.yields[0]) && const_of(cond.yields[0]) == 0) {
          std::vector<ValueId> ys = splice(n.regions[0], n.args, body);
          forward_[v] = std::vector<ValueId>(ys.begin() + 1, ys.end());
          return true;
        }
        return false;
      }
      default:
        return false;
    }
  }

  /// Do regions a and b compute the same values from the same outer values?
  bool same_region(RegionId a, RegionId b) {
    std::unordered_map<ValueId, ValueId> map;
    return same_region(a, b, map);
  }
  bool same_region(RegionId a, RegionId b, std::unordered_map<ValueId, ValueId>& map) {
    const Region& ra = f_.region(a);
    const Region& rb = f_.region(b);
    if (ra.params.size() != rb.params.size() || ra.body.size() != rb.body.size() ||
        ra.yields.size() != rb.yields.size())
      return false;
    for (size_t i = 0; i < ra.params.size(); ++i) map[ra.params[i]] = rb.params[i];
    for (size_t i = 0; i < ra.body.size(); ++i) {
      const Node& x = node(ra.body[i]);
      const Node& y = node(rb.body[i]);
      if (x.op != y.op || !(x.type == y.type) || x.imm != y.imm || x.args.size() != y.args.size() ||
          x.regions.size() != y.regions.size())
        return false;
      for (size_t j = 0; j < x.args.size(); ++j)
        if (!same_value(x.args[j], y.args[j], map)) return false;
      for (size_t j = 0; j < x.regions.size(); ++j)
        if (!same_region(x.regions[j], y.regions[j], map)) return false;
      map[ra.body[i]] = rb.body[i];
    }
    for (size_t i = 0; i < ra.yields.size(); ++i)
      if (!same_value(ra.yields[i], rb.yields[i], map)) return false;
    return true;
  }
  bool same_value(ValueId x, ValueId y, const std::unordered_map<ValueId, ValueId>& map) {
    if (auto it = map.find(x); it != map.end()) return it->second == y;
    return sub_(x) == sub_(y);
  }
};

}  // namespace

void simplify_cfg(Module& m, const Options&) {
  const std::vector<bool> writes = writes_memory(m);
  for (Function& f : m.functions) Simplifier(f, writes).run();
}

}  // namespace kiln::passes

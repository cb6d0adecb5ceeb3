// Fill forwarding: reverse mode (codegen/autodiff) writes each gradient by
// filling its buffer with zeros and then adding every contribution into it
// (load, add, store). When a loop adds into every element exactly once,
// that doubles the gradient's memory traffic. This pass finds, in a
// function's body,
//
//   for i in [0, H1): B[j(i)] = c                    -- the fill
//   ...                                              -- nothing touches B
//   for / parallel_for i in [0, H2): ... v = B[k(i)] ... B[k(i)] = w ...
//
// where j(i) and k(i) are i or H - 1 - i (each iteration its own element;
// a reversed fill is the adjoint of a sum, g_y[i] = g_s for every i), c
// comes from outside the fill, the load comes before the store, and B is
// touched nowhere else in the loop. Each iteration's load then reads the
// fill value, provided the fill covered the elements the loop reads (H2 is
// H1, or the fill covered all of B: H1 is `size B`, so a load past it
// traps as its store does), no earlier iteration wrote that element, and
// nothing else can have written it: B overlaps no other buffer. That is known only from a `check (disjoint B,
// X)` before the fill for every other buffer parameter X (autodiff emits
// them for its gradient buffers; allocs and tape buffers are fresh memory),
// so the check traps on any call where the rewrite would be wrong.
//
// The load becomes c. When moreover H1 and H2 are the same value (or a
// `check (eq H1, H2)` before the fill says so) and the store is not under
// an `if`, the loop writes every element before anything reads it and the
// fill goes too. The result is bit for bit the same as before: the load
// read c, which is what it now takes.
#include "passes.h"
#include "rewrite.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace kiln::passes {
namespace {

using namespace ir;

bool is_const_int(const Function& f, ValueId v, int64_t value) { return int_const(f, v) == value; }

// Does any node in region r (nested regions included) take `b` as an operand
// other than through `size`? Collects those nodes.
void uses_in(const Function& f, RegionId r, ValueId b, std::vector<ValueId>& out) {
  walk(f, r, [&](ValueId v) {
    const Node& n = f.node(v);
    if (n.op == Op::Size) return;
    if (std::find(n.args.begin(), n.args.end(), b) != n.args.end()) out.push_back(v);
  });
}

bool touches(const Function& f, ValueId v, ValueId b) {
  const Node& n = f.node(v);
  if (n.op != Op::Size && std::find(n.args.begin(), n.args.end(), b) != n.args.end()) return true;
  std::vector<ValueId> found;
  for (RegionId r : n.regions) uses_in(f, r, b, found);
  return !found.empty();
}

bool contains_op(const Function& f, RegionId r, Op op) {
  bool found = false;
  walk(f, r, [&](ValueId v) { found = found || f.node(v).op == op; });
  return found;
}

// The facts the checks before a point establish. Equalities chain: a check
// that the gradient's size is x's and a check that x's is 4096 make the
// gradient's size 4096.
struct Facts {
  DisjointChecks disjoint;
  std::map<ValueId, ValueId> parent;     // union-find over the values checked equal
  std::map<int64_t, ValueId> constants;  // an integer constant's value -> its first node
  // Integer constants of one value are one value.
  ValueId canon(const Function& f, ValueId v) {
    const Node& n = f.node(v);
    if (n.op != Op::Const || !n.type.is_int()) return v;
    return constants.try_emplace(const_int(n), v).first->second;
  }
  ValueId root(ValueId v) const {
    for (auto it = parent.find(v); it != parent.end() && it->second != v; it = parent.find(v)) v = it->second;
    return v;
  }
  void learn(const Function& f, const Node& check) {
    disjoint.learn(f, check);
    const Node& c = f.node(check.args.at(0));
    if (c.op == Op::Eq && f.type(c.args[0]).is_int()) {
      const ValueId a = root(canon(f, c.args[0])), b = root(canon(f, c.args[1]));
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
  }
  bool same(const Function& f, ValueId a, ValueId b) { return a == b || root(canon(f, a)) == root(canon(f, b)); }
};

// Can nothing but B itself reach B's memory? B is a writable buffer
// parameter and the checks so far say it overlaps no other buffer parameter.
bool exclusive(const Function& f, ValueId b, const Facts& facts) {
  const auto& ps = f.params();
  if (std::find(ps.begin(), ps.end(), b) == ps.end() || f.type(b).kind != TypeKind::buf || !f.type(b).writable) return false;
  for (ValueId x : ps)
    if (x != b && f.type(x).kind == TypeKind::buf && !facts.disjoint.known(b, x)) return false;
  return true;
}

// Is index k, in a loop over [0, H) with induction variable i, i or H - 1 - i?
bool each_iteration_its_own(const Function& f, ValueId k, ValueId i, ValueId h) {
  if (k == i) return true;
  const Node& n = f.node(k);
  if (n.op != Op::Sub || n.args[1] != i) return false;
  const Node& last = f.node(n.args[0]);  // H - 1
  if (last.op == Op::Add && last.args[0] == h && is_const_int(f, last.args[1], -1)) return true;
  if (last.op == Op::Sub && last.args[0] == h && is_const_int(f, last.args[1], 1)) return true;
  const Node& hn = f.node(h);
  return last.op == Op::Const && hn.op == Op::Const && last.type.is_int() && const_int(last) == const_int(hn) - 1;
}

// L1: for 0, H, 1 with no carried values, whose body is `store B[j], c`,
// j being i or H - 1 - i (computed in the body), with c from outside.
// Returns the store, or no_value.
ValueId fill_store(const Function& f, const Node& loop) {
  if (loop.op != Op::For || loop.args.size() != 3 || !is_const_int(f, loop.args[0], 0) ||
      !is_const_int(f, loop.args[2], 1))
    return no_value;
  const Region& r = f.region(loop.regions.at(0));
  if (r.body.empty() || r.body.size() > 2 || r.params.size() != 1) return no_value;
  const Node& s = f.node(r.body.back());
  if (s.op != Op::Store || !each_iteration_its_own(f, s.args[1], r.params[0], loop.args[1])) return no_value;
  if (r.body.size() == 2 && r.body[0] != s.args[1]) return no_value;  // only the reversed index besides
  const ValueId c = s.args[2];
  if (c == r.params[0] || c == r.body[0]) return no_value;
  return r.body.back();
}

void forward_function(Function& f) {
  std::vector<ValueId>& body = f.regions[f.body].body;
  Facts facts;
  std::vector<char> dead(body.size(), 0);
  Substitution sub(f);
  for (size_t k = 0; k < body.size(); ++k) {
    const Node& l1 = f.node(body[k]);
    if (l1.op == Op::Check) {
      facts.learn(f, l1);
      continue;
    }
    const ValueId fill = fill_store(f, l1);
    if (fill == no_value) continue;
    const ValueId b = f.node(fill).args[0], c = f.node(fill).args[2];
    if (!exclusive(f, b, facts)) continue;
    size_t j = k + 1;
    while (j < body.size() && !touches(f, body[j], b)) ++j;
    if (j == body.size()) continue;
    const Node& l2 = f.node(body[j]);
    if ((l2.op != Op::For && l2.op != Op::ParallelFor) || !is_const_int(f, l2.args[0], 0) ||
        !is_const_int(f, l2.args[2], 1))
      continue;
    const RegionId rr = l2.regions.at(0);
    const Region& r = f.region(rr);
    std::vector<ValueId> uses;
    uses_in(f, rr, b, uses);
    if (uses.size() != 2) continue;
    const Node& load = f.node(uses[0]);
    const Node& store = f.node(uses[1]);  // walk order: body order at the top level
    if (load.op != Op::Load || store.op != Op::Store || load.args[0] != b || store.args[0] != b ||
        load.args[1] != store.args[1] || store.args[2] == b)
      continue;
    const auto at = [&](ValueId v) { return std::find(r.body.begin(), r.body.end(), v) - r.body.begin(); };
    const auto load_at = at(uses[0]), store_at = at(uses[1]);
    const auto end = static_cast<std::ptrdiff_t>(r.body.size());
    if (load_at == end || store_at == end || load_at > store_at) continue;  // both directly in the body, load first
    if (!each_iteration_its_own(f, load.args[1], r.params.at(0), l2.args[1])) continue;
    // The fill must cover what the loop reads.
    const Node& h1 = f.node(l1.args[1]);
    const bool same_range = facts.same(f, l1.args[1], l2.args[1]);
    if (!same_range && !(h1.op == Op::Size && h1.args[0] == b)) continue;
    // Every iteration's load reads c.
    sub.replace(uses[0], c);
    f.regions[rr].body.erase(f.regions[rr].body.begin() + load_at);
    // Every element written before anything reads it: the fill goes. (Not
    // when the loop can trap half way: what it leaves is then observable.)
    if (same_range && !contains_op(f, rr, Op::Check) && !contains_op(f, rr, Op::Call))
      dead[k] = 1;
  }
  std::vector<ValueId> kept;
  for (size_t k = 0; k < body.size(); ++k)
    if (!dead[k]) kept.push_back(body[k]);
  body = std::move(kept);
  if (!sub.empty()) sub.apply(f);
}

}  // namespace

void forward_fill(Module& m, const Options&) {
  for (Function& f : m.functions) forward_function(f);
}

}  // namespace kiln::passes

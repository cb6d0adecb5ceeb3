// Loop reordering for unit-stride stores. A two-deep nest
//
//   for j in [lo1, hi1):              -- L1
//     ...                             -- other statements (tape pops, loops)
//     for k in [lo2, hi2):            -- L2, a leaf loop: loads, stores, pure
//       A[i*64 + k] += g * B[k*64 + j]          -- stride 1 in k: keep
//       C[k*64 + j] += g * D[i*64 + k]          -- stride 64 in k, 1 in j
//
// stores C down a column: LLVM vectorises neither store (it would need a
// scatter), so the whole inner loop stays scalar. Reverse mode makes such
// nests from any matmul written as scalar loops (each multiply-add of
// C = A B gives two scatter-adds). This pass rewrites the nest to
//
//   for j in [lo1, hi1):  ...; for k: A[...] += ...     -- what stays
//   for k in [lo2, hi2):                                -- C's part,
//     for j in [lo1, hi1): C[k*64 + j] += g * D[...]    -- interchanged
//
// in three steps, each only when it provably keeps every memory location's
// sequence of reads and writes, so the result is bit for bit the same:
//
// 1. Split L2 (distribution): its stores and the loads of written buffers
//    form clusters (two meet when they may touch the same memory, one
//    writing, or one's value flows into the other). The clusters whose
//    stores have stride 1 in j and a larger one in k move to a loop of
//    their own. Clusters share no memory and no values, so their order is
//    free.
// 2. Split L1: that loop goes to a copy of L1 after it, which must share no
//    memory with anything else in L1's body. A value of L1's body it uses
//    is recomputed (pure arithmetic, loads of buffers L1 never writes) or,
//    when it comes from an effect (a tape.pop), stored per iteration into a
//    temporary (`alloc`, one element per iteration of L1) and loaded back.
// 3. Interchange the copy: every pair of accesses in it that may touch the
//    same memory, one writing, is one buffer at one affine index
//    cj*j + ck*k + (invariant) that keeps each element's accesses in their
//    order: ck = 0 (the same k, j in order) or cj = 0, or one coefficient
//    so large the index is injective over the ranges.
//
// Only `for` loops with step 1 and no carried values, whose bodies hold
// nothing but pure non-trapping nodes, loads, stores, tape ops and such
// loops (no calls, checks, integer division by a variable, ...). The
// temporaries go at the top of the entry function, so step 2 does not
// store values outside it or under a parallel_for. Buffers overlap unless
// one is an alloc or a `check (disjoint ...)` in the top region before the
// nest says so (reverse mode checks its gradient buffers).
//
// Runs on the module a backend gets (after tensor lowering), not on the one
// autodiff takes.
#include "passes.h"
#include "rewrite.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <utility>

namespace kiln::passes {
namespace {

using namespace ir;

// Pure and never trapping: what may be recomputed or moved across
// iterations. (Integer div / rem trap on a zero divisor.)
bool pure_safe(const Function& f, ValueId v) {
  const Node& n = f.node(v);
  if (info(n.op).effect != Effect::pure || is_tensor_op(n.op)) return false;
  if ((n.op == Op::Div || n.op == Op::Rem) && n.type.is_int())
    return int_const(f, n.args[1]).value_or(0) != 0;
  return true;
}

struct Access {
  ValueId node, buf, index;
  bool write;
};

// What a node does to memory, with its nested regions. ok: nothing else
// (no call, check, while, parallel_for, alloc, var op, tensor op, trap).
struct Footprint {
  bool ok = true, tape = false;
  std::vector<Access> accesses;
};

void add_footprint(const Function& f, ValueId v, Footprint& fp) {
  const Node& n = f.node(v);
  switch (n.op) {
    case Op::Load: fp.accesses.push_back({v, n.args[0], n.args[1], false}); return;
    case Op::Store: fp.accesses.push_back({v, n.args[0], n.args[1], true}); return;
    case Op::TapePush:
    case Op::TapePop: fp.tape = true; return;
    case Op::If: return;
    case Op::For:
      if (n.args.size() < 3 || int_const(f, n.args[2]).value_or(0) == 0) fp.ok = false;
      return;
    default: fp.ok = fp.ok && pure_safe(f, v);
  }
}

Footprint footprint(const Function& f, ValueId v) {
  Footprint fp;
  for (RegionId r : f.node(v).regions) walk(f, r, [&](ValueId w) { add_footprint(f, w, fp); });
  add_footprint(f, v, fp);
  return fp;
}

class Aliasing {
 public:
  explicit Aliasing(const Function& f) : f_(f) {}
  void learn(const Node& check) { disjoint_.learn(f_, check); }
  bool may_alias(ValueId a, ValueId b) const {
    if (a == b) return true;
    if (f_.node(a).op == Op::Alloc || f_.node(b).op == Op::Alloc) return false;
    return !disjoint_.known(a, b);
  }
  bool conflict(const std::vector<Access>& x, const std::vector<Access>& y) const {
    for (const Access& a : x)
      for (const Access& b : y)
        if ((a.write || b.write) && may_alias(a.buf, b.buf)) return true;
    return false;
  }

 private:
  const Function& f_;
  DisjointChecks disjoint_;
};

// An index as cj*j + ck*k + sum of invariant terms + c.
struct Affine {
  int64_t cj = 0, ck = 0, c = 0;
  std::map<ValueId, int64_t> terms;
  bool operator==(const Affine&) const = default;
};

// A loop `for lo, hi, 1` with no carried values.
bool plain_loop(const Function& f, const Node& n) {
  return n.op == Op::For && n.args.size() == 3 && int_const(f, n.args[2]) == 1 &&
         f.region(n.regions.at(0)).params.size() == 1 && f.region(n.regions[0]).yields.empty();
}

class Reorderer {
 public:
  Reorderer(Function& f, bool expandable) : f_(f), expandable_(expandable) {}

  // Tries the rewrite with L1 the loop at position `at` of region r; true
  // when it rewrote the nest (and nothing changed otherwise).
  bool run(RegionId r, size_t at, const Aliasing& alias) {
    alias_ = &alias;
    l1_ = f_.regions[r].body[at];
    const Node l1 = f_.node(l1_);
    if (!plain_loop(f_, l1)) return false;
    b1_ = l1.regions[0];
    j_ = f_.region(b1_).params[0];
    inside_.assign(f_.nodes.size(), 0);
    inside_[j_] = 1;
    walk(f_, b1_, [&](ValueId v) {
      inside_[v] = 1;
      for (RegionId c : f_.node(v).regions)
        for (ValueId p : f_.region(c).params) inside_[p] = 1;
    });
    // Everything L1 does must be known, and the buffers it writes.
    written_.clear();
    body1_fp_.clear();
    for (ValueId v : f_.region(b1_).body) {
      const Footprint& fp = body1_fp_[v] = footprint(f_, v);
      if (!fp.ok) return false;
      for (const Access& a : fp.accesses)
        if (a.write) written_.push_back(a.buf);
    }
    for (ValueId l2 : f_.region(b1_).body)
      if (leaf_loop(l2) && try_leaf(r, l2)) return true;
    return false;
  }

 private:
  // A load of a buffer L1 never writes: free to recompute.
  bool read_only(ValueId v) const {
    const Node& n = f_.node(v);
    if (n.op != Op::Load) return false;
    for (ValueId w : written_)
      if (alias_->may_alias(n.args[0], w)) return false;
    return true;
  }
  bool free_node(ValueId v) const { return f_.node(v).regions.empty() && (pure_safe(f_, v) || read_only(v)); }

  // L2: a plain loop in L1's body with bounds from outside L1 and only
  // loads, stores and pure nodes in its body.
  bool leaf_loop(ValueId v) const {
    const Node& n = f_.node(v);
    if (!plain_loop(f_, n) || inside_[n.args[0]] || inside_[n.args[1]]) return false;
    for (ValueId w : f_.region(n.regions[0]).body) {
      const Node& m = f_.node(w);
      if (!m.regions.empty() || !(m.op == Op::Load || m.op == Op::Store || pure_safe(f_, w))) return false;
    }
    return true;
  }

  // The affine form of index v over j (L1's) and k (L2's), or nothing.
  // Coefficients stay below 2^40 in magnitude (no wrap-around to reason about).
  bool affine(ValueId v, ValueId k, Affine& out, int64_t scale = 1, int depth = 0) const {
    constexpr int64_t limit = int64_t{1} << 40;
    if (depth > 32 || std::abs(scale) > limit) return false;
    const Node& n = f_.node(v);
    auto add = [&](int64_t& to, int64_t x) {
      return !__builtin_add_overflow(to, x, &to) && std::abs(to) <= limit;
    };
    if (const std::optional<int64_t> c = int_const(f_, v)) {
      int64_t x = 0;
      return !__builtin_mul_overflow(scale, *c, &x) && add(out.c, x);
    }
    if (v == j_) return add(out.cj, scale);
    if (v == k) return add(out.ck, scale);
    if (!inside_[v]) return add(out.terms[v], scale);
    switch (n.op) {
      case Op::Add: return affine(n.args[0], k, out, scale, depth + 1) && affine(n.args[1], k, out, scale, depth + 1);
      case Op::Sub: return affine(n.args[0], k, out, scale, depth + 1) && affine(n.args[1], k, out, -scale, depth + 1);
      case Op::Neg: return affine(n.args[0], k, out, -scale, depth + 1);
      case Op::Mul:
        for (int s = 0; s < 2; ++s)
          if (const std::optional<int64_t> c = int_const(f_, n.args[s])) {
            int64_t m = 0;
            if (__builtin_mul_overflow(scale, *c, &m)) return false;
            return affine(n.args[1 - s], k, out, m, depth + 1);
          }
        return false;
      default: return false;
    }
  }

  // The nodes of a region body (`pos`: node -> position) that `roots` need,
  // marked in `need` by position, through free nodes; the anchors reached
  // are collected, not entered.
  void needs(const std::vector<ValueId>& roots, std::vector<char>& need, std::vector<ValueId>& anchors,
             const std::map<ValueId, size_t>& pos) const {
    std::vector<ValueId> work;
    auto use = [&](ValueId a) {
      auto it = pos.find(a);
      if (it == pos.end() || need[it->second]) return;
      need[it->second] = 1;
      if (free_node(a)) work.push_back(a);
      else anchors.push_back(a);
    };
    auto uses_of = [&](ValueId v) {
      for (ValueId a : f_.node(v).args) use(a);
      for (RegionId c : f_.node(v).regions) {
        walk(f_, c, [&](ValueId w) {
          for (ValueId a : f_.node(w).args) use(a);
          for (RegionId cc : f_.node(w).regions)
            for (ValueId y : f_.region(cc).yields) use(y);
        });
        for (ValueId y : f_.region(c).yields) use(y);
      }
    };
    for (ValueId v : roots) uses_of(v);
    while (!work.empty()) {
      const ValueId v = work.back();
      work.pop_back();
      uses_of(v);
    }
  }

  static std::map<ValueId, size_t> positions(const Region& r) {
    std::map<ValueId, size_t> pos;
    for (size_t i = 0; i < r.body.size(); ++i) pos[r.body[i]] = i;
    return pos;
  }

  bool try_leaf(RegionId r, ValueId l2) {
    const Node l2n = f_.node(l2);
    const RegionId b2 = l2n.regions[0];
    const ValueId k = f_.region(b2).params[0];
    const std::vector<ValueId> body2 = f_.region(b2).body;
    const auto pos2 = positions(f_.region(b2));
    // Clusters of L2's anchors (stores, loads of written buffers).
    std::vector<ValueId> anchors;
    for (ValueId v : body2)
      if (!free_node(v)) anchors.push_back(v);
    if (anchors.empty()) return false;
    std::vector<size_t> parent(anchors.size());
    std::iota(parent.begin(), parent.end(), 0);
    std::function<size_t(size_t)> root = [&](size_t x) { return parent[x] == x ? x : parent[x] = root(parent[x]); };
    auto unite = [&](size_t a, size_t b) { parent[root(a)] = root(b); };
    std::map<ValueId, size_t> anchor_at;
    std::vector<Footprint> fps(anchors.size());
    for (size_t i = 0; i < anchors.size(); ++i) {
      anchor_at[anchors[i]] = i;
      fps[i] = footprint(f_, anchors[i]);
    }
    for (size_t i = 0; i < anchors.size(); ++i) {
      for (size_t j = 0; j < i; ++j)
        if (alias_->conflict(fps[i].accesses, fps[j].accesses)) unite(i, j);
      std::vector<char> need(body2.size(), 0);
      std::vector<ValueId> reached;
      needs({anchors[i]}, need, reached, pos2);
      for (ValueId a : reached) unite(i, anchor_at.at(a));
    }
    // Which clusters want j inner: a store with stride 1 in j and more in
    // k, and none with stride 1 in k.
    std::map<size_t, int> want;  // cluster root -> 1 swap, -1 keep
    for (size_t i = 0; i < anchors.size(); ++i) {
      const Node& s = f_.node(anchors[i]);
      if (s.op != Op::Store) continue;
      Affine a;
      int vote = -1;
      if (affine(s.args[1], k, a)) vote = std::abs(a.ck) == 1 ? -1 : (std::abs(a.cj) == 1 && a.ck != 0 ? 1 : 0);
      int& w = want[root(i)];
      w = (w == -1 || vote == -1) ? -1 : std::max(w, vote);
    }
    std::vector<char> swap(anchors.size(), 0);
    bool any = false, all = true;
    for (size_t i = 0; i < anchors.size(); ++i) {
      auto it = want.find(root(i));
      swap[i] = it != want.end() && it->second == 1;
      any = any || swap[i];
      all = all && swap[i];
    }
    if (!any) return false;

    // The swapped part: its anchors and the free nodes they need.
    std::vector<ValueId> swap_anchors, keep_anchors;
    for (size_t i = 0; i < anchors.size(); ++i) (swap[i] ? swap_anchors : keep_anchors).push_back(anchors[i]);
    std::vector<char> need_swap(body2.size(), 0), need_keep(body2.size(), 0);
    std::vector<ValueId> ignored;
    needs(swap_anchors, need_swap, ignored, pos2);
    needs(keep_anchors, need_keep, ignored, pos2);
    for (ValueId a : swap_anchors) need_swap[pos2.at(a)] = 1;
    for (ValueId a : keep_anchors) need_keep[pos2.at(a)] = 1;

    // The accesses of the swapped part (acc) and of the rest of L1's body,
    // the kept part of L2 included (rest).
    std::vector<Access> acc, rest;
    for (size_t i = 0; i < anchors.size(); ++i) {
      std::vector<Access>& to = swap[i] ? acc : rest;
      to.insert(to.end(), fps[i].accesses.begin(), fps[i].accesses.end());
    }
    for (const auto& [v, fp] : body1_fp_)
      if (v != l2) rest.insert(rest.end(), fp.accesses.begin(), fp.accesses.end());
    // Step 3's legality on the swapped part's accesses.
    const int64_t trip_j = trip_count(f_, f_.node(l1_)), trip_k = trip_count(f_, l2n);
    for (size_t x = 0; x < acc.size(); ++x)
      for (size_t y = x; y < acc.size(); ++y) {
        if (!(acc[x].write || acc[y].write) || !alias_->may_alias(acc[x].buf, acc[y].buf)) continue;
        if (acc[x].buf != acc[y].buf) return false;
        Affine ax, ay;
        if (!affine(acc[x].index, k, ax) || !affine(acc[y].index, k, ay) || !(ax == ay)) return false;
        // i64 indices wrap: the argument holds while |cj|·trips(j) and
        // |ck|·trips(k) stay below 2^62 (or a coefficient is ±1, which
        // reaches every residue only once).
        const __int128 span_j = static_cast<__int128>(std::abs(ax.cj)) * trip_j;
        const __int128 span_k = static_cast<__int128>(std::abs(ax.ck)) * trip_k;
        const __int128 bound = static_cast<__int128>(1) << 62;
        const bool known = trip_j > 0 && trip_k > 0 && span_j < bound && span_k < bound;
        const bool one_zero = (ax.cj == 0 && (std::abs(ax.ck) == 1 || known)) ||
                              (ax.ck == 0 && (std::abs(ax.cj) == 1 || known));
        const bool injective = ax.cj != 0 && ax.ck != 0 && known &&
                               (std::abs(ax.ck) >= span_j || std::abs(ax.cj) >= span_k);
        if (!one_zero && !injective) return false;
      }
    // Step 2's legality: the swapped part shares no memory with the rest.
    if (alias_->conflict(acc, rest)) return false;
    // The values of L1's body the swapped part uses.
    const Region& b1 = f_.region(b1_);
    const auto pos1 = positions(b1);
    std::vector<char> need1(b1.body.size(), 0);
    std::vector<ValueId> expanded;
    {
      std::vector<ValueId> roots;
      for (size_t i = 0; i < body2.size(); ++i)
        if (need_swap[i]) roots.push_back(body2[i]);
      needs(roots, need1, expanded, pos1);
    }
    const std::optional<int64_t> lo1 = int_const(f_, f_.node(l1_).args[0]);
    if (!expanded.empty()) {
      if (!expandable_ || trip_j <= 0 || trip_j > 8192 || !lo1) return false;
      for (ValueId e : expanded)
        if (f_.type(e).kind != TypeKind::scalar) return false;
    }
    rewrite(r, l2, need_swap, need_keep, need1, expanded, all, lo1.value_or(0), trip_j);
    return true;
  }

  // Copies node v of src into f_, operands through map (unmapped: as they are).
  ValueId clone(const Function& src, ValueId v, std::vector<ValueId>& map) {
    const Node n = src.node(v);  // free nodes and leaf-loop bodies: no regions
    std::vector<ValueId> args;
    for (ValueId a : n.args) args.push_back(map[a] == no_value ? a : map[a]);
    map.resize(std::max(map.size(), f_.nodes.size() + 1), no_value);
    const ValueId c = f_.add(n.op, n.type, std::move(args), n.imm, n.loc);
    map[v] = c;
    return c;
  }

  void rewrite(RegionId r, ValueId l2, const std::vector<char>& need_swap,
               const std::vector<char>& need_keep, const std::vector<char>& need1,
               const std::vector<ValueId>& expanded, bool all_swap, int64_t lo1, int64_t trip_j) {
    const Function src = f_;  // read from a copy: f_.add moves f_'s tables
    const Node l1 = src.node(l1_), l2n = src.node(l2);
    const Region& b1 = src.region(b1_);
    const Region& b2 = src.region(l2n.regions[0]);
    const ValueId k = b2.params[0];
    const Type i64 = src.type(j_);
    // j - lo1, the temporary's element, its nodes appended to `into`.
    auto index_of = [&](ValueId j, std::vector<ValueId>& into) {
      if (lo1 == 0) return j;
      const ValueId c = make_const(f_, i64, encode_const_int(i64.elem, lo1), l1.loc);
      const ValueId ix = f_.add(Op::Sub, i64, {j, c}, 0, l1.loc);
      into.insert(into.end(), {c, ix});
      return ix;
    };
    // Temporaries at the top of the function.
    std::map<ValueId, ValueId> temp;
    for (ValueId e : expanded) {
      const ValueId a = f_.add(Op::Alloc, Type::buf(src.type(e).elem, true), {}, trip_j, src.node(e).loc);
      f_.regions[f_.body].body.insert(f_.regions[f_.body].body.begin(), a);
      temp[e] = a;
    }
    auto fresh_map = [&] { return std::vector<ValueId>(f_.nodes.size() + 64, no_value); };
    auto loop = [&](const Node& like, ValueId lo, ValueId hi, ValueId step, ValueId& iv) {
      const RegionId body = f_.add_region();
      iv = f_.add(Op::Param, i64, {}, 0, like.loc);
      f_.regions[body].params.push_back(iv);
      return std::pair{body, f_.add(Op::For, like.type, {lo, hi, step}, 0, like.loc, {body})};
    };
    // The kept part of L2 (unless all of it moves).
    ValueId kept_l2 = no_value;
    if (!all_swap) {
      ValueId iv;
      auto [body, node] = loop(l2n, l2n.args[0], l2n.args[1], l2n.args[2], iv);
      std::vector<ValueId> map = fresh_map();
      map[k] = iv;
      std::vector<ValueId> out;
      for (size_t i = 0; i < b2.body.size(); ++i)
        if (need_keep[i]) out.push_back(clone(src, b2.body[i], map));
      f_.regions[body].body = std::move(out);
      kept_l2 = node;
    }
    // L1's body without L2, storing the expanded values.
    {
      std::vector<ValueId> out;
      for (ValueId v : b1.body) {
        if (v == l2) {
          if (kept_l2 != no_value) out.push_back(kept_l2);
          continue;
        }
        out.push_back(v);
        if (temp.count(v)) {
          const ValueId ix = index_of(j_, out);
          out.push_back(f_.add(Op::Store, Type{}, {temp[v], ix, v}, 0, src.node(v).loc));
        }
      }
      f_.regions[b1_].body = std::move(out);
    }
    // The swapped nest: for k { for j { what it needs of L1's body; its part of L2 } }.
    ValueId k2, j2;
    auto [outer_body, outer] = loop(l2n, l2n.args[0], l2n.args[1], l2n.args[2], k2);
    auto [inner_body, inner] = loop(l1, l1.args[0], l1.args[1], l1.args[2], j2);
    std::vector<ValueId> map = fresh_map();
    map[j_] = j2;
    map[k] = k2;
    std::vector<ValueId> out;
    for (size_t i = 0; i < b1.body.size(); ++i) {
      const ValueId v = b1.body[i];
      if (!need1[i]) continue;
      if (temp.count(v)) {
        const ValueId ix = index_of(j2, out);
        const ValueId ld = f_.add(Op::Load, src.type(v), {temp[v], ix}, 0, src.node(v).loc);
        map.resize(std::max(map.size(), f_.nodes.size()), no_value);
        map[v] = ld;
        out.push_back(ld);
      } else {
        out.push_back(clone(src, v, map));
      }
    }
    for (size_t i = 0; i < b2.body.size(); ++i)
      if (need_swap[i]) out.push_back(clone(src, b2.body[i], map));
    f_.regions[inner_body].body = std::move(out);
    f_.regions[outer_body].body = {inner};
    std::vector<ValueId>& rb = f_.regions[r].body;  // the allocs may have moved L1 on
    rb.insert(std::find(rb.begin(), rb.end(), l1_) + 1, outer);
  }

  Function& f_;
  bool expandable_;
  const Aliasing* alias_ = nullptr;
  ValueId l1_ = no_value, j_ = no_value;
  RegionId b1_ = 0;
  std::vector<char> inside_;
  std::vector<ValueId> written_;
  std::map<ValueId, Footprint> body1_fp_;  // L1's body nodes' footprints (run)
};

// Finds a loop the rewrite applies to (outer loops first), applies it, and
// says whether it did; `tried` keeps loops it did not apply to.
bool reorder_one(Function& f, bool entry, std::set<ValueId>& tried) {
  Aliasing alias(f);
  struct Frame {
    RegionId r;
    bool parallel;
  };
  std::function<bool(RegionId, bool)> visit = [&](RegionId r, bool parallel) {
    for (size_t i = 0; i < f.regions[r].body.size(); ++i) {
      const ValueId v = f.regions[r].body[i];
      const Node& n = f.node(v);
      if (r == f.body && n.op == Op::Check) alias.learn(n);
      if (n.op == Op::For && !tried.count(v)) {
        Reorderer re(f, entry && !parallel);
        if (re.run(r, i, alias)) return true;
        tried.insert(v);
      }
      const std::vector<RegionId> children = f.node(v).regions;
      const bool par = parallel || f.node(v).op == Op::ParallelFor;
      for (RegionId c : children)
        if (visit(c, par)) return true;
    }
    return false;
  };
  return visit(f.body, false);
}

}  // namespace

void reorder_loops(Module& m, const Options&) {
  for (size_t i = 0; i < m.functions.size(); ++i) {
    std::set<ValueId> tried;
    for (int rounds = 0; rounds < 64 && reorder_one(m.functions[i], i == 0, tried); ++rounds) {
    }
  }
}

}  // namespace kiln::passes

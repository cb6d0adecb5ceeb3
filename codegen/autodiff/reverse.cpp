// Reverse mode. Every function f of the call graph, per pattern of active
// parameters, becomes two functions:
//
//   f_fwd(params) -> results        the primal, which also pushes onto the
//                                   tape what the reverse sweep will need;
//   f_rev(params, cotangents of the float results, adjoint buffers)
//       -> adjoints of the active float scalar parameters
//                                   pops it and runs f backwards.
//
// The tape is a stack per thread and level (IR ops tape.push / tape.pop), so
// f_fwd and f_rev are separate functions: a call g(...) in f becomes
// g_fwd(...) in f_fwd and g_rev(...) in f_rev, recursion included, and one
// tape serves loops with any trip count (a while_ needs no bound).
//
// What is pushed. A region's body is cut into segments, each ending after a
// structured op or a call. At the end of a segment f_fwd pushes the values
// the reverse of that segment needs (the operands of its derivative rules,
// loop bounds, if conditions, call arguments, and what nested regions need
// from this region), and f_rev, walking the segments backwards, pops them
// before reversing the segment. Constants and the function's scalar
// parameters are never pushed. So a loop body pushes per iteration only
// what its own rules need, and a value from outside the loop is pushed once.
//
// Adjoints are SSA values in f_rev (none: zero). A loop's reverse is a loop
// with the same trip count whose carried values are the adjoints of the
// carried values, plus accumulators for the adjoints of outside values the
// body uses; a while_ counts its iterations in f_fwd. An if's reverse is an
// if on the same condition, so only the branch taken is differentiated.
// Buffers have adjoint buffers: a load adds its adjoint into the adjoint
// buffer, a store takes the element's adjoint and zeroes it.
//
// A parallel_for with anything to differentiate becomes a sequential loop in
// both sweeps (its iterations are independent, so any order is right).
#include "reverse.h"

#include "forward.h"

#include "../passes/rewrite.h"

#include <kiln/error.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace kiln::autodiff {
namespace {

using namespace ir;

bool is_float_buffer(Type t) { return t.kind == TypeKind::buf && (t.elem == Scalar::f32 || t.elem == Scalar::f64); }

struct Sweeps {
  size_t fwd = 0, rev = 0;
};

class Reverse {
 public:
  Reverse(const Module& m, int64_t level, int64_t checkpoint, bool parallel)
      : m_(m), level_(level), checkpoint_(checkpoint), parallel_(parallel), writes_(passes::writes_memory(m)) {}

  // The sweeps of function fn for the active parameters `active` (writable
  // float buffers are always active); derived once per pair.
  Sweeps derive(size_t fn, std::vector<bool> active);

  Module& out() { return out_; }

 private:
  const Module& m_;
  int64_t level_;

 public:
  const int64_t checkpoint_;        // while_ snapshots every this many iterations (0: tape every one)
  const bool parallel_;             // parallel_for stays parallel where it can
  const std::vector<bool> writes_;  // per function of m: may write memory or a tape

 private:
  Module out_;
  std::map<std::pair<size_t, std::vector<bool>>, Sweeps> done_;
  std::map<size_t, int> variants_;
};

// Builds f_fwd and f_rev of one function.
class Sweep {
 public:
  Sweep(Reverse& rv, const Module& m, const Function& f, const std::vector<bool>& active, int64_t level)
      : rv_(rv), m_(m), f_(f), active_(active), level_(level), n_(f.nodes.size()), act_(n_, 0), tact_(n_),
        relevant_(n_, 0), def_(n_, no_region), owner_(f.regions.size(), no_value), parent_(f.regions.size(), no_region),
        seg_needs_(f.regions.size()), fwd_(n_, no_value), pv_(n_, no_value), adj_(n_, no_value), tadj_(n_),
        adjbuf_(n_, no_value), trips_(n_, no_value) {
    remat_.assign(n_, 0);
    pv_region_.assign(n_, 0);
    reload_ = true;
    for (const Function& fn : m.functions)
      for (const Node& x : fn.nodes) reload_ = reload_ && !writes_state(x.op);
    analyse();
  }

  Function forward(std::string name);
  Function reverse(std::string name);

 private:
  static constexpr RegionId no_region = UINT32_MAX;
  Reverse& rv_;
  const Module& m_;
  const Function& f_;
  const std::vector<bool>& active_;
  int64_t level_;
  size_t n_;
  std::vector<char> act_;                  // value is active (float scalar or buffer that depends on the inputs)
  std::vector<std::vector<char>> tact_;    // per tuple element
  std::vector<char> relevant_;             // node has reverse work
  std::vector<RegionId> def_;              // region that defines a value
  std::vector<ValueId> owner_;             // node that owns a region
  std::vector<RegionId> parent_;           // region that holds a region's owner
  std::vector<std::vector<std::vector<ValueId>>> seg_needs_;  // per region, per segment
  std::map<ValueId, std::vector<ValueId>> free_act_;  // structured node -> active floats it uses from outside
  bool reload_ = false;                     // no function of the module stores: loads can be redone
  mutable std::vector<char> remat_;         // rematerialisable: 0 unknown, 1 yes, 2 no

  // Emission state.
  Function g_;
  RegionId cur_ = 0;
  std::source_location loc_;
  std::vector<ValueId> fwd_;            // source value -> value in f_fwd
  std::vector<ValueId> pv_;             // source value -> primal value in f_rev
  std::vector<RegionId> pv_region_;     // ... and the f_rev region it is defined in
  std::vector<RegionId> open_;          // the f_rev regions being emitted, outermost first
  std::vector<ValueId> adj_;            // source value -> adjoint in f_rev (no_value: zero)
  std::vector<std::vector<ValueId>> tadj_;  // tuple node -> adjoints of its elements
  std::vector<ValueId> adjbuf_;         // buffer parameter -> its adjoint buffer in f_rev
  std::vector<ValueId> trips_;          // while node -> its trip count in f_fwd
  bool quiet_ = false;                  // emitting a checkpointed loop's forward sweep: no pushes

  // --- analysis -------------------------------------------------------------

  bool act(ValueId v) const { return act_[v] != 0; }
  bool float_active(ValueId v) const { return f_.type(v).is_float() && act(v); }

  bool within(RegionId r, RegionId ancestor) const {
    for (; r != no_region; r = parent_[r])
      if (r == ancestor) return true;
    return false;
  }
  // Whether v is defined inside one of node s's regions (at any depth).
  bool inside(ValueId v, ValueId s) const {
    for (RegionId r : f_.node(s).regions)
      if (within(def_[v], r)) return true;
    return false;
  }

  void index_region(RegionId r) {
    for (ValueId p : f_.region(r).params) def_[p] = r;
    for (ValueId v : f_.region(r).body) {
      def_[v] = r;
      for (RegionId c : f_.node(v).regions) {
        owner_[c] = v;
        parent_[c] = r;
        index_region(c);
      }
    }
  }

  bool set(std::vector<char>& x, size_t i, bool on) {
    if (!on || x[i]) return false;
    x[i] = 1;
    return true;
  }

  // One pass of the forward activity propagation; true when anything changed.
  bool propagate(RegionId r) {
    bool changed = false;
    for (ValueId v : f_.region(r).body) {
      const Node& n = f_.node(v);
      for (RegionId c : n.regions) changed = propagate(c) || changed;
      auto any_arg = [&](size_t from = 0) {
        for (size_t i = from; i < n.args.size(); ++i)
          if (act(n.args[i])) return true;
        return false;
      };
      auto elems = [&](size_t count) -> std::vector<char>& {
        if (tact_[v].size() < count) tact_[v].resize(count, 0);
        return tact_[v];
      };
      switch (n.op) {
        case Op::Const: case Op::Param: case Op::Size: case Op::Store: case Op::TapePush:
        case Op::VarLoad: case Op::VarStore: case Op::ParallelFor:
          break;
        case Op::TapePop:
          changed = set(act_, v, n.type.is_float()) || changed;
          break;
        case Op::Load:
          changed = set(act_, v, n.type.is_float() && act(n.args[0])) || changed;
          break;
        case Op::Get: {
          const auto& t = tact_[n.args[0]];
          const size_t k = static_cast<size_t>(n.imm);
          changed = set(act_, v, n.type.is_float() && k < t.size() && t[k]) || changed;
          break;
        }
        case Op::Call: {
          const auto& types = m_.functions[static_cast<size_t>(n.imm)].result_types;
          auto& e = elems(types.size());
          const bool any = any_arg();
          for (size_t k = 0; k < types.size(); ++k) changed = set(e, k, any && types[k].is_float()) || changed;
          break;
        }
        case Op::If: {
          const auto& a = f_.region(n.regions[0]).yields;
          const auto& b = f_.region(n.regions[1]).yields;
          auto& e = elems(a.size());
          for (size_t k = 0; k < a.size(); ++k) changed = set(e, k, float_active(a[k]) || float_active(b[k])) || changed;
          break;
        }
        case Op::For: {
          const Region& body = f_.region(n.regions[0]);
          auto& e = elems(n.args.size() - 3);
          for (size_t j = 3; j < n.args.size(); ++j) {
            const bool on = float_active(n.args[j]) || float_active(body.yields[j - 3]);
            changed = set(act_, body.params[j - 2], on) || changed;
            changed = set(e, j - 3, on) || changed;
          }
          break;
        }
        case Op::While: {
          const Region& cond = f_.region(n.regions[0]);
          const Region& body = f_.region(n.regions[1]);
          auto& e = elems(cond.yields.size() - 1);
          for (size_t j = 0; j < n.args.size(); ++j)
            changed = set(act_, cond.params[j], float_active(n.args[j]) || float_active(body.yields[j])) || changed;
          for (size_t j = 1; j < cond.yields.size(); ++j) {
            const bool on = float_active(cond.yields[j]);
            changed = set(act_, body.params[j - 1], on) || changed;
            changed = set(e, j - 1, on) || changed;
          }
          break;
        }
        case Op::Cast:
          changed = set(act_, v, n.type.is_float() && float_active(n.args[0])) || changed;
          break;
        case Op::Select:
          changed = set(act_, v, n.type.is_float() && any_arg(1)) || changed;
          break;
        default:  // arithmetic and math
          changed = set(act_, v, n.type.is_float() && any_arg()) || changed;
          break;
      }
    }
    return changed;
  }

  // Marks nodes with reverse work; true when region r has any.
  bool mark_relevant(RegionId r) {
    bool any = false;
    for (ValueId v : f_.region(r).body) {
      const Node& n = f_.node(v);
      bool rel = false;
      for (RegionId c : n.regions) rel = mark_relevant(c) || rel;
      for (char e : tact_[v]) rel = rel || e;  // adjoints pass through, even with nothing inside
      switch (n.op) {
        case Op::Load:
        case Op::Store:
          rel = rel || act(n.args[0]);
          break;
        case Op::Call:
          for (ValueId a : n.args) rel = rel || act(a);
          break;
        case Op::TapePush:
          rel = f_.type(n.args[0]).is_float();
          break;
        case Op::TapePop:
          rel = n.type.is_float();
          break;
        default:
          rel = rel || float_active(v);
          break;
      }
      relevant_[v] = rel;
      any = any || rel;
    }
    return any;
  }

  // The values the reverse of node v reads (before filtering out what
  // f_rev has without the tape).
  std::vector<ValueId> node_needs(ValueId v) const {
    const Node& n = f_.node(v);
    if (!relevant_[v]) return {};
    auto a = [&](size_t i) { return n.args[i]; };
    auto on = [&](size_t i) { return float_active(n.args[i]); };
    switch (n.op) {
      case Op::Mul:
        if (on(0) && on(1)) return {a(0), a(1)};
        return {on(0) ? a(1) : a(0)};
      case Op::Div:
        if (on(1)) return {a(1), v};
        return {a(1)};
      case Op::Rem:
        if (on(1)) return {a(0), a(1)};
        return {};
      case Op::Fma:
        if (on(0) && on(1)) return {a(0), a(1)};
        if (on(0)) return {a(1)};
        if (on(1)) return {a(0)};
        return {};
      case Op::Sqrt: case Op::Exp: case Op::Tanh:
        return {v};
      case Op::Log: case Op::Sin: case Op::Cos: case Op::Abs:
        return {a(0)};
      case Op::Min: case Op::Max:
        return {a(0), a(1)};
      case Op::Pow:
        return {a(0), a(1), v};
      case Op::Select:
        return {a(0)};
      case Op::Load: case Op::Store:
        return {a(1)};
      case Op::If:
        return {a(0)};
      case Op::For: case Op::ParallelFor:
        return {a(0), a(1), a(2)};
      case Op::Call: {
        std::vector<ValueId> out;
        for (ValueId x : n.args)
          if (f_.type(x).is_scalar()) out.push_back(x);
        return out;
      }
      default:
        return {};
    }
  }

  // f_rev can make these without the tape: constants, the function's
  // parameters, the index of a loop with step 1 (the reverse loop runs the
  // indices backwards), loads when the program writes no buffer, and pure
  // operations of such values (recomputed: cheaper than a push and a pop).
  bool rematerialisable(ValueId v) const {
    if (remat_[v]) return remat_[v] == 1;
    const Node& n = f_.node(v);
    bool yes = false;
    switch (n.op) {
      case Op::Const:
        yes = true;
        break;
      case Op::Param:
        yes = def_[v] == f_.body || unit_index(v);
        break;
      case Op::Load:
        yes = reload_ && rematerialisable(n.args[1]);
        break;
      default:
        yes = info(n.op).effect == Effect::pure && n.op != Op::Get && n.type.is_scalar();
        for (ValueId a : n.args) yes = yes && rematerialisable(a);
        break;
    }
    remat_[v] = yes ? 1 : 2;
    return yes;
  }
  // The index of a for / parallel_for with constant step 1.
  bool unit_index(ValueId v) const {
    const RegionId r = def_[v];
    if (r == no_region || r == f_.body || owner_[r] == no_value) return false;
    const Node& loop = f_.node(owner_[r]);
    if ((loop.op != Op::For && loop.op != Op::ParallelFor) || f_.region(r).params[0] != v) return false;
    const Node& step = f_.node(loop.args[2]);
    return step.op == Op::Const && step.imm == 1;
  }

  // Cheap pure operations: the reverse sweep recomputes them from their
  // operands rather than taping them (not libm calls: exp, log, sin, cos,
  // tanh, pow cost more than a tape round trip).
  static bool cheap(const Node& n) {
    if (!n.type.is_scalar()) return false;
    switch (n.op) {
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Floor: case Op::Cast: case Op::Add:
      case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max: case Op::And:
      case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr: case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le:
      case Op::Gt: case Op::Ge: case Op::Fma: case Op::Select:
        return true;
      default:
        return false;
    }
  }
  // Tapes the operands of a cheap need instead of the need itself when
  // they are defined in region r too (or need no tape): fewer or equal
  // words, e.g. x instead of x, fma(x, x, 1) and sqrt(...).
  void narrow(RegionId r, std::vector<ValueId>& seg) const {
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t k = 0; k < seg.size(); ++k) {
        const Node& n = f_.node(seg[k]);
        if (!cheap(n)) continue;
        std::vector<ValueId> add;
        bool ok = true;
        for (ValueId a : n.args) {
          if (rematerialisable(a)) continue;
          if (def_[a] != r) ok = false;
          else if (std::find(seg.begin(), seg.end(), a) == seg.end() && std::find(add.begin(), add.end(), a) == add.end())
            add.push_back(a);
        }
        if (!ok || add.size() > 1) continue;  // never more words than before
        seg.erase(seg.begin() + static_cast<std::ptrdiff_t>(k));
        seg.insert(seg.end(), add.begin(), add.end());
        changed = true;
        break;
      }
    }
  }

  static bool ends_segment(const Node& n) { return !n.regions.empty() || n.op == Op::Call; }

  // Fills seg_needs_[r]; returns what r's subtree needs from outside r.
  std::vector<ValueId> analyse_needs(RegionId r) {
    std::vector<ValueId> outside;
    std::vector<std::vector<ValueId>>& segs = seg_needs_[r];
    segs.assign(1, {});
    auto need = [&](ValueId x) {
      if (rematerialisable(x)) return;
      auto& into = def_[x] == r ? segs.back() : outside;
      if (std::find(into.begin(), into.end(), x) == into.end()) into.push_back(x);
    };
    const auto& body = f_.region(r).body;
    for (size_t i = 0; i < body.size(); ++i) {
      const ValueId v = body[i];
      const Node& n = f_.node(v);
      for (ValueId x : node_needs(v)) need(x);
      if (relevant_[v])
        for (RegionId c : n.regions)
          for (ValueId x : analyse_needs(c)) need(x);
      if (checkpointed(v))  // the reverse sweep replays it: everything it reads from outside
        for (RegionId c : n.regions) collect_used(v, c, need);
      if (ends_segment(n) && i + 1 < body.size()) segs.emplace_back();
    }
    for (auto& s : segs) {
      narrow(r, s);
      std::sort(s.begin(), s.end());
    }
    return outside;
  }

  // A relevant while_ whose regions write nothing (no store, no tape, no
  // call that may write): with a checkpoint interval K, the forward sweep
  // keeps only a snapshot of its carried values every K iterations and the
  // reverse sweep replays each stretch of K iterations, taping it, before
  // reversing it.
  bool checkpointed(ValueId v) const {
    if (rv_.checkpoint_ <= 0 || f_.node(v).op != Op::While || !relevant_[v]) return false;
    bool clean = true;
    for (RegionId r : f_.node(v).regions)
      walk(f_, r, [&](ValueId x) {
        const Node& n = f_.node(x);
        if (writes_state(n.op) || (n.op == Op::Call && rv_.writes_[static_cast<size_t>(n.imm)])) clean = false;
      });
    return clean;
  }

  template <class Need>
  void collect_used(ValueId s, RegionId r, Need& need) const {
    const Region& reg = f_.region(r);
    auto use = [&](ValueId x) {
      if (!inside(x, s)) need(x);
    };
    for (ValueId v : reg.body) {
      for (ValueId a : f_.node(v).args) use(a);
      for (RegionId c : f_.node(v).regions) collect_used(s, c, need);
    }
    for (ValueId y : reg.yields) use(y);
  }

  void collect_free(ValueId s, RegionId r, std::vector<ValueId>& out) const {
    const Region& reg = f_.region(r);
    auto use = [&](ValueId x) {
      if (float_active(x) && !inside(x, s) && std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    };
    for (ValueId v : reg.body) {
      for (ValueId a : f_.node(v).args) use(a);
      for (RegionId c : f_.node(v).regions) collect_free(s, c, out);
    }
    for (ValueId y : reg.yields) use(y);
  }

  void analyse() {
    for (const Node& n : f_.nodes)
      if (n.op == Op::TapeReserve || n.op == Op::TapeRelease)
        throw StagingError("reverse mode of @" + f_.name +
                           ", a derivative that runs a parallel_for_ in parallel, is not supported: differentiate "
                           "the inner function with kiln::ReverseOptions{.parallel = false}");
    index_region(f_.body);
    const auto& ps = f_.params();
    for (size_t i = 0; i < ps.size(); ++i) {
      const Type t = f_.type(ps[i]);
      if (active_[i] && (t.is_float() || is_float_buffer(t))) act_[ps[i]] = 1;
    }
    while (propagate(f_.body)) {
    }
    mark_relevant(f_.body);
    analyse_needs(f_.body);
    walk(f_, [&](ValueId v) {
      if (!f_.node(v).regions.empty() && relevant_[v]) {
        std::vector<ValueId> fr;
        for (RegionId r : f_.node(v).regions) collect_free(v, r, fr);
        std::sort(fr.begin(), fr.end());
        free_act_[v] = std::move(fr);
      }
    });
    walk(f_, [&](ValueId v) {
      if (f_.node(v).op == Op::ParallelFor) plan_parallel(v);
    });
  }

  // --- parallel_for in parallel ------------------------------------------------
  //
  // A relevant parallel_for with step 1 whose body has no loop, no call and
  // no tape op stays parallel in both sweeps. Instead of pushing, iteration
  // k (= i - lo) of the forward sweep stores what its reverse needs in row k
  // of one block of doubles reserved on the tape (tape.reserve; n rows of
  // `width` columns; one block, since a second reserve could move the
  // first). Every value kept there converts to double and back exactly:
  // floats, conditions, and in-bounds indices. The reverse sweep releases the blocks
  // and runs the reverse body in parallel, reading row k. What iterations
  // would add to the same place goes to row k too and is added up by a
  // sequential loop afterwards, in iteration order (deterministic, no
  // atomics): the adjoints of outside scalars the body reads, and adjoint
  // updates of a buffer unless every access to it in the body uses one index
  // that differs per iteration (i, or i plus or minus an outside value).
  struct Slots {
    size_t width = 0;                                      // columns
    std::map<ValueId, size_t> col;                         // need -> column
    std::map<ValueId, size_t> free_col;                    // outside active scalar -> column
    std::map<ValueId, std::pair<size_t, size_t>> rec_col;  // load -> (value column, index column)
    ValueId k = no_value;                                  // emission: the row of this iteration
    ValueId block = no_value;                              // emission: the block
  };
  std::map<ValueId, Slots> slots_;          // per parallel_for that stays parallel
  std::map<RegionId, ValueId> slot_owner_;  // region in such a body -> its parallel_for

  size_t column(Slots& s) { return s.width++; }

  void plan_parallel(ValueId v) {
    const Node& n = f_.node(v);
    const Region& body = f_.region(n.regions[0]);
    if (!relevant_[v] || !rv_.parallel_ || !unit_index(body.params[0])) return;
    bool simple = true;
    std::vector<RegionId> regions;
    std::function<void(RegionId)> scan = [&](RegionId r) {
      regions.push_back(r);
      for (ValueId x : f_.region(r).body) {
        const Node& m = f_.node(x);
        if (m.op == Op::Call || is_tape_op(m.op) || (!m.regions.empty() && m.op != Op::If)) simple = false;
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
  ValueId slot_index(Slots& s, size_t col) {
    const Type i64 = Type::scalar(Scalar::i64);
    return emit(Op::Add, i64, {emit(Op::Mul, i64, {s.k, constant(i64, static_cast<double>(s.width))}),
                               constant(i64, static_cast<double>(col))});
  }
  void slot_store(Slots& s, size_t col, ValueId x) {
    const Type f64 = Type::scalar(Scalar::f64);
    if (g_.type(x) != f64) x = emit(Op::Cast, f64, {x});
    emit(Op::Store, {}, {s.block, slot_index(s, col), x});
  }
  ValueId slot_load(Slots& s, size_t col, Type t) {
    const ValueId x = emit(Op::Load, Type::scalar(Scalar::f64), {s.block, slot_index(s, col)});
    return t == Type::scalar(Scalar::f64) ? x : emit(Op::Cast, t, {x});
  }
  ValueId as_i64(ValueId x) {
    return g_.type(x) == Type::scalar(Scalar::i64) ? x : emit(Op::Cast, Type::scalar(Scalar::i64), {x});
  }
  // max(hi - lo, 0), in i64.
  ValueId trip_rows(ValueId lo, ValueId hi) {
    const Type i64 = Type::scalar(Scalar::i64);
    const ValueId l = as_i64(lo), h = as_i64(hi);
    return emit(Op::Select, i64, {emit(Op::Lt, Type::scalar(Scalar::i1), {l, h}), emit(Op::Sub, i64, {h, l}),
                                  constant(i64, 0.0)});
  }

  // --- emission helpers -------------------------------------------------------

  ValueId emit(Op op, Type t, std::vector<ValueId> args, int64_t imm = 0, std::vector<RegionId> regions = {}) {
    ValueId v = g_.add(op, t, std::move(args), imm, loc_, std::move(regions));
    g_.regions[cur_].body.push_back(v);
    return v;
  }
  ValueId constant(Type t, double x) { return emit(Op::Const, t, {}, encode_const(t.elem, x)); }
  ValueId param(RegionId r, Type t) {
    ValueId p = g_.add(Op::Param, t, {}, static_cast<int64_t>(g_.regions[r].params.size()));
    g_.regions[r].params.push_back(p);
    return p;
  }
  ValueId get(ValueId tuple, size_t k, Type t) { return emit(Op::Get, t, {tuple}, static_cast<int64_t>(k)); }

  // --- the forward sweep ------------------------------------------------------

  ValueId fv(ValueId src) const { return fwd_[src]; }

  void fwd_region(RegionId r, RegionId into) {
    const RegionId saved = cur_;
    cur_ = into;
    const auto& body = f_.region(r).body;
    size_t seg = 0;
    for (size_t i = 0; i < body.size(); ++i) {
      fwd_node(body[i]);
      const bool last = i + 1 == body.size();
      if (ends_segment(f_.node(body[i])) || last) {
        push_segment(r, seg, body[i]);
        if (!last) ++seg;
      }
    }
    cur_ = saved;
  }

  void push_segment(RegionId r, size_t seg, ValueId last) {
    if (seg >= seg_needs_[r].size() || quiet_) return;  // nothing to reverse, or a checkpointed stretch
    if (auto owner = slot_owner_.find(r); owner != slot_owner_.end()) {  // a row of the parallel_for's blocks
      Slots& sl = slots_.at(owner->second);
      for (ValueId x : seg_needs_[r][seg]) slot_store(sl, sl.col.at(x), fv(x));
      return;
    }
    for (ValueId x : seg_needs_[r][seg]) emit(Op::TapePush, {}, {fv(x)}, level_);
    if (trips_[last] != no_value && relevant_[last]) emit(Op::TapePush, {}, {trips_[last]}, level_);
  }

  std::vector<ValueId> fargs(const Node& n) const {
    std::vector<ValueId> out;
    for (ValueId a : n.args) out.push_back(fv(a));
    return out;
  }

  RegionId fwd_copy_region(RegionId r, const std::vector<Type>& extra_params = {}) {
    const RegionId nr = g_.add_region();
    for (ValueId p : f_.region(r).params) fwd_[p] = param(nr, f_.type(p));
    for (Type t : extra_params) param(nr, t);
    fwd_region(r, nr);
    for (ValueId y : f_.region(r).yields) g_.regions[nr].yields.push_back(fv(y));
    return nr;
  }

  void fwd_node(ValueId v) {
    const Node& n = f_.node(v);
    loc_ = n.loc;
    switch (n.op) {
      case Op::Param:
        throw InternalError("autodiff: a parameter in a region body");
      case Op::If: {
        RegionId a = fwd_copy_region(n.regions[0]);
        RegionId b = fwd_copy_region(n.regions[1]);
        loc_ = n.loc;
        fwd_[v] = emit(Op::If, n.type, fargs(n), n.imm, {a, b});
        return;
      }
      case Op::For: {
        RegionId body = fwd_copy_region(n.regions[0]);
        loc_ = n.loc;
        fwd_[v] = emit(Op::For, n.type, fargs(n), n.imm, {body});
        return;
      }
      case Op::ParallelFor: {
        if (slots_.count(v) && !quiet_) return fwd_parallel(v, n);
        RegionId body = fwd_copy_region(n.regions[0]);
        loc_ = n.loc;
        if (relevant_[v])  // sequential: see the file comment
          fwd_[v] = emit(Op::For, Type::tuple(), fargs(n), 0, {body});
        else
          fwd_[v] = emit(Op::ParallelFor, n.type, fargs(n), n.imm, {body});
        return;
      }
      case Op::While: {
        if (!relevant_[v]) {
          RegionId c = fwd_copy_region(n.regions[0]);
          RegionId b = fwd_copy_region(n.regions[1]);
          loc_ = n.loc;
          fwd_[v] = emit(Op::While, n.type, fargs(n), n.imm, {c, b});
          return;
        }
        // Carries an iteration count after the values.
        const Type i64 = Type::scalar(Scalar::i64);
        const bool snapshots = checkpointed(v) && !quiet_;
        if (snapshots) quiet_ = true;
        RegionId c = fwd_copy_region(n.regions[0], {i64});
        g_.regions[c].yields.push_back(g_.regions[c].params.back());
        if (snapshots) {  // at counts 0, K, 2K, ...: push the carried values
          const RegionId saved = cur_;
          cur_ = c;
          const ValueId count = g_.regions[c].params.back();
          const ValueId k = constant(i64, static_cast<double>(rv_.checkpoint_));
          const ValueId at = emit(Op::Eq, Type::scalar(Scalar::i1), {emit(Op::Rem, i64, {count, k}), constant(i64, 0.0)});
          const RegionId then = g_.add_region(), other = g_.add_region();
          cur_ = then;
          for (size_t j = 0; j + 1 < g_.regions[c].params.size(); ++j)
            emit(Op::TapePush, {}, {g_.regions[c].params[j]}, level_);
          cur_ = c;  // the cond's own code pushes nothing (quiet), so the order within it is free
          emit(Op::If, Type::tuple(), {at}, 0, {then, other});
          cur_ = saved;
        }
        RegionId b = fwd_copy_region(n.regions[1], {i64});
        if (snapshots) quiet_ = false;
        {
          const RegionId saved = cur_;
          cur_ = b;
          ValueId one = constant(i64, 1.0);
          g_.regions[b].yields.push_back(emit(Op::Add, i64, {g_.regions[b].params.back(), one}));
          cur_ = saved;
        }
        loc_ = n.loc;
        std::vector<ValueId> args = fargs(n);
        args.push_back(constant(i64, 0.0));
        fwd_[v] = emit(Op::While, n.type, std::move(args), n.imm, {c, b});
        trips_[v] = get(fwd_[v], f_.region(n.regions[0]).yields.size() - 1, i64);
        return;
      }
      case Op::Call: {
        std::vector<bool> act(n.args.size());
        for (size_t i = 0; i < n.args.size(); ++i) act[i] = act_[n.args[i]] != 0 && !quiet_;  // quiet: tape nothing
        const Sweeps s = rv_.derive(static_cast<size_t>(n.imm), act);
        fwd_[v] = emit(Op::Call, n.type, fargs(n), static_cast<int64_t>(s.fwd));
        return;
      }
      default:
        fwd_[v] = emit(n.op, n.type, fargs(n), n.imm);
        return;
    }
  }

  void fwd_parallel(ValueId v, const Node& n) {
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

  // --- the reverse sweep ------------------------------------------------------

  // The primal value of src in f_rev: popped (or a parameter), or
  // recomputed here.
  ValueId p(ValueId src) {
    if (pv_[src] != no_value && std::find(open_.begin(), open_.end(), pv_region_[src]) != open_.end())
      return pv_[src];
    if (!rematerialisable(src) && !cheap(f_.node(src)))
      throw InternalError("autodiff: reverse sweep of @" + f_.name + " reads %" + std::to_string(src) +
                          ", which it neither popped nor can recompute");
    const Node& n = f_.node(src);
    std::vector<ValueId> args;
    for (ValueId a : n.args) args.push_back(p(a));
    const std::source_location saved = loc_;
    loc_ = n.loc;
    const ValueId v = emit(n.op, n.type, std::move(args), n.imm);
    loc_ = saved;
    bind(src, v);
    return v;
  }
  void bind(ValueId src, ValueId v) {
    pv_[src] = v;
    pv_region_[src] = cur_;
  }
  // Emission into region r (of f_rev) from here until the matching leave().
  RegionId enter(RegionId r) {
    const RegionId saved = cur_;
    cur_ = r;
    open_.push_back(r);
    return saved;
  }
  void leave(RegionId saved) {
    open_.pop_back();
    cur_ = saved;
  }

  void accumulate(ValueId src, ValueId contribution) {
    if (contribution == no_value || !float_active(src)) return;
    const Type t = f_.type(src);
    adj_[src] = adj_[src] == no_value ? contribution : emit(Op::Add, t, {adj_[src], contribution});
  }
  ValueId adj_or_zero(ValueId src) { return adj_[src] != no_value ? adj_[src] : constant(f_.type(src), 0.0); }
  ValueId tuple_adj(ValueId tuple, size_t k, Type t) {
    const auto& e = tadj_[tuple];
    if (k < e.size() && e[k] != no_value) return e[k];
    return constant(t, 0.0);
  }

  // Clears the reverse state of the values region r defines.
  void clear(RegionId r) {
    for (ValueId x : f_.region(r).params) adj_[x] = no_value;
    for (ValueId x : f_.region(r).body) {
      adj_[x] = no_value;
      tadj_[x].clear();
      pv_[x] = no_value;  // a region reversed twice (a while_'s cond) pops or recomputes afresh
    }
  }

  // Reverses region r's body into the current region: segments backwards,
  // each popping its needs first.
  void rev_body(RegionId r) {
    const auto& body = f_.region(r).body;
    std::vector<std::pair<size_t, size_t>> segs;  // [begin, end) per segment
    size_t begin = 0;
    for (size_t i = 0; i < body.size(); ++i)
      if (ends_segment(f_.node(body[i])) || i + 1 == body.size()) {
        segs.emplace_back(begin, i + 1);
        begin = i + 1;
      }
    for (size_t s = segs.size(); s-- > 0;) {
      const ValueId last = body[segs[s].second - 1];
      if (trips_[last] != no_value && relevant_[last]) trips_rev_ = emit(Op::TapePop, Type::scalar(Scalar::i64), {}, level_);
      const auto& needs = seg_needs_[r][s];
      if (auto owner = slot_owner_.find(r); owner != slot_owner_.end()) {  // from this iteration's row
        Slots& sl = slots_.at(owner->second);
        for (ValueId x : needs) bind(x, slot_load(sl, sl.col.at(x), f_.type(x)));
      } else {
        for (size_t k = needs.size(); k-- > 0;) bind(needs[k], emit(Op::TapePop, f_.type(needs[k]), {}, level_));
      }
      for (size_t i = segs[s].second; i-- > segs[s].first;) rev_node(body[i]);
    }
  }
  ValueId trips_rev_ = no_value;

  // Emits the reverse of region r (cleared first), given the adjoints of its
  // yields, into the current region; returns the adjoints of its params.
  std::vector<ValueId> rev_region(RegionId r, const std::vector<ValueId>& yield_adjs, size_t first_yield = 0) {
    clear(r);
    const auto& ys = f_.region(r).yields;
    for (size_t k = first_yield; k < ys.size(); ++k) accumulate(ys[k], yield_adjs[k - first_yield]);
    rev_body(r);
    std::vector<ValueId> out;
    for (ValueId p : f_.region(r).params) out.push_back(adj_[p]);
    return out;
  }

  void rev_node(ValueId v) {
    if (!relevant_[v]) return;
    const Node& n = f_.node(v);
    loc_ = n.loc;
    switch (n.op) {
      case Op::If: return rev_if(v, n);
      case Op::For: return rev_for(v, n);
      case Op::ParallelFor: return slots_.count(v) ? rev_parallel(v, n) : rev_for(v, n);
      case Op::While: return checkpointed(v) ? rev_while_checkpointed(v, n) : rev_while(v, n);
      case Op::Call: return rev_call(v, n);
      case Op::Get: {
        if (adj_[v] == no_value) return;
        auto& e = tadj_[n.args[0]];
        const size_t k = static_cast<size_t>(n.imm);
        if (e.size() <= k) e.resize(k + 1, no_value);
        e[k] = e[k] == no_value ? adj_[v] : emit(Op::Add, n.type, {e[k], adj_[v]});
        return;
      }
      case Op::Load: {
        if (adj_[v] == no_value) return;
        if (record_ && record_->rec_col.count(v)) {  // added up after the parallel loop
          const auto [val, idx] = record_->rec_col.at(v);
          slot_store(*record_, idx, p(n.args[1]));
          slot_store(*record_, val, adj_[v]);
          return;
        }
        const ValueId buf = adjoint_buffer(n.args[0]), i = p(n.args[1]);
        const ValueId old = emit(Op::Load, n.type, {buf, i});
        emit(Op::Store, {}, {buf, i, emit(Op::Add, n.type, {old, adj_[v]})});
        return;
      }
      case Op::Store: {
        const ValueId buf = adjoint_buffer(n.args[0]), i = p(n.args[1]);
        const Type t = f_.type(n.args[2]);
        const ValueId g = emit(Op::Load, t, {buf, i});
        emit(Op::Store, {}, {buf, i, constant(t, 0.0)});
        accumulate(n.args[2], g);
        return;
      }
      case Op::TapePush: {  // the adjoint of the popped value comes back on the same tape
        const ValueId g = emit(Op::TapePop, f_.type(n.args[0]), {}, n.imm);
        accumulate(n.args[0], g);
        return;
      }
      case Op::TapePop:
        emit(Op::TapePush, {}, {adj_or_zero(v)}, n.imm);
        return;
      default:
        if (adj_[v] != no_value) rule(v, n, adj_[v]);
        return;
    }
  }

  ValueId adjoint_buffer(ValueId buf) const {
    if (adjbuf_[buf] == no_value)
      throw InternalError("autodiff: buffer %" + std::to_string(buf) + " of @" + f_.name + " has no adjoint buffer");
    return adjbuf_[buf];
  }

  // The derivative rules: adds g * d(op)/d(arg) to each active argument's
  // adjoint. One case per op with a float result; docs/autodiff.md lists them.
  void rule(ValueId v, const Node& n, ValueId g) {
    const Type ty = n.type;
    auto a = [&] { return p(n.args[0]); };
    auto b = [&] { return p(n.args[1]); };
    auto on = [&](size_t i) { return float_active(n.args[i]); };
    auto mul = [&](ValueId x, ValueId y) { return emit(Op::Mul, ty, {x, y}); };
    auto div = [&](ValueId x, ValueId y) { return emit(Op::Div, ty, {x, y}); };
    auto neg = [&](ValueId x) { return emit(Op::Neg, ty, {x}); };
    auto cmp = [&](Op op, ValueId x, ValueId y) { return emit(op, Type::scalar(Scalar::i1), {x, y}); };
    auto select = [&](ValueId c, ValueId x, ValueId y) { return emit(Op::Select, ty, {c, x, y}); };
    auto zero = [&] { return constant(ty, 0.0); };
    switch (n.op) {
      case Op::Const:
      case Op::Floor:  // piecewise constant: zero (also at the jumps)
        return;
      case Op::Neg:
        return accumulate(n.args[0], neg(g));
      case Op::Abs: {  // sign(a) g: zero at a == 0
        const ValueId x = a(), z = zero();
        return accumulate(n.args[0], select(cmp(Op::Gt, x, z), g, select(cmp(Op::Lt, x, z), neg(g), z)));
      }
      case Op::Sqrt:  // g / (2 y)
        return accumulate(n.args[0], div(g, mul(p(v), constant(ty, 2.0))));
      case Op::Exp:
        return accumulate(n.args[0], mul(g, p(v)));
      case Op::Log:
        return accumulate(n.args[0], div(g, a()));
      case Op::Sin:
        return accumulate(n.args[0], mul(g, emit(Op::Cos, ty, {a()})));
      case Op::Cos:
        return accumulate(n.args[0], neg(mul(g, emit(Op::Sin, ty, {a()}))));
      case Op::Tanh: {  // g (1 - y^2)
        const ValueId y = p(v);
        return accumulate(n.args[0], mul(g, emit(Op::Sub, ty, {constant(ty, 1.0), mul(y, y)})));
      }
      case Op::Cast:  // float -> float converts the adjoint back
        if (on(0)) accumulate(n.args[0], emit(Op::Cast, f_.type(n.args[0]), {g}));
        return;
      case Op::Add:
        accumulate(n.args[0], g);
        return accumulate(n.args[1], g);
      case Op::Sub:
        accumulate(n.args[0], g);
        if (on(1)) accumulate(n.args[1], neg(g));
        return;
      case Op::Mul:
        if (on(0)) accumulate(n.args[0], mul(g, b()));
        if (on(1)) accumulate(n.args[1], mul(g, a()));
        return;
      case Op::Div: {  // d/da = 1/b, d/db = -y/b
        const ValueId gb = div(g, b());
        accumulate(n.args[0], gb);
        if (on(1)) accumulate(n.args[1], neg(mul(gb, p(v))));
        return;
      }
      case Op::Rem: {  // a - trunc(a / b) b: d/da = 1, d/db = -trunc(a / b)
        accumulate(n.args[0], g);
        if (!on(1)) return;
        const ValueId q = div(a(), b()), z = zero();
        const ValueId down = emit(Op::Floor, ty, {q});
        const ValueId up = neg(emit(Op::Floor, ty, {neg(q)}));
        return accumulate(n.args[1], neg(mul(g, select(cmp(Op::Lt, q, z), up, down))));
      }
      case Op::Min: case Op::Max: {  // min: b < a ? b : a; max: a < b ? b : a (a tie goes to a)
        const ValueId second = n.op == Op::Min ? cmp(Op::Lt, b(), a()) : cmp(Op::Lt, a(), b());
        const ValueId z = zero();
        if (on(0)) accumulate(n.args[0], select(second, z, g));
        if (on(1)) accumulate(n.args[1], select(second, g, z));
        return;
      }
      case Op::Pow: {  // d/da = b a^(b-1) (0 where b == 0), d/db = y log a (0 where a == 0)
        const ValueId z = zero();
        if (on(0)) {
          const ValueId d = mul(b(), emit(Op::Pow, ty, {a(), emit(Op::Sub, ty, {b(), constant(ty, 1.0)})}));
          accumulate(n.args[0], mul(g, select(cmp(Op::Eq, b(), z), z, d)));
        }
        if (on(1)) {
          const ValueId d = mul(p(v), emit(Op::Log, ty, {a()}));
          accumulate(n.args[1], mul(g, select(cmp(Op::Eq, a(), z), z, d)));
        }
        return;
      }
      case Op::Fma:  // a b + c
        if (on(0)) accumulate(n.args[0], mul(g, b()));
        if (on(1)) accumulate(n.args[1], mul(g, a()));
        return accumulate(n.args[2], g);
      case Op::Select: {
        const ValueId c = p(n.args[0]), z = zero();
        if (on(1)) accumulate(n.args[1], select(c, g, z));
        if (on(2)) accumulate(n.args[2], select(c, z, g));
        return;
      }
      default:
        throw InternalError("autodiff: no reverse rule for '" + std::string(info(n.op).spelling) + "'");
    }
  }

  // Free adjoints: the current adjoints of the outside values a structured
  // node's regions use (zeros where none), to carry in; and back.
  std::vector<ValueId> free_adjs(ValueId s) {
    std::vector<ValueId> out;
    for (ValueId x : free_act_[s]) out.push_back(adj_or_zero(x));
    return out;
  }

  void rev_if(ValueId v, const Node& n) {
    const auto& fr = free_act_[v];
    const std::vector<Type> types = tuple_types(m_, f_, n);
    std::vector<ValueId> result_adjs;
    for (size_t k = 0; k < types.size(); ++k)
      result_adjs.push_back(types[k].is_float() ? tuple_adj(v, k, types[k]) : no_value);
    const std::vector<ValueId> outer = free_adjs(v);
    const ValueId c = p(n.args[0]);
    RegionId branches[2];
    for (int k = 0; k < 2; ++k) {
      branches[k] = g_.add_region();
      const RegionId saved = enter(branches[k]);
      for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = outer[j];
      rev_region(n.regions[k], result_adjs);
      g_.regions[branches[k]].yields = free_adjs(v);
      leave(saved);
    }
    loc_ = n.loc;
    const ValueId r = emit(Op::If, Type::tuple(), {c}, 0, {branches[0], branches[1]});
    for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, j, f_.type(fr[j]));
  }

  void rev_for(ValueId v, const Node& n) {
    const auto& fr = free_act_[v];
    const Region& body = f_.region(n.regions[0]);
    const size_t nc = n.args.size() - 3;
    std::vector<ValueId> inits = {p(n.args[0]), p(n.args[1]), p(n.args[2])};
    std::vector<size_t> carried;  // float carried slots
    for (size_t j = 0; j < nc; ++j)
      if (f_.type(n.args[3 + j]).is_float()) {
        carried.push_back(j);
        inits.push_back(tuple_adj(v, j, f_.type(n.args[3 + j])));
      }
    for (ValueId x : free_adjs(v)) inits.push_back(x);
    // With step 1 the reverse loop runs j over the same range and the body
    // sees index lo + hi - 1 - j (wrapping arithmetic is exact here), so the
    // index need not be pushed.
    const Type it = f_.type(n.args[0]);
    const bool unit = unit_index(body.params[0]);
    const ValueId last = unit ? emit(Op::Sub, it, {emit(Op::Add, it, {inits[0], inits[1]}), constant(it, 1.0)}) : no_value;
    const RegionId rb = g_.add_region();
    const ValueId j = param(rb, it);
    std::vector<ValueId> yield_adjs(nc, no_value);
    for (size_t k : carried) yield_adjs[k] = param(rb, f_.type(n.args[3 + k]));
    std::vector<ValueId> acc;
    for (ValueId x : fr) acc.push_back(param(rb, f_.type(x)));
    {
      const RegionId saved = enter(rb);
      if (unit) bind(body.params[0], emit(Op::Sub, it, {last, j}));
      for (size_t k = 0; k < fr.size(); ++k) adj_[fr[k]] = acc[k];
      std::vector<ValueId> pa = rev_region(n.regions[0], yield_adjs);
      std::vector<ValueId> ys;
      for (size_t k : carried) ys.push_back(pa[k + 1] != no_value ? pa[k + 1] : constant(f_.type(body.params[k + 1]), 0.0));
      for (ValueId x : free_adjs(v)) ys.push_back(x);
      g_.regions[rb].yields = std::move(ys);
      leave(saved);
    }
    loc_ = n.loc;
    const ValueId r = emit(Op::For, Type::tuple(), std::move(inits), 0, {rb});
    // Outside values first: an init may also be used inside the loop.
    for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, carried.size() + j, f_.type(fr[j]));
    for (size_t k = 0; k < carried.size(); ++k)
      accumulate(n.args[3 + carried[k]], get(r, k, f_.type(n.args[3 + carried[k]])));
  }

  ValueId zero_or(ValueId x, Type t) { return x != no_value ? x : constant(t, 0.0); }

  // A loop of `count` iterations of a while_'s (body, cond) reverse. It
  // carries the adjoints of the float carried values (starting at `adjs`)
  // and of the outside values the loop reads (starting at `outer`); the
  // result holds them in that order.
  ValueId reverse_iterations(ValueId v, const Node& n, ValueId count, const std::vector<size_t>& carried,
                             const std::vector<ValueId>& adjs, const std::vector<ValueId>& outer) {
    const auto& fr = free_act_[v];
    const size_t nres = f_.region(n.regions[0]).yields.size() - 1;
    const Type i64 = Type::scalar(Scalar::i64);
    std::vector<ValueId> inits = {constant(i64, 0.0), count, constant(i64, 1.0)};
    inits.insert(inits.end(), adjs.begin(), adjs.end());
    inits.insert(inits.end(), outer.begin(), outer.end());
    const RegionId rb = g_.add_region();
    param(rb, i64);
    std::vector<ValueId> body_adjs(n.args.size(), no_value);
    for (size_t j : carried) body_adjs[j] = param(rb, f_.type(n.args[j]));
    std::vector<ValueId> acc;
    for (ValueId x : fr) acc.push_back(param(rb, f_.type(x)));
    const RegionId saved = enter(rb);
    for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = acc[j];
    std::vector<ValueId> va = rev_region(n.regions[1], body_adjs);
    std::vector<ValueId> cond_adjs(va.begin(), va.begin() + static_cast<std::ptrdiff_t>(nres));
    std::vector<ValueId> c2 = rev_region(n.regions[0], cond_adjs, 1);
    std::vector<ValueId> ys;
    for (size_t j : carried) ys.push_back(zero_or(c2[j], f_.type(n.args[j])));
    for (ValueId x : free_adjs(v)) ys.push_back(x);
    g_.regions[rb].yields = std::move(ys);
    leave(saved);
    loc_ = n.loc;
    return emit(Op::For, Type::tuple(), std::move(inits), 0, {rb});
  }

  std::vector<size_t> float_slots(const Node& n) const {
    std::vector<size_t> out;
    for (size_t j = 0; j < n.args.size(); ++j)
      if (f_.type(n.args[j]).is_float()) out.push_back(j);
    return out;
  }

  // The results' adjoints of a while_, by forwarded value of its cond region.
  std::vector<ValueId> while_result_adjs(ValueId v, const Node& n) {
    const Region& cond = f_.region(n.regions[0]);
    std::vector<ValueId> out;
    for (size_t k = 0; k + 1 < cond.yields.size(); ++k) {
      const Type t = f_.type(cond.yields[k + 1]);
      out.push_back(t.is_float() ? tuple_adj(v, k, t) : no_value);
    }
    return out;
  }

  void rev_while(ValueId v, const Node& n) {
    const auto& fr = free_act_[v];
    // The last evaluation of cond, which ended the loop; then trips x (body, cond) backwards.
    std::vector<ValueId> ca = rev_region(n.regions[0], while_result_adjs(v, n), 1);
    const std::vector<size_t> carried = float_slots(n);
    std::vector<ValueId> adjs;
    for (size_t j : carried) adjs.push_back(zero_or(ca[j], f_.type(n.args[j])));
    const ValueId r = reverse_iterations(v, n, trips_rev_, carried, adjs, free_adjs(v));
    for (size_t j = 0; j < fr.size(); ++j) adj_[fr[j]] = get(r, carried.size() + j, f_.type(fr[j]));
    for (size_t k = 0; k < carried.size(); ++k) accumulate(n.args[carried[k]], get(r, k, f_.type(n.args[carried[k]])));
  }

  // Emits region r's forward sweep (taping) into the current region with its
  // parameters bound to `params`; returns its yields.
  std::vector<ValueId> replay(RegionId r, const std::vector<ValueId>& params) {
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
  void rev_while_checkpointed(ValueId v, const Node& n) {
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

  Slots* record_ = nullptr;  // the parallel_for whose reverse body is being emitted

  void rev_parallel(ValueId v, const Node& n) {
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

  void rev_call(ValueId v, const Node& n) {
    const size_t callee = static_cast<size_t>(n.imm);
    std::vector<bool> act(n.args.size());
    for (size_t i = 0; i < n.args.size(); ++i) act[i] = act_[n.args[i]] != 0;
    const Sweeps s = rv_.derive(callee, act);
    const Function& cf = m_.functions[callee];
    std::vector<ValueId> args;
    for (ValueId a : n.args) args.push_back(p(a));
    for (size_t k = 0; k < cf.result_types.size(); ++k)
      if (cf.result_types[k].is_float()) args.push_back(tuple_adj(v, k, cf.result_types[k]));
    for (size_t i = 0; i < n.args.size(); ++i)
      if (act[i] && f_.type(n.args[i]).kind == TypeKind::buf) args.push_back(adjoint_buffer(n.args[i]));
    loc_ = n.loc;
    const ValueId r = emit(Op::Call, Type::tuple(), std::move(args), static_cast<int64_t>(s.rev));
    size_t k = 0;
    for (size_t i = 0; i < n.args.size(); ++i)
      if (act[i] && f_.type(n.args[i]).is_float()) accumulate(n.args[i], get(r, k++, f_.type(n.args[i])));
  }
};

Function Sweep::forward(std::string name) {
  g_ = Function{};
  g_.name = std::move(name);
  g_.body = g_.add_region();
  for (ValueId p : f_.params()) fwd_[p] = param(g_.body, f_.type(p));
  g_.param_names = f_.param_names;
  fwd_region(f_.body, g_.body);
  for (ValueId y : f_.region(f_.body).yields) g_.regions[g_.body].yields.push_back(fv(y));
  g_.result_types = f_.result_types;
  return std::move(g_);
}

Function Sweep::reverse(std::string name) {
  g_ = Function{};
  g_.name = std::move(name);
  g_.body = g_.add_region();
  cur_ = g_.body;
  const auto& ps = f_.params();
  open_.assign(1, g_.body);
  for (ValueId p : ps) bind(p, param(g_.body, f_.type(p)));
  std::vector<ValueId> cot;
  for (Type t : f_.result_types)
    if (t.is_float()) cot.push_back(param(g_.body, t));
  for (size_t i = 0; i < ps.size(); ++i)
    if (act(ps[i]) && f_.type(ps[i]).kind == TypeKind::buf)
      adjbuf_[ps[i]] = param(g_.body, Type::buf(f_.type(ps[i]).elem, true));
  if (!f_.param_names.empty()) {
    g_.param_names = f_.param_names;
    for (size_t k = 0; k < cot.size(); ++k) g_.param_names.push_back("ct" + std::to_string(k));
    for (size_t i = 0; i < ps.size(); ++i)
      if (adjbuf_[ps[i]] != no_value) g_.param_names.push_back("grad_" + f_.param_names[i]);
  }
  const auto& ys = f_.region(f_.body).yields;
  std::vector<ValueId> yield_adjs;
  size_t k = 0;
  for (ValueId y : ys) yield_adjs.push_back(f_.type(y).is_float() ? cot[k++] : no_value);
  std::vector<ValueId> pa = rev_region(f_.body, yield_adjs);
  for (size_t i = 0; i < ps.size(); ++i)
    if (act(ps[i]) && f_.type(ps[i]).is_float()) {
      g_.regions[g_.body].yields.push_back(pa[i] != no_value ? pa[i] : constant(f_.type(ps[i]), 0.0));
      g_.result_types.push_back(f_.type(ps[i]));
    }
  return std::move(g_);
}

Function custom_reverse(const Function& f, const std::vector<bool>& active, size_t rule, std::string name);

Sweeps Reverse::derive(size_t fn, std::vector<bool> active) {
  const Function& f = m_.functions[fn];
  for (size_t i = 0; i < active.size(); ++i) {
    const Type t = f.type(f.params()[i]);
    active[i] = (active[i] && (t.is_float() || is_float_buffer(t))) || (is_float_buffer(t) && t.writable);
  }
  auto key = std::make_pair(fn, active);
  if (auto it = done_.find(key); it != done_.end()) return it->second;
  Sweeps s{out_.functions.size(), out_.functions.size() + 1};
  done_.emplace(key, s);
  out_.functions.resize(out_.functions.size() + 2);  // filled below; recursive calls find the indices
  const int variant = variants_[fn]++;
  const std::string suffix = variant ? std::to_string(variant + 1) : "";
  Function fwd, rev;
  if (f.custom_vjp >= 0) {
    // The rule replaces the reverse sweep: the forward sweep is f itself.
    const std::vector<bool> none(active.size(), false);
    fwd = Sweep(*this, m_, f, none, level_).forward(f.name + "_fwd" + suffix);
    const size_t rule = derive(static_cast<size_t>(f.custom_vjp), std::vector<bool>(
                                   m_.functions[static_cast<size_t>(f.custom_vjp)].params().size(), false)).fwd;
    rev = custom_reverse(f, active, rule, f.name + "_rev" + suffix);
  } else {
    Sweep sweep(*this, m_, f, active, level_);
    fwd = sweep.forward(f.name + "_fwd" + suffix);
    rev = sweep.reverse(f.name + "_rev" + suffix);
  }
  out_.functions[s.fwd] = std::move(fwd);
  out_.functions[s.rev] = std::move(rev);
  return s;
}

// f_rev of a function with a custom rule: (params, cotangents) -> the
// rule's gradients of the active float parameters.
Function custom_reverse(const Function& f, const std::vector<bool>& active, size_t rule, std::string name) {
  Function g;
  g.name = std::move(name);
  g.body = g.add_region();
  std::vector<ValueId> args;
  auto param = [&](Type t) {
    ValueId p = g.add(Op::Param, t, {}, static_cast<int64_t>(g.regions[g.body].params.size()));
    g.regions[g.body].params.push_back(p);
    return p;
  };
  for (ValueId p : f.params()) args.push_back(param(f.type(p)));
  for (Type t : f.result_types)
    if (t.is_float()) args.push_back(param(t));
  const ValueId r = g.add(Op::Call, Type::tuple(), std::move(args), static_cast<int64_t>(rule));
  g.regions[g.body].body.push_back(r);
  size_t k = 0;
  for (size_t i = 0; i < f.params().size(); ++i) {
    const Type t = f.type(f.params()[i]);
    if (!t.is_float()) continue;
    const ValueId gi = g.add(Op::Get, t, {r}, static_cast<int64_t>(k++));
    g.regions[g.body].body.push_back(gi);
    if (!active[i]) continue;
    g.regions[g.body].yields.push_back(gi);
    g.result_types.push_back(t);
  }
  return g;
}

// One above the highest tape level m uses.
int64_t next_level(const Module& m) {
  int64_t level = 0;
  for (const Function& f : m.functions)
    walk(f, [&](ValueId v) {
      const Node& n = f.node(v);
      if (n.op == Op::TapePush || n.op == Op::TapePop) level = std::max(level, n.imm + 1);
    });
  if (level >= tape_levels)
    throw StagingError("reverse mode nested " + std::to_string(tape_levels) +
                       " deep: kiln has that many tapes; differentiate in forward mode (jvp) instead");
  return level;
}

// The entry: zero the adjoint buffers, run the forward sweep, seed, run the
// reverse sweep.
Function entry(const Module& m, const Module& out, Sweeps s, const std::vector<bool>& active, ReverseMode mode) {
  const Function& f = m.functions[0];
  const Function& rev = out.functions[s.rev];
  Function g;
  const char* suffix = mode == ReverseMode::vjp ? "_vjp" : mode == ReverseMode::grad ? "_grad" : "_value_and_grad";
  g.name = f.name + suffix;
  g.body = g.add_region();
  auto add = [&](Op op, Type t, std::vector<ValueId> args, int64_t imm = 0, std::vector<RegionId> regions = {},
                 RegionId into = UINT32_MAX) {
    ValueId v = g.add(op, t, std::move(args), imm, {}, std::move(regions));
    g.regions[into == UINT32_MAX ? g.body : into].body.push_back(v);
    return v;
  };
  auto param = [&](Type t) {
    ValueId p = g.add(Op::Param, t, {}, static_cast<int64_t>(g.regions[g.body].params.size()));
    g.regions[g.body].params.push_back(p);
    return p;
  };
  const auto& ps = f.params();
  std::vector<ValueId> params;
  for (ValueId p : ps) params.push_back(param(f.type(p)));
  std::vector<ValueId> cot;
  if (mode == ReverseMode::vjp)
    for (Type t : f.result_types)
      if (t.is_float()) cot.push_back(param(t));
  std::vector<ValueId> adjbufs;
  for (size_t i = 0; i < ps.size(); ++i)
    if (active[i] && f.type(ps[i]).kind == TypeKind::buf) {
      const ValueId b = param(Type::buf(f.type(ps[i]).elem, true));
      adjbufs.push_back(b);
      if (mode != ReverseMode::vjp || !f.type(ps[i]).writable) {  // overwritten, not accumulated into
        const Type i64 = Type::scalar(Scalar::i64);
        const RegionId body = g.add_region();
        const ValueId idx = g.add(Op::Param, i64, {}, 0);
        g.regions[body].params.push_back(idx);
        const ValueId z = add(Op::Const, Type::scalar(f.type(ps[i]).elem), {}, encode_const(f.type(ps[i]).elem, 0.0),
                              {}, body);
        add(Op::Store, {}, {b, idx, z}, 0, {}, body);
        const ValueId lo = add(Op::Const, i64, {}, 0), step = add(Op::Const, i64, {}, 1);
        const ValueId hi = add(Op::Size, i64, {b});
        add(Op::For, Type::tuple(), {lo, hi, step}, 0, {body});
      }
    }
  if (!f.param_names.empty()) {
    g.param_names = f.param_names;
    for (size_t k = 0; k < cot.size(); ++k) g.param_names.push_back("ct" + std::to_string(k));
    for (size_t i = 0; i < ps.size(); ++i)
      if (active[i] && f.type(ps[i]).kind == TypeKind::buf) g.param_names.push_back("grad_" + f.param_names[i]);
  }
  const ValueId r = add(Op::Call, Type::tuple(), params, static_cast<int64_t>(s.fwd));
  if (mode != ReverseMode::vjp) {
    const Type t = f.result_types[0];
    cot.push_back(add(Op::Const, t, {}, encode_const(t.elem, 1.0)));
  }
  std::vector<ValueId> args = params;
  for (ValueId c : cot) args.push_back(c);
  for (ValueId b : adjbufs) args.push_back(b);
  const ValueId d = add(Op::Call, Type::tuple(), std::move(args), static_cast<int64_t>(s.rev));
  if (mode == ReverseMode::value_and_grad) {
    g.regions[g.body].yields.push_back(add(Op::Get, f.result_types[0], {r}, 0));
    g.result_types.push_back(f.result_types[0]);
  }
  for (size_t k = 0; k < rev.result_types.size(); ++k) {
    g.regions[g.body].yields.push_back(add(Op::Get, rev.result_types[k], {d}, static_cast<int64_t>(k)));
    g.result_types.push_back(rev.result_types[k]);
  }
  return g;
}

}  // namespace

Module reverse(const Module& m, const std::vector<size_t>& wrt, ReverseMode mode, int64_t checkpoint_every,
               bool parallel) {
  const Function& f = m.functions.at(0);
  std::vector<bool> active = jvp_active(f, wrt);
  if (mode != ReverseMode::vjp && (f.result_types.size() != 1 || !f.result_types[0].is_float()))
    throw StagingError("grad: @" + f.name + " must return one floating-point value to have a gradient");
  Reverse rv(m, next_level(m), checkpoint_every, parallel);
  rv.out().functions.emplace_back();  // the entry, made last
  const Sweeps s = rv.derive(0, active);
  Module out = std::move(rv.out());
  const auto& ps = f.params();
  for (size_t i = 0; i < ps.size(); ++i) {
    const Type t = f.type(ps[i]);
    active[i] = (active[i] && (t.is_float() || is_float_buffer(t))) || (is_float_buffer(t) && t.writable);
  }
  out.functions[0] = entry(m, out, s, active, mode);
  return out;
}

}  // namespace kiln::autodiff

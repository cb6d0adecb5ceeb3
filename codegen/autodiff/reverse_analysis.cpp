// Reverse mode, the analysis a Sweep runs before it emits anything: which
// values are active (depend on the active parameters), which nodes have
// reverse work, and what the reverse of each segment of each region needs
// from the tape (what f_rev can recompute is never taped).
#include "sweep.h"

#include <kiln/error.h>

#include <algorithm>
#include <vector>

namespace kiln::autodiff::rev {

Sweep::Sweep(Reverse& rv, const Module& m, const Function& f, const std::vector<bool>& active, int64_t level)
    : rv_(rv), m_(m), f_(f), active_(active), level_(level), n_(f.nodes.size()), act_(n_, 0), tact_(n_),
      relevant_(n_, 0), def_(n_, no_region), owner_(f.regions.size(), no_value), parent_(f.regions.size(), no_region),
      seg_needs_(f.regions.size()), fwd_(n_, no_value), pv_(n_, no_value), adj_(n_, no_value), tadj_(n_),
      adjbuf_(n_, no_value), trips_(n_, no_value) {
  remat_.assign(n_, 0);
  pv_region_.assign(n_, 0);
  reload_ = true;
  for (const Function& fn : m.functions)
    for (const Node& x : fn.nodes) reload_ = reload_ && !writes_state(x.op);
  if (!reload_ && &f == &m.functions[0]) find_rereads();
  analyse();
}

bool Sweep::within(RegionId r, RegionId ancestor) const {
  for (; r != no_region; r = parent_[r])
    if (r == ancestor) return true;
  return false;
}

// Whether v is defined inside one of node s's regions (at any depth).
bool Sweep::inside(ValueId v, ValueId s) const {
  for (RegionId r : f_.node(s).regions)
    if (within(def_[v], r)) return true;
  return false;
}

void Sweep::index_region(RegionId r) {
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

bool Sweep::set(std::vector<char>& x, size_t i, bool on) {
  if (!on || x[i]) return false;
  x[i] = 1;
  return true;
}

// One pass of the forward activity propagation; true when anything changed.
bool Sweep::propagate(RegionId r) {
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
      case Op::Const: case Op::Param: case Op::Size: case Op::Disjoint: case Op::Store: case Op::TapePush:
      case Op::VarLoad: case Op::VarStore: case Op::ParallelFor:
        break;
      case Op::TapePop:
        changed = set(act_, v, n.type.is_float_elementwise()) || changed;
        break;
      case Op::Load:
        changed = set(act_, v, n.type.is_float_elementwise() && act(n.args[0])) || changed;
        break;
      case Op::Get: {
        const auto& t = tact_[n.args[0]];
        const size_t k = static_cast<size_t>(n.imm);
        changed = set(act_, v, n.type.is_float_elementwise() && k < t.size() && t[k]) || changed;
        break;
      }
      case Op::Call: {
        const auto& types = m_.functions[static_cast<size_t>(n.imm)].result_types;
        auto& e = elems(types.size());
        const bool any = any_arg();
        for (size_t k = 0; k < types.size(); ++k) changed = set(e, k, any && types[k].is_float_elementwise()) || changed;
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
        changed = set(act_, v, n.type.is_float_elementwise() && float_active(n.args[0])) || changed;
        break;
      case Op::Select:
        changed = set(act_, v, n.type.is_float_elementwise() && any_arg(1)) || changed;
        break;
      default:  // arithmetic and math
        changed = set(act_, v, n.type.is_float_elementwise() && any_arg()) || changed;
        break;
    }
  }
  return changed;
}

// Marks nodes with reverse work; true when region r has any.
bool Sweep::mark_relevant(RegionId r) {
  bool any = false;
  for (ValueId v : f_.region(r).body) {
    const Node& n = f_.node(v);
    bool rel = false;
    for (RegionId c : n.regions) rel = mark_relevant(c) || rel;
    for (char e : tact_[v]) rel = rel || e;  // adjoints pass through, even with nothing inside
    switch (n.op) {
      case Op::Load:
      case Op::Store:
      case Op::TensorLoad:
        rel = rel || act(n.args[0]);
        break;
      case Op::TensorStore:
        rel = rel || act(n.args[1]);
        break;
      case Op::Call:
        for (ValueId a : n.args) rel = rel || act(a);
        break;
      case Op::TapePush:
        rel = f_.type(n.args[0]).is_float_elementwise();
        break;
      case Op::TapePop:
        rel = n.type.is_float_elementwise();
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
std::vector<ValueId> Sweep::node_needs(ValueId v) const {
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
    case Op::Load: case Op::Store: case Op::TensorLoad:
      return {a(1)};
    case Op::TensorStore:
      return {a(2)};
    case Op::Matmul:
      if (on(0) && on(1)) return {a(0), a(1)};
      return {on(0) ? a(1) : a(0)};
    case Op::ReduceMax:
      return {a(0), v};
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
bool Sweep::rematerialisable(ValueId v) const {
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
    case Op::Load: {
      const ValueId b = n.args[0];
      const bool reread = !reload_ && !reread_ok_.empty() && reread_ok_[b];
      yes = (reload_ || reread) && rematerialisable(n.args[1]);
      if (yes && reread && !reread_noted_[b]) {
        reread_noted_[b] = 1;
        const auto ps = f_.params();
        const size_t read = static_cast<size_t>(std::find(ps.begin(), ps.end(), b) - ps.begin());
        for (size_t w : written_params_) rv_.rereads_.push_back({read, w, n.loc});
      }
      break;
    }
    default:
      yes = info(n.op).effect == Effect::pure && n.op != Op::Get && n.type.is_scalar();
      for (ValueId a : n.args) yes = yes && rematerialisable(a);
      break;
  }
  remat_[v] = yes ? 1 : 2;
  return yes;
}

// Loads the reverse sweep may redo although the program writes memory: for
// the entry function only (its parameters are the caller's arguments, so
// the entry can check them), when it is not called recursively (a call
// would bind other buffers to them), from a buffer parameter it never
// writes. Another written buffer overlapping that parameter would change
// what a load reads between the two sweeps: the entry checks every
// (read, written) pair it relied on (Reverse::rereads_). f writes a buffer
// by a store to it or by passing it to a function that writes memory;
// writes to fresh buffers (alloc, tape) do not count; a write to any other
// buffer value makes every load taped.
void Sweep::find_rereads() {
  const std::vector<ValueId> ps = f_.params();
  std::vector<int> position(n_, -1);
  for (size_t i = 0; i < ps.size(); ++i)
    if (f_.type(ps[i]).kind == TypeKind::buf) position[ps[i]] = static_cast<int>(i);
  std::vector<char> written(ps.size(), 0);
  bool unknown = false;
  auto writes_to = [&](ValueId b) {
    if (position[b] >= 0) {
      written[static_cast<size_t>(position[b])] = 1;
      return;
    }
    const Op op = f_.node(b).op;
    unknown = unknown || !(op == Op::Alloc || op == Op::TapeReserve || op == Op::TapeRelease);
  };
  walk(f_, [&](ValueId v) {
    const Node& n = f_.node(v);
    switch (n.op) {
      case Op::Store: case Op::TensorStore: writes_to(n.args[0]); break;
      case Op::Call:
        if (n.imm == 0) unknown = true;  // recursive: the sweeps serve other arguments too
        if (rv_.writes_[static_cast<size_t>(n.imm)])
          for (ValueId a : n.args)
            if (f_.type(a).kind == TypeKind::buf) writes_to(a);
        break;
      case Op::Gemm: unknown = true; break;
      default: break;
    }
  });
  if (unknown) return;
  reread_ok_.assign(n_, 0);
  reread_noted_.assign(n_, 0);
  for (size_t i = 0; i < ps.size(); ++i) {
    if (position[ps[i]] < 0) continue;
    if (written[i]) written_params_.push_back(i);
    else reread_ok_[ps[i]] = 1;
  }
}

// The index of a for / parallel_for with constant step 1.
bool Sweep::unit_index(ValueId v) const {
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
bool Sweep::cheap(const Node& n) {
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
void Sweep::narrow(RegionId r, std::vector<ValueId>& seg) const {
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

// Fills seg_needs_[r]; returns what r's subtree needs from outside r.
std::vector<ValueId> Sweep::analyse_needs(RegionId r) {
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

void Sweep::collect_free(ValueId s, RegionId r, std::vector<ValueId>& out) const {
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

void Sweep::analyse() {
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
      // Their adjoints would be carried through the reversed branch or loop,
      // and tensors cannot be carried yet (codegen/lower).
      for (ValueId x : fr)
        if (f_.type(x).is_tensor()) {
          const Node& s = f_.node(v);
          throw StagingError("reverse mode of @" + f_.name + ": a tensor made outside a staged " +
                             std::string(info(s.op).spelling) + " and used inside it" +
                             (s.loc.line() ? std::string(" (") + s.loc.file_name() + ":" + std::to_string(s.loc.line()) + ")" : "") +
                             " is not differentiable yet; make the tensor inside the body, or store it into an Arr "
                             "before the " + std::string(info(s.op).spelling) + " and read it back inside");
        }
      free_act_[v] = std::move(fr);
    }
  });
  walk(f_, [&](ValueId v) {
    if (f_.node(v).op == Op::ParallelFor) plan_parallel(v);
  });
}

}  // namespace kiln::autodiff::rev

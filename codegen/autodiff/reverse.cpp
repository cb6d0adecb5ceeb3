// Reverse mode: the driver that derives each function of the call graph
// once per pattern of active parameters (Reverse; the design is described
// atop sweep.h), and the entry that runs the sweeps.
#include "reverse.h"

#include "forward.h"
#include "sweep.h"

#include <kiln/error.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace kiln::autodiff::rev {
namespace {

// f_rev of a function with a custom rule: (params, cotangents) -> the
// rule's gradients of the active float parameters.
Function custom_reverse(const Function& f, const std::vector<bool>& active, size_t rule, std::string name) {
  Function g;
  g.name = std::move(name);
  g.body = g.add_region();
  std::vector<ValueId> args;
  for (ValueId p : f.params()) args.push_back(add_param(g, g.body, f.type(p)));
  for (Type t : f.result_types)
    if (t.is_float()) args.push_back(add_param(g, g.body, t));
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

}  // namespace

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

}  // namespace kiln::autodiff::rev

namespace kiln::autodiff {
namespace {

using namespace rev;

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

// The entry: run the forward sweep, zero the adjoint buffers, seed, run the
// reverse sweep.
Function entry(const Module& m, const Module& out, Sweeps s, const std::vector<bool>& active, ReverseMode mode,
               const std::vector<Reverse::Reread>& rereads) {
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
  const auto& ps = f.params();
  std::vector<ValueId> params;
  for (ValueId p : ps) params.push_back(add_param(g, g.body, f.type(p)));
  // The overlaps the reverse sweep's redone loads rely on not happening
  // (Reverse::rereads_), checked before anything runs.
  const char* who = mode == ReverseMode::vjp ? "kiln::vjp" : mode == ReverseMode::grad ? "kiln::grad" : "kiln::value_and_grad";
  for (const Reverse::Reread& r : rereads) {
    const ValueId apart = g.add(Op::Disjoint, Type::scalar(Scalar::i1), {params[r.read], params[r.written]}, 0, r.loc);
    g.regions[g.body].body.push_back(apart);
    const int64_t message = intern_message(
        std::string(who) + ": argument " + std::to_string(r.written) + ", which @" + f.name +
            " writes, overlaps argument " + std::to_string(r.read) +
            ", which the reverse sweep reads again after those writes",
        "give argument " + std::to_string(r.written) + " storage of its own (or pass a copy of argument " +
            std::to_string(r.read) + ")");
    g.regions[g.body].body.push_back(g.add(Op::Check, {}, {apart}, message, r.loc));
  }
  std::vector<ValueId> cot;
  if (mode == ReverseMode::vjp)
    for (Type t : f.result_types)
      if (t.is_float()) cot.push_back(add_param(g, g.body, t));
  std::vector<ValueId> adjbufs;
  std::vector<std::pair<ValueId, Scalar>> zeroed;  // the adjoint buffers overwritten, not accumulated into
  for (size_t i = 0; i < ps.size(); ++i)
    if (active[i] && f.type(ps[i]).kind == TypeKind::buf) {
      adjbufs.push_back(add_param(g, g.body, Type::buf(f.type(ps[i]).elem, true)));
      if (mode != ReverseMode::vjp || !f.type(ps[i]).writable) zeroed.emplace_back(adjbufs.back(), f.type(ps[i]).elem);
    }
  // Each such buffer is zeroed between the sweeps (f_fwd never touches it):
  // by then the forward sweep's size checks have run, which lets
  // forward_fill see that the reverse sweep writes all of it.
  auto zero_fills = [&] {
    for (const auto& [b, elem] : zeroed) {
      const Type i64 = Type::scalar(Scalar::i64);
      const RegionId body = g.add_region();
      const ValueId idx = add_param(g, body, i64);
      const ValueId z = add(Op::Const, Type::scalar(elem), {}, encode_const(elem, 0.0), {}, body);
      add(Op::Store, {}, {b, idx, z}, 0, {}, body);
      const ValueId lo = add(Op::Const, i64, {}, 0), step = add(Op::Const, i64, {}, 1);
      const ValueId hi = add(Op::Size, i64, {b});
      add(Op::For, Type::tuple(), {lo, hi, step}, 0, {body});
    }
  };
  if (!f.param_names.empty()) {
    g.param_names = f.param_names;
    for (size_t k = 0; k < cot.size(); ++k) g.param_names.push_back("ct" + std::to_string(k));
    for (size_t i = 0; i < ps.size(); ++i)
      if (active[i] && f.type(ps[i]).kind == TypeKind::buf) g.param_names.push_back("grad_" + f.param_names[i]);
  }
  const ValueId r = add(Op::Call, Type::tuple(), params, static_cast<int64_t>(s.fwd));
  zero_fills();
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
  require_unlowered(m, "autodiff::reverse");
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
  out.functions[0] = entry(m, out, s, active, mode, rv.rereads_);
  return out;
}

}  // namespace kiln::autodiff

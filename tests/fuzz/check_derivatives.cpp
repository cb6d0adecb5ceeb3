// The derivative checks: check_jvp (forward mode) and check_grad (reverse
// mode against forward mode and central differences), and what the gradient
// check runs the program through first (tame_constants, probe_integral_ops).
#include "check.h"
#include "check_support.h"

#include <kiln/error.h>
#include <kiln/ir/verifier.h>

#include "codegen/autodiff/forward.h"
#include "codegen/autodiff/reverse.h"
#include "codegen/passes/pipeline.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace kiln::fuzz {
namespace {

// The optimised module autodiff takes, as kiln::grad and kiln::jvp take it:
// tensor ops not lowered yet (the derivative is lowered afterwards).
Options before_lowering() {
  Options o;
  o.passes.lower_tensors = false;
  return o;
}

// A direction component in [-1, 1], from (seed, a, b).
double direction(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xbf58476d1ce4e5b9ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / static_cast<double>(1ull << 52) - 1.0;
}
double as_double(ir::Scalar s, const detail::Slot& v) { return s == ir::Scalar::f32 ? v.f32 : v.f64; }
double element(ir::Scalar s, const std::vector<unsigned char>& bytes, int64_t e) {
  return s == ir::Scalar::f32 ? reinterpret_cast<const float*>(bytes.data())[e]
                              : reinterpret_cast<const double*>(bytes.data())[e];
}

// The program the central differences run, with one more parameter in
// every function (passed on by every call): a buffer of f64 whose element 0
// every `floor` and float-to-integer cast adds its result to (a tensor's:
// the sum of its elements). Where that sum differs between the shifted
// inputs, some floor or cast jumped inside the step, and the differences
// measure the jump. Where it does not, they do not; that also covers a
// floor of a value whose change over the step is far above 1, which looks
// smooth to differences (floor is the identity in floating point from 2^52
// on: floor(pow(x, 9)), seed 503814; floor(pow(1e-3, x) - ...) near 1e15
// moves by 1e12 over the step: --tensors seed 703600) while its derivative
// in real arithmetic is 0. Element 1 gets every `sin`'s and `cos`'s
// argument: where it moves by more than 0.1 over the step, a sine turned
// through more of its period than differences can follow. y + cos(-y) with
// y near 1e13 (seed 518507) moves by 1e9 radians over the step: the
// differences see the slope of y alone and the derivative is
// y'(1 + sin(-y)), 20 times smaller there.
ir::Module probe_integral_ops(ir::Module m) {
  const ir::Type f64 = ir::Type::scalar(ir::Scalar::f64), i64 = ir::Type::scalar(ir::Scalar::i64);
  std::vector<ir::ValueId> probe(m.functions.size());
  for (size_t k = 0; k < m.functions.size(); ++k) {
    ir::Function& f = m.functions[k];
    probe[k] = f.add(ir::Op::Param, ir::Type::buf(ir::Scalar::f64, true), {},
                     static_cast<int64_t>(f.regions[f.body].params.size()));
    f.regions[f.body].params.push_back(probe[k]);
    if (!f.param_names.empty()) f.param_names.push_back("probe");
  }
  for (size_t k = 0; k < m.functions.size(); ++k) {
    ir::Function& f = m.functions[k];
    std::vector<ir::RegionId> regions = {f.body};
    ir::walk(f, [&](ir::ValueId v) {
      for (ir::RegionId c : f.node(v).regions) regions.push_back(c);
    });
    for (ir::RegionId r : regions) {
      std::vector<ir::ValueId> body;
      for (ir::ValueId v : f.regions[r].body) {
        body.push_back(v);
        const ir::Node n = f.node(v);
        if (n.op == ir::Op::Call) f.nodes[v].args.push_back(probe[k]);
        auto is_float = [](ir::Scalar e) { return e == ir::Scalar::f32 || e == ir::Scalar::f64; };
        const bool to_int = n.op == ir::Op::Cast && !is_float(n.type.elem) && is_float(f.type(n.args[0]).elem);
        const bool trig = n.op == ir::Op::Sin || n.op == ir::Op::Cos;
        if (n.op != ir::Op::Floor && !to_int && !trig) continue;
        auto add = [&](ir::Op op, ir::Type t, std::vector<ir::ValueId> args, int64_t imm = 0) {
          body.push_back(f.add(op, t, std::move(args), imm));
          return body.back();
        };
        ir::ValueId x = trig ? n.args[0] : v;
        const ir::Type t = f.type(x);
        if (t.is_tensor()) {
          x = add(ir::Op::Cast, t.with_elem(ir::Scalar::f64), {x});
          x = add(ir::Op::ReduceSum, f64, {x}, (int64_t{1} << ir::shape(t).size()) - 1);
        } else {
          x = add(ir::Op::Cast, f64, {x});
        }
        const ir::ValueId slot = add(ir::Op::Const, i64, {}, trig ? 1 : 0);
        const ir::ValueId sum = add(ir::Op::Add, f64, {add(ir::Op::Load, f64, {probe[k], slot}), x});
        add(ir::Op::Store, ir::Type{}, {probe[k], slot, sum});
      }
      f.regions[r].body = std::move(body);
    }
  }
  return m;
}

// The parameters of f whose derivative passes through an f32 value (a bit
// per parameter; a buffer's stands for its contents): those the central
// differences leave still. An f32 value rounds a change below 6e-8 of its
// size away, and with it part of the slope, while forward and reverse
// mode carry the derivative in real arithmetic: in --tensors seed 712690 a
// double input, cast to f32 and multiplied by 1e-3, changes an f32 sum
// near 80 by less than its spacing over the step, so the differences saw
// none of that path and still three steps that agree. Only derivative
// paths count: float operands, region yields, buffer contents through
// stores and loads; an integer, a comparison and a floor carry none.
uint64_t through_float32(const ir::Function& f) {
  std::vector<uint64_t> mask(f.nodes.size(), 0);
  uint64_t out = 0;
  const auto& ps = f.params();
  for (size_t i = 0; i < ps.size(); ++i) mask[ps[i]] = i < 64 ? uint64_t{1} << i : ~uint64_t{0};
  // Integers and booleans (scalars and tensors) carry no derivative.
  auto carries = [&](ir::ValueId v) {
    const ir::Type t = f.type(v);
    return !(t.kind == ir::TypeKind::scalar || t.is_tensor()) || t.elem == ir::Scalar::f32 || t.elem == ir::Scalar::f64;
  };
  bool changed = true;
  auto taint = [&](ir::ValueId v, uint64_t m) {
    if (!carries(v) || (mask[v] | m) == mask[v]) return;
    mask[v] |= m;
    changed = true;
  };
  while (changed) {
    changed = false;
    ir::walk(f, [&](ir::ValueId v) {
      const ir::Node& n = f.node(v);
      uint64_t in = 0;
      for (ir::ValueId a : n.args) in |= mask[a];
      for (ir::RegionId r : n.regions)
        for (ir::ValueId y : f.region(r).yields) in |= mask[y];
      if (n.op == ir::Op::Floor) return;
      if (n.op == ir::Op::Call) out |= in;  // the callee is not walked: it may round
      if (n.op == ir::Op::Load || n.op == ir::Op::TensorLoad) return taint(v, mask[n.args[0]]);
      if (!n.regions.empty())
        for (ir::RegionId r : n.regions)
          for (ir::ValueId p : f.region(r).params) taint(p, in);
      if (ir::info(n.op).effect == ir::Effect::effect)
        for (ir::ValueId a : n.args)
          if (f.type(a).kind == ir::TypeKind::buf) taint(a, in);
      taint(v, in);
    });
  }
  for (size_t v = 0; v < f.nodes.size(); ++v)
    if (f.nodes[v].type.elem == ir::Scalar::f32 && (f.nodes[v].type.kind == ir::TypeKind::scalar || f.nodes[v].type.is_tensor()))
      out |= mask[v];
  return out;
}

// The program with every finite nonzero float constant's magnitude (and
// every element's of a tensor.const) clamped to [1e-3, 1e3]. With the generator's extremes (±1.8e308,
// 2.2e-308) huge terms cancel on the way, as in x * -1.8e308 +
// min(x, y) * 1.8e308 + x (kiln-fuzz seed 506635): forward mode adds the
// huge terms first and keeps x's 1, reverse mode adds x's 1 to the first
// of them, where it is absorbed, so the modes differ by rounding alone.
ir::Module tame_constants(ir::Module m) {
  auto tame = [](ir::Scalar s, int64_t imm) {
    ir::Node c;
    c.type = ir::Type::scalar(s);
    c.imm = imm;
    const double v = ir::const_float(c);
    if (!std::isfinite(v) || v == 0) return imm;
    const double a = std::clamp(std::abs(v), 1e-3, 1e3);
    return a == std::abs(v) ? imm : ir::encode_const(s, std::copysign(a, v));
  };
  for (ir::Function& f : m.functions)
    for (ir::Node& n : f.nodes) {
      if (n.type.elem != ir::Scalar::f32 && n.type.elem != ir::Scalar::f64) continue;
      if (n.op == ir::Op::Const) n.imm = tame(n.type.elem, n.imm);  // a tensor const is a splat
      if (n.op == ir::Op::TensorConst) {
        std::vector<int64_t> xs = ir::ints(static_cast<uint32_t>(n.imm));
        for (int64_t& x : xs) x = tame(n.type.elem, x);
        n.imm = ir::intern_ints(xs);
      }
    }
  return m;
}

}  // namespace

Report check_jvp(const ir::Module& ref, uint64_t seed, const std::vector<const Backend*>& backends,
                 const Progress& progress) {
  Report r;
  Step step{-1, "-", "jvp"};
  progress(step);
  const ir::Function& entry = ref.functions[0];
  std::vector<size_t> wrt;
  for (size_t i = 0; i < entry.params().size(); ++i) {
    const ir::Type t = entry.type(entry.params()[i]);
    if (t.elem == ir::Scalar::f32 || t.elem == ir::Scalar::f64) wrt.push_back(i);
  }
  ir::Module d, d_opt;
  try {
    d = autodiff::jvp(passes::run_pipeline(ref, before_lowering()), wrt);
    ir::verify(d, "autodiff::jvp");
    d_opt = passes::run_pipeline(d, Options{});
    round_trip(d, "jvp module");
    round_trip(d_opt, "optimised jvp module");
  } catch (const std::exception& e) {
    return failure(r, Verdict::pipeline_error, step, describe(e));
  }
  const Inputs in(d.functions[0], seed ^ 0x6a7d1e5ull);
  step = {-1, std::string(interpreter().name), "jvp-oracle"};
  progress(step);
  Outcome expected;
  try {
    expected = execute(interpreter(), d, in);
  } catch (const std::exception& e) {
    return failure(r, Verdict::reference_error, step, describe(e));  // the primal did not trap: neither may its jvp
  }
  // The primal part: the program's own results and buffers.
  step = {-1, std::string(interpreter().name), "jvp-primal"};
  progress(step);
  try {
    const Outcome primal = execute(interpreter(), ref, in.prefix(entry.params().size()));
    Outcome head;
    head.results.assign(expected.results.begin(),
                        expected.results.begin() + static_cast<std::ptrdiff_t>(entry.result_types.size()));
    head.buffers.assign(expected.buffers.begin(),
                        expected.buffers.begin() + static_cast<std::ptrdiff_t>(entry.params().size()));
    std::string diff = differences(entry, primal, head);
    if (!diff.empty()) return failure(r, Verdict::mismatch, step, "the jvp's primal results differ:\n" + diff);
  } catch (const std::exception& e) {
    return failure(r, Verdict::run_error, step, describe(e));
  }
  for (const Backend* b : backends)
    if (auto failed = run_against(r, {-1, std::string(b->name), "jvp-run"}, progress, *b, d_opt, in, d.functions[0], expected))
      return *failed;
  return r;
}

Report check_grad(const ir::Module& program, uint64_t seed, const std::vector<const Backend*>& backends,
                  const Progress& progress, int inject) {
  const ir::Module ref = tame_constants(program);
  Report r;
  Step step{-1, "-", "grad"};
  progress(step);
  const ir::Function& entry = ref.functions[0];
  const auto& ps = entry.params();
  std::vector<size_t> wrt;
  bool any_float32 = false;
  for (size_t i = 0; i < ps.size(); ++i) {
    const ir::Type t = entry.type(ps[i]);
    if (t.elem == ir::Scalar::f32 || t.elem == ir::Scalar::f64) wrt.push_back(i);
  }
  for (const ir::Function& f : ref.functions)
    for (const ir::Node& n : f.nodes) any_float32 = any_float32 || n.type.elem == ir::Scalar::f32;
  ir::Module rv, rv_opt, fw;
  try {
    const ir::Module opt = passes::run_pipeline(ref, before_lowering());
    rv = autodiff::reverse(opt, wrt, autodiff::ReverseMode::vjp);
    ir::verify(rv, "autodiff::reverse");
    rv_opt = passes::run_pipeline(rv, Options{});
    fw = autodiff::jvp(opt, wrt);
    if (inject == 2) {  // --grad --inject-bug=jvp: every f64 scalar tangent 1% off
      ir::Function& f = fw.functions[0];
      std::vector<ir::ValueId>& ys = f.regions[f.body].yields;
      for (size_t k = entry.result_types.size(); k < ys.size(); ++k) {
        if (f.type(ys[k]) != ir::Type::scalar(ir::Scalar::f64)) continue;
        const ir::ValueId c = f.add(ir::Op::Const, f.type(ys[k]), {}, ir::encode_const(ir::Scalar::f64, 1.01));
        const ir::ValueId scaled = f.add(ir::Op::Mul, f.type(ys[k]), {ys[k], c});
        f.regions[f.body].body.insert(f.regions[f.body].body.end(), {c, scaled});
        ys[k] = scaled;
      }
    }
    round_trip(rv, "vjp module");
    round_trip(rv_opt, "optimised vjp module");
  } catch (const std::exception& e) {
    return failure(r, Verdict::pipeline_error, step, describe(e));
  }
  std::vector<size_t> float_results, buffers;  // float results; active (float) buffer parameters
  std::vector<ir::Type> tangents, cotangents;
  for (size_t i : wrt) tangents.push_back(entry.type(ps[i]));
  for (size_t k = 0; k < entry.result_types.size(); ++k)
    if (entry.result_types[k].is_float()) {
      float_results.push_back(k);
      cotangents.push_back(entry.result_types[k]);
    }
  for (size_t i : wrt)
    if (entry.type(ps[i]).kind == ir::TypeKind::buf) {
      buffers.push_back(i);
      cotangents.push_back(ir::Type::buf(entry.type(ps[i]).elem, true));
    }
  // Ordinary inputs only: with an edge case (1e-38, 3e38) an adjoint that
  // cancels exactly, like x's in (x - x) * huge, swamps its neighbours in
  // float arithmetic, and reverse mode would differ from forward mode by
  // rounding alone.
  //
  // And off the grids the inputs and the generator's constants live on
  // (multiples of 1/256, quarters): at an input exactly on a kink, like
  // max(x, 0.25) at x = 0.25 (--tensors seed 708408), a central difference
  // is the mean of the two one-sided slopes at every step size, and looks
  // smooth. Each float input moves by up to 1e-6.
  const uint64_t dseed = seed ^ 0x5eed6a7d1e5ull;
  const Inputs base = Inputs(entry, seed ^ 0x9e3779b97f4a7c15ull, /*edge_cases=*/false)
                          .shifted([&](size_t k, int64_t e) { return direction(dseed ^ 0x0ff9e1dull, k, static_cast<uint64_t>(e)); }, 1e-6);
  // Directions: u on the inputs (per parameter and element), w on the
  // outputs (results by index, writable buffers as 1000 + parameter); with
  // `doubles`, zero on every float component.
  auto is_double = [&](size_t param) { return entry.type(ps[param]).elem == ir::Scalar::f64; };
  // The program at the inputs, before its derivatives: an output that is
  // not finite there (inf, NaN) has no derivative to compare, and gets no
  // weight in w. Seed 525248 returns pow(x, x) + x + ... + (inf - pow(x, x))
  // with pow(x, x) near 4e264: forward mode adds x's tangent 1 to one of
  // 2.4e265 and loses it, reverse mode sums the 2.4e265s first and keeps
  // it; the result is inf either way.
  step = {-1, std::string(interpreter().name), "grad-primal"};
  progress(step);
  Outcome primal;
  try {
    primal = execute(interpreter(), ref, base);
  } catch (const std::exception& e) {
    return failure(r, Verdict::run_error, step, describe(e));
  }
  auto finite_output = [&](size_t k, int64_t e) {
    if (k < 1000) return std::isfinite(as_double(entry.result_types[k].elem, primal.results[k]));
    return std::isfinite(element(entry.type(ps[k - 1000]).elem, primal.buffers[k - 1000], e));
  };
  bool any_not_finite = false;
  for (size_t j : float_results) any_not_finite = any_not_finite || !finite_output(j, 0);
  for (size_t b : buffers)
    if (entry.type(ps[b]).writable)
      for (int64_t e = 0; e < buffer_size; ++e) any_not_finite = any_not_finite || !finite_output(1000 + b, e);
  if (any_not_finite) r.grad_excused |= static_cast<uint32_t>(Excused::not_finite);
  // With `doubles`, also zero on huge or non-finite inputs (a difference
  // step could not move them) and on inputs whose derivative passes
  // through an f32 value (through_float32).
  // Part 1 and part 2 of a direction are r and 1 - r times it, r in
  // [0.25, 0.75] drawn per component; parts 3 and 4 split the components
  // themselves, each wholly in one of them; part 0 is all of it (the
  // rounding noise estimate below).
  auto part_of = [=](int part, uint64_t salt, size_t k, int64_t e) {
    if (part == 0) return 1.0;
    const double x = direction(dseed ^ salt, k, static_cast<uint64_t>(e));
    const double r = part <= 2 ? 0.5 + 0.25 * x : x < 0;
    return part % 2 ? r : 1 - r;
  };
  const uint64_t rounded = through_float32(entry);
  for (size_t i = 0; i < ps.size() && i < 64; ++i)
    if (is_double(i) && (rounded >> i & 1)) r.grad_excused |= static_cast<uint32_t>(Excused::float32);
  auto u_of = [&](bool doubles, int part = 0) {
    return [=, &is_double, &base](size_t param, int64_t e) {
      if (doubles && (!is_double(param) || (param < 64 && (rounded >> param & 1)) || !(std::abs(base.value(param, e)) <= 1e4)))
        return 0.0;
      return direction(dseed, param, static_cast<uint64_t>(e)) * part_of(part, 0x5b117ull, param, e);
    };
  };
  auto w_of = [&](bool doubles, int part = 0) {
    return [=, &entry, &finite_output](size_t k, int64_t e) {
      const ir::Scalar s = k >= 1000 ? entry.type(entry.params()[k - 1000]).elem : entry.result_types[k].elem;
      if ((doubles && s != ir::Scalar::f64) || !finite_output(k, e)) return 0.0;
      return direction(dseed ^ 0xc07a11ull, k, static_cast<uint64_t>(e)) * part_of(part, 0x5b118ull, k, e);
    };
  };
  auto vjp_inputs = [&](bool doubles, int part = 0) {
    auto w = w_of(doubles, part);
    return base.append(cotangents, [&, w](size_t k, int64_t e) {
      if (k < float_results.size()) return w(float_results[k], 0);
      const size_t b = buffers[k - float_results.size()];
      return entry.type(ps[b]).writable ? w(1000 + b, e) : 7.0;  // a read-only buffer's adjoint is overwritten
    });
  };
  const Inputs rin = vjp_inputs(false);

  step = {-1, std::string(interpreter().name), "grad-oracle"};
  progress(step);
  Outcome expected;
  try {
    expected = execute(interpreter(), rv, rin);
  } catch (const std::exception& e) {
    return failure(r, Verdict::reference_error, step, describe(e));
  }
  step = {-1, std::string(interpreter().name), "grad-buffers"};
  progress(step);
  try {
    Outcome head;
    head.buffers.assign(expected.buffers.begin(), expected.buffers.begin() + static_cast<std::ptrdiff_t>(ps.size()));
    ir::Function no_results = entry;
    no_results.result_types.clear();
    std::string diff = differences(no_results, Outcome{{}, primal.buffers}, head);
    if (!diff.empty()) return failure(r, Verdict::mismatch, step, "the vjp leaves other buffers than the program:\n" + diff);
  } catch (const std::exception& e) {
    return failure(r, Verdict::run_error, step, describe(e));
  }
  for (const Backend* b : backends)
    if (auto failed = run_against(r, {-1, std::string(b->name), "grad-run"}, progress, *b, rv_opt, rin, rv.functions[0], expected))
      return *failed;

  // <w, J u> from the jvp against <J^T w, u> from the vjp: over every float
  // component, then over the double ones only (for the differences below).
  struct Directional {
    double jvp = 0, vjp = 0, scale = 0;  // scale: the sum of |terms| of both
    std::vector<double> jvp_terms;       // w·tangent per double output component (see components)
    bool finite() const { return std::isfinite(jvp) && std::isfinite(vjp) && std::isfinite(scale); }
  };
  auto directional = [&](bool doubles, int u_part = 0, int w_part = 0) {
    auto u = u_of(doubles, u_part);
    auto w = w_of(doubles, w_part);
    const Outcome jv = execute(interpreter(), fw, base.append(tangents, [&](size_t k, int64_t e) { return u(wrt[k], e); }));
    const Outcome rv_out = doubles || w_part ? execute(interpreter(), rv, vjp_inputs(doubles, w_part)) : expected;
    Directional d;
    auto add = [&](double& side, double term) {
      side += term;
      d.scale += std::abs(term);
    };
    auto add_jvp = [&](bool is_f64, double term) {
      add(d.jvp, term);
      if (is_f64) d.jvp_terms.push_back(term);
    };
    for (size_t j = 0; j < float_results.size(); ++j) {  // the jvp returns f's results, then the float ones' tangents
      const ir::Scalar s = entry.result_types[float_results[j]].elem;
      add_jvp(s == ir::Scalar::f64, w(float_results[j], 0) * as_double(s, jv.results[entry.result_types.size() + j]));
    }
    for (size_t k = 0; k < wrt.size(); ++k) {
      const ir::Type t = entry.type(ps[wrt[k]]);
      if (t.kind == ir::TypeKind::buf && t.writable)  // the tangent of what f leaves there
        for (int64_t e = 0; e < buffer_size; ++e)
          add_jvp(t.elem == ir::Scalar::f64, w(1000 + wrt[k], e) * element(t.elem, jv.buffers[ps.size() + k], e));
    }
    size_t g = 0;
    for (size_t i : wrt)
      if (entry.type(ps[i]).kind != ir::TypeKind::buf) add(d.vjp, as_double(entry.type(ps[i]).elem, rv_out.results[g++]) * u(i, 0));
    for (size_t k = 0; k < buffers.size(); ++k)
      for (int64_t e = 0; e < buffer_size; ++e)
        add(d.vjp, element(entry.type(ps[buffers[k]]).elem, rv_out.buffers[ps.size() + float_results.size() + k], e) *
                       u(buffers[k], e));
    return d;
  };
  // Float intermediates round tangents and adjoints to float precision.
  const double tol = any_float32 ? 1e-5 : 1e-10;
  // Or within the modes' own rounding noise, measured: each mode run again
  // for its direction split in two random parts (u for the jvp, w for the
  // vjp), which add up to the whole in exact arithmetic. A softmax built
  // from exp, max and sum over logits near 60 (--tensors seed 703897)
  // cancels terms near e^60 exactly in forward mode (e^x dx - e^x dx) and
  // up to rounding in reverse mode, where the residue times e^60 is 4e9.
  // A split by components sees what a proportional one cannot: rounding
  // that scales with the direction, like an adjoint absorbed by a far
  // larger one. In seed 520717 reverse mode brings an f32 x the adjoints
  // +A and -A of fma(exp(x), x - (c + x), b) through two ops (forward
  // mode's dx - dx is exactly 0), and in between x's other terms, from
  // other outputs, vanish in A; with those outputs in the other part they
  // do not.
  auto disagree = [&](bool doubles, const Directional& d) {
    const double gap = std::abs(d.jvp - d.vjp);
    if (gap <= tol * d.scale + 1e-300) return false;
    double noise = 0;
    for (int part : {1, 3}) {
      const Directional u1 = directional(doubles, part, 0), u2 = directional(doubles, part + 1, 0);
      const Directional w1 = directional(doubles, 0, part), w2 = directional(doubles, 0, part + 1);
      noise = std::max(noise, std::abs(u1.jvp + u2.jvp - d.jvp) + std::abs(w1.vjp + w2.vjp - d.vjp));
    }
    if (!(gap <= 16 * noise)) return true;
    r.grad_excused |= static_cast<uint32_t>(Excused::noise);
    return false;
  };
  auto show = [](const Directional& d) {
    std::ostringstream os;
    os.precision(17);
    os << "<w, J u> = " << d.jvp << " (jvp), <J^T w, u> = " << d.vjp << " (vjp); sum of |terms| " << d.scale;
    return os.str();
  };
  step = {-1, std::string(interpreter().name), "grad-vs-jvp"};
  progress(step);
  Directional all, doubles;
  bool all_disagree = false, doubles_disagree = false;
  try {
    all = directional(false);
    doubles = directional(true);
    all_disagree = all.finite() && disagree(false, all);
    doubles_disagree = doubles.finite() && disagree(true, doubles);
  } catch (const std::exception& e) {
    return failure(r, Verdict::run_error, step, describe(e));
  }
  if (all_disagree)
    return failure(r, Verdict::mismatch, step, "  reverse and forward mode disagree: " + show(all) + "\n");
  r.grad_vs_jvp = all.finite() || doubles.finite();
  if (!doubles.finite()) return r;  // no derivative to compare
  if (doubles_disagree)
    return failure(r, Verdict::mismatch, step,
                   "  reverse and forward mode disagree along the double components: " + show(doubles) + "\n");

  // Both against a central difference along the double components, where
  // the program is smooth (three step sizes agree).
  step = {-1, std::string(interpreter().name), "grad-vs-difference"};
  progress(step);
  auto u = u_of(true);
  auto w = w_of(true);
  double size = 1;
  for (size_t i : wrt)
    if (is_double(i))
      for (int64_t e = 0; e < (entry.type(ps[i]).kind == ir::TypeKind::buf ? buffer_size : 1); ++e)
        if (u(i, e) != 0) size = std::max(size, std::abs(base.value(i, e)));
  ir::Module guarded = probe_integral_ops(ref);
  if (inject == 1) {  // --grad --inject-bug: a slope 1% off in every f64 result
    ir::Function& f = guarded.functions[0];
    for (size_t k = 0; k < f.regions[f.body].yields.size(); ++k) {
      const ir::ValueId y = f.regions[f.body].yields[k];
      if (f.type(y).elem != ir::Scalar::f64 || f.type(y).kind != ir::TypeKind::scalar) continue;
      const ir::ValueId c = f.add(ir::Op::Const, f.type(y), {}, ir::encode_const(ir::Scalar::f64, 1.01));
      const ir::ValueId scaled = f.add(ir::Op::Mul, f.type(y), {y, c});
      f.regions[f.body].body.insert(f.regions[f.body].body.end(), {c, scaled});
      f.regions[f.body].yields[k] = scaled;
    }
  }
  // The double output components, in the order of Directional::jvp_terms:
  // f64 results, then the elements f leaves in writable f64 parameters.
  auto components = [&](double t) {
    const Outcome o =
        execute(interpreter(), guarded, base.shifted(u, t).append({ir::Type::buf(ir::Scalar::f64, true)}, [](size_t, int64_t) { return 0.0; }));
    std::vector<double> c = {element(ir::Scalar::f64, o.buffers[ps.size()], 0),  // the probe: not compared
                             element(ir::Scalar::f64, o.buffers[ps.size()], 1)};
    for (size_t j : float_results)
      if (entry.result_types[j].elem == ir::Scalar::f64) c.push_back(o.results[j].f64);
    for (size_t i : wrt)
      if (entry.type(ps[i]).kind == ir::TypeKind::buf && entry.type(ps[i]).writable && is_double(i))
        for (int64_t e = 0; e < buffer_size; ++e) c.push_back(element(ir::Scalar::f64, o.buffers[i], e));
    return c;
  };
  std::vector<double> weights;
  for (size_t j : float_results)
    if (entry.result_types[j].elem == ir::Scalar::f64) weights.push_back(w(j, 0));
  for (size_t i : wrt)
    if (entry.type(ps[i]).kind == ir::TypeKind::buf && entry.type(ps[i]).writable && is_double(i))
      for (int64_t e = 0; e < buffer_size; ++e) weights.push_back(w(1000 + i, e));
  // Steps h, h/4 and h/sqrt(8). A value rounded to a grid on the way (a
  // double cast to float, or added to one far larger than its change) makes
  // phi a staircase, and a difference counts the grid steps its step
  // crosses: off by up to a grid step over the step, yet two steps in ratio
  // 4 often cross exactly 4:1 as many (seeds 10426, 12998, 20137), so h and
  // h/4 alone agree bit for bit on a wrong slope. A third step at an
  // irrational ratio to both would have to cross a matching count too,
  // which a staircase all but never does, while a smooth phi's three
  // differences differ by O(h^2) alone.
  const double h = 1e-5 * size;
  const double steps[3] = {h, h / 4, h / std::sqrt(8.0)};
  std::vector<double> at[3][2];
  try {
    for (int k = 0; k < 3; ++k) {
      at[k][0] = components(steps[k]);
      at[k][1] = components(-steps[k]);
    }
  } catch (const RuntimeError&) {
    return r;  // a nearby input traps: no difference to compare
  }
  // A floor or float-to-integer cast that jumped inside the step, or a
  // sine or cosine turned through more than 0.1 radians over the largest
  // one: nothing to compare (probe_integral_ops). Then the probe goes.
  for (int k = 0; k < 3; ++k)
    for (int sgn = 0; sgn < 2; ++sgn)
      if (std::bit_cast<uint64_t>(at[k][sgn][0]) != std::bit_cast<uint64_t>(at[0][0][0])) {
        r.grad_excused |= static_cast<uint32_t>(Excused::floor_moved);
        return r;
      }
  if (!(std::abs(at[0][0][1] - at[0][1][1]) <= 0.1)) {
    r.grad_excused |= static_cast<uint32_t>(Excused::sine_turned);
    return r;
  }
  for (auto& pair : at)
    for (std::vector<double>& c : pair) c.erase(c.begin(), c.begin() + 2);
  // Each double output component on its own: one with the same bits at
  // all six points is flat in floating point, a change of its inputs
  // absorbed on the way, as in (x + 1e308) - 1e308 (seed 502548); one whose
  // three differences disagree is not smooth here (a branch, a value
  // rounded to a grid, sin of a number whose spacing exceeds its period:
  // seed 503781). The derivative in real arithmetic, which forward and
  // reverse mode compute (and the rule tests check), is not the slope of
  // such a computed function, so those components are left out of both
  // sides; the others must agree.
  double d[3] = {}, jvp = 0;
  if (doubles.jvp_terms.size() != weights.size())
    return failure(r, Verdict::mismatch, step, "  the jvp has a different number of double outputs than the program\n");
  for (size_t c = 0; c < weights.size(); ++c) {
    bool flat = true;
    for (int k = 0; k < 3; ++k)
      for (int s = 0; s < 2; ++s)
        flat = flat && std::bit_cast<uint64_t>(at[k][s][c]) == std::bit_cast<uint64_t>(at[0][0][c]);
    if (weights[c] == 0) continue;
    if (flat) {
      if (doubles.jvp_terms[c] != 0) r.grad_excused |= static_cast<uint32_t>(Excused::flat);
      continue;
    }
    double dc[3];
    for (int k = 0; k < 3; ++k) dc[k] = weights[c] * (at[k][0][c] - at[k][1][c]) / (2 * steps[k]);
    const double size_c = std::max({std::abs(dc[0]), std::abs(dc[1]), std::abs(dc[2])});
    if (!std::isfinite(size_c) || std::abs(dc[0] - dc[1]) > 1e-6 * size_c || std::abs(dc[2] - dc[1]) > 1e-6 * size_c) {
      r.grad_excused |= static_cast<uint32_t>(Excused::not_smooth);
      if (std::abs(dc[0] - dc[1]) <= 1e-6 * size_c) r.grad_excused |= static_cast<uint32_t>(Excused::third_step);
      continue;
    }
    jvp += doubles.jvp_terms[c];
    for (int k = 0; k < 3; ++k) d[k] += dc[k];
  }
  const double fd = std::max({std::abs(d[0]), std::abs(d[1]), std::abs(d[2])});
  if (!std::isfinite(fd) || fd == 0) return r;  // nothing smooth to compare
  r.grad_vs_difference = 1;
  if (std::abs(d[1] - jvp) > 1e-4 * std::max(fd, std::abs(jvp)) + 1e-12 * doubles.scale) {
    std::ostringstream os;
    os.precision(17);
    os << "  the derivative along u disagrees with central differences: " << show(doubles)
       << "; over the outputs smooth there, <w, J u> = " << jvp << " and differences " << d[0] << " (h = " << h
       << "), " << d[1] << " (h / 4) and " << d[2] << " (h / sqrt(8))\n";
    return failure(r, Verdict::mismatch, step, os.str());
  }
  return r;
}

}  // namespace kiln::fuzz

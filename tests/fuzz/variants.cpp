// Pipeline variants and the injected bug.
#include "variants.h"

#include "gen_support.h"

#include "codegen/passes/pipeline.h"

namespace kiln::fuzz {
namespace {

/// Each switchable pass with its name, in pipeline order.
struct PassSwitch {
  const char* name;
  bool Passes::*on;
};
constexpr PassSwitch pass_switches[] = {
    {"inline_calls", &Passes::inline_calls}, {"fold", &Passes::fold},     {"reduce_strength", &Passes::reduce_strength},
    {"cse", &Passes::cse},                   {"simplify_cfg", &Passes::simplify_cfg},
    {"forward_tape", &Passes::forward_tape}, {"forward_fill", &Passes::forward_fill},
    {"licm", &Passes::licm},                 {"dce", &Passes::dce},
    {"reorder_loops", &Passes::reorder_loops},
};

Passes no_passes() {
  Passes p;
  for (const PassSwitch& s : pass_switches) p.*s.on = false;
  return p;
}

}  // namespace

std::vector<Variant> make_variants(uint64_t seed, bool inject) {
  std::vector<Variant> out;
  out.push_back({"unoptimised", Options{.verify_each_pass = true, .optimize = false}, false});
  out.push_back({"all passes", Options{.verify_each_pass = true}, inject});
  Rng rng(seed ^ 0x9e3779b97f4a7c15ull);
  Passes some = no_passes();
  std::string names;
  for (const PassSwitch& s : pass_switches)
    if (rng.chance(0.5)) {
      some.*s.on = true;
      names += (names.empty() ? "" : ",") + std::string(s.name);
    }
  out.push_back({"passes " + (names.empty() ? std::string("(none)") : names),
                 Options{.verify_each_pass = true, .passes = some}, inject});
  return out;
}

ir::Module build_variant(const ir::Module& m, const Variant& v) {
  ir::Module out = passes::run_pipeline(m, v.options);
  if (v.inject) inject_bug(out);
  return out;
}

std::string inject_bug(ir::Module& m) {
  // Only float arithmetic: it never decides a loop's trip count, an index
  // or a divisor, so the corrupted program still terminates without trapping.
  int changed = 0;
  for (ir::Function& f : m.functions)
    ir::walk(f, [&](ir::ValueId v) {
      ir::Node& n = f.nodes[v];
      if (n.op == ir::Op::Add && n.type.is_float()) {
        n.op = ir::Op::Sub;
        ++changed;
      }
    });
  if (changed) return std::to_string(changed) + " float add(s) became sub";
  for (ir::Function& f : m.functions)
    ir::walk(f, [&](ir::ValueId v) {
      ir::Node& n = f.nodes[v];
      if (n.op == ir::Op::Mul && n.type.is_float() && !changed++) n.op = ir::Op::Add;
    });
  return changed ? "a float mul became add" : "";
}

Options dce_only() {
  Passes p = no_passes();
  p.dce = true;
  return Options{.verify_each_pass = true, .passes = p};
}

}  // namespace kiln::fuzz

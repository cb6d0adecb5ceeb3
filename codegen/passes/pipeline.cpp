// The default pipeline: one line per pass, in the order they run.
// Options::optimize = false stops after promotion; Options::passes switches
// single passes off.
#include "pipeline.h"

#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include "../ir/dump.h"
#include "../lower/lower_tensors.h"
#include "passes.h"
#include "promote_variables.h"
#include "rewrite.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

namespace kiln::passes {
namespace {

class Checkpoint {
 public:
  explicit Checkpoint(const Options& opts) : dump_(ir::dump_requested("ir")), dot_(ir::dump_requested("dot")) {
#ifndef NDEBUG
    verify_ = true;
#endif
    verify_ = verify_ || opts.verify_each_pass;
  }
  void operator()(const ir::Module& m, const char* pass) {
    if (dump_) std::cerr << "// ---- IR after " << pass << " ----\n" << ir::print(m, {.locations = true});
    if (dot_) ir::dump_dot(m, checkpoints_, pass);
    ++checkpoints_;
    if (verify_) ir::verify(m, pass);
  }

 private:
  bool dump_;
  bool dot_;
  bool verify_ = false;
  int checkpoints_ = 0;  // numbers KILN_DUMP=dot's files in pipeline order
};

}  // namespace

ir::Module run_pipeline(ir::Module m, const Options& opts) {
  Checkpoint after(opts);
  m = promote_variables(m);
  after(m, "promote_variables");
  const Passes& on = opts.passes;
  auto run = [&](bool enabled, void (*pass)(ir::Module&, const Options&), const char* name) {
    if (!enabled) return;
    pass(m, opts);
    after(m, name);
  };
  // Two rounds: the second catches what the first exposed (a branch
  // folded away leaves constants to fold, a hoisted value to merge).
  auto rounds = [&] {
    for (int round = 0; round < 2; ++round) {
      run(on.fold, fold, "fold");
      run(on.reduce_strength, reduce_strength, "reduce_strength");
      run(on.cse, cse, "cse");
      run(on.simplify_cfg, simplify_cfg, "simplify_cfg");
      run(on.forward_tape, forward_tape, "forward_tape");
      run(on.licm, licm, "licm");
      // After licm: a fill's value computed in its loop (what simplify_cfg
      // just made invariant) is outside it by then.
      run(on.forward_fill, forward_fill, "forward_fill");
      run(on.dce, dce, "dce");
    }
  };
  if (opts.optimize) {
    run(on.inline_calls, inline_calls, "inline_calls");
    rounds();
  }
  // Tensor ops become loop nests, which the scalar passes then clean up.
  if (on.lower_tensors && lower::has_tensor_ops(m)) {
    lower::lower_tensors(m, {.gemm_min_work = opts.fast_math && on.gemm ? lower::fast_math_gemm_min_work : 0});
    after(m, "lower_tensors");
    if (opts.optimize) rounds();
  }
  // Loop nests reordered for the backend (not for autodiff, which takes
  // the module before lowering); cse, licm and dce tidy the copies.
  if (opts.optimize && on.lower_tensors && on.reorder_loops) {
    size_t before = 0, after_nodes = 0;
    for (const ir::Function& f : m.functions) before += f.nodes.size();
    reorder_loops(m, opts);
    after(m, "reorder_loops");
    for (const ir::Function& f : m.functions) after_nodes += f.nodes.size();
    if (after_nodes != before) {
      run(on.cse, cse, "cse");
      run(on.licm, licm, "licm");
      run(on.dce, dce, "dce");
    }
  }
  if (opts.optimize)
    for (ir::Function& f : m.functions) compact(f);
  // Always: later stages rely on promoted, valid IR.
  ir::verify(m, "pipeline");
  return m;
}

}  // namespace kiln::passes

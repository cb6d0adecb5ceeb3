// The public entry points of autodiff (include/kiln/autodiff.h): the
// optimised module of a staged function in, a derived staged function out.
#include <kiln/autodiff.h>
#include <kiln/compile.h>
#include <kiln/error.h>
#include <kiln/ir/verifier.h>

#include "forward.h"
#include "reverse.h"

namespace kiln::detail {

namespace {
// Autodiff works on tensor ops themselves (their rules are tensor ops), so
// it takes the module before tensor lowering.
ir::Module tensor_level_module(const std::shared_ptr<StagedState>& f) {
  Options opts;
  opts.passes.lower_tensors = false;
  return staged_module(f, &opts);
}
}  // namespace

std::shared_ptr<StagedState> jvp_state(const std::shared_ptr<StagedState>& f, const std::vector<size_t>& wrt, Loc loc) {
  ir::Module m = tensor_level_module(f);
  ir::Module d;
  try {
    d = autodiff::jvp(m, wrt);
  } catch (const StagingError& e) {
    throw StagingError(user_message(e.what(), loc, "differentiate with respect to floating-point parameters only"));
  }
  ir::verify(d, "autodiff::jvp");
  return define_derived(std::move(d), loc);
}

std::shared_ptr<StagedState> reverse_state(const std::shared_ptr<StagedState>& f, const std::vector<size_t>& wrt,
                                           int mode, const ReverseOptions& opts, Loc loc) {
  if (opts.checkpoint_every < 0)
    throw StagingError(user_message("ReverseOptions::checkpoint_every is " + std::to_string(opts.checkpoint_every), loc,
                                    "give a positive interval, or 0 to tape every iteration"));
  ir::Module m = tensor_level_module(f);
  ir::Module d;
  const auto rm = static_cast<autodiff::ReverseMode>(mode);
  try {
    d = autodiff::reverse(m, wrt, rm, opts.checkpoint_every, opts.parallel);
  } catch (const StagingError& e) {
    throw StagingError(user_message(e.what(), loc, "differentiate a function of floating-point parameters"));
  }
  ir::verify(d, "autodiff::reverse");
  return define_derived(std::move(d), loc);
}

}  // namespace kiln::detail

// The IR-level reducer: shrinks a failing (promoted) module while the
// failure persists, so a reproducer is a handful of nodes rather than
// hundreds.
#pragma once

#include <kiln/ir/ir.h>

#include <functional>

namespace kiln::fuzz {

/// The result of a minimisation.
struct Reduction {
  ir::Module module;
  size_t nodes_before = 0, nodes_after = 0;
  int tried = 0, accepted = 0;
  bool out_of_time = false;
};

/// Greedily applies candidate reductions to `m` and keeps each one that
/// leaves a valid module (ir::verify_errors reports nothing) on which
/// `still_fails` holds. Candidates, coarse ones first: a function result
/// becomes 0; a store, call or structured op is deleted (its results 0, or a
/// loop's results its initial values); an if is replaced by one branch; all
/// uses of a scalar value become 0, 1 (true) or one of its same-typed
/// operands. After each round `cleanup` (dead-code elimination) and dropping
/// uncalled functions are kept when the failure survives them. Stops when
/// no candidate applies, or after time_limit_s seconds.
Reduction minimize(ir::Module m, const std::function<bool(const ir::Module&)>& still_fails,
                   const std::function<ir::Module(const ir::Module&)>& cleanup, double time_limit_s);

}  // namespace kiln::fuzz

// The reference interpreter: executes IR directly with the exact semantics
// of the IR spec. It is the oracle every pass and backend is tested against,
// so it favours clarity over speed and checks every buffer access.
#pragma once

#include <kiln/ir/ir.h>

#include "../kernel.h"

#include <memory>
#include <vector>

namespace kiln::interp {

using Value = detail::Slot;

/// Runs the entry function (functions[0]) of a promoted module. Throws
/// kiln::RuntimeError when the program traps.
std::vector<Value> run(const ir::Module& m, const std::vector<Value>& args);

/// A Kernel that interprets `m`.
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m);

}  // namespace kiln::interp

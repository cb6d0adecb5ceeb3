// Promotes staging variables (var.load / var.store) to SSA: values assigned
// in if-branches become if-results, values assigned in loops become
// loop-carried values. What mem2reg does for C, on structured regions.
#pragma once

#include <kiln/ir/ir.h>

namespace kiln::passes {

/// The module with no var.load / var.store left; unchanged when it had none.
ir::Module promote_variables(const ir::Module& m);

}  // namespace kiln::passes

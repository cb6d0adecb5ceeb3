// Forward-mode differentiation (jvp) as an IR -> IR transformation.
#pragma once

#include <kiln/ir/ir.h>

#include <vector>

namespace kiln::autodiff {

/// The jvp of m's entry (functions[0], promoted and optimised): a module
/// whose entry takes the entry's parameters, then one tangent per active
/// parameter, in parameter order, and returns the entry's results, then the
/// tangent of each floating-point result, in order.
///
/// Active parameters: the floating-point scalars and read-only floating-point
/// buffers whose indices are in `wrt` (a scalar's tangent is a scalar, a
/// buffer's a read-only buffer of the same type and size), and every
/// writable floating-point buffer (its tangent is a writable buffer that
/// holds the tangent of its contents on entry, zeros where they do not
/// depend on the direction, and receives the tangent of what the function
/// leaves there). Integer and boolean values have no tangent.
///
/// Calls are differentiated once per callee and pattern of active
/// arguments; recursion follows. Throws kiln::StagingError naming `wrt`
/// entries that are not differentiable parameters.
ir::Module jvp(const ir::Module& m, const std::vector<size_t>& wrt);

/// Throws kiln::InternalError when m holds lowered tensor code (`alloc`,
/// `gemm`): autodiff takes modules before tensor lowering, where tensors
/// are values; after it, temporaries are buffers with no adjoints, and a
/// derivative through them would be silently wrong. `who` names the caller.
void require_unlowered(const ir::Module& m, const char* who);

/// Which parameters of m's entry jvp treats as active, as above.
std::vector<bool> jvp_active(const ir::Function& entry, const std::vector<size_t>& wrt);

}  // namespace kiln::autodiff

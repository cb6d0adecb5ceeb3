// Reverse-mode differentiation (vjp, grad, value_and_grad) as an IR -> IR
// transformation.
#pragma once

#include <kiln/ir/ir.h>

#include <vector>

namespace kiln::autodiff {

/// What the entry of a reverse-mode module takes and returns (include/kiln/autodiff.h).
enum class ReverseMode {
  vjp,             // (params, one cotangent per float result, adjoint buffers) -> scalar gradients
  grad,            // (params, adjoint buffers) -> scalar gradients; f returns one float
  value_and_grad,  // (params, adjoint buffers) -> (value, scalar gradients...)
};

/// The reverse-mode derivative of m's entry (functions[0], promoted and
/// optimised). Active parameters are those of jvp_active: the floating-point
/// scalars and buffers named in `wrt` and every writable floating-point
/// buffer. The entry takes the entry's parameters, then (vjp only) one
/// cotangent per floating-point result, then one adjoint buffer per active
/// buffer parameter, in parameter order; it returns (value_and_grad: the
/// value, then) the gradients of the active scalar parameters, in order.
///
/// An adjoint buffer receives the gradient with respect to the buffer's
/// contents on entry. For vjp, the adjoint buffer of a writable buffer holds,
/// on entry, the cotangent of the contents f leaves there; every other
/// adjoint buffer is overwritten (zeroed first), never accumulated into.
///
/// Each function of the call graph becomes a forward sweep (the primal,
/// pushing what the reverse sweep needs onto tape `level`, one above any
/// tape m already uses) and a reverse sweep (popping it); see sweep.h.
/// With checkpoint_every = K > 0, a while_ loop that writes nothing (no
/// store, no call that may write) keeps a snapshot of its carried values
/// every K iterations instead of taping each one, and the reverse sweep
/// replays each stretch of K iterations before reversing it: tape memory
/// (n / K) snapshots + K iterations instead of n iterations, for one more
/// run of the loop.
/// Throws kiln::StagingError for a `wrt` entry that is not differentiable,
/// and for grad of a function whose result is not one floating-point value.
/// With `parallel`, a parallel_for with step 1 and a body without loops,
/// calls or tape ops stays parallel in both sweeps (sweep.h, Slots);
/// otherwise it becomes a sequential loop.
ir::Module reverse(const ir::Module& m, const std::vector<size_t>& wrt, ReverseMode mode, int64_t checkpoint_every = 0,
                   bool parallel = true);

}  // namespace kiln::autodiff

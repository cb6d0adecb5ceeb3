// The optimisation passes, one per file, in the order pipeline.cpp runs
// them. Each takes a promoted module (no var.load / var.store), rewrites it
// in place and leaves IR the verifier accepts. docs/passes.md explains each
// with an example.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

namespace kiln::passes {

/// Inlines calls to small functions (opts below `inline_threshold` nodes)
/// and to functions called from one place; never a recursive function.
/// Functions no longer called are removed.
void inline_calls(ir::Module& m, const Options& opts);
inline constexpr size_t inline_threshold = 40;

/// Constant folding with the IR's exact semantics, and algebraic identities
/// that hold bit for bit (x*1 -> x, x-x -> 0 on integers, ...); with
/// opts.fast_math also the float identities that do not.
void fold(ir::Module& m, const Options& opts);

/// pow(x, n) for a constant integer n: n = 0 and n = 1 always (exact);
/// multiplications for any |n| <= 16 under fast_math (libm's pow is not
/// correctly rounded, so x*x differs from pow(x, 2) in the last bit).
void reduce_strength(ir::Module& m, const Options& opts);

/// Common-subexpression elimination: a pure value (or a load with no write
/// in between) computed again where an equal one is in scope is replaced by
/// it; values of a parent region are in scope in its child regions.
void cse(ir::Module& m, const Options& opts);

/// Control-flow simplification: if on a constant or with identical pure
/// branches becomes one branch; results both branches agree on are
/// forwarded; loops with constant zero or one trip, and while loops whose
/// condition is constant false, disappear.
void simplify_cfg(ir::Module& m, const Options& opts);

/// Tape forwarding: a tape.pop that follows, in the same region, the
/// tape.push it pops (nothing in between touches that tape) takes the
/// pushed value, and both go.
void forward_tape(ir::Module& m, const Options& opts);

/// Fill forwarding: a loop whose iterations each load and then store their
/// own element of a buffer that a fill loop just set (reverse mode's
/// gradient buffers) takes the fill value instead of the load; the fill
/// goes when the loop writes every element. Only for a buffer parameter
/// that `check (disjoint ...)`s before the fill say overlaps no other.
void forward_fill(ir::Module& m, const Options& opts);

/// Loop reordering: in a two-deep nest of plain `for` loops, the stores
/// with stride 1 in the outer index and a larger one in the inner go to an
/// interchanged copy of the nest (inner loop distributed, outer loop
/// distributed, values of the outer body recomputed or kept in a
/// temporary), when every memory location keeps its sequence of accesses.
/// Runs on the module a backend gets, after tensor lowering.
void reorder_loops(ir::Module& m, const Options& opts);

/// Loop-invariant code motion out of for / while / parallel_for: pure,
/// non-trapping nodes whose operands are defined outside the loop move in
/// front of it; loads too when the loop writes no memory and surely runs.
void licm(ir::Module& m, const Options& opts);

/// Dead-code elimination: unused pure values and loads, calls to functions
/// that write no memory, loop-carried values and if-results nobody reads,
/// and structured ops left with no results and no writes.
void dce(ir::Module& m, const Options& opts);

}  // namespace kiln::passes

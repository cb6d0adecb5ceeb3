// Tensor lowering: tensor ops -> loop nests over buffers (docs/tensors.md).
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

namespace kiln::lower {

/// How lowering places work; the defaults are the pipeline's.
struct LowerOptions {
  /// A loop nest writing at least this many elements (a matmul: this many
  /// multiply-adds) runs its outer axis as a parallel_for.
  int64_t parallel_elements = 1 << 15;
  /// A 2-D matmul of at least this many multiply-adds becomes one `gemm`
  /// op (a runtime GEMM call in Backend::llvm) instead of a loop nest; 0:
  /// never. The pipeline sets it under Options::fast_math only, since a
  /// GEMM library sums in its own order: fast_math_gemm_min_work, the
  /// crossover kiln_bench_matmul measured (docs/performance.md).
  int64_t gemm_min_work = 0;
};

/// gemm_min_work under fast_math. kiln_bench_matmul on one thread: Eigen's
/// GEMM through `gemm` is 1.2x the loop nest's speed at 32x32x32 and
/// 1.3-1.7x above, but 0.75x at 16x16x16 and 0.3x at 8x8x8 (its packing and
/// the call cost more than the product).
inline constexpr int64_t fast_math_gemm_min_work = 32 * 32 * 32;

/// Replaces every tensor op of m by scalar code: each tensor value is either
/// fused (its elements computed where they are used) or materialised into an
/// `alloc` buffer by one loop nest.
///
/// Fused: elementwise ops, splats, constants, iota and views (broadcast,
/// transpose, reshape, slice) whose value is used once, in its own region,
/// and not by a matmul; a tensor.load of a read-only buffer reads the buffer
/// in place (kiln assumes a read-only buffer is not written during the call
/// through another parameter). Materialised: everything else (sums, maxes,
/// matmuls, embeds, dense constants, values used more than once or inside
/// a nested region, loads of writable buffers). So an elementwise chain
/// ending in a store or a reduction is one loop nest with no temporaries.
///
/// Sums run in row-major order from -0.0 (equal, bit for bit, to starting
/// from the first element); maxes start from the first element; matmul sums
/// k upwards from +0.0 with the product rounded before the add, as the
/// interpreter does. Throws kiln::CompileError for tensors that cross a call
/// or a staged branch or loop boundary as values, and for a temporary needed
/// inside a parallel_for body.
void lower_tensors(ir::Module& m, const LowerOptions& opts = {});

/// Does the module use tensor ops?
bool has_tensor_ops(const ir::Module& m);

}  // namespace kiln::lower

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
};

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

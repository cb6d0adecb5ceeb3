// The CUDA emitter: a module as CUDA C++ that NVRTC (and nvcc) compile.
//
// How a staged function maps to the GPU. The entry function's top-level
// body is cut into launches, run in order on one stream:
//   * each parallel_for at the top level of the entry becomes a grid kernel:
//     a __global__ function whose threads share the iteration space in a
//     grid-stride loop (any grid size covers any trip count);
//   * each stretch of other top-level code becomes a serial kernel,
//     launched with one thread.
// A parallel_for nested inside if_/for_/while_ or in a callee runs its
// iterations in order inside the thread that reaches it. Values one launch
// computes and a later one uses, and the entry's results, travel through
// two device arrays of slots (integers widened to int64, floats to double,
// both exact). Callees are __device__ functions.
//
// Every kernel takes the entry's parameters in the C++ export's convention
// (a scalar by value; a buffer as a device pointer and an int64 size), then
// one device buffer per temporary of the entry (CudaModule::scratch: tensor
// lowering's allocs, which live in the entry's top region), then the two
// slot arrays, each as a pointer and a size:
//   long long* kiln_slots_i, int64 size, double* kiln_slots_f, int64 size.
// A trap (integer division by zero, a zero loop step) records its message
// in the module's __device__ globals `kiln_error_flag` (unsigned int, 0 =
// none) and `kiln_error_message` (char[256]) and the thread goes on; the
// host reads them after the launches and throws kiln::RuntimeError.
#pragma once

#include <kiln/ir/ir.h>

#include <string>
#include <vector>

namespace kiln::emit {

struct CudaOptions {
  /// Append an extern "C" host launcher (CUDA runtime API) named after the
  /// entry: it takes the entry's parameters (buffers as device pointers and
  /// sizes), returns one result or writes several through out-pointers,
  /// like the C++ export, and returns nothing else; errors abort with a
  /// message. For exported .cu files compiled by nvcc.
  bool host_launcher = false;
};

/// One launch of the sequence, in order.
struct CudaLaunch {
  std::string kernel;  // the __global__ function's (extern "C") name
  bool grid = false;   // grid-stride kernel over a parallel_for; else one thread
};

/// Where one result of the entry is after the launches.
struct CudaResult {
  bool floating = false;  // in kiln_slots_f (as double), else kiln_slots_i (as int64)
  size_t slot = 0;
  ir::Scalar type = ir::Scalar::i64;  // the result's own type
};

/// A temporary buffer of the entry (tensor lowering's alloc): the host
/// allocates it in device memory for each call and passes it after the
/// entry's own parameters, as a pointer and a size.
struct CudaScratch {
  ir::Scalar type = ir::Scalar::f32;
  int64_t count = 0;
};

struct CudaModule {
  std::string source;
  std::vector<CudaLaunch> launches;
  size_t int_slots = 0, float_slots = 0;  // lengths of the slot arrays (each at least 1)
  std::vector<CudaResult> results;
  std::vector<CudaScratch> scratch;  // the entry's temporaries, in parameter order
};

/// Emits m (promoted and optimised; functions[0] is the entry).
/// Deterministic. Throws kiln::CompileError for what the GPU cannot run
/// (reverse-mode tape ops), naming the op's file:line.
CudaModule emit_cuda(const ir::Module& m, const CudaOptions& opts = {});

}  // namespace kiln::emit

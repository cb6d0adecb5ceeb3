// Backend::cuda: the CUDA emitter's source, compiled by NVRTC to PTX when
// compile() runs (no GPU or driver needed for that), loaded by the driver
// and launched when the function is called. PTX is cached in memory and on
// disk (<cache dir>/cuda) by the IR, the emitted source, the architecture,
// fast_math and NVRTC's version.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include "../kernel.h"

#include <memory>
#include <string>

namespace kiln::cuda {

/// The architecture a compile targets: Options::cuda_arch, else
/// $KILN_CUDA_ARCH, else the device's own ("sm_90" for compute capability
/// 9.0), else "sm_90".
std::string target_arch(const Options& opts);

/// Compiles a promoted, optimised module to PTX. Throws kiln::CompileError
/// with NVRTC's log (and the kept source's path) when NVRTC fails or is
/// missing. Calling the kernel without a CUDA device throws
/// kiln::RuntimeError "no CUDA device ..."; traps of the running code
/// (integer division by zero, a zero loop step) become kiln::RuntimeError.
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts);
/// The same with default options (the differential tester's factory).
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m);

/// What this process's CUDA backend did (for tests and benchmarks).
struct Stats {
  size_t compiles = 0;     // runs of NVRTC for compile() (not the CUBINs a call may need)
  size_t memory_hits = 0;  // PTX found compiled in this process
  size_t disk_hits = 0;    // PTX found in the disk cache
};
Stats stats();

}  // namespace kiln::cuda

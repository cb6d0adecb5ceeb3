// Backend::llvm: kiln IR lowered to LLVM IR, optimised for the host CPU
// (docs/llvm.md: the passes) and linked into ORC's LLJIT in this process.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include "../kernel.h"

#include <memory>
#include <string>

namespace kiln::llvm_backend {

/// Compiles a promoted, optimised module. Throws kiln::CompileError when
/// LLVM fails; traps of the running code become kiln::RuntimeError.
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts);
/// The same with default options (the differential tester's factory).
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m);

/// The LLVM IR Backend::llvm compiles for a promoted, optimised, lowered
/// module, after LLVM's optimisation for this CPU (kiln-opt --emit=llvm).
/// Buffers are lowered as when they may alias (a call's runtime check
/// picks the no-alias version when they do not).
std::string llvm_ir(const ir::Module& m, const Options& opts);

/// What this process's LLVM backend did (for tests and benchmarks).
struct Stats {
  size_t compiles = 0;     // runs of LLVM (lower, optimise, compile)
  size_t memory_hits = 0;  // objects found linked in this process
  size_t disk_hits = 0;    // objects found in the disk cache
};
Stats stats();

/// The vector math library vectorised loops may call under
/// Options::fast_math: "libmvec" (glibc's, loaded into the process the
/// first time this is asked), or "" when it cannot be loaded (fast_math
/// loops then keep scalar calls). Part of the cache key of fast_math kernels.
const std::string& vector_math_library();

}  // namespace kiln::llvm_backend

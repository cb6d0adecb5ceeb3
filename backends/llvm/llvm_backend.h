// Backend::llvm: kiln IR lowered to LLVM IR, optimised for the host CPU
// (docs/llvm.md: the passes) and linked into ORC's LLJIT in this process.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include "../kernel.h"

#include <memory>

namespace kiln::llvm_backend {

/// Compiles a promoted, optimised module. Throws kiln::CompileError when
/// LLVM fails; traps of the running code become kiln::RuntimeError.
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts);
/// The same with default options (the differential tester's factory).
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m);

/// What this process's LLVM backend did (for tests and benchmarks).
struct Stats {
  size_t compiles = 0;     // runs of LLVM (lower, optimise, compile)
  size_t memory_hits = 0;  // objects found linked in this process
  size_t disk_hits = 0;    // objects found in the disk cache
};
Stats stats();

}  // namespace kiln::llvm_backend

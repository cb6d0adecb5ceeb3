// Backend::cxx: the C++ emitter's source, compiled by the system compiler
// into a shared object, loaded with dlopen and called through its
// kiln_call entry point. Compiled objects are cached in memory and on disk
// by a hash of the source, the compiler, its version, the flags and (for
// -march=native) the host CPU.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include "../kernel.h"

#include <filesystem>
#include <memory>
#include <string>

namespace kiln::cxx {

/// The compiler and flags a compile uses: Options, else $KILN_CXX /
/// $KILN_CXX_FLAGS, else "c++" and "-O3 -march=native". Always added:
/// -std=c++17 -shared -fPIC -ffp-contract=off.
struct Toolchain {
  std::string compiler;
  std::string flags;
};
Toolchain toolchain(const Options& opts);

/// Where compiled code is cached: $KILN_CACHE_DIR, else
/// $XDG_CACHE_HOME/kiln, else ~/.cache/kiln (created with mode 0700).
/// Throws kiln::CompileError when it cannot be created. KILN_DISK_CACHE=0
/// compiles in a scratch directory instead and keeps no kernels (only the
/// precompiled standard headers, which depend on the toolchain alone).
std::filesystem::path cache_root();

/// Compiles a promoted, optimised module. Throws kiln::CompileError with the
/// compiler's output and the path of the kept source when compilation fails.
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts);
/// The same with default options (the differential tester's factory).
std::shared_ptr<detail::Kernel> make_kernel(ir::Module m);

/// What this process's cxx backend did (for tests and benchmarks).
struct Stats {
  size_t compiles = 0;     // runs of the compiler
  size_t memory_hits = 0;  // objects found loaded in this process (or being compiled by another thread)
  size_t disk_hits = 0;    // objects found in the cache directory
  size_t headers_built = 0;  // standard headers precompiled (see cxx_backend.cpp)
};
Stats stats();

}  // namespace kiln::cxx

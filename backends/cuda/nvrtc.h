// NVRTC, the CUDA toolkit's runtime compiler, loaded with dlopen the first
// time it is needed: kiln links no CUDA library, so it builds and runs
// where the toolkit is missing and says so only when CUDA is asked for.
#pragma once

#include <string>

namespace kiln::cuda {

/// How compile_cuda compiles.
struct NvrtcOptions {
  /// The GPU architecture, "sm_90" style (an "a" or "f" suffix is kept).
  std::string arch = "sm_90";
  /// Also produce a CUBIN (SASS for exactly `arch`), not only PTX.
  bool cubin = false;
  /// --use_fast_math instead of --fmad=false (a*b+c rounds twice by default).
  bool fast_math = false;
};

/// What compile_cuda produced.
struct NvrtcOutput {
  std::string ptx;     // PTX text for compute_XX of the arch
  std::string cubin;   // empty unless asked for
  std::string log;     // NVRTC's log (warnings; usually empty)
  double seconds = 0;  // time in NVRTC
};

/// Compiles CUDA C++ `source` (program `name`, used in NVRTC's messages and
/// the kept file's name). Throws kiln::CompileError with NVRTC's log and
/// the path of a file holding the source when compilation fails, and a
/// message saying what was looked for when NVRTC cannot be loaded.
NvrtcOutput compile_cuda(const std::string& source, const std::string& name, const NvrtcOptions& opts);

/// Whether NVRTC loads; when it does not, *why says why and what to do.
bool nvrtc_available(std::string* why = nullptr);

/// NVRTC's version, "13.0" ("" when it does not load): part of cache keys.
std::string nvrtc_version();

/// "sm_90" -> "compute_90". Throws kiln::CompileError for a name that is
/// not "sm_" followed by digits and an optional "a" or "f".
std::string virtual_arch(const std::string& arch);

}  // namespace kiln::cuda

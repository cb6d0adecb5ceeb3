// The CUDA toolchain check the tests and kiln-fuzz share: a module's CUDA
// source must compile with NVRTC to PTX for sm_90, and the toolkit's
// ptxas must accept that PTX (no GPU needed for either).
#pragma once

#include <kiln/ir/ir.h>

#include <string>

namespace kiln::test {

/// Whether this kiln was built with the CUDA toolkit and NVRTC and ptxas
/// are there; when not, *why says what is missing.
bool cuda_tools(std::string* why = nullptr);

/// What happened to one module.
struct CudaCheck {
  bool refused = false;  // the emitter refused it with a kiln::CompileError (reverse-mode tape ops)
  bool grid = false;     // it has at least one grid launch (a top-level parallel_for)
  std::string failure;   // "" when NVRTC and ptxas accepted it (or it was refused)
};

/// Emits m (promoted and optimised) for CUDA, compiles the source with NVRTC
/// to PTX for sm_90 and runs `ptxas -arch=sm_90` on the PTX. A failure
/// names the step, its log, and a file keeping the source. With
/// compile = false only the emitter runs (kiln's own code).
CudaCheck check_cuda(const ir::Module& m, bool compile = true);

/// Whether this is a sanitizer build. There, NVRTC (a dlopen'd library)
/// crashes LeakSanitizer's tracer at the exit of some test processes
/// ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal
/// error"), so the unit tests check only the emitter under sanitizers and
/// leave NVRTC and ptxas to the Release tree.
constexpr bool sanitized =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

}  // namespace kiln::test

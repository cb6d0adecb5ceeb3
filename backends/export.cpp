// export_source(): the optimised module through an emitter, into a file.
#include <kiln/export.h>

#include "../codegen/emit/cpp.h"
#include "../codegen/emit/cuda.h"
#include "../codegen/passes/passes.h"

#if KILN_HAVE_CUDA
#include "cuda/nvrtc.h"
#endif

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kiln::detail {
namespace {

// Exported code compiles warning-free (-Wall -Wextra -Werror) even when the
// user turned the optimiser off: dead values would be unused variables.
ir::Module export_module(const std::shared_ptr<StagedState>& s, const Options& opts) {
  ir::Module m = staged_module(s, &opts);
  passes::dce(m, opts);
  return m;
}

}  // namespace

namespace {

std::string target_text(const std::shared_ptr<StagedState>& s, kiln::Target t, const Options& opts) {
  switch (t) {
    case kiln::Target::cpp:
      return emit::emit_cpp(export_module(s, opts));
    case kiln::Target::cuda:
      return emit::emit_cuda(export_module(s, opts), {.host_launcher = true}).source;
    case kiln::Target::ptx:
#if KILN_HAVE_CUDA
    {
      const ir::Module m = export_module(s, opts);
      // Not the default Backend::cuda resolves (environment, device): an
      // exported file is the same wherever it is written.
      const std::string arch = opts.cuda_arch.empty() ? "sm_90" : opts.cuda_arch;
      return cuda::compile_cuda(emit::emit_cuda(m).source, "@" + m.functions.at(0).name,
                                {.arch = arch, .fast_math = opts.fast_math})
          .ptx;
    }
#else
      throw CompileError("exporting PTX needs NVRTC, and this kiln was built without the CUDA toolkit: export "
                         "Target::cuda and compile it with nvcc, or rebuild kiln where CMake finds the toolkit");
#endif
  }
  throw InternalError("export_text: unknown target");
}

}  // namespace

std::string export_text(const std::shared_ptr<StagedState>& s, kiln::Target t, const Options& opts, Loc loc) {
  try {
    return target_text(s, t, opts);
  } catch (const CompileError& e) {
    // NVRTC knows the program, not the user's line: name the export that failed.
    throw CompileError(where(loc) + ": kiln::source: " + e.what());
  }
}

std::string export_header_text(const std::shared_ptr<StagedState>& s, const Options& opts) {
  return emit::emit_cpp_header(export_module(s, opts));
}

void write_text(const std::filesystem::path& path, const std::string& text, Loc loc) {
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    const std::string why = errno ? std::strerror(errno) : "write failed";
    throw IOError(user_message("cannot write " + path.string() + " (" + why + ")", loc,
                               "give a file path in a directory that exists and is writable"));
  }
}

}  // namespace kiln::detail

// export_source(): the optimised module through an emitter, into a file.
#include <kiln/export.h>

#include "../codegen/emit/cpp.h"
#include "../codegen/passes/passes.h"

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

std::string export_text(const std::shared_ptr<StagedState>& s, kiln::Target t, const Options& opts) {
  switch (t) {
    case kiln::Target::cpp:
      return emit::emit_cpp(export_module(s, opts));
    case kiln::Target::cuda:
    case kiln::Target::ptx:
      break;
  }
  throw CompileError("exporting CUDA or PTX is not part of this kiln build yet: export Target::cpp");
}

std::string export_header_text(const std::shared_ptr<StagedState>& s, const Options& opts) {
  return emit::emit_cpp_header(export_module(s, opts));
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush())
    throw IOError("cannot write " + path.string() + ": check that its directory exists and is writable");
}

}  // namespace kiln::detail

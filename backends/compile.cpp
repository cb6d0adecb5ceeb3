// compile(): staged function -> module -> default pipeline -> backend kernel.
#include <kiln/compile.h>
#include <kiln/ir/printer.h>

#include "../codegen/passes/pipeline.h"
#include "cxx/cxx_backend.h"
#include "interp/interpreter.h"
#include "kernel.h"

namespace kiln::detail {
namespace {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::interp: return "interp";
    case Backend::llvm: return "llvm";
    case Backend::cxx: return "cxx";
    case Backend::cuda: return "cuda";
  }
  return "?";
}

}  // namespace

ir::Module staged_module(const std::shared_ptr<StagedState>& s, const Options* opts) {
  return passes::run_pipeline(build_module(s), opts ? *opts : Options{});
}

std::string staged_ir(const std::shared_ptr<StagedState>& s, const Options* opts) {
  return ir::print(staged_module(s, opts));
}

std::shared_ptr<Kernel> compile_kernel(const std::shared_ptr<StagedState>& s, const Options& opts) {
  ir::Module m = staged_module(s, &opts);
  switch (opts.backend) {
    case Backend::interp:
      return interp::make_kernel(std::move(m));
    case Backend::cxx:
      return cxx::make_kernel(std::move(m), opts);
    case Backend::llvm:
    case Backend::cuda:
      break;
  }
  throw CompileError(std::string("the ") + backend_name(opts.backend) +
                     " backend is not part of this kiln build: use Backend::interp, or rebuild kiln with it enabled");
}

void invoke(const Kernel& k, const Slot* args, size_t nargs, Slot* results, size_t nresults) {
  k.call(args, nargs, results, nresults);
}

}  // namespace kiln::detail

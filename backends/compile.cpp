// compile(): staged function -> module -> default pipeline -> backend kernel.
#include <kiln/compile.h>
#include <kiln/ir/printer.h>

#include "../codegen/lower/lower_tensors.h"
#include "../codegen/passes/pipeline.h"
#include "cxx/cxx_backend.h"
#if KILN_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif
#if KILN_HAVE_LLVM
#include "llvm/llvm_backend.h"
#endif
#include "interp/interpreter.h"
#include "kernel.h"

namespace kiln::detail {
namespace {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::automatic: return "automatic";
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

KernelFactory kernel_factory(Backend b) {
  switch (b) {
    case Backend::automatic:
      return kernel_factory(Backend::llvm) ? kernel_factory(Backend::llvm) : kernel_factory(Backend::interp);
    case Backend::interp:
      return [](ir::Module m, const Options&) { return interp::make_kernel(std::move(m)); };
    case Backend::cxx:
      return static_cast<KernelFactory>(&cxx::make_kernel);
    case Backend::llvm:
#if KILN_HAVE_LLVM
      return static_cast<KernelFactory>(&llvm_backend::make_kernel);
#else
      return nullptr;
#endif
    case Backend::cuda:
#if KILN_HAVE_CUDA
      return static_cast<KernelFactory>(&cuda::make_kernel);
#else
      return nullptr;
#endif
  }
  return nullptr;
}

namespace {

std::shared_ptr<Kernel> kernel_for(const std::shared_ptr<StagedState>& s, const Options& given) {
  KernelFactory make = kernel_factory(given.backend);
  if (!make)
    throw CompileError(std::string("the ") + backend_name(given.backend) +
                       " backend is not part of this kiln build: use Backend::interp or Backend::cxx, or rebuild kiln "
                       "with it enabled (Backend::llvm needs Debian's llvm-19-dev, Backend::cuda the CUDA toolkit)");
  Options opts = given;
#if KILN_HAVE_CUDA
  // The architecture "" stands for comes from the environment or the
  // device: kernels are remembered under the one it resolves to.
  if (opts.backend == Backend::cuda) opts.cuda_arch = cuda::target_arch(opts);
#endif
  // Backend::cxx is not remembered: its compiler and flags may come from
  // the environment, which can change between compiles.
  const bool remember = opts.backend != Backend::cxx;
  if (remember)
    if (std::shared_ptr<Kernel> k = compiled_before(*s, opts)) return k;
  ir::Module m = staged_module(s, &opts);
  if (opts.backend != Backend::interp && lower::has_tensor_ops(m))
    throw CompileError("@" + m.functions.at(0).name + " keeps its tensor ops (Options::passes.lower_tensors = false), which "
                       "only Backend::interp runs: compile it with lower_tensors on, or with Backend::interp");
  std::shared_ptr<Kernel> k = make(std::move(m), opts);
  if (remember) remember_compiled(*s, opts, k);
  return k;
}

}  // namespace

std::shared_ptr<Kernel> compile_kernel(const std::shared_ptr<StagedState>& s, const Options& opts, Loc loc) {
  try {
    return kernel_for(s, opts);
  } catch (const CompileError& e) {
    // A backend knows the program, not the user's line: name the compile() that failed.
    throw CompileError(where(loc) + ": kiln::compile: " + e.what());
  }
}

}  // namespace kiln::detail

namespace kiln {
bool available(Backend b) { return detail::kernel_factory(b) != nullptr; }
}  // namespace kiln

namespace kiln::detail {

void invoke(const Kernel& k, const Slot* args, size_t nargs, Slot* results, size_t nresults, Loc loc) {
  try {
    k.call(args, nargs, results, nresults);
  } catch (const RuntimeError& e) {
    // A trap names the staged line; the call's line says which call it was.
    throw RuntimeError(std::string(e.what()) + " (in the call at " + where(loc) + ")");
  }
}

}  // namespace kiln::detail

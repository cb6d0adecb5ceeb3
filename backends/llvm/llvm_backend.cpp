// Backend::llvm: lower, optimise, compile, load, call. Traps of JIT code
// longjmp back to run_trapping here (JIT frames carry no unwind tables we
// rely on) and become kiln::RuntimeError.
#include "llvm_backend.h"

#include <kiln/error.h>

#include "../runtime/trap.h"
#include "jit.h"
#include "lower.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <array>
#include <vector>

namespace kiln::llvm_backend {
namespace {

class LlvmKernel final : public detail::Kernel {
 public:
  LlvmKernel(std::shared_ptr<LoadedObject> object, size_t nparams, size_t nresults)
      : object_(std::move(object)), nparams_(nparams), nresults_(nresults) {}

  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    if (nargs != nparams_)
      throw InternalError("llvm kernel takes " + std::to_string(nparams_) + " arguments, got " + std::to_string(nargs));
    // kiln_call writes every result: a small array avoids an allocation per call.
    std::array<detail::Slot, 8> small;
    std::vector<detail::Slot> large(nresults_ > small.size() ? nresults_ : 0);
    struct Call {
      LoadedObject::Entry entry;
      const detail::Slot* args;
      detail::Slot* results;
    } c{object_->entry(), args, large.empty() ? small.data() : large.data()};
    if (const char* trap = runtime::run_trapping([](void* p) {
          auto* c = static_cast<Call*>(p);
          c->entry(c->args, c->results);
        }, &c))
      throw RuntimeError(trap);
    for (size_t i = 0; i < nresults && i < nresults_; ++i) results[i] = c.results[i];
  }

 private:
  std::shared_ptr<LoadedObject> object_;
  size_t nparams_, nresults_;
};

}  // namespace

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts) {
  const ir::Function& entry = m.functions.at(0);
  llvm::LLVMContext ctx;
  std::string object = compile_to_object(lower(m, ctx, {.fast_math = opts.fast_math, .no_alias = opts.assume_no_alias}),
                                         entry.name);
  return std::make_shared<LlvmKernel>(load_object(object, entry.name), entry.params().size(), entry.result_types.size());
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m) { return make_kernel(std::move(m), Options{}); }

}  // namespace kiln::llvm_backend

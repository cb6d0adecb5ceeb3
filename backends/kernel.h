// The one small interface every backend implements: a compiled module that
// can be called with argument slots.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include <kiln/error.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace kiln::detail {

/// A compiled module, ready to call. Slots follow the parameter types of the
/// entry function: scalars in i/f32/f64, buffers as p + size.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void call(const Slot* args, size_t nargs, Slot* results, size_t nresults) const = 0;
};

/// The calling convention of generated code, `kiln_call(args, results)`,
/// shared by the compiled backends: checks the argument count, lets `run`
/// call the entry with a result array that has room for every result (on
/// the stack for up to eight), and copies the results out.
template <class Run>
void call_generated(const char* backend, size_t nparams, size_t nresults_made, size_t nargs, Slot* results,
                    size_t nresults, Run&& run) {
  if (nargs != nparams)
    throw InternalError(std::string(backend) + " kernel takes " + std::to_string(nparams) + " arguments, got " +
                        std::to_string(nargs));
  std::array<Slot, 8> small;
  std::vector<Slot> large(nresults_made > small.size() ? nresults_made : 0);
  Slot* out = large.empty() ? small.data() : large.data();
  run(out);
  for (size_t i = 0; i < nresults && i < nresults_made; ++i) results[i] = out[i];
}

/// Compiles a promoted, optimised module for one backend.
using KernelFactory = std::shared_ptr<Kernel> (*)(ir::Module m, const Options& opts);

/// The factory of backend b, or null when b is not built into this kiln.
KernelFactory kernel_factory(Backend b);

}  // namespace kiln::detail

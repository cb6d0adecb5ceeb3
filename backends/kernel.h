// The one small interface every backend implements: a compiled module that
// can be called with argument slots.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include <memory>

namespace kiln::detail {

/// A compiled module, ready to call. Slots follow the parameter types of the
/// entry function: scalars in i/f32/f64, buffers as p + size.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void call(const Slot* args, size_t nargs, Slot* results, size_t nresults) const = 0;
};

/// Compiles a promoted, optimised module for one backend.
using KernelFactory = std::shared_ptr<Kernel> (*)(ir::Module m, const Options& opts);

/// The factory of backend b, or null when b is not built into this kiln.
KernelFactory kernel_factory(Backend b);

}  // namespace kiln::detail

// The one small interface every backend implements: a compiled module that
// can be called with argument slots.
#pragma once

#include <kiln/compile.h>

namespace kiln::detail {

/// A compiled module, ready to call. Slots follow the parameter types of the
/// entry function: scalars in i/f32/f64, buffers as p + size.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void call(const Slot* args, size_t nargs, Slot* results, size_t nresults) const = 0;
};

}  // namespace kiln::detail

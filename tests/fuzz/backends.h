// The backends the differential tester runs programs on: one row per
// backend kiln knows of. A backend that is not built into this kiln has no
// factory, and cuda without a device cannot run; asking for either is a
// usage error.
#pragma once

#include <kiln/compile.h>
#include <kiln/cuda.h>
#include <kiln/ir/ir.h>

#include "backends/kernel.h"

#include <memory>
#include <string_view>
#include <vector>

namespace kiln::fuzz {

/// A backend as the tester sees it: a name and, when built, a factory that
/// compiles a promoted module into a callable kernel.
struct Backend {
  std::string_view name;
  kiln::Backend id;
  /// Built, and for cuda a device to run on (kiln::cuda_status() says why not).
  bool available() const {
    return detail::kernel_factory(id) != nullptr && (id != kiln::Backend::cuda || kiln::cuda_device_available());
  }
  std::shared_ptr<detail::Kernel> make(ir::Module m) const { return detail::kernel_factory(id)(std::move(m), Options{}); }
};

/// Every backend kiln knows of, built or not; the interpreter comes first.
const std::vector<Backend>& backend_table();

/// The interpreter: the oracle.
const Backend& interpreter();

/// The backends a --backends value names: a comma-separated list, or
/// "all" for every available one. Throws std::invalid_argument naming an
/// unknown backend or one that is not built.
std::vector<const Backend*> select_backends(std::string_view spec);

/// Runs the entry function of `m` on `b` with argument slots `args`
/// (buffers point at memory the call may write).
std::vector<detail::Slot> run_on(const Backend& b, const ir::Module& m, const std::vector<detail::Slot>& args);

}  // namespace kiln::fuzz

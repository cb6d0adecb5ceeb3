// kiln-opt --run: the entry function called on a backend with arguments
// given as text, and its results and written buffers as text.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include <string>
#include <vector>

namespace kiln::opt {

/// Calls m's entry on `backend` (interp, cxx, llvm) with one argument per
/// parameter: a number or true/false for a scalar, `[1, 2.5]` or
/// `zeros(N)` for a buffer. Returns one line per result ("result 0: f64 11")
/// and one per writable buffer after the call ("buffer 2: [1, 2]"), floats
/// in shortest round-trip form. Throws std::runtime_error for bad arguments.
std::string run_entry(const ir::Module& m, const std::string& backend, const std::vector<std::string>& args,
                      const Options& opts);

}  // namespace kiln::opt

// The one textual form of the IR: stable, deterministic, used by golden tests
// and KILN_DUMP. Values are numbered %0, %1, ... in order of appearance, so
// the text does not depend on node-table layout.
#pragma once

#include <kiln/ir/ir.h>

#include <string>

namespace kiln::ir {

/// Printing choices.
struct PrintOptions {
  /// Append `// file:line` to each statement that carries a source location.
  bool locations = false;
};

/// Print one function (the module resolves callee names; may be null).
std::string print(const Function& f, const Module* m = nullptr, PrintOptions opts = {});
/// Print every function of a module, entry first.
std::string print(const Module& m, PrintOptions opts = {});

}  // namespace kiln::ir

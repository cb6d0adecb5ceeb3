// KILN_DUMP: which intermediate forms to print to stderr.
#pragma once

#include <string_view>

namespace kiln::ir {

/// True when KILN_DUMP (a comma-separated list: ir, cpp, ...) names `kind`.
bool dump_requested(std::string_view kind);

}  // namespace kiln::ir

// KILN_DUMP: which intermediate forms to print to stderr.
#pragma once

#include <string>
#include <string_view>

namespace kiln::ir {

/// True when KILN_DUMP (a comma-separated list: ir, cpp, ...) names `kind`.
bool dump_requested(std::string_view kind);

/// The path of the executable `name` in a directory of PATH, or "" when
/// there is none.
std::string find_on_path(std::string_view name);

}  // namespace kiln::ir

// KILN_DUMP: which intermediate forms to print to stderr, and the pictures
// KILN_DUMP=dot writes to files.
#pragma once

#include <kiln/ir/ir.h>

#include <string>
#include <string_view>

namespace kiln::ir {

/// True when KILN_DUMP (a comma-separated list: ir, dot, cpp, ...) names `kind`.
bool dump_requested(std::string_view kind);

/// KILN_DUMP=dot: writes m (print_dot) as <entry>.<NN>.<stage>.dot into the
/// directory KILN_DUMP_DIR (default: kiln-dump in the working directory,
/// created when missing), entry being the entry function's name reduced to
/// [A-Za-z0-9_.-] and NN the two-digit `sequence`. When Graphviz's `dot` is
/// on PATH it also writes <entry>.<NN>.<stage>.svg; when it is not, it says
/// so once on stderr. Throws kiln::IOError naming the directory when the
/// directory cannot be made or a file cannot be written.
void dump_dot(const Module& m, int sequence, std::string_view stage);

/// The path of the executable `name` in a directory of PATH, or "" when
/// there is none.
std::string find_on_path(std::string_view name);

}  // namespace kiln::ir

// KILN_DUMP parsing.
#include "dump.h"

#include <cstdlib>

namespace kiln::ir {

bool dump_requested(std::string_view kind) {
  const char* env = std::getenv("KILN_DUMP");
  if (!env) return false;
  std::string_view list = env;
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == kind) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace kiln::ir

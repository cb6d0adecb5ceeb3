// KILN_DUMP parsing.
#include "dump.h"

#include <cstdlib>
#include <filesystem>

#include <unistd.h>

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

std::string find_on_path(std::string_view name) {
  const char* env = std::getenv("PATH");
  std::string_view path = env ? env : "";
  while (true) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    // An empty entry is the working directory, as for execvp.
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
    if (colon == std::string_view::npos) return "";
    path.remove_prefix(colon + 1);
  }
}

}  // namespace kiln::ir

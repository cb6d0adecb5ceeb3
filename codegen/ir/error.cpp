// Formatting of user-facing error messages.
#include <kiln/error.h>

namespace kiln {

std::string where(const std::source_location& loc) {
  if (loc.line() == 0) return "<unknown location>";
  return std::string(loc.file_name()) + ":" + std::to_string(loc.line());
}

std::string user_message(const std::string& what, const std::source_location& loc, const std::string& remedy) {
  std::string msg = what + " (" + where(loc) + ")";
  if (!remedy.empty()) msg += ": " + remedy;
  return msg;
}

}  // namespace kiln

// Helpers shared by the tests: running a staged function on the interpreter
// and normalising IR text for check lines.
#pragma once

#include <kiln/kiln.h>
#include <kiln/ir/printer.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace kiln::test {

/// Options that show IR as staging produced it (promotion only, no
/// optimisation): what tests of the front end look at.
inline const Options unoptimised{.optimize = false};

/// Compiles with the interpreter (the oracle), verifying after each pass.
template <class Sig>
Compiled<Sig> interp(const Staged<Sig>& s) {
  return compile(s, {.backend = Backend::interp, .verify_each_pass = true});
}

/// True when every line of `checks` appears in `text`, in order (each
/// check is a substring of some later line), the way FileCheck reads CHECK.
inline bool check_lines(const std::string& text, const std::vector<std::string>& checks, std::string* why = nullptr) {
  size_t pos = 0;
  for (const auto& c : checks) {
    size_t at = text.find(c, pos);
    if (at == std::string::npos) {
      if (why) *why = "missing (in order): " + c;
      return false;
    }
    pos = text.find('\n', at);
    if (pos == std::string::npos) pos = text.size();
  }
  return true;
}

/// The message of the kiln exception E that `fn` throws ("" and a failed
/// check when it throws nothing).
template <class E, class F>
std::string error_message(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  FAIL_CHECK("expected an exception, none was thrown");
  return "";
}

/// Number of occurrences of `needle` in `text`.
inline size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace kiln::test

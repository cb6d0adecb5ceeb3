// The one check every misuse case makes: the misuse throws exactly the
// kiln exception it should, and its message names the user's file:line and
// says what to do.
#pragma once

#include "backends/environment.h"  // ScopedEnv
#include <kiln/error.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <source_location>
#include <string>
#include <typeinfo>

namespace kiln::test {

/// The kiln exception class of `e`, for failure messages.
inline std::string error_kind(const std::exception& e) {
  if (dynamic_cast<const StagingError*>(&e)) return "kiln::StagingError";
  if (dynamic_cast<const ShapeError*>(&e)) return "kiln::ShapeError";
  if (dynamic_cast<const RuntimeError*>(&e)) return "kiln::RuntimeError";
  if (dynamic_cast<const CompileError*>(&e)) return "kiln::CompileError";
  if (dynamic_cast<const IOError*>(&e)) return "kiln::IOError";
  if (dynamic_cast<const InternalError*>(&e)) return "kiln::InternalError";
  return typeid(e).name();
}

/// Runs `misuse`, which must throw exactly E (not another kiln::Error, and
/// not nothing) whose message names the calling test file at `line` (read
/// after `misuse` ran, so the lambda may set it at the misuse with
/// __LINE__) and contains `remedy`. Returns the message, for checks of
/// what it says went wrong.
///
///   int line = 0;
///   expect_misuse<kiln::StagingError>([&] { line = __LINE__; kiln::if_(true, [] {}); }, line, "kiln::stage()");
template <class E, class F>
std::string expect_misuse(F&& misuse, const int& line, const std::string& remedy,
                          std::source_location at = std::source_location::current()) {
  std::string msg, kind;
  try {
    misuse();
  } catch (const Error& e) {
    msg = e.what();
    kind = error_kind(e);
  }
  std::string file = at.file_name();
  file = file.substr(file.find_last_of('/') + 1);
  const std::string here = file + ":" + std::to_string(line);
  INFO("the misuse threw " << (kind.empty() ? "nothing" : kind) << ": " << msg);
  // KILN_PRINT_MISUSE=1 prints every case's message (docs/errors.md quotes them).
  if (const char* print = std::getenv("KILN_PRINT_MISUSE"); print && *print == '1')
    std::printf("=== %s\n%s: %s\n", Catch::getResultCapture().getCurrentTestName().c_str(), kind.c_str(), msg.c_str());
  CHECK(kind == error_kind(E("")));
  CHECK_THAT(msg, Catch::Matchers::Contains(here));
  CHECK_THAT(msg, Catch::Matchers::Contains(remedy));
  return msg;
}

}  // namespace kiln::test

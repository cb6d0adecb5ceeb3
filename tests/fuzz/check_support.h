// What check.cpp and check_derivatives.cpp share: a report's failure, an
// exception's description, the printer/parser round trip every module a
// check makes must survive, and a run on a backend against the oracle.
#pragma once

#include "check.h"

#include <exception>
#include <optional>
#include <string>

namespace kiln::fuzz {

/// "kiln::InternalError: message".
std::string describe(const std::exception& e);

/// Every module a check makes must read back as itself: the printer and
/// the parser (ir/parser.h) are inverse on all of them. Throws
/// InternalError naming `what` and the first line that differs.
void round_trip(const ir::Module& m, const char* what);

/// r with verdict v at step `at` and the detail text.
Report failure(Report r, Verdict v, const Step& at, std::string detail);

/// Runs m on b with `in` (step `at`, reported to progress) and compares
/// what it returns and leaves in buffers with `expected`, by `entry`'s
/// outputs: r failed at `at` (run_error, mismatch), or nothing when they agree.
std::optional<Report> run_against(const Report& r, const Step& at, const Progress& progress, const Backend& b,
                                  const ir::Module& m, const Inputs& in, const ir::Function& entry, const Outcome& expected);

}  // namespace kiln::fuzz

// What check.cpp and check_derivatives.cpp share: a report's failure, an
// exception's description, and the printer/parser round trip every module a
// check makes must survive.
#pragma once

#include "check.h"

#include <exception>
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

}  // namespace kiln::fuzz

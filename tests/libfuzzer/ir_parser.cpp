// libFuzzer target on the IR parser, printer and verifier: any bytes are
// either rejected with a located ParseError or read into a module that
// verifies and reads back as itself. Anything else (another exception, a
// wrong location, a text that does not round-trip, a sanitizer report, a
// crash or a hang) is a finding. Built by tests/libfuzzer/CMakeLists.txt,
// run by scripts/fuzz (README.md beside this file).
#include <kiln/ir/parser.h>
#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace {

// Larger inputs only cost time: every statement form fits in far less.
constexpr size_t max_input = 64 * 1024;
constexpr std::string_view file = "fuzz.kir";

[[noreturn]] void finding(const std::string& what, std::string_view input) {
  std::fprintf(stderr, "\n==== kiln IR parser finding: %s\n==== input (%zu bytes):\n%.*s\n==== end of input\n",
               what.c_str(), input.size(), static_cast<int>(input.size()), input.data());
  std::abort();
}

// The line/column of a ParseError must point into the input: line 1 to the
// number of line breaks + 1 (the end of the input is on the last line),
// column 1 to that line's length + 1 (the end of the line); the message
// starts with "fuzz.kir:line:column: ".
void check_location(const kiln::ir::ParseError& e, std::string_view input) {
  const std::string message = e.what();
  const std::string prefix =
      std::string(file) + ":" + std::to_string(e.line()) + ":" + std::to_string(e.column()) + ": ";
  if (message.rfind(prefix, 0) != 0 || message.size() == prefix.size())
    finding("ParseError message does not start with \"" + prefix + "\" and a reason: " + message, input);
  if (e.line() < 1 || e.column() < 1) finding("ParseError at a line or column below 1: " + message, input);
  size_t line_start = 0;
  for (int line = 1; line < e.line(); ++line) {
    size_t nl = input.find('\n', line_start);
    if (nl == std::string_view::npos) finding("ParseError past the last line: " + message, input);
    line_start = nl + 1;
  }
  size_t line_end = input.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = input.size();
  if (static_cast<size_t>(e.column()) > line_end - line_start + 1)
    finding("ParseError past the end of its line: " + message, input);
}

// A module the parser accepted: it verifies, and its text reads back as the
// same text.
void check_module(const kiln::ir::Module& m, std::string_view input) {
  kiln::ir::VerifyOptions opts;
  opts.allow_variables = true;
  std::vector<std::string> errors = kiln::ir::verify_errors(m, opts);
  if (!errors.empty()) finding("parse accepted a module the verifier rejects: " + errors[0], input);

  const std::string printed = kiln::ir::print(m);
  std::string reprinted;
  try {
    reprinted = kiln::ir::print(kiln::ir::parse(printed, "printed.kir"));
  } catch (const std::exception& e) {
    finding("the printed text does not read back: " + std::string(e.what()) + "\n==== printed:\n" + printed, input);
  }
  if (reprinted != printed)
    finding("print(parse(print(m))) != print(m)\n==== print(m):\n" + printed + "==== print(parse(print(m))):\n" +
                reprinted,
            input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > max_input) return -1;  // not added to the corpus
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  kiln::ir::Module m;
  try {
    m = kiln::ir::parse(input, file);
  } catch (const kiln::ir::ParseError& e) {
    check_location(e, input);
    return 0;
  } catch (const std::exception& e) {
    finding("parse threw something other than a ParseError: " + std::string(e.what()), input);
  } catch (...) {
    finding("parse threw a non-std::exception", input);
  }
  try {
    check_module(m, input);
  } catch (const std::exception& e) {
    finding("printing or verifying a parsed module threw: " + std::string(e.what()), input);
  }
  return 0;
}

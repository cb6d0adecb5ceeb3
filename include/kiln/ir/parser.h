// The textual IR read back: the inverse of the printer (printer.h), for
// kiln-opt, IR-in/IR-out pass tests and hand-written test programs.
//
//   ir::Module m = ir::parse(ir::print(staged));   // print(m) is the same text
//
// The grammar is the printer's (docs/ir.md, "Textual form"). Whitespace and
// line breaks only separate tokens; `// ...` runs to the end of the line and
// is ignored, so the `// file:line` comments of PrintOptions::locations are
// accepted but not restored (a std::source_location cannot be made at run
// time). Values may be named `%0`, `%x`, `%loop.i`: any name made of
// letters, digits, `_` and `.`, defined once per function before its uses;
// the printer renumbers them in order of appearance.
#pragma once

#include <kiln/error.h>
#include <kiln/ir/ir.h>

#include <string>
#include <string_view>

namespace kiln::ir {

/// Malformed IR text. The message starts with `file:line:column:` and says
/// what was expected and what was found, e.g.
/// `in.kir:3:18: expected a type (i1, i32, i64, f32, f64, buf<...>, tensor<...>), found 'f16'`.
class ParseError : public Error {
 public:
  ParseError(const std::string& message, int line, int column) : Error(message), line_(line), column_(column) {}
  /// 1-based position of the offending token.
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_;
  int column_;
};

/// Parses one or more functions (the first is the entry) and verifies the
/// module (allowing var.load / var.store, which unpromoted IR holds). Every
/// problem is a ParseError at the statement it concerns: syntax, an
/// undefined or redefined value, an unknown callee or op, operand types the
/// op does not take, and what the verifier rejects (scoping, region
/// signatures, tuple types that do not match the text). `file` names the
/// input in messages.
Module parse(std::string_view text, std::string_view file = "<input>");

}  // namespace kiln::ir

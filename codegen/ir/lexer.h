// The textual IR's tokens, for the parser (parser.cpp): names, keywords,
// op spellings and numbers as words, sigilled names, strings, punctuation.
// Line breaks only separate tokens; `// ...` runs to the end of the line.
#pragma once

#include <kiln/ir/parser.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::ir {

/// What a token is.
enum class Tok : uint8_t { end, value, global, var, word, string, punct };

/// One token and where it starts (1-based line and column).
struct Token {
  Tok kind = Tok::end;
  std::string text;  // without the sigil (%, @, $); a string's unescaped contents
  int line = 1;
  int column = 1;
};

/// How an error message shows a token: "'%x'", "the end of the input".
std::string quoted(const Token& t);

/// Throws the ParseError "file:line:column: what" at the token.
[[noreturn]] void fail_at(const std::string& file, const Token& at, const std::string& what);

/// "file:line:column: " of a token, as ParseError messages start.
std::string position(const std::string& file, const Token& at);

/// The tokens of `text`, ending with one of kind Tok::end. Throws
/// ParseError for a character no token starts with, an unterminated
/// string or an unknown escape.
std::vector<Token> tokenize(std::string_view text, const std::string& file);

}  // namespace kiln::ir

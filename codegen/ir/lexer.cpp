// The IR lexer (lexer.h): the whole text into tokens in one pass.
#include "lexer.h"

#include <cctype>
#include <cstdio>

namespace kiln::ir {
namespace {

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

class Lexer {
 public:
  Lexer(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      skip_space();
      Token t{Tok::end, "", line_, col_};
      if (i_ >= s_.size()) {
        out.push_back(t);
        return out;
      }
      const char c = s_[i_];
      if (c == '%' || c == '$') {
        advance();
        t.kind = c == '%' ? Tok::value : Tok::var;
        t.text = take_name();
        if (t.text.empty()) fail(t, std::string("expected a name after '") + c + "'");
      } else if (c == '@') {
        advance();
        t.kind = Tok::global;
        t.text = i_ < s_.size() && s_[i_] == '"' ? take_string(t, true) : take_name();
        if (t.text.empty()) fail(t, "expected a function name after '@'");
      } else if (c == '"') {
        t.kind = Tok::string;
        t.text = take_string(t, false);
      } else if (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] == '>') {
        advance(), advance();
        t.kind = Tok::punct;
        t.text = "->";
      } else if (name_char(c) || (c == '-' && i_ + 1 < s_.size() && name_char(s_[i_ + 1]))) {
        t.kind = Tok::word;
        t.text = take_word();
      } else if (std::string_view("()[]{}<>,:=^").find(c) != std::string_view::npos) {
        advance();
        t.kind = Tok::punct;
        t.text = std::string(1, c);
      } else {
        fail(t, "unexpected character " + describe(c));
      }
      out.push_back(std::move(t));
    }
  }

 private:
  std::string_view s_;
  const std::string& file_;
  size_t i_ = 0;
  int line_ = 1, col_ = 1;

  [[noreturn]] void fail(const Token& at, const std::string& what) const { fail_at(file_, at, what); }
  static std::string describe(char c) {
    if (std::isprint(static_cast<unsigned char>(c))) return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
    return buf;
  }
  void advance() {
    if (s_[i_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++i_;
  }
  void skip_space() {
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        advance();
      } else if (s_.compare(i_, 2, "//") == 0) {
        while (i_ < s_.size() && s_[i_] != '\n') advance();
      } else {
        return;
      }
    }
  }
  std::string take_name() {
    size_t from = i_;
    while (i_ < s_.size() && name_char(s_[i_])) advance();
    return std::string(s_.substr(from, i_ - from));
  }
  // Names, keywords, op spellings and numbers: 12, -3, 1.5e-07, -nan, 4x8.
  std::string take_word() {
    size_t from = i_;
    if (s_[i_] == '-') advance();
    const bool number = i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]));
    while (i_ < s_.size()) {
      char c = s_[i_];
      bool exponent_sign = number && (c == '+' || c == '-') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E');
      if (!name_char(c) && !exponent_sign) break;
      advance();
    }
    return std::string(s_.substr(from, i_ - from));
  }
  // The printer escapes '"' and '\' with a backslash, and (in function
  // names) control characters as \xHH; anything else is literal.
  std::string take_string(const Token& at, bool hex_escapes) {
    advance();  // the opening quote
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail(at, "unterminated string");
      char c = s_[i_];
      if (c == '"') {
        advance();
        return out;
      }
      if (c != '\\') {
        out += c;
        advance();
        continue;
      }
      advance();
      if (i_ >= s_.size()) fail(at, "unterminated string");
      char e = s_[i_];
      if (e == '"' || e == '\\') {
        out += e;
        advance();
      } else if (hex_escapes && e == 'x' && i_ + 2 < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_ + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s_[i_ + 2]))) {
        out += static_cast<char>(std::stoi(std::string(s_.substr(i_ + 1, 2)), nullptr, 16));
        advance(), advance(), advance();
      } else {
        Token here{Tok::string, "", line_, col_};
        fail(here, "unknown escape '\\" + std::string(1, e) + "' in a string (only \\\" and \\\\" +
                       std::string(hex_escapes ? " and \\xHH" : "") + ")");
      }
    }
  }
};

}  // namespace

std::string quoted(const Token& t) {
  switch (t.kind) {
    case Tok::end: return "the end of the input";
    case Tok::value: return "'%" + t.text + "'";
    case Tok::global: return "'@" + t.text + "'";
    case Tok::var: return "'$" + t.text + "'";
    case Tok::string: return "a string";
    case Tok::word:
    case Tok::punct: return "'" + t.text + "'";
  }
  return "?";
}

std::string position(const std::string& file, const Token& at) {
  return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": ";
}

void fail_at(const std::string& file, const Token& at, const std::string& what) {
  throw ParseError(position(file, at) + what, at.line, at.column);
}

std::vector<Token> tokenize(std::string_view text, const std::string& file) { return Lexer(text, file).run(); }

}  // namespace kiln::ir

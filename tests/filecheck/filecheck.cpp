// kiln-filecheck: the check-line matcher of kiln-opt's file tests, after
// LLVM's FileCheck. Reads the text to check from stdin and the check lines
// from CHECK_FILE:
//   // P: pattern        the pattern is after the last match (on its line or later)
//   // P-NEXT: pattern   ... on the line right after it
//   // P-SAME: pattern   ... on the same line, after it
//   // P-NOT: pattern    ... on no line between the last match and the next
//                        (or the end of the text)
// P is the prefix, CHECK unless --prefix=P. A pattern matches as a
// substring; {{...}} inside it is an ECMAScript regular expression. Trailing
// spaces of a pattern are ignored. Exit status 0 when every check holds; 1
// with the first failure, the check's line and the text, otherwise.
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

enum class Kind { plain, next, same, not_ };

struct Check {
  Kind kind;
  std::string pattern;
  int line;  // in the check file
};

std::string escape_regex(const std::string& s) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

std::regex compile(const std::string& pattern) {
  std::string re;
  size_t at = 0;
  while (at < pattern.size()) {
    size_t open = pattern.find("{{", at);
    if (open == std::string::npos) {
      re += escape_regex(pattern.substr(at));
      break;
    }
    size_t close = pattern.find("}}", open + 2);
    if (close == std::string::npos) throw std::runtime_error("unclosed {{ in pattern: " + pattern);
    re += escape_regex(pattern.substr(at, open - at)) + "(?:" + pattern.substr(open + 2, close - open - 2) + ")";
    at = close + 2;
  }
  return std::regex(re);
}

std::vector<Check> read_checks(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<Check> checks;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    size_t at = line.find("// " + prefix);
    if (at == std::string::npos) continue;
    std::string rest = line.substr(at + 3 + prefix.size());
    Kind kind;
    if (rest.rfind(": ", 0) == 0 || rest == ":") kind = Kind::plain, rest.erase(0, 1);
    else if (rest.rfind("-NEXT:", 0) == 0) kind = Kind::next, rest.erase(0, 6);
    else if (rest.rfind("-SAME:", 0) == 0) kind = Kind::same, rest.erase(0, 6);
    else if (rest.rfind("-NOT:", 0) == 0) kind = Kind::not_, rest.erase(0, 5);
    else continue;  // another prefix that starts like this one
    if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
    while (!rest.empty() && rest.back() == ' ') rest.pop_back();
    if (rest.empty()) throw std::runtime_error(path + ":" + std::to_string(n) + ": empty check pattern");
    checks.push_back({kind, rest, n});
  }
  if (checks.empty()) throw std::runtime_error(path + ": no '// " + prefix + ":' lines");
  return checks;
}

// Where the pattern matches in line (from column `from`), or npos.
size_t find(const std::string& line, const std::regex& re, size_t from) {
  std::smatch m;
  std::string tail = line.substr(std::min(from, line.size()));
  if (!std::regex_search(tail, m, re)) return std::string::npos;
  return from + static_cast<size_t>(m.position(0) + m.length(0));
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, prefix = "CHECK";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--prefix=", 0) == 0) prefix = a.substr(9);
    else path = a;
  }
  if (path.empty()) {
    std::cerr << "usage: kiln-filecheck CHECK_FILE [--prefix=P] < text\n";
    return 2;
  }
  try {
    const std::vector<Check> checks = read_checks(path, prefix);
    std::string text{std::istreambuf_iterator<char>(std::cin), {}};
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);

    // Position after the last match: line index and column (line -1: start).
    long line = -1;
    size_t column = 0;
    std::vector<const Check*> pending_not;
    auto fail = [&](const Check& c, const std::string& why) {
      std::cerr << path << ":" << c.line << ": " << why << "\n  " << prefix
                << (c.kind == Kind::next ? "-NEXT" : c.kind == Kind::same ? "-SAME" : c.kind == Kind::not_ ? "-NOT" : "")
                << ": " << c.pattern << "\n---- the text checked ----\n"
                << text << "---- end ----\n";
      return 1;
    };
    // A NOT check holds on lines (from, to): both exclusive of the matches around it.
    auto check_nots = [&](long from_line, size_t from_col, long to_line) -> int {
      for (const Check* c : pending_not) {
        std::regex re = compile(c->pattern);
        for (long l = std::max(from_line, 0L); l < to_line && l < static_cast<long>(lines.size()); ++l) {
          size_t start = l == from_line ? from_col : 0;
          if (find(lines[l], re, start) != std::string::npos)
            return fail(*c, "found on line " + std::to_string(l + 1) + " of the text: " + lines[l]);
        }
      }
      pending_not.clear();
      return 0;
    };
    for (const Check& c : checks) {
      if (c.kind == Kind::not_) {
        pending_not.push_back(&c);
        continue;
      }
      const std::regex re = compile(c.pattern);
      long found = -1;
      size_t end = 0;
      if (c.kind == Kind::same) {
        if (line < 0) return fail(c, "-SAME with no match before it");
        if ((end = find(lines[line], re, column)) != std::string::npos) found = line;
      } else if (c.kind == Kind::next) {
        if (line + 1 < static_cast<long>(lines.size()) && (end = find(lines[line + 1], re, 0)) != std::string::npos)
          found = line + 1;
      } else {
        for (long l = std::max(line, 0L); l < static_cast<long>(lines.size()); ++l)
          if ((end = find(lines[l], re, l == line ? column : 0)) != std::string::npos) {
            found = l;
            break;
          }
      }
      if (found < 0)
        return fail(c, c.kind == Kind::next ? "not on the line after the last match"
                       : c.kind == Kind::same ? "not on the same line after the last match"
                                              : "not found after the last match");
      if (int bad = check_nots(line, column, found)) return bad;
      // The line of this match itself, before the match, is also checked.
      line = found;
      column = end;
    }
    if (int bad = check_nots(line, column, static_cast<long>(lines.size()))) return bad;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "kiln-filecheck: " << e.what() << "\n";
    return 2;
  }
}

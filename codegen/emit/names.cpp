// Sanitising user strings into identifiers. The reserved list is what a
// generated file can meet: C++ and C keywords, the names its standard headers
// (<cmath>, <cstdint>, <limits>, <stdexcept>, <type_traits>) put in the global
// scope that a function or parameter could clash with, and kiln's own prefix.
#include "names.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <iterator>

namespace kiln::emit {
namespace {

constexpr std::array reserved{
    // C++20 keywords and alternative tokens
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char",
    "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr", "constinit",
    "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete", "do", "double",
    "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or",
    "or_eq", "private", "protected", "public", "register", "reinterpret_cast", "requires", "return", "short", "signed",
    "sizeof", "static", "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local", "throw",
    "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile",
    "wchar_t", "while", "xor", "xor_eq", "final", "override", "import", "module",
    // C keywords and CUDA words that are not C++ keywords
    "restrict", "_Bool", "_Complex", "_Generic", "_Noreturn", "dim3", "warpSize", "threadIdx", "blockIdx", "blockDim",
    "gridDim",
    // names the generated file uses or its headers declare globally
    "std", "main", "NULL", "errno", "assert", "math_errhandling", "size_t", "ptrdiff_t", "int8_t", "int16_t",
    "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "intptr_t", "uintptr_t", "intmax_t",
    "uintmax_t", "float_t", "double_t", "INFINITY", "NAN", "HUGE_VAL", "HUGE_VALF", "HUGE_VALL", "EOF",
    "abs", "labs", "llabs", "div", "ldiv", "lldiv", "fabs", "fabsf", "sqrt", "sqrtf", "exp", "expf", "exp2", "exp2f",
    "expm1", "log", "logf", "log2", "log10", "log1p", "sin", "sinf", "cos", "cosf", "tan", "tanf", "asin", "acos",
    "atan", "atan2", "sinh", "cosh", "tanh", "tanhf", "asinh", "acosh", "atanh", "pow", "powf", "floor", "floorf",
    "ceil", "round", "lround", "llround", "trunc", "rint", "lrint", "llrint", "nearbyint", "fma", "fmaf", "fmod",
    "fmodf", "fmin", "fmax", "fdim", "remainder", "remquo", "copysign", "nan", "nanf", "frexp", "ldexp", "modf",
    "scalbn", "scalbln", "ilogb", "logb", "cbrt", "hypot", "erf", "erfc", "lgamma", "tgamma", "gamma", "j0", "j1",
    "jn", "y0", "y1", "yn", "drem", "significand", "finite", "isinf", "isnan", "isfinite", "isnormal", "signbit",
    "fpclassify", "isgreater", "isless", "isunordered", "nextafter", "nexttoward", "malloc", "calloc", "realloc",
    "free", "exit", "abort", "atexit", "quick_exit", "system", "getenv", "rand", "srand", "qsort", "bsearch", "atoi",
    "atol", "atof", "strtod", "strtol", "memcpy", "memset", "strlen", "printf", "puts", "alloca", "offsetof",
    // predefined object-like macros in GCC's GNU modes
    "unix", "linux", "i386"};

// Sorted: the C library's names a generated file's headers declare.
constexpr const char* c_library[] = {
#include "c_library_names.inc"
};

bool is_reserved(const std::string& s) {
  if (std::find(reserved.begin(), reserved.end(), s) != reserved.end()) return true;
  if (s.rfind("kiln_", 0) == 0 || s == "kiln") return true;
  // Upper-case names with an underscore are macro-shaped (INT64_MIN, M_PI,
  // FP_NAN, INT64_C): a standard header may define them.
  bool lower = std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  return !lower && s.find('_') != std::string::npos;
}

bool ident_char(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Decodes one UTF-8 sequence at s[i]; returns its length, 0 when invalid.
size_t utf8(std::string_view s, size_t i, uint32_t& cp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c < 0xF8 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = c & (0x3F >> (n - 1));
  for (size_t k = 1; k < n; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  return n;
}

void append_underscore(std::string& out) {
  if (!out.empty() && out.back() != '_') out += '_';
}

}  // namespace

bool c_library_name(const std::string& name) {
  // Functions GCC treats as built-ins even undeclared: a different
  // signature under their name is an error (-Wbuiltin-declaration-mismatch).
  static constexpr const char* builtins[] = {
      "bcmp", "bcopy", "bzero", "fprintf", "fputc", "fputs", "fscanf", "fwrite", "index", "isalnum", "isalpha",
      "isascii", "isblank", "iscntrl", "isdigit", "isgraph", "islower", "isprint", "ispunct", "isspace", "isupper",
      "isxdigit", "memchr", "memcmp", "memcpy", "memmove", "mempcpy", "memset", "printf", "putchar", "puts", "rindex",
      "scanf", "snprintf", "sprintf", "sscanf", "stpcpy", "stpncpy", "strcasecmp", "strcat", "strchr", "strcmp",
      "strcpy", "strcspn", "strdup", "strlen", "strncasecmp", "strncat", "strncmp", "strncpy", "strndup", "strnlen",
      "strpbrk", "strrchr", "strspn", "strstr", "toascii", "tolower", "toupper", "vfprintf", "vprintf", "vsnprintf",
      "vsprintf", "alloca", "signbit", "isinf", "isnan", "isfinite", "isnormal", "fpclassify"};
  for (const char* b : builtins)
    if (name == b) return true;
  return std::binary_search(std::begin(c_library), std::end(c_library), name,
                            [](const auto& a, const auto& b) { return std::string_view(a) < std::string_view(b); });
}

std::string sanitize(std::string_view user) {
  std::string out;
  for (size_t i = 0; i < user.size();) {
    unsigned char c = static_cast<unsigned char>(user[i]);
    if (ident_char(c)) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      append_underscore(out);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t n = utf8(user, i, cp);
    char buf[16];
    if (n == 0) std::snprintf(buf, sizeof buf, "x%02X", c);
    else std::snprintf(buf, sizeof buf, "u%04X", static_cast<unsigned>(cp));
    append_underscore(out);
    out += buf;
    out += '_';
    i += n == 0 ? 1 : n;
  }
  while (!out.empty() && out.front() == '_') out.erase(out.begin());
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), 'v');
  if (is_reserved(out)) out += '_';
  return out;
}

bool Namer::taken(const std::string& name) const {
  return taken_.count(name) || (outer_ && outer_->taken(name));
}

std::string Namer::claim(std::string name) {
  taken_.insert(name);
  return name;
}

std::string Namer::take(std::string_view user) { return take_base(sanitize(user)); }

std::string Namer::take_c_symbol(std::string_view user) {
  std::string base = sanitize(user);
  if (c_library_name(base)) base += '_';
  return take_base(base);
}

std::string Namer::take_base(std::string base) {
  if (!taken(base)) return claim(base);
  if (base.back() != '_') base += '_';
  for (int k = 2;; ++k) {
    std::string name = base + std::to_string(k);
    if (!taken(name)) return claim(name);
  }
}

std::string Namer::fresh(std::string_view prefix) {
  size_t& counter = counters_[std::string(prefix)];
  for (;;) {
    std::string name = std::string(prefix) + std::to_string(counter++);
    if (!taken(name)) return claim(name);
  }
}

}  // namespace kiln::emit

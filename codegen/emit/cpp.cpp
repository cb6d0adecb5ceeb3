// The C++ emitter: file layout, the helper functions the operator table
// names (only those a file uses are written), and the backend's entry point.
#include "cpp.h"

#include "c_family.h"

#include <kiln/error.h>

namespace kiln::emit {
namespace {

using namespace ir;

struct Helper {
  const char* name;
  std::vector<const char*> needs;
  const char* text;
};

// In dependency order: a helper comes after the helpers it calls.
const std::vector<Helper>& helpers() {
  static const std::vector<Helper> table = {
      {"kiln_trap", {},
       "// A trap of the staged program (kiln's interpreter raises kiln::RuntimeError).\n"
       "[[noreturn]] void kiln_trap(const char* message) {\n"
       "#if defined(__GLIBCXX__) && !defined(KILN_STANDARD_HEADERS)\n"
       "  std::__throw_domain_error(message);\n"
       "#else\n"
       "  throw std::domain_error(message);\n"
       "#endif\n"
       "}\n"},
      {"kiln_opaque", {},
       "// Hides a value from the optimiser so that the C++ compiler neither evaluates\n"
       "// a libm call itself nor rewrites it (pow(x, 2.0) -> x*x): results are the\n"
       "// C library's, as in kiln's interpreter.\n"
       "template <class T>\n"
       "T kiln_opaque(T x) {\n"
       "#if defined(__GNUC__) && defined(__x86_64__)\n"
       "  __asm__(\"\" : \"+x\"(x));\n"
       "#elif defined(__GNUC__) && defined(__aarch64__)\n"
       "  __asm__(\"\" : \"+w\"(x));\n"
       "#else\n"
       "  volatile T v = x;\n"
       "  x = v;\n"
       "#endif\n"
       "  return x;\n"
       "}\n"},
      {"kiln_exp", {"kiln_opaque"}, "template <class T> T kiln_exp(T x) { return kiln_math::exp(kiln_opaque(x)); }\n"},
      {"kiln_log", {"kiln_opaque"}, "template <class T> T kiln_log(T x) { return kiln_math::log(kiln_opaque(x)); }\n"},
      {"kiln_sin", {"kiln_opaque"}, "template <class T> T kiln_sin(T x) { return kiln_math::sin(kiln_opaque(x)); }\n"},
      {"kiln_cos", {"kiln_opaque"}, "template <class T> T kiln_cos(T x) { return kiln_math::cos(kiln_opaque(x)); }\n"},
      {"kiln_tanh", {"kiln_opaque"}, "template <class T> T kiln_tanh(T x) { return kiln_math::tanh(kiln_opaque(x)); }\n"},
      {"kiln_pow", {"kiln_opaque"},
       "template <class T> T kiln_pow(T x, T y) { return kiln_math::pow(kiln_opaque(x), kiln_opaque(y)); }\n"},
      {"kiln_carry", {},
       "// An integer a loop carries after multiplying it. GCC 12's vectorizer\n"
       "// miscompiles a loop carrying a product that uses a value twice (c = c*c*c*c\n"
       "// at -O3 with SSE4.1 or wider); the empty asm keeps such a loop scalar and\n"
       "// costs no instruction.\n"
       "template <class T> T kiln_carry(T x) {\n"
       "#if defined(__GNUC__) && !defined(__clang__)\n"
       "  __asm__(\"\" : \"+r\"(x));\n"
       "#endif\n"
       "  return x;\n"
       "}\n"},
      {"kiln_add", {},
       "// Integer + - * wrap around (two's complement), as the IR defines them.\n"
       "template <class T> T kiln_add(T a, T b) { using U = std::make_unsigned_t<T>; return T(U(a) + U(b)); }\n"},
      {"kiln_sub", {}, "template <class T> T kiln_sub(T a, T b) { using U = std::make_unsigned_t<T>; return T(U(a) - U(b)); }\n"},
      {"kiln_mul", {}, "template <class T> T kiln_mul(T a, T b) { using U = std::make_unsigned_t<T>; return T(U(a) * U(b)); }\n"},
      {"kiln_neg", {}, "template <class T> T kiln_neg(T a) { using U = std::make_unsigned_t<T>; return T(U(0) - U(a)); }\n"},
      {"kiln_abs", {"kiln_neg"}, "template <class T> T kiln_abs(T a) { return a < 0 ? kiln_neg(a) : a; }\n"},
      {"kiln_shl", {},
       "// Shift counts are taken modulo the bit width.\n"
       "template <class T> T kiln_shl(T a, T b) {\n"
       "  using U = std::make_unsigned_t<T>;\n"
       "  return T(U(a) << (U(b) & U(sizeof(T) * 8 - 1)));\n"
       "}\n"},
      {"kiln_div", {"kiln_trap", "kiln_neg"},
       "// Division by zero traps; MIN / -1 wraps to MIN.\n"
       "template <class T> T kiln_div(T a, T b, const char* trap) {\n"
       "  if (b == 0) kiln_trap(trap);\n"
       "  return b == -1 ? kiln_neg(a) : a / b;\n"
       "}\n"},
      {"kiln_rem", {"kiln_trap"},
       "// Remainder by zero traps; MIN % -1 is 0.\n"
       "template <class T> T kiln_rem(T a, T b, const char* trap) {\n"
       "  if (b == 0) kiln_trap(trap);\n"
       "  return b == -1 ? T(0) : a % b;\n"
       "}\n"},
      {"kiln_to_int", {},
       "// Float -> integer truncates toward zero and saturates; NaN becomes 0.\n"
       "template <class I, class F> I kiln_to_int(F x) {\n"
       "  const double d = double(x);\n"
       "  if (d != d) return 0;\n"
       "  if (d <= double(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();\n"
       "  if (d >= -double(std::numeric_limits<I>::min())) return std::numeric_limits<I>::max();\n"
       "  return I(d);\n"
       "}\n"},
      {"kiln_trip_count", {"kiln_trap"},
       "// Iterations of `for (i = lo; step > 0 ? i < hi : i > hi; i += step)`, counted\n"
       "// without overflow; a zero step traps.\n"
       "template <class T> uint64_t kiln_trip_count(T lo, T hi, T step, const char* trap) {\n"
       "  if (step == 0) kiln_trap(trap);\n"
       "  const uint64_t l = uint64_t(int64_t(lo)), h = uint64_t(int64_t(hi)), s = uint64_t(int64_t(step));\n"
       "  if (step > 0) return lo < hi ? (h - l - 1) / s + 1 : 0;\n"
       "  return lo > hi ? (l - h - 1) / (0 - s) + 1 : 0;\n"
       "}\n"},
      {"kiln_index", {},
       "// The k-th index of such a loop: lo + k * step.\n"
       "template <class T> T kiln_index(T lo, uint64_t k, T step) {\n"
       "  using U = std::make_unsigned_t<T>;\n"
       "  return T(U(lo) + U(k) * U(step));\n"
       "}\n"},
      {"kiln_disjoint", {},
       "// IR disjoint: the element bytes of buffers a (na elements) and b (nb) do not\n"
       "// overlap. An empty buffer overlaps nothing.\n"
       "template <class A, class B> bool kiln_disjoint(const A* a, int64_t na, const B* b, int64_t nb) {\n"
       "  if (na <= 0 || nb <= 0) return true;\n"
       "  const uintptr_t a_begin = reinterpret_cast<uintptr_t>(a), b_begin = reinterpret_cast<uintptr_t>(b);\n"
       "  const uintptr_t a_end = a_begin + uintptr_t(na) * sizeof(A), b_end = b_begin + uintptr_t(nb) * sizeof(B);\n"
       "  return a_end <= b_begin || b_end <= a_begin;\n"
       "}\n"},
      {"kiln_scratch", {},
       "// Scratch elements that live until the function returns (IR alloc).\n"
       "template <class T> class kiln_scratch {\n"
       " public:\n"
       "  explicit kiln_scratch(int64_t n) : data_(new T[n]) {}\n"
       "  ~kiln_scratch() { delete[] data_; }\n"
       "  kiln_scratch(const kiln_scratch&) = delete;\n"
       "  kiln_scratch& operator=(const kiln_scratch&) = delete;\n"
       "  T* get() const { return data_; }\n"
       "\n"
       " private:\n"
       "  T* data_;\n"
       "};\n"},
      {"kiln_tape", {},
       "// The reverse-mode tape: a stack of 64-bit words per level and thread.\n"
       "std::vector<uint64_t>& kiln_tape(int level) {\n"
       "  static thread_local std::vector<uint64_t> tapes[16];\n"
       "  return tapes[level];\n"
       "}\n"},
      {"kiln_tape_push", {"kiln_tape"},
       "template <class T> void kiln_tape_push(int level, T x) {\n"
       "  uint64_t w = 0;\n"
       "  std::memcpy(&w, &x, sizeof x);\n"
       "  kiln_tape(level).push_back(w);\n"
       "}\n"},
      {"kiln_tape_pop", {"kiln_tape"},
       "template <class T> T kiln_tape_pop(int level) {\n"
       "  std::vector<uint64_t>& t = kiln_tape(level);\n"
       "  const uint64_t w = t.back();\n"
       "  t.pop_back();\n"
       "  T x;\n"
       "  std::memcpy(&x, &w, sizeof x);\n"
       "  return x;\n"
       "}\n"},
      {"kiln_tape_reserve", {"kiln_tape"},
       "// Room for n elements of T on the tape; valid until the next push or pop.\n"
       "template <class T> T* kiln_tape_reserve(int level, int64_t n) {\n"
       "  std::vector<uint64_t>& t = kiln_tape(level);\n"
       "  const uint64_t words = (uint64_t(n) * sizeof(T) + 7) / 8;\n"
       "  t.resize(t.size() + words);\n"
       "  return reinterpret_cast<T*>(t.data() + t.size() - words);\n"
       "}\n"},
      {"kiln_tape_release", {"kiln_tape"},
       "// Pops what kiln_tape_reserve made; the words stay in place (a vector keeps its\n"
       "// storage when it shrinks) until the next push.\n"
       "template <class T> T* kiln_tape_release(int level, int64_t n) {\n"
       "  std::vector<uint64_t>& t = kiln_tape(level);\n"
       "  const uint64_t words = (uint64_t(n) * sizeof(T) + 7) / 8;\n"
       "  t.resize(t.size() - words);\n"
       "  return reinterpret_cast<T*>(t.data() + t.size());\n"
       "}\n"},
  };
  return table;
}

bool mentions(const std::string& text, const std::string& name) {
  for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    size_t end = at + name.size();
    if (end < text.size() && (text[end] == '(' || text[end] == '<')) return true;
  }
  return false;
}

// The helper definitions `code` needs, in table order.
std::string helper_text(const std::string& code) {
  const auto& table = helpers();
  std::vector<bool> used(table.size(), false);
  for (size_t i = table.size(); i-- > 0;) {
    bool needed = mentions(code, table[i].name);
    for (size_t j = i + 1; j < table.size(); ++j)
      for (const char* dep : table[j].needs)
        if (used[j] && std::string(dep) == table[i].name) needed = true;
    used[i] = needed;
  }
  std::string out;
  for (size_t i = 0; i < table.size(); ++i)
    if (used[i]) out += table[i].text;
  return out;
}

// The C library's math functions the code calls (as kiln_math::name), with
// their arity. Each is a GCC/Clang builtin in a float and a double overload.
struct MathFunction {
  const char* name;
  int arity;
};
constexpr MathFunction math_functions[] = {{"sqrt", 1}, {"exp", 1},   {"log", 1},  {"sin", 1},
                                           {"cos", 1},  {"tanh", 1},  {"pow", 2},  {"floor", 1},
                                           {"fabs", 1}, {"fmod", 2},  {"fma", 3}};

// GCC and Clang parse <cmath> and <stdexcept> in about a third of a second
// each, more than most kernels take to compile. Under them the source calls
// the math builtins (what <cmath>'s functions are there) and libstdc++'s
// std::__throw_domain_error (what <stdexcept>'s users call there) instead;
// other compilers, or -DKILN_STANDARD_HEADERS, take both headers. The cxx
// backend precompiles only unconditional includes (cxx_backend.cpp,
// heavy_includes). The overloads are
// inline functions of a named namespace: an unused one draws no warning (as it
// would in an unnamed namespace), and every kiln file defines them alike.
std::string math_block(const std::string& code) {
  std::string overloads;
  for (const MathFunction& f : math_functions) {
    if (!mentions(code, std::string("kiln_math::") + f.name)) continue;
    for (const char* type : {"float", "double"}) {
      std::string params, args;
      for (int i = 0; i < f.arity; ++i) {
        const std::string v(1, "xyz"[i]);
        params += (i ? ", " : "") + std::string(type) + " " + v;
        args += (i ? ", " : "") + v;
      }
      const std::string builtin = std::string("__builtin_") + f.name + (type[0] == 'f' ? "f" : "");
      overloads += "inline " + std::string(type) + " " + f.name + "(" + params + ") { return " + builtin + "(" + args + "); }\n";
    }
  }
  if (overloads.empty()) return "";
  return "\n// The C library's math functions, called through GCC's and Clang's builtins as\n"
         "// <cmath> calls them, which spares parsing <cmath>; other compilers take <cmath>.\n"
         "#if defined(__GNUC__) && !defined(KILN_STANDARD_HEADERS)\n"
         "namespace kiln_math {\n" +
         overloads +
         "}  // namespace kiln_math\n"
         "#else\n"
         "#  include <cmath>\n"
         "namespace kiln_math = std;\n"
         "#endif\n";
}

// Only the standard headers the code needs (each costs compile time).
std::string includes(const std::string& code) {
  std::string out;
  auto uses = [&](std::initializer_list<const char*> words) {
    for (const char* w : words)
      if (code.find(w) != std::string::npos) return true;
    return false;
  };
  out += "#include <cstdint>\n";  // first: it defines __GLIBCXX__ under libstdc++
  if (uses({"std::memcpy"})) out += "#include <cstring>\n";
  if (uses({"std::numeric_limits"})) out += "#include <limits>\n";
  if (uses({"std::vector"})) out += "#include <vector>\n";
  if (uses({"std::make_unsigned_t"})) out += "#include <type_traits>\n";
  if (uses({"std::domain_error"}))
    out +=
        "#if defined(__GLIBCXX__) && !defined(KILN_STANDARD_HEADERS)\n"
        "#  include <bits/functexcept.h>  // std::__throw_domain_error, without <stdexcept>\n"
        "#else\n"
        "#  include <stdexcept>\n"
        "#endif\n";
  return out + math_block(code);
}

struct Names {
  Namer globals;
  std::vector<std::string> functions;
  std::vector<SignatureNames> signatures;
};

Names name_module(const Module& m) {
  Names n;
  for (const Function& f : m.functions) {
    std::string_view user = f.name.empty() ? "f" : std::string_view(f.name);
    n.functions.push_back(n.functions.empty() ? n.globals.take_c_symbol(user) : n.globals.take(user));
  }
  n.globals.take("kiln_generated");
  for (const Function& f : m.functions) {
    Namer scope(&n.globals);
    n.signatures.push_back(name_signature(f, scope));
  }
  return n;
}

std::string declaration(const Dialect& d, const Module& m, const Names& names, size_t i) {
  const Function& f = m.functions[i];
  return return_type(d, f) + " " + names.functions[i] + "(" + parameter_list(d, f, names.signatures[i]) + ")";
}

std::string slot_field(Scalar s) {
  switch (s) {
    case Scalar::f32: return "f32";
    case Scalar::f64: return "f64";
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: return "i";
  }
  return "i";
}

// extern "C" void kiln_call(const kiln_slot* a, kiln_slot* r): unpacks the
// argument slots, calls the entry function, packs the results.
std::string backend_entry(const Dialect& d, const Module& m, const Names& names) {
  const Function& f = m.functions[0];
  std::string out =
      "\n// The cxx backend's entry point: arguments and results in kiln's call slots.\n"
      "struct kiln_slot {\n"
      "  union {\n"
      "    int64_t i;\n"
      "    float f32;\n"
      "    double f64;\n"
      "    const void* p;\n"
      "  };\n"
      "  int64_t size;\n"
      "};\n"
      "static_assert(sizeof(kiln_slot) == 16, \"kiln_slot must match kiln::detail::Slot\");\n\n"
      "extern \"C\" void kiln_call(const kiln_slot* a, kiln_slot* r) {\n";
  std::string args;
  const auto& params = f.params();
  for (size_t i = 0; i < params.size(); ++i) {
    Type t = f.type(params[i]);
    std::string a = "a[" + std::to_string(i) + "]";
    if (!args.empty()) args += ", ";
    if (t.kind == TypeKind::buf) {
      std::string ptr = d.scalar_type(t.elem) + "*";
      args += t.writable ? "static_cast<" + ptr + ">(const_cast<void*>(" + a + ".p))"
                         : "static_cast<const " + ptr + ">(" + a + ".p)";
      args += ", " + a + ".size";
    } else if (t.elem == Scalar::i1) {
      args += a + ".i != 0";
    } else {
      args += d.scalar_type(t.elem) + "(" + a + "." + slot_field(t.elem) + ")";
    }
  }
  const size_t k = f.result_types.size();
  auto store = [&](size_t i, const std::string& value) {
    std::string r = "r[" + std::to_string(i) + "]";
    Scalar s = f.result_types[i].elem;
    std::string text = "  " + r + ".i = 0;\n";
    if (slot_field(s) == "i") return "  " + r + ".i = int64_t(" + value + ");\n";
    return text + "  " + r + "." + slot_field(s) + " = " + value + ";\n";
  };
  if (k == 0) out += "  " + names.functions[0] + "(" + args + ");\n";
  if (k == 1) {
    out += "  const " + d.scalar_type(f.result_types[0].elem) + " result = " + names.functions[0] + "(" + args + ");\n";
    out += store(0, "result");
  }
  if (k > 1) {
    for (size_t i = 0; i < k; ++i) {
      out += "  " + d.scalar_type(f.result_types[i].elem) + " out" + std::to_string(i) + ";\n";
      args += std::string(args.empty() ? "" : ", ") + "&out" + std::to_string(i);
    }
    out += "  " + names.functions[0] + "(" + args + ");\n";
    for (size_t i = 0; i < k; ++i) out += store(i, "out" + std::to_string(i));
  }
  return out + "}\n";
}

std::string banner(const Module& m, const char* kind) {
  return "// " + comment_text(m.functions.at(0).name) + ": " + kind +
         " generated by kiln from the staged function of that name. Do not edit.\n";
}

}  // namespace

std::string emit_cpp(const Module& m, const CppOptions& opts) {
  if (m.functions.empty()) throw InternalError("emit_cpp: the module has no functions");
  const Dialect d;
  Names names = name_module(m);
  // Callees live in a namespace and are called by qualified name, so no C
  // library function (select, y0, ...) can clash with them or capture a call.
  std::vector<std::string> callees;
  for (size_t i = 0; i < m.functions.size(); ++i)
    callees.push_back(i == 0 ? "::" + names.functions[0] : "kiln_generated::" + names.functions[i]);
  const std::string entry = "extern \"C\" ";
  std::string entry_decl, callee_decls, entry_def, callee_defs;
  for (size_t i = 0; i < m.functions.size(); ++i) {
    std::string prefix = i == 0 ? entry : "static ";
    if (m.functions.size() > 1) (i == 0 ? entry_decl : callee_decls) += prefix + declaration(d, m, names, i) + ";\n";
    std::string& defs = i == 0 ? entry_def : callee_defs;
    defs += '\n';  // (not "\n" + ...: GCC 12 warns falsely, -Wrestrict)
    defs += print_function(d, m, i, names.functions[i], callees, names.globals, prefix);
  }
  std::string helper_defs = helper_text(entry_def + callee_defs);
  std::string out = banner(m, "C++17 source");
  out +=
      "//\n"
      "// Standalone: only the standard library. Semantics are kiln's IR: integer\n"
      "// arithmetic wraps, integer division by zero and a zero loop step throw\n"
      "// std::domain_error, floats are IEEE without contraction (build with\n"
      "// -ffp-contract=off, or GCC's -std=c++17, so a*b+c stays two roundings).\n"
      "// Buffers are not bounds-checked.\n\n" +
      includes(helper_defs + entry_def + callee_defs);
  if (!helper_defs.empty()) out += "\nnamespace {\n\n" + helper_defs + "\n}  // namespace\n";
  if (!callee_decls.empty())
    out += "\n" + entry_decl + "namespace kiln_generated {\n" + callee_decls + "}  // namespace kiln_generated\n";
  out += entry_def;
  if (!callee_defs.empty()) out += "\nnamespace kiln_generated {\n" + callee_defs + "\n}  // namespace kiln_generated\n";
  if (opts.backend_entry) out += backend_entry(d, m, names);
  return out;
}

std::string emit_cpp_header(const Module& m) {
  if (m.functions.empty()) throw InternalError("emit_cpp_header: the module has no functions");
  const Dialect d;
  Names names = name_module(m);
  return banner(m, "header") +
         "// Declares the function of the matching .cpp; usable from C and C++.\n"
         "#pragma once\n\n"
         "#ifdef __cplusplus\n#include <cstdint>\nextern \"C\" {\n#else\n#include <stdbool.h>\n#include <stdint.h>\n#endif\n\n" +
         declaration(d, m, names, 0) +
         ";\n\n#ifdef __cplusplus\n}  // extern \"C\"\n#endif\n";
}

}  // namespace kiln::emit

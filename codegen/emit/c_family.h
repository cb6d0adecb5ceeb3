// The C-family printer shared by the C++ emitter and the CUDA one:
// structured IR becomes statements, one value per line in a named temporary,
// `if`/`for`/`while` blocks, a `// file:line` comment per statement group.
// A Dialect says how the language spells types, operators and math calls;
// a new dialect overrides only what differs.
#pragma once

#include <kiln/ir/ir.h>

#include "names.h"

#include <string>
#include <string_view>
#include <vector>

namespace kiln::emit {

/// How one language spells the IR. The defaults are C++17 with the helper
/// functions of helpers.h (wrapping integer arithmetic, trapping division,
/// saturating casts, math calls the compiler cannot fold).
class Dialect {
 public:
  virtual ~Dialect() = default;

  /// "bool", "int32_t", "int64_t", "float", "double".
  virtual std::string scalar_type(ir::Scalar s) const;
  /// The operator table row for `op` on operands of kind `s` (result kind for
  /// unary ops): a pattern where $0 $1 $2 are the operands, $M the shift
  /// mask, $W the trap message. Empty when the op does not exist for `s`.
  virtual std::string_view spelling(ir::Op op, ir::Scalar s) const;
  /// A constant of scalar type s with the given imm bits.
  virtual std::string constant(ir::Scalar s, int64_t imm) const;
  /// The expression converting `x` of type `from` to `to`.
  virtual std::string cast(ir::Scalar from, ir::Scalar to, const std::string& x) const;
  /// The loop header for a parallel_for at the top level of a function whose
  /// iterations threads share (CUDA's grid-stride loop): a `for (...) {`
  /// line over the iteration counter `k` (uint64_t) below `trips`. Empty,
  /// the default: a parallel_for runs its iterations in order.
  virtual std::string shared_loop(const std::string& k, const std::string& trips) const;
  /// The statement that traps with a message (a string literal) and does not
  /// go on: `kiln_trap(message);` by default.
  virtual std::string trap(const std::string& message) const;
  /// The statement that makes `name` (a `T*` of scalar type s) point at
  /// `count` fresh elements that live until the function returns (IR alloc).
  /// The default owns them with kiln_scratch<T>, a helper of the C++
  /// emitter (new[] and delete[], without <memory>).
  virtual std::string alloc(ir::Scalar s, const std::string& name, const std::string& count) const;
  /// The value `x` (of integer type s) that a loop carries into its next
  /// iteration after a multiplication of the carried value itself. The
  /// default wraps it in kiln_carry, which keeps GCC from vectorizing the
  /// loop: GCC 12's vectorizer miscompiles a product carried around a loop
  /// when the chain uses a value twice (c = c*c*c*c). Other compilers keep x.
  virtual std::string carried_product(ir::Scalar s, const std::string& x) const;
};

/// The names a function's signature uses: per parameter its name and, for a
/// buffer, the name of its size; then one out-pointer per result when the
/// function returns more than one.
struct SignatureNames {
  std::vector<std::string> params;
  std::vector<std::string> sizes;  // "" for scalars
  std::vector<std::string> outs;   // empty unless 2+ results
};

/// Names the parameters of `f` in `scope` after the user's names (arg0,
/// arg1, ... without them), with `<name>_size` for buffer sizes.
SignatureNames name_signature(const ir::Function& f, Namer& scope);

/// Whether a definition reads a parameter (a buffer's pointer) and a
/// buffer's size; an unread one is written as a comment, /*name*/.
struct ParamUse {
  bool value = true;
  bool size = true;
};

/// `T name` / `const T* name, int64_t name_size` / `T* out0`, comma
/// separated. Without `used` (declarations) every parameter is named.
std::string parameter_list(const Dialect& d, const ir::Function& f, const SignatureNames& names,
                           const std::vector<ParamUse>* used = nullptr);
/// "void", or the single result's type.
std::string return_type(const Dialect& d, const ir::Function& f);

/// Writes one function definition: `prefix` (qualifiers such as `static` or
/// `extern "C"`), the signature with the identifier `name`, and the body.
/// Calls of module function i are written as calls of `callees[i]` (a
/// qualified name); local names avoid everything `globals` holds.
std::string print_function(const Dialect& d, const ir::Module& m, size_t index, std::string_view name,
                           const std::vector<std::string>& callees, const Namer& globals, std::string_view prefix);

/// A C++ string literal holding `text` (printable ASCII kept, the rest escaped).
std::string string_literal(std::string_view text);
/// `text` made safe for a // comment (no line breaks, backslashes or '?').
std::string comment_text(std::string_view text);

}  // namespace kiln::emit

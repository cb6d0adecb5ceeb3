// The narrow interface between kiln's header templates (Rep, Arr, control
// flow, Staged) and the staging context compiled into the library. Not for
// users; names here may change.
#pragma once

#include <kiln/error.h>
#include <kiln/ir/ir.h>

#include <cstdint>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

namespace kiln::detail {

using ir::ValueId;
using Loc = std::source_location;

template <class T>
inline constexpr bool is_stage_scalar_v =
    std::is_same_v<T, bool> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
    std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
constexpr ir::Scalar scalar_of() {
  if constexpr (std::is_same_v<T, bool>) return ir::Scalar::i1;
  else if constexpr (std::is_same_v<T, int32_t>) return ir::Scalar::i32;
  else if constexpr (std::is_same_v<T, int64_t>) return ir::Scalar::i64;
  else if constexpr (std::is_same_v<T, float>) return ir::Scalar::f32;
  else return ir::Scalar::f64;
}

/// "Rep<float>" etc., for messages.
std::string rep_name(ir::Scalar s);

// --- context -----------------------------------------------------------------

/// Serial of the innermost staging context of this thread; throws
/// StagingError naming `what` and `loc` when there is none.
uint32_t require_context(const char* what, Loc loc);
/// Serial of the current context, 0 when not staging.
uint32_t current_context() noexcept;

[[noreturn]] void staging_error(const std::string& what, Loc loc, const std::string& remedy);

// --- variables: every Rep object is a staging variable -------------------------

/// A fresh variable holding `v`, declared at `loc` in the current region.
uint32_t new_var(ValueId v, Loc loc);
/// The variable's current value in the current region (emits var.load when
/// the value lives in an enclosing region).
ValueId read_var(uint32_t ctx, uint32_t var, ir::Scalar s, Loc loc);
/// Assigns the variable in the current region.
void write_var(uint32_t ctx, uint32_t var, ValueId v, Loc loc);

// --- nodes ---------------------------------------------------------------------

/// Appends (or, for pure ops, finds an equal existing) node in the current region.
ValueId emit(ir::Op op, ir::Type type, std::vector<ValueId> args, Loc loc, int64_t imm = 0);
/// A constant of scalar type s holding `bits` (ir::encode_const encoding).
ValueId constant(ir::Scalar s, int64_t bits, Loc loc);
/// `v` converted to s (a cast node when the types differ).
ValueId convert(ValueId v, ir::Scalar s, Loc loc);
/// The scalar type of a value of the current function.
ir::Scalar scalar_type(ValueId v);
/// Removes `load` from the end of the current region when nothing uses it
/// (a load emitted only to be overwritten: `y[i] = v`).
void drop_trailing_load(ValueId load);

/// Checks that the literal fits scalar type s and makes it a constant.
ValueId literal_int(ir::Scalar s, int64_t v, Loc loc);
ValueId literal_uint(ir::Scalar s, uint64_t v, Loc loc);
ValueId literal_float(ir::Scalar s, double v, Loc loc);

template <class L>
ValueId literal(ir::Scalar s, L v, Loc loc) {
  if constexpr (std::is_floating_point_v<L>) return literal_float(s, static_cast<double>(v), loc);
  else if constexpr (std::is_same_v<L, bool>) return literal_int(s, v ? 1 : 0, loc);
  else if constexpr (std::is_unsigned_v<L>) return literal_uint(s, static_cast<uint64_t>(v), loc);
  else return literal_int(s, static_cast<int64_t>(v), loc);
}

// --- regions and structured ops --------------------------------------------------

/// A new region in the function being staged.
ir::RegionId new_region();

/// Opens a region as the innermost staging scope; closes it on destruction
/// if close() was not called (an exception unwinding the user's lambda).
class RegionScope {
 public:
  RegionScope(ir::RegionId r, bool parallel, Loc loc);
  ~RegionScope();
  RegionScope(const RegionScope&) = delete;
  RegionScope& operator=(const RegionScope&) = delete;
  /// Adds a parameter of type t to the region.
  ValueId param(ir::Type t);
  /// Sets the region's yields and leaves it (emitting variable stores).
  void close(std::vector<ValueId> yields);

 private:
  bool open_ = true;
};

/// Appends a structured node owning `regions` to the current region.
ValueId finish_structured(ir::Op op, std::vector<ValueId> args, std::vector<ir::RegionId> regions, Loc loc);

// --- staged functions -------------------------------------------------------------

/// The shared state behind a Staged<Sig> handle.
struct StagedState;

/// A declared, not yet defined, staged function with this signature,
/// declared at `loc`.
std::shared_ptr<StagedState> declare(std::string name, std::vector<ir::Type> params, std::vector<ir::Type> results,
                                     Loc loc = {});
/// Stages `body` as the definition of `state` (runs it now, in a fresh context).
/// `body` makes the parameters with function_param() and ends with set_results().
/// `param_names` is empty or names every parameter (checked: StagingError).
void define(StagedState& state, const std::string& name, const std::vector<std::string>& param_names,
            void (*body)(void*), void* closure, Loc loc);
/// Copies the definition of `from` into the declared `to` (Staged assignment).
void assign(StagedState& to, const StagedState& from);
bool is_defined(const StagedState& s);
const std::string& staged_name(const StagedState& s);
/// Parameter i of the function being defined.
ValueId function_param(size_t i);
/// The results of the function being defined.
void set_results(std::vector<ValueId> results);
/// A staged call of `callee` with argument values; returns the tuple node.
ValueId emit_call(const std::shared_ptr<StagedState>& callee, std::vector<ValueId> args, Loc loc);

/// A staged function defined by a module a transformation made (entry
/// first, promoted): compile() and ir() use the module as it is.
std::shared_ptr<StagedState> define_derived(ir::Module m, Loc loc);
/// A copy of staged function f whose reverse-mode derivative is `rule`
/// (kiln::custom_vjp).
std::shared_ptr<StagedState> define_custom_vjp(const std::shared_ptr<StagedState>& f,
                                              const std::shared_ptr<StagedState>& rule, Loc loc);

/// The module rooted at `root`: it first, then every function it reaches.
ir::Module build_module(const std::shared_ptr<StagedState>& root);

// --- arrays --------------------------------------------------------------------

/// Checks that a buffer handle belongs to the current staging context.
void check_buffer(uint32_t ctx, const char* what, Loc loc);

}  // namespace kiln::detail

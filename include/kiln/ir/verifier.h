// The IR verifier: checks every structural and typing invariant of a module.
// Run after staging and after each pass in debug builds and tests.
#pragma once

#include <kiln/ir/ir.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::ir {

/// What the verifier accepts.
struct VerifyOptions {
  /// var.load / var.store may appear (true only before promote-variables).
  bool allow_variables = false;
  /// How messages name a value (default "%<node id>"): the IR parser names
  /// values as its input text does.
  std::function<std::string(const Function&, ValueId)> value_name = nullptr;
};

/// One broken invariant: the function (index in the module), the value it
/// concerns (no_value when it is about the function as a whole) and what is
/// wrong ("in @f: ..." as verify_errors words it).
struct VerifyError {
  size_t function = 0;
  ValueId value = no_value;
  std::string message;
};
/// Every broken invariant, with the value it concerns.
std::vector<VerifyError> verify_located(const Module& m, VerifyOptions opts = {});

/// Every broken invariant, one message each; empty when the module is valid.
std::vector<std::string> verify_errors(const Module& m, VerifyOptions opts = {});

/// Throws kiln::InternalError listing the broken invariants, naming `stage`
/// (the pass that ran last) so a bug report says which pass broke what.
void verify(const Module& m, std::string_view stage, VerifyOptions opts = {});

/// Structural hash of a module: equal for modules that print the same
/// (node-table layout and source locations do not matter).
uint64_t structural_hash(const Module& m);
/// Structural equality, consistent with structural_hash.
bool structurally_equal(const Module& a, const Module& b);

}  // namespace kiln::ir

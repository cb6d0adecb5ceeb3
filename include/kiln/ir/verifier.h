// The IR verifier: checks every structural and typing invariant of a module.
// Run after staging and after each pass in debug builds and tests.
#pragma once

#include <kiln/ir/ir.h>

#include <string>
#include <string_view>
#include <vector>

namespace kiln::ir {

/// What the verifier accepts.
struct VerifyOptions {
  /// var.load / var.store may appear (true only before promote-variables).
  bool allow_variables = false;
};

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

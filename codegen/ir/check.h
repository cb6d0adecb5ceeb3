// Operand type checks by op shape, shared by the node factory and the verifier.
#pragma once

#include <kiln/ir/ir.h>

#include <string>

namespace kiln::ir {

/// Empty when `type` and the types of `args` fit the op's shape; otherwise
/// what is wrong. Region and tuple checks need the whole module and live in
/// the verifier.
std::string check_operands(const Function& f, Op op, Type type, const std::vector<ValueId>& args, int64_t imm);

}  // namespace kiln::ir

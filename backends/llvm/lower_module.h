// What lowering shares across a module (private to backends/llvm): the IR's
// types as LLVM types, and ModuleState, which owns the LLVM module being
// built and declares the runtime functions and C library calls that lowered
// code makes (lower_module.cpp). lower.cpp lowers the functions.
#pragma once

#include "lower.h"

#include <kiln/ir/ir.h>

#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <vector>

namespace kiln::llvm_backend::lowering {

/// An IR scalar as an LLVM value type.
llvm::Type* scalar_type(llvm::LLVMContext& c, ir::Scalar s);
/// How a buffer element of type s is stored in memory (bool is a byte).
llvm::Type* memory_type(llvm::LLVMContext& c, ir::Scalar s);
inline bool is_float(ir::Scalar s) { return s == ir::Scalar::f32 || s == ir::Scalar::f64; }

/// The LLVM type of an IR function: scalars as themselves, a buffer as
/// (ptr, i64 size); no result -> void, one -> itself, several -> a struct.
llvm::FunctionType* function_type(llvm::LLVMContext& c, const ir::Function& f);

/// What the whole module shares while it is lowered.
struct ModuleState {
  const ir::Module& m;
  llvm::LLVMContext& ctx;
  llvm::Module& lm;
  LowerOptions opts;
  std::vector<llvm::Function*> functions;
  int outlined = 0;

  // The runtime's functions (backends/runtime/), declared on first use
  // with the attributes that let LLVM optimise around them.
  llvm::FunctionCallee trap();
  llvm::FunctionCallee parallel_for();
  /// The thread's tape (backends/runtime/tape.h): {ptr data, i64 size, i64 cap}.
  llvm::StructType* tape_type();
  llvm::FunctionCallee tape();
  llvm::FunctionCallee tape_grow();
  llvm::FunctionCallee tape_block(bool reserve);
  /// TBAA for the tape: its header fields and its words alias nothing
  /// kiln's buffers are known not to alias, and not each other.
  llvm::MDNode* tbaa(int which);  // 0 data pointer, 1 size, 2 word
  /// A scratch block and its return (backends/runtime/scratch.h).
  llvm::FunctionCallee scratch_alloc();
  llvm::FunctionCallee scratch_free();
  /// The runtime GEMM for s (backends/runtime/gemm.h).
  llvm::FunctionCallee gemm(ir::Scalar s);
  /// The C library's exp, log, sin, cos, tanh or pow for s (…f for float).
  llvm::FunctionCallee libm(ir::Op op, ir::Scalar s);

  // tbaa()'s nodes, made on first use (public: ModuleState is an aggregate).
  llvm::MDNode* tbaa_root_ = nullptr;
  llvm::MDNode* tbaa_tags_[3] = {};
};

}  // namespace kiln::llvm_backend::lowering

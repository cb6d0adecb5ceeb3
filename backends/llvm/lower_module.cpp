// Lowering's module-wide pieces (lower_module.h): IR types as LLVM types,
// and the declarations of the runtime functions and C library calls.
#include "lower_module.h"

#include <kiln/error.h>

#include <llvm/IR/MDBuilder.h>

#include <string>

namespace kiln::llvm_backend::lowering {

using namespace kiln::ir;
namespace L = ::llvm;

L::Type* scalar_type(L::LLVMContext& c, Scalar s) {
  switch (s) {
    case Scalar::i1: return L::Type::getInt1Ty(c);
    case Scalar::i32: return L::Type::getInt32Ty(c);
    case Scalar::i64: return L::Type::getInt64Ty(c);
    case Scalar::f32: return L::Type::getFloatTy(c);
    case Scalar::f64: return L::Type::getDoubleTy(c);
  }
  return nullptr;
}

L::Type* memory_type(L::LLVMContext& c, Scalar s) {
  return s == Scalar::i1 ? L::Type::getInt8Ty(c) : scalar_type(c, s);
}

L::FunctionCallee ModuleState::trap() {
  auto callee = lm.getOrInsertFunction(trap_symbol, L::Type::getVoidTy(ctx), L::PointerType::get(ctx, 0));
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) {
    f->setDoesNotReturn();
    f->setDoesNotThrow();
    f->addFnAttr(L::Attribute::Cold);
  }
  return callee;
}

L::FunctionCallee ModuleState::parallel_for() {
  L::Type* i64 = L::Type::getInt64Ty(ctx);
  L::Type* ptr = L::PointerType::get(ctx, 0);
  return lm.getOrInsertFunction(parallel_for_symbol, L::Type::getVoidTy(ctx), i64, ptr, ptr);
}

L::StructType* ModuleState::tape_type() {
  L::Type* i64 = L::Type::getInt64Ty(ctx);
  return L::StructType::get(ctx, {L::PointerType::get(ctx, 0), i64, i64});
}

L::FunctionCallee ModuleState::tape() {
  L::Type* ptr = L::PointerType::get(ctx, 0);
  auto callee = lm.getOrInsertFunction(tape_symbol, ptr, L::Type::getInt64Ty(ctx));
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->setWillReturn();
    f->setDoesNotAccessMemory();  // the address of a thread-local: the same for every call on one thread
  }
  return callee;
}

L::FunctionCallee ModuleState::tape_grow() {
  L::Type* ptr = L::PointerType::get(ctx, 0);
  auto callee = lm.getOrInsertFunction(tape_grow_symbol, L::Type::getVoidTy(ctx), ptr);
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->addFnAttr(L::Attribute::Cold);
  }
  return callee;
}

L::FunctionCallee ModuleState::gemm(Scalar s) {
  L::Type* ptr = L::PointerType::get(ctx, 0);
  L::Type* i64 = L::Type::getInt64Ty(ctx);
  auto callee = lm.getOrInsertFunction(s == Scalar::f32 ? gemm_f32_symbol : gemm_f64_symbol, L::Type::getVoidTy(ctx),
                                       ptr, ptr, ptr, i64, i64, i64, i64);
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->setWillReturn();
    f->setOnlyAccessesArgMemory();
  }
  return callee;
}

L::FunctionCallee ModuleState::scratch_alloc() {
  L::Type* ptr = L::PointerType::get(ctx, 0);
  auto callee = lm.getOrInsertFunction(scratch_alloc_symbol, ptr, L::Type::getInt64Ty(ctx));
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->setWillReturn();
    f->setReturnDoesNotAlias();  // a block no other pointer reaches, like malloc's
  }
  return callee;
}

L::FunctionCallee ModuleState::scratch_free() {
  L::Type* ptr = L::PointerType::get(ctx, 0);
  auto callee = lm.getOrInsertFunction(scratch_free_symbol, L::Type::getVoidTy(ctx), ptr, L::Type::getInt64Ty(ctx));
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->setWillReturn();
  }
  return callee;
}

L::FunctionCallee ModuleState::tape_block(bool reserve) {
  L::Type* ptr = L::PointerType::get(ctx, 0);
  auto callee = lm.getOrInsertFunction(reserve ? tape_reserve_symbol : tape_release_symbol, ptr, ptr,
                                       L::Type::getInt64Ty(ctx));
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) f->setDoesNotThrow();
  return callee;
}

L::MDNode* ModuleState::tbaa(int which) {
  if (!tbaa_root_) {
    L::MDBuilder mb(ctx);
    tbaa_root_ = mb.createTBAARoot("kiln tape");
    const char* names[] = {"kiln tape data", "kiln tape size", "kiln tape word"};
    for (int k = 0; k < 3; ++k) {
      L::MDNode* type = mb.createTBAAScalarTypeNode(names[k], tbaa_root_);
      tbaa_tags_[k] = mb.createTBAAStructTagNode(type, type, 0);
    }
  }
  return tbaa_tags_[which];
}

L::FunctionCallee ModuleState::libm(Op op, Scalar s) {
  const bool single = s == Scalar::f32;
  std::string name;
  switch (op) {
    case Op::Exp: name = "exp"; break;
    case Op::Log: name = "log"; break;
    case Op::Sin: name = "sin"; break;
    case Op::Cos: name = "cos"; break;
    case Op::Tanh: name = "tanh"; break;
    case Op::Pow: name = "pow"; break;
    default: throw InternalError("LLVM lowering: no C library function for '" + std::string(info(op).spelling) + "'");
  }
  if (single) name += "f";
  L::Type* t = scalar_type(ctx, s);
  std::vector<L::Type*> params(op == Op::Pow ? 2 : 1, t);
  auto callee = lm.getOrInsertFunction(name, L::FunctionType::get(t, params, false));
  if (auto* f = L::dyn_cast<L::Function>(callee.getCallee())) f->setDoesNotThrow();
  return callee;
}

L::FunctionType* function_type(L::LLVMContext& c, const Function& f) {
  std::vector<L::Type*> params;
  for (ValueId p : f.params()) {
    Type t = f.type(p);
    if (t.kind == TypeKind::buf) {
      params.push_back(L::PointerType::get(c, 0));
      params.push_back(L::Type::getInt64Ty(c));
    } else {
      params.push_back(scalar_type(c, t.elem));
    }
  }
  L::Type* ret = L::Type::getVoidTy(c);
  if (f.result_types.size() == 1) ret = scalar_type(c, f.result_types[0].elem);
  if (f.result_types.size() > 1) {
    std::vector<L::Type*> elems;
    for (Type t : f.result_types) elems.push_back(scalar_type(c, t.elem));
    ret = L::StructType::get(c, elems);
  }
  return L::FunctionType::get(ret, params, false);
}

}  // namespace kiln::llvm_backend::lowering

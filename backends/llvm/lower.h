// kiln IR -> LLVM IR, with IRBuilder. One LLVM function per IR function
// (internal linkage), outlined bodies for parallel_for, and the entry point
// `kiln_call(const Slot* args, Slot* results)` that the backend calls.
#pragma once

#include <kiln/ir/ir.h>

#include <memory>

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace kiln::llvm_backend {

struct LowerOptions {
  /// Fast-math flags on float instructions (Options::fast_math).
  bool fast_math = false;
  /// Buffer parameters of the entry function do not overlap (checked by
  /// the kernel at every call, or promised by Options::assume_no_alias):
  /// `noalias` on them.
  bool no_alias = false;
};

/// The runtime symbols lowered code calls (backends/runtime/).
inline constexpr const char* trap_symbol = "kiln_rt_trap";
inline constexpr const char* parallel_for_symbol = "kiln_rt_parallel_for";
inline constexpr const char* tape_symbol = "kiln_rt_tape";
inline constexpr const char* tape_grow_symbol = "kiln_rt_tape_grow";
inline constexpr const char* tape_reserve_symbol = "kiln_rt_tape_reserve";
inline constexpr const char* tape_release_symbol = "kiln_rt_tape_release";
inline constexpr const char* scratch_alloc_symbol = "kiln_rt_scratch_alloc";
inline constexpr const char* scratch_free_symbol = "kiln_rt_scratch_free";
inline constexpr const char* gemm_f32_symbol = "kiln_rt_gemm_f32";
inline constexpr const char* gemm_f64_symbol = "kiln_rt_gemm_f64";
/// The entry point: void kiln_call(const kiln::detail::Slot*, kiln::detail::Slot*).
inline constexpr const char* entry_symbol = "kiln_call";

/// Lowers a promoted module. The result passes LLVM's verifier (checked:
/// kiln::InternalError otherwise).
std::unique_ptr<llvm::Module> lower(const ir::Module& m, llvm::LLVMContext& ctx, const LowerOptions& opts);

}  // namespace kiln::llvm_backend

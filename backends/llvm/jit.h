// LLVM code generation for the host and the process-wide JIT: optimise a
// module at O3 for this CPU, compile it to an object file in memory, load
// an object into ORC's LLJIT. Objects are plain bytes, so the kernel cache
// can keep them on disk and a later process loads them without running the
// optimiser or the code generator.
#pragma once

#include <memory>
#include <string>

namespace llvm {
class Module;
}

namespace kiln::llvm_backend {

/// "19.1.7".
std::string llvm_version();
/// The host CPU as LLVM sees it: name and feature string
/// ("skylake-avx512 +avx2,+avx512f,...").
std::string host_cpu();

/// Runs kiln's LLVM pipeline with a TargetMachine for the host CPU (so the
/// vectorisers know the vector width) and compiles the module to an ELF
/// object. With `vector_math` (fast_math only: the vector functions round
/// differently from the scalar C library) loops calling exp, log, sin, cos,
/// tanh or pow vectorise into calls of vector_math_library()'s variants
/// (declared in llvm_backend.h).
/// KILN_DUMP=llvm prints the module before and after optimisation,
/// KILN_DUMP=asm the machine code.
std::string compile_to_object(std::unique_ptr<llvm::Module> m, const std::string& name, bool vector_math = false);

/// The module as compile_to_object optimises it, as LLVM IR text (kiln-opt
/// --emit=llvm).
std::string optimised_ir(std::unique_ptr<llvm::Module> m, bool vector_math = false);

/// An object loaded into the JIT, in a JITDylib of its own (removed when the
/// last reference goes). `entry` is the address of kiln_call.
class LoadedObject {
 public:
  using Entry = void (*)(const void* args, void* results);
  LoadedObject(void* dylib, Entry entry) : dylib_(dylib), entry_(entry) {}
  ~LoadedObject();
  LoadedObject(const LoadedObject&) = delete;
  LoadedObject& operator=(const LoadedObject&) = delete;
  Entry entry() const { return entry_; }

 private:
  void* dylib_;
  Entry entry_;
};

/// Links `object` into the process-wide JIT. C library functions resolve to
/// this process's, the runtime's kiln_rt_* to kiln's. Throws
/// kiln::CompileError if the object cannot be linked.
std::shared_ptr<LoadedObject> load_object(const std::string& object, const std::string& name);

}  // namespace kiln::llvm_backend

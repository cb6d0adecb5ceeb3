// The C++ emitter: a module as one standalone C++17 source file (and the
// matching header), for export and for the system-compiler backend.
#pragma once

#include <kiln/ir/ir.h>

#include <string>

namespace kiln::emit {

struct CppOptions {
  /// Append `extern "C" void kiln_call(const kiln_slot*, kiln_slot*)`, the
  /// entry point the cxx backend calls with kiln's argument slots.
  bool backend_entry = false;
};

/// The source: an `extern "C"` function named after the entry function
/// (Rep<T> -> T, Arr<T> -> T* name, int64_t name_size, const for
/// Arr<const T>; one result returned, several through out-pointers),
/// callees as `static` functions, helpers in an anonymous namespace.
/// Deterministic: the same module gives the same text.
std::string emit_cpp(const ir::Module& m, const CppOptions& opts = {});

/// A header declaring the entry function, usable from C and C++.
std::string emit_cpp_header(const ir::Module& m);

}  // namespace kiln::emit

// Generated source a user can read, ship and build without kiln.
//
//   auto saxpy = kiln::stage("saxpy", {"a", "x", "y"}, [](kiln::Rep<float> a, kiln::Arr<const float> x,
//                                                         kiln::Arr<float> y) { ... });
//   kiln::export_source(saxpy, "saxpy.cpp");   // extern "C" void saxpy(float a, const float* x,
//   kiln::export_header(saxpy, "saxpy.h");     //   int64_t x_size, float* y, int64_t y_size)
//
// The C++ file is standalone C++17 (standard headers only). Its function is
// named after the staged function; a Rep<T> parameter is a T, an Arr<T> is
// `T* name, int64_t name_size` (`const T*` for Arr<const T>); one result is
// the return value, several come back through trailing out-pointers
// `T* out0, T* out1, ...`; staged callees are `static` functions in the file.
// Integer division by zero and a zero loop step throw std::domain_error;
// buffers are not bounds-checked. Build with -ffp-contract=off (GCC's
// -std=c++17 implies it) for results bit-identical to kiln's interpreter.
//
// Target::cuda writes the CUDA C++ that Backend::cuda runs, with an
// extern "C" host launcher named after the function that takes the same
// parameters as the C++ export, with buffers as *device* pointers (CUDA
// runtime API; nvcc -c builds it; errors abort with a message). Target::ptx
// writes the PTX NVRTC makes of the kernels, for Options::cuda_arch
// ("" -> sm_90), to load with cuModuleLoadData; it needs NVRTC at run time.
#pragma once

#include <kiln/compile.h>

#include <filesystem>
#include <string>

namespace kiln {

/// What export_source writes.
enum class Target {
  cpp,   ///< a standalone C++17 source file
  cuda,  ///< a CUDA C++ source file with a host launcher (nvcc compiles it)
  ptx,   ///< PTX from NVRTC for Options::cuda_arch (needs the CUDA toolkit: else kiln::CompileError)
};

namespace detail {
/// The source for target t; a kiln::CompileError names `loc`, the user's call.
std::string export_text(const std::shared_ptr<StagedState>& s, kiln::Target t, const Options& opts, Loc loc);
std::string export_header_text(const std::shared_ptr<StagedState>& s, const Options& opts);
/// Writes `text` to `path`; a kiln::IOError names `loc`, the user's call.
void write_text(const std::filesystem::path& path, const std::string& text, Loc loc = Loc::current());
}  // namespace detail

/// The source export_source would write, as a string (after the pipeline
/// that `opts` selects). Target::ptx without NVRTC, or for an architecture
/// it rejects, is a kiln::CompileError naming this call's file:line.
template <class Sig>
std::string source(const Staged<Sig>& s, Target target = Target::cpp, const Options& opts = {},
                   detail::Loc loc = detail::Loc::current()) {
  return detail::export_text(s.state(), target, opts, loc);
}

/// Writes the optimised function as standalone source to `path`. Throws
/// kiln::IOError, naming this call's file:line, when the file cannot be
/// written.
template <class Sig>
void export_source(const Staged<Sig>& s, const std::filesystem::path& path, Target target = Target::cpp,
                   const Options& opts = {}, detail::Loc loc = detail::Loc::current()) {
  detail::write_text(path, detail::export_text(s.state(), target, opts, loc), loc);
}

/// Writes a header declaring the exported function (usable from C and C++).
/// Throws kiln::IOError as export_source does.
template <class Sig>
void export_header(const Staged<Sig>& s, const std::filesystem::path& path, const Options& opts = {},
                   detail::Loc loc = detail::Loc::current()) {
  detail::write_text(path, detail::export_header_text(s.state(), opts), loc);
}

}  // namespace kiln

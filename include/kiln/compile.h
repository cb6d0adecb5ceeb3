// Compiling staged functions to callables. compile() runs the default pass
// pipeline and hands the IR to a backend; the result is called with plain
// values and std::spans (or with objects kiln::as_span adapts: Eigen's, with
// kiln/eigen.h).
//
//   auto dot = kiln::compile(staged_dot, {.backend = kiln::Backend::interp});
//   float r = dot(std::span<const float>(x), std::span<const float>(y));
#pragma once

#include <kiln/staged.h>

#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace kiln {

/// Where compiled code runs. Only backends built into this kiln are available;
/// asking for another throws kiln::CompileError saying how to enable it.
enum class Backend {
  automatic,  ///< the default: llvm when this kiln has it, else interp
  interp,  ///< the reference interpreter: exact, bounds-checked, slow (the oracle)
  llvm,    ///< LLVM ORC JIT
  cxx,     ///< C++ source compiled by the system compiler
  cuda,    ///< the GPU: CUDA C++ compiled by NVRTC to PTX, run through the driver (kiln/cuda.h)
};

/// The optimisation passes, each on by default and each switchable off
/// (codegen/passes/pipeline.cpp runs them in this order; docs/passes.md).
struct Passes {
  bool inline_calls = true;     ///< inline small and single-call-site staged functions (never recursion)
  bool fold = true;             ///< constant folding and algebraic simplification
  bool reduce_strength = true;  ///< pow(x, 0|1) always; pow(x, small integer) -> multiplications with fast_math
  bool cse = true;              ///< common-subexpression elimination across regions
  bool simplify_cfg = true;     ///< constant conditions, empty / zero-trip loops, identical branches
  bool forward_tape = true;     ///< a tape.pop right after its tape.push takes the pushed value (reverse mode)
  bool forward_fill = true;     ///< a gradient buffer's zero fill forwarded into the loop that adds into each element once
  bool licm = true;             ///< loop-invariant code motion
  bool dce = true;              ///< dead values, dead loop-carried values, effect-free regions
  /// for a backend's module (after tensor lowering): a loop nest whose stores run down columns is
  /// split and interchanged so that they run along rows (reverse mode's matmul nests)
  bool reorder_loops = true;
  /// tensor ops -> fused loop nests (codegen/lower); runs even with optimize = false. Off, only
  /// Backend::interp runs the program (it executes tensor ops directly: the reference for lowering).
  bool lower_tensors = true;
  /// With fast_math, lowering makes a 2-D tensor matmul of at least
  /// lower::fast_math_gemm_min_work multiply-adds one `gemm` op, which
  /// Backend::llvm runs as a call of a GEMM library (Eigen when kiln was
  /// built with it); off, such matmuls stay loop nests.
  bool gemm = true;
  bool operator==(const Passes&) const = default;
};

/// Compilation options (an aggregate: use designated initialisers).
struct Options {
  /// The backend that runs the code.
  Backend backend = Backend::automatic;
  /// Run the IR verifier after each pass (always on in debug builds).
  bool verify_each_pass = false;
  /// Run the optimisation passes; false runs only variable promotion.
  bool optimize = true;
  /// Allow float rewrites that change results in the last bits or in signed
  /// zeros and NaNs: x+0.0 -> x, x*0.0 -> 0, x-x -> 0, x==x -> true and
  /// x<x -> false (not so for NaN), reassociation of constants
  /// ((x+1)+2 -> x+3), pow(x, n) -> multiplications for |n| <= 16. In
  /// Backend::llvm also FMA contraction, vectorised exp/log/sin/cos/tanh/pow
  /// (glibc's libmvec) and large matmuls through a GEMM library
  /// (Passes::gemm).
  bool fast_math = false;
  /// Individual passes (all on by default).
  Passes passes = {};
  /// Backend::llvm compiles a function for buffers that do not overlap
  /// (`noalias`: loops vectorise without run-time overlap checks) and checks
  /// every call's spans: a call where a written buffer overlaps another runs
  /// a variant compiled without that assumption (compiled the first time it
  /// is needed). true promises that buffers never overlap and skips the
  /// check; passing overlapping buffers then gives wrong results.
  bool assume_no_alias = false;
  /// Backend::cxx: the C++ compiler to run ("" -> $KILN_CXX, else "c++").
  std::string cxx_compiler = {};
  /// Backend::cxx: its flags, split on spaces ("" -> $KILN_CXX_FLAGS, else
  /// "-O3 -march=native"); -std=c++17 -shared -fPIC -ffp-contract=off are
  /// always added.
  std::string cxx_flags = {};
  /// Backend::cuda: the GPU architecture PTX is compiled for, "sm_XY"
  /// ("" -> $KILN_CUDA_ARCH, else the CUDA device's own, else "sm_90"). A
  /// call on a device that cannot run that PTX compiles the program again
  /// for the device's architecture.
  std::string cuda_arch = {};
  bool operator==(const Options&) const = default;
};

/// Extension point: lets a compiled function take an object of type T
/// wherever it takes a std::span (an Arr<E> parameter), e.g. a matrix type
/// of another library that owns contiguous storage. kiln/eigen.h specialises
/// it for Eigen's dense objects. A specialisation defines
///
///   using element_type = ...;                    // the scalar T holds
///   template <class E, class X>                  // X: T or const T
///   static std::span<E> to_span(X& x, std::source_location where);
///
/// to_span is called with E the Arr parameter's element type (const for an
/// Arr<const E>) and `where` the caller's file:line, for its errors; it
/// checks that x fits (its scalar type with a static_assert, its layout at
/// run time) and returns its elements.
///
///   template <> struct kiln::as_span<MyVec> { using element_type = float; ... };
///   f(my_vec, out);   // Compiled<void(std::span<const float>, std::span<float>)>
template <class T>
struct as_span {};

namespace detail {
/// T has a kiln::as_span specialisation.
template <class T>
concept spannable = requires { typename as_span<T>::element_type; };

/// An argument of Compiled's adapting call: what converts to the
/// parameter's plain type A, or (for a span) an object kiln::as_span adapts,
/// converted where the caller wrote it (its location goes to to_span).
template <class A>
struct CallValue {
  A value;
  template <class U>
    requires std::is_convertible_v<U&&, A>
  CallValue(U&& u) : value(std::forward<U>(u)) {}
};
template <class E>
struct CallValue<std::span<E>> {
  std::span<E> value;
  template <class U>
    requires(std::is_convertible_v<U &&, std::span<E>> && !spannable<std::remove_cvref_t<U>>)
  CallValue(U&& u) : value(std::forward<U>(u)) {}
  template <class U>
    requires spannable<std::remove_cvref_t<U>>
  CallValue(U&& x, std::source_location where = std::source_location::current())
      : value(as_span<std::remove_cvref_t<U>>::template to_span<E>(x, where)) {}
};

/// One argument or result crossing into compiled code.
struct Slot {
  union {
    int64_t i;
    float f32;
    double f64;
    const void* p;
  };
  int64_t size = 0;
};
class Kernel;
/// Compiles `s` for opts.backend; a kiln::CompileError names `loc`, the
/// user's compile() call.
std::shared_ptr<Kernel> compile_kernel(const std::shared_ptr<StagedState>& s, const Options& opts, Loc loc);
/// The kernel compile_kernel made from `s` with equal options, or null. (A
/// staged function is defined once, and so is everything it calls by the
/// time a compile of it succeeds: what it reaches cannot change.)
std::shared_ptr<Kernel> compiled_before(StagedState& s, const Options& opts);
void remember_compiled(StagedState& s, const Options& opts, std::shared_ptr<Kernel> k);
/// Calls `k`; a kiln::RuntimeError names `loc`, the user's call.
void invoke(const Kernel& k, const Slot* args, size_t nargs, Slot* results, size_t nresults, Loc loc);

template <class A>
Slot to_slot(const A& a) {
  Slot s;
  if constexpr (requires { a.data(); }) { s.p = a.data(); s.size = static_cast<int64_t>(a.size()); }
  else if constexpr (std::is_same_v<A, float>) s.f32 = a;
  else if constexpr (std::is_same_v<A, double>) s.f64 = a;
  else s.i = static_cast<int64_t>(a);
  return s;
}
template <class T>
T from_slot(const Slot& s) {
  if constexpr (std::is_same_v<T, float>) return s.f32;
  else if constexpr (std::is_same_v<T, double>) return s.f64;
  else if constexpr (std::is_same_v<T, bool>) return s.i != 0;
  else return static_cast<T>(s.i);
}
template <class R> struct result_count { static constexpr size_t value = 1; };
template <> struct result_count<void> { static constexpr size_t value = 0; };
template <class... Xs> struct result_count<std::tuple<Xs...>> { static constexpr size_t value = sizeof...(Xs); };
}  // namespace detail

template <class Sig>
class Compiled;

/// A compiled staged function, called with plain values: scalars for Rep
/// parameters, std::span for Arr parameters (or objects kiln::as_span
/// adapts). Copies share the code. Threads may call it at once, each with
/// buffers no other thread writes meanwhile.
template <class R, class... Args>
class Compiled<R(Args...)> {
 public:
  explicit Compiled(std::shared_ptr<detail::Kernel> k) : kernel_(std::move(k)) {}

  /// Runs the function. Throws kiln::RuntimeError, naming the staged line
  /// and this call's, when it traps (an out-of-bounds index on the
  /// interpreter, integer division by zero, a zero loop step, a buffer
  /// whose size does not fit) or cannot run (Backend::cuda without a GPU).
  R operator()(Args... args, detail::Loc loc = detail::Loc::current()) const {
    detail::Slot in[sizeof...(Args) + 1] = {detail::to_slot(args)...};
    constexpr size_t n = detail::result_count<R>::value;
    detail::Slot out[n + 1];
    detail::invoke(*kernel_, in, sizeof...(Args), out, n, loc);
    if constexpr (std::is_void_v<R>) return;
    else if constexpr (requires { std::tuple_size<R>::value; })
      return [&]<size_t... I>(std::index_sequence<I...>) {
        return R{detail::from_slot<std::tuple_element_t<I, R>>(out[I])...};
      }(std::make_index_sequence<n>());
    else return detail::from_slot<R>(out[0]);
  }

  /// Runs the function where some argument is an object kiln::as_span
  /// adapts to the span its Arr parameter takes (with kiln/eigen.h: Eigen
  /// matrices, arrays, maps, refs, contiguous blocks); the adapter's errors
  /// name the caller's line.
  ///
  ///   f(A, x, y);   // Eigen::MatrixXf A; Eigen::VectorXf x, y
  // A template only so that the call above wins every tie: a call this one
  // could take too (spans, vectors, scalars) always goes there unchanged.
  template <class = void>
  R operator()(detail::CallValue<Args>... args) const {
    return (*this)(std::move(args.value)...);
  }

 private:
  std::shared_ptr<detail::Kernel> kernel_;
};

/// True when backend b is built into this kiln (Backend::llvm needs LLVM 19
/// when kiln is built; Backend::cxx needs a C++ compiler when it runs;
/// Backend::cuda needs the CUDA toolkit when kiln is built and NVRTC when
/// it compiles, and its calls need a GPU: kiln::cuda_device_available()).
bool available(Backend b);

/// Optimises and compiles a staged function for a backend. Throws
/// kiln::CompileError, naming this call's file:line, when the backend is
/// not built in or cannot compile the program (the tool's log and the path
/// of the kept source), or kiln's cache directory cannot be used. Any
/// thread may compile; threads compiling one program at once share one
/// compile (docs/threads.md).
template <class Sig>
Compiled<Sig> compile(const Staged<Sig>& s, Options opts = {}, detail::Loc loc = detail::Loc::current()) {
  return Compiled<Sig>(detail::compile_kernel(s.state(), opts, loc));
}

}  // namespace kiln

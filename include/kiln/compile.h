// Compiling staged functions to callables. compile() runs the default pass
// pipeline and hands the IR to a backend; the result is called with plain
// values and std::spans.
//
//   auto dot = kiln::compile(staged_dot, {.backend = kiln::Backend::interp});
//   float r = dot(std::span<const float>(x), std::span<const float>(y));
#pragma once

#include <kiln/staged.h>

#include <memory>
#include <span>
#include <string>
#include <tuple>

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
  bool licm = true;             ///< loop-invariant code motion
  bool dce = true;              ///< dead values, dead loop-carried values, effect-free regions
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

namespace detail {
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
std::shared_ptr<Kernel> compile_kernel(const std::shared_ptr<StagedState>& s, const Options& opts);
/// The kernel compile_kernel made from `s` with equal options, or null. (A
/// staged function is defined once, and so is everything it calls by the
/// time a compile of it succeeds: what it reaches cannot change.)
std::shared_ptr<Kernel> compiled_before(StagedState& s, const Options& opts);
void remember_compiled(StagedState& s, const Options& opts, std::shared_ptr<Kernel> k);
void invoke(const Kernel& k, const Slot* args, size_t nargs, Slot* results, size_t nresults);

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
/// parameters, std::span for Arr parameters. Copies share the code. Threads
/// may call it at once, each with buffers no other thread writes meanwhile.
template <class R, class... Args>
class Compiled<R(Args...)> {
 public:
  explicit Compiled(std::shared_ptr<detail::Kernel> k) : kernel_(std::move(k)) {}

  /// Runs the function. Throws kiln::RuntimeError if it traps (interpreter).
  R operator()(Args... args) const {
    detail::Slot in[sizeof...(Args) + 1] = {detail::to_slot(args)...};
    constexpr size_t n = detail::result_count<R>::value;
    detail::Slot out[n + 1];
    detail::invoke(*kernel_, in, sizeof...(Args), out, n);
    if constexpr (std::is_void_v<R>) return;
    else if constexpr (requires { std::tuple_size<R>::value; })
      return [&]<size_t... I>(std::index_sequence<I...>) {
        return R{detail::from_slot<std::tuple_element_t<I, R>>(out[I])...};
      }(std::make_index_sequence<n>());
    else return detail::from_slot<R>(out[0]);
  }

 private:
  std::shared_ptr<detail::Kernel> kernel_;
};

/// True when backend b is built into this kiln (Backend::llvm needs LLVM 19
/// when kiln is built; Backend::cxx needs a C++ compiler when it runs;
/// Backend::cuda needs the CUDA toolkit when kiln is built and NVRTC when
/// it compiles, and its calls need a GPU: kiln::cuda_device_available()).
bool available(Backend b);

/// Optimises and compiles a staged function for a backend. Any thread may
/// compile; threads compiling one program at once share one compile
/// (docs/threads.md).
template <class Sig>
Compiled<Sig> compile(const Staged<Sig>& s, Options opts = {}) {
  return Compiled<Sig>(detail::compile_kernel(s.state(), opts));
}

}  // namespace kiln

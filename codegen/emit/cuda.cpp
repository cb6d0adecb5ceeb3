// The CUDA emitter (cuda.h says how a function maps to launches). Two steps:
//   1. split(): the entry's top-level body becomes a module of kernel
//      functions in IR, one per launch, followed by the original functions
//      (the callees, as __device__ functions). Values that cross launches
//      are stored to and loaded from the slot arrays by ordinary IR stores
//      and loads, so the printer needs to know nothing about launches.
//   2. printing with the shared C-family printer and a dialect whose only
//      differences are NaN and infinity constants, traps, and the
//      grid-stride header of a kernel's parallel_for. (NVRTC has no standard
//      library: the prelude defines kiln_math::sqrt & co., which the
//      operator table calls, on CUDA's math functions.)
#include "cuda.h"

#include "c_family.h"
#include "names.h"
#include "../passes/rewrite.h"

#include <kiln/error.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <map>

namespace kiln::emit {
namespace {

using namespace ir;

// --- the dialect -------------------------------------------------------------

class CudaDialect : public Dialect {
 public:
  explicit CudaDialect(bool grid) : grid_(grid) {}

  std::string constant(Scalar s, int64_t imm) const override {
    if (s != Scalar::f32 && s != Scalar::f64) return Dialect::constant(s, imm);
    Node n;
    n.op = Op::Const;
    n.type = Type::scalar(s);
    n.imm = imm;
    const double x = const_float(n);
    if (std::isfinite(x)) return Dialect::constant(s, imm);
    // No <limits> under NVRTC: NaN and infinity by their bits.
    char buf[64];
    if (s == Scalar::f32)
      std::snprintf(buf, sizeof buf, "__int_as_float(int(0x%08xu))", std::bit_cast<uint32_t>(static_cast<float>(x)));
    else
      std::snprintf(buf, sizeof buf, "__longlong_as_double((long long)0x%016llxull)",
                    static_cast<unsigned long long>(std::bit_cast<uint64_t>(x)));
    return buf;
  }

  // The first trap's message is kept; the thread stops (PTX exit), and the
  // host reports the message after the launch.
  std::string trap(const std::string& message) const override {
    return "{ kiln_trap(" + message + "); asm volatile(\"exit;\"); }";
  }

  // NVRTC is not GCC: a carried product needs no guard.
  std::string carried_product(Scalar, const std::string& x) const override { return x; }

  std::string shared_loop(const std::string& k, const std::string& trips) const override {
    if (!grid_) return "";
    return "for (uint64_t " + k + " = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; " + k + " < " + trips + "; " +
           k + " += uint64_t(blockDim.x) * gridDim.x) {";
  }

 private:
  bool grid_;
};

// Device helpers, all always present (the prelude is small and NVRTC
// compiles unused templates for free). Semantics are the interpreter's:
// integer arithmetic wraps, float -> int saturates, a trap is recorded
// (first message wins) and the thread goes on with a zero.
constexpr const char* prelude = R"(#ifdef __CUDACC_RTC__
typedef int int32_t;
typedef long long int64_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
#define INT64_C(c) c##LL
#define INT32_MIN (-2147483647 - 1)
#define INT64_MIN (-INT64_C(9223372036854775807) - 1)
#else
#include <cstdint>
#endif

// The first trap of a launch sequence (the host reads and clears these):
// visible symbols for the driver under NVRTC, file-local under nvcc.
#ifdef __CUDACC_RTC__
extern "C" {
#define KILN_DEVICE_GLOBAL __device__
#else
#define KILN_DEVICE_GLOBAL static __device__
#endif
KILN_DEVICE_GLOBAL unsigned int kiln_error_flag;
KILN_DEVICE_GLOBAL char kiln_error_message[256];
#ifdef __CUDACC_RTC__
}
#endif

__device__ inline void kiln_trap(const char* message) {
  if (atomicCAS(&kiln_error_flag, 0u, 1u) != 0u) return;
  int i = 0;
  for (; i < 255 && message[i]; ++i) kiln_error_message[i] = message[i];
  kiln_error_message[i] = 0;
  __threadfence();
}

// The math functions the operator table calls as kiln_math::name.
namespace kiln_math {
__device__ inline float sqrt(float x) { return ::sqrtf(x); }
__device__ inline double sqrt(double x) { return ::sqrt(x); }
__device__ inline float fabs(float x) { return ::fabsf(x); }
__device__ inline double fabs(double x) { return ::fabs(x); }
__device__ inline float floor(float x) { return ::floorf(x); }
__device__ inline double floor(double x) { return ::floor(x); }
__device__ inline float fmod(float x, float y) { return ::fmodf(x, y); }
__device__ inline double fmod(double x, double y) { return ::fmod(x, y); }
__device__ inline float fma(float x, float y, float z) { return ::fmaf(x, y, z); }
__device__ inline double fma(double x, double y, double z) { return ::fma(x, y, z); }
}  // namespace kiln_math
__device__ inline float kiln_exp(float x) { return expf(x); }
__device__ inline double kiln_exp(double x) { return exp(x); }
__device__ inline float kiln_log(float x) { return logf(x); }
__device__ inline double kiln_log(double x) { return log(x); }
__device__ inline float kiln_sin(float x) { return sinf(x); }
__device__ inline double kiln_sin(double x) { return sin(x); }
__device__ inline float kiln_cos(float x) { return cosf(x); }
__device__ inline double kiln_cos(double x) { return cos(x); }
__device__ inline float kiln_tanh(float x) { return tanhf(x); }
__device__ inline double kiln_tanh(double x) { return tanh(x); }
__device__ inline float kiln_pow(float x, float y) { return powf(x, y); }
__device__ inline double kiln_pow(double x, double y) { return pow(x, y); }

template <class T> struct kiln_int;
template <> struct kiln_int<int32_t> {
  typedef uint32_t unsigned_type;
  static __device__ int32_t lowest() { return INT32_MIN; }
  static __device__ int32_t highest() { return 2147483647; }
};
template <> struct kiln_int<int64_t> {
  typedef uint64_t unsigned_type;
  static __device__ int64_t lowest() { return INT64_MIN; }
  static __device__ int64_t highest() { return INT64_C(9223372036854775807); }
};

// Integer + - * wrap around (two's complement), as the IR defines them.
template <class T> __device__ inline T kiln_add(T a, T b) { typedef typename kiln_int<T>::unsigned_type U; return T(U(a) + U(b)); }
template <class T> __device__ inline T kiln_sub(T a, T b) { typedef typename kiln_int<T>::unsigned_type U; return T(U(a) - U(b)); }
template <class T> __device__ inline T kiln_mul(T a, T b) { typedef typename kiln_int<T>::unsigned_type U; return T(U(a) * U(b)); }
template <class T> __device__ inline T kiln_neg(T a) { typedef typename kiln_int<T>::unsigned_type U; return T(U(0) - U(a)); }
template <class T> __device__ inline T kiln_abs(T a) { return a < 0 ? kiln_neg(a) : a; }
// Shift counts are taken modulo the bit width.
template <class T> __device__ inline T kiln_shl(T a, T b) {
  typedef typename kiln_int<T>::unsigned_type U;
  return T(U(a) << (U(b) & U(sizeof(T) * 8 - 1)));
}
// Division by zero traps; MIN / -1 wraps to MIN.
template <class T> __device__ inline T kiln_div(T a, T b, const char* trap) {
  if (b == 0) { kiln_trap(trap); return 0; }
  return b == -1 ? kiln_neg(a) : a / b;
}
// Remainder by zero traps; MIN % -1 is 0.
template <class T> __device__ inline T kiln_rem(T a, T b, const char* trap) {
  if (b == 0) { kiln_trap(trap); return 0; }
  return b == -1 ? T(0) : a % b;
}
// Float -> integer truncates toward zero and saturates; NaN becomes 0.
template <class I, class F> __device__ inline I kiln_to_int(F x) {
  const double d = double(x);
  if (d != d) return 0;
  if (d <= double(kiln_int<I>::lowest())) return kiln_int<I>::lowest();
  if (d >= -double(kiln_int<I>::lowest())) return kiln_int<I>::highest();
  return I(d);
}
// Iterations of `for (i = lo; step > 0 ? i < hi : i > hi; i += step)`, counted
// without overflow; a zero step traps (and runs no iteration).
template <class T> __device__ inline uint64_t kiln_trip_count(T lo, T hi, T step, const char* trap) {
  if (step == 0) { kiln_trap(trap); return 0; }
  const uint64_t l = uint64_t(int64_t(lo)), h = uint64_t(int64_t(hi)), s = uint64_t(int64_t(step));
  if (step > 0) return lo < hi ? (h - l - 1) / s + 1 : 0;
  return lo > hi ? (l - h - 1) / (0 - s) + 1 : 0;
}
// The k-th index of such a loop: lo + k * step.
template <class T> __device__ inline T kiln_index(T lo, uint64_t k, T step) {
  typedef typename kiln_int<T>::unsigned_type U;
  return T(U(lo) + U(k) * U(step));
}
// IR disjoint: the element bytes of buffers a (na elements) and b (nb) do not
// overlap. An empty buffer overlaps nothing.
template <class A, class B> __device__ inline bool kiln_disjoint(const A* a, int64_t na, const B* b, int64_t nb) {
  if (na <= 0 || nb <= 0) return true;
  const unsigned long long a_begin = (unsigned long long)a, b_begin = (unsigned long long)b;
  const unsigned long long a_end = a_begin + (unsigned long long)na * sizeof(A);
  const unsigned long long b_end = b_begin + (unsigned long long)nb * sizeof(B);
  return a_end <= b_begin || b_end <= a_begin;
}
)";

// --- splitting the entry into launches ----------------------------------------

// A value every launch can make for itself: a constant, or the size of a
// buffer parameter.
bool free_value(const Function& f, ValueId v) {
  const Op op = f.node(v).op;
  return op == Op::Const || (op == Op::Size && f.node(f.node(v).args[0]).op == Op::Param);
}

void refuse_tape(const Module& m) {
  for (const Function& f : m.functions)
    walk(f, [&](ValueId v) {
      const Node& n = f.node(v);
      std::string at0 = n.loc.line() ? std::string(" at ") + n.loc.file_name() + ":" + std::to_string(n.loc.line()) : "";
      if (n.op == Op::Alloc)  // the entry's became parameters (scratch_params)
        throw CompileError("Backend::cuda cannot run @" + f.name + ": a staged callee with tensor temporaries" + at0 +
                           " (each GPU thread would need its own); compute the tensors in the function you compile, "
                           "or compile with Backend::llvm");
      if (!is_tape_op(n.op)) return;
      std::string at = n.loc.line() ? std::string(" at ") + n.loc.file_name() + ":" + std::to_string(n.loc.line()) : "";
      throw CompileError("Backend::cuda cannot run reverse-mode code: @" + f.name + " uses " +
                         std::string(info(n.op).spelling) + at +
                         " (the tape lives in host memory); compile the gradient with Backend::llvm, or use "
                         "forward mode (kiln::jvp), which runs on the GPU");
    });
}

// The entry's allocs (tensor lowering puts them in its top region) become
// buffer parameters after its own; the host allocates them per call.
std::vector<CudaScratch> scratch_params(Module& m) {
  Function& f = m.functions[0];
  std::vector<CudaScratch> out;
  std::vector<ValueId> kept;
  passes::Substitution sub(f);
  for (ValueId v : f.regions[f.body].body) {
    if (f.nodes[v].op != Op::Alloc) {
      kept.push_back(v);
      continue;
    }
    const Node n = f.nodes[v];
    out.push_back({n.type.elem, n.imm});
    ValueId p = f.add(Op::Param, n.type, {}, static_cast<int64_t>(f.regions[f.body].params.size()), n.loc);
    f.regions[f.body].params.push_back(p);
    if (!f.param_names.empty()) f.param_names.push_back("scratch" + std::to_string(out.size() - 1));
    sub.replace(v, p);
  }
  f.regions[f.body].body = std::move(kept);
  sub.apply(f);
  return out;
}

class Splitter {
 public:
  explicit Splitter(const Module& m) : m_(m), f_(m.functions.at(0)), seg_(f_.nodes.size(), -1) {}

  CudaModule run(Module& dev, std::vector<bool>& grid) {
    assign_segments();
    find_crossings();
    for (size_t s = 0; s < grid_.size(); ++s) dev.functions.push_back(build(s));
    grid = grid_;
    const size_t first = dev.functions.size();
    for (Function g : m_.functions) {
      g.custom_vjp = -1;
      for (Node& n : g.nodes)
        if (n.op == Op::Call) n.imm += static_cast<int64_t>(first);
      dev.functions.push_back(std::move(g));
    }
    for (size_t s = 0; s < first; ++s)
      for (Node& n : dev.functions[s].nodes)
        if (n.op == Op::Call) n.imm += static_cast<int64_t>(first);
    CudaModule out;
    out.int_slots = std::max<size_t>(1, int_slots_);
    out.float_slots = std::max<size_t>(1, float_slots_);
    for (ValueId y : f_.region(f_.body).yields) {
      const auto [floating, slot] = slot_of_.at(y);
      out.results.push_back({floating, slot, f_.type(y).elem});
    }
    return out;
  }

 private:
  const auto& top() const { return f_.region(f_.body).body; }

  // Each top-level parallel_for is a grid launch; the other nodes between
  // them form serial launches. A `get` goes with its tuple, free values
  // with nobody (each launch makes its own).
  void assign_segments() {
    bool open = false;
    for (ValueId v : top()) {
      const Node& n = f_.node(v);
      if (free_value(f_, v)) continue;
      if (n.op == Op::Get) {
        seg_[v] = seg_[n.args[0]];
        continue;
      }
      if (n.op == Op::ParallelFor) {
        grid_.push_back(true);
        open = false;
      } else if (!open) {
        grid_.push_back(false);
        open = true;
      }
      seg_[v] = static_cast<int>(grid_.size() - 1);
    }
  }

  bool top_level(ValueId v) const { return v < seg_.size() && (seg_[v] >= 0 || free_value(f_, v)); }

  // Values one launch defines and a later one (or the host) reads get a
  // slot; results no launch computes (parameters, constants) are stored by
  // the last launch when it is serial, else by one more.
  void find_crossings() {
    exports_.resize(grid_.size());
    for (ValueId v : top()) {
      if (seg_[v] < 0) continue;
      walk_uses(v, [&](ValueId a) {
        if (seg_[a] >= 0 && seg_[a] != seg_[v]) give_slot(a);
      });
    }
    for (ValueId y : f_.region(f_.body).yields) {
      if (seg_[y] >= 0) {
        give_slot(y);
        continue;
      }
      // The last launch stores them when it is serial; else a new one.
      if (!epilogue_ && (grid_.empty() || grid_.back())) {
        grid_.push_back(false);
        exports_.emplace_back();
      }
      epilogue_ = true;
      give_slot(y);
    }
  }

  // Calls fn on every operand and yield that node v and its regions read.
  template <class F>
  void walk_uses(ValueId v, F&& fn) const {
    auto visit = [&](ValueId x) {
      const Node& n = f_.node(x);
      for (ValueId a : n.args) fn(a);
      for (RegionId r : n.regions)
        for (ValueId y : f_.region(r).yields) fn(y);
    };
    visit(v);
    for (RegionId r : f_.node(v).regions) walk(f_, r, visit);
  }

  void give_slot(ValueId v) {
    if (slot_of_.count(v)) return;
    const bool floating = f_.type(v).is_float();
    slot_of_[v] = {floating, floating ? float_slots_++ : int_slots_++};
    const size_t s = seg_[v] >= 0 ? static_cast<size_t>(seg_[v]) : grid_.size() - 1;
    exports_[s].push_back(v);
  }

  ValueId constant(Function& g, Scalar s, int64_t value, std::vector<ValueId>& body) {
    ValueId c = g.add(Op::Const, Type::scalar(s), {}, encode_const_int(s, value));
    body.push_back(c);
    return c;
  }

  // Makes top-level value a of the entry available in launch function g.
  ValueId bring(Function& g, ValueId a, std::vector<ValueId>& map, std::vector<ValueId>& body) {
    if (map[a] != no_value) return map[a];
    const Node& n = f_.node(a);
    if (free_value(f_, a)) {
      std::vector<ValueId> args;
      for (ValueId x : n.args) args.push_back(map[x]);
      map[a] = g.add(n.op, n.type, std::move(args), n.imm, n.loc);
      body.push_back(map[a]);
      return map[a];
    }
    const auto [floating, slot] = slot_of_.at(a);
    const ValueId index = constant(g, Scalar::i64, static_cast<int64_t>(slot), body);
    ValueId x = g.add(Op::Load, Type::scalar(floating ? Scalar::f64 : Scalar::i64), {floating ? slots_f_ : slots_i_, index},
                      0, n.loc);
    body.push_back(x);
    if (n.type.elem != g.type(x).elem) {
      x = g.add(Op::Cast, n.type, {x}, 0, n.loc);
      body.push_back(x);
    }
    return map[a] = x;
  }

  void store_slot(Function& g, ValueId src, ValueId value, std::vector<ValueId>& body) {
    const auto [floating, slot] = slot_of_.at(src);
    const Scalar wide = floating ? Scalar::f64 : Scalar::i64;
    if (g.type(value).elem != wide) {
      value = g.add(Op::Cast, Type::scalar(wide), {value}, 0, f_.node(src).loc);
      body.push_back(value);
    }
    const ValueId index = constant(g, Scalar::i64, static_cast<int64_t>(slot), body);
    body.push_back(g.add(Op::Store, {}, {floating ? slots_f_ : slots_i_, index, value}, 0, f_.node(src).loc));
  }

  Function build(size_t s) {
    Function g;
    g.name = f_.name;  // traps name the user's function
    g.body = g.add_region();
    std::vector<ValueId> map(f_.nodes.size(), no_value);
    const auto& ps = f_.params();
    for (size_t i = 0; i < ps.size(); ++i) {
      map[ps[i]] = g.add(Op::Param, f_.type(ps[i]), {}, static_cast<int64_t>(i));
      g.regions[g.body].params.push_back(map[ps[i]]);
      g.param_names.push_back(i < f_.param_names.size() ? f_.param_names[i] : "arg" + std::to_string(i));
    }
    slots_i_ = g.add(Op::Param, Type::buf(Scalar::i64, true), {}, static_cast<int64_t>(ps.size()));
    slots_f_ = g.add(Op::Param, Type::buf(Scalar::f64, true), {}, static_cast<int64_t>(ps.size() + 1));
    g.regions[g.body].params.push_back(slots_i_);
    g.regions[g.body].params.push_back(slots_f_);
    g.param_names.push_back("slots_i");
    g.param_names.push_back("slots_f");

    std::vector<ValueId> body;
    for (ValueId v : top()) {
      if (seg_[v] != static_cast<int>(s)) continue;
      walk_uses(v, [&](ValueId a) {
        if (top_level(a) && seg_[a] != static_cast<int>(s)) bring(g, a, map, body);
      });
      const Node& n = f_.node(v);
      std::vector<RegionId> regions;
      for (RegionId c : n.regions) regions.push_back(clone_region(g, c, map));
      std::vector<ValueId> args;
      for (ValueId a : n.args) args.push_back(map[a]);
      map[v] = g.add(n.op, n.type, std::move(args), n.imm, n.loc, std::move(regions));
      body.push_back(map[v]);
    }
    for (ValueId v : exports_[s]) store_slot(g, v, bring(g, v, map, body), body);
    g.regions[g.body].body = std::move(body);
    return g;
  }

  // Copies region r of the entry into g (values from outside the region
  // are already mapped).
  RegionId clone_region(Function& g, RegionId r, std::vector<ValueId>& map) {
    const RegionId c = g.add_region();
    const auto& ps = f_.region(r).params;
    for (size_t i = 0; i < ps.size(); ++i) {
      map[ps[i]] = g.add(Op::Param, f_.type(ps[i]), {}, static_cast<int64_t>(i));
      g.regions[c].params.push_back(map[ps[i]]);
    }
    std::vector<ValueId> body;
    for (ValueId v : f_.region(r).body) {
      const Node& n = f_.node(v);
      std::vector<RegionId> regions;
      for (RegionId k : n.regions) regions.push_back(clone_region(g, k, map));
      std::vector<ValueId> args;
      for (ValueId a : n.args) args.push_back(map[a]);
      map[v] = g.add(n.op, n.type, std::move(args), n.imm, n.loc, std::move(regions));
      body.push_back(map[v]);
    }
    g.regions[c].body = std::move(body);
    for (ValueId y : f_.region(r).yields) g.regions[c].yields.push_back(map[y]);
    return c;
  }

  const Module& m_;
  const Function& f_;
  std::vector<int> seg_;   // launch of each top-level value (-1: free or nested)
  std::vector<bool> grid_; // per launch
  std::vector<std::vector<ValueId>> exports_;  // per launch: values it stores to slots
  std::map<ValueId, std::pair<bool, size_t>> slot_of_;
  size_t int_slots_ = 0, float_slots_ = 0;
  bool epilogue_ = false;
  ValueId slots_i_ = no_value, slots_f_ = no_value;  // in the launch function being built
};

// --- printing ------------------------------------------------------------------

std::string declaration(const Dialect& d, const Function& f, const std::string& name, const Namer& globals) {
  Namer scope(&globals);
  return return_type(d, f) + " " + name + "(" + parameter_list(d, f, name_signature(f, scope)) + ")";
}

// The functions launches reach through calls (callees of callees too).
std::vector<bool> reachable(const Module& dev, size_t launches) {
  std::vector<bool> seen(dev.functions.size(), false);
  std::vector<size_t> stack;
  for (size_t s = 0; s < launches; ++s) stack.push_back(s);
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    if (seen[i]) continue;
    seen[i] = true;
    walk(dev.functions[i], [&](ValueId v) {
      const Node& n = dev.functions[i].node(v);
      if (n.op == Op::Call) stack.push_back(static_cast<size_t>(n.imm));
    });
  }
  return seen;
}

// extern "C" <entry>(...): the launch sequence through the CUDA runtime API.
std::string host_launcher(const Dialect& d, const Module& m, const CudaModule& cm, const std::string& name,
                          const std::vector<std::string>& kernels, const Namer& globals) {
  const Function& f = m.functions[0];
  Namer scope(&globals);
  const SignatureNames sig = name_signature(f, scope);
  // Locals avoid the parameters' names.
  const std::string si = scope.take("slots_i"), sf = scope.take("slots_f"), zero = scope.take("zero"),
                    grid = scope.take("grid"), block = scope.take("block"), flag = scope.take("flag"),
                    message = scope.take("message"), ri = scope.take("ri"), rf = scope.take("rf");
  std::string args, scratch_alloc, scratch_free;
  for (size_t i = 0; i < sig.params.size(); ++i)
    args += sig.params[i] + (sig.sizes[i].empty() ? "" : ", " + sig.sizes[i]) + ", ";
  for (const CudaScratch& s : cm.scratch) {
    const std::string p = scope.fresh("scratch"), t = d.scalar_type(s.type), n = std::to_string(s.count);
    scratch_alloc += "  " + t + "* " + p + " = nullptr;\n  kiln_check(cudaMalloc(&" + p + ", " + n + " * sizeof(" + t +
                     ") + 1), \"cudaMalloc\");\n";
    scratch_free += "  cudaFree(" + p + ");\n";
    args += p + ", " + n + ", ";
  }
  const std::string ni = std::to_string(cm.int_slots), nf = std::to_string(cm.float_slots);
  args += si + ", " + ni + ", " + sf + ", " + nf;
  std::string out =
      "\n// The host launcher (CUDA runtime API): buffers are device pointers.\n"
      "namespace {\n"
      "void kiln_check(cudaError_t e, const char* what) {\n"
      "  if (e == cudaSuccess) return;\n"
      "  std::fprintf(stderr, \"kiln: %s: %s\\n\", what, cudaGetErrorString(e));\n"
      "  std::abort();\n"
      "}\n"
      "}  // namespace\n\n"
      "extern \"C\" " + return_type(d, f) + " " + name + "(" + parameter_list(d, f, sig) + ") {\n"
      "  int64_t* " + si + " = nullptr;\n"
      "  double* " + sf + " = nullptr;\n"
      "  kiln_check(cudaMalloc(&" + si + ", " + ni + " * sizeof(int64_t)), \"cudaMalloc\");\n"
      "  kiln_check(cudaMalloc(&" + sf + ", " + nf + " * sizeof(double)), \"cudaMalloc\");\n" + scratch_alloc +
      "  const unsigned int " + zero + " = 0;\n"
      "  kiln_check(cudaMemcpyToSymbol(kiln_error_flag, &" + zero + ", sizeof " + zero + "), \"cudaMemcpyToSymbol\");\n";
  for (size_t s = 0; s < cm.launches.size(); ++s) {
    if (cm.launches[s].grid) {
      out += "  {\n"
             "    int " + grid + " = 0, " + block + " = 0;\n"
             "    kiln_check(cudaOccupancyMaxPotentialBlockSize(&" + grid + ", &" + block + ", " + kernels[s] + "), \"occupancy\");\n"
             "    " + kernels[s] + "<<<" + grid + ", " + block + ">>>(" + args + ");\n"
             "  }\n";
    } else {
      out += "  " + kernels[s] + "<<<1, 1>>>(" + args + ");\n";
    }
    out += "  kiln_check(cudaGetLastError(), \"launching " + kernels[s] + "\");\n";
  }
  out +=
      "  kiln_check(cudaDeviceSynchronize(), \"running " + name + "\");\n"
      "  unsigned int " + flag + " = 0;\n"
      "  kiln_check(cudaMemcpyFromSymbol(&" + flag + ", kiln_error_flag, sizeof " + flag + "), \"cudaMemcpyFromSymbol\");\n"
      "  if (" + flag + " != 0) {\n"
      "    char " + message + "[256];\n"
      "    kiln_check(cudaMemcpyFromSymbol(" + message + ", kiln_error_message, sizeof " + message + "), \"cudaMemcpyFromSymbol\");\n"
      "    std::fprintf(stderr, \"kiln: %s\\n\", " + message + ");\n"
      "    std::abort();\n"
      "  }\n"
      "  int64_t " + ri + "[" + ni + "];\n"
      "  double " + rf + "[" + nf + "];\n"
      "  kiln_check(cudaMemcpy(" + ri + ", " + si + ", sizeof " + ri + ", cudaMemcpyDeviceToHost), \"cudaMemcpy\");\n"
      "  kiln_check(cudaMemcpy(" + rf + ", " + sf + ", sizeof " + rf + ", cudaMemcpyDeviceToHost), \"cudaMemcpy\");\n"
      "  cudaFree(" + si + ");\n"
      "  cudaFree(" + sf + ");\n" + scratch_free;
  auto value = [&](size_t k) {
    const CudaResult& r = cm.results[k];
    const std::string x = (r.floating ? rf : ri) + "[" + std::to_string(r.slot) + "]";
    return r.type == Scalar::i1 ? x + " != 0" : d.scalar_type(r.type) + "(" + x + ")";
  };
  if (cm.results.size() == 1) out += "  return " + value(0) + ";\n";
  for (size_t k = 0; cm.results.size() > 1 && k < cm.results.size(); ++k)
    out += "  *" + sig.outs[k] + " = " + value(k) + ";\n";
  return out + "}\n";
}

}  // namespace

CudaModule emit_cuda(const Module& m, const CudaOptions& opts) {
  if (m.functions.empty()) throw InternalError("emit_cuda: the module has no functions");
  Module work = m;
  std::vector<CudaScratch> scratch = scratch_params(work);
  refuse_tape(work);
  Module dev;
  std::vector<bool> grid;
  CudaModule out = Splitter(work).run(dev, grid);
  out.scratch = std::move(scratch);
  const size_t launches = grid.size();
  const std::vector<bool> used = reachable(dev, launches);

  // What cuda_runtime.h declares (device math such as norm and sincospi
  // included) is taken: an extern "C" kernel or launcher must not clash.
  static constexpr const char* cuda_library[] = {
#include "cuda_library_names.inc"
  };
  Namer globals;
  for (const char* name : cuda_library) globals.reserve(name);
  const std::string entry = globals.take_c_symbol(m.functions[0].name.empty() ? "f" : m.functions[0].name);
  globals.take("kiln_generated");
  std::vector<std::string> names(dev.functions.size()), callees(dev.functions.size());
  for (size_t i = 0; i < launches; ++i) {
    names[i] = globals.take_c_symbol(entry + "_" + std::to_string(i));
    callees[i] = names[i];
    out.launches.push_back({names[i], grid[i]});
  }
  for (size_t i = launches; i < dev.functions.size(); ++i) {
    if (!used[i]) continue;
    names[i] = globals.take(dev.functions[i].name.empty() ? "f" : dev.functions[i].name);
    callees[i] = "kiln_generated::" + names[i];
  }

  const CudaDialect serial(false), shared(true);
  std::string decls, defs, kernels;
  for (size_t i = launches; i < dev.functions.size(); ++i) {
    if (!used[i]) continue;
    decls += "__device__ " + declaration(serial, dev.functions[i], names[i], globals) + ";\n";
    defs += "\n" + print_function(serial, dev, i, names[i], callees, globals, "__device__ ");
  }
  for (size_t i = 0; i < launches; ++i)
    kernels += "\n" + print_function(grid[i] ? shared : serial, dev, i, names[i], callees, globals,
                                      "extern \"C\" __global__ ");

  std::string& src = out.source;
  src = "// " + comment_text(m.functions[0].name) +
        ": CUDA source generated by kiln from the staged function of that name. Do not edit.\n"
        "//\n"
        "// Launches, in order on one stream (each kernel takes the function's\n"
        "// parameters, buffers as device pointers, then two slot arrays that carry\n"
        "// values between launches and the results):\n";
  for (const CudaLaunch& l : out.launches)
    src += "//   " + l.kernel + (l.grid ? "  grid: threads share a parallel_for\n" : "  one thread\n");
  src += "// Semantics are kiln's IR: integer arithmetic wraps, floats are IEEE\n"
         "// without contraction (compile with --fmad=false), a trap records its\n"
         "// message in kiln_error_message. Buffers are not bounds-checked.\n\n";
  if (opts.host_launcher) src += "#include <cstdio>\n#include <cstdlib>\n#include <cuda_runtime.h>\n\n";
  src += prelude;
  if (!decls.empty()) src += "\nnamespace kiln_generated {\n" + decls + "}  // namespace kiln_generated\n";
  if (!defs.empty()) src += "\nnamespace kiln_generated {\n" + defs + "\n}  // namespace kiln_generated\n";
  src += kernels;
  if (opts.host_launcher) {
    src += host_launcher(serial, m, out, entry, names, globals);
  }
  return out;
}

}  // namespace kiln::emit

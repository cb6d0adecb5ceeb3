// What Backend::llvm costs to compile and what its code runs like, each
// figure against a baseline measured in the same run.
//
// Part 1, compile latency. Subjects: poly kernels, y[i] = p(x[i] * 0.5) over
// a double array with p in Horner form unrolled at staging time; the degree
// is picked so that the module has about 20, 200 and 2,000 IR nodes after
// the pipeline (counted with walk() over every function of s.module()).
//
//   cold        kiln::stage of a fresh copy (a new name: poly200ops_cold_17,
//               ...; the name is part of every cache key) plus kiln::compile
//               with Backend::llvm (pipeline, lowering, LLVM passes, codegen, JIT link,
//               storing the object in the disk cache), against the same with
//               Backend::cxx (pipeline, C++ emission, the system compiler,
//               dlopen). The cache directory is a fresh temporary one
//               (KILN_CACHE_DIR, removed at the end), so every compile is cold.
//   memory_hit  kiln::compile(llvm) of a staged function compiled before
//               with the same options, as a fraction of a cold compile
//               (compile only, staging excluded): the kernel remembered by
//               the staged function itself.
//   restage_hit kiln::compile(llvm) of a fresh staging of the same program
//               (compile only): the pipeline, the structural hash and a hit
//               in the backend's in-memory cache.
//   disk_hit    fresh processes: this binary spawned as
//               `/proc/self/exe --child-compile NAME DEGREE` stages the kernel,
//               times one kiln::compile(llvm) and prints microseconds. Two
//               children share a new KILN_CACHE_DIR: the second one's time is
//               the disk hit, the first one's (a cold compile in a fresh
//               process, LLVM and JIT set-up included) its baseline. `files`
//               counts what the first left in the cache directory (0: no disk
//               cache, and both children compile).
//
// Part 2, run time: Backend::llvm's code against the same kernel written by
// hand in this file, compiled with -O3 -march=native -ffp-contract=off
// (bench/CMakeLists.txt; Release adds -O3), with Backend::cxx's code (the
// system compiler, the same flags) as a third column and Backend::llvm with
// Options::assume_no_alias (no call-time overlap check: what the check
// costs) as a fourth. Backend::llvm compiles the buffers noalias (no
// run-time overlap checks in loops, values kept in registers across stores)
// and checks at every call that the spans do not overlap; the matmul is
// therefore also compared with a hand-written version whose pointers are
// __restrict, which is what gives a C++ compiler the same knowledge. The
// hand-written functions are noipa (neither inlined nor specialised for
// their call site). Every buffer is 64-byte aligned, so all variants see the
// same alignment. Everything runs on one thread: no kernel uses parallel_for_.
//
//   saxpy     y[i] = a * x[i] + y[i], n = 1<<20 floats
//   chain     z[i] = sqrt(fma(x[i], y[i], 1)) * x[i] + y[i], n = 1<<20 floats;
//             also against the hand-written loop built with -fno-math-errno
//             (this file compiled a second time): with GCC's default errno
//             semantics its sqrt cannot be vectorised, kiln's has no errno
//   dot       sum of x[i] * y[i], n = 1<<20 floats, one float accumulator in
//             IEEE order (no reassociation on either side)
//   stencil5  5-point stencil, 1024x1024 doubles (flat buffer, interior)
//   matmul    C = A * B, 64x64x64 floats, i-k-j loops whose bounds are
//             staging-time constants (fully specialised), C zeroed first;
//             also against the hand-written loop with __restrict pointers
//   mandel    Mandelbrot escape counts, 256x256, max 256 iterations (while_)
//   collatz   Collatz step counts of the starting values 1 .. 1<<16 (while_
//             with an if_ inside), an int32 per start
//
// Before anything is timed every kernel runs on its full input with every
// variant, and on a small input with llvm, cxx, the hand-written code and
// the interpreter; every result and every buffer must agree bit for bit
// (integers exactly, floats by their bits) or the binary stops.
//
// Part 3, the chain against Eigen 3.4 (Eigen::Map over the same buffers, the
// .array() expression (x * y + 1).sqrt() * x + y; built when CMake finds
// Eigen3) at n = 1<<20 (in cache) and at n = 64M floats (memory bound), and
// the chain's bandwidth at 64M floats (12 bytes per element: x and y read,
// z written) as a fraction of a hand-written STREAM triad a[i] = b[i] + s *
// c[i] over three 64M-float arrays (12 bytes per element too; write-allocate
// traffic is counted on neither side). Eigen 3.4 has no element-wise fma, so
// its x * y + 1 rounds twice (and its AVX-512 sqrt is an approximation plus
// a Newton step): its results are compared within a relative tolerance of
// 1e-5, not bit for bit, and how many elements differ is printed.
//
// Part 4, staging throughput: a generated program of about 100k staged nodes
// (200 sibling for_ loops over arrays, each a Horner chain of 160 steps with
// a max every 8th step), timed through kiln::stage, Staged::module() (the
// pipeline) and a cold kiln::compile with Backend::llvm (the pipeline again,
// then the backend): nodes per second of each, counted in staged nodes.
// This part takes the longest: LLVM needs seconds for the one big function.
//
// After the benchmarks, a summary measured here with std::chrono (medians
// of 7 or more alternating repetitions; run-time samples are batches of
// about 5 ms) prints one table per part and one machine-readable line per
// row with kiln's figure, the baseline's and their ratio, e.g.
//
//   RESULT compile_200ops nodes=201 llvm_ms=39.452 cxx_ms=127.918 ratio=0.3084
//
// (`grep ^RESULT`). --no_summary skips it. Without Backend::llvm in this
// build the binary prints "Backend::llvm not built" and exits 0.
//
//   ./build/release/bench/kiln_bench_llvm --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//   ./build/release/bench/kiln_bench_llvm --benchmark_filter='^$'      # the summary only
//   KILN_DUMP=asm ./build/release/bench/kiln_bench_llvm --benchmark_filter='^$' --no_summary 2>asm.txt
//                        # machine code of every kernel compiled while setting up
#if KILN_BENCH_LLVM_NO_MATH_ERRNO_PART
// This file is compiled a second time with -fno-math-errno (bench/CMakeLists.txt),
// for this function alone: the chain as GCC vectorises it when sqrt need not
// set errno. (GCC 12 ignores optimize("no-math-errno") as a function attribute.)
#include <cmath>
#include <cstdint>

extern "C" __attribute__((noipa)) void kiln_bench_hand_chain_no_math_errno(const float* x, const float* y, float* z,
                                                                           int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float a = x[i], b = y[i];
    z[i] = std::sqrt(std::fma(a, b, 1.0f)) * a + b;
  }
}
#else
#include <benchmark/benchmark.h>
#include <kiln/ir/ir.h>
#include <kiln/kiln.h>

#if KILN_BENCH_HAVE_EIGEN
#include <Eigen/Core>
#endif

#include "bench_support.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using kiln::Arr;
using kiln::Rep;
using namespace kiln::bench;  // bench_support.h
namespace fs = std::filesystem;

// Repetitions of every summary figure (each a median of this many samples).
constexpr int kReps = 7;

}  // namespace

#include "llvm_cases.h"

namespace {

// --- part 1: compile latency ---------------------------------------------------------

using PolySig = void(std::span<const double>, std::span<double>);

/// y[i] = p(x[i] * 0.5), p of the given degree in Horner form, unrolled at
/// staging time; the coefficients are staged constants.
kiln::Staged<PolySig> stage_poly(const std::string& name, int degree) {
  return kiln::stage(name, {"x", "y"}, [degree](Arr<const double> x, Arr<double> y) {
    const Buf<double> coef = aligned_values<double>(static_cast<size_t>(degree) + 1, 99);
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<double> v = x[i] * 0.5;
      Rep<double> p = coef[0];
      for (int k = 1; k <= degree; ++k) p = p * v + coef[static_cast<size_t>(k)];
      y[i] = p;
    });
  });
}

/// The degree whose poly kernel is closest to `nodes` IR nodes after the
/// pipeline (node counts are linear in the degree).
int poly_degree_for(size_t nodes) {
  auto count = [](int d) { return static_cast<double>(count_nodes(stage_poly("poly_probe", d).module())); };
  const double n8 = count(8), n40 = count(40), per = (n40 - n8) / 32.0;
  int d = static_cast<int>(std::lround(8 + (static_cast<double>(nodes) - n8) / per));
  d = std::max(d, 1);
  // Settle the rounding against real counts.
  double best = std::abs(count(d) - static_cast<double>(nodes));
  for (int c : {d - 1, d + 1}) {
    if (c < 1) continue;
    if (double e = std::abs(count(c) - static_cast<double>(nodes)); e < best) best = e, d = c;
  }
  return d;
}

std::atomic<uint64_t> g_serial{0};

struct LatencyKernel {
  std::string label;  // "20ops"
  int degree = 0;
  size_t nodes = 0;
  kiln::Staged<PolySig> hit;  // staged once: the memory-hit subject
  kiln::Staged<PolySig> fresh() const {
    return stage_poly("poly" + label + "_cold_" + std::to_string(g_serial++), degree);
  }
};

LatencyKernel latency_kernel(size_t target_nodes) {
  const int d = poly_degree_for(target_nodes);
  const std::string label = std::to_string(target_nodes) + "ops";
  LatencyKernel k{label, d, 0, stage_poly("poly" + label + "_hit", d)};
  k.nodes = count_nodes(k.hit.module());
  return k;
}

/// The poly kernels must compute what the interpreter does, bit for bit (a
/// cheap check that what is compiled is a real program).
void check_poly(const LatencyKernel& k) {
  const Buf<double> x = aligned_values<double>(1027, 98);
  Buf<double> y_llvm(x.size()), y_cxx(x.size()), y_interp(x.size());
  kiln::compile(k.hit, kLlvm)(x, y_llvm);
  kiln::compile(k.hit, kCxx)(x, y_cxx);
  kiln::compile(k.hit, kInterp)(x, y_interp);
  std::vector<Bits> a, b, c;
  append(a, y_interp);
  append(b, y_llvm);
  append(c, y_cxx);
  check_same("poly" + k.label, "n = 1027", "the interpreter", a, "kiln llvm", b);
  check_same("poly" + k.label, "n = 1027", "the interpreter", a, "kiln cxx", c);
}

/// Seconds of one stage + compile of a fresh copy; `compile_only` gets the
/// compile's share.
double cold_compile(const LatencyKernel& k, const kiln::Options& opts, double* compile_only = nullptr) {
  auto start = std::chrono::steady_clock::now();
  kiln::Staged<PolySig> s = k.fresh();
  auto mid = std::chrono::steady_clock::now();
  std::optional<kiln::Compiled<PolySig>> f(kiln::compile(s, opts));
  const double total = seconds_since(start);
  if (compile_only) *compile_only = seconds_since(mid);
  f.reset();  // unloading is not part of the compile
  return total;
}

// The disk-hit measurement: this binary again, in a fresh process.

std::string g_self_exe;  // /proc/self/exe, resolved at start

/// The `--child-compile NAME DEGREE` mode: stage, time one compile with
/// Backend::llvm, print the microseconds on stdout.
int child_compile(const char* name, const char* degree) {
  try {
    kiln::Staged<PolySig> s = stage_poly(name, std::atoi(degree));
    auto start = std::chrono::steady_clock::now();
    kiln::Compiled<PolySig> f = kiln::compile(s, kLlvm);
    const double us = seconds_since(start) * 1e6;
    benchmark::DoNotOptimize(f);
    std::printf("%.3f\n", us);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln_bench_llvm --child-compile: %s\n", e.what());
    return 1;
  }
}

/// Runs `self --child-compile name degree` with KILN_CACHE_DIR=cache_dir and
/// the disk cache on; returns the child's compile time in seconds.
double spawn_child_compile(const std::string& name, int degree, const fs::path& cache_dir) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) die("pipe2 failed: " + std::string(std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on fd 1
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "KILN_CACHE_DIR=", 15) != 0 && std::strncmp(*e, "KILN_DISK_CACHE=", 16) != 0)
      env_strings.emplace_back(*e);
  env_strings.push_back("KILN_CACHE_DIR=" + cache_dir.string());
  env_strings.push_back("KILN_DISK_CACHE=1");
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = g_self_exe, arg1 = "--child-compile", arg2 = name, arg3 = std::to_string(degree);
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), arg3.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, g_self_exe.c_str(), &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    die("cannot spawn " + g_self_exe + ": " + std::strerror(rc));
  }
  std::string out;
  char buf[256];
  for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) != 0;) {
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(r));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty())
    die("the child compile of " + name + " failed (status " + std::to_string(status) + ", output \"" + out + "\")");
  return std::atof(out.c_str()) * 1e-6;
}

size_t files_under(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) ++n;
  return n;
}

struct DiskHit {
  double fresh_cold = 0, disk_hit = 0;
  size_t files = 0;  // in the cache directory after the first child
};

/// Medians over `reps` pairs of children; each pair gets a new directory.
DiskHit measure_disk_hit(const LatencyKernel& k, int reps) {
  std::vector<double> cold, hit;
  DiskHit d;
  for (int r = 0; r < reps; ++r) {
    const fs::path dir = g_cache_dir / ("disk-" + k.label + "-" + std::to_string(r));
    fs::create_directories(dir);
    const std::string name = "poly" + k.label + "_disk_" + std::to_string(r);
    cold.push_back(spawn_child_compile(name, k.degree, dir));
    d.files = std::max(d.files, files_under(dir));
    hit.push_back(spawn_child_compile(name, k.degree, dir));
  }
  d.fresh_cold = median(std::move(cold));
  d.disk_hit = median(std::move(hit));
  return d;
}

void BM_compile_cold(benchmark::State& state, const LatencyKernel* k, const kiln::Options* opts) {
  for (auto _ : state) {
    kiln::Staged<PolySig> s = k->fresh();
    std::optional<kiln::Compiled<PolySig>> f(kiln::compile(s, *opts));
    state.PauseTiming();
    f.reset();
    state.ResumeTiming();
  }
  state.counters["nodes"] = static_cast<double>(k->nodes);
}

void BM_compile_memory_hit(benchmark::State& state, const LatencyKernel* k) {
  kiln::Compiled<PolySig> alive = kiln::compile(k->hit, kLlvm);
  for (auto _ : state) {
    kiln::Compiled<PolySig> f = kiln::compile(k->hit, kLlvm);
    benchmark::DoNotOptimize(f);
  }
  state.counters["nodes"] = static_cast<double>(k->nodes);
}

// --- part 2: run time: the cases and RunCase are in llvm_cases.h ----------------------

// --- part 3: the chain against Eigen and memory bandwidth ----------------------------

constexpr int64_t kStreamN = int64_t{64} << 20;  // 64M floats: 256 MiB per array
constexpr float kTriadScalar = 3.0f;

/// The chain's inputs and outputs at one size, one output per variant.
struct ChainBuffers {
  Buf<float> x, y, z_llvm, z_eigen, z_hand;
  explicit ChainBuffers(int64_t n)
      : x(positive_values(static_cast<size_t>(n), 21)),
        y(positive_values(static_cast<size_t>(n), 22)),
        z_llvm(static_cast<size_t>(n)),
        z_eigen(static_cast<size_t>(n)),
        z_hand(static_cast<size_t>(n)) {}
  int64_t n() const { return static_cast<int64_t>(x.size()); }
};

struct Bandwidth {
  explicit Bandwidth(kiln::Compiled<ChainSig> c) : chain(std::move(c)) {}
  kiln::Compiled<ChainSig> chain;
  std::unique_ptr<ChainBuffers> small, big;  // 1<<20 and 64M floats
  std::function<void()> llvm_small, eigen_small, llvm_big, eigen_big, triad;
  std::string eigen_check_small, eigen_check_big;  // what the tolerance check found
};

#if KILN_BENCH_HAVE_EIGEN
/// Eigen against kiln within a relative tolerance (Eigen rounds x * y + 1
/// twice); returns a description of the differences.
std::string check_eigen(const Buf<float>& kiln_z, const Buf<float>& eigen_z, const char* input) {
  size_t differ = 0;
  double worst = 0;
  for (size_t i = 0; i < kiln_z.size(); ++i) {
    if (std::bit_cast<uint32_t>(kiln_z[i]) == std::bit_cast<uint32_t>(eigen_z[i])) continue;
    ++differ;
    const double rel = std::abs(static_cast<double>(kiln_z[i]) - eigen_z[i]) / std::max(1.0, std::abs(static_cast<double>(kiln_z[i])));
    if (!(rel <= 1e-5))
      die(std::string("chain (") + input + "): Eigen gives " + std::to_string(eigen_z[i]) + " at " + std::to_string(i) +
          ", kiln llvm " + std::to_string(kiln_z[i]) + ": more than the 1e-5 relative tolerance apart");
    worst = std::max(worst, rel);
  }
  char buf[200];
  std::snprintf(buf, sizeof buf, "%zu of %zu elements differ in bits from kiln llvm, max relative difference %.2g",
                differ, kiln_z.size(), worst);
  return buf;
}
#endif

std::unique_ptr<Bandwidth> make_bandwidth() {
  auto bw = std::make_unique<Bandwidth>(kiln::compile(stage_chain(), kLlvm));
  bw->small = std::make_unique<ChainBuffers>(kVecN);
  bw->big = std::make_unique<ChainBuffers>(kStreamN);
  for (ChainBuffers* b : {bw->small.get(), bw->big.get()}) {
    bw->chain(b->x, b->y, b->z_llvm);
    hand_chain(b->x.data(), b->y.data(), b->z_hand.data(), b->n());
    std::vector<Bits> a, h;
    append(a, b->z_llvm);
    append(h, b->z_hand);
    check_same("chain", b == bw->small.get() ? "n=1<<20" : "n=64M", "kiln llvm", a, "hand-written", h);
#if KILN_BENCH_HAVE_EIGEN
    eigen_chain(b->x.data(), b->y.data(), b->z_eigen.data(), b->n());
    (b == bw->small.get() ? bw->eigen_check_small : bw->eigen_check_big) =
        check_eigen(b->z_llvm, b->z_eigen, b == bw->small.get() ? "n=1<<20" : "n=64M");
#endif
  }
  ChainBuffers* s = bw->small.get();
  ChainBuffers* g = bw->big.get();
  const kiln::Compiled<ChainSig> chain = bw->chain;
  bw->llvm_small = [chain, s] { chain(s->x, s->y, s->z_llvm); };
  bw->llvm_big = [chain, g] { chain(g->x, g->y, g->z_llvm); };
#if KILN_BENCH_HAVE_EIGEN
  bw->eigen_small = [s] { eigen_chain(s->x.data(), s->y.data(), s->z_eigen.data(), s->n()); };
  bw->eigen_big = [g] { eigen_chain(g->x.data(), g->y.data(), g->z_eigen.data(), g->n()); };
#endif
  // The triad on the big buffers: a = z_hand, b = x, c = y (3 x 64M floats).
  bw->triad = [g] { hand_triad(g->z_hand.data(), g->x.data(), g->y.data(), kTriadScalar, g->n()); };
  return bw;
}

void BM_stream(benchmark::State& state, const std::function<void()>* f, int64_t n) {
  for (auto _ : state) (*f)();
  state.SetBytesProcessed(state.iterations() * n * 12);  // 2 reads + 1 write of a float
}

// --- part 4: staging throughput ------------------------------------------------------

constexpr int kBigLoops = 200, kBigChain = 160;

/// About 100k staged nodes: kBigLoops sibling loops over the arrays, each
/// y[i] += a Horner chain of kBigChain steps in x[i] with a max every 8th.
/// Every measurement stages it under a new name, so that no compile is a
/// cache hit.
kiln::Staged<PolySig> stage_big(const std::string& name) {
  return kiln::stage(name, {"x", "y"}, [](Arr<const double> x, Arr<double> y) {
    const Buf<double> coef = aligned_values<double>(kBigChain + 1, 31);
    for (int l = 0; l < kBigLoops; ++l) {
      kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
        Rep<double> v = x[i] * (1.0 / (l + 2));
        Rep<double> p = coef[0];
        for (int k = 1; k <= kBigChain; ++k) {
          p = p * v + coef[static_cast<size_t>(k)];
          if (k % 8 == 0) p = kiln::max(p, -4.0);
        }
        y[i] += p;
      });
    }
  });
}

struct Throughput {
  size_t staged_nodes = 0, nodes = 0;
  double stage = 0, pipeline = 0, compile = 0;  // median seconds
};

/// Checks the big program on llvm against the interpreter on a short input,
/// once, before part 4's first measurement (not while setting up: it costs a
/// big compile, which a run filtered to other parts should not pay).
void check_big() {
  static bool done = false;
  if (done) return;
  done = true;
  auto s = stage_big("big_check");
  const Buf<double> x = aligned_values<double>(37, 41);
  Buf<double> y_llvm(x.size()), y_interp(x.size());
  kiln::compile(s, kLlvm)(x, y_llvm);
  kiln::compile(s, kInterp)(x, y_interp);
  std::vector<Bits> a, b;
  append(a, y_interp);
  append(b, y_llvm);
  check_same("big", "n = 37", "the interpreter", a, "kiln llvm", b);
}

Throughput measure_throughput(int reps) {
  check_big();
  Throughput t;
  std::vector<double> st, pl, co;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::optional<kiln::Staged<PolySig>> s(stage_big("big_" + std::to_string(g_serial++)));
    st.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    std::optional<kiln::ir::Module> m(s->module());
    pl.push_back(seconds_since(start));
    if (r == 0) {
      t.nodes = count_nodes(*m);
      t.staged_nodes = count_nodes(kiln::detail::build_module(s->state()));
    }
    m.reset();
    start = std::chrono::steady_clock::now();
    std::optional<kiln::Compiled<PolySig>> f(kiln::compile(*s, kLlvm));
    co.push_back(seconds_since(start));
  }
  t.stage = median(std::move(st));
  t.pipeline = median(std::move(pl));
  t.compile = median(std::move(co));
  return t;
}

// Times staging, the pipeline or the llvm compile of the big program; the
// other steps and every destructor run with the clock paused.
void BM_big(benchmark::State& state, int what) {
  check_big();
  size_t staged_nodes = 0;
  for (auto _ : state) {
    if (what != 0) state.PauseTiming();
    std::optional<kiln::Staged<PolySig>> s(stage_big("big_" + std::to_string(g_serial++)));
    if (what != 0) state.ResumeTiming();
    if (what == 1) {
      std::optional<kiln::ir::Module> m(s->module());
      state.PauseTiming();
      m.reset();
      state.ResumeTiming();
    } else if (what == 2) {
      std::optional<kiln::Compiled<PolySig>> f(kiln::compile(*s, kLlvm));
      state.PauseTiming();
      f.reset();
      state.ResumeTiming();
    }
    state.PauseTiming();
    if (staged_nodes == 0) staged_nodes = count_nodes(kiln::detail::build_module(s->state()));
    s.reset();
    state.ResumeTiming();
  }
  state.counters["staged_nodes"] = static_cast<double>(staged_nodes);
  state.counters["nodes_per_s"] =
      benchmark::Counter(static_cast<double>(staged_nodes), benchmark::Counter::kIsIterationInvariantRate);
}

// --- the summary ---------------------------------------------------------------------

void print_latency(const std::vector<LatencyKernel>& kernels) {
  std::printf("\n== Part 1: compile latency, Backend::llvm vs Backend::cxx (stage + compile, cold; medians of %d alternating) ==\n",
              kReps);
  std::printf("   memory_hit: compile() of a staged function compiled before; restage: compile() of a fresh staging of\n"
              "   the same program (pipeline, hash, in-memory cache hit); disk_hit: a second fresh process on the\n"
              "   same cache directory, fresh_cold: the first one (compile only, LLVM set-up included)\n");
  std::printf("%-8s %5s %6s %8s %9s %9s %9s | %9s %8s %10s %9s | %11s %11s %9s %5s\n", "kernel", "nodes", "degree",
              "stage_ms", "llvm_ms", "cxx_ms", "llvm/cxx", "memhit_ms", "hit/cold", "restage_ms", "rs/cold",
              "fresh_cold", "disk_hit_ms", "disk/cold", "files");
  std::vector<std::string> results;
  for (const LatencyKernel& k : kernels) {
    std::vector<double> llvm, cxx, llvm_compile, stage;
    for (int r = 0; r < kReps; ++r) {
      double c = 0;
      llvm.push_back(cold_compile(k, kLlvm, &c));
      llvm_compile.push_back(c);
      stage.push_back(llvm.back() - c);
      cxx.push_back(cold_compile(k, kCxx));
    }
    const double l = median(llvm), x = median(cxx), lc = median(llvm_compile), st = median(stage);
    double hit = 0, restage = 0;
    {
      kiln::Compiled<PolySig> alive = kiln::compile(k.hit, kLlvm);
      hit = median_each(kReps, {[&] { benchmark::DoNotOptimize(kiln::compile(k.hit, kLlvm)); }}, 5e-3)[0];
      std::vector<double> r;
      for (int i = 0; i < kReps; ++i) {
        kiln::Staged<PolySig> again = stage_poly("poly" + k.label + "_hit", k.degree);
        const auto start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(kiln::compile(again, kLlvm));
        r.push_back(seconds_since(start));
      }
      restage = median(std::move(r));
    }
    const DiskHit d = measure_disk_hit(k, kReps);
    std::printf("%-8s %5zu %6d %8.2f %9.2f %9.1f %9.3f | %9.4f %8.5f %10.3f %9.4f | %11.2f %11.2f %9.3f %5zu\n",
                k.label.c_str(), k.nodes, k.degree, st * 1e3, l * 1e3, x * 1e3, l / x, hit * 1e3, hit / lc,
                restage * 1e3, restage / lc, d.fresh_cold * 1e3, d.disk_hit * 1e3, d.disk_hit / d.fresh_cold, d.files);
    std::fflush(stdout);
    char buf[400];
    std::snprintf(buf, sizeof buf, "RESULT compile_%s nodes=%zu llvm_ms=%.3f cxx_ms=%.3f ratio=%.4f", k.label.c_str(),
                  k.nodes, l * 1e3, x * 1e3, l / x);
    results.push_back(buf);
    std::snprintf(buf, sizeof buf, "RESULT compile_memory_hit_%s nodes=%zu hit_ms=%.5f cold_compile_ms=%.3f ratio=%.6f",
                  k.label.c_str(), k.nodes, hit * 1e3, lc * 1e3, hit / lc);
    results.push_back(buf);
    std::snprintf(buf, sizeof buf,
                  "RESULT compile_restage_hit_%s nodes=%zu restage_ms=%.4f cold_compile_ms=%.3f ratio=%.5f",
                  k.label.c_str(), k.nodes, restage * 1e3, lc * 1e3, restage / lc);
    results.push_back(buf);
    std::snprintf(buf, sizeof buf, "RESULT compile_disk_hit_%s nodes=%zu disk_hit_ms=%.3f fresh_cold_ms=%.3f ratio=%.4f",
                  k.label.c_str(), k.nodes, d.disk_hit * 1e3, d.fresh_cold * 1e3, d.disk_hit / d.fresh_cold);
    results.push_back(buf);
  }
  for (const std::string& r : results) std::printf("%s\n", r.c_str());
}

void print_run(const std::vector<RunCase>& cases) {
  std::printf("\n== Part 2: run time, Backend::llvm vs hand-written C++ (-O3 -march=native -ffp-contract=off) and "
              "Backend::cxx; one thread ==\n");
  std::printf("   (medians of 9 alternating samples, each a batch of about 5 ms or one call; no_alias: Backend::llvm\n"
              "   with Options::assume_no_alias, no call-time overlap check)\n");
  std::printf("%-9s %10s %6s %10s %10s %10s %10s %9s | %13s %13s\n", "kernel", "input", "nodes", "llvm_ms", "hand_ms",
              "cxx_ms", "llvm/hand", "cxx/hand", "no_alias_ms", "no_alias/hand");
  std::vector<std::string> results;
  for (const RunCase& c : cases) {
    std::vector<std::function<void()>> fs = {c.llvm, c.hand, c.cxx, c.llvm_no_alias};
    if (c.hand_alt) fs.push_back(c.hand_alt);
    const std::vector<double> t = median_each(9, fs, 5e-3);
    std::printf("%-9s %10s %6zu %10.4f %10.4f %10.4f %9.3fx %8.3fx | %13.4f %12.3fx\n", c.name.c_str(),
                c.input.c_str(), c.nodes, t[0] * 1e3, t[1] * 1e3, t[2] * 1e3, t[0] / t[1], t[2] / t[1], t[3] * 1e3,
                t[3] / t[1]);
    char buf[300];
    std::snprintf(buf, sizeof buf,
                  "RESULT run_%s llvm_ms=%.4f hand_ms=%.4f ratio=%.4f cxx_ms=%.4f cxx_ratio=%.4f no_alias_ms=%.4f "
                  "no_alias_ratio=%.4f",
                  c.name.c_str(), t[0] * 1e3, t[1] * 1e3, t[0] / t[1], t[2] * 1e3, t[2] / t[1], t[3] * 1e3,
                  t[3] / t[1]);
    results.push_back(buf);
    if (c.hand_alt) {
      std::printf("%-9s %10s %6s %10s %10.4f %10s %9.3fx   (%s: %s)\n", "", "", "", "", t[4] * 1e3, "",
                  t[0] / t[4], c.alt_name.c_str(), c.alt_about.c_str());
      std::snprintf(buf, sizeof buf, "RESULT run_%s_%s llvm_ms=%.4f hand_ms=%.4f ratio=%.4f", c.name.c_str(),
                    c.alt_name.c_str(), t[0] * 1e3, t[4] * 1e3, t[0] / t[4]);
      results.push_back(buf);
    }
    std::fflush(stdout);
  }
  for (const std::string& r : results) std::printf("%s\n", r.c_str());
}

void print_bandwidth(const Bandwidth& bw) {
  std::printf("\n== Part 3: the chain vs Eigen 3.4, and its bandwidth vs a STREAM triad (64M floats; 12 bytes per "
              "element on both) ==\n");
  std::vector<std::string> results;
  char buf[300];
#if KILN_BENCH_HAVE_EIGEN
  std::printf("   Eigen has no element-wise fma (x * y + 1 rounds twice): compared within 1e-5 relative, not bit for bit\n");
  std::printf("   n=1<<20: %s\n   n=64M:   %s\n", bw.eigen_check_small.c_str(), bw.eigen_check_big.c_str());
  {
    const std::vector<double> s = median_each(9, {bw.llvm_small, bw.eigen_small}, 5e-3);
    std::printf("%-22s llvm %9.4f ms   eigen %9.4f ms   llvm/eigen %6.3fx\n", "chain n=1<<20", s[0] * 1e3,
                s[1] * 1e3, s[0] / s[1]);
    std::snprintf(buf, sizeof buf, "RESULT chain_vs_eigen_1M llvm_ms=%.4f eigen_ms=%.4f ratio=%.4f", s[0] * 1e3,
                  s[1] * 1e3, s[0] / s[1]);
    results.push_back(buf);
  }
#else
  std::printf("   (built without Eigen: install libeigen3-dev and reconfigure for the Eigen rows)\n");
#endif
  std::vector<std::function<void()>> fs = {bw.llvm_big, bw.triad};
#if KILN_BENCH_HAVE_EIGEN
  fs.push_back(bw.eigen_big);
#endif
  const std::vector<double> t = median_each(kReps, fs, 0);
  const double bytes = static_cast<double>(kStreamN) * 12;
  const double gbps_llvm = bytes / t[0] * 1e-9, gbps_triad = bytes / t[1] * 1e-9;
#if KILN_BENCH_HAVE_EIGEN
  std::printf("%-22s llvm %9.3f ms   eigen %9.3f ms   llvm/eigen %6.3fx\n", "chain n=64M", t[0] * 1e3, t[2] * 1e3,
              t[0] / t[2]);
  std::snprintf(buf, sizeof buf, "RESULT chain_vs_eigen_64M llvm_ms=%.3f eigen_ms=%.3f ratio=%.4f", t[0] * 1e3,
                t[2] * 1e3, t[0] / t[2]);
  results.push_back(buf);
#endif
  std::printf("%-22s llvm %9.2f GB/s triad %8.2f GB/s fraction %6.3f (triad %.3f ms)\n", "bandwidth n=64M", gbps_llvm,
              gbps_triad, gbps_llvm / gbps_triad, t[1] * 1e3);
  std::snprintf(buf, sizeof buf, "RESULT chain_bandwidth_64M llvm_gbps=%.3f triad_gbps=%.3f ratio=%.4f", gbps_llvm,
                gbps_triad, gbps_llvm / gbps_triad);
  results.push_back(buf);
  for (const std::string& r : results) std::printf("%s\n", r.c_str());
}

void print_throughput() {
  const Throughput t = measure_throughput(kReps);
  const double sn = static_cast<double>(t.staged_nodes);
  std::printf("\n== Part 4: staging throughput, %d loops x %d-step chains, through Backend::llvm (medians of %d) ==\n",
              kBigLoops, kBigChain, kReps);
  std::printf("   staged nodes %zu, after the pipeline %zu; rates are staged nodes per second\n", t.staged_nodes,
              t.nodes);
  std::printf("%-28s %10s %14s\n", "step", "ms", "nodes/s");
  std::printf("%-28s %10.2f %14.3g\n", "stage", t.stage * 1e3, sn / t.stage);
  std::printf("%-28s %10.2f %14.3g\n", "pipeline (Staged::module)", t.pipeline * 1e3, sn / t.pipeline);
  std::printf("%-28s %10.2f %14.3g\n", "compile (pipeline + llvm)", t.compile * 1e3, sn / t.compile);
  std::printf("%-28s %10.2f %14.3g\n", "end to end (stage+compile)", (t.stage + t.compile) * 1e3,
              sn / (t.stage + t.compile));
  // kiln's own front end (staging + pipeline) against the whole, and the rates.
  const double front = t.stage + t.pipeline, total = t.stage + t.compile;
  std::printf("RESULT staging_100k staged_nodes=%zu nodes=%zu stage_nodes_per_s=%.4g pipeline_nodes_per_s=%.4g "
              "end_to_end_nodes_per_s=%.4g frontend_ms=%.2f end_to_end_ms=%.2f ratio=%.4f\n",
              t.staged_nodes, t.nodes, sn / t.stage, sn / t.pipeline, sn / total, front * 1e3, total * 1e3,
              front / total);
}

}  // namespace

int main(int argc, char** argv) {
  kiln::bench::g_program_name = "kiln_bench_llvm";
  kiln::bench::g_mismatch_hint = "compare KILN_DUMP=llvm with the hand-written code";
  if (argc == 4 && std::strcmp(argv[1], "--child-compile") == 0) return child_compile(argv[2], argv[3]);
  bool summary = true;
  if (!kiln::bench::start_llvm_benchmark(argc, argv, &summary)) return 0;
  {
    std::error_code ec;
    g_self_exe = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec) die("cannot resolve /proc/self/exe: " + ec.message());
  }
  kiln::bench::use_fresh_cache_dir("kiln-bench-llvm-", " (cold compiles are cold by their fresh names and directory)");

  // Built and checked before anything is timed; they live until the end.
  std::vector<LatencyKernel> latency;
  std::vector<RunCase> cases;
  std::unique_ptr<Bandwidth> bw;
  try {
    for (size_t target : {20, 200, 2000}) {
      latency.push_back(latency_kernel(target));
      check_poly(latency.back());
    }
    cases.push_back(make_case(Saxpy{}));
    cases.push_back(make_case(Chain{}));
    cases.push_back(make_case(Dot{}));
    cases.push_back(make_case(Stencil{}));
    cases.push_back(make_case(Matmul{}));
    cases.push_back(make_case(Mandel{}));
    cases.push_back(make_case(Collatz{}));
    bw = make_bandwidth();
  } catch (const std::exception& e) {
    die(std::string("setting up failed: ") + e.what());
  }

  for (const LatencyKernel& k : latency) {
    const std::string p = "compile/" + k.label;
    // Real time: Backend::cxx's work is in a child process.
    benchmark::RegisterBenchmark((p + "/llvm_cold").c_str(), BM_compile_cold, &k, &kLlvm)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((p + "/cxx_cold").c_str(), BM_compile_cold, &k, &kCxx)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((p + "/llvm_memory_hit").c_str(), BM_compile_memory_hit, &k)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const RunCase& c : cases) {
    const std::string p = "run/" + c.name;
    benchmark::RegisterBenchmark((p + "/llvm").c_str(), BM_run, &c, &c.llvm)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "/hand").c_str(), BM_run, &c, &c.hand)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "/cxx").c_str(), BM_run, &c, &c.cxx)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "/llvm_no_alias").c_str(), BM_run, &c, &c.llvm_no_alias)
        ->Unit(benchmark::kMillisecond);
    if (c.hand_alt)
      benchmark::RegisterBenchmark((p + "/" + c.alt_name).c_str(), BM_run, &c, &c.hand_alt)->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("stream/chain_1M/llvm", BM_stream, &bw->llvm_small, kVecN)->Unit(benchmark::kMillisecond);
#if KILN_BENCH_HAVE_EIGEN
  benchmark::RegisterBenchmark("stream/chain_1M/eigen", BM_stream, &bw->eigen_small, kVecN)->Unit(benchmark::kMillisecond);
#endif
  benchmark::RegisterBenchmark("stream/chain_64M/llvm", BM_stream, &bw->llvm_big, kStreamN)->Unit(benchmark::kMillisecond);
#if KILN_BENCH_HAVE_EIGEN
  benchmark::RegisterBenchmark("stream/chain_64M/eigen", BM_stream, &bw->eigen_big, kStreamN)->Unit(benchmark::kMillisecond);
#endif
  benchmark::RegisterBenchmark("stream/triad_64M/hand", BM_stream, &bw->triad, kStreamN)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("staging/big/stage", BM_big, 0)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("staging/big/pipeline", BM_big, 1)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("staging/big/llvm_compile", BM_big, 2)->Unit(benchmark::kMillisecond)->UseRealTime();

  try {
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (summary) {
      print_latency(latency);
      print_run(cases);
      print_bandwidth(*bw);
      print_throughput();
      std::printf("\nnote: one thread throughout (no parallel_for_); the summary's RESULT lines: grep ^RESULT\n");
#ifndef NDEBUG
      std::printf("note: this binary is not a Release build: the hand-written code is not built with -O3\n");
#endif
    }
  } catch (const std::exception& e) {
    die(std::string("failed: ") + e.what());
  }
  cases.clear();
  kiln::bench::remove_cache_dir();
  return 0;
}
#endif  // KILN_BENCH_LLVM_NO_MATH_ERRNO_PART

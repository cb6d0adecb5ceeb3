// Support code shared by the benchmark binaries (bench/*.cpp): fatal errors
// and the private cache directory, IR node counts, std::chrono timing of
// the summaries (medians of alternating samples), deterministic inputs,
// cache-line-aligned buffers and bit-exact comparison of outputs.
//
// Everything is inline in namespace kiln::bench, which each binary uses
// (`using namespace kiln::bench;` in its anonymous namespace). Messages name
// the binary by g_program_name, which main() sets first thing.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln::bench {

// --- the binary and its cache directory ----------------------------------------------

/// The binary's name, the prefix of every message (set once by main()).
inline const char* g_program_name = "kiln_bench";

/// The advice check_same() ends a mismatch with: how to look at the code
/// that computed something else (set once by main()).
inline const char* g_mismatch_hint = "compare the generated code with the hand-written code";

// The fresh cache directory of this run (removed at the end, and by die()).
inline std::filesystem::path g_cache_dir;

inline void remove_cache_dir() {
  if (g_cache_dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(g_cache_dir, ec);
  g_cache_dir.clear();
}

/// Prints "<program>: message" on stderr, removes the cache directory (if
/// any) and exits with a failure.
[[noreturn]] inline void die(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", g_program_name, message.c_str());
  remove_cache_dir();
  std::exit(EXIT_FAILURE);
}

/// A fresh private cache directory for this run, as KILN_CACHE_DIR, named
/// `<dir_prefix>XXXXXX` under the temporary directory; KILN_DISK_CACHE is
/// forced on (a setting that turned it off is reported, with `why_note`
/// after the reason).
inline void use_fresh_cache_dir(const std::string& dir_prefix, const char* why_note = "") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / (dir_prefix + "XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) die("cannot create a temporary cache directory under " + fs::temp_directory_path().string());
  g_cache_dir = tmpl;
  setenv("KILN_CACHE_DIR", tmpl.c_str(), 1);
  if (const char* d = std::getenv("KILN_DISK_CACHE"); d && (std::string(d) == "0" || std::string(d) == "off"))
    std::fprintf(stderr, "%s: KILN_DISK_CACHE=%s ignored: disk hits are measured, the disk cache is on%s\n",
                 g_program_name, d, why_note);
  setenv("KILN_DISK_CACHE", "1", 1);
}

/// Removes every `flag` from argv (before Google Benchmark sees the
/// arguments); true if there was one.
inline bool take_flag(int& argc, char** argv, const char* flag) {
  bool found = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) found = true;
    else argv[kept++] = argv[i];
  }
  argc = kept;
  return found;
}

/// The start of main() in a benchmark of Backend::llvm. Returns false
/// (main then returns 0) after printing "Backend::llvm not built" when kiln
/// has no LLVM backend. Otherwise takes --no_summary (*summary: whether to
/// print the summary), hands the rest of argv to Google Benchmark, and exits
/// with status 1 on an argument it does not know.
inline bool start_llvm_benchmark(int& argc, char** argv, bool* summary) {
  if (!kiln::available(kiln::Backend::llvm)) {
    std::printf("Backend::llvm not built\n");
    return false;
  }
  *summary = !take_flag(argc, argv, "--no_summary");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) std::exit(1);
  return true;
}

/// IR nodes of every function of m (what walk() visits).
inline size_t count_nodes(const kiln::ir::Module& m) {
  size_t n = 0;
  for (const kiln::ir::Function& f : m.functions) kiln::ir::walk(f, [&](kiln::ir::ValueId) { ++n; });
  return n;
}

// --- timing --------------------------------------------------------------------------

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline double median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

/// Calls of f per timed sample so that a sample lasts about `target` seconds.
inline int calls_per_sample(const std::function<void()>& f, double target) {
  auto start = std::chrono::steady_clock::now();
  f();
  const double t = std::max(seconds_since(start), 1e-9);
  return static_cast<int>(std::clamp(std::ceil(target / t), 1.0, 1e6));
}

/// Seconds per call of f, from `calls` calls in a row.
inline double seconds_per_call(const std::function<void()>& f, int calls) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  return seconds_since(start) / calls;
}

/// Median seconds per call of each function over `reps` samples each. The
/// samples alternate (f0, f1, ..., f0, f1, ...) so that a load change on a
/// shared machine hits all alike. Each sample is a batch of calls lasting
/// about `target` seconds (at least one call).
inline std::vector<double> median_each(int reps, const std::vector<std::function<void()>>& fs, double target) {
  std::vector<int> calls;
  for (const auto& f : fs) calls.push_back(calls_per_sample(f, target));
  std::vector<std::vector<double>> t(fs.size());
  for (int r = 0; r < reps; ++r)
    for (size_t i = 0; i < fs.size(); ++i) t[i].push_back(seconds_per_call(fs[i], calls[i]));
  std::vector<double> out;
  for (auto& v : t) out.push_back(median(std::move(v)));
  return out;
}

/// median_each of two functions: the median seconds per call of a and of b.
inline std::pair<double, double> median_pair(int reps, const std::function<void()>& a, const std::function<void()>& b,
                                             double target) {
  const std::vector<double> t = median_each(reps, {a, b}, target);
  return {t[0], t[1]};
}

// --- inputs --------------------------------------------------------------------------

/// Buffers aligned to a cache line: every variant of a kernel gets the same
/// alignment (malloc's 16 bytes would give each copy its own share of
/// vector accesses that split cache lines, and run-to-run swings).
template <class T>
struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheAligned() = default;
  template <class U>
  CacheAligned(const CacheAligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheAligned<U>&) const { return true; }
};
template <class T>
using Buf = std::vector<T, CacheAligned<T>>;

/// Deterministic values in [-1.5, 1.5) (an LCG: no <random> distribution
/// whose output could differ between standard libraries), in a std::vector
/// with the given allocator.
template <class T, class Alloc = std::allocator<T>>
std::vector<T, Alloc> values(size_t n, uint64_t seed) {
  std::vector<T, Alloc> v(n);
  for (T& e : v) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    e = static_cast<T>(static_cast<double>(seed >> 11) * 0x1p-53 * 3.0 - 1.5);
  }
  return v;
}

/// values() in a cache-line-aligned buffer.
template <class T>
Buf<T> aligned_values(size_t n, uint64_t seed) {
  return values<T, CacheAligned<T>>(n, seed);
}

// --- bit-exact comparison ------------------------------------------------------------

/// A result or a buffer element, by its bits (floats by their representation).
struct Bits {
  uint64_t bits;
  double value;  // for the message
};

template <class T>
void append(std::vector<Bits>& out, T x) {
  if constexpr (std::is_same_v<T, float>) out.push_back({std::bit_cast<uint32_t>(x), x});
  else if constexpr (std::is_same_v<T, double>) out.push_back({std::bit_cast<uint64_t>(x), x});
  else out.push_back({static_cast<uint64_t>(static_cast<int64_t>(x)), static_cast<double>(x)});
}
template <class T, class Alloc>
void append(std::vector<Bits>& out, const std::vector<T, Alloc>& v) {
  for (T x : v) append(out, x);
}

/// Stops the binary unless a and b are the same bits.
inline void check_same(const std::string& kernel, const std::string& input, const char* a_name,
                       const std::vector<Bits>& a, const char* b_name, const std::vector<Bits>& b) {
  if (a.size() != b.size()) die(kernel + " (" + input + "): " + a_name + " and " + b_name + " give different output sizes");
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].bits == b[i].bits) continue;
    char buf[320];
    std::snprintf(buf, sizeof buf, "output %zu of %zu (results first, then buffers) is %.17g (%a) from %s but %.17g (%a) from %s",
                  i, a.size(), a[i].value, a[i].value, a_name, b[i].value, b[i].value, b_name);
    die(kernel + " (" + input + "): " + buf + ". A benchmark of a wrong program is worthless: " + g_mismatch_hint);
  }
}

}  // namespace kiln::bench

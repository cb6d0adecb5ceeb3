// See gemm.h. With Eigen, the kernel is one of three builds of
// gemm_eigen.inc (generic, AVX2 + FMA, AVX-512), chosen once by what the CPU
// supports: kiln itself is built for any x86-64, while the products should
// run at the machine's vector width, as the JIT-compiled loop nests do.
#include "gemm.h"
#include "thread_pool.h"

#include <algorithm>

#if KILN_HAVE_EIGEN
namespace kiln::runtime {
void gemm_rows_generic(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t);
void gemm_rows_generic(const double*, const double*, double*, int64_t, int64_t, int64_t, int64_t, int64_t);
#if KILN_GEMM_X86_VARIANTS
void gemm_rows_avx2(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t);
void gemm_rows_avx2(const double*, const double*, double*, int64_t, int64_t, int64_t, int64_t, int64_t);
void gemm_rows_avx512(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t);
void gemm_rows_avx512(const double*, const double*, double*, int64_t, int64_t, int64_t, int64_t, int64_t);
#endif
}  // namespace kiln::runtime
#endif

namespace {

enum class Variant { loop, generic, avx2, avx512 };

Variant variant() {
  static const Variant v = [] {
#if KILN_HAVE_EIGEN
#if KILN_GEMM_X86_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
      return Variant::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Variant::avx2;
#endif
    return Variant::generic;
#else
    return Variant::loop;
#endif
  }();
  return v;
}

// Rows [0, m) of C from the A rows a points at: row i of A is a[i * lda ..]
// (or, with bit 0 of flags, column i of a k x lda matrix: a[i + p * lda]).
template <class T>
void rows(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n, int64_t lda, int64_t flags) {
  switch (variant()) {
#if KILN_HAVE_EIGEN
#if KILN_GEMM_X86_VARIANTS
    case Variant::avx512: return kiln::runtime::gemm_rows_avx512(a, b, c, m, k, n, lda, flags);
    case Variant::avx2: return kiln::runtime::gemm_rows_avx2(a, b, c, m, k, n, lda, flags);
#endif
    case Variant::generic: return kiln::runtime::gemm_rows_generic(a, b, c, m, k, n, lda, flags);
#endif
    default: break;
  }
  const bool ta = flags & 1, tb = flags & 2;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) c[i * n + j] = T(0);
    for (int64_t p = 0; p < k; ++p) {
      const T aip = ta ? a[i + p * lda] : a[i * lda + p];
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += aip * (tb ? b[j * k + p] : b[p * n + j]);
    }
  }
}

template <class T>
struct Job {
  const T* a;
  const T* b;
  T* c;
  int64_t m, k, n, flags;
};

// Row blocks of C on kiln's pool, as the loop nest it replaces ran: each
// block at least kMinWork multiply-adds (the lowering's parallel threshold)
// and four rows, so small products stay on the calling thread; and as few
// blocks as the pool splits a loop into (two per thread), since every call
// packs B again. Called from a parallel_for body, the pool runs it inline.
constexpr int64_t kMinWork = int64_t{1} << 15;

template <class T>
void gemm(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n, int64_t flags) {
  const int64_t per_row = std::max<int64_t>(k * n, 1);
  const int64_t threads = std::max(kiln::runtime::thread_count(), 1);
  const int64_t min_rows =
      std::max({int64_t{4}, (kMinWork + per_row - 1) / per_row, m / (2 * threads)});
  Job<T> job{a, b, c, m, k, n, flags};
  kiln::runtime::parallel_for(
      m,
      [](void* ctx, int64_t begin, int64_t end) {
        const auto* j = static_cast<const Job<T>*>(ctx);
        // A's rows begin.. start at row `begin`, or at column `begin` of A's transpose.
        const bool ta = j->flags & 1;
        rows(j->a + (ta ? begin : begin * j->k), j->b, j->c + begin * j->n, end - begin, j->k, j->n, ta ? j->m : j->k,
             j->flags);
      },
      &job, min_rows);
}

}  // namespace

extern "C" void kiln_rt_gemm_f32(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n,
                                 int64_t flags) {
  gemm(a, b, c, m, k, n, flags);
}

extern "C" void kiln_rt_gemm_f64(const double* a, const double* b, double* c, int64_t m, int64_t k, int64_t n,
                                 int64_t flags) {
  gemm(a, b, c, m, k, n, flags);
}

namespace kiln::runtime {

const char* gemm_library() {
  switch (variant()) {
    case Variant::avx512: return "eigen-avx512";
    case Variant::avx2: return "eigen-avx2";
    case Variant::generic: return "eigen";
    case Variant::loop: break;
  }
  return "loop";
}

}  // namespace kiln::runtime

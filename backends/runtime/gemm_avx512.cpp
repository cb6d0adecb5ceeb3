// The runtime GEMM's kernels for CPUs with AVX-512: kernels of its own for
// the narrow products of small models, Eigen's (gemm_eigen.inc) for the rest.
// Eigen packs both operands into panels on every call, which for a
// 256 x 64 x 64 product took a third of its time.
//
// * narrow: C (m x n) = A B with n a multiple of the vector width W, up to
//   eight vectors (128 floats, 64 doubles), in panels of at most four
//   vectors, B read in place (or, stored transposed and small, transposed
//   once into a per-thread buffer). Rows of a panel of C go in blocks of R
//   whose R x n/W accumulators stay in registers for the whole k loop (24 of
//   the 32 zmm registers): per k, n/W loads of B's row, R broadcasts of A,
//   R * n/W fused multiply-adds; C is written once. Each element of C is one
//   chain of fused multiply-adds over k in order.
// * thin, A transposed (thin_block): C narrower than a vector, vectorised
//   down A's columns; each element again one chain over k in order.
// * thin, A as stored (thin_nt_block): C narrower than a vector,
//   vectorised along k against B's columns, each element's lanes summed at
//   the end.
// Every kernel gives the same bits whatever the blocking or the threads.
#define KILN_GEMM_NAMESPACE kiln_eigen_avx512
#define KILN_GEMM_ENTRY gemm_eigen_avx512
#include "gemm_eigen.inc"

#include <immintrin.h>

#include <algorithm>
#include <vector>

namespace {

struct F32 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V splat(T x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V load_first(const T* p, int64_t count) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p); }
  static T sum(V v) { return _mm512_reduce_add_ps(v); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V splat(T x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V load_first(const T* p, int64_t count) { return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << count) - 1), p); }
  static T sum(V v) { return _mm512_reduce_add_pd(v); }
};

// R rows of C from row 0 of a: row r of A is a[r * lda + p], or with TA
// a[r + p * lda]. B's rows are NV vectors at b + p * ldb; C's rows are at
// c + r * ldc.
template <class Tr, int NV, int R, bool TA>
void block(const typename Tr::T* a, int64_t lda, const typename Tr::T* b, int64_t ldb, typename Tr::T* c, int64_t ldc,
           int64_t k) {
  typename Tr::V acc[R][NV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = Tr::zero();
  for (int64_t p = 0; p < k; ++p) {
    typename Tr::V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = Tr::load(b + p * ldb + v * Tr::W);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const typename Tr::V x = Tr::splat(TA ? a[r + p * lda] : a[r * lda + p]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = Tr::fma(x, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) Tr::store(c + r * ldc + v * Tr::W, acc[r][v]);
}

template <class Tr, int NV, bool TA>
void narrow_rows(const typename Tr::T* a, int64_t lda, const typename Tr::T* b, int64_t ldb, typename Tr::T* c,
                 int64_t ldc, int64_t m, int64_t k) {
  constexpr int R = 24 / NV;
  auto at = [&](int64_t i) { return TA ? a + i : a + i * lda; };
  int64_t i = 0;
  for (; i + R <= m; i += R) block<Tr, NV, R, TA>(at(i), lda, b, ldb, c + i * ldc, ldc, k);
  // The rows left, four, two, one at a time: a block of one row is one
  // chain of dependent multiply-adds per vector, latency-bound.
  if constexpr (R > 4)
    for (; i + 4 <= m; i += 4) block<Tr, NV, 4, TA>(at(i), lda, b, ldb, c + i * ldc, ldc, k);
  if constexpr (R > 2)
    for (; i + 2 <= m; i += 2) block<Tr, NV, 2, TA>(at(i), lda, b, ldb, c + i * ldc, ldc, k);
  for (; i < m; ++i) block<Tr, NV, 1, TA>(at(i), lda, b, ldb, c + i * ldc, ldc, k);
}

// C in panels of at most four vectors' width, each a narrow product.
template <class Tr, bool TA>
void narrow(const typename Tr::T* a, int64_t lda, const typename Tr::T* b, typename Tr::T* c, int64_t m, int64_t k,
            int64_t n) {
  for (int64_t j = 0; j < n; j += 4 * Tr::W) {
    switch (std::min<int64_t>(4, (n - j) / Tr::W)) {
      case 1: narrow_rows<Tr, 1, TA>(a, lda, b + j, n, c + j, n, m, k); break;
      case 2: narrow_rows<Tr, 2, TA>(a, lda, b + j, n, c + j, n, m, k); break;
      case 3: narrow_rows<Tr, 3, TA>(a, lda, b + j, n, c + j, n, m, k); break;
      default: narrow_rows<Tr, 4, TA>(a, lda, b + j, n, c + j, n, m, k); break;
    }
  }
}

// C (m x N, N under one vector) = A B with A stored transposed (k x lda,
// A's row i is column i): G vectors of W rows of C at a time, vectorised
// down A's columns (contiguous), one accumulator per vector and column of
// C; per k, G loads of A and N broadcasts of B. An MLP's weight gradient
// for its last layer (hidden^T times the output's adjoint) is this shape.
template <class Tr, int N, int G>
void thin_block(const typename Tr::T* a, int64_t lda, const typename Tr::T* b, typename Tr::T* c, int64_t k) {
  constexpr int W = Tr::W;
  typename Tr::V acc[G][N];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) acc[g][j] = Tr::zero();
  for (int64_t p = 0; p < k; ++p) {
    typename Tr::V av[G];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) av[g] = Tr::load(a + p * lda + g * W);
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) {
      const typename Tr::V bj = Tr::splat(b[p * N + j]);
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) acc[g][j] = Tr::fma(av[g], bj, acc[g][j]);
    }
  }
  alignas(64) typename Tr::T lanes[W];
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < N; ++j) {
      Tr::store(lanes, acc[g][j]);
      for (int r = 0; r < W; ++r) c[(g * W + r) * N + j] = lanes[r];
    }
}

// C (m x N) = A B with A stored as it is (m x k) and C a few columns wide:
// R rows of C at a time, vectorised along k against B's columns (bt holds
// B transposed, N x k), one accumulator per row and column, summed across
// its lanes at the end. The forward pass of an MLP's last layer is this
// shape (256 x 64 times 64 x 3).
template <class Tr, int N, int R>
void thin_nt_block(const typename Tr::T* a, int64_t lda, const typename Tr::T* bt, typename Tr::T* c, int64_t k) {
  constexpr int W = Tr::W;
  typename Tr::V acc[R][N];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) acc[r][j] = Tr::zero();
  auto step = [&](int64_t p, auto load) {
    typename Tr::V bv[N];
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) bv[j] = load(bt + j * k + p);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const typename Tr::V av = load(a + r * lda + p);
#pragma GCC unroll 16
      for (int j = 0; j < N; ++j) acc[r][j] = Tr::fma(av, bv[j], acc[r][j]);
    }
  };
  int64_t p = 0;
  for (; p + W <= k; p += W) step(p, [](const typename Tr::T* x) { return Tr::load(x); });
  if (p < k) step(p, [rest = k - p](const typename Tr::T* x) { return Tr::load_first(x, rest); });
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < N; ++j) c[r * N + j] = Tr::sum(acc[r][j]);
}

template <class Tr, int N>
void thin_nt_rows(const typename Tr::T* a, int64_t lda, const typename Tr::T* bt, typename Tr::T* c, int64_t m,
                  int64_t k) {
  constexpr int R = (28 - N) / N > 1 ? (28 - N) / N : 1;  // R * N accumulators and N columns of B in registers
  int64_t i = 0;
  for (; i + R <= m; i += R) thin_nt_block<Tr, N, R>(a + i * lda, lda, bt, c + i * N, k);
  for (; i < m; ++i) thin_nt_block<Tr, N, 1>(a + i * lda, lda, bt, c + i * N, k);
}

template <class Tr, int N>
void thin_rows(const typename Tr::T* a, int64_t lda, const typename Tr::T* b, typename Tr::T* c, int64_t m, int64_t k) {
  using T = typename Tr::T;
  constexpr int W = Tr::W, G = N >= 12 ? 1 : N >= 8 ? 2 : N >= 4 ? 4 : 6;  // G * N accumulators, at most 24
  int64_t i = 0;
  for (; i + G * W <= m; i += G * W) thin_block<Tr, N, G>(a + i, lda, b, c + i * N, k);
  for (; i + 2 * W <= m; i += 2 * W) thin_block<Tr, N, 2>(a + i, lda, b, c + i * N, k);
  for (; i + W <= m; i += W) thin_block<Tr, N, 1>(a + i, lda, b, c + i * N, k);
  for (; i < m; ++i)  // the rows left: each element one chain over k in order, as above
    for (int j = 0; j < N; ++j) {
      T s = 0;
      for (int64_t p = 0; p < k; ++p) s = __builtin_fma(a[p * lda + i], b[p * N + j], s);
      c[i * N + j] = s;
    }
}

// C m x n, n under one vector: A transposed (TA) or B transposed in bt.
template <class Tr, bool TA>
void thin(const typename Tr::T* a, int64_t lda, const typename Tr::T* b, typename Tr::T* c, int64_t m, int64_t k,
          int64_t n) {
  switch (n) {
#define KILN_THIN(N)                                                   \
  case N:                                                              \
    if constexpr (N < Tr::W) {                                         \
      if constexpr (TA) return thin_rows<Tr, N>(a, lda, b, c, m, k);   \
      else return thin_nt_rows<Tr, N>(a, lda, b, c, m, k);             \
    }                                                                  \
    return;
    KILN_THIN(1) KILN_THIN(2) KILN_THIN(3) KILN_THIN(4) KILN_THIN(5) KILN_THIN(6) KILN_THIN(7) KILN_THIN(8)
    KILN_THIN(9) KILN_THIN(10) KILN_THIN(11) KILN_THIN(12) KILN_THIN(13) KILN_THIN(14) KILN_THIN(15)
#undef KILN_THIN
    default: return;
  }
}

// The largest panel of B (bytes) the narrow kernel streams through for each
// block of rows, and the widest C (vectors) it takes. kiln_bench_matmul-style
// timings on one core (floats, GFLOP/s, this kernel / Eigen / OpenBLAS):
// 256 x 64 x 64 170 / 127 / 115; 64 x 784 x 128 150 / 69 / 95 (panels of
// B 200 KiB, from L2); 784 x 64 x 128, A transposed, 159 / 126 / 128.
constexpr int64_t kMaxStreamed = 512 * 1024;
constexpr int64_t kMaxVectors = 8;

// The largest B (elements) the narrow kernel transposes when B is stored
// transposed: 64 KiB of floats, what an MLP layer's weights of 64 x 256 are.
constexpr int64_t kMaxTransposed = 16384;

// x (rows x cols, row-major) transposed into the calling thread's buffer,
// which stays valid until its next call.
template <class T>
const T* transposed(const T* x, int64_t rows, int64_t cols) {
  thread_local std::vector<T> out;
  out.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = x[r * cols + c];
  return out.data();
}

template <class Tr>
bool try_narrow(const typename Tr::T* a, const typename Tr::T* b, typename Tr::T* c, int64_t m, int64_t k, int64_t n,
                int64_t lda, int64_t flags) {
  using T = typename Tr::T;
  if (m <= 0 || k <= 0 || n <= 0) return false;
  if ((flags & 3) == 1 && n < Tr::W && m >= Tr::W) {  // A transposed, C a few columns wide
    thin<Tr, true>(a, lda, b, c, m, k, n);
    return true;
  }
  if (!(flags & 1) && n < Tr::W && k >= Tr::W && k * n <= kMaxTransposed) {  // A as stored, C a few columns wide
    // B's columns: as stored when B is stored transposed, else copied once.
    thin<Tr, false>(a, lda, flags & 2 ? b : transposed(b, k, n), c, m, k, n);
    return true;
  }
  // B is streamed once per block of rows: beyond what the L2 cache serves
  // well (784 x 128 floats ran at half Eigen's speed), Eigen's blocking wins.
  const int64_t panel_bytes = k * std::min<int64_t>(n, 4 * Tr::W) * static_cast<int64_t>(sizeof(T));
  if (n % Tr::W != 0 || n / Tr::W > kMaxVectors || panel_bytes > kMaxStreamed) return false;
  if (flags & 2) {
    if (k * n > kMaxTransposed) return false;
    b = transposed(b, n, k);
  }
  if (flags & 1) narrow<Tr, true>(a, lda, b, c, m, k, n);
  else narrow<Tr, false>(a, lda, b, c, m, k, n);
  return true;
}

}  // namespace

namespace kiln::runtime {

void gemm_rows_avx512(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, int64_t lda,
                      int64_t flags) {
  if (!try_narrow<F32>(a, b, c, m, k, n, lda, flags)) gemm_eigen_avx512(a, b, c, m, k, n, lda, flags);
}
void gemm_rows_avx512(const double* a, const double* b, double* c, int64_t m, int64_t k, int64_t n, int64_t lda,
                      int64_t flags) {
  if (!try_narrow<F64>(a, b, c, m, k, n, lda, flags)) gemm_eigen_avx512(a, b, c, m, k, n, lda, flags);
}

}  // namespace kiln::runtime

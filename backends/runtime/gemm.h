// The runtime GEMM that the IR op `gemm` calls in Backend::llvm (tensor
// lowering emits gemm only under Options::fast_math, for matmuls of at least
// LowerOptions::gemm_min_work multiply-adds): C = A B for row-major,
// contiguous A (m x k), B (k x n) and C (m x n), C overwritten. Bit 0 of
// `flags`: a holds A transposed (k x m); bit 1: b holds B transposed (n x k). Eigen's
// blocked GEMM when kiln was built with Eigen, a plain loop nest otherwise;
// rows of C are split over kiln's thread pool when the product is large
// (Eigen's own threads are not used).
#pragma once

#include <cstdint>

extern "C" {

void kiln_rt_gemm_f32(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, int64_t flags);
void kiln_rt_gemm_f64(const double* a, const double* b, double* c, int64_t m, int64_t k, int64_t n, int64_t flags);

}  // extern "C"

namespace kiln::runtime {

/// What kiln_rt_gemm_* runs: "eigen-avx512", "eigen-avx2", "eigen" (the
/// generic build) or "loop" (kiln built without Eigen). Part of the llvm
/// backend's cache key for fast_math kernels.
const char* gemm_library();

}  // namespace kiln::runtime

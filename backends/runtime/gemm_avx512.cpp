// The runtime GEMM's Eigen kernel for CPUs with AVX512 (gemm_eigen.inc).
#define KILN_GEMM_NAMESPACE kiln_eigen_avx512
#define KILN_GEMM_ENTRY gemm_rows_avx512
#include "gemm_eigen.inc"

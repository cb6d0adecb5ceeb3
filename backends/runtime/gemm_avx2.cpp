// The runtime GEMM's Eigen kernel for CPUs with AVX2 (gemm_eigen.inc).
#define KILN_GEMM_NAMESPACE kiln_eigen_avx2
#define KILN_GEMM_ENTRY gemm_rows_avx2
#include "gemm_eigen.inc"

// The runtime GEMM's Eigen kernel for any x86-64 (or other) CPU (gemm_eigen.inc).
#define KILN_GEMM_NAMESPACE kiln_eigen_generic
#define KILN_GEMM_ENTRY gemm_rows_generic
#include "gemm_eigen.inc"

// Sizes the thread pool of the OpenBLAS that libtorch calls: Debian's
// OpenBLAS keeps its own pthread pool, which torch::set_num_threads does not
// size. Found at run time (libtorch may be linked with another BLAS).
// Shared by kiln_bench_torch and bench/peers' kiln_peer_torch; needs no kiln.
#pragma once

#include <dlfcn.h>

namespace kiln_bench {

/// Sets OpenBLAS's thread count to n; returns its count afterwards, or 0
/// when no OpenBLAS is loaded.
inline int set_openblas_threads(int n) {
  auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!set || !get) return 0;
  set(n);
  return get();
}

}  // namespace kiln_bench

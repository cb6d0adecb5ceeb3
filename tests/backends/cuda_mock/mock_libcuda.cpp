// A stand-in for libcuda.so.1, so the CUDA runtime's call path (buffers,
// parameters, slots, traps, contexts, module loading) is tested on machines
// without a GPU. "Device memory" is host memory the mock hands out and
// tracks, so a host pointer used as a device pointer is caught; a kernel
// is a host function the test registers under its name and that reads the
// launch's parameter array as a GPU would. Every call that needs a context
// fails without the primary context current on the calling thread, as the
// driver does. The definitions below are checked against <cuda.h>'s
// declarations (whose macros give the versioned names, cuMemAlloc_v2, ...).
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

struct CUctx_st {
  int unused;
};
struct CUmod_st {
  bool cubin;
};
struct CUfunc_st {
  void (*run)(void** params);
};

namespace {

using Kernel = void (*)(void** params);

struct State {
  std::mutex mu;
  std::map<uintptr_t, size_t> allocations;  // address -> bytes
  std::map<std::string, CUfunc_st> kernels;
  bool reject_ptx = false;
  int cubin_loads = 0, ptx_loads = 0;
  unsigned last_grid = 0, last_block = 0;
  size_t launches = 0;
  unsigned error_flag = 0;
  char error_message[256] = {};
};

State& state() {
  static State s;
  return s;
}

CUctx_st primary;
thread_local CUcontext current = nullptr;

// Whether [p, p + n) lies inside one allocation or one of the globals.
bool on_device(CUdeviceptr p, size_t n) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const uintptr_t flag = reinterpret_cast<uintptr_t>(&s.error_flag);
  const uintptr_t msg = reinterpret_cast<uintptr_t>(s.error_message);
  if (p >= flag && p + n <= flag + sizeof s.error_flag) return true;
  if (p >= msg && p + n <= msg + sizeof s.error_message) return true;
  auto it = s.allocations.upper_bound(p);
  if (it == s.allocations.begin()) return false;
  --it;
  return p + n <= it->first + it->second;
}

}  // namespace

extern "C" {

// The real driver names codes; leaving it to kiln's own table is what the
// toolkit's stub does too.
CUresult CUDAAPI cuGetErrorName(CUresult, const char**) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult CUDAAPI cuGetErrorString(CUresult, const char**) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult CUDAAPI cuInit(unsigned int) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuDriverGetVersion(int* v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetCount(int* n) {
  *n = 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGet(CUdevice* d, int ordinal) {
  *d = 0;
  return ordinal == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}
CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice) {
  std::snprintf(name, static_cast<size_t>(len), "kiln mock GPU");
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice) {
  switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; return CUDA_SUCCESS;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; return CUDA_SUCCESS;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 10; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}
CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice) {
  *c = &primary;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuCtxSetCurrent(CUcontext c) {
  current = c;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuCtxSynchronize(void) { return current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }

CUresult CUDAAPI cuModuleLoadData(CUmodule* m, const void* image) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const bool cubin = std::memcmp(image, "\x7f" "ELF", 4) == 0;
  if (!cubin && s.reject_ptx) return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
  ++(cubin ? s.cubin_loads : s.ptx_loads);
  *m = new CUmod_st{cubin};
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleUnload(CUmodule m) {
  delete m;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleGetFunction(CUfunction* f, CUmodule, const char* name) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.kernels.find(name);
  if (it == s.kernels.end()) return CUDA_ERROR_NOT_FOUND;
  *f = &it->second;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleGetGlobal(CUdeviceptr* p, size_t* bytes, CUmodule, const char* name) {
  State& s = state();
  if (std::strcmp(name, "kiln_error_flag") == 0) {
    *p = reinterpret_cast<uintptr_t>(&s.error_flag);
    *bytes = sizeof s.error_flag;
    return CUDA_SUCCESS;
  }
  if (std::strcmp(name, "kiln_error_message") == 0) {
    *p = reinterpret_cast<uintptr_t>(s.error_message);
    *bytes = sizeof s.error_message;
    return CUDA_SUCCESS;
  }
  return CUDA_ERROR_NOT_FOUND;
}
CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                unsigned bz, unsigned shared, CUstream stream, void** params, void** extra) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || stream || extra || !params)
    return CUDA_ERROR_INVALID_VALUE;
  {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    s.last_grid = gx;
    s.last_block = bx;
    ++s.launches;
  }
  f->run(params);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuOccupancyMaxPotentialBlockSize(int* min_grid, int* block, CUfunction, CUoccupancyB2DSize, size_t,
                                                  int) {
  *block = 128;
  *min_grid = 40;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuOccupancyMaxActiveBlocksPerMultiprocessor(int* n, CUfunction, int block, size_t) {
  *n = block == 128 ? 4 : 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuPointerGetAttribute(void* data, CUpointer_attribute a, CUdeviceptr p) {
  if (a != CU_POINTER_ATTRIBUTE_MEMORY_TYPE || !on_device(p, 1)) return CUDA_ERROR_INVALID_VALUE;
  *static_cast<unsigned*>(data) = CU_MEMORYTYPE_DEVICE;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemAlloc(CUdeviceptr* p, size_t bytes) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (bytes > (size_t{1} << 36)) return CUDA_ERROR_OUT_OF_MEMORY;  // a 64 GiB "GPU"
  void* mem = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  std::memset(mem, 0xab, bytes);  // not zeroed, as on a GPU
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  *p = reinterpret_cast<uintptr_t>(mem);
  s.allocations[*p] = bytes;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemFree(CUdeviceptr p) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.allocations.erase(p) == 0) return CUDA_ERROR_INVALID_VALUE;
  std::free(reinterpret_cast<void*>(p));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void* src, size_t n) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!on_device(dst, n) || on_device(reinterpret_cast<uintptr_t>(src), 1)) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(reinterpret_cast<void*>(dst), src, n);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpyDtoH(void* dst, CUdeviceptr src, size_t n) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!on_device(src, n) || on_device(reinterpret_cast<uintptr_t>(dst), 1)) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(dst, reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemsetD8(CUdeviceptr dst, unsigned char v, size_t n) {
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!on_device(dst, n)) return CUDA_ERROR_INVALID_VALUE;
  std::memset(reinterpret_cast<void*>(dst), v, n);
  return CUDA_SUCCESS;
}

// The test's controls.
void kiln_mock_register(const char* name, Kernel run) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.kernels[name] = CUfunc_st{run};
}
void kiln_mock_trap(const char* message) {
  State& s = state();
  s.error_flag = 1;
  std::snprintf(s.error_message, sizeof s.error_message, "%s", message);
}
void kiln_mock_reject_ptx(bool reject) { state().reject_ptx = reject; }
size_t kiln_mock_live_allocations() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.allocations.size();
}
void kiln_mock_counts(int* ptx_loads, int* cubin_loads, size_t* launches, unsigned* last_grid, unsigned* last_block) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  *ptx_loads = s.ptx_loads;
  *cubin_loads = s.cubin_loads;
  *launches = s.launches;
  *last_grid = s.last_grid;
  *last_block = s.last_block;
}

}  // extern "C"

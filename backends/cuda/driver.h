// The CUDA driver API, loaded with dlopen: kiln never links libcuda, so a
// binary using kiln starts on machines without an NVIDIA driver and only
// Backend::cuda calls and DeviceArrays find out, with a message. Device 0
// and its primary context (the one the CUDA runtime uses too, so memory
// and modules are shared with a program that also uses cudart) are used.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

#include <memory>
#include <string>

namespace kiln::cuda {

/// The driver functions kiln uses (the versioned entry points the CUDA 12
/// and 13 headers map the plain names to), device 0 and its primary
/// context, retained for the life of the Driver.
struct Driver {
  void* handle = nullptr;
  PFN_cuGetErrorName_v6000 get_error_name = nullptr;
  PFN_cuGetErrorString_v6000 get_error_string = nullptr;
  PFN_cuInit_v2000 init = nullptr;
  PFN_cuDriverGetVersion_v2020 driver_get_version = nullptr;
  PFN_cuDeviceGetCount_v2000 device_get_count = nullptr;
  PFN_cuDeviceGet_v2000 device_get = nullptr;
  PFN_cuDeviceGetName_v2000 device_get_name = nullptr;
  PFN_cuDeviceGetAttribute_v2000 device_get_attribute = nullptr;
  PFN_cuDevicePrimaryCtxRetain_v7000 primary_ctx_retain = nullptr;
  PFN_cuDevicePrimaryCtxRelease_v11000 primary_ctx_release = nullptr;
  PFN_cuCtxSetCurrent_v4000 ctx_set_current = nullptr;
  PFN_cuCtxSynchronize_v2000 ctx_synchronize = nullptr;
  PFN_cuModuleLoadData_v2000 module_load_data = nullptr;
  PFN_cuModuleUnload_v2000 module_unload = nullptr;
  PFN_cuModuleGetFunction_v2000 module_get_function = nullptr;
  PFN_cuModuleGetGlobal_v3020 module_get_global = nullptr;
  PFN_cuLaunchKernel_v4000 launch_kernel = nullptr;
  PFN_cuOccupancyMaxPotentialBlockSize_v6050 occupancy_max_potential_block_size = nullptr;
  PFN_cuOccupancyMaxActiveBlocksPerMultiprocessor_v6050 occupancy_max_active_blocks = nullptr;
  PFN_cuPointerGetAttribute_v4000 pointer_get_attribute = nullptr;
  PFN_cuMemAlloc_v3020 mem_alloc = nullptr;
  PFN_cuMemFree_v3020 mem_free = nullptr;
  PFN_cuMemcpyHtoD_v3020 memcpy_htod = nullptr;
  PFN_cuMemcpyDtoH_v3020 memcpy_dtoh = nullptr;
  PFN_cuMemsetD8_v3020 memset_d8 = nullptr;

  CUdevice device = 0;
  CUcontext context = nullptr;
  std::string name;  // "NVIDIA H200"
  std::string arch;  // "sm_90", from the compute capability
  int sm_count = 0;
  int version = 0;   // 13000 for CUDA 13.0

  Driver() = default;
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;
  ~Driver();

  /// "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory" (names known to kiln
  /// when the library cannot say, as the toolkit's stub cannot).
  std::string error_text(CUresult r) const;
  /// Throws kiln::RuntimeError "CUDA driver: <what> failed: <error_text>"
  /// unless r is CUDA_SUCCESS.
  void check(CUresult r, const char* what) const;
  /// Makes the primary context current on the calling thread (every entry
  /// from user code does this: threads start with no context).
  void make_current() const;
};

/// A driver, or why there is none.
struct DriverLoad {
  std::unique_ptr<Driver> driver;
  std::string reason;  // empty when driver is set
};

/// Loads `library` (e.g. "libcuda.so.1"), calls cuInit and takes device 0.
/// Not cached: driver() is the process's one; tests point this at the
/// toolkit's stub library to see its failure reported.
DriverLoad load_driver(const std::string& library);

/// The process's driver, loaded from $KILN_CUDA_DRIVER, else libcuda.so.1,
/// the first time it is asked for; null when there is no usable one
/// (driver_status() says why).
const Driver* driver();

/// One line: "NVIDIA H200 (sm_90, 132 SMs), CUDA driver 13.0", or
/// "no CUDA device: <why>".
std::string driver_status();

/// The message of the kiln::RuntimeError thrown when device work is asked
/// for without a device: why, and what to do instead.
std::string no_device_message(const std::string& doing);

/// Device memory owned by one object (move-only), freed when it goes.
/// Zero bytes allocate nothing (get() is 0).
class DeviceMemory {
 public:
  DeviceMemory() = default;
  /// Allocates `bytes`; throws kiln::RuntimeError when the device is out of memory.
  DeviceMemory(const Driver& d, size_t bytes);
  DeviceMemory(DeviceMemory&& o) noexcept { *this = std::move(o); }
  DeviceMemory& operator=(DeviceMemory&& o) noexcept;
  ~DeviceMemory() { reset(); }

  CUdeviceptr get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void reset() noexcept;

  const Driver* d_ = nullptr;
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

}  // namespace kiln::cuda

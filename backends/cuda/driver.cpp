// Loading the CUDA driver. Every way of having no usable GPU (no library,
// a stub library, a driver too old, no device) ends in a DriverLoad with a
// reason, never in a crash; the reason reaches the user through
// cuda_status() and the "no CUDA device" errors.
#include "driver.h"

#include <kiln/error.h>

#include <cstdlib>
#include <utility>

#include <dlfcn.h>

namespace kiln::cuda {
namespace {

// Names for the codes kiln meets when the library cannot name them itself
// (the toolkit's stub answers every call, cuGetErrorName too, with 34).
const char* known_error_name(CUresult r) {
  switch (static_cast<int>(r)) {
    case 1: return "CUDA_ERROR_INVALID_VALUE";
    case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
    case 3: return "CUDA_ERROR_NOT_INITIALIZED";
    case 4: return "CUDA_ERROR_DEINITIALIZED";
    case 34: return "CUDA_ERROR_STUB_LIBRARY";
    case 35: return "CUDA_ERROR_INSUFFICIENT_DRIVER";
    case 100: return "CUDA_ERROR_NO_DEVICE";
    case 101: return "CUDA_ERROR_INVALID_DEVICE";
    case 200: return "CUDA_ERROR_INVALID_IMAGE";
    case 209: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case 218: return "CUDA_ERROR_INVALID_PTX";
    case 222: return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    case 700: return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case 719: return "CUDA_ERROR_LAUNCH_FAILED";
    case 803: return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case 999: return "CUDA_ERROR_UNKNOWN";
  }
  return "CUDA error";
}

// What to do about the ways cuInit fails on machines without a working GPU.
std::string init_hint(CUresult r) {
  switch (static_cast<int>(r)) {
    case 34: return ": the libcuda found is the CUDA toolkit's stub (for linking), not an NVIDIA driver";
    case 35: return ": the NVIDIA driver is older than the CUDA version this needs; update the driver";
    case 100: return ": the NVIDIA driver sees no GPU";
    case 803: return ": the CUDA driver library does not match the kernel module; reboot or reinstall the driver";
  }
  return "";
}

template <class F>
void resolve(void* handle, const char* symbol, F& f, std::string& missing) {
  f = reinterpret_cast<F>(dlsym(handle, symbol));
  if (!f && missing.empty()) missing = symbol;
}

// The symbols behind the plain names in <cuda.h> (cuMemAlloc is
// cuMemAlloc_v2 there): the versions the function-pointer types match.
std::string resolve_all(Driver& d) {
  std::string missing;
  void* h = d.handle;
  resolve(h, "cuGetErrorName", d.get_error_name, missing);
  resolve(h, "cuGetErrorString", d.get_error_string, missing);
  resolve(h, "cuInit", d.init, missing);
  resolve(h, "cuDriverGetVersion", d.driver_get_version, missing);
  resolve(h, "cuDeviceGetCount", d.device_get_count, missing);
  resolve(h, "cuDeviceGet", d.device_get, missing);
  resolve(h, "cuDeviceGetName", d.device_get_name, missing);
  resolve(h, "cuDeviceGetAttribute", d.device_get_attribute, missing);
  resolve(h, "cuDevicePrimaryCtxRetain", d.primary_ctx_retain, missing);
  resolve(h, "cuDevicePrimaryCtxRelease_v2", d.primary_ctx_release, missing);
  resolve(h, "cuCtxSetCurrent", d.ctx_set_current, missing);
  resolve(h, "cuCtxSynchronize", d.ctx_synchronize, missing);
  resolve(h, "cuModuleLoadData", d.module_load_data, missing);
  resolve(h, "cuModuleUnload", d.module_unload, missing);
  resolve(h, "cuModuleGetFunction", d.module_get_function, missing);
  resolve(h, "cuModuleGetGlobal_v2", d.module_get_global, missing);
  resolve(h, "cuLaunchKernel", d.launch_kernel, missing);
  resolve(h, "cuOccupancyMaxPotentialBlockSize", d.occupancy_max_potential_block_size, missing);
  resolve(h, "cuOccupancyMaxActiveBlocksPerMultiprocessor", d.occupancy_max_active_blocks, missing);
  resolve(h, "cuPointerGetAttribute", d.pointer_get_attribute, missing);
  resolve(h, "cuMemAlloc_v2", d.mem_alloc, missing);
  resolve(h, "cuMemFree_v2", d.mem_free, missing);
  resolve(h, "cuMemcpyHtoD_v2", d.memcpy_htod, missing);
  resolve(h, "cuMemcpyDtoH_v2", d.memcpy_dtoh, missing);
  resolve(h, "cuMemsetD8_v2", d.memset_d8, missing);
  return missing;
}

// Device 0: its name, architecture, SM count and primary context.
std::string open_device(Driver& d) {
  int count = 0;
  if (CUresult r = d.device_get_count(&count); r != CUDA_SUCCESS)
    return "cuDeviceGetCount failed with " + d.error_text(r);
  if (count == 0) return "the NVIDIA driver reports no CUDA device";
  if (CUresult r = d.device_get(&d.device, 0); r != CUDA_SUCCESS) return "cuDeviceGet(0) failed with " + d.error_text(r);
  int major = 0, minor = 0;
  const bool attrs =
      d.device_get_attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d.device) == CUDA_SUCCESS &&
      d.device_get_attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d.device) == CUDA_SUCCESS &&
      d.device_get_attribute(&d.sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d.device) == CUDA_SUCCESS;
  if (!attrs) return "the driver does not report device 0's compute capability";
  d.arch = "sm_" + std::to_string(major * 10 + minor);
  char name[256] = {};
  if (d.device_get_name(name, sizeof name - 1, d.device) == CUDA_SUCCESS) d.name = name;
  if (CUresult r = d.primary_ctx_retain(&d.context, d.device); r != CUDA_SUCCESS)
    return "cuDevicePrimaryCtxRetain failed with " + d.error_text(r) +
           " (is the GPU in exclusive-process mode and used by another process?)";
  d.driver_get_version(&d.version);
  return "";
}

}  // namespace

Driver::~Driver() {
  if (context) primary_ctx_release(device);
  if (handle) dlclose(handle);
}

std::string Driver::error_text(CUresult r) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (!get_error_name || get_error_name(r, &name) != CUDA_SUCCESS || !name) name = known_error_name(r);
  std::string out = std::string(name) + " (" + std::to_string(static_cast<int>(r)) + ")";
  if (get_error_string && get_error_string(r, &text) == CUDA_SUCCESS && text) out += ": " + std::string(text);
  return out;
}

void Driver::check(CUresult r, const char* what) const {
  if (r != CUDA_SUCCESS) throw RuntimeError(std::string("CUDA driver: ") + what + " failed: " + error_text(r));
}

void Driver::make_current() const { check(ctx_set_current(context), "cuCtxSetCurrent"); }

DriverLoad load_driver(const std::string& library) {
  DriverLoad out;
  auto d = std::make_unique<Driver>();
  d->handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!d->handle) {
    const char* e = dlerror();
    out.reason = library + ", the NVIDIA driver's CUDA library, cannot be loaded (" + (e ? e : "dlopen failed") + ")";
    return out;
  }
  if (std::string missing = resolve_all(*d); !missing.empty()) {
    out.reason = library + " lacks " + missing + ": the NVIDIA driver is too old for kiln; install a driver for CUDA 12 or later";
    return out;
  }
  if (CUresult r = d->init(0); r != CUDA_SUCCESS) {
    out.reason = "cuInit failed with " + d->error_text(r) + init_hint(r);
    return out;
  }
  out.reason = open_device(*d);
  if (out.reason.empty()) out.driver = std::move(d);
  return out;
}

namespace {

// $KILN_CUDA_DRIVER names another library (a driver installed off the
// loader's path, or the stand-in kiln's tests run the runtime against).
std::string driver_library() {
  const char* env = std::getenv("KILN_CUDA_DRIVER");
  return env && *env ? env : "libcuda.so.1";
}

const DriverLoad& process_driver() {
  // Never destroyed: kernels and DeviceArrays held by statics may still
  // free memory while the process exits.
  static const DriverLoad* const load = new DriverLoad(load_driver(driver_library()));
  return *load;
}

}  // namespace

const Driver* driver() { return process_driver().driver.get(); }

std::string driver_status() {
  const Driver* d = driver();
  if (!d) return "no CUDA device: " + process_driver().reason;
  return d->name + " (" + d->arch + ", " + std::to_string(d->sm_count) + " SMs), CUDA driver " +
         std::to_string(d->version / 1000) + "." + std::to_string(d->version % 1000 / 10);
}

std::string no_device_message(const std::string& doing) {
  return "no CUDA device to " + doing + ": " + process_driver().reason +
         "; run on a machine with an NVIDIA GPU and its driver, or compile for the CPU with Backend::llvm "
         "(kiln::cuda_device_available() tells beforehand)";
}

DeviceMemory::DeviceMemory(const Driver& d, size_t bytes) : d_(&d), bytes_(bytes) {
  if (bytes == 0) return;
  d.check(d.mem_alloc(&ptr_, bytes), ("cuMemAlloc of " + std::to_string(bytes) + " bytes").c_str());
}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& o) noexcept {
  if (this == &o) return *this;
  reset();
  d_ = std::exchange(o.d_, nullptr);
  ptr_ = std::exchange(o.ptr_, 0);
  bytes_ = std::exchange(o.bytes_, 0);
  return *this;
}

void DeviceMemory::reset() noexcept {
  // The calling thread may have no context (a DeviceArray freed on another
  // thread than the one that made it); errors cannot be reported from here.
  if (ptr_ && d_->ctx_set_current(d_->context) == CUDA_SUCCESS) d_->mem_free(ptr_);
  ptr_ = 0;
  bytes_ = 0;
}

}  // namespace kiln::cuda

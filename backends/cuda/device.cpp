// kiln/cuda.h: the device and DeviceArray's memory. Compiled into every
// kiln, so a program using these builds everywhere; without the CUDA
// toolkit at build time they report that there is no device.
#include <kiln/cuda.h>

#if KILN_HAVE_CUDA
#include "driver.h"
#endif

#include <cstdint>
#include <string>

namespace kiln {

#if KILN_HAVE_CUDA

namespace {

const cuda::Driver& device_for(const char* doing) {
  const cuda::Driver* d = cuda::driver();
  if (!d) throw RuntimeError(cuda::no_device_message(doing));
  d->make_current();
  return *d;
}

CUdeviceptr address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace

bool cuda_device_available() { return cuda::driver() != nullptr; }

std::string cuda_status() { return cuda::driver_status(); }

namespace detail {

// Raw driver memory, not cuda::DeviceMemory: DeviceArray owns it in its
// header, where the driver's types cannot go.
void* cuda_alloc(size_t bytes, std::source_location loc) {
  const cuda::Driver& d = device_for(("make a kiln::DeviceArray (" + where(loc) + ")").c_str());
  if (bytes == 0) return nullptr;
  CUdeviceptr p = 0;
  d.check(d.mem_alloc(&p, bytes), ("cuMemAlloc of " + std::to_string(bytes) + " bytes for a DeviceArray").c_str());
  if (CUresult r = d.memset_d8(p, 0, bytes); r != CUDA_SUCCESS) {
    d.mem_free(p);
    d.check(r, "cuMemsetD8");
  }
  return reinterpret_cast<void*>(static_cast<uintptr_t>(p));
}

void cuda_free(void* device) noexcept {
  const cuda::Driver* d = cuda::driver();
  // Freed from any thread: make the context current first. A failure
  // cannot be reported from a destructor; the memory goes with the process.
  if (device && d && d->ctx_set_current(d->context) == CUDA_SUCCESS) d->mem_free(address(device));
}

void cuda_to_device(void* device, const void* host, size_t bytes) {
  if (bytes == 0) return;
  const cuda::Driver& d = device_for("copy to a kiln::DeviceArray");
  d.check(d.memcpy_htod(address(device), host, bytes), "copying to a DeviceArray");
}

void cuda_to_host(void* host, const void* device, size_t bytes) {
  if (bytes == 0) return;
  const cuda::Driver& d = device_for("copy from a kiln::DeviceArray");
  d.check(d.memcpy_dtoh(host, address(device), bytes), "copying from a DeviceArray");
}

}  // namespace detail

#else  // this kiln has no CUDA backend

namespace {
const char* const no_toolkit =
    "no CUDA device: this kiln was built without the CUDA toolkit; rebuild it where CMake finds the toolkit "
    "(find_package(CUDAToolkit)), or compile for the CPU with Backend::llvm";
}

bool cuda_device_available() { return false; }

std::string cuda_status() { return no_toolkit; }

namespace detail {
void* cuda_alloc(size_t, std::source_location loc) { throw RuntimeError(std::string(no_toolkit) + " (" + where(loc) + ")"); }
void cuda_free(void*) noexcept {}
void cuda_to_device(void*, const void*, size_t) { throw RuntimeError(no_toolkit); }
void cuda_to_host(void*, const void*, size_t) { throw RuntimeError(no_toolkit); }
}  // namespace detail

#endif

namespace detail {

void cuda_size_mismatch(size_t device, size_t host, std::source_location loc) {
  throw ShapeError(user_message("a DeviceArray of " + std::to_string(device) +
                                    " elements cannot copy to or from a span of " + std::to_string(host),
                                loc, "make their sizes equal"));
}

}  // namespace detail

}  // namespace kiln

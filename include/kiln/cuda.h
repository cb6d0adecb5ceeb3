// The GPU side of kiln's CUDA backend: is there a device, and arrays that
// live on it.
//
//   if (kiln::cuda_device_available()) {
//     auto scale = kiln::compile(staged_scale, {.backend = kiln::Backend::cuda});
//     kiln::DeviceArray<float> x(std::span<const float>(host));  // copied to the GPU once
//     scale(2.0f, x);          // runs on the GPU, no copies: x stays there
//     scale(0.5f, x);
//     std::vector<float> back = x.to_host();
//   } else {
//     std::cerr << kiln::cuda_status() << "\n";   // "no CUDA device: ..."
//   }
//
// Everything here works without CUDA at build time and without a GPU at
// run time: cuda_device_available() is then false, and making a
// DeviceArray throws kiln::RuntimeError "no CUDA device ...".
#pragma once

#include <kiln/error.h>

#include <cstddef>
#include <cstdint>
#include <source_location>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln {

/// True when this kiln has the CUDA backend and the process can use a CUDA
/// device (the NVIDIA driver loads, cuInit succeeds, there is a GPU).
/// kiln uses device 0 and its primary context.
bool cuda_device_available();

/// One line about the CUDA device: "NVIDIA H200 (sm_90, 132 SMs), CUDA
/// driver 13.0", or "no CUDA device: " and why (no libcuda.so.1, cuInit
/// failed, no GPU, or a kiln built without the CUDA toolkit).
std::string cuda_status();

namespace detail {
void* cuda_alloc(size_t bytes, std::source_location loc);  // zeroed; throws RuntimeError "no CUDA device ..." without one
void cuda_free(void* device) noexcept;
void cuda_to_device(void* device, const void* host, size_t bytes);
void cuda_to_host(void* host, const void* device, size_t bytes);
[[noreturn]] void cuda_size_mismatch(size_t device, size_t host, std::source_location loc);
}  // namespace detail

/// An array in GPU memory (device 0), owned: freed when the DeviceArray
/// goes. Move-only. T is float, double, int32_t or int64_t.
///
/// It converts to std::span<T> and std::span<const T> over the *device*
/// pointer, so it can be passed to a Backend::cuda function wherever that
/// function takes a span; the CUDA backend sees device memory and uses it
/// in place (no copies), and the function's writes stay on the GPU for the
/// next call. Such a span must never be read or written on the host, and
/// only Backend::cuda functions may be given one: the other backends would
/// dereference a device address on the CPU.
///
///   kiln::DeviceArray<double> y(1024);   // 1024 zeros on the GPU
///   saxpy(2.0, x, y);                    // Compiled<void(double, std::span<const double>, std::span<double>)>
///   y.copy_to(host_y);
template <class T>
class DeviceArray {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t>,
                "kiln::DeviceArray<T>: T is float, double, int32_t or int64_t");

 public:
  /// `n` zeros on the device. Throws kiln::RuntimeError, naming this
  /// line, without a device.
  explicit DeviceArray(size_t n, std::source_location loc = std::source_location::current())
      : data_(static_cast<T*>(detail::cuda_alloc(n * sizeof(T), loc))), size_(n) {}
  /// A device copy of `host`. Throws kiln::RuntimeError without a device.
  explicit DeviceArray(std::span<const T> host, std::source_location loc = std::source_location::current())
      : DeviceArray(host.size(), loc) {
    detail::cuda_to_device(data_, host.data(), host.size_bytes());
  }
  DeviceArray(DeviceArray&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      detail::cuda_free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { detail::cuda_free(data_); }

  /// Number of elements.
  size_t size() const { return size_; }
  /// The device address (null for an empty or moved-from array); not for
  /// the host to dereference.
  T* device_data() { return data_; }
  const T* device_data() const { return data_; }

  /// A host copy of the elements.
  std::vector<T> to_host() const {
    std::vector<T> out(size_);
    detail::cuda_to_host(out.data(), data_, size_ * sizeof(T));
    return out;
  }
  /// Copies the elements into `host`, which must have size() elements
  /// (else kiln::ShapeError naming this line).
  void copy_to(std::span<T> host, std::source_location loc = std::source_location::current()) const {
    if (host.size() != size_) detail::cuda_size_mismatch(size_, host.size(), loc);
    detail::cuda_to_host(host.data(), data_, host.size_bytes());
  }
  /// Overwrites the elements with `host`, which must have size() elements
  /// (else kiln::ShapeError naming this line).
  void copy_from(std::span<const T> host, std::source_location loc = std::source_location::current()) {
    if (host.size() != size_) detail::cuda_size_mismatch(size_, host.size(), loc);
    detail::cuda_to_device(data_, host.data(), host.size_bytes());
  }

  /// The device memory as a span, for Backend::cuda functions only (see above).
  operator std::span<T>() { return {data_, size_}; }
  /// The device memory as a read-only span, for Backend::cuda functions only.
  operator std::span<const T>() const { return {data_, size_}; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kiln

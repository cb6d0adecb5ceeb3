// Without a GPU (this project's CI machines): the CUDA parts say there is
// no device and why, and never crash. The toolkit's stub libcuda stands in
// for a driver whose cuInit fails.
#include "backends/cuda/driver.h"

#include "backends/cuda/cuda_support.h"
#include "support.h"

#include <filesystem>
#include <span>
#include <type_traits>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("cuda: without a device, cuda_device_available() is false and cuda_status() says why", "[cuda]") {
  if (!kiln::test::no_device_or_skip("cuda_status without a device")) return;
  const std::string status = kiln::cuda_status();
  CHECK_THAT(status, StartsWith("no CUDA device: "));
  CHECK(status.size() > std::string("no CUDA device: ").size() + 10);
  CHECK(kiln::cuda::driver() == nullptr);
}

TEST_CASE("cuda: making a DeviceArray without a device is a RuntimeError saying what to do", "[cuda]") {
  if (!kiln::test::no_device_or_skip("DeviceArray without a device")) return;
  const std::vector<float> host = {1.0f, 2.0f};
  for (const std::string& msg : {
           kiln::test::error_message<kiln::RuntimeError>([] { kiln::DeviceArray<float> a(16); }),
           kiln::test::error_message<kiln::RuntimeError>([] { kiln::DeviceArray<int64_t> a(0); }),
           kiln::test::error_message<kiln::RuntimeError>([&] { kiln::DeviceArray<float> a{std::span<const float>(host)}; }),
       })
    CHECK_THAT(msg, Contains("no CUDA device") && Contains("DeviceArray") && Contains("Backend::llvm") &&
                        Contains("NVIDIA GPU"));
}

TEST_CASE("cuda: a DeviceArray converts to the spans a compiled function takes, const to read-only only", "[cuda]") {
  STATIC_REQUIRE(std::is_convertible_v<kiln::DeviceArray<float>&, std::span<float>>);
  STATIC_REQUIRE(std::is_convertible_v<kiln::DeviceArray<float>&, std::span<const float>>);
  STATIC_REQUIRE(std::is_convertible_v<const kiln::DeviceArray<double>&, std::span<const double>>);
  STATIC_REQUIRE(!std::is_convertible_v<const kiln::DeviceArray<double>&, std::span<double>>);
  STATIC_REQUIRE(!std::is_copy_constructible_v<kiln::DeviceArray<int32_t>>);
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<kiln::DeviceArray<int64_t>>);
  STATIC_REQUIRE(std::is_invocable_v<kiln::Compiled<void(float, std::span<const float>, std::span<float>)>, float,
                                     const kiln::DeviceArray<float>&, kiln::DeviceArray<float>&>);
}

TEST_CASE("cuda driver: the toolkit's stub libcuda is reported as cuInit failing with CUDA_ERROR_STUB_LIBRARY",
          "[cuda]") {
  if (!std::filesystem::exists(KILN_CUDA_STUB_LIBCUDA)) {
    WARN("SKIPPED: no stub libcuda at " << KILN_CUDA_STUB_LIBCUDA);
    return;
  }
  const kiln::cuda::DriverLoad load = kiln::cuda::load_driver(KILN_CUDA_STUB_LIBCUDA);
  CHECK(load.driver == nullptr);
  CHECK_THAT(load.reason, Contains("cuInit failed with CUDA_ERROR_STUB_LIBRARY (34)") && Contains("stub"));
}

TEST_CASE("cuda driver: a driver library that is not there is reported with the loader's reason", "[cuda]") {
  const kiln::cuda::DriverLoad load = kiln::cuda::load_driver("libkiln-no-such-driver.so.1");
  CHECK(load.driver == nullptr);
  CHECK_THAT(load.reason, Contains("libkiln-no-such-driver.so.1") && Contains("cannot be loaded"));
}

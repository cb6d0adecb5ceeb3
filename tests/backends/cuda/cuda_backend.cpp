// Backend::cuda without a GPU: compile() makes PTX (cached in memory and on
// disk), calls say there is no CUDA device, KILN_DUMP=cuda,ptx and the
// architecture option. (These run the CUDA emitter; gpu.cpp has the tests
// that run code on a device.)
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/driver.h"

#include "backends/cuda/cuda_support.h"
#include "backends/environment.h"
#include "support.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using kiln::test::FreshCache;
using kiln::test::ScopedEnv;
using kiln::test::stderr_of;

const kiln::Options cuda{.backend = kiln::Backend::cuda, .cuda_arch = "sm_90"};

// A function no other test compiles: `salt` makes its IR unique.
auto unique_kernel(int64_t salt) {
  return kiln::stage("unique", {"x"}, [salt](Arr<int64_t> x) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] * 7 + salt; });
  });
}

auto scale() {
  return kiln::stage("scale", {"a", "x"}, [](Rep<float> a, Arr<float> x) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] * a; });
    return a * 2.0f;
  });
}

}  // namespace

TEST_CASE("cuda backend: compile() makes PTX without a device; a call says there is no CUDA device", "[cuda]") {
  REQUIRE(kiln::available(kiln::Backend::cuda));
  auto run = kiln::compile(scale(), {.backend = kiln::Backend::cuda});
  if (!kiln::test::no_device_or_skip("calling Backend::cuda without a device")) return;
  std::vector<float> x = {1.0f, 2.0f};
  const std::string msg = kiln::test::error_message<kiln::RuntimeError>([&] { run(3.0f, x); });
  CHECK_THAT(msg, Contains("no CUDA device") && Contains("@scale") && Contains("Backend::llvm") &&
                      Contains("NVIDIA GPU"));
  CHECK(x == std::vector<float>{1.0f, 2.0f});
}

TEST_CASE("cuda backend: PTX is made once per process and found on disk by another", "[cuda][cache]") {
  FreshCache cache;
  const int64_t salt = 1000 + getpid();
  REQUIRE(kiln::test::in_child([&] {  // compiles and stores
    kiln::compile(unique_kernel(salt), cuda);
    return kiln::cuda::stats().compiles >= 1;
  }));
  REQUIRE(fs::exists(cache.dir / "cuda"));
  CHECK(std::distance(fs::directory_iterator(cache.dir / "cuda"), fs::directory_iterator()) == 1);

  const auto s0 = kiln::cuda::stats();
  kiln::compile(unique_kernel(salt), cuda);
  const auto s1 = kiln::cuda::stats();
  CHECK(s1.disk_hits == s0.disk_hits + 1);
  CHECK(s1.compiles == s0.compiles);
  kiln::compile(unique_kernel(salt), cuda);  // a new staged function with the same IR
  const auto s2 = kiln::cuda::stats();
  CHECK(s2.memory_hits == s1.memory_hits + 1);
  CHECK(s2.compiles == s1.compiles);
  kiln::compile(unique_kernel(salt), {.backend = kiln::Backend::cuda, .cuda_arch = "sm_80"});  // another key
  CHECK(kiln::cuda::stats().compiles == s2.compiles + 1);
}

TEST_CASE("cuda backend: KILN_DISK_CACHE=0 keeps nothing on disk", "[cuda][cache]") {
  FreshCache cache;
  ScopedEnv off("KILN_DISK_CACHE", "0");
  kiln::compile(unique_kernel(3000 + getpid()), cuda);
  CHECK(!fs::exists(cache.dir / "cuda"));
}

TEST_CASE("cuda backend: KILN_DUMP=cuda,ptx prints the CUDA source and the PTX", "[cuda]") {
  ScopedEnv dump("KILN_DUMP", "cuda,ptx");
  const std::string err = stderr_of([] { kiln::compile(unique_kernel(4000 + getpid()), cuda); });
  CHECK_THAT(err, Contains("// ---- CUDA for @unique ----") && Contains("__global__"));
  CHECK_THAT(err, Contains("// ---- PTX for @unique (sm_90) ----") && Contains(".entry"));
}

TEST_CASE("cuda backend: the architecture comes from Options::cuda_arch, else KILN_CUDA_ARCH, else the device, "
          "else sm_90",
          "[cuda]") {
  CHECK(kiln::cuda::target_arch({.cuda_arch = "sm_80"}) == "sm_80");
  {
    ScopedEnv arch("KILN_CUDA_ARCH", "sm_75");
    CHECK(kiln::cuda::target_arch({}) == "sm_75");
    CHECK(kiln::cuda::target_arch({.cuda_arch = "sm_80"}) == "sm_80");
    ScopedEnv dump("KILN_DUMP", "ptx");
    const std::string err = stderr_of([] {
      kiln::compile(unique_kernel(5000 + getpid()), {.backend = kiln::Backend::cuda});
    });
    CHECK_THAT(err, Contains("(sm_75)") && Contains(".target sm_75"));
  }
  ScopedEnv unset("KILN_CUDA_ARCH", "");
  if (kiln::cuda_device_available()) CHECK(kiln::cuda::target_arch({}) == kiln::cuda::driver()->arch);
  else CHECK(kiln::cuda::target_arch({}) == "sm_90");
}

TEST_CASE("cuda backend: a malformed architecture is a CompileError before anything is compiled", "[cuda]") {
  const std::string msg = kiln::test::error_message<kiln::CompileError>(
      [] { kiln::compile(scale(), {.backend = kiln::Backend::cuda, .cuda_arch = "hopper"}); });
  CHECK_THAT(msg, Contains("\"hopper\" is not a CUDA GPU architecture") && Contains("sm_90"));
}

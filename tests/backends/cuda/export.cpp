// Exporting for the GPU: Target::cuda is the emitter's source with a host
// launcher, which nvcc compiles; Target::ptx is NVRTC's PTX for
// Options::cuda_arch (sm_90 by default, whatever the machine), which ptxas
// accepts.
#include "backends/cuda/cuda_support.h"
#include "backends/environment.h"
#include "support.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;

namespace {

auto scale() {
  return kiln::stage("scale", {"a", "x"}, [](Rep<float> a, Arr<float> x) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] * a; });
    return a * 2.0f;
  });
}

}  // namespace

TEST_CASE("export: Target::cuda is CUDA source with a host launcher that nvcc compiles", "[cuda][export]") {
  const std::string cu = kiln::source(scale(), kiln::Target::cuda);
  CHECK_THAT(cu, Contains("__global__") && Contains("scale"));
  if (!std::filesystem::exists(KILN_NVCC)) {
    WARN("SKIPPED: no nvcc at " << KILN_NVCC);
    return;
  }
  const auto dir = std::filesystem::temp_directory_path();
  const std::filesystem::path src = dir / ("kiln-export-" + std::to_string(getpid()) + ".cu");
  const std::string obj = src.string() + ".o";
  kiln::export_source(scale(), src, kiln::Target::cuda);
  const kiln::cxx::CommandResult r = kiln::cxx::run_command({KILN_NVCC, "-arch=sm_90", "-c", src.string(), "-o", obj});
  INFO(r.output);
  CHECK(r.status == 0);
  std::filesystem::remove(src);
  std::filesystem::remove(obj);
}

TEST_CASE("export: Target::ptx is PTX for Options::cuda_arch, else sm_90 whatever the machine, which ptxas accepts",
          "[cuda][export]") {
  kiln::test::ScopedEnv arch("KILN_CUDA_ARCH", "sm_75");  // Backend::cuda's default, not export's
  const std::string ptx = kiln::source(scale(), kiln::Target::ptx);
  CHECK_THAT(ptx, Contains(".target sm_90") && Contains(".entry"));
  CHECK_THAT(kiln::source(scale(), kiln::Target::ptx, {.cuda_arch = "sm_80"}), Contains(".target sm_80"));
  if (kiln::test::ptxas().empty()) {
    WARN("SKIPPED: no ptxas at " << KILN_PTXAS);
    return;
  }
  const kiln::cxx::CommandResult r = kiln::test::run_ptxas(ptx, "sm_90");
  INFO(r.output);
  CHECK(r.status == 0);
}

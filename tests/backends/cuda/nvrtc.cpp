// NVRTC loaded at run time: PTX and CUBIN from a hand-written kernel, PTX
// that ptxas accepts, kiln's float semantics in the flags, and failures
// that carry NVRTC's log and the kept source.
#include "backends/cuda/nvrtc.h"

#include "backends/cuda/cuda_support.h"
#include "support.h"

#include <filesystem>
#include <fstream>
#include <iterator>

using Catch::Matchers::Contains;
using kiln::cuda::compile_cuda;

namespace {

const std::string saxpy = R"(
extern "C" __global__ void saxpy(float a, const float* x, long long x_size, float* y, long long y_size) {
  long long stride = (long long)blockDim.x * gridDim.x;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < y_size; i += stride)
    y[i] = a * x[i] + y[i];
}
)";

// The path a CompileError names after "kept at " ("" when none).
std::string kept_path(const std::string& msg) {
  const size_t at = msg.find("kept at ");
  if (at == std::string::npos) return "";
  return msg.substr(at + 8, msg.find(":\n", at) - at - 8);
}

void require_nvrtc() {
  std::string why;
  const bool ok = kiln::cuda::nvrtc_available(&why);
  INFO(why);
  REQUIRE(ok);
}

}  // namespace

TEST_CASE("nvrtc: a hand-written kernel compiles to PTX for compute_90, and to an sm_90 CUBIN when asked", "[cuda]") {
  require_nvrtc();
  const kiln::cuda::NvrtcOutput ptx = compile_cuda(saxpy, "saxpy", {.arch = "sm_90"});
  CHECK_THAT(ptx.ptx, Contains(".target sm_90") && Contains(".entry saxpy"));
  CHECK(ptx.cubin.empty());
  CHECK(ptx.seconds > 0);

  const kiln::cuda::NvrtcOutput both = compile_cuda(saxpy, "saxpy", {.arch = "sm_90", .cubin = true});
  CHECK_THAT(both.ptx, Contains(".entry saxpy"));
  REQUIRE(both.cubin.size() > 4);
  CHECK(both.cubin.substr(0, 4) == "\x7f" "ELF");
  CHECK_THAT(kiln::cuda::nvrtc_version(), Contains("."));
}

TEST_CASE("nvrtc: ptxas -arch=sm_90 accepts the PTX", "[cuda]") {
  require_nvrtc();
  if (kiln::test::ptxas().empty()) {
    WARN("SKIPPED: no ptxas at " << KILN_PTXAS);
    return;
  }
  const std::string ptx = compile_cuda(saxpy, "saxpy", {.arch = "sm_90"}).ptx;
  const kiln::cxx::CommandResult r = kiln::test::run_ptxas(ptx, "sm_90");
  INFO(r.output);
  CHECK(r.started);
  CHECK(r.status == 0);
}

TEST_CASE("nvrtc: a*b+c is two roundings (no FMA) unless fast_math", "[cuda]") {
  require_nvrtc();
  const std::string exact = compile_cuda(saxpy, "saxpy", {.arch = "sm_90"}).ptx;
  CHECK_THAT(exact, Contains("mul.rn.f32") && Contains("add.rn.f32"));
  CHECK_THAT(exact, !Contains("fma"));
  const std::string fast = compile_cuda(saxpy, "saxpy", {.arch = "sm_90", .fast_math = true}).ptx;
  CHECK_THAT(fast, Contains("fma"));
}

TEST_CASE("nvrtc: a source that does not compile is a CompileError with NVRTC's log and the kept source", "[cuda]") {
  require_nvrtc();
  const std::string bad = "extern \"C\" __global__ void broken(float* x) { x[0] = undeclared_thing; }\n";
  const std::string msg = kiln::test::error_message<kiln::CompileError>([&] { compile_cuda(bad, "@broken", {}); });
  CHECK_THAT(msg, Contains("NVRTC failed") && Contains("@broken") && Contains("undeclared_thing") &&
                      Contains("--fmad=false") && Contains("report a kiln bug"));
  const std::string path = kept_path(msg);
  INFO(path);
  REQUIRE(!path.empty());
  std::ifstream in(path);
  REQUIRE(in);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == bad);
  std::filesystem::remove(path);
}

TEST_CASE("nvrtc: architecture names are checked: sm_XY, with an optional a or f", "[cuda]") {
  CHECK(kiln::cuda::virtual_arch("sm_90") == "compute_90");
  CHECK(kiln::cuda::virtual_arch("sm_90a") == "compute_90a");
  CHECK(kiln::cuda::virtual_arch("sm_100") == "compute_100");
  for (const char* wrong : {"90", "compute_90", "sm90", "sm_9", "sm_90x", ""}) {
    const std::string msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::cuda::virtual_arch(wrong); });
    CHECK_THAT(msg, Contains("not a CUDA GPU architecture") && Contains("sm_90") && Contains("KILN_CUDA_ARCH"));
  }
  require_nvrtc();
  // Well-formed, but no GPU has it: NVRTC's own complaint, with the options.
  const std::string msg =
      kiln::test::error_message<kiln::CompileError>([&] { compile_cuda(saxpy, "saxpy", {.arch = "sm_11"}); });
  CHECK_THAT(msg, Contains("NVRTC failed") && Contains("compute_11"));
  std::filesystem::remove(kept_path(msg));
}

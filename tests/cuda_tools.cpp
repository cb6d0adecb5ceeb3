#include "cuda_tools.h"

#include "codegen/emit/cuda.h"

#include <kiln/error.h>

#if KILN_HAVE_CUDA
#include "backends/cuda/nvrtc.h"
#endif

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace kiln::test {
namespace {

#if KILN_HAVE_CUDA
// A file of its own per check (tests run in parallel processes).
std::filesystem::path scratch(const std::string& ext) {
  static std::atomic<int> n{0};
  return std::filesystem::temp_directory_path() /
         ("kiln-cuda-check-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ext);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
#endif

}  // namespace

bool cuda_tools(std::string* why) {
#if KILN_HAVE_CUDA
  std::string reason;
  if (!cuda::nvrtc_available(&reason)) {
    if (why) *why = reason;
    return false;
  }
  if (!std::filesystem::exists(KILN_PTXAS)) {
    if (why) *why = "ptxas is not at " + std::string(KILN_PTXAS);
    return false;
  }
  return true;
#else
  if (why) *why = "kiln was built without the CUDA toolkit (CMake found no CUDAToolkit)";
  return false;
#endif
}

CudaCheck check_cuda(const ir::Module& m, bool compile) {
  CudaCheck out;
#if KILN_HAVE_CUDA
  emit::CudaModule cm;
  try {
    cm = emit::emit_cuda(m);
  } catch (const CompileError& e) {
    out.refused = true;
    return out;
  }
  for (const emit::CudaLaunch& l : cm.launches) out.grid = out.grid || l.grid;
  if (!compile) return out;
  const std::string name = m.functions.at(0).name;
  std::string ptx;
  try {
    ptx = cuda::compile_cuda(cm.source, name, {.arch = "sm_90"}).ptx;
  } catch (const Error& e) {
    out.failure = std::string("NVRTC: ") + e.what();
    return out;
  }
  const std::filesystem::path in = scratch(".ptx"), log = scratch(".log");
  std::ofstream(in) << ptx;
  const std::string cmd = std::string(KILN_PTXAS) + " -arch=sm_90 -o /dev/null " + in.string() + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    const std::filesystem::path kept = scratch(".cu");
    std::ofstream(kept) << cm.source;
    out.failure = "ptxas -arch=sm_90 rejected the PTX of @" + name + " (exit " + std::to_string(rc) + "):\n" +
                  slurp(log) + "PTX kept in " + in.string() + ", source in " + kept.string();
    std::filesystem::remove(log);
    return out;
  }
  std::filesystem::remove(in);
  std::filesystem::remove(log);
#else
  (void)m;
  (void)compile;
#endif
  return out;
}

}  // namespace kiln::test

// Helpers for Backend::cuda's tests: ptxas on a PTX text, and the skips of
// tests that need a GPU or need there to be none (Catch2 v2 has no SKIP:
// a skipped test WARNs why and passes nothing).
#pragma once

#include <kiln/cuda.h>

#include "backends/cxx/toolchain.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace kiln::test {

/// The toolkit's ptxas, or "" when it is not there.
inline std::string ptxas() {
  const std::string path = KILN_PTXAS;
  return std::filesystem::exists(path) ? path : "";
}

/// Runs ptxas on `ptx` for `arch`: its exit status and output.
inline cxx::CommandResult run_ptxas(const std::string& ptx, const std::string& arch) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string stem = "kiln-ptxas-" + std::to_string(getpid());
  const std::filesystem::path in = dir / (stem + ".ptx"), out = dir / (stem + ".cubin");
  std::ofstream(in) << ptx;
  cxx::CommandResult r = cxx::run_command({ptxas(), "-arch=" + arch, in.string(), "-o", out.string()});
  std::filesystem::remove(in);
  std::filesystem::remove(out);
  return r;
}

/// True when a CUDA device is there; else WARNs that `test` is skipped.
inline bool device_or_skip(const char* test) {
  if (kiln::cuda_device_available()) return true;
  WARN("SKIPPED (needs a GPU): " << test << " -- " << kiln::cuda_status());
  return false;
}

/// True when no CUDA device is there; else WARNs that `test` is skipped.
inline bool no_device_or_skip(const char* test) {
  if (!kiln::cuda_device_available()) return true;
  WARN("SKIPPED (needs a machine without a GPU): " << test << " -- " << kiln::cuda_status());
  return false;
}

}  // namespace kiln::test

// NVRTC through dlopen. The library is looked for once per process (a
// function-local static, so concurrent first uses wait for one load); the
// function-pointer types come from <nvrtc.h>, which is only read for its
// declarations: nothing here links against libnvrtc.
#include "nvrtc.h"

#include <kiln/error.h>

#include "../cache/hash.h"

#include <nvrtc.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <system_error>
#include <vector>

#include <dlfcn.h>
#include <unistd.h>

#ifndef KILN_CUDA_LIBRARY_DIR
#define KILN_CUDA_LIBRARY_DIR ""
#endif

namespace kiln::cuda {
namespace {

namespace fs = std::filesystem;

struct Nvrtc {
  void* handle = nullptr;
  std::string missing;  // why it did not load, with what to do; empty when it did
  int major = 0, minor = 0;
  decltype(&::nvrtcVersion) version = nullptr;
  decltype(&::nvrtcGetErrorString) error_string = nullptr;
  decltype(&::nvrtcCreateProgram) create = nullptr;
  decltype(&::nvrtcDestroyProgram) destroy = nullptr;
  decltype(&::nvrtcCompileProgram) compile = nullptr;
  decltype(&::nvrtcGetProgramLogSize) log_size = nullptr;
  decltype(&::nvrtcGetProgramLog) log = nullptr;
  decltype(&::nvrtcGetPTXSize) ptx_size = nullptr;
  decltype(&::nvrtcGetPTX) ptx = nullptr;
  decltype(&::nvrtcGetCUBINSize) cubin_size = nullptr;
  decltype(&::nvrtcGetCUBIN) cubin = nullptr;
};

// The names a CUDA 12 or 13 toolkit installs, first as the dynamic loader
// finds them (LD_LIBRARY_PATH, ldconfig), then in the toolkit kiln was
// built against.
std::vector<std::string> candidates() {
  std::vector<std::string> names = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"};
  const std::string dir = KILN_CUDA_LIBRARY_DIR;
  if (!dir.empty())
    for (size_t i = 0, n = names.size(); i < n; ++i) names.push_back(dir + "/" + names[i]);
  return names;
}

template <class F>
bool resolve(void* handle, const char* symbol, F& f, std::string& missing) {
  f = reinterpret_cast<F>(dlsym(handle, symbol));
  if (!f && missing.empty()) missing = symbol;
  return f != nullptr;
}

Nvrtc load() {
  Nvrtc n;
  std::string tried;
  for (const std::string& name : candidates()) {
    n.handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (n.handle) break;
    tried += (tried.empty() ? "" : ", ") + name;
  }
  if (!n.handle) {
    n.missing = "the CUDA backend needs NVRTC, the CUDA toolkit's runtime compiler, and found none (looked for " + tried +
                "): install the CUDA toolkit 12 or 13 and put its lib64 directory on LD_LIBRARY_PATH, or use "
                "Backend::llvm";
    return n;
  }
  std::string symbol;
  resolve(n.handle, "nvrtcVersion", n.version, symbol);
  resolve(n.handle, "nvrtcGetErrorString", n.error_string, symbol);
  resolve(n.handle, "nvrtcCreateProgram", n.create, symbol);
  resolve(n.handle, "nvrtcDestroyProgram", n.destroy, symbol);
  resolve(n.handle, "nvrtcCompileProgram", n.compile, symbol);
  resolve(n.handle, "nvrtcGetProgramLogSize", n.log_size, symbol);
  resolve(n.handle, "nvrtcGetProgramLog", n.log, symbol);
  resolve(n.handle, "nvrtcGetPTXSize", n.ptx_size, symbol);
  resolve(n.handle, "nvrtcGetPTX", n.ptx, symbol);
  resolve(n.handle, "nvrtcGetCUBINSize", n.cubin_size, symbol);
  resolve(n.handle, "nvrtcGetCUBIN", n.cubin, symbol);
  if (!symbol.empty()) {
    n.missing = "the NVRTC library that was found lacks " + symbol +
                ": install the CUDA toolkit 12 or 13 (nvrtcGetCUBIN needs 11.1 or later) first on LD_LIBRARY_PATH";
    return n;
  }
  n.version(&n.major, &n.minor);
  return n;
}

const Nvrtc& nvrtc() {
  static const Nvrtc n = load();
  return n;
}

// Frees the program on every path out of compile_cuda.
struct Program {
  const Nvrtc& api;
  nvrtcProgram p = nullptr;
  ~Program() {
    if (p) api.destroy(&p);
  }
};

std::string file_stem(const std::string& name) {
  std::string out;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') out += c;
  return out.empty() ? "kernel" : out;
}

// The source of a failed compile, kept for the user to read or report:
// <tmp>/kiln-cuda-<uid>/<name>-<digest>.cu. Returns a phrase for the
// message either way.
std::string keep_source(const std::string& source, const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("kiln-cuda-" + std::to_string(getuid()));
  std::error_code ec;
  if (fs::create_directories(dir, ec)) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  const std::string digest = cache::Hasher().add_bytes(source).finish().hex().substr(0, 16);
  const fs::path file = dir / (file_stem(name) + "-" + digest + ".cu");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << source;
  if (!out.flush()) return "the source could not be kept in " + dir.string() + " (set TMPDIR to a writable directory)";
  return "source kept at " + file.string();
}

std::string program_log(const Nvrtc& api, nvrtcProgram p) {
  size_t size = 0;
  if (api.log_size(p, &size) != NVRTC_SUCCESS || size == 0) return "";
  std::string log(size, '\0');
  if (api.log(p, log.data()) != NVRTC_SUCCESS) return "";
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

// A PTX or CUBIN image: size, then bytes (the PTX size counts its NUL).
template <class Size, class Get>
std::string image(nvrtcProgram p, Size get_size, Get get, bool text) {
  size_t size = 0;
  if (get_size(p, &size) != NVRTC_SUCCESS) return "";
  std::string out(size, '\0');
  if (get(p, out.data()) != NVRTC_SUCCESS) return "";
  if (text)
    while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

}  // namespace

std::string virtual_arch(const std::string& arch) {
  static const std::regex real("sm_[0-9]{2,3}[af]?");
  if (!std::regex_match(arch, real))
    throw CompileError("\"" + arch + "\" is not a CUDA GPU architecture: use the sm_XY form, e.g. sm_90 for Hopper "
                       "(Options::cuda_arch or KILN_CUDA_ARCH)");
  return "compute_" + arch.substr(3);
}

bool nvrtc_available(std::string* why) {
  const Nvrtc& api = nvrtc();
  if (why) *why = api.missing;
  return api.missing.empty();
}

std::string nvrtc_version() {
  const Nvrtc& api = nvrtc();
  if (!api.missing.empty()) return "";
  return std::to_string(api.major) + "." + std::to_string(api.minor);
}

NvrtcOutput compile_cuda(const std::string& source, const std::string& name, const NvrtcOptions& opts) {
  const Nvrtc& api = nvrtc();
  if (!api.missing.empty()) throw CompileError(api.missing);
  // -arch=sm_XY yields PTX for compute_XY and the CUBIN in one run; without
  // a CUBIN, only the virtual architecture is named, so NVRTC skips ptxas.
  const std::string virt = virtual_arch(opts.arch);  // checks the name either way
  const std::vector<std::string> options = {
      opts.cubin ? "-arch=" + opts.arch : "--gpu-architecture=" + virt,
      opts.fast_math ? "--use_fast_math" : "--fmad=false",
      "--std=c++17",
  };
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());

  const auto start = std::chrono::steady_clock::now();
  Program prog{api};
  const std::string file = file_stem(name) + ".cu";
  nvrtcResult r = api.create(&prog.p, source.c_str(), file.c_str(), 0, nullptr, nullptr);
  if (r != NVRTC_SUCCESS)
    throw CompileError(std::string("NVRTC could not create a program for ") + name + ": " + api.error_string(r));
  r = api.compile(prog.p, static_cast<int>(argv.size()), argv.data());
  NvrtcOutput out;
  out.log = program_log(api, prog.p);
  if (r != NVRTC_SUCCESS) {
    std::string flags;
    for (const std::string& o : options) flags += " " + o;
    throw CompileError("NVRTC failed (" + std::string(api.error_string(r)) + ", options" + flags + ") on the CUDA source for " +
                       name + ", " + keep_source(source, name) + ":\n" + out.log +
                       "\ncheck Options::cuda_arch / KILN_CUDA_ARCH, or report a kiln bug with that file");
  }
  out.ptx = image(prog.p, api.ptx_size, api.ptx, true);
  if (opts.cubin) out.cubin = image(prog.p, api.cubin_size, api.cubin, false);
  if (out.ptx.empty() || (opts.cubin && out.cubin.empty()))
    throw CompileError("NVRTC compiled " + name + " but returned no " + (out.ptx.empty() ? "PTX" : "CUBIN") +
                       ": check that the CUDA toolkit's NVRTC is complete (libnvrtc-builtins beside it)");
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace kiln::cuda

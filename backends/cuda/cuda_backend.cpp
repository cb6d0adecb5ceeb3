// Backend::cuda: emit, compile to PTX (or find it in the cache), and hand
// back a kernel that runs the program on the device when called. PTX is
// made without a driver, so compile() works and fails the same on machines
// without a GPU; only calls need one.
#include "cuda_backend.h"

#include <kiln/error.h>

#include "../../codegen/emit/cuda.h"
#include "../../codegen/ir/dump.h"
#include "../cache/disk_cache.h"
#include "../cache/once_map.h"
#include "driver.h"
#include "nvrtc.h"
#include "program.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

namespace kiln::cuda {
namespace {

class CudaKernel final : public detail::Kernel {
 public:
  CudaKernel(std::shared_ptr<const Program> program, size_t nparams, size_t nresults)
      : program_(std::move(program)), nparams_(nparams), nresults_(nresults) {}

  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    detail::call_generated("cuda", nparams_, nresults_, nargs, results, nresults,
                           [&](detail::Slot* out) { program_->run(args, out); });
  }

 private:
  std::shared_ptr<const Program> program_;
  size_t nparams_, nresults_;
};

// What makes PTX this PTX: the program (its IR, and the emitted source,
// which also changes when the emitter does), the options NVRTC reads, the
// architecture and NVRTC. Bump "format" when what is stored changes.
cache::Key key_of(const ir::Module& m, const std::string& source, const std::string& arch, bool fast_math) {
  return {{{"ir", cache::hash_module(m).hex()},
           {"backend", "cuda"},
           {"source", cache::Hasher().add_bytes(source).finish().hex()},
           {"options", std::string("fast_math=") + (fast_math ? "1" : "0")},
           {"arch", arch},
           {"nvrtc", nvrtc_version()},
           {"format", "kiln-cuda-ptx-1"}}};
}

bool explain() {
  const char* v = std::getenv("KILN_EXPLAIN_CACHE");
  return v && std::string(v) != "0";
}

// Programs of this process by key: one NVRTC run per key, however many
// threads ask at once; their modules stay loaded for the process. Never
// destroyed, so no module is unloaded while the driver shuts down at exit.
cache::OnceMap<Program>& programs() {
  static cache::OnceMap<Program>* const map = new cache::OnceMap<Program>;
  return *map;
}

std::atomic<size_t> lookups{0}, compiles{0}, disk_hits{0};

std::vector<ir::Type> param_types(const ir::Function& entry) {
  std::vector<ir::Type> out;
  for (ir::ValueId p : entry.params()) out.push_back(entry.type(p));
  return out;
}

}  // namespace

std::string target_arch(const Options& opts) {
  if (!opts.cuda_arch.empty()) return opts.cuda_arch;
  if (const char* env = std::getenv("KILN_CUDA_ARCH"); env && *env) return env;
  if (const Driver* d = driver()) return d->arch;
  return "sm_90";
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts) {
  const ir::Function& entry = m.functions.at(0);
  const std::string arch = target_arch(opts);
  (void)virtual_arch(arch);  // a bad name is the user's error, before any work
  emit::CudaModule emitted = emit::emit_cuda(m);
  if (emitted.results.size() != entry.result_types.size())
    throw InternalError("emit_cuda gave @" + entry.name + " " + std::to_string(emitted.results.size()) +
                        " results for " + std::to_string(entry.result_types.size()));
  if (ir::dump_requested("cuda")) std::cerr << "// ---- CUDA for @" << entry.name << " ----\n" << emitted.source;

  const cache::Key key = key_of(m, emitted.source, arch, opts.fast_math);
  ++lookups;
  std::shared_ptr<Program> program = programs().get_or_make(key.digest().hex(), [&]() -> std::shared_ptr<Program> {
    std::optional<cache::DiskCache> disk;
    if (cache::disk_cache_enabled()) disk.emplace(cache::default_cache_dir() / "cuda", cache::default_max_bytes());
    std::optional<std::string> ptx;
    if (disk) {
      ptx = disk->load(key);
      if (ptx) ++disk_hits;
      else if (explain()) std::cerr << "kiln: cache miss for @" << entry.name << ": " << disk->explain_miss(key) << "\n";
    }
    if (!ptx) {
      ++compiles;
      ptx = compile_cuda(emitted.source, "@" + entry.name, {.arch = arch, .fast_math = opts.fast_math}).ptx;
      if (disk) disk->store(key, *ptx);
    }
    return std::make_shared<Program>(std::move(emitted), std::move(*ptx), entry.name, opts.fast_math, param_types(entry));
  });
  if (ir::dump_requested("ptx"))
    std::cerr << "// ---- PTX for @" << entry.name << " (" << arch << ") ----\n" << program->ptx();
  return std::make_shared<CudaKernel>(std::move(program), entry.params().size(), entry.result_types.size());
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m) { return make_kernel(std::move(m), Options{}); }

Stats stats() {
  const size_t made = compiles + disk_hits;
  return {compiles, lookups - made, disk_hits};
}

}  // namespace kiln::cuda

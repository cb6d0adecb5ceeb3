// Backend::llvm: lower, optimise, compile, load, call, with the kernel
// cache in front: objects are found in this process (OnceMap) or on disk
// (DiskCache under <cache dir>/llvm) before LLVM runs. Traps of JIT code
// longjmp back to run_trapping here (JIT frames carry no unwind tables we
// rely on) and become kiln::RuntimeError.
#include "llvm_backend.h"

#include <kiln/error.h>

#include "../cache/disk_cache.h"
#include "../cache/once_map.h"
#include "../runtime/trap.h"
#include "jit.h"
#include "lower.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

namespace kiln::llvm_backend {
namespace {

class LlvmKernel final : public detail::Kernel {
 public:
  LlvmKernel(std::shared_ptr<LoadedObject> object, size_t nparams, size_t nresults)
      : object_(std::move(object)), nparams_(nparams), nresults_(nresults) {}

  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    if (nargs != nparams_)
      throw InternalError("llvm kernel takes " + std::to_string(nparams_) + " arguments, got " + std::to_string(nargs));
    // kiln_call writes every result: a small array avoids an allocation per call.
    std::array<detail::Slot, 8> small;
    std::vector<detail::Slot> large(nresults_ > small.size() ? nresults_ : 0);
    struct Call {
      LoadedObject::Entry entry;
      const detail::Slot* args;
      detail::Slot* results;
    } c{object_->entry(), args, large.empty() ? small.data() : large.data()};
    if (const char* trap = runtime::run_trapping([](void* p) {
          auto* c = static_cast<Call*>(p);
          c->entry(c->args, c->results);
        }, &c))
      throw RuntimeError(trap);
    for (size_t i = 0; i < nresults && i < nresults_; ++i) results[i] = c.results[i];
  }

 private:
  std::shared_ptr<LoadedObject> object_;
  size_t nparams_, nresults_;
};

// What makes an object this one: the program, the options lowering reads,
// LLVM and the CPU. `ir` comes first: explain_miss prefers entries that agree
// on earlier parts.
cache::Key key_of(const ir::Module& m, const Options& opts) {
  return {{{"ir", cache::hash_module(m).hex()},
           {"backend", "llvm"},
           {"options", std::string("fast_math=") + (opts.fast_math ? "1" : "0") +
                           ",assume_no_alias=" + (opts.assume_no_alias ? "1" : "0")},
           {"llvm", llvm_version()},
           {"cpu", host_cpu()},
           {"format", "kiln-llvm-object-1"}}};
}

bool disk_cache_enabled() {
  const char* v = std::getenv("KILN_DISK_CACHE");
  return !(v && (std::string(v) == "0" || std::string(v) == "off"));
}

bool explain() {
  const char* v = std::getenv("KILN_EXPLAIN_CACHE");
  return v && std::string(v) != "0";
}

// Objects linked into this process, by key: one compile per key, however
// many threads ask at once.
cache::OnceMap<LoadedObject>& loaded() {
  static cache::OnceMap<LoadedObject> objects;
  return objects;
}

std::atomic<size_t> lookups{0}, compiles{0}, disk_hits{0};

std::shared_ptr<LoadedObject> object_for(const ir::Module& m, const Options& opts) {
  const cache::Key key = key_of(m, opts);
  const std::string& name = m.functions.at(0).name;
  ++lookups;
  return loaded().get_or_make(key.digest().hex(), [&]() -> std::shared_ptr<LoadedObject> {
    std::optional<cache::DiskCache> disk;
    if (disk_cache_enabled()) disk.emplace(cache::default_cache_dir() / "llvm", cache::default_max_bytes());
    if (disk) {
      if (std::optional<std::string> object = disk->load(key)) {
        try {
          auto loaded = load_object(*object, name);
          ++disk_hits;
          return loaded;
        } catch (const CompileError&) {
          std::filesystem::remove(disk->path(key));  // a foreign object: rebuild it
        }
      } else if (explain()) {
        std::cerr << "kiln: cache miss for @" << name << ": " << disk->explain_miss(key) << "\n";
      }
    }
    ++compiles;
    llvm::LLVMContext ctx;
    std::string object =
        compile_to_object(lower(m, ctx, {.fast_math = opts.fast_math, .no_alias = opts.assume_no_alias}), name);
    if (disk) disk->store(key, object);
    return load_object(object, name);
  });
}

}  // namespace

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts) {
  const ir::Function& entry = m.functions.at(0);
  return std::make_shared<LlvmKernel>(object_for(m, opts), entry.params().size(), entry.result_types.size());
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m) { return make_kernel(std::move(m), Options{}); }

Stats stats() {
  const size_t made = compiles + disk_hits;
  return {compiles, lookups - made, disk_hits};
}

}  // namespace kiln::llvm_backend

// Backend::llvm: lower, optimise, compile, load, call, with the kernel
// cache in front: objects are found in this process (OnceMap) or on disk
// (DiskCache under <cache dir>/llvm) before LLVM runs. Traps of JIT code
// longjmp back to run_trapping here (JIT frames carry no unwind tables we
// rely on) and become kiln::RuntimeError.
#include "llvm_backend.h"

#include <kiln/error.h>

#include "../cache/disk_cache.h"
#include "../cache/once_map.h"
#include "../runtime/gemm.h"
#include "../runtime/trap.h"
#include "jit.h"
#include "lower.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <vector>

namespace kiln::llvm_backend {
namespace {

// The entry's buffer parameters, as the call-time overlap check needs them.
struct BufferParam {
  size_t slot;
  size_t elem_bytes;
  bool writable;
};

std::vector<BufferParam> buffer_params(const ir::Function& entry) {
  std::vector<BufferParam> out;
  for (size_t i = 0; i < entry.params().size(); ++i) {
    const ir::Type t = entry.type(entry.params()[i]);
    if (t.kind == ir::TypeKind::buf) out.push_back({i, ir::byte_width(t.elem), t.writable});
  }
  return out;
}

// Whether a written buffer of this call shares a byte with another buffer
// (buffers that are only read may overlap freely).
bool written_buffers_overlap(const std::vector<BufferParam>& bufs, const detail::Slot* args) {
  auto range = [&](const BufferParam& b) {
    const auto* p = static_cast<const char*>(args[b.slot].p);
    return std::pair{p, p + static_cast<size_t>(args[b.slot].size) * b.elem_bytes};
  };
  for (size_t i = 0; i < bufs.size(); ++i)
    for (size_t j = i + 1; j < bufs.size(); ++j) {
      if (!bufs[i].writable && !bufs[j].writable) continue;
      const auto [a0, a1] = range(bufs[i]);
      const auto [b0, b1] = range(bufs[j]);
      if (a0 != a1 && b0 != b1 && std::less<>{}(a0, b1) && std::less<>{}(b0, a1)) return true;
    }
  return false;
}

std::shared_ptr<LoadedObject> object_for(const ir::Module& m, const Options& opts, bool no_alias);

// The entry's buffers are compiled `noalias`, so loops vectorise without
// run-time overlap checks and keep values in registers across stores. Every
// call checks that promise on the spans it is given: a call whose written
// buffer overlaps another runs a variant compiled without it, made the first
// time such a call comes (Options::assume_no_alias skips the check).
class LlvmKernel final : public detail::Kernel {
 public:
  LlvmKernel(ir::Module m, const Options& opts)
      : module_(std::move(m)),
        opts_(opts),
        buffers_(buffer_params(module_.functions.at(0))),
        nparams_(module_.functions.at(0).params().size()),
        nresults_(module_.functions.at(0).result_types.size()),
        unaliased_(object_for(module_, opts_, true)) {
    // Without two buffers, one of them written, nothing can overlap: no
    // check, and no module kept for a variant that cannot be needed.
    const bool written = std::any_of(buffers_.begin(), buffers_.end(), [](const BufferParam& b) { return b.writable; });
    if (opts_.assume_no_alias || buffers_.size() < 2 || !written) {
      buffers_.clear();
      module_ = {};
    }
  }

  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    detail::call_generated("llvm", nparams_, nresults_, nargs, results, nresults, [&](detail::Slot* out) {
      const LoadedObject* object = unaliased_.get();
      if (written_buffers_overlap(buffers_, args)) object = &aliased();  // false when buffers_ is empty
      struct Call {
        LoadedObject::Entry entry;
        const detail::Slot* args;
        detail::Slot* results;
      } c{object->entry(), args, out};
      if (const char* trap = runtime::run_trapping([](void* p) {
            auto* c = static_cast<Call*>(p);
            c->entry(c->args, c->results);
          }, &c))
        throw RuntimeError(trap);
    });
  }

 private:
  const LoadedObject& aliased() const {
    std::call_once(aliased_once_, [&] { aliased_ = object_for(module_, opts_, false); });
    return *aliased_;
  }

  ir::Module module_;
  Options opts_;
  std::vector<BufferParam> buffers_;
  size_t nparams_, nresults_;
  std::shared_ptr<LoadedObject> unaliased_;
  mutable std::once_flag aliased_once_;
  mutable std::shared_ptr<LoadedObject> aliased_;
};

// What makes an object this one: the program, the options lowering reads,
// LLVM and the CPU, and kiln's lowering: `lowering` is a hash of the
// sources of this backend and of the runtime headers, made by CMake, so an
// edit there never reuses an old object (a hand-bumped format number was
// forgotten once). `format` is the object format (3: kiln_rt_gemm_* take
// transpose flags). `ir` comes first: explain_miss prefers entries that
// agree on earlier parts.
cache::Key key_of(const ir::Module& m, const Options& opts, bool no_alias) {
  return {{{"ir", cache::hash_module(m).hex()},
           {"backend", "llvm"},
           {"options", std::string("fast_math=") + (opts.fast_math ? "1" : "0") +
                           ",no_alias=" + (no_alias ? "1" : "0") +
                           (opts.fast_math ? ",vector_math=" + vector_math_library() +
                                                 ",gemm=" + runtime::gemm_library()
                                           : "")},
           {"llvm", llvm_version()},
           {"cpu", host_cpu()},
           {"lowering", KILN_LLVM_LOWERING_HASH},
           {"format", "kiln-llvm-object-3"}}};
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

std::shared_ptr<LoadedObject> object_for(const ir::Module& m, const Options& opts, bool no_alias) {
  const cache::Key key = key_of(m, opts, no_alias);
  const std::string& name = m.functions.at(0).name;
  ++lookups;
  return loaded().get_or_make(key.digest().hex(), [&]() -> std::shared_ptr<LoadedObject> {
    std::optional<cache::DiskCache> disk;
    if (cache::disk_cache_enabled()) disk.emplace(cache::default_cache_dir() / "llvm", cache::default_max_bytes());
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
        compile_to_object(lower(m, ctx, {.fast_math = opts.fast_math, .no_alias = no_alias}), name, opts.fast_math);
    if (disk) disk->store(key, object);
    return load_object(object, name);
  });
}

}  // namespace

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts) {
  return std::make_shared<LlvmKernel>(std::move(m), opts);
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m) { return make_kernel(std::move(m), Options{}); }

std::string llvm_ir(const ir::Module& m, const Options& opts) {
  llvm::LLVMContext ctx;
  return optimised_ir(lower(m, ctx, {.fast_math = opts.fast_math, .no_alias = false}), opts.fast_math);
}

Stats stats() {
  const size_t made = compiles + disk_hits;
  return {compiles, lookups - made, disk_hits};
}

}  // namespace kiln::llvm_backend

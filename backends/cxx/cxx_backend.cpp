// The cxx backend. Cache files are content-checked, not trusted by name: a
// hit needs the stored source and key to equal this compile's, so a hash
// collision, a truncated write or a stale file only costs a recompile. Files
// are written under a temporary name and renamed, so concurrent processes
// never see half an object.
#include "cxx_backend.h"

#include <kiln/error.h>

#include "../../codegen/emit/cpp.h"
#include "../cache/disk_cache.h"
#include "../../codegen/ir/dump.h"
#include "toolchain.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <dlfcn.h>
#include <unistd.h>

namespace kiln::cxx {
namespace {

namespace fs = std::filesystem;
using Entry = void (*)(const detail::Slot*, detail::Slot*);

std::mutex mu;
Stats counters;
std::atomic<uint64_t> temp_serial{0};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

fs::path temp_name(const fs::path& final) {
  return final.string() + ".tmp." + std::to_string(getpid()) + "." + std::to_string(temp_serial++);
}

void write_atomic(const fs::path& p, const std::string& text) {
  fs::path tmp = temp_name(p);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush())
      throw CompileError("cannot write " + tmp.string() + ": set KILN_CACHE_DIR to a writable directory");
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) throw CompileError("cannot write " + p.string() + ": " + ec.message() + ": set KILN_CACHE_DIR to a writable directory");
}

// A loaded shared object; unloaded when the last kernel using it goes.
struct Library {
  void* handle = nullptr;
  Entry entry = nullptr;
  ~Library() {
    if (handle) dlclose(handle);
  }
};

std::shared_ptr<Library> load(const fs::path& so, std::string& error) {
  auto lib = std::make_shared<Library>();
  lib->handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) {
    const char* e = dlerror();
    error = e ? e : "dlopen failed";
    return nullptr;
  }
  lib->entry = reinterpret_cast<Entry>(dlsym(lib->handle, "kiln_call"));
  if (!lib->entry) {
    error = "no kiln_call in " + so.string();
    return nullptr;
  }
  return lib;
}

fs::path scratch_dir() {
  fs::path dir = fs::temp_directory_path() / ("kiln-scratch-" + std::to_string(getuid()));
  std::error_code ec;
  if (fs::create_directories(dir, ec)) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (!fs::is_directory(dir) || access(dir.c_str(), W_OK) != 0)
    throw CompileError("cannot use the scratch directory " + dir.string() + ": set TMPDIR to a writable directory");
  return dir;
}

std::map<std::string, std::weak_ptr<Library>>& loaded() {
  static std::map<std::string, std::weak_ptr<Library>> m;
  return m;
}

// Compiles in progress, by name: a thread asking for a library that another
// thread is compiling waits for it instead of running the compiler again.
std::map<std::string, std::shared_future<std::shared_ptr<Library>>>& compiling() {
  static std::map<std::string, std::shared_future<std::shared_ptr<Library>>> m;
  return m;
}

std::string tail(const std::string& text, size_t max) {
  return text.size() <= max ? text : "...\n" + text.substr(text.size() - max);
}

// Precompiled standard headers. <vector>, which a reverse-mode tape needs,
// costs the compiler more than most kernels do (about 0.2 s). (The emitter
// spares GCC and Clang <cmath> and <stdexcept>, which cost more: emit/cpp.cpp,
// math_block; what it includes only under other compilers, inside #if, is not
// precompiled.) The #include lines,
// precompiled with the compile's own compiler and flags, are passed as
// `-include` and make the source's own #includes no-ops. A set of headers
// is precompiled the second time this process compiles with it (a process
// compiling one kernel never pays for it), or found in the directory it
// was written to by an earlier process. The compiler checks that a
// precompiled header matches its flags and uses the text otherwise; an
// unreadable one fails the compile, which then runs again without it and
// the file goes. KILN_CXX_PCH=0 turns this off.
struct Precompiled {
  int seen = 0;
  bool ready = false, failed = false;
};

std::mutex pch_mu;

std::map<std::string, Precompiled>& precompiled() {
  static std::map<std::string, Precompiled> m;
  return m;
}

bool pch_enabled() {
  const char* v = std::getenv("KILN_CXX_PCH");
  return !(v && std::string_view(v) == "0");
}

// The source's unconditional #include lines (those outside every #if),
// when one of them is worth precompiling, or "".
std::string heavy_includes(const std::string& source) {
  std::string block;
  bool heavy = false;
  int depth = 0;  // of #if/#ifdef/#ifndef ... #endif
  std::istringstream in(source);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '#') continue;
    const std::string directive = line.substr(std::min(line.find_first_not_of(" \t", 1), line.size()));
    if (directive.rfind("if", 0) == 0) {
      ++depth;
    } else if (directive.rfind("endif", 0) == 0) {
      --depth;
    } else if (depth == 0 && directive.rfind("include <", 0) == 0) {
      block += line + "\n";
      heavy = heavy || line.find("<vector>") != std::string::npos;
    }
  }
  return heavy ? block : "";
}

std::vector<std::string> compiler_argv(const Toolchain& tc) {
  std::vector<std::string> argv = {tc.compiler, "-std=c++17", "-fPIC", "-ffp-contract=off"};
  for (std::string& f : split_flags(tc.flags)) argv.push_back(std::move(f));
  return argv;
}

// The header to pass as -include for `source`, or "" (compile without).
std::string precompiled_header(const std::string& source, const Toolchain& tc, const std::string& key, const fs::path& dir) {
  if (!pch_enabled()) return "";
  const std::string block = heavy_includes(source);
  if (block.empty()) return "";
  const std::string name = "include-" + hex(fnv1a(key + block));
  const fs::path header = dir / (name + ".h"), pch = dir / (name + ".h.gch");
  std::lock_guard<std::mutex> lock(pch_mu);  // held while building: threads wanting it wait
  Precompiled& p = precompiled()[header.string()];
  if (p.failed) return "";
  if (p.ready) return header.string();
  std::string stored;
  if (fs::exists(pch) && read_file(header, stored) && stored == block) {
    p.ready = true;
    return header.string();
  }
  if (++p.seen < 2) return "";
  try {
    write_atomic(header, block);
  } catch (const CompileError&) {
    p.failed = true;
    return "";
  }
  const fs::path tmp = temp_name(pch);
  std::vector<std::string> argv = compiler_argv(tc);
  argv.insert(argv.end(), {"-x", "c++-header", "-o", tmp.string(), header.string()});
  const CommandResult r = run_command(argv);
  std::error_code ec;
  if (r.started && r.status == 0) fs::rename(tmp, pch, ec);
  if (!r.started || r.status != 0 || ec) {
    fs::remove(tmp, ec);
    p.failed = true;
    return "";
  }
  {
    std::lock_guard<std::mutex> count(mu);
    ++counters.headers_built;
  }
  p.ready = true;
  return header.string();
}

// The precompiled header a compile failed with: it goes, and this process
// compiles without precompiled headers from now on.
void drop_precompiled(const std::string& header) {
  std::lock_guard<std::mutex> lock(pch_mu);
  precompiled()[header].failed = true;
  std::error_code ec;
  fs::remove(header + ".gch", ec);
}

// The library from the disk cache, or compiled now.
std::shared_ptr<Library> build(const std::string& source, const std::string& function, const Toolchain& tc,
                               const std::string& key, const std::string& name) {
  // Without the disk cache, files get private names and go once loaded.
  // KILN_DISK_CACHE=0: compile in a scratch directory and keep no kernel
  // (the differential tester compiles each program once).
  const bool disk = cache::disk_cache_enabled();
  const fs::path dir = disk ? cache_root() / "cxx" : scratch_dir();
  const std::string file = disk ? name : name + "." + std::to_string(getpid()) + "." + std::to_string(temp_serial++);
  const fs::path src = dir / (file + ".cpp"), keyf = dir / (file + ".key"), so = dir / (file + ".so");
  std::string stored_src, stored_key, error;
  if (disk && fs::exists(so) && read_file(src, stored_src) && stored_src == source && read_file(keyf, stored_key) &&
      stored_key == key) {
    if (auto lib = load(so, error)) {
      std::lock_guard<std::mutex> lock(mu);
      ++counters.disk_hits;
      return lib;
    }
  }
  write_atomic(src, source);
  write_atomic(keyf, key);
  const fs::path tmp = temp_name(so);
  const std::string header = precompiled_header(source, tc, key, dir);
  auto compile = [&](bool with_header) {
    std::vector<std::string> argv = compiler_argv(tc);
    argv.push_back("-shared");
    if (with_header) argv.insert(argv.end(), {"-include", header});
    argv.insert(argv.end(), {"-o", tmp.string(), src.string()});
    CommandResult r = run_command(argv);
    std::lock_guard<std::mutex> lock(mu);
    ++counters.compiles;
    return r;
  };
  CommandResult r = compile(!header.empty());
  if (!header.empty() && r.started && r.status != 0) {
    CommandResult again = compile(false);
    if (again.started && again.status == 0) drop_precompiled(header);  // the header broke it, not the source
    r = std::move(again);
  }
  if (!r.started)
    throw CompileError("the cxx backend cannot run the C++ compiler for @" + function + ": " + r.output +
                       "; set KILN_CXX or Options::cxx_compiler to a C++17 compiler (source kept at " + src.string() + ")");
  if (r.status != 0) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw CompileError("the C++ compiler failed (exit status " + std::to_string(r.status) + ") on the source generated for @" +
                       function + ", kept at " + src.string() + ":\n" + tail(r.output, 8000) +
                       "\ncheck Options::cxx_flags / KILN_CXX_FLAGS, or report a kiln bug with that file");
  }
  std::error_code ec;
  fs::rename(tmp, so, ec);
  if (ec) throw CompileError("cannot move the compiled object to " + so.string() + ": " + ec.message());
  auto lib = load(so, error);
  if (!lib) throw CompileError("cannot load the compiled object " + so.string() + ": " + error);
  if (!disk)
    for (const fs::path& p : {src, keyf, so}) fs::remove(p, ec);
  return lib;
}

std::shared_ptr<Library> compile_source(const std::string& source, const std::string& function, const Toolchain& tc) {
  const std::string key = "compiler: " + toolchain_identity(tc.compiler, tc.flags) + "\nflags: " + tc.flags + "\n";
  const std::string name = hex(fnv1a(key + source));
  std::promise<std::shared_ptr<Library>> promise;
  std::shared_future<std::shared_ptr<Library>> pending;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto lib = loaded()[name].lock()) {
      ++counters.memory_hits;
      return lib;
    }
    if (auto it = compiling().find(name); it != compiling().end()) {
      ++counters.memory_hits;
      pending = it->second;
    } else {
      compiling().emplace(name, promise.get_future().share());
    }
  }
  if (pending.valid()) return pending.get();  // rethrows the CompileError of that compile
  try {
    std::shared_ptr<Library> lib = build(source, function, tc, key, name);
    {
      std::lock_guard<std::mutex> lock(mu);
      loaded()[name] = lib;
      compiling().erase(name);
    }
    promise.set_value(lib);
    return lib;
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mu);
      compiling().erase(name);  // the next ask compiles anew
    }
    promise.set_exception(std::current_exception());
    throw;
  }
}

class CxxKernel final : public detail::Kernel {
 public:
  CxxKernel(std::shared_ptr<Library> lib, size_t nparams, size_t nresults)
      : lib_(std::move(lib)), nparams_(nparams), nresults_(nresults) {}

  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    detail::call_generated("cxx", nparams_, nresults_, nargs, results, nresults, [&](detail::Slot* out) {
      try {
        lib_->entry(args, out);
      } catch (const std::exception& e) {
        throw RuntimeError(e.what());  // a trap of the generated code (std::domain_error)
      }
    });
  }

 private:
  std::shared_ptr<Library> lib_;
  size_t nparams_, nresults_;
};

}  // namespace

Toolchain toolchain(const Options& opts) {
  return {opts.cxx_compiler.empty() ? env_or("KILN_CXX", "c++") : opts.cxx_compiler,
          opts.cxx_flags.empty() ? env_or("KILN_CXX_FLAGS", "-O3 -march=native") : opts.cxx_flags};
}

fs::path cache_root() {
  const fs::path root = cache::default_cache_dir();
  // A directory kiln creates is private (0700); one the user made keeps its mode.
  std::error_code ec;
  if (fs::create_directories(root, ec)) fs::permissions(root, fs::perms::owner_all, fs::perm_options::replace, ec);
  ec.clear();
  fs::create_directories(root / "cxx", ec);
  if (ec || !fs::is_directory(root / "cxx") || access((root / "cxx").c_str(), W_OK) != 0)
    throw CompileError("cannot use kiln's cache directory " + (root / "cxx").string() + ": " +
                       (ec ? ec.message() : "not a writable directory") + "; set KILN_CACHE_DIR to a writable directory");
  return root;
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m, const Options& opts) {
  const std::string source = emit::emit_cpp(m, {.backend_entry = true});
  if (ir::dump_requested("cpp")) std::cerr << "// ---- C++ for @" << m.functions.at(0).name << " ----\n" << source;
  auto lib = compile_source(source, m.functions.at(0).name, toolchain(opts));
  const ir::Function& f = m.functions.at(0);
  return std::make_shared<CxxKernel>(std::move(lib), f.params().size(), f.result_types.size());
}

std::shared_ptr<detail::Kernel> make_kernel(ir::Module m) { return make_kernel(std::move(m), Options{}); }

Stats stats() {
  std::lock_guard<std::mutex> lock(mu);
  return counters;
}

}  // namespace kiln::cxx

// The backend table: one row per kiln::Backend; whether it is built comes
// from kiln (detail::kernel_factory).
#include "backends.h"


#include <stdexcept>
#include <string>

namespace kiln::fuzz {

const std::vector<Backend>& backend_table() {
  static const std::vector<Backend> table = {
      {"interp", kiln::Backend::interp},
      {"llvm", kiln::Backend::llvm},
      {"cxx", kiln::Backend::cxx},
      {"cuda", kiln::Backend::cuda},
  };
  return table;
}

const Backend& interpreter() { return backend_table().front(); }

std::vector<const Backend*> select_backends(std::string_view spec) {
  std::vector<const Backend*> out;
  auto add = [&](const Backend* b) {
    for (const Backend* x : out)
      if (x == b) return;
    out.push_back(b);
  };
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view name = spec.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    if (name == "all") {
      for (const Backend& b : backend_table())
        if (b.available()) add(&b);
      continue;
    }
    const Backend* found = nullptr;
    for (const Backend& b : backend_table())
      if (b.name == name) found = &b;
    std::string known;
    for (const Backend& b : backend_table()) known += (known.empty() ? "" : ", ") + std::string(b.name);
    if (!found) throw std::invalid_argument("unknown backend '" + std::string(name) + "' (known: " + known + ", all)");
    if (!found->available())
      throw std::invalid_argument("backend '" + std::string(name) + "' " +
                                  (found->id == kiln::Backend::cuda && detail::kernel_factory(found->id)
                                       ? "has no device (" + kiln::cuda_status() + ")"
                                       : std::string("is not built into this kiln")) +
                                  "; use --backends all for the available ones");
    add(found);
  }
  if (out.empty()) throw std::invalid_argument("--backends names no backend");
  return out;
}

std::vector<detail::Slot> run_on(const Backend& b, const ir::Module& m, const std::vector<detail::Slot>& args) {
  std::shared_ptr<detail::Kernel> kernel = b.make(m);
  std::vector<detail::Slot> results(m.functions.at(0).result_types.size() + 1);
  kernel->call(args.data(), args.size(), results.data(), results.size() - 1);
  results.pop_back();
  return results;
}

}  // namespace kiln::fuzz

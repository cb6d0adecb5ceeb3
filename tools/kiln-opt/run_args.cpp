// Arguments from text, results to text, for kiln-opt --run.
#include "run_args.h"

#include "backends/kernel.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace kiln::opt {
namespace {

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

double number(const std::string& text, ir::Scalar s, size_t param) {
  const std::string t = trim(text);
  auto bad = [&] {
    return std::runtime_error("--arg " + std::to_string(param) + ": '" + t + "' is not a " +
                              std::string(ir::to_string(s)));
  };
  if (s == ir::Scalar::i1) {
    if (t == "true" || t == "1") return 1;
    if (t == "false" || t == "0") return 0;
    throw bad();
  }
  if (s == ir::Scalar::i32 || s == ir::Scalar::i64) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size()) throw bad();
    return static_cast<double>(v);
  }
  if (t == "nan" || t == "inf" || t == "-inf") return t == "nan" ? NAN : (t[0] == '-' ? -INFINITY : INFINITY);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || end != t.data() + t.size()) throw bad();
  return v;
}

// Integers exactly (a double cannot hold every i64).
int64_t integer(const std::string& text, size_t param) {
  const std::string t = trim(text);
  if (t == "true") return 1;
  if (t == "false") return 0;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || end != t.data() + t.size())
    throw std::runtime_error("--arg " + std::to_string(param) + ": '" + t + "' is not an integer");
  return v;
}

void put(unsigned char* at, ir::Scalar s, const std::string& text, size_t param) {
  switch (s) {
    case ir::Scalar::i1: *reinterpret_cast<bool*>(at) = integer(text, param) != 0; return;
    case ir::Scalar::i32: {
      int32_t v = static_cast<int32_t>(integer(text, param));
      std::memcpy(at, &v, 4);
      return;
    }
    case ir::Scalar::i64: {
      int64_t v = integer(text, param);
      std::memcpy(at, &v, 8);
      return;
    }
    case ir::Scalar::f32: {
      float v = static_cast<float>(number(text, s, param));
      std::memcpy(at, &v, 4);
      return;
    }
    case ir::Scalar::f64: {
      double v = number(text, s, param);
      std::memcpy(at, &v, 8);
      return;
    }
  }
}

template <class T>
std::string shortest(T v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string text_of(const unsigned char* at, ir::Scalar s) {
  switch (s) {
    case ir::Scalar::i1: return *reinterpret_cast<const bool*>(at) ? "true" : "false";
    case ir::Scalar::i32: {
      int32_t v;
      std::memcpy(&v, at, 4);
      return std::to_string(v);
    }
    case ir::Scalar::i64: {
      int64_t v;
      std::memcpy(&v, at, 8);
      return std::to_string(v);
    }
    case ir::Scalar::f32: {
      float v;
      std::memcpy(&v, at, 4);
      return shortest(v);
    }
    case ir::Scalar::f64: {
      double v;
      std::memcpy(&v, at, 8);
      return shortest(v);
    }
  }
  return "?";
}

std::vector<std::string> elements(const std::string& text, size_t param) {
  const std::string t = trim(text);
  std::vector<std::string> out;
  if (t.rfind("zeros(", 0) == 0 && t.back() == ')') {
    int64_t n = integer(t.substr(6, t.size() - 7), param);
    if (n < 0 || n > (int64_t{1} << 28))
      throw std::runtime_error("--arg " + std::to_string(param) + ": zeros(N) needs 0 <= N <= 2^28");
    out.assign(static_cast<size_t>(n), "0");
    return out;
  }
  if (t.size() < 2 || t.front() != '[' || t.back() != ']')
    throw std::runtime_error("--arg " + std::to_string(param) + ": a buffer is [a, b, ...] or zeros(N), got '" + t +
                             "'");
  std::string cur;
  for (char c : t.substr(1, t.size() - 2)) {
    if (c != ',') {
      cur += c;
      continue;
    }
    out.push_back(cur);
    cur.clear();
  }
  if (!trim(cur).empty() || !out.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::string run_entry(const ir::Module& m, const std::string& backend, const std::vector<std::string>& args,
                      const Options& opts) {
  Backend b;
  if (backend == "interp") b = Backend::interp;
  else if (backend == "cxx") b = Backend::cxx;
  else if (backend == "llvm") b = Backend::llvm;
  else throw std::runtime_error("--run: unknown backend '" + backend + "' (interp, cxx, llvm)");
  detail::KernelFactory make = detail::kernel_factory(b);
  if (!make) throw std::runtime_error("--run=" + backend + ": this kiln was built without that backend");
  const ir::Function& entry = m.functions.at(0);
  const auto& ps = entry.params();
  if (args.size() != ps.size())
    throw std::runtime_error("@" + entry.name + " takes " + std::to_string(ps.size()) + " arguments, --arg gave " +
                             std::to_string(args.size()));
  std::vector<detail::Slot> slots(ps.size());
  std::vector<std::vector<unsigned char>> buffers(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    const ir::Type t = entry.type(ps[i]);
    if (t.kind == ir::TypeKind::buf) {
      std::vector<std::string> xs = elements(args[i], i);
      const size_t w = ir::byte_width(t.elem);
      buffers[i].assign(xs.size() * w + 8, 0);  // never empty: data() is a valid pointer
      for (size_t k = 0; k < xs.size(); ++k) put(buffers[i].data() + k * w, t.elem, xs[k], i);
      slots[i].p = buffers[i].data();
      slots[i].size = static_cast<int64_t>(xs.size());
      continue;
    }
    slots[i].i = 0;
    switch (t.elem) {
      case ir::Scalar::i1:
      case ir::Scalar::i32:
      case ir::Scalar::i64: slots[i].i = integer(args[i], i); break;
      case ir::Scalar::f32: slots[i].f32 = static_cast<float>(number(args[i], t.elem, i)); break;
      case ir::Scalar::f64: slots[i].f64 = number(args[i], t.elem, i); break;
    }
  }
  std::vector<detail::Slot> results(entry.result_types.size() + 1);
  make(m, opts)->call(slots.data(), slots.size(), results.data(), entry.result_types.size());
  std::string out;
  for (size_t r = 0; r < entry.result_types.size(); ++r) {
    const ir::Scalar s = entry.result_types[r].elem;
    unsigned char bytes[8];
    if (s == ir::Scalar::f32) std::memcpy(bytes, &results[r].f32, 4);
    else if (s == ir::Scalar::f64) std::memcpy(bytes, &results[r].f64, 8);
    else if (s == ir::Scalar::i1) *reinterpret_cast<bool*>(bytes) = results[r].i != 0;
    else if (s == ir::Scalar::i32) { int32_t v = static_cast<int32_t>(results[r].i); std::memcpy(bytes, &v, 4); }
    else std::memcpy(bytes, &results[r].i, 8);
    out += "result " + std::to_string(r) + ": " + std::string(ir::to_string(s)) + " " + text_of(bytes, s) + "\n";
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    const ir::Type t = entry.type(ps[i]);
    if (t.kind != ir::TypeKind::buf || !t.writable) continue;
    out += "buffer " + std::to_string(i) + ": [";
    for (int64_t k = 0; k < slots[i].size; ++k)
      out += (k ? ", " : "") + text_of(buffers[i].data() + k * ir::byte_width(t.elem), t.elem);
    out += "]\n";
  }
  return out;
}

}  // namespace kiln::opt

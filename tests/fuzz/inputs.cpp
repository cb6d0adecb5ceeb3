// Inputs, outcomes and their comparison. Values are printed with their bits
// so that -0.0 and NaN payloads are visible.
#include "inputs.h"

#include <algorithm>

#include "gen_support.h"
#include "generator.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace kiln::fuzz {
namespace {

detail::Slot load_element(ir::Scalar s, const unsigned char* data, int64_t i) {
  detail::Slot v;
  v.i = 0;
  switch (s) {
    case ir::Scalar::i1: v.i = reinterpret_cast<const bool*>(data)[i]; break;
    case ir::Scalar::i32: v.i = reinterpret_cast<const int32_t*>(data)[i]; break;
    case ir::Scalar::i64: v.i = reinterpret_cast<const int64_t*>(data)[i]; break;
    case ir::Scalar::f32: v.f32 = reinterpret_cast<const float*>(data)[i]; break;
    case ir::Scalar::f64: v.f64 = reinterpret_cast<const double*>(data)[i]; break;
  }
  return v;
}

void store_element(ir::Scalar s, unsigned char* data, int64_t i, const detail::Slot& v) {
  switch (s) {
    case ir::Scalar::i1: reinterpret_cast<bool*>(data)[i] = v.i != 0; break;
    case ir::Scalar::i32: reinterpret_cast<int32_t*>(data)[i] = static_cast<int32_t>(v.i); break;
    case ir::Scalar::i64: reinterpret_cast<int64_t*>(data)[i] = v.i; break;
    case ir::Scalar::f32: reinterpret_cast<float*>(data)[i] = v.f32; break;
    case ir::Scalar::f64: reinterpret_cast<double*>(data)[i] = v.f64; break;
  }
}

/// A value of type s: mostly ordinary, sometimes an edge case.
detail::Slot draw(ir::Scalar s, Rng& rng, bool edge_cases) {
  detail::Slot v;
  v.i = 0;
  const bool edge = rng.chance(0.2) && edge_cases;
  switch (s) {
    case ir::Scalar::i1: v.i = rng.chance(0.5); break;
    case ir::Scalar::i32: v.i = edge ? interesting<int32_t>(rng) : rng.range(-50, 50); break;
    case ir::Scalar::i64: v.i = edge ? interesting<int64_t>(rng) : rng.range(-50, 50); break;
    case ir::Scalar::f32: v.f32 = edge ? interesting<float>(rng) : static_cast<float>(rng.range(-4000, 4000)) / 64.0f; break;
    case ir::Scalar::f64: v.f64 = edge ? interesting<double>(rng) : static_cast<double>(rng.range(-40000, 40000)) / 256.0; break;
  }
  return v;
}

/// "i32 -5", "f32 1.5 [0x3fc00000]".
std::string show(ir::Scalar s, const detail::Slot& v) {
  char buf[96];
  switch (s) {
    case ir::Scalar::i1: std::snprintf(buf, sizeof buf, "%s", v.i ? "true" : "false"); break;
    case ir::Scalar::i32: std::snprintf(buf, sizeof buf, "%" PRId32, static_cast<int32_t>(v.i)); break;
    case ir::Scalar::i64: std::snprintf(buf, sizeof buf, "%" PRId64, v.i); break;
    case ir::Scalar::f32: {
      uint32_t bits;
      std::memcpy(&bits, &v.f32, 4);
      std::snprintf(buf, sizeof buf, "%.9g [0x%08" PRIx32 "]", static_cast<double>(v.f32), bits);
      break;
    }
    case ir::Scalar::f64: {
      uint64_t bits;
      std::memcpy(&bits, &v.f64, 8);
      std::snprintf(buf, sizeof buf, "%.17g [0x%016" PRIx64 "]", v.f64, bits);
      break;
    }
  }
  return buf;
}

bool same(ir::Scalar s, const detail::Slot& a, const detail::Slot& b) {
  switch (s) {
    case ir::Scalar::i1: return (a.i != 0) == (b.i != 0);
    case ir::Scalar::i32: return static_cast<int32_t>(a.i) == static_cast<int32_t>(b.i);
    case ir::Scalar::i64: return a.i == b.i;
    case ir::Scalar::f32:
      if (a.f32 != a.f32 && b.f32 != b.f32) return true;
      return std::memcmp(&a.f32, &b.f32, 4) == 0;
    case ir::Scalar::f64:
      if (a.f64 != a.f64 && b.f64 != b.f64) return true;
      return std::memcmp(&a.f64, &b.f64, 8) == 0;
  }
  return false;
}

}  // namespace

Inputs::Inputs(const ir::Function& entry, uint64_t seed, bool edge_cases) {
  Rng rng(seed ^ 0x1f2e3d4c5b6a7988ull);
  for (ir::ValueId p : entry.params()) {
    ir::Type t = entry.type(p);
    types_.push_back(t);
    detail::Slot s;
    s.i = 0;
    std::vector<unsigned char> bytes;
    if (t.kind == ir::TypeKind::buf) {
      bytes.resize(ir::byte_width(t.elem) * buffer_size);
      for (int64_t i = 0; i < buffer_size; ++i) store_element(t.elem, bytes.data(), i, draw(t.elem, rng, edge_cases));
    } else {
      s = draw(t.elem, rng, edge_cases);
    }
    scalars_.push_back(s);
    buffers_.push_back(std::move(bytes));
  }
}

std::vector<detail::Slot> Inputs::call(std::vector<std::vector<unsigned char>>& storage) const {
  storage = buffers_;
  std::vector<detail::Slot> args = scalars_;
  for (size_t i = 0; i < types_.size(); ++i)
    if (types_[i].kind == ir::TypeKind::buf) {
      args[i].p = storage[i].data();
      args[i].size = buffer_size;
    }
  return args;
}

Inputs Inputs::prefix(size_t n) const {
  Inputs out;
  out.types_.assign(types_.begin(), types_.begin() + static_cast<std::ptrdiff_t>(std::min(n, types_.size())));
  out.scalars_.assign(scalars_.begin(), scalars_.begin() + static_cast<std::ptrdiff_t>(out.types_.size()));
  out.buffers_.assign(buffers_.begin(), buffers_.begin() + static_cast<std::ptrdiff_t>(out.types_.size()));
  return out;
}

namespace {
detail::Slot from_double(ir::Scalar s, double x) {
  detail::Slot v;
  v.i = 0;
  switch (s) {
    case ir::Scalar::f32: v.f32 = static_cast<float>(x); break;
    case ir::Scalar::f64: v.f64 = x; break;
    default: v.i = static_cast<int64_t>(x); break;
  }
  return v;
}
double to_double(ir::Scalar s, const detail::Slot& v) {
  switch (s) {
    case ir::Scalar::f32: return v.f32;
    case ir::Scalar::f64: return v.f64;
    default: return static_cast<double>(v.i);
  }
}
}  // namespace

Inputs Inputs::append(const std::vector<ir::Type>& more, const std::function<double(size_t, int64_t)>& value) const {
  Inputs out = *this;
  for (size_t k = 0; k < more.size(); ++k) {
    const ir::Type t = more[k];
    out.types_.push_back(t);
    detail::Slot s;
    s.i = 0;
    std::vector<unsigned char> bytes;
    if (t.kind == ir::TypeKind::buf) {
      bytes.resize(ir::byte_width(t.elem) * buffer_size);
      for (int64_t e = 0; e < buffer_size; ++e) store_element(t.elem, bytes.data(), e, from_double(t.elem, value(k, e)));
    } else {
      s = from_double(t.elem, value(k, 0));
    }
    out.scalars_.push_back(s);
    out.buffers_.push_back(std::move(bytes));
  }
  return out;
}

Inputs Inputs::shifted(const std::function<double(size_t, int64_t)>& dir, double h) const {
  Inputs out = *this;
  for (size_t i = 0; i < types_.size(); ++i) {
    const ir::Scalar s = types_[i].elem;
    if (s != ir::Scalar::f32 && s != ir::Scalar::f64) continue;
    if (types_[i].kind != ir::TypeKind::buf) {
      out.scalars_[i] = from_double(s, to_double(s, scalars_[i]) + h * dir(i, 0));
      continue;
    }
    for (int64_t e = 0; e < buffer_size; ++e)
      store_element(s, out.buffers_[i].data(), e,
                    from_double(s, to_double(s, load_element(s, buffers_[i].data(), e)) + h * dir(i, e)));
  }
  return out;
}

double Inputs::value(size_t i, int64_t e) const {
  const ir::Scalar s = types_[i].elem;
  if (types_[i].kind != ir::TypeKind::buf) return to_double(s, scalars_[i]);
  return to_double(s, load_element(s, buffers_[i].data(), e));
}

std::string Inputs::describe() const {
  std::string out;
  for (size_t i = 0; i < types_.size(); ++i) {
    out += "  %" + std::to_string(i) + " " + ir::to_string(types_[i]) + " = ";
    if (types_[i].kind != ir::TypeKind::buf) {
      out += show(types_[i].elem, scalars_[i]) + "\n";
      continue;
    }
    out += "[";
    for (int64_t k = 0; k < buffer_size; ++k)
      out += (k ? ", " : "") + show(types_[i].elem, load_element(types_[i].elem, buffers_[i].data(), k));
    out += "]\n";
  }
  return out;
}

Outcome execute(const Backend& b, const ir::Module& m, const Inputs& in) {
  Outcome out;
  std::vector<detail::Slot> args = in.call(out.buffers);
  out.results = run_on(b, m, args);
  return out;
}

std::string differences(const ir::Function& entry, const Outcome& expected, const Outcome& got, size_t max_lines) {
  std::string out;
  size_t lines = 0;
  auto note = [&](const std::string& what, ir::Scalar s, const detail::Slot& e, const detail::Slot& g) {
    if (lines++ < max_lines) out += "  " + what + ": expected " + show(s, e) + ", got " + show(s, g) + "\n";
  };
  if (got.results.size() != expected.results.size())
    return "  " + std::to_string(got.results.size()) + " results, expected " + std::to_string(expected.results.size()) + "\n";
  for (size_t i = 0; i < expected.results.size(); ++i) {
    ir::Scalar s = entry.result_types[i].elem;
    if (!same(s, expected.results[i], got.results[i]))
      note("result " + std::to_string(i) + " (" + std::string(ir::to_string(s)) + ")", s, expected.results[i], got.results[i]);
  }
  for (size_t p = 0; p < entry.params().size() && p < expected.buffers.size(); ++p) {
    ir::Type t = entry.type(entry.params()[p]);
    if (t.kind != ir::TypeKind::buf) continue;
    for (int64_t k = 0; k < buffer_size; ++k) {
      detail::Slot e = load_element(t.elem, expected.buffers[p].data(), k);
      detail::Slot g = load_element(t.elem, got.buffers[p].data(), k);
      if (!same(t.elem, e, g))
        note("buffer %" + std::to_string(p) + " (" + ir::to_string(t) + ") element " + std::to_string(k), t.elem, e, g);
    }
  }
  if (lines > max_lines) out += "  ... and " + std::to_string(lines - max_lines) + " more differences\n";
  return out;
}

}  // namespace kiln::fuzz

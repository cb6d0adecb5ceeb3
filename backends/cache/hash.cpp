// The cache hashes. The module walk mirrors the printer (same order, same
// value numbering) so that modules printing alike hash alike, but hashes the
// fields themselves instead of building the text: cheaper, and exact for
// constants. Every list is preceded by its length, so the word stream is
// unambiguous without separators.
#include "hash.h"

#include <kiln/error.h>

#include <bit>
#include <vector>

namespace kiln::cache {
namespace {

constexpr uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;

uint64_t fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// Tags keep the parts of the stream apart (a function from a region, a
// located node from one without a location).
enum Tag : uint64_t { module_tag = 0x6b696c6e2d697231ull, function_tag = 1, region_tag, node_tag, unnumbered_ref };

bool has_imm(ir::Shape s) {
  switch (s) {
    case ir::Shape::leaf:
    case ir::Shape::var_load:
    case ir::Shape::var_store:
    case ir::Shape::tape_buffer:
    case ir::Shape::call:
    case ir::Shape::get:
    case ir::Shape::alloc:
    case ir::Shape::check:
    case ir::Shape::gemm:
    case ir::Shape::reduce:
    case ir::Shape::tensor_load:
    case ir::Shape::tensor_store: return true;
    case ir::Shape::tensor_view:  // an ints id (hashed as its list) or nothing
    case ir::Shape::splat:
    case ir::Shape::iota:
    case ir::Shape::dense:
    case ir::Shape::matmul:
    case ir::Shape::unary_num:
    case ir::Shape::unary_float:
    case ir::Shape::unary_bits:
    case ir::Shape::cast:
    case ir::Shape::binary_num:
    case ir::Shape::binary_float:
    case ir::Shape::binary_bits:
    case ir::Shape::shift:
    case ir::Shape::compare:
    case ir::Shape::fma:
    case ir::Shape::select:
    case ir::Shape::size:
    case ir::Shape::disjoint:
    case ir::Shape::load:
    case ir::Shape::store:
    case ir::Shape::if_:
    case ir::Shape::for_:
    case ir::Shape::while_:
    case ir::Shape::parallel_for: return false;
  }
  return false;
}

// As printed: fields a type of its kind does not use are left out.
uint64_t type_word(ir::Type t) {
  uint64_t w = static_cast<uint64_t>(t.kind);
  if (t.kind == ir::TypeKind::scalar || t.kind == ir::TypeKind::buf || t.kind == ir::TypeKind::tensor)
    w |= static_cast<uint64_t>(t.elem) << 8;
  if (t.kind == ir::TypeKind::buf) w |= static_cast<uint64_t>(t.writable) << 16;
  return w;
}

// Interned ids differ between processes; their lists do not.
void add_ints(Hasher& h, uint32_t id) {
  std::vector<int64_t> xs = ir::ints(id);
  h.add_word(xs.size());
  for (int64_t x : xs) h.add_word(static_cast<uint64_t>(x));
}

// Generated code names a location by its file's base name (codegen/emit).
std::string_view basename(const char* path) {
  std::string_view p = path ? path : "";
  size_t slash = p.find_last_of("/\\");
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

class ModuleHasher {
 public:
  Digest run(const ir::Module& m) {
    h_.add_word(module_tag).add_word(m.functions.size());
    for (const ir::Function& f : m.functions) function(f);
    return h_.finish();
  }

 private:
  Hasher h_;
  const ir::Function* f_ = nullptr;
  std::vector<uint32_t> number_;  // per node id: its position in definition order
  uint32_t next_ = 0;

  void function(const ir::Function& f) {
    f_ = &f;
    number_.assign(f.nodes.size(), UINT32_MAX);
    next_ = 0;
    h_.add_word(function_tag).add_bytes(f.name).add_word(f.result_types.size());
    for (ir::Type t : f.result_types) {
      h_.add_word(type_word(t));
      if (t.is_tensor()) add_ints(h_, t.dims);
    }
    region(f.body);
  }

  const ir::Node& node(ir::ValueId v) const {
    if (v >= f_->nodes.size())
      throw InternalError("hash_module: @" + f_->name + " lists %" + std::to_string(v) + ", which does not exist");
    return f_->nodes[v];
  }

  void define(ir::ValueId v) {
    if (v < number_.size()) number_[v] = next_++;
  }

  // A value not defined before its use only occurs in invalid IR; the
  // printer shows its node id, and so does the hash.
  void ref(ir::ValueId v) {
    if (v < number_.size() && number_[v] != UINT32_MAX) {
      h_.add_word(number_[v]);
      return;
    }
    h_.add_word(unnumbered_ref).add_word(v);
  }

  void refs(const std::vector<ir::ValueId>& vs) {
    h_.add_word(vs.size());
    for (ir::ValueId v : vs) ref(v);
  }

  void region(ir::RegionId r) {
    if (r >= f_->regions.size())
      throw InternalError("hash_module: @" + f_->name + " uses region " + std::to_string(r) + ", which does not exist");
    const ir::Region& reg = f_->regions[r];
    h_.add_word(region_tag).add_word(reg.params.size());
    for (ir::ValueId p : reg.params) {
      h_.add_word(type_word(node(p).type));  // a param's imm is its position, implied by the order
      define(p);
    }
    h_.add_word(reg.body.size());
    for (ir::ValueId v : reg.body) statement(v);
    refs(reg.yields);
  }

  void statement(ir::ValueId v) {
    const ir::Node& n = node(v);
    const ir::OpInfo& op = ir::info(n.op);
    // Numbered first, as the printer does, so results of structured nodes
    // come before their regions' parameters.
    if (n.type.kind != ir::TypeKind::void_) define(v);
    h_.add_word(node_tag).add_bytes(op.spelling).add_word(type_word(n.type));
    if (n.type.is_tensor()) add_ints(h_, n.type.dims);
    if (has_imm(op.shape)) h_.add_word(static_cast<uint64_t>(n.imm));
    if (n.op == ir::Op::Transpose || n.op == ir::Op::Slice || n.op == ir::Op::Embed || n.op == ir::Op::TensorConst ||
        n.op == ir::Op::Check || n.op == ir::Op::Gemm)
      add_ints(h_, static_cast<uint32_t>(n.imm));
    refs(n.args);
    h_.add_word(n.loc.line());
    if (n.loc.line() != 0) h_.add_bytes(basename(n.loc.file_name()));
    h_.add_word(n.regions.size());
    for (ir::RegionId r : n.regions) region(r);
  }
};

}  // namespace

std::string Digest::hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = digits[(hi >> (4 * i)) & 15];
    out[31 - i] = digits[(lo >> (4 * i)) & 15];
  }
  return out;
}

void Hasher::block(uint64_t k1, uint64_t k2) {
  k1 *= c1;
  k1 = std::rotl(k1, 31);
  k1 *= c2;
  h1_ ^= k1;
  h1_ = std::rotl(h1_, 27);
  h1_ += h2_;
  h1_ = h1_ * 5 + 0x52dce729;
  k2 *= c2;
  k2 = std::rotl(k2, 33);
  k2 *= c1;
  h2_ ^= k2;
  h2_ = std::rotl(h2_, 31);
  h2_ += h1_;
  h2_ = h2_ * 5 + 0x38495ab5;
}

Hasher& Hasher::add_word(uint64_t w) {
  if (words_++ % 2 == 0) {
    pending_ = w;
    return *this;
  }
  block(pending_, w);
  return *this;
}

Hasher& Hasher::add_bytes(std::string_view s) {
  add_word(s.size());
  for (size_t at = 0; at < s.size(); at += 8) {
    // Little-endian assembly: the same words on every host.
    uint64_t w = 0;
    for (size_t i = 0; i < 8 && at + i < s.size(); ++i)
      w |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    add_word(w);
  }
  return *this;
}

Digest Hasher::finish() const {
  uint64_t h1 = h1_, h2 = h2_;
  if (words_ % 2 == 1) {  // MurmurHash3's tail of 8 bytes: k1 only
    uint64_t k1 = pending_ * c1;
    k1 = std::rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
  }
  const uint64_t len = words_ * 8;
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

Digest hash_module(const ir::Module& m) { return ModuleHasher().run(m); }

}  // namespace kiln::cache

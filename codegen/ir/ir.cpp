// The op table, type names, the node factory and constant encoding.
#include <kiln/error.h>
#include <kiln/ir/ir.h>

#include "check.h"

#include <bit>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>

namespace kiln::ir {

std::string_view to_string(Scalar s) {
  switch (s) {
    case Scalar::i1: return "i1";
    case Scalar::i32: return "i32";
    case Scalar::i64: return "i64";
    case Scalar::f32: return "f32";
    case Scalar::f64: return "f64";
  }
  return "?";
}

int bit_width(Scalar s) {
  switch (s) {
    case Scalar::i1: return 1;
    case Scalar::i32: return 32;
    case Scalar::i64: return 64;
    case Scalar::f32: return 32;
    case Scalar::f64: return 64;
  }
  return 0;
}

size_t byte_width(Scalar s) {
  switch (s) {
    case Scalar::i1: return sizeof(bool);
    case Scalar::i32: return 4;
    case Scalar::i64: return 8;
    case Scalar::f32: return 4;
    case Scalar::f64: return 8;
  }
  return 0;
}

namespace {

struct IntsTable {
  std::mutex mu;
  std::vector<std::unique_ptr<const std::vector<int64_t>>> lists;
  std::map<std::vector<int64_t>, uint32_t> ids;
  IntsTable() {
    lists.push_back(std::make_unique<const std::vector<int64_t>>());
    ids.emplace(std::vector<int64_t>{}, 0);
  }
};

IntsTable& ints_table() {
  static IntsTable* t = new IntsTable;  // never destroyed: ids outlive static destructors
  return *t;
}

}  // namespace

uint32_t intern_ints(const std::vector<int64_t>& xs) {
  IntsTable& t = ints_table();
  std::lock_guard lock(t.mu);
  auto [it, fresh] = t.ids.emplace(xs, static_cast<uint32_t>(t.lists.size()));
  if (fresh) t.lists.push_back(std::make_unique<const std::vector<int64_t>>(xs));
  return it->second;
}

std::vector<int64_t> ints(uint32_t id) {
  IntsTable& t = ints_table();
  std::lock_guard lock(t.mu);
  if (id >= t.lists.size()) throw InternalError("ints: no list #" + std::to_string(id));
  return *t.lists[id];
}

int64_t intern_message(const std::string& what, const std::string& remedy) {
  std::vector<int64_t> xs{static_cast<int64_t>(what.size())};
  for (unsigned char c : what + remedy) xs.push_back(c);
  return intern_ints(xs);
}

std::pair<std::string, std::string> message(int64_t id) {
  std::vector<int64_t> xs = ints(static_cast<uint32_t>(id));
  if (xs.empty()) return {};
  std::string s;
  for (size_t i = 1; i < xs.size(); ++i) s += static_cast<char>(xs[i]);
  size_t n = std::min<size_t>(static_cast<size_t>(xs[0]), s.size());
  return {s.substr(0, n), s.substr(n)};
}

int64_t gemm_attribute(const GemmShape& g) {
  if (!g.trans_a && !g.trans_b) return intern_ints({g.m, g.k, g.n});
  return intern_ints({g.m, g.k, g.n, g.trans_a ? 1 : 0, g.trans_b ? 1 : 0});
}

GemmShape gemm_shape(int64_t imm) {
  const std::vector<int64_t> xs = ints(static_cast<uint32_t>(imm));
  if (xs.size() != 3 && xs.size() != 5) throw InternalError("gemm: malformed attribute");
  return {xs[0], xs[1], xs[2], xs.size() == 5 && xs[3] != 0, xs.size() == 5 && xs[4] != 0};
}

std::vector<int64_t> shape(Type t) { return t.is_tensor() ? ints(t.dims) : std::vector<int64_t>{}; }

int64_t numel(Type t) {
  int64_t n = 1;
  for (int64_t d : shape(t)) n *= d;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

std::string to_string(Type t) {
  switch (t.kind) {
    case TypeKind::void_: return "void";
    case TypeKind::scalar: return std::string(to_string(t.elem));
    case TypeKind::buf: return std::string("buf<") + (t.writable ? "" : "const ") + std::string(to_string(t.elem)) + ">";
    case TypeKind::tuple: return "tuple";
    case TypeKind::tensor:
      return "tensor<" + std::string(to_string(t.elem)) + ", " + shape_text(shape(t)) + ">";
  }
  return "?";
}

const OpInfo& info(Op op) {
  static const OpInfo table[] = {
#define KILN_X(name, spelling, effect, shape, nargs, nregions) \
  {spelling, Effect::effect, Shape::shape, nargs, nregions},
      KILN_IR_OPS(KILN_X)
#undef KILN_X
  };
  return table[static_cast<int>(op)];
}

const std::vector<Op>& all_ops() {
  static const std::vector<Op> ops = {
#define KILN_X(name, spelling, effect, shape, nargs, nregions) Op::name,
      KILN_IR_OPS(KILN_X)
#undef KILN_X
  };
  return ops;
}

ValueId Function::add(Op op, Type type, std::vector<ValueId> args, int64_t imm,
                      std::source_location loc, std::vector<RegionId> regs) {
  const OpInfo& oi = info(op);
  if (oi.nargs >= 0 && static_cast<int>(args.size()) != oi.nargs)
    throw InternalError("node factory: '" + std::string(oi.spelling) + "' takes " +
                        std::to_string(oi.nargs) + " operands, got " + std::to_string(args.size()));
  if (static_cast<int>(regs.size()) != oi.nregions)
    throw InternalError("node factory: '" + std::string(oi.spelling) + "' takes " +
                        std::to_string(oi.nregions) + " regions, got " + std::to_string(regs.size()));
  for (ValueId a : args)
    if (a >= nodes.size())
      throw InternalError("node factory: operand %" + std::to_string(a) + " of '" +
                          std::string(oi.spelling) + "' does not exist");
  if (std::string why = check_operands(*this, op, type, args, imm); !why.empty())
    throw InternalError("node factory: " + why);
  nodes.push_back(Node{op, type, std::move(args), std::move(regs), imm, loc});
  return static_cast<ValueId>(nodes.size() - 1);
}

RegionId Function::add_region() {
  regions.emplace_back();
  return static_cast<RegionId>(regions.size() - 1);
}

std::vector<Type> tuple_types(const Module& m, const Function& f, const Node& n) {
  std::vector<Type> out;
  switch (n.op) {
    case Op::If:
      for (ValueId y : f.regions[n.regions[0]].yields) out.push_back(f.type(y));
      return out;
    case Op::For:
      for (size_t i = 3; i < n.args.size(); ++i) out.push_back(f.type(n.args[i]));
      return out;
    case Op::While: {
      const auto& ys = f.regions[n.regions[0]].yields;
      for (size_t i = 1; i < ys.size(); ++i) out.push_back(f.type(ys[i]));
      return out;
    }
    case Op::Call:
      if (n.imm >= 0 && static_cast<size_t>(n.imm) < m.functions.size())
        return m.functions[n.imm].result_types;
      return out;
    default:
      return out;
  }
}

int64_t encode_const(Scalar s, double value) {
  switch (s) {
    case Scalar::f32: return std::bit_cast<uint32_t>(static_cast<float>(value));
    case Scalar::f64: return std::bit_cast<int64_t>(value);
    case Scalar::i1: return value != 0;
    case Scalar::i32: return static_cast<int32_t>(value);
    case Scalar::i64: return static_cast<int64_t>(value);
  }
  return 0;
}

int64_t encode_const_int(Scalar s, int64_t value) {
  switch (s) {
    case Scalar::f32: return std::bit_cast<uint32_t>(static_cast<float>(value));
    case Scalar::f64: return std::bit_cast<int64_t>(static_cast<double>(value));
    case Scalar::i1: return value != 0;
    case Scalar::i32: return static_cast<int32_t>(value);
    case Scalar::i64: return value;
  }
  return 0;
}

int64_t const_int(const Node& n) {
  switch (n.type.elem) {
    case Scalar::f32: return static_cast<int64_t>(std::bit_cast<float>(static_cast<uint32_t>(n.imm)));
    case Scalar::f64: return static_cast<int64_t>(std::bit_cast<double>(n.imm));
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: return n.imm;
  }
  return 0;
}

double const_float(const Node& n) {
  switch (n.type.elem) {
    case Scalar::f32: return std::bit_cast<float>(static_cast<uint32_t>(n.imm));
    case Scalar::f64: return std::bit_cast<double>(n.imm);
    case Scalar::i1:
    case Scalar::i32:
    case Scalar::i64: return static_cast<double>(n.imm);
  }
  return 0;
}

}  // namespace kiln::ir

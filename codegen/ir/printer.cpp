// The textual IR form. One statement per line; regions indented; values
// renumbered in order of appearance so the text is independent of node-table
// layout (and thus stable for golden tests and structural hashing).
#include <kiln/error.h>
#include <kiln/ir/printer.h>

#include "text.h"

#include <charconv>
#include <cmath>

namespace kiln::ir {
namespace {

bool plain_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

template <class T>
std::string float_text(T v) {
  if (std::isnan(v)) return std::signbit(v) ? "-nan" : "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

class Printer {
 public:
  Printer(const Function& f, const Module* m, PrintOptions opts) : f_(f), m_(m), opts_(opts) {}

  std::string run() {
    out_ += "func " + function_ref(f_.name) + "(";
    const Region& body = f_.region(f_.body);
    for (size_t i = 0; i < body.params.size(); ++i) {
      if (i) out_ += ", ";
      out_ += def(body.params[i]) + ": " + to_string(f_.type(body.params[i]));
    }
    out_ += ") -> " + type_list(f_.result_types);
    if (f_.custom_vjp >= 0)
      out_ += " custom_vjp " + (m_ && static_cast<size_t>(f_.custom_vjp) < m_->functions.size()
                                    ? function_ref(m_->functions[f_.custom_vjp].name)
                                    : "@" + std::to_string(f_.custom_vjp));
    out_ += " {\n";
    statements(body, 1);
    indent(1);
    out_ += "return" + (body.yields.empty() ? "" : " " + refs(body.yields)) + "\n}\n";
    return std::move(out_);
  }

 private:
  const Function& f_;
  const Module* m_;
  PrintOptions opts_;
  std::string out_;
  ValueNumbers numbers_;

  std::string def(ValueId v) { return numbers_.def(v); }
  std::string ref(ValueId v) const { return numbers_.ref(v); }
  std::string refs(const std::vector<ValueId>& vs, size_t from = 0) const {
    std::string s;
    for (size_t i = from; i < vs.size(); ++i) s += (i > from ? ", " : "") + ref(vs[i]);
    return s;
  }
  static std::string type_list(const std::vector<Type>& ts) {
    std::string s = "(";
    for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + to_string(ts[i]);
    return s + ")";
  }
  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  }
  static std::vector<int64_t> ints_of(int64_t id) {
    if (id < 0 || id > UINT32_MAX) return {};
    return ints(static_cast<uint32_t>(id));
  }
  static std::string int_list(const std::vector<int64_t>& xs) {
    std::string s = "[";
    for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + std::to_string(xs[i]);
    return s + "]";
  }
  void indent(int depth) { out_.append(static_cast<size_t>(depth) * 2, ' '); }
  std::string tuple_type(const Node& n) {
    if (m_) return type_list(tuple_types(*m_, f_, n));
    Module none;
    return n.op == Op::Call ? "(?)" : type_list(tuple_types(none, f_, n));
  }
  std::string callee(const Node& n) const {
    if (m_ && n.imm >= 0 && static_cast<size_t>(n.imm) < m_->functions.size())
      return function_ref(m_->functions[n.imm].name);
    return "@" + std::to_string(n.imm);
  }

  void location(const Node& n) {
    if (opts_.locations && n.loc.line() != 0) out_ += "  // " + where(n.loc);
    out_ += "\n";
  }

  void region(RegionId r, int depth) {
    const Region& reg = f_.region(r);
    if (!reg.params.empty()) {
      indent(depth - 1);
      out_ += "^(";
      for (size_t i = 0; i < reg.params.size(); ++i)
        out_ += (i ? ", " : "") + def(reg.params[i]) + ": " + to_string(f_.type(reg.params[i]));
      out_ += "):\n";
    }
    statements(reg, depth);
    indent(depth);
    out_ += reg.yields.empty() ? "yield\n" : "yield " + refs(reg.yields) + "\n";
  }

  void statements(const Region& reg, int depth) {
    for (ValueId v : reg.body) statement(v, depth);
  }

  void statement(ValueId v, int depth) {
    const Node& n = f_.node(v);
    std::string_view op = info(n.op).spelling;
    indent(depth);
    std::string lhs = n.type.kind == TypeKind::void_ ? "" : def(v) + " = ";
    switch (n.op) {
      case Op::Const:
        out_ += lhs + "const " + const_text(n) + " : " + to_string(n.type);
        break;
      case Op::Param:
        out_ += lhs + "param " + std::to_string(n.imm) + " : " + to_string(n.type);
        break;
      case Op::Get:
        out_ += lhs + "get " + ref(n.args[0]) + ", " + std::to_string(n.imm) + " : " + to_string(n.type);
        break;
      case Op::Load:
        out_ += lhs + "load " + ref(n.args[0]) + "[" + ref(n.args[1]) + "] : " + to_string(n.type);
        break;
      case Op::Store:
        out_ += "store " + ref(n.args[0]) + "[" + ref(n.args[1]) + "], " + ref(n.args[2]);
        break;
      case Op::VarLoad:
        out_ += lhs + "var.load $" + std::to_string(n.imm) + " : " + to_string(n.type);
        break;
      case Op::VarStore:
        out_ += "var.store $" + std::to_string(n.imm) + ", " + ref(n.args[0]);
        break;
      case Op::TapePop:
        out_ += lhs + "tape.pop " + std::to_string(n.imm) + " : " + to_string(n.type);
        break;
      case Op::TapePush:
        out_ += "tape.push " + std::to_string(n.imm) + ", " + ref(n.args[0]);
        break;
      case Op::TapeReserve:
      case Op::TapeRelease:
        out_ += lhs + std::string(op) + " " + std::to_string(n.imm) + ", " + ref(n.args[0]) + " : " + to_string(n.type);
        break;
      case Op::Call:
        out_ += lhs + "call " + callee(n) + "(" + refs(n.args) + ") : " + tuple_type(n);
        break;
      case Op::If:
        out_ += lhs + "if " + ref(n.args[0]) + " : " + tuple_type(n) + " {";
        location(n);
        region(n.regions[0], depth + 1);
        indent(depth);
        out_ += "} else {\n";
        region(n.regions[1], depth + 1);
        indent(depth);
        out_ += "}\n";
        return;
      case Op::For:
        out_ += lhs + "for " + refs({n.args.begin(), n.args.begin() + 3}) + " iter(" + refs(n.args, 3) +
                ") : " + tuple_type(n) + " {";
        location(n);
        region(n.regions[0], depth + 1);
        indent(depth);
        out_ += "}\n";
        return;
      case Op::While:
        out_ += lhs + "while (" + refs(n.args) + ") : " + tuple_type(n) + " {";
        location(n);
        region(n.regions[0], depth + 1);
        indent(depth);
        out_ += "} do {\n";
        region(n.regions[1], depth + 1);
        indent(depth);
        out_ += "}\n";
        return;
      case Op::ParallelFor:
        out_ += "parallel_for " + refs(n.args) + " {";
        location(n);
        region(n.regions[0], depth + 1);
        indent(depth);
        out_ += "}\n";
        return;
      case Op::Check: {
        auto [what, remedy] = message(n.imm);
        out_ += "check " + ref(n.args[0]) + ", \"" + escape(what) + "\", \"" + escape(remedy) + "\"";
        break;
      }
      case Op::Alloc:
        out_ += lhs + "alloc " + std::to_string(n.imm) + " : " + to_string(n.type);
        break;
      case Op::Gemm:
        out_ += "gemm " + refs(n.args) + " " + int_list(ints_of(n.imm));
        break;
      case Op::TensorConst: {
        std::string s;
        Node e = n;
        e.type = n.type.element();
        std::vector<int64_t> xs = ints_of(n.imm);
        for (size_t k = 0; k < xs.size(); ++k) {
          e.imm = xs[k];
          s += (k ? ", " : "") + const_text(e);
        }
        out_ += lhs + std::string(op) + " [" + s + "] : " + to_string(n.type);
        break;
      }
      case Op::Transpose:
        out_ += lhs + std::string(op) + " " + ref(n.args[0]) + " " + int_list(ints_of(n.imm)) + " : " + to_string(n.type);
        break;
      case Op::Slice:
      case Op::Embed: {
        std::vector<int64_t> a = ints_of(n.imm);
        std::string s;
        for (size_t k = 0; k + 1 < a.size(); k += 2)
          s += (k ? ", " : "") + std::to_string(a[k]) + ":" + std::to_string(a[k + 1]);
        out_ += lhs + std::string(op) + " " + ref(n.args[0]) + " [" + s + "] : " + to_string(n.type);
        break;
      }
      case Op::ReduceSum:
      case Op::ReduceMax: {
        std::vector<int64_t> axes;
        for (size_t k = 0; k < 63; ++k)
          if (reduces_axis(n.imm, k)) axes.push_back(static_cast<int64_t>(k));
        out_ += lhs + std::string(op) + " " + ref(n.args[0]) + " axes " + int_list(axes) + " : " + to_string(n.type);
        break;
      }
      case Op::TensorLoad:
        out_ += lhs + std::string(op) + (n.imm ? " exact " : " ") + ref(n.args[0]) + "[" + ref(n.args[1]) + "] : " +
                to_string(n.type);
        break;
      case Op::TensorStore:
        out_ += std::string(op) + (n.imm ? " exact " : " ") + ref(n.args[1]) + "[" + ref(n.args[2]) + "], " +
                ref(n.args[0]);
        break;
      case Op::Splat: case Op::Iota: case Op::Broadcast: case Op::Reshape: case Op::Matmul:
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
      case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast: case Op::Add:
      case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max:
      case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr:
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Fma: case Op::Select: case Op::Size: case Op::Disjoint:
        out_ += lhs + std::string(op) + (n.args.empty() ? "" : " ") + refs(n.args) + " : " + to_string(n.type);
        break;
    }
    location(n);
  }
};

}  // namespace

std::string function_ref(std::string_view name) {
  if (plain_name(name)) return std::string("@").append(name);
  std::string out = "@\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string const_text(const Node& n) {
  switch (n.type.elem) {
    case Scalar::i1: return n.imm ? "true" : "false";
    case Scalar::i32:
    case Scalar::i64: return std::to_string(n.imm);
    case Scalar::f32: return float_text(static_cast<float>(const_float(n)));
    case Scalar::f64: return float_text(const_float(n));
  }
  return "?";
}

std::string print(const Function& f, const Module* m, PrintOptions opts) {
  return Printer(f, m, opts).run();
}

std::string print(const Module& m, PrintOptions opts) {
  std::string out;
  for (size_t i = 0; i < m.functions.size(); ++i) {
    if (i) out += "\n";
    out += print(m.functions[i], &m, opts);
  }
  return out;
}

}  // namespace kiln::ir

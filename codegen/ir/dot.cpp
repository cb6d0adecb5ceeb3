// The Graphviz form of the IR. Boxes are declared inside the cluster of the
// region that lists them; every edge is declared after them, at function
// level, because an edge declared inside a cluster would pull a node it
// names from elsewhere into that cluster. Dot ids count boxes and clusters
// in order of appearance, like value numbers, so the text depends on the
// program, not on node-table layout.
#include <kiln/ir/dot.h>

#include "text.h"

#include <cstdio>
#include <unordered_map>

namespace kiln::ir {
namespace {

// Graphviz gives a quoted string escapes of its own (\" and \\, and \n, \l,
// \N, \G for line breaks and object names) and decodes HTML entities in
// every label. User text (function, parameter and file names) must show as
// typed: quotes and backslashes escaped, & < > as entities, control
// characters as the visible text \xNN.
std::string literal(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\\\x%02x", static_cast<unsigned char>(c));
          out += buf;
          continue;
        }
        out += c;
    }
  }
  return out;
}

// Lines of a label, each already made literal, joined by Graphviz's \n.
std::string lines(const std::vector<std::string>& ls) {
  std::string out;
  for (const std::string& l : ls) out += (out.empty() ? "" : "\\n") + l;
  return out;
}

std::string file_line(const std::source_location& loc) {
  std::string_view file = loc.file_name();
  size_t slash = file.find_last_of('/');
  if (slash != std::string_view::npos) file.remove_prefix(slash + 1);
  return std::string(file) + ":" + std::to_string(loc.line());
}

std::string int_list(int64_t id) {
  std::vector<int64_t> xs = id >= 0 && id <= UINT32_MAX ? ints(static_cast<uint32_t>(id)) : std::vector<int64_t>{};
  std::string s = "[";
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + std::to_string(xs[i]);
  return s + "]";
}

class DotWriter {
 public:
  DotWriter(const Function& f, const Module* m, DotOptions opts, size_t index)
      : f_(f), m_(m), opts_(opts), prefix_(std::string("f").append(std::to_string(index)).append("_")) {}

  std::string run() {
    const Region& body = f_.region(f_.body);
    out_ += "  subgraph cluster_" + prefix_ + "func {\n";
    std::string header = function_ref(f_.name);
    for (size_t i = 0; i < f_.param_names.size(); ++i) {
      header += i ? ", " : "(";
      header += f_.param_names[i];
    }
    if (!f_.param_names.empty()) header += ")";
    out_ += "    label=\"" + literal(header) + "\";\n    style=\"rounded,bold\";\n";
    for (size_t i = 0; i < body.params.size(); ++i)
      parameter(body.params[i], i < f_.param_names.size() ? f_.param_names[i] : "", 2);
    statements(body, 2, no_value);
    // Edges last: only now is every listed value's box known (broken IR may
    // use a value before the statement that defines it).
    std::string edges;
    for (const Link& l : links_) {
      std::string from = l.from_box.empty() ? box(l.from) : l.from_box;
      edges += "    " + from + " -> " + l.to + style(l.kind) + ";\n";
    }
    out_ += missing_boxes_ + edges + "  }\n";
    return std::move(out_);
  }

 private:
  const Function& f_;
  const Module* m_;
  DotOptions opts_;
  std::string prefix_;
  std::string out_;
  ValueNumbers numbers_;
  std::unordered_map<ValueId, std::string> box_;  // listed values, and unlisted ones once drawn
  std::string missing_boxes_;
  // Solid: data, operand to user. Dashed: the order effects keep. Dotted:
  // a region ends and hands no value to its op.
  enum class Edge { data, effect, region_end };
  struct Link {
    ValueId from;          // a value's box, found when the edges are written
    std::string from_box;  // or a box that is no value's (a yield)
    std::string to;
    Edge kind;
  };
  std::vector<Link> links_;
  int boxes_ = 0;
  int clusters_ = 0;

  void indent(int depth) { out_.append(static_cast<size_t>(depth) * 2, ' '); }

  std::string new_box(int depth, const std::string& label, const char* fill) {
    std::string id = prefix_ + std::to_string(boxes_++);
    indent(depth);
    out_ += id + " [label=\"" + label + "\"" + (fill ? std::string(", fillcolor=\"") + fill + "\"" : "") + "];\n";
    return id;
  }

  // The box of v; for a value no region lists (broken IR), a dotted box
  // drawn once.
  std::string box(ValueId v) {
    if (auto it = box_.find(v); it != box_.end()) return it->second;
    std::string id = prefix_ + "missing" + std::to_string(v);
    missing_boxes_ += "    " + id + " [label=\"%?" + std::to_string(v) + " (in no region)\", style=dotted];\n";
    return box_.emplace(v, id).first->second;
  }

  static const char* style(Edge kind) {
    switch (kind) {
      case Edge::data: return "";
      case Edge::effect: return " [style=dashed, color=gray40]";
      case Edge::region_end: return " [style=dotted]";
    }
    return "";
  }

  std::string refs(const std::vector<ValueId>& vs, size_t from = 0, size_t to = SIZE_MAX) const {
    std::string s;
    for (size_t i = from; i < vs.size() && i < to; ++i) s += (i > from ? ", " : "") + numbers_.ref(vs[i]);
    return s;
  }

  std::string type_text(const Node& n) const {
    if (n.type.kind == TypeKind::void_) return "";
    if (n.type.kind != TypeKind::tuple) return " : " + to_string(n.type);
    if (!m_ && n.op == Op::Call) return " : (?)";
    Module none;
    std::vector<Type> ts = tuple_types(m_ ? *m_ : none, f_, n);
    std::string s = " : (";
    for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + to_string(ts[i]);
    return s + ")";
  }

  std::string callee(const Node& n) const {
    if (m_ && n.imm >= 0 && static_cast<size_t>(n.imm) < m_->functions.size())
      return function_ref(m_->functions[n.imm].name);
    return std::string("@").append(std::to_string(n.imm));
  }

  // The statement as one line, close to the text printer's: operands by
  // number, attributes (constants, indices, callees) where the op has one.
  std::string statement_text(const Node& n, const std::string& lhs) const {
    std::string op(info(n.op).spelling);
    std::string args = refs(n.args);
    switch (n.op) {
      case Op::Const: return lhs + op + " " + const_text(n);
      case Op::Param:
      case Op::Alloc: return lhs + op + " " + std::to_string(n.imm);
      case Op::Get: return lhs + op + " " + args + ", " + std::to_string(n.imm);
      case Op::Load: return lhs + op + " " + refs(n.args, 0, 1) + "[" + refs(n.args, 1, 2) + "]";
      case Op::Store: return op + " " + refs(n.args, 0, 1) + "[" + refs(n.args, 1, 2) + "], " + refs(n.args, 2);
      case Op::VarLoad: return lhs + op + " $" + std::to_string(n.imm);
      case Op::VarStore: return op + " $" + std::to_string(n.imm) + ", " + args;
      case Op::TapePop: return lhs + op + " " + std::to_string(n.imm);
      case Op::TapePush:
      case Op::TapeReserve:
      case Op::TapeRelease: return lhs + op + " " + std::to_string(n.imm) + ", " + args;
      case Op::Call: return lhs + op + " " + callee(n) + "(" + args + ")";
      case Op::Check: return op + " " + args + ", \"" + message(n.imm).first + "\"";
      case Op::Gemm:
      case Op::Transpose:
      case Op::Slice:
      case Op::Embed: return lhs + op + " " + args + " " + int_list(n.imm);
      case Op::TensorConst: return lhs + op + " " + int_list(n.imm);
      case Op::ReduceSum:
      case Op::ReduceMax: return lhs + op + " " + args + " mask " + std::to_string(n.imm);
      case Op::TensorLoad:
      case Op::TensorStore: return lhs + op + (n.imm ? " exact " : " ") + args;
      case Op::For: return lhs + op + " " + refs(n.args, 0, 3) + " iter(" + refs(n.args, 3) + ")";
      case Op::While: return lhs + op + " (" + args + ")";
      case Op::If: case Op::ParallelFor:
      case Op::Splat: case Op::Iota: case Op::Broadcast: case Op::Reshape: case Op::Matmul:
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
      case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast: case Op::Add:
      case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max:
      case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr:
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Fma: case Op::Select: case Op::Size: case Op::Disjoint:
        return lhs + op + (args.empty() ? "" : " ") + args;
    }
    return lhs + op;
  }

  // What each region of a structured op is called in docs/ir.md.
  static const char* region_role(Op op, size_t i) {
    if (op == Op::If) return i == 0 ? "then" : "else";
    if (op == Op::While) return i == 0 ? "cond" : "body";
    return "body";
  }

  bool effectful(ValueId v) const {
    const Node& n = f_.node(v);
    if (info(n.op).effect == Effect::effect) return true;
    for (RegionId r : n.regions)
      for (ValueId u : f_.region(r).body)
        if (effectful(u)) return true;
    return false;
  }

  static const char* fill(const Node& n) {
    switch (info(n.op).effect) {
      case Effect::pure: return n.op == Op::Param || n.op == Op::Const ? "gray92" : nullptr;
      case Effect::effect: return "#fde0c5";
      case Effect::structured: return "#d7e6f7";
    }
    return nullptr;
  }

  std::string label(const Node& n, std::string text, const std::string& name) const {
    std::vector<std::string> ls{literal(text + type_text(n))};
    if (!name.empty()) ls.push_back(literal(name));
    if (opts_.locations && n.loc.line() != 0) ls.push_back(literal(file_line(n.loc)));
    return lines(ls);
  }

  void parameter(ValueId v, const std::string& name, int depth) {
    const Node& n = f_.node(v);
    std::string lhs = numbers_.def(v) + " = ";
    box_[v] = new_box(depth, label(n, statement_text(n, lhs), name), fill(n));
  }

  void statements(const Region& reg, int depth, ValueId owner) {
    ValueId last_effect = no_value;
    for (ValueId v : reg.body) {
      std::string id = statement(v, depth);
      if (!opts_.effect_edges || !effectful(v)) continue;
      if (last_effect != no_value) links_.push_back({last_effect, "", id, Edge::effect});
      last_effect = v;
    }
    // Like the text, every region ends in a yield (the function in a
    // return); its edge to the owning op ties the cluster to that op, dotted
    // when no value flows along it.
    std::string word = owner == no_value ? "return" : "yield";
    std::string id = new_box(depth, literal(reg.yields.empty() ? word : word + " " + refs(reg.yields)), nullptr);
    for (ValueId y : reg.yields) links_.push_back({y, "", id, Edge::data});
    if (owner == no_value) return;
    links_.push_back({no_value, id, box_.at(owner), reg.yields.empty() ? Edge::region_end : Edge::data});
  }

  std::string statement(ValueId v, int depth) {
    const Node& n = f_.node(v);
    // As in the text: the op's own number comes before its regions' numbers.
    std::string lhs = n.type.kind == TypeKind::void_ ? "" : numbers_.def(v) + " = ";
    std::string id = new_box(depth, label(n, statement_text(n, lhs), ""), fill(n));
    box_[v] = id;
    for (ValueId a : n.args) links_.push_back({a, "", id, Edge::data});
    for (size_t i = 0; i < n.regions.size(); ++i) {
      const Region& reg = f_.region(n.regions[i]);
      indent(depth);
      out_ += "subgraph cluster_" + prefix_ + "r" + std::to_string(clusters_++) + " {\n";
      std::string title = std::string(info(n.op).spelling) + " " + region_role(n.op, i);
      if (!lhs.empty()) title += " of " + numbers_.ref(v);
      indent(depth + 1);
      out_ += "label=\"" + literal(title) + "\"; style=rounded; color=gray55;\n";
      for (size_t k = 0; k < reg.params.size(); ++k) parameter(reg.params[k], "", depth + 1);
      statements(reg, depth + 1, v);
      indent(depth);
      out_ += "}\n";
    }
    return id;
  }
};

std::string digraph(const std::string& clusters) {
  return "digraph kiln {\n"
         "  graph [fontname=\"Helvetica\", fontsize=11, labeljust=l, newrank=true];\n"
         "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Courier\", fontsize=10];\n"
         "  edge [arrowsize=0.6];\n" +
         clusters + "}\n";
}

}  // namespace

std::string print_dot(const Function& f, const Module* m, DotOptions opts) {
  return digraph(DotWriter(f, m, opts, 0).run());
}

std::string print_dot(const Module& m, DotOptions opts) {
  std::string clusters;
  for (size_t i = 0; i < m.functions.size(); ++i) clusters += DotWriter(m.functions[i], &m, opts, i).run();
  return digraph(clusters);
}

}  // namespace kiln::ir

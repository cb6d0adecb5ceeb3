// The C-family printer. Why it looks the way it does:
// * Every value that has a use gets its own `const` temporary, so the text
//   reads like the IR and each line can be matched to an IR node.
// * Constants are written inline, exactly (shortest round-trip decimal).
// * Tuple results (if, loops, calls) are variables declared before the
//   statement and assigned in it; `get` nodes just name them.
// * Loop-carried values are assigned all at once at the end of an iteration;
//   when one yield reads another carried variable the new values go through
//   temporaries first.
#include "c_family.h"

#include <kiln/error.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <limits>

namespace kiln::emit {
namespace {

using namespace ir;

enum class Kind { floating, integer, boolean };

Kind kind_of(Scalar s) {
  switch (s) {
    case Scalar::f32:
    case Scalar::f64: return Kind::floating;
    case Scalar::i32:
    case Scalar::i64: return Kind::integer;
    case Scalar::i1: return Kind::boolean;
  }
  return Kind::integer;
}

// The operator table: one row per op, a pattern for float, integer and bool
// operands. $0 $1 $2 are operands, $M the shift mask, $W the trap message.
// kiln_* are helpers each dialect defines; kiln_math::sqrt & co. are the C
// library's functions (cpp.cpp: GCC's and Clang's builtins, or <cmath>;
// cuda.cpp: CUDA's math functions).
struct Row {
  Op op;
  const char* floating;
  const char* integer;
  const char* boolean;
};

constexpr Row rows[] = {
    {Op::Neg, "-$0", "kiln_neg($0)", ""},
    {Op::Abs, "kiln_math::fabs($0)", "kiln_abs($0)", ""},
    {Op::Not, "", "~$0", "!$0"},
    {Op::Sqrt, "kiln_math::sqrt($0)", "", ""},
    {Op::Exp, "kiln_exp($0)", "", ""},
    {Op::Log, "kiln_log($0)", "", ""},
    {Op::Sin, "kiln_sin($0)", "", ""},
    {Op::Cos, "kiln_cos($0)", "", ""},
    {Op::Tanh, "kiln_tanh($0)", "", ""},
    {Op::Floor, "kiln_math::floor($0)", "", ""},
    {Op::Add, "$0 + $1", "kiln_add($0, $1)", ""},
    {Op::Sub, "$0 - $1", "kiln_sub($0, $1)", ""},
    {Op::Mul, "$0 * $1", "kiln_mul($0, $1)", ""},
    {Op::Div, "$0 / $1", "kiln_div($0, $1, $W)", ""},
    {Op::Rem, "kiln_math::fmod($0, $1)", "kiln_rem($0, $1, $W)", ""},
    {Op::Min, "$1 < $0 ? $1 : $0", "$1 < $0 ? $1 : $0", ""},
    {Op::Max, "$0 < $1 ? $1 : $0", "$0 < $1 ? $1 : $0", ""},
    {Op::Pow, "kiln_pow($0, $1)", "", ""},
    {Op::And, "", "$0 & $1", "$0 && $1"},
    {Op::Or, "", "$0 | $1", "$0 || $1"},
    {Op::Xor, "", "$0 ^ $1", "$0 != $1"},
    {Op::Shl, "", "kiln_shl($0, $1)", ""},
    {Op::Shr, "", "$0 >> ($1 & $M)", ""},
    {Op::Eq, "$0 == $1", "$0 == $1", "$0 == $1"},
    {Op::Ne, "$0 != $1", "$0 != $1", "$0 != $1"},
    {Op::Lt, "$0 < $1", "$0 < $1", "$0 < $1"},
    {Op::Le, "$0 <= $1", "$0 <= $1", "$0 <= $1"},
    {Op::Gt, "$0 > $1", "$0 > $1", "$0 > $1"},
    {Op::Ge, "$0 >= $1", "$0 >= $1", "$0 >= $1"},
    {Op::Fma, "kiln_math::fma($0, $1, $2)", "", ""},
    {Op::Select, "$0 ? $1 : $2", "$0 ? $1 : $2", "$0 ? $1 : $2"},
};

std::string substitute(std::string_view pattern, const std::vector<std::string>& a, const std::string& mask,
                       const std::string& message) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '$' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    char c = pattern[++i];
    if (c >= '0' && c <= '2') out += a.at(static_cast<size_t>(c - '0'));
    else if (c == 'M') out += mask;
    else if (c == 'W') out += message;
    else throw InternalError(std::string("C-family spelling with an unknown placeholder $") + c);
  }
  return out;
}

std::string basename(const char* path) {
  std::string_view p = path ? path : "";
  size_t slash = p.find_last_of("/\\");
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

std::string location(const std::source_location& loc) {
  if (loc.line() == 0) return "";
  return basename(loc.file_name()) + ":" + std::to_string(loc.line());
}

// "!c" for a plain name, "!(expr)" otherwise.
std::string negate(const std::string& e) {
  bool plain = !e.empty() && e.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
  return plain ? "!" + e : "!(" + e + ")";
}

std::string shortest(double x, bool single) {
  char buf[64];
  std::to_chars_result r = single ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(x))
                                  : std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// Per-function printing state.
class Writer {
 public:
  Writer(const Dialect& d, const Module& m, size_t index, std::string_view name, const std::vector<std::string>& callees,
         const Namer& globals)
      : d_(d), m_(m), f_(m.functions[index]), name_(name), fnames_(callees), names_(&globals),
        expr_(f_.nodes.size()), size_(f_.nodes.size()), tuple_(f_.nodes.size()), uses_(f_.nodes.size(), 0) {
    count_uses();
  }

  std::string run(std::string_view prefix) {
    SignatureNames sig = name_signature(f_, names_);
    std::vector<ParamUse> used;
    const auto& params = f_.params();
    for (size_t i = 0; i < params.size(); ++i) {
      expr_[params[i]] = sig.params[i];
      size_[params[i]] = sig.sizes[i];
      const bool buffer = f_.type(params[i]).kind == TypeKind::buf;
      // A buffer used only through size(): its pointer is unread.
      used.push_back({uses_[params[i]] > 0 && !(buffer && !pointer_read_.count(params[i])),
                      buffer && size_read_.count(params[i]) > 0});
    }
    std::string head = std::string(prefix) + return_type(d_, f_) + " " + std::string(name_) + "(" +
                       parameter_list(d_, f_, sig, &used) + ") {\n";
    region(f_.body);
    const auto& ys = f_.region(f_.body).yields;
    if (ys.size() == 1) line("return " + expr_[ys[0]] + ";");
    for (size_t k = 0; ys.size() > 1 && k < ys.size(); ++k) line("*" + sig.outs[k] + " = " + expr_[ys[k]] + ";");
    return head + out_ + "}\n";
  }

 private:
  void count_uses() {
    walk(f_, [&](ValueId v) {
      for (ValueId a : f_.node(v).args) ++uses_[a];
      for (RegionId r : f_.node(v).regions)
        for (ValueId y : f_.region(r).yields) ++uses_[y];
    });
    for (ValueId y : f_.region(f_.body).yields) ++uses_[y];
    // Which tuple elements are read; which buffers' pointers and sizes are
    // read (a pointer by anything but size(), a size by a used size() or a
    // call, which passes it on).
    walk(f_, [&](ValueId v) {
      const Node& n = f_.node(v);
      if (n.op == Op::Size) {
        if (uses_[v] > 0) size_read_.insert(n.args[0]);
      } else {
        for (ValueId a : n.args) pointer_read_.insert(a);
      }
      if (n.op == Op::Call || (n.op == Op::Disjoint && uses_[v] > 0))
        for (ValueId a : n.args) size_read_.insert(a);
      if (n.op != Op::Get || uses_[v] == 0) return;
      auto& used = elem_used_[n.args[0]];
      size_t k = static_cast<size_t>(n.imm);
      if (used.size() <= k) used.resize(k + 1, false);
      used[k] = true;
    });
  }

  bool elem_used(ValueId tuple, size_t k) const {
    auto it = elem_used_.find(tuple);
    return it != elem_used_.end() && k < it->second.size() && it->second[k];
  }


  void line(const std::string& text) {
    out_.append(static_cast<size_t>(depth_) * 2, ' ');
    out_ += text;
    out_ += '\n';
  }

  void locate(const Node& n) {
    std::string at = location(n.loc);
    if (at.empty() || at == last_loc_) return;
    last_loc_ = at;
    line("// " + comment_text(at));
  }

  std::string type_of(ValueId v) const { return d_.scalar_type(f_.type(v).elem); }
  std::string trap_message(const Node& n, const std::string& what, const std::string& remedy) const {
    std::string at = location(n.loc);
    return string_literal(what + " in @" + f_.name + (at.empty() ? "" : " (" + at + ")") + ": " + remedy);
  }

  std::string define(ValueId v, const std::string& expression) {
    std::string name = names_.fresh("t");
    line("const " + type_of(v) + " " + name + " = " + expression + ";");
    return name;
  }

  void region(RegionId r) {
    for (ValueId v : f_.region(r).body) node(v);
  }

  // Writes a region into a separate buffer (to drop empty branches).
  std::string block(RegionId r, const std::vector<std::string>& targets) {
    std::string saved;
    std::swap(saved, out_);
    ++depth_;
    region(r);
    assign(targets, f_.region(r).yields, 0);
    --depth_;
    std::swap(saved, out_);
    return saved;
  }

  // targets[k] = yields[from + k] as one parallel assignment; "" targets skip.
  // Where products[k], the value goes through Dialect::carried_product.
  void assign(const std::vector<std::string>& targets, const std::vector<ValueId>& yields, size_t from,
              const std::vector<bool>& products = {}) {
    bool clash = false;
    for (size_t k = 0; k < targets.size(); ++k)
      for (size_t j = 0; j < targets.size(); ++j)
        if (j != k && !targets[j].empty() && expr_[yields[from + k]] == targets[j]) clash = true;
    std::vector<std::string> source(targets.size());
    for (size_t k = 0; k < targets.size(); ++k) {
      if (targets[k].empty() || expr_[yields[from + k]] == targets[k]) continue;
      source[k] = clash ? define(yields[from + k], expr_[yields[from + k]]) : expr_[yields[from + k]];
    }
    for (size_t k = 0; k < targets.size(); ++k) {
      if (source[k].empty()) continue;
      const bool product = k < products.size() && products[k];
      line(targets[k] + " = " + (product ? d_.carried_product(f_.type(yields[from + k]).elem, source[k]) : source[k]) +
           ";");
    }
  }

  // Dependence on a loop's carried values within one iteration, for
  // carried_products: `on` holds the values computed from a carried value,
  // `product` those computed from an integer multiplication of one. A
  // region-holding node depends on whatever its arguments or any value used
  // inside it depend on. Conservatively, every parameter of a nested region
  // inherits the dependence of the node's arguments and of the region's
  // yields (an inner loop's next iteration); callers repeat the walk until
  // nothing changes.
  struct Dependence {
    std::unordered_set<ValueId> on, product;
    size_t size() const { return on.size() + product.size(); }
    // Sets on_ (product_) when any of `values` is in `on` (`product`).
    void of(const std::vector<ValueId>& values, bool& on_, bool& product_) const {
      for (ValueId v : values) {
        on_ = on_ || on.count(v) > 0;
        product_ = product_ || product.count(v) > 0;
      }
    }
  };

  void depend(RegionId r, Dependence& d) const {
    for (ValueId v : f_.region(r).body) {
      const Node& n = f_.node(v);
      bool on = false, product = false;
      d.of(n.args, on, product);
      for (RegionId inner : n.regions) {
        const Region& in = f_.region(inner);
        bool inner_on = on, inner_product = product;
        d.of(in.yields, inner_on, inner_product);
        for (ValueId p : in.params) {
          if (inner_on) d.on.insert(p);
          if (inner_product) d.product.insert(p);
        }
        depend(inner, d);
        d.of(in.body, on, product);
        d.of(in.yields, on, product);
      }
      if (on && n.op == Op::Mul && kind_of(f_.type(v).elem) == Kind::integer) product = true;
      if (on) d.on.insert(v);
      if (product) d.product.insert(v);
    }
  }

  // Per carried value k (seeded at params[k], reaching yields[k] through
  // `regions` in order, each region's parameters fed by the previous one's
  // yields after `skip` of them): whether its next value is an integer
  // computed from a multiplication of its current one.
  std::vector<bool> carried_products(const std::vector<ValueId>& params, const std::vector<RegionId>& regions,
                                     size_t skip) const {
    std::vector<bool> out(params.size(), false);
    for (size_t k = 0; k < params.size(); ++k) {
      const Type& t = f_.type(params[k]);
      if (t.kind != TypeKind::scalar || kind_of(t.elem) != Kind::integer) continue;
      Dependence d;
      d.on.insert(params[k]);
      for (size_t before = 0; before != d.size();) {
        before = d.size();
        for (size_t i = 0; i < regions.size(); ++i) {
          if (i > 0) {
            const Region& last = f_.region(regions[i - 1]);
            const Region& now = f_.region(regions[i]);
            for (size_t j = 0; j < now.params.size() && j + skip < last.yields.size(); ++j) {
              if (d.on.count(last.yields[j + skip])) d.on.insert(now.params[j]);
              if (d.product.count(last.yields[j + skip])) d.product.insert(now.params[j]);
            }
          }
          depend(regions[i], d);
        }
      }
      out[k] = d.product.count(f_.region(regions.back()).yields[k]) > 0;
    }
    return out;
  }

  void node(ValueId v) {
    const Node& n = f_.node(v);
    switch (n.op) {
      case Op::Const:
        expr_[v] = d_.constant(n.type.elem, n.imm);
        return;
      case Op::Param:
        return;  // named by the signature or the owning loop
      case Op::Size:
        expr_[v] = size_[n.args[0]];
        return;
      case Op::Disjoint:  // kiln_disjoint: a helper of both dialects (cpp.cpp, cuda.cpp)
        if (uses_[v] == 0) return;
        locate(n);
        expr_[v] = define(v, "kiln_disjoint(" + expr_[n.args[0]] + ", " + size_[n.args[0]] + ", " + expr_[n.args[1]] +
                                 ", " + size_[n.args[1]] + ")");
        return;
      case Op::Get:
        expr_[v] = tuple_[n.args[0]].at(static_cast<size_t>(n.imm));
        return;
      case Op::Load:
        if (uses_[v] == 0) return;
        locate(n);
        expr_[v] = define(v, expr_[n.args[0]] + "[" + expr_[n.args[1]] + "]");
        return;
      case Op::Store:
        locate(n);
        line(expr_[n.args[0]] + "[" + expr_[n.args[1]] + "] = " + expr_[n.args[2]] + ";");
        return;
      case Op::TapePush:
        locate(n);
        line("kiln_tape_push(" + std::to_string(n.imm) + ", " + expr_[n.args[0]] + ");");
        return;
      case Op::TapePop: {
        locate(n);
        const std::string pop = "kiln_tape_pop<" + type_of(v) + ">(" + std::to_string(n.imm) + ")";
        if (uses_[v] == 0)
          line(pop + ";");
        else
          expr_[v] = define(v, pop);
        return;
      }
      case Op::TapeReserve:
      case Op::TapeRelease: {
        locate(n);
        const std::string name = names_.fresh("tape_buffer");
        const std::string fn = n.op == Op::TapeReserve ? "kiln_tape_reserve<" : "kiln_tape_release<";
        const std::string elem = d_.scalar_type(n.type.elem);
        line(elem + "* const " + name + " = " + fn + elem + ">(" + std::to_string(n.imm) + ", " + expr_[n.args[0]] + ");");
        expr_[v] = name;
        size_[v] = expr_[n.args[0]];
        return;
      }
      case Op::Check: {
        locate(n);
        auto [what, remedy] = message(n.imm);
        line("if (!" + expr_[n.args[0]] + ") " + d_.trap(trap_message(n, what, remedy)));
        return;
      }
      case Op::Gemm: {  // a plain loop nest: gemm promises no order (fast_math only)
        locate(n);
        const GemmShape g = gemm_shape(n.imm);
        const std::string m = d_.constant(Scalar::i64, g.m), k = d_.constant(Scalar::i64, g.k),
                          nn = d_.constant(Scalar::i64, g.n);
        const std::string i = names_.fresh("gi"), j = names_.fresh("gj"), p = names_.fresh("gp"), s = names_.fresh("gs");
        const std::string a = expr_[n.args[0]], ao = expr_[n.args[1]], b = expr_[n.args[2]], bo = expr_[n.args[3]],
                          c = expr_[n.args[4]];
        line("for (int64_t " + i + " = 0; " + i + " < " + m + "; ++" + i + ")");
        line("  for (int64_t " + j + " = 0; " + j + " < " + nn + "; ++" + j + ") {");
        line("    " + d_.scalar_type(f_.type(n.args[0]).elem) + " " + s + " = 0;");
        line("    for (int64_t " + p + " = 0; " + p + " < " + k + "; ++" + p + ")");
        const std::string a_at = g.trans_a ? p + " * " + m + " + " + i : i + " * " + k + " + " + p;
        const std::string b_at = g.trans_b ? j + " * " + k + " + " + p : p + " * " + nn + " + " + j;
        line("      " + s + " += " + a + "[" + ao + " + " + a_at + "] * " + b + "[" + bo + " + " + b_at + "];");
        line("    " + c + "[" + i + " * " + nn + " + " + j + "] = " + s + ";");
        line("  }");
        return;
      }
      case Op::Alloc: {
        locate(n);
        const std::string name = names_.fresh("scratch");
        std::string text = d_.alloc(n.type.elem, name, std::to_string(n.imm));
        for (size_t at = 0; at <= text.size();) {
          size_t nl = text.find('\n', at);
          if (nl == std::string::npos) nl = text.size();
          line(text.substr(at, nl - at));
          at = nl + 1;
        }
        expr_[v] = name;
        size_[v] = d_.constant(Scalar::i64, n.imm);
        return;
      }
      case Op::Splat: case Op::Iota: case Op::TensorConst: case Op::Broadcast: case Op::Transpose: case Op::Reshape:
      case Op::Slice: case Op::Embed: case Op::ReduceSum: case Op::ReduceMax: case Op::Matmul:
      case Op::TensorLoad: case Op::TensorStore:
        throw InternalError("the C-family emitter met " + std::string(info(n.op).spelling) +
                            ": tensor ops must be lowered before emission");
      case Op::Call:
        call(v, n);
        return;
      case Op::If:
        if_(v, n);
        return;
      case Op::For:
      case Op::ParallelFor:
        for_(v, n);
        return;
      case Op::While:
        while_(v, n);
        return;
      case Op::VarLoad:
      case Op::VarStore:
        throw InternalError("the C-family emitter met " + std::string(info(n.op).spelling) +
                            ": variables must be promoted before emission");
      case Op::Cast:
        if (uses_[v] == 0) return;
        locate(n);
        expr_[v] = define(v, d_.cast(f_.type(n.args[0]).elem, n.type.elem, expr_[n.args[0]]));
        return;
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
      case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Add: case Op::Sub:
      case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max: case Op::Pow:
      case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr: case Op::Eq:
      case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Fma:
      case Op::Select:
        if (uses_[v] == 0) return;
        locate(n);
        expr_[v] = define(v, scalar(n));
        return;
    }
  }

  std::string scalar(const Node& n) {
    // Select is typed by its values, comparisons by their operands.
    Scalar s = n.op == Op::Select ? f_.type(n.args[1]).elem : n.args.empty() ? n.type.elem : f_.type(n.args[0]).elem;
    std::vector<std::string> a;
    for (ValueId x : n.args) a.push_back(expr_[x]);
    std::string_view pattern = d_.spelling(n.op, s);
    // Division by a constant other than 0 and -1 cannot trap or overflow.
    if ((n.op == Op::Div || n.op == Op::Rem) && kind_of(s) == Kind::integer && f_.node(n.args[1]).op == Op::Const) {
      int64_t c = const_int(f_.node(n.args[1]));
      if (c != 0 && c != -1) pattern = n.op == Op::Div ? "$0 / $1" : "$0 % $1";
    }
    if (pattern.empty())
      throw InternalError("the C-family emitter has no spelling for '" + std::string(info(n.op).spelling) + "' on " +
                          std::string(to_string(s)));
    std::string message;  // only integer division and remainder can trap
    if (pattern.find("$W") != std::string_view::npos)
      message = trap_message(n, n.op == Op::Div ? "integer division by zero" : "integer remainder by zero",
                             "guard the divisor, e.g. with kiln::if_(d != 0, ...)");
    return substitute(pattern, a, std::to_string(bit_width(s) - 1), message);
  }

  void call(ValueId v, const Node& n) {
    locate(n);
    const Function& callee = m_.functions.at(static_cast<size_t>(n.imm));
    std::string args;
    for (ValueId a : n.args) {
      if (!args.empty()) args += ", ";
      args += expr_[a];
      if (f_.type(a).kind == TypeKind::buf) args += ", " + size_[a];
    }
    std::string fn = fnames_.at(static_cast<size_t>(n.imm));
    const size_t k = callee.result_types.size();
    if (k == 1 && elem_used(v, 0)) {
      tuple_[v] = {names_.fresh("t")};
      line("const " + d_.scalar_type(callee.result_types[0].elem) + " " + tuple_[v][0] + " = " + fn + "(" + args + ");");
      return;
    }
    if (k <= 1) {
      tuple_[v] = std::vector<std::string>(k);
      line(fn + "(" + args + ");");
      return;
    }
    for (size_t i = 0; i < k; ++i) {
      tuple_[v].push_back(names_.fresh("t"));
      line(d_.scalar_type(callee.result_types[i].elem) + " " + tuple_[v][i] + ";");
      args += std::string(args.empty() ? "" : ", ") + "&" + tuple_[v][i];
    }
    line(fn + "(" + args + ");");
  }

  // Declares a variable per used element of a tuple (the results of v).
  std::vector<std::string> declare_results(ValueId v, const std::vector<Type>& types) {
    std::vector<std::string> names(types.size());
    for (size_t k = 0; k < types.size(); ++k) {
      if (!elem_used(v, k)) continue;
      names[k] = names_.fresh("r");
      line(d_.scalar_type(types[k].elem) + " " + names[k] + ";");
    }
    tuple_[v] = names;
    return names;
  }

  void if_(ValueId v, const Node& n) {
    locate(n);
    std::vector<std::string> results = declare_results(v, tuple_types(m_, f_, n));
    std::string then_text = block(n.regions[0], results);
    std::string else_text = block(n.regions[1], results);
    const std::string& c = expr_[n.args[0]];
    if (then_text.empty() && else_text.empty()) return;
    if (then_text.empty()) {
      line("if (" + negate(c) + ") {");
      out_ += else_text;
      line("}");
      return;
    }
    line("if (" + c + ") {");
    out_ += then_text;
    if (!else_text.empty()) {
      line("} else {");
      out_ += else_text;
    }
    line("}");
  }

  void for_(ValueId v, const Node& n) {
    locate(n);
    const Region& body = f_.region(n.regions[0]);
    const std::string t = type_of(n.args[0]);
    std::vector<std::string> carried;
    for (size_t k = 3; k < n.args.size(); ++k) {
      carried.push_back(names_.fresh("c"));
      line(type_of(n.args[k]) + " " + carried.back() + " = " + expr_[n.args[k]] + ";");
      expr_[body.params[k - 2]] = carried.back();
    }
    tuple_[v] = carried;
    const std::string i = names_.fresh("i");
    expr_[body.params[0]] = i;
    const std::string &lo = expr_[n.args[0]], &hi = expr_[n.args[1]], &step = expr_[n.args[2]];
    const Node& s = f_.node(n.args[2]);
    const int64_t constant_step = s.op == Op::Const ? const_int(s) : 0;
    const auto& top = f_.region(f_.body).body;
    const bool shared = n.op == Op::ParallelFor && !d_.shared_loop("k", "n").empty() &&
                        std::find(top.begin(), top.end(), v) != top.end();
    if (n.op == Op::ParallelFor && !shared) line("// parallel_for: independent iterations, run in order here");
    if (shared) line("// parallel_for: the threads share the iterations");
    if (!shared && (constant_step == 1 || constant_step == -1)) {
      const bool up = constant_step == 1;
      line("for (" + t + " " + i + " = " + lo + "; " + i + (up ? " < " : " > ") + hi + "; " + (up ? "++" : "--") + i + ") {");
      ++depth_;
    } else {
      const std::string trips = names_.fresh("n"), k = names_.fresh("k");
      line("const uint64_t " + trips + " = kiln_trip_count(" + lo + ", " + hi + ", " + step + ", " +
           trap_message(n, "loop step is zero", "use a positive step to count up or a negative one to count down") +
           ");");
      line(shared ? d_.shared_loop(k, trips) : "for (uint64_t " + k + " = 0; " + k + " < " + trips + "; ++" + k + ") {");
      ++depth_;
      if (uses_[body.params[0]] > 0) line("const " + t + " " + i + " = kiln_index(" + lo + ", " + k + ", " + step + ");");
    }
    region(n.regions[0]);
    assign(carried, body.yields, 0,
           carried_products({body.params.begin() + 1, body.params.end()}, {n.regions[0]}, 0));
    --depth_;
    line("}");
  }

  void while_(ValueId v, const Node& n) {
    locate(n);
    const Region& cond = f_.region(n.regions[0]);
    const Region& body = f_.region(n.regions[1]);
    std::vector<std::string> carried;
    for (size_t k = 0; k < n.args.size(); ++k) {
      carried.push_back(names_.fresh("c"));
      line(type_of(n.args[k]) + " " + carried.back() + " = " + expr_[n.args[k]] + ";");
      expr_[cond.params[k]] = carried.back();
    }
    std::vector<std::string> results = declare_results(v, tuple_types(m_, f_, n));
    line("for (;;) {");
    ++depth_;
    region(n.regions[0]);
    line("if (" + negate(expr_[cond.yields[0]]) + ") {");
    ++depth_;
    assign(results, cond.yields, 1);
    line("break;");
    --depth_;
    line("}");
    for (size_t k = 0; k < body.params.size(); ++k) expr_[body.params[k]] = expr_[cond.yields[k + 1]];
    region(n.regions[1]);
    assign(carried, body.yields, 0, carried_products(cond.params, {n.regions[0], n.regions[1]}, 1));
    --depth_;
    line("}");
  }

  const Dialect& d_;
  const Module& m_;
  const Function& f_;
  std::string_view name_;
  const std::vector<std::string>& fnames_;
  Namer names_;
  std::vector<std::string> expr_;
  std::vector<std::string> size_;
  std::vector<std::vector<std::string>> tuple_;
  std::vector<uint32_t> uses_;
  std::unordered_map<ValueId, std::vector<bool>> elem_used_;
  std::unordered_set<ValueId> pointer_read_, size_read_;  // buffers (count_uses)
  std::string out_;
  int depth_ = 1;
  std::string last_loc_;
};

}  // namespace

std::string Dialect::scalar_type(Scalar s) const {
  switch (s) {
    case Scalar::i1: return "bool";
    case Scalar::i32: return "int32_t";
    case Scalar::i64: return "int64_t";
    case Scalar::f32: return "float";
    case Scalar::f64: return "double";
  }
  return "?";
}

std::string_view Dialect::spelling(Op op, Scalar s) const {
  for (const Row& r : rows) {
    if (r.op != op) continue;
    switch (kind_of(s)) {
      case Kind::floating: return r.floating;
      case Kind::integer: return r.integer;
      case Kind::boolean: return r.boolean;
    }
  }
  return {};
}

std::string Dialect::constant(Scalar s, int64_t imm) const {
  Node n;
  n.op = Op::Const;
  n.type = Type::scalar(s);
  n.imm = imm;
  switch (s) {
    case Scalar::i1: return const_int(n) ? "true" : "false";
    case Scalar::i32: {
      int64_t x = const_int(n);
      if (x == std::numeric_limits<int32_t>::min()) return "INT32_MIN";
      return x < 0 ? "(" + std::to_string(x) + ")" : std::to_string(x);
    }
    case Scalar::i64: {
      int64_t x = const_int(n);
      if (x == std::numeric_limits<int64_t>::min()) return "INT64_MIN";
      std::string lit = "INT64_C(" + std::to_string(x < 0 ? -x : x) + ")";
      return x < 0 ? "(-" + lit + ")" : lit;
    }
    case Scalar::f32:
    case Scalar::f64: {
      const bool single = s == Scalar::f32;
      double x = const_float(n);
      std::string t = single ? "float" : "double";
      if (std::isnan(x)) return "std::numeric_limits<" + t + ">::quiet_NaN()";
      if (std::isinf(x)) return std::string(x < 0 ? "(-" : "") + "std::numeric_limits<" + t + ">::infinity()" + (x < 0 ? ")" : "");
      std::string lit = shortest(x, single) + (single ? "f" : "");
      return std::signbit(x) ? "(" + lit + ")" : lit;
    }
  }
  return "?";
}

std::string Dialect::cast(Scalar from, Scalar to, const std::string& x) const {
  if (from == to) return x;
  if (to == Scalar::i1) return x + " != 0";
  if (kind_of(from) == Kind::floating && kind_of(to) == Kind::integer)
    return "kiln_to_int<" + scalar_type(to) + ">(" + x + ")";
  return scalar_type(to) + "(" + x + ")";
}

std::string Dialect::shared_loop(const std::string&, const std::string&) const { return ""; }

std::string Dialect::trap(const std::string& message) const { return "kiln_trap(" + message + ");"; }

std::string Dialect::carried_product(ir::Scalar, const std::string& x) const { return "kiln_carry(" + x + ")"; }

std::string Dialect::alloc(ir::Scalar s, const std::string& name, const std::string& count) const {
  const std::string t = scalar_type(s);
  return "const kiln_scratch<" + t + "> " + name + "_storage(" + count + ");\n" + t + "* const " + name + " = " + name +
         "_storage.get();";
}

SignatureNames name_signature(const Function& f, Namer& scope) {
  SignatureNames out;
  const auto& params = f.params();
  for (size_t i = 0; i < params.size(); ++i) {
    std::string user = i < f.param_names.size() ? f.param_names[i] : "arg" + std::to_string(i);
    out.params.push_back(scope.take(user));
    out.sizes.push_back(f.type(params[i]).kind == TypeKind::buf ? scope.take(out.params.back() + "_size") : "");
  }
  if (f.result_types.size() > 1)
    for (size_t k = 0; k < f.result_types.size(); ++k) out.outs.push_back(scope.take("out" + std::to_string(k)));
  return out;
}

std::string parameter_list(const Dialect& d, const Function& f, const SignatureNames& names,
                           const std::vector<ParamUse>* used) {
  std::string out;
  const auto& params = f.params();
  auto named = [](const std::string& name, bool read) { return read ? name : "/*" + name + "*/"; };
  for (size_t i = 0; i < params.size(); ++i) {
    Type t = f.type(params[i]);
    const ParamUse use = used ? (*used)[i] : ParamUse{};
    if (i) out += ", ";
    if (t.kind == TypeKind::buf)
      out += std::string(t.writable ? "" : "const ") + d.scalar_type(t.elem) + "* " + named(names.params[i], use.value) +
             ", int64_t " + named(names.sizes[i], use.size);
    else out += d.scalar_type(t.elem) + " " + named(names.params[i], use.value);
  }
  for (size_t k = 0; k < names.outs.size(); ++k)
    out += std::string(out.empty() ? "" : ", ") + d.scalar_type(f.result_types[k].elem) + "* " + names.outs[k];
  return out;
}

std::string return_type(const Dialect& d, const Function& f) {
  return f.result_types.size() == 1 ? d.scalar_type(f.result_types[0].elem) : "void";
}

std::string print_function(const Dialect& d, const Module& m, size_t index, std::string_view name,
                           const std::vector<std::string>& callees, const Namer& globals, std::string_view prefix) {
  return Writer(d, m, index, name, callees, globals).run(prefix);
}

std::string string_literal(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F && c != '?') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    }
  }
  return out + "\"";
}

std::string comment_text(std::string_view text) {
  std::string out;
  for (unsigned char c : text) out += (c >= 0x20 && c < 0x7F && c != '\\' && c != '?') ? static_cast<char>(c) : '_';
  return out;
}

}  // namespace kiln::emit
